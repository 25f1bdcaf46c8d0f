"""The ``dark_current`` step adapter."""

import logging
import os

import numpy as np

from ..lib.reffiles import NAN_MEANING, ReferenceFileError
from ..stpipe import Param, Step
from ..stpipe.blocks import run_block_stage

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
        return run_block_stage(self, model)

    def block_stage(self, ctx):
        """Subtract the dark averaged to the science readout, read by sections of rows.

        The dark's planes the readout uses and the block's rows are read (MIRI:
        the reference integrations used too); the average dark current is given
        to ramp fitting through ``ctx.average_dark``. On the whole array a dark
        shorter than the readout is extrapolated and ``dark_output`` is written.

        Raises
        ------
        NotStreamable
            Streamed, with ``dark_output``, a dark that must be extrapolated or one
            that cannot be read by sections (the step reports what is wrong with it).
        ReferenceFileError
            On the whole array, for a damaged dark.
        """
        from ..stpipe.blocks import NotStreamable

        if self.dark_output and ctx.streaming:
            raise NotStreamable("dark_output asks for the averaged dark product")
        if (ctx.model.meta.instrument.name or "").upper() == "MIRI":
            return _miri_dark_stage(self, ctx)
        return _nir_dark_stage(self, ctx)


def _open_section(step, ctx, ndim, model_class, expected):
    """The dark reference read by sections (closed when the run ends).

    Raises
    ------
    NotStreamable
        Streamed, for a dark a section cannot read.
    ReferenceFileError
        On the whole array, for that dark (what is wrong with it).
    """
    from ..lib.refsection import SectionUnsupported, refused_section_error
    from ..stpipe.blocks import NotStreamable

    try:
        section = step.open_reference_section(ctx.model, "dark", ctx.geometry, ndim=ndim)
    except SectionUnsupported as why:
        if ctx.streaming:
            raise NotStreamable(str(why)) from None
        path = step.get_reference_file(ctx.model, "dark")
        raise refused_section_error(
            path, model_class, ctx.model, ctx.geometry, ndim, expected, why
        ) from None
    ctx.on_close(section.close)
    return section


def _read_dq(section, rows, planes=None, cols=None, shape=()):
    """DQ rows of the dark; a dark without DQ flags nothing (the datamodel's default),
    zeros of the leading ``shape``."""
    if section.has_extension("DQ"):
        return section.read_dq(rows, planes, cols)
    ncols = section.xsize if cols is None else len(cols)
    return np.zeros((*shape, rows.stop - rows.start, ncols), dtype=np.uint32)


def _write_dark_output(step, ctx, out_class, ref_class, avg, dq):
    """Save the averaged dark used (``dark_output``, an ``out_class`` model) with the
    metadata of the reference (opened as ``ref_class``)."""
    from ..datamodels import save_model
    from ..lib.reffiles import load_reference

    exp = ctx.model.meta.exposure
    out = out_class(data=avg, dq=dq)
    with load_reference(step.get_reference_file(ctx.model, "dark"), ref_class, ctx.model) as ref:
        out.update(ref)
    out.meta.exposure.nframes = exp.nframes
    out.meta.exposure.groupgap = exp.groupgap
    out.meta.exposure.ngroups = ctx.ngroups
    existed = os.path.exists(step.dark_output)
    save_model(out, step.dark_output)
    if not existed:
        step.record_output(step.dark_output)


def _planes_used(section, exp, ngroups):
    """Dark frames the science readout uses (per dark integration), and the dark's
    NFRAMES and GROUPGAP."""
    nframes, groupgap = int(exp.nframes or 1), int(exp.groupgap or 0)
    dark_nframes = int(section.header.get("NFRAMES") or 1)
    dark_groupgap = int(section.header.get("GROUPGAP") or 0)
    if dark_nframes == nframes and dark_groupgap == groupgap:
        nplanes = ngroups
    else:
        nplanes = ngroups * nframes + (ngroups - 1) * groupgap
    return nplanes, dark_nframes, dark_groupgap


def _nan_report(ctx, section):
    """Count NaN dark pixels of the planes used (each row once) and report them at the end,
    as the step reports them (an error when every pixel is NaN)."""
    from ..lib.refsection import count_nan_rows, report_nan_count

    nan_count = [0, 0]

    def count(planes, b):
        if b.count is not None:
            count_nan_rows(nan_count, planes, b.r0, b.r1)

    def report():
        report_nan_count(section.name, nan_count[0], ctx.ny * ctx.nx, NAN_MEANING["dark"])

    return count, report


def _nir_dark_stage(step, ctx):
    from stdatamodels.jwst import datamodels as dm

    from ..stpipe.blocks import BlockStage, NotStreamable, RowCache
    from .subtract import DarkMismatchError, average_dark_frames, subtract_dark

    nirspec = (ctx.model.meta.instrument.name or "").upper() == "NIRSPEC"
    ref_class = dm.DarkNirspecModel if nirspec else dm.DarkModel
    section = _open_section(step, ctx, 3, ref_class, "(nplanes, ny, nx)")
    exp = ctx.model.meta.exposure
    ngroups = ctx.ngroups
    log.info(
        "Science data nints=%d, ngroups=%d, nframes=%d, groupgap=%d",
        ctx.nints, ngroups, exp.nframes, exp.groupgap,
    )  # fmt: skip
    nplanes, dark_nframes, dark_groupgap = _planes_used(section, exp, ngroups)
    if section.nplanes < nplanes and ctx.streaming:
        raise NotStreamable("the dark reference must be extrapolated")
    ctx.average_dark = section.average_dark_current(step.average_dark_current)
    count_nans, report_nans = _nan_report(ctx, section)
    kept = {}

    def read(b):
        dark = section.read("SCI", b.rows, planes=slice(0, nplanes))
        count_nans(dark, b)
        dq = _read_dq(section, b.rows)
        if dq.ndim == 3:
            dq = np.bitwise_or.reduce(dq, axis=0)
        try:
            # (A dark shorter than the readout is extrapolated: on the whole array only.)
            avg = average_dark_frames(
                dark, ngroups=ngroups, nframes=int(exp.nframes), groupgap=int(exp.groupgap),
                dark_nframes=dark_nframes, dark_groupgap=dark_groupgap,
            )  # fmt: skip
        except DarkMismatchError as exc:
            raise ReferenceFileError(f"{section.name}: {exc}") from None
        if step.dark_output:
            kept["dark"] = (avg, dq)
        return avg, dq.astype(np.uint32)

    # Integration chunks of one block share its averaged dark.
    rows = RowCache(read)

    def apply(b):
        avg, dq = rows.get(b)
        b.data, b.pixeldq = subtract_dark(b.data, b.pixeldq, avg, dq)

    def finish():
        report_nans()
        if step.dark_output:
            _write_dark_output(step, ctx, dm.DarkModel, ref_class, *kept["dark"])

    return BlockStage(apply, finish=finish)


def _miri_dark_stage(step, ctx):
    from stdatamodels.jwst import datamodels as dm

    from ..stpipe.blocks import BlockStage, NotStreamable, RowCache
    from .miri import average_miri_dark, miri_dark_dq, subtract_miri_dark
    from .subtract import DarkMismatchError

    expected = "a MIRI dark with one ramp per integration (nints >= 1, ngroups, ny, nx)"
    section = _open_section(step, ctx, 4, dm.DarkMIRIModel, expected)
    name = section.name
    dnints, dngroups = section.shape[:2]
    dq_shape = section.extension_shape("DQ") if section.has_extension("DQ") else section.shape
    if len(dq_shape) == 4 and dq_shape[0] != dnints:
        raise ReferenceFileError(
            f"{name}: DQ has {dq_shape[0]} integration(s) but SCI has {dnints}; expected the "
            "same number"
        )
    if len(dq_shape) not in (2, 4):
        raise ReferenceFileError(
            f"{name}: DQ has shape {dq_shape}; expected (nints, ngroups, ny, nx) or (ny, nx)"
        )
    exp = ctx.model.meta.exposure
    ngroups = ctx.ngroups
    log.info(
        "Science data nints=%d, ngroups=%d, nframes=%d, groupgap=%d; dark nints=%d, "
        "ngroups=%d", ctx.nints, ngroups, exp.nframes, exp.groupgap, dnints, dngroups,
    )  # fmt: skip
    nplanes, dark_nframes, dark_groupgap = _planes_used(section, exp, ngroups)
    if dngroups < nplanes and ctx.streaming:
        raise NotStreamable("the dark reference must be extrapolated")
    ctx.average_dark = section.average_dark_current(step.average_dark_current)
    start = exp.integration_start
    start = int(start) if start is not None else 1
    # The dark integrations used: science integration i uses min(i, last) (the last one
    # for all of a segment that does not start the exposure); dark_output has them all.
    if start == 1 or step.dark_output:
        used = slice(0, min(ctx.nints, dnints) if not step.dark_output else dnints)
        if ctx.nints > dnints and start == 1:
            log.info(
                "Science integrations %d-%d use the dark's last integration (%d)",
                dnints + 1, ctx.nints, dnints,
            )  # fmt: skip
    else:
        used = slice(dnints - 1, dnints)
    nused = used.stop - used.start
    ctx.ref_bytes_per_row += 8 * nused * nplanes * ctx.nx
    count_nans, report_nans = _nan_report(ctx, section)
    kept = {}

    def read(b):
        cols = None if isinstance(b.cols, slice) else b.cols
        dark = section.read("SCI", b.rows, (used, slice(0, nplanes)), cols)
        count_nans(dark, b)
        if step.dark_output:
            dq = _read_dq(section, b.rows, None, cols, dq_shape[:-2])
        elif len(dq_shape) == 4:
            dq = _read_dq(section, b.rows, (slice(None), slice(0, 1)), cols, (dnints, 1))
        else:
            dq = _read_dq(section, b.rows, None, cols)
        try:
            avg = average_miri_dark(
                dark, ngroups=ngroups, nframes=int(exp.nframes or 1),
                groupgap=int(exp.groupgap or 0),
                dark_nframes=dark_nframes, dark_groupgap=dark_groupgap,
            )  # fmt: skip
            pixel_dq = miri_dark_dq(dq)
        except (DarkMismatchError, ValueError) as exc:
            raise ReferenceFileError(f"{name}: {exc}") from None
        if step.dark_output:
            kept["dark"] = (avg, dq)
        return avg, pixel_dq

    rows = RowCache(read)

    def apply(b):
        avg, dq = rows.get(b)
        n = b.data.shape[0]
        if start == 1:
            sel = np.minimum(np.arange(b.i0, b.i0 + n), nused - 1)
            b.data, b.pixeldq = subtract_miri_dark(b.data, b.pixeldq, avg[sel], dq)
        else:  # every integration uses the dark's last one
            b.data, b.pixeldq = subtract_miri_dark(
                b.data, b.pixeldq, avg, dq, first_integration=start
            )

    def finish():
        report_nans()
        if step.dark_output:
            avg, dq = kept["dark"]
            _write_dark_output(step, ctx, dm.DarkMIRIModel, dm.DarkMIRIModel, avg, dq)

    return BlockStage(apply, finish=finish)
