"""The ``clean_flicker_noise`` step adapter."""

import logging

import numpy as np

from ..lib.reffiles import geometry_of
from ..stpipe import Param, Step, StepSkipped

__all__ = ["CleanFlickerNoiseStep"]

log = logging.getLogger(__name__)

_B = bool
_SPEC = (
    Param("autoparam", _B, False,
          "Choose fit and background parameters from the data (not implemented: ignored)"),
    Param("fit_method", str, "median", "Noise fitting algorithm", choices=("fft", "median")),
    Param("fit_by_channel", _B, False, "Fit the noise separately for each output (amplifier)"),
    Param("background_method", str, "median", "Background removed before the noise fit",
          choices=("median", "model", "median_image"), allow_none=True),
    Param("background_box_size", list, None,
          "Box size ny,nx of the 'model' background (default: largest <= 32 dividing the "
          "image)", element=int, length=2, minimum=1, allow_none=True, unit="pixels"),
    Param("mask_science_regions", _B, False,
          "Mask known science regions (NIRSpec fixed-slit area and failed-open shutters, "
          "MIRI non-science pixels)"),
    Param("apply_flat_field", _B, False, "Divide by the flat field before fitting"),
    Param("n_sigma", float, 2.0, "Clipping level for non-background signal (0: none)",
          minimum=0, unit="sigma"),
    Param("fit_histogram", _B, False, "Derive the clipping sigma from a histogram fit"),
    Param("single_mask", _B, True, "Make one scene mask for all integrations"),
    Param("user_mask", str, None, "Path to a user-supplied background mask (True: background)",
          allow_none=True),
    Param("save_mask", _B, False, "Save the scene mask (suffix 'mask')"),
    Param("save_background", _B, False, "Save the fitted background (suffix 'flicker_bkg')"),
    Param("save_noise", _B, False, "Save the removed noise (suffix 'flicker_noise')"),
    Param("skip", _B, True, "Skip this step (skipped by default, as in the official pipeline)"),
)  # fmt: skip

# Rows (DMS) of the NIRSpec fixed-slit area masked for IFU and MOS data.
_NRS_FS_ROWS = (922, 1116)
_NRS_SPEC = ("NRS_FIXEDSLIT", "NRS_BRIGHTOBJ", "NRS_MSASPEC", "NRS_IFU")


class CleanFlickerNoiseStep(Step):
    """Fit and remove 1/f (flicker) noise from a ramp or a rate (official alias
    ``clean_flicker_noise``).

    Runs in stage 1 on the ramp (after ``jump``, before ``ramp_fit``) or on ``rate`` /
    ``rateints`` products. Skipped unless ``skip=False``.

    References
    ----------
    JWST pipeline documentation, "clean_flicker_noise" step. Rauscher 2024, PASP 136,
    015001 (NSClean, the ``fft`` method). Willott 2022, "image1overf" (the ``median``
    method).
    """

    class_alias = "clean_flicker_noise"
    cal_step_name = "clean_flicker_noise"
    reference_file_types = ("flat", "pastasoss")
    optional_reference_types = ("flat", "pastasoss")
    spec = _SPEC

    def _resolve_references(self, model):
        # The flat is needed only to flat-field before fitting; pastasoss only for NIRISS
        # SOSS trace masking, which is not implemented.
        self._references_used.clear()

    def required_reference_types(self):
        if self.skip or not self.apply_flat_field or self.override_flat is not None:
            return ()
        return ("flat",)

    def process(self, model):
        from .clean import FlickerParameters, clean_flicker_noise

        ndim = np.ndim(model.data)
        if ndim not in (2, 3, 4):
            raise StepSkipped(f"data with {ndim} dimensions cannot be cleaned")
        exp_type = (model.meta.exposure.type or "").upper()
        if exp_type.startswith("MIR") and exp_type != "MIR_IMAGE":
            raise StepSkipped(f"EXP_TYPE {exp_type} is not supported")
        if self.background_method == "median_image":
            raise StepSkipped("background_method='median_image' is not implemented")
        if self.autoparam:
            log.warning("autoparam is not implemented; using the parameters as given")
        params = FlickerParameters(
            fit_method=self.fit_method, fit_by_channel=self.fit_by_channel,
            background_method=self.background_method,
            background_box_size=self.background_box_size, n_sigma=self.n_sigma,
        )  # fmt: skip
        layout = self._layout(model, exp_type)
        if params.fit_by_channel and len(layout.channels) == 1:
            log.warning("fit_by_channel needs a read by several outputs; fitting whole rows")
        flat = self._flat(model) if self.apply_flat_field else None
        mask = self._mask(model, exp_type, flat)
        log.info("Cleaning with fit_method=%s, background_method=%s, %d background pixels",
                 params.fit_method, params.background_method, int(mask.sum()))  # fmt: skip
        result = clean_flicker_noise(
            model.data, mask, layout, params=params,
            groupdq=model.groupdq if ndim == 4 else None, flat=flat,
            keep_background=self.save_background,
        )  # fmt: skip
        if result.n_cleaned == 0:
            raise StepSkipped("no image had usable background pixels")
        noise = model.data - result.data if self.save_noise else None
        model.data = result.data
        if self.save_mask:
            self._save_intermediate(model, mask.astype(np.float32), "mask")
        if result.background is not None:
            self._save_intermediate(model, result.background, "flicker_bkg")
        if noise is not None:
            self._save_intermediate(model, noise.astype(np.float32), "flicker_noise")
        return model

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _layout(model, exp_type):
        from .noise_fit import ReadoutLayout

        sub = model.meta.subarray
        if exp_type.startswith("MIR"):
            # MIRI's flicker runs along columns: take medians along the y axis.
            return ReadoutLayout(2, 1, ((0, np.shape(model.data)[-2]),))
        if sub.fastaxis is None or sub.slowaxis is None:
            raise StepSkipped("FASTAXIS/SLOWAXIS are missing: the readout direction is unknown")
        return ReadoutLayout.from_geometry(
            geometry_of(model), fastaxis=int(sub.fastaxis), slowaxis=int(sub.slowaxis),
            noutputs=int(model.meta.exposure.noutputs or 1),
        )  # fmt: skip

    def _flat(self, model):
        from stdatamodels.jwst.datamodels import FlatModel

        from ..lib.reffiles import reference_array

        path = self.get_reference_file(model, "flat")
        if path is None:
            log.warning("No flat applies to this exposure; fitting without a flat")
            return None
        ref = self.open_reference(model, "flat", FlatModel)
        flat = np.array(reference_array(ref, "data", geometry_of(model)), dtype=np.float32)
        bad = ~np.isfinite(flat) | (flat == 0)
        if bad.all():
            log.warning("The flat has no usable value; fitting without a flat")
            return None
        # Missing flat values take the median flat value so they do not disturb the fits.
        flat[bad] = np.median(flat[~bad])
        return flat

    def _rate_for_mask(self, model, flat):
        from .clean import draft_rate

        if np.ndim(model.data) == 4:
            exp = model.meta.exposure
            log.info("Creating a draft rate for scene masking")
            rate = draft_rate(
                model.data, model.groupdq, model.pixeldq, frame_time=float(exp.frame_time),
                group_time=float(exp.group_time), nframes=int(exp.nframes or 1),
                groupgap=int(exp.groupgap or 0), per_integration=not self.single_mask,
            )  # fmt: skip
        else:
            rate = np.array(model.data, dtype=np.float32)
        return rate if flat is None else rate / flat

    def _mask(self, model, exp_type, flat):
        from ..datamodels import open_model
        from .background import scene_mask

        if self.user_mask is not None:
            user = open_model(self.user_mask)
            mask = np.asarray(user.data).astype(bool)
            user.close()
            nints = np.shape(model.data)[0] if np.ndim(model.data) > 2 else 1
            if mask.shape[-2:] != np.shape(model.data)[-2:] or (
                mask.ndim == 3 and mask.shape[0] != nints
            ):
                raise StepSkipped(f"user_mask shape {mask.shape} does not match the data")
            return mask
        rate = self._rate_for_mask(model, flat)
        exclude = self._science_regions(model, exp_type, rate.shape[-2:])
        mask = scene_mask(rate, n_sigma=self.n_sigma, fit_histogram=self.fit_histogram,
                          exclude=exclude)  # fmt: skip
        if mask.ndim == 3 and self.single_mask:
            mask = np.all(mask, axis=0)
        return mask

    def _science_regions(self, model, exp_type, shape):
        from .. import dqflags

        if not self.mask_science_regions:
            return None
        exclude = np.zeros(shape, bool)
        dq = np.asarray(getattr(model, "dq", None) if np.ndim(model.data) < 4 else model.pixeldq)
        if exp_type == "MIR_IMAGE" and dq.shape[-2:] == shape:
            exclude |= ((dq & (dqflags.DO_NOT_USE | dqflags.NON_SCIENCE)) != 0).reshape(
                (-1,) + shape).any(axis=0)  # fmt: skip
        if exp_type.startswith("NRS") and dq.shape[-2:] == shape:
            exclude |= ((dq & dqflags.MSA_FAILED_OPEN) != 0).reshape((-1,) + shape).any(axis=0)
        if exp_type in ("NRS_IFU", "NRS_MSASPEC"):
            exclude[_NRS_FS_ROWS[0] : _NRS_FS_ROWS[1], :] = True
        if exp_type in _NRS_SPEC:
            log.warning("Slit and IFU-slice footprints need a WCS and are not masked")
        return exclude

    def _save_intermediate(self, model, data, suffix):
        from stdatamodels.jwst.datamodels import CubeModel, ImageModel, RampModel

        cls = {4: RampModel, 3: CubeModel, 2: ImageModel}[data.ndim]
        out = cls(data=data)
        out.update(model)
        path = self.save_model(out, suffix=suffix)
        log.info("Saved %s", path)
