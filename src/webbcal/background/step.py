"""The ``bkg_subtract`` step adapter: subtract dedicated background exposures."""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np

from ..datamodels.io import InputError
from ..stpipe import Param, Step, StepSkipped
from .imaging import SubarrayBox, average_background, on_science_grid

__all__ = ["BackgroundStep"]

log = logging.getLogger(__name__)

#: Exposure types whose background comes from reference files (not implemented yet).
REFERENCE_BACKGROUND_TYPES = ("NIS_WFSS", "NRC_WFSS", "MIR_WFSS", "NIS_SOSS")

#: Full-frame sizes (rows, columns) assumed when a product lacks its subarray keywords.
_FULL_FRAME = {"MIRI": (1024, 1032)}


class BackgroundStep(Step):
    """Subtract the average of background exposures (official alias ``bkg_subtract``).

    The input is a science exposure (rate or rateints, with ``bkg_list``) or a
    level-2 association whose first product holds one science member and its
    ``background`` members. The backgrounds are placed on the science pixel
    grid, averaged with sigma clipping (:func:`~.imaging.average_background`) and
    subtracted from SCI; their DQ is OR-ed into the science DQ. As in the official
    step, ERR and the variances of the science exposure are left unchanged.
    WFSS and SOSS backgrounds (from ``bkg`` reference files) are not implemented:
    those exposures are skipped with a message.

    References
    ----------
    JWST pipeline documentation, "Background Image Subtraction" (bkg_subtract).
    """

    class_alias = "bkg_subtract"
    cal_step_name = "bkg_subtract"
    library_mode = "library"
    reference_file_types = ("bkg", "wavelengthrange")
    #: Suffix of the combined background saved with ``save_combined_background``.
    bkg_suffix = "combinedbackground"
    spec = (
        Param("bkg_list", list, None, "Background exposure files (when not in an association)",
              element=str, allow_none=True),
        Param("save_combined_background", bool, False, "Save the combined background image"),
        Param("sigma", float, 3.0, "Clipping threshold", minimum=0.0, unit="sigma"),
        Param("maxiters", int, None, "Clipping iterations (None: until converged)",
              minimum=1, allow_none=True),
        Param("soss_source_percentile", float, 35.0,
              "SOSS: flux percentile above which pixels are source (not implemented)"),
        Param("soss_bkg_percentile", list, None,
              "SOSS: background percentiles (not implemented)", element=float, length=2,
              allow_none=True),
        Param("wfss_mmag_extract", float, None, "WFSS: faintest AB magnitude extracted "
              "(not implemented)", allow_none=True),
        Param("wfss_mask", str, None, "WFSS: source mask file (not implemented)",
              allow_none=True),
        Param("wfss_maxiter", int, 5, "WFSS: outlier rejection iterations (not implemented)"),
        Param("wfss_rms_stop", float, 0.0, "WFSS: RMS improvement threshold in percent "
              "(not implemented)"),
        Param("wfss_outlier_percent", float, 1.0, "WFSS: outlier percentile rejected per "
              "iteration (not implemented)"),
    )  # fmt: skip

    def _resolve_references(self, model: Any) -> None:
        # Dedicated background exposures need no reference file.
        self._references_used.clear()

    def required_reference_types(self) -> tuple[str, ...]:
        return ()

    def process(self, model: Any) -> Any:
        """Subtract the combined background from the science exposure.

        Raises
        ------
        InputError
            If a background file cannot be read, is of another instrument, detector,
            filter or pupil than the science exposure, or has another dimensionality.
        """
        science, backgrounds = self._science_and_backgrounds(model)
        exp_type = (science.meta.exposure.type or "").upper()
        if exp_type in REFERENCE_BACKGROUND_TYPES:
            raise StepSkipped(f"background from reference files for EXP_TYPE={exp_type} "
                              "is not implemented")  # fmt: skip
        if not backgrounds:
            raise StepSkipped("no background exposure given (bkg_list or background members)")
        sci_box = _box(science, _name(science))
        data, err, dq = [], [], []
        for path in backgrounds:
            with _open_background(path) as bkg:
                if not self._same_setup(science, bkg, path):
                    log.warning("Skipping background subtraction: GWA_XTIL/GWA_YTIL of %s "
                                "differ from the science exposure", path)  # fmt: skip
                    raise StepSkipped("grating wheel tilt of the backgrounds differs")
                if np.ndim(bkg.data) != np.ndim(science.data):
                    raise InputError(
                        f"{path}: background SCI is {np.ndim(bkg.data)}-D but the science "
                        f"exposure {_name(science)} is {np.ndim(science.data)}-D; expected both "
                        "rate (2-D) or both rateints (3-D)"
                    )
                log.info("Accumulate bkg from %s", path)
                placed = on_science_grid(sci_box, _box(bkg, path), np.asarray(bkg.data),
                                         np.asarray(bkg.err), np.asarray(bkg.dq))  # fmt: skip
            for out, value in zip((data, err, dq), placed, strict=True):
                out.append(value)
        avg, avg_err, avg_dq = average_background(
            data, err, dq, sigma=self.sigma, maxiters=self.maxiters
        )
        background = avg.astype(np.float32)
        log.info("Subtracting avg bkg from %s", _name(science))
        science.data = science.data - background
        science.dq = np.bitwise_or(science.dq, avg_dq)
        if self.save_combined_background:
            self._save_combined(science, background, avg_err, avg_dq)
        return science

    def _science_and_backgrounds(self, model: Any) -> tuple[Any, list[str]]:
        from ..datamodels import ModelLibrary

        if not isinstance(model, ModelLibrary):
            return model, [b for b in (self.bkg_list or ()) if b]
        if len(model.asn.products) > 1:
            log.warning("Multiple products in input association. Using only the first one.")
        product = model.asn.products[0].name
        members = model.members
        science = [
            i for i, m in enumerate(members) if m.product == product and m.exptype == "science"
        ]
        if len(science) != 1:
            raise InputError(
                f"{_name(model)}: product {product!r} has {len(science)} science members; "
                "bkg_subtract expects exactly one"
            )
        backgrounds = [model.asn.member_path(m) for p, m in model.asn.members("background")
                       if p.name == product]  # fmt: skip
        work = model.copy_of(science[0])
        return work, backgrounds or [b for b in (self.bkg_list or ()) if b]

    @staticmethod
    def _same_setup(science: Any, bkg: Any, path: str) -> bool:
        """Check instrument set-up; False when only the NIRSpec grating tilt differs."""
        inst_s, inst_b = science.meta.instrument, bkg.meta.instrument
        for what in ("name", "detector", "filter", "pupil"):
            a, b = getattr(inst_s, what, None), getattr(inst_b, what, None)
            if a is not None and b is not None and a != b:
                key = {"name": "INSTRUME", "detector": "DETECTOR", "filter": "FILTER",
                       "pupil": "PUPIL"}[what]  # fmt: skip
                raise InputError(
                    f"{path}: background {key}={b!r} but the science exposure "
                    f"{_name(science)} has {key}={a!r}; expected the same {key}"
                )
        if (inst_s.name or "").upper() == "NIRSPEC":
            tilt_s = (inst_s.gwa_xtilt, inst_s.gwa_ytilt)
            tilt_b = (inst_b.gwa_xtilt, inst_b.gwa_ytilt)
            if None not in tilt_s + tilt_b:
                return bool(np.allclose(tilt_s, tilt_b, atol=1e-8, rtol=0))
        return True

    def _save_combined(self, science: Any, data: np.ndarray, err: np.ndarray, dq: Any) -> None:
        from stdatamodels.jwst import datamodels as dm

        combined = dm.ImageModel(data=data, err=err.astype(np.float32), dq=dq)
        combined.update(science)
        path = self.save_model(combined, suffix=self.bkg_suffix)
        log.info("Combined background written to %s", path)


def _name(model: Any) -> str:
    from ..stpipe.step import _model_name

    return _model_name(model)


def _open_background(path: str) -> Any:
    from ..datamodels import open_model

    if not os.path.exists(path):
        raise InputError(f"{path}: background exposure not found")
    return open_model(path)


def _box(model: Any, name: str) -> SubarrayBox:
    sub = model.meta.subarray
    ny, nx = np.shape(model.data)[-2:]
    if None in (sub.xstart, sub.ystart):
        inst = (model.meta.instrument.name or "").upper()
        if (ny, nx) != _FULL_FRAME.get(inst, (2048, 2048)):
            raise InputError(
                f"{name}: SUBSTRT1/SUBSTRT2 missing and the {ny}x{nx} array is not full "
                "frame; expected the subarray keywords of the exposure"
            )
        return SubarrayBox(0, 0, ny, nx)
    return SubarrayBox(int(sub.ystart) - 1, int(sub.xstart) - 1, ny, nx)
