"""The ``reset`` step adapter."""

import logging

import numpy as np

from ..lib.reffiles import ReferenceFileError, geometry_of, reference_array
from ..stpipe import Step, StepSkipped

__all__ = ["ResetStep"]

log = logging.getLogger(__name__)


class ResetStep(Step):
    """Subtract the MIRI RESET anomaly reference (official alias ``reset``).

    References
    ----------
    JWST pipeline documentation, "reset" step.
    """

    class_alias = "reset"
    cal_step_name = "reset"
    reference_file_types = ("reset",)

    def _resolve_references(self, model):
        _require_miri(model, "reset")
        super()._resolve_references(model)

    def process(self, model):
        from stdatamodels.jwst.datamodels import ResetModel

        from .subtract import subtract_reset

        ref = self.open_reference(model, "reset", ResetModel)
        geom = geometry_of(model)
        reset = reference_array(ref, "data", geom, extname="SCI")
        if reset.ndim != 4:
            raise ReferenceFileError(
                f"{ref.meta.filename}: SCI has shape {reset.shape}; expected a 4-D reset "
                "anomaly (nints, ngroups, ny, nx)"
            )
        reset = _trim_to_keywords(ref, reset)
        reset_dq = reference_array(ref, "dq", geom)
        if reset_dq.ndim > 2:
            reset_dq = np.bitwise_or.reduce(reset_dq.reshape(-1, *reset_dq.shape[-2:]), axis=0)
        log.info(
            "Reset reference nints=%d, ngroups=%d; science nints=%d, ngroups=%d",
            reset.shape[0], reset.shape[1], *model.data.shape[:2],
        )  # fmt: skip
        start = model.meta.exposure.integration_start
        model.data, model.pixeldq = subtract_reset(
            model.data, model.pixeldq, reset, reset_dq,
            first_integration=int(start) if start is not None else 1,
        )  # fmt: skip
        return model


def _trim_to_keywords(ref, reset):
    """The integrations and groups the reference's NINTS/NGROUPS declare valid."""
    exp = ref.meta.exposure
    out = reset
    for axis, key, value in ((0, "NINTS", exp.nints), (1, "NGROUPS", exp.ngroups)):
        if value is None:
            continue
        if not 1 <= int(value) <= reset.shape[axis]:
            raise ReferenceFileError(
                f"{ref.meta.filename}: {key}={value} but SCI has {reset.shape[axis]} "
                f"plane(s) on that axis; expected 1 <= {key} <= {reset.shape[axis]}"
            )
        out = out[:, : int(value)] if axis == 1 else out[: int(value)]
    return out


def _require_miri(model, what):
    detector = (model.meta.instrument.detector or "").upper()
    if not detector.startswith("MIR"):
        raise StepSkipped(f"the {what} correction is for MIRI only (DETECTOR={detector})")
