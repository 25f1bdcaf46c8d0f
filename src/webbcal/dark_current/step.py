"""The ``dark_current`` step adapter."""

import logging
import os

import numpy as np

from ..lib.reffiles import (
    NAN_MEANING,
    ReferenceFileError,
    geometry_of,
    load_reference,
    reference_array,
)
from ..stpipe import Param, Step

__all__ = ["DarkCurrentStep"]

log = logging.getLogger(__name__)


class DarkCurrentStep(Step):
    """Subtract the DARK reference averaged to the science pattern (alias ``dark_current``)."""

    class_alias = "dark_current"
    cal_step_name = "dark_sub"
    reference_file_types = ("dark",)
    spec = (
        Param("dark_output", str, None, "File to save the frame-averaged dark to",
              allow_none=True),
        Param("average_dark_current", float, None,
              "Average dark current used for the Poisson variance (overrides the reference)",
              allow_none=True, unit="e-/s"),
    )  # fmt: skip

    def process(self, model):
        from stdatamodels.jwst import datamodels as dm

        from .subtract import DarkMismatchError, average_dark_frames, subtract_dark

        if (model.meta.instrument.name or "").upper() == "MIRI":
            return self._process_miri(model)
        path = self.get_reference_file(model, "dark")
        log.info("Using DARK reference file %s", path)
        cls = dm.DarkNirspecModel if model.meta.instrument.name == "NIRSPEC" else dm.DarkModel
        ref = load_reference(path, cls, model)
        geom = geometry_of(model)
        exp = model.meta.exposure
        nints, ngroups = model.data.shape[:2]
        log.info(
            "Science data nints=%d, ngroups=%d, nframes=%d, groupgap=%d",
            nints, ngroups, exp.nframes, exp.groupgap,
        )  # fmt: skip
        dark_sci = reference_array(
            ref, "data", geom, extname="SCI", nan_meaning=NAN_MEANING["dark"]
        )
        dark_dq = reference_array(ref, "dq", geom)
        if dark_dq.ndim == 3:
            dark_dq = np.bitwise_or.reduce(dark_dq, axis=0)
        try:
            avg = average_dark_frames(
                dark_sci,
                ngroups=ngroups,
                nframes=int(exp.nframes),
                groupgap=int(exp.groupgap),
                dark_nframes=int(ref.meta.exposure.nframes or 1),
                dark_groupgap=int(ref.meta.exposure.groupgap or 0),
            )
        except DarkMismatchError as exc:
            raise ReferenceFileError(f"{ref.meta.filename}: {exc}") from None
        model.data, model.pixeldq = subtract_dark(model.data, model.pixeldq, avg, dark_dq)
        self._set_average_dark_current(model, ref)
        if self.dark_output:
            out = dm.DarkModel(data=avg, dq=dark_dq)
            out.update(ref)
            out.meta.exposure.nframes = exp.nframes
            out.meta.exposure.groupgap = exp.groupgap
            out.meta.exposure.ngroups = ngroups
            from ..datamodels import save_model

            existed = os.path.exists(self.dark_output)
            save_model(out, self.dark_output)
            if not existed:
                self.record_output(self.dark_output)
        return model

    def _process_miri(self, model):
        """MIRI: per-integration (4-D) darks from a DarkMIRIModel reference."""
        from stdatamodels.jwst import datamodels as dm

        from .miri import average_miri_dark, miri_dark_dq, subtract_miri_dark
        from .subtract import DarkMismatchError

        ref = self.open_reference(model, "dark", dm.DarkMIRIModel)
        name = ref.meta.filename
        geom = geometry_of(model)
        exp = model.meta.exposure
        nints, ngroups = model.data.shape[:2]
        dark_sci = reference_array(
            ref, "data", geom, extname="SCI", nan_meaning=NAN_MEANING["dark"]
        )
        dark_dq = reference_array(ref, "dq", geom)
        if dark_sci.ndim != 4 or dark_sci.shape[0] < 1:
            raise ReferenceFileError(
                f"{name}: SCI has shape {dark_sci.shape}; expected a MIRI dark with one ramp "
                "per integration (nints >= 1, ngroups, ny, nx)"
            )
        if dark_dq.ndim == 4 and dark_dq.shape[0] != dark_sci.shape[0]:
            raise ReferenceFileError(
                f"{name}: DQ has {dark_dq.shape[0]} integration(s) but SCI has "
                f"{dark_sci.shape[0]}; expected the same number"
            )
        log.info(
            "Science data nints=%d, ngroups=%d, nframes=%d, groupgap=%d; dark nints=%d, "
            "ngroups=%d", nints, ngroups, exp.nframes, exp.groupgap, *dark_sci.shape[:2],
        )  # fmt: skip
        try:
            avg = average_miri_dark(
                dark_sci, ngroups=ngroups, nframes=int(exp.nframes or 1),
                groupgap=int(exp.groupgap or 0),
                dark_nframes=int(ref.meta.exposure.nframes or 1),
                dark_groupgap=int(ref.meta.exposure.groupgap or 0),
            )  # fmt: skip
            pixel_dq = miri_dark_dq(dark_dq)
        except (DarkMismatchError, ValueError) as exc:
            raise ReferenceFileError(f"{name}: {exc}") from None
        start = exp.integration_start
        model.data, model.pixeldq = subtract_miri_dark(
            model.data, model.pixeldq, avg, pixel_dq,
            first_integration=int(start) if start is not None else 1,
        )  # fmt: skip
        self._set_average_dark_current(model, ref)
        if self.dark_output:
            out = dm.DarkMIRIModel(data=avg, dq=np.asarray(dark_dq, dtype=np.uint32))
            out.update(ref)
            out.meta.exposure.nframes = exp.nframes
            out.meta.exposure.groupgap = exp.groupgap
            out.meta.exposure.ngroups = ngroups
            self._save_dark(out)
        return model

    def _save_dark(self, out) -> None:
        from ..datamodels import save_model

        existed = os.path.exists(self.dark_output)
        save_model(out, self.dark_output)
        if not existed:
            self.record_output(self.dark_output)

    def _set_average_dark_current(self, model, ref) -> None:
        shape = model.data.shape[-2:]
        if self.average_dark_current is not None:
            value = np.full(shape, self.average_dark_current, dtype=np.float32)
        else:
            arr = getattr(ref, "average_dark_current", None)
            if arr is not None and np.shape(arr) == shape and np.sum(arr) != 0:
                value = np.asarray(arr, dtype=np.float32)
            else:
                scalar = ref.meta.exposure.average_dark_current or 0.0
                value = np.full(shape, scalar, dtype=np.float32)
        model.average_dark_current = value
