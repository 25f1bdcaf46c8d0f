"""The ``picture_frame`` step adapter (NIRSpec full-frame thermal correction)."""

from __future__ import annotations

import logging

import numpy as np

from ..stpipe import Param, Step, StepSkipped

__all__ = ["PictureFrameStep"]

log = logging.getLogger(__name__)

_SPEC = (
    Param("mask_science_regions", bool, True,
          "Mask known science regions (needs the NIRSpec WCS, not implemented: the step "
          "warns and continues without masking them)"),
    Param("n_sigma", float, 2.0, "Clipping level for non-background signal (0: none)",
          minimum=0, unit="sigma"),
    Param("save_mask", bool, False, "Save the background mask (suffix 'pctfrm_mask')"),
    Param("save_correction", bool, False,
          "Save the change made to the data (suffix 'pctfrm_correction')"),
    Param("skip", bool, True, "Skip this step (skipped by default, as in the official pipeline)"),
)  # fmt: skip

#: Full-frame size the correction regions are defined on (ny, nx).
_FULL = (2048, 2048)


class PictureFrameStep(Step):
    """Remove the thermal "picture frame" of NIRSpec full-frame data (official alias
    ``picture_frame``).

    Runs in stage 1 on the ramp (after ``jump``, before ``clean_flicker_noise``) or
    standalone on a ``rate`` / ``rateints`` product. Skipped unless ``skip=False``; skipped
    (SKIPPED) when the PICTUREFRAME reference is N/A (every instrument but NIRSpec), for
    other subarrays than FULL and for one-group ramps. The background mask comes from a
    draft rate of the ramp (or the rate itself), sigma-clipped with ``n_sigma``
    (:func:`webbcal.clean_flicker_noise.scene_mask`); the correction is
    :func:`webbcal.picture_frame.correct_picture_frame`.

    ``mask_science_regions=True`` (the default) would also mask the slit, slice and
    failed-open shutter footprints, which needs the NIRSpec spectroscopic WCS. webbcal does
    not have it yet: the step warns and continues with ``mask_science_regions=False``, as
    the official step does when it cannot assign a WCS.

    References
    ----------
    JWST pipeline documentation (jwst 3.0), "Picture Frame Correction" (``picture_frame``)
    and its PICTUREFRAME reference file page.
    """

    class_alias = "picture_frame"
    cal_step_name = "picture_frame"
    reference_file_types = ("pictureframe",)
    spec = _SPEC

    def _resolve_references(self, model):
        self._references_used.clear()
        if self.get_reference_file(model, "pictureframe") is None:
            exp_type = model.meta.exposure.type
            log.warning("Picture frame correction is not available for exposure type %s",
                        exp_type)  # fmt: skip
            raise StepSkipped("no pictureframe reference file applies (N/A)")

    def process(self, model):
        from stdatamodels.jwst.datamodels import PictureFrameModel

        from ..lib.reffiles import ReferenceFileError
        from .correction import NoScalingDataError, correct_picture_frame

        ndim = np.ndim(model.data)
        instrument = (model.meta.instrument.name or "").upper()
        subarray = (model.meta.subarray.name or "").upper()
        if instrument != "NIRSPEC" or subarray != "FULL":
            log.warning("Picture frame correction applies only to NIRSpec full-frame "
                        "exposures (INSTRUME=%s, SUBARRAY=%s)", instrument, subarray)  # fmt: skip
            raise StepSkipped("not a NIRSpec full-frame exposure")
        if ndim not in (2, 3, 4) or np.shape(model.data)[-2:] != _FULL:
            raise StepSkipped(f"data of shape {np.shape(model.data)} is not a full frame")
        is_ramp = ndim == 4
        if is_ramp and np.shape(model.data)[1] < 2:
            log.warning("Picture frame correction needs at least 2 groups")
            raise StepSkipped("single-group ramp")
        ref = self.open_reference(model, "pictureframe", PictureFrameModel)
        path = self.get_reference_file(model, "pictureframe")
        reference = np.asarray(ref.data, dtype=np.float32)
        ref.close()
        if reference.shape != _FULL:
            raise ReferenceFileError(
                f"{path}: SCI has shape {reference.shape}; expected the full frame {_FULL}"
            )
        log.info("Applying picture frame correction")
        background = self._background(model, is_ramp)
        if self.save_mask:
            self._save_intermediate(model, background.astype(np.float32), "pctfrm_mask")
        try:
            corrected = correct_picture_frame(model.data, reference, background,
                                              is_ramp=is_ramp)  # fmt: skip
        except NoScalingDataError as exc:
            log.error("No data to scale (%s); picture frame correction not applied", exc)
            raise StepSkipped(str(exc)) from None
        except ValueError as exc:
            raise ReferenceFileError(f"{path}: {exc}") from None
        if self.save_correction:
            change = (corrected - model.data).astype(np.float32)
            self._save_intermediate(model, change, "pctfrm_correction")
        model.data = corrected
        return model

    def _background(self, model, is_ramp):
        """Background mask (ny, nx) from the draft rate of a ramp or from the rate itself."""
        from ..clean_flicker_noise import draft_rate, scene_mask

        if self.mask_science_regions:
            log.warning("Science regions cannot be masked: the NIRSpec WCS is not implemented; "
                        "continuing with mask_science_regions=False")  # fmt: skip
        if is_ramp:
            exp = model.meta.exposure
            log.info("Creating a draft rate for scene masking")
            rate = draft_rate(
                model.data, model.groupdq, model.pixeldq, frame_time=float(exp.frame_time),
                group_time=float(exp.group_time), nframes=int(exp.nframes or 1),
                groupgap=int(exp.groupgap or 0),
            )  # fmt: skip
        else:
            rate = np.asarray(model.data, dtype=np.float32)
        mask = scene_mask(rate, n_sigma=self.n_sigma)
        return np.all(mask, axis=0) if mask.ndim == 3 else mask

    def _save_intermediate(self, model, data, suffix):
        from stdatamodels.jwst.datamodels import CubeModel, ImageModel, RampModel

        cls = {4: RampModel, 3: CubeModel, 2: ImageModel}[data.ndim]
        out = cls(data=data)
        out.update(model)
        path = self.save_model(out, suffix=suffix)
        log.info("Saved %s", path)
