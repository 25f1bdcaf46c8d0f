"""The ``reset`` step adapter."""

import logging

import numpy as np

from ..lib.reffiles import ReferenceFileError
from ..stpipe import Step, StepSkipped
from ..stpipe.blocks import run_block_stage

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

    def block_stage(self, ctx):
        """Subtract the reset anomaly, read by sections of rows (the reference
        integrations and groups the science integrations use).

        Raises
        ------
        StepSkipped
            If no reset reference applies (N/A).
        NotStreamable
            If the reference's layout is one the step reports itself.
        """
        return _reset_stage(self, ctx)

    def process(self, model):
        return run_block_stage(self, model)


def _reset_stage(step, ctx):
    from ..lib.refsection import (
        SectionUnsupported,
        count_nan_rows,
        refused_section_error,
        report_nan_count,
    )
    from ..stpipe.blocks import BlockStage, NotStreamable, RowCache
    from .subtract import subtract_reset

    try:
        section = step.open_reference_section(ctx.model, "reset", ctx.geometry, ndim=4)
    except SectionUnsupported as why:
        if ctx.streaming:
            raise NotStreamable(str(why)) from None
        from stdatamodels.jwst.datamodels import ResetModel

        path = step.get_reference_file(ctx.model, "reset")
        raise refused_section_error(
            path, ResetModel, ctx.model, ctx.geometry, 4,
            "a 4-D reset anomaly (nints, ngroups, ny, nx)", why,
        ) from None  # fmt: skip
    ctx.on_close(section.close)
    header = section.header
    # NINTS / NGROUPS of the reference bound the planes it holds, as the step checks.
    rnints, rngroups = _valid_planes(
        section.name, header.get("NINTS"), header.get("NGROUPS"), section.shape
    )
    log.info(
        "Reset reference nints=%d, ngroups=%d; science nints=%d, ngroups=%d",
        rnints, rngroups, ctx.nints, ctx.ngroups,
    )  # fmt: skip
    start = ctx.model.meta.exposure.integration_start
    start = int(start) if start is not None else 1
    if start < 1:
        raise ValueError(f"first_integration={start}; expected >= 1")
    ncorr = min(ctx.ngroups, rngroups)
    # The reference integrations the science integrations use.
    lo = min(start - 1, rnints - 1)
    hi = min(start - 1 + ctx.nints - 1, rnints - 1) + 1
    # The reference DQ of every plane, OR-ed (read by rows: it may be 4-D).
    dq_or = np.zeros((ctx.ny, ctx.nx), dtype=np.uint32)
    # (A file without DQ flags nothing, as the datamodel's default DQ.)
    for r0 in range(0, ctx.ny if section.has_extension("DQ") else 0, 64):
        dq = section.read_dq(slice(r0, min(ctx.ny, r0 + 64)))
        dq_or[r0 : r0 + dq.shape[-2]] = np.bitwise_or.reduce(dq.reshape(-1, *dq.shape[-2:]), axis=0)
    ctx.ref_bytes_per_row += 8 * (hi - lo) * ncorr * ctx.nx
    nan_count = [0, 0]

    def read(b):
        cols = None if isinstance(b.cols, slice) else b.cols
        sci = section.read("SCI", b.rows, (slice(lo, hi), slice(0, ncorr)), cols)
        if b.count is not None:
            count_nan_rows(nan_count, sci, b.r0, b.r1)
        return sci, b.ref(dq_or)

    rows = RowCache(read)

    def apply(b):
        sci, dq = rows.get(b)
        b.data, b.pixeldq = subtract_reset(
            b.data, b.pixeldq, sci, dq, first_integration=start + b.i0 - lo
        )

    def finish():
        report_nan_count(section.name, nan_count[0], ctx.ny * ctx.nx, None)

    return BlockStage(apply, dq_or=dq_or, finish=finish)


def _valid_planes(name, nints, ngroups, shape):
    """Integrations and groups of a reset array of ``shape`` that NINTS and NGROUPS
    (None: all) declare valid.

    Raises
    ------
    ReferenceFileError
        If a keyword is outside 1 .. the array's size on that axis.
    """
    out = list(shape[:2])
    for axis, key, value in ((0, "NINTS", nints), (1, "NGROUPS", ngroups)):
        if value is None:
            continue
        if not 1 <= int(value) <= shape[axis]:
            raise ReferenceFileError(
                f"{name}: {key}={value} but SCI has {shape[axis]} "
                f"plane(s) on that axis; expected 1 <= {key} <= {shape[axis]}"
            )
        out[axis] = int(value)
    return out[0], out[1]


def _require_miri(model, what):
    detector = (model.meta.instrument.detector or "").upper()
    if not detector.startswith("MIR"):
        raise StepSkipped(f"the {what} correction is for MIRI only (DETECTOR={detector})")
