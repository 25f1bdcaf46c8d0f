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

    def block_stage(self, ctx):
        """Subtract the dark averaged to the science readout, read by sections of rows.

        The dark's planes the readout uses and the block's rows are read (MIRI:
        the reference integrations used too); the average dark current is given
        to ramp fitting through ``ctx.average_dark``.

        Raises
        ------
        NotStreamable
            With ``dark_output``, a dark that must be extrapolated or whose
            layout the step reports itself.
        """
        from ..stpipe.blocks import NotStreamable

        if self.dark_output:
            raise NotStreamable("dark_output asks for the averaged dark product")
        if (ctx.model.meta.instrument.name or "").upper() == "MIRI":
            return _miri_dark_stage(self, ctx)
        return _nir_dark_stage(self, ctx)

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


def _open_section(step, ctx, ndim):
    """The dark reference read by sections (closed when the run ends)."""
    from ..lib.refsection import SectionUnsupported
    from ..stpipe.blocks import NotStreamable

    try:
        section = step.open_reference_section(ctx.model, "dark", ctx.geometry, ndim=ndim)
    except SectionUnsupported as why:
        raise NotStreamable(str(why)) from None
    ctx.on_close(section.close)
    return section


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

    def finish():
        report_nan_count(section.name, nan_count[0], ctx.ny * ctx.nx, NAN_MEANING["dark"])

    return count, finish


def _nir_dark_stage(step, ctx):
    from ..stpipe.blocks import BlockStage, NotStreamable, RowCache
    from .subtract import DarkMismatchError, average_dark_frames, subtract_dark

    section = _open_section(step, ctx, ndim=3)
    exp = ctx.model.meta.exposure
    ngroups = ctx.ngroups
    log.info(
        "Science data nints=%d, ngroups=%d, nframes=%d, groupgap=%d",
        ctx.nints, ngroups, exp.nframes, exp.groupgap,
    )  # fmt: skip
    nplanes, dark_nframes, dark_groupgap = _planes_used(section, exp, ngroups)
    if section.nplanes < nplanes:
        raise NotStreamable("the dark reference must be extrapolated")
    ctx.average_dark = section.average_dark_current(step.average_dark_current)
    count_nans, finish = _nan_report(ctx, section)

    def read(b):
        dark = section.read("SCI", b.rows, planes=slice(0, nplanes))
        count_nans(dark, b)
        dq = section.read_dq(b.rows)
        if dq.ndim == 3:
            dq = np.bitwise_or.reduce(dq, axis=0)
        try:
            avg = average_dark_frames(
                dark, ngroups=ngroups, nframes=int(exp.nframes), groupgap=int(exp.groupgap),
                dark_nframes=dark_nframes, dark_groupgap=dark_groupgap,
            )  # fmt: skip
        except DarkMismatchError as exc:
            raise ReferenceFileError(f"{section.name}: {exc}") from None
        return avg, dq.astype(np.uint32)

    # Integration chunks of one block share its averaged dark.
    rows = RowCache(read)

    def apply(b):
        avg, dq = rows.get(b)
        b.data, b.pixeldq = subtract_dark(b.data, b.pixeldq, avg, dq)

    return BlockStage(apply, finish=finish)


def _miri_dark_stage(step, ctx):
    from ..stpipe.blocks import BlockStage, NotStreamable, RowCache
    from .miri import average_miri_dark, miri_dark_dq, subtract_miri_dark
    from .subtract import DarkMismatchError

    section = _open_section(step, ctx, ndim=4)
    name = section.name
    dnints, dngroups = section.shape[:2]
    # A malformed dark is reported by the step itself (the same message as without
    # streaming): leave it to the step-by-step path.
    if not section.has_extension("DQ"):
        raise NotStreamable("a MIRI dark without DQ")
    dq_shape = section.extension_shape("DQ")
    if len(dq_shape) == 4 and dq_shape[0] != dnints:
        raise NotStreamable("a MIRI dark whose DQ and SCI integrations differ")
    if len(dq_shape) not in (2, 4):
        raise NotStreamable(f"a MIRI dark DQ of shape {dq_shape}")
    exp = ctx.model.meta.exposure
    ngroups = ctx.ngroups
    log.info(
        "Science data nints=%d, ngroups=%d, nframes=%d, groupgap=%d; dark nints=%d, "
        "ngroups=%d", ctx.nints, ngroups, exp.nframes, exp.groupgap, dnints, dngroups,
    )  # fmt: skip
    nplanes, dark_nframes, dark_groupgap = _planes_used(section, exp, ngroups)
    if dngroups < nplanes:
        raise NotStreamable("the dark reference must be extrapolated")
    ctx.average_dark = section.average_dark_current(step.average_dark_current)
    start = exp.integration_start
    start = int(start) if start is not None else 1
    # The dark integrations used: science integration i uses min(i, last) (the last one
    # for all of a segment that does not start the exposure).
    if start == 1:
        used = slice(0, min(ctx.nints, dnints))
        if ctx.nints > dnints:
            log.info(
                "Science integrations %d-%d use the dark's last integration (%d)",
                dnints + 1, ctx.nints, dnints,
            )  # fmt: skip
    else:
        used = slice(dnints - 1, dnints)
    nused = used.stop - used.start
    ctx.ref_bytes_per_row += 8 * nused * nplanes * ctx.nx
    count_nans, finish = _nan_report(ctx, section)

    def read(b):
        cols = None if isinstance(b.cols, slice) else b.cols
        dark = section.read("SCI", b.rows, (used, slice(0, nplanes)), cols)
        count_nans(dark, b)
        if len(dq_shape) == 4:
            dq = section.read_dq(b.rows, (slice(None), slice(0, 1)), cols)
        else:
            dq = section.read_dq(b.rows, None, cols)
        try:
            avg = average_miri_dark(
                dark, ngroups=ngroups, nframes=int(exp.nframes or 1),
                groupgap=int(exp.groupgap or 0),
                dark_nframes=dark_nframes, dark_groupgap=dark_groupgap,
            )  # fmt: skip
            pixel_dq = miri_dark_dq(dq)
        except (DarkMismatchError, ValueError) as exc:
            raise ReferenceFileError(f"{name}: {exc}") from None
        return avg, pixel_dq

    rows = RowCache(read)

    def apply(b):
        avg, dq = rows.get(b)
        n = b.data.shape[0]
        if start == 1:
            sel = np.minimum(np.arange(b.i0, b.i0 + n), nused - 1)
            b.data, b.pixeldq = subtract_miri_dark(b.data, b.pixeldq, avg[sel], dq)
        else:
            b.data, b.pixeldq = subtract_miri_dark(
                b.data, b.pixeldq, avg, dq, first_integration=start
            )

    return BlockStage(apply, finish=finish)
