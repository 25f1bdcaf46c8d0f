"""Streaming execution of calwebb_detector1: blocks of rows across all integrations.

When no intermediate product is requested, the ramp steps run fused over
blocks of rows of the raw ramp, read straight from the ``_uncal`` file,
with every integration of those rows in memory at once (ramp fitting and
jump detection use statistics over the integrations of a pixel). Nothing
the size of the whole ramp is ever allocated: peak memory is bounded by
``memory_limit`` plus the products and references, and does not grow with
the number of groups.

Exactness with the step-by-step path is by construction: every step runs
the same kernel on a block of rows as on the whole array. The few
whole-frame dependencies are handled explicitly:

* spatial stencils (saturation growth, the IPC kernel, jump's neighbour
  flagging) get halo rows that are computed and discarded;
* the near-infrared reference-pixel correction depends only on the
  reference pixels: a first pass over the file computes its per-column and
  per-row terms (:func:`webbcal.refpix.nir.refpix_terms`), the second pass
  applies them;
* MIRI's reference-pixel correction depends only on the reference columns
  (0-3, 1028-1031): a first pass runs the steps before it on those columns
  (plus the columns saturation growth reaches) and computes the drift of
  every amplifier, group and integration
  (:func:`webbcal.refpix.miri.reference_column_signals`);
* whole-array counts and decisions of MIRI's firstframe and rscd (pixels
  whose first or RSCD groups are kept, FLUX_ESTIMATED of pixels bright in any
  integration) are accumulated as per-pixel masks over the blocks and
  recorded at the end as the steps record them; rscd's walk down the groups
  is exact on parts of the array because SATURATED flags stick (checked);
* jump's detection regime (groups that are DO_NOT_USE everywhere) is
  predicted (MIRI's first, last and RSCD groups included) and checked, as is
  the absence of planes that sigma clipping flags entirely; on a failed check
  the run falls back to the step-by-step path.

Configurations the executor does not cover (LIKELY, snowball or shower
flagging, clean_flicker_noise, persistence, charge_migration, emicorr, a
4-D IPC kernel, darks that must be extrapolated, dark_output, saved
intermediate products) use the step-by-step path.

References
----------
``docs/streaming-design.md``; JWST pipeline documentation, "calwebb_detector1".
"""

from __future__ import annotations

import logging
import os
import re
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..stpipe import StepSkipped

__all__ = ["NotStreamable", "SpilledRateints", "parse_memory", "run_streaming"]

log = logging.getLogger(__name__)

_DNU = np.uint8(1)
_JUMP = np.uint8(4)
#: Bytes of working memory per ramp sample while a block is processed (float32 data,
#: uint8 DQ, the kernels' float64 temporaries and copies).
_BYTES_PER_SAMPLE = 40
#: Memory taken by the interpreter, libraries and small arrays.
_BASELINE = 350 * 2**20
#: Rows of a block: more are no faster; fewer cost too much in halo rows.
_MAX_ROWS = 128
_MIN_ROWS = 2
#: When the halo rows would cost more than this many times a block's own rows (very
#: many integrations, hence blocks of a few rows), the steps before jump run once over
#: whole integrations and their results wait on disk for jump and ramp fitting (two
#: passes). Measured on 2 cores: at 7-row blocks recomputing the halos is faster
#: (16.8 s against 18.4 s for 2048x64x5x500), at 2-row blocks both take the same time.
_HALO_FRACTION = 2.0


class NotStreamable(Exception):
    """The configuration or data need the step-by-step path (the message says why)."""


def parse_memory(value: str | float | int) -> int:
    """Parse a memory size such as ``"2GB"``, ``"1500 MB"``, ``"1.5G"`` or bytes.

    Raises
    ------
    ValueError
        If the text is not a positive size.
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        nbytes = float(value)
    else:
        m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kKmMgGtT]?)(i?[bB])?\s*", str(value))
        if not m:
            raise ValueError(
                f"memory_limit={value!r}: expected a size such as '2GB', '1500MB' or a number of "
                "bytes"
            )
        scale = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}[m.group(2).lower()]
        nbytes = float(m.group(1)) * scale
    if not nbytes > 0:
        raise ValueError(f"memory_limit={value!r}: expected a positive size")
    return int(nbytes)


# --------------------------------------------------------------------------- blocks
@dataclass
class _Block:
    """Rows ``r0:r1`` of the (sub)array for every integration and group."""

    r0: int
    r1: int
    data: np.ndarray  # (nints, ngroups, nrows, nx) float32
    groupdq: np.ndarray  # (nints, ngroups, nrows, nx) uint8
    pixeldq: np.ndarray  # (nrows, nx) uint32
    zeroframe: np.ndarray | None  # (nints, nrows, nx) float32
    #: Columns held (all, or the reference columns gathered in the first pass).
    cols: Any = field(default_factory=lambda: slice(None))
    #: Index of the block's first integration in the exposure.
    i0: int = 0
    #: Rows (of this block) whose whole-array statistics the stages accumulate: rows
    #: whose results are final, each counted in one block; None (the reference-pixel
    #: first pass) for none.
    count: slice | None = None

    @property
    def rows(self) -> slice:
        return slice(self.r0, self.r1)

    def ref(self, arr: np.ndarray) -> np.ndarray:
        """Rows (and columns) of a (..., ny, nx) reference array matching this block."""
        out = arr[..., self.r0 : self.r1, :]
        return out if isinstance(self.cols, slice) else out[..., self.cols]


@dataclass
class _Stage:
    alias: str
    step: Any
    apply: Callable[[_Block], None]
    halo: int = 0
    before_refpix: bool = False
    #: Flags the step OR-s into the pixel DQ (steps before refpix), or None.
    dq_or: np.ndarray | None = None
    #: Why the step is skipped (when ``apply`` is None).
    skipped: str = ""


@dataclass
class _Context:
    """What the stages share: the metadata ramp, geometry, references and results."""

    pipe: Any
    shell: Any  # RampModel with metadata only
    raw: Any
    geom: Any
    nints: int
    ngroups: int
    ny: int
    nx: int
    zeroframe_used: bool
    gain: np.ndarray | None = None
    readnoise: np.ndarray | None = None
    average_dark: np.ndarray | None = None
    #: Reference-pixel terms of every plane (integration * ngroups + group), and of
    #: the zero frames (or None).
    refpix_terms: tuple | None = None
    #: What stages share: refpix parameters, jump regime and counts, dark checks.
    state: dict = field(default_factory=dict)
    #: Open files to close when the run ends.
    closers: list = field(default_factory=list)


def _block_geometry(geom, r0: int, r1: int):
    from ..lib.subarray import SubarrayGeometry

    return SubarrayGeometry(
        geom.xstart, geom.ystart + r0, geom.xsize, r1 - r0, geom.full_nx, geom.full_ny
    )


# --------------------------------------------------------------------------- stages
def _prep_group_scale(step, ctx):
    from ..group_scale.scale import scale_groups

    exp = ctx.shell.meta.exposure
    nframes, frmdivsr = exp.nframes, exp.frame_divisor
    if frmdivsr is None or nframes is None or frmdivsr == nframes:
        log.info("NFRAMES=%s and FRMDIVSR=%s: no rescaling needed", nframes, frmdivsr)
        raise StepSkipped("FRMDIVSR equals NFRAMES or is absent")
    log.info("Rescaling all groups by %d/%d", frmdivsr, nframes)

    def apply(b):
        b.data = scale_groups(b.data, frmdivsr=int(frmdivsr), nframes=int(nframes))

    return apply, 0, None


def _prep_dq_init(step, ctx):
    from astropy.io import fits
    from stdatamodels.jwst.datamodels import MaskModel

    from ..dq_init.init import initialize_dq
    from ..lib.reffiles import load_reference, reference_array

    path = step.get_reference_file(ctx.shell, "mask")
    log.info("Using MASK reference file %s", path)
    mask = load_reference(path, MaskModel, ctx.shell, fast=True)
    mask_dq = _own(reference_array(mask, "dq", ctx.geom))
    user_dq = fits.getdata(step.user_supplied_dq) if step.user_supplied_dq is not None else None

    def apply(b):
        udq = None if user_dq is None else b.ref(user_dq)
        b.pixeldq, b.groupdq = initialize_dq(b.pixeldq, b.groupdq, b.ref(mask_dq), user_dq=udq)

    dq_or = np.asarray(mask_dq, dtype=np.uint32)
    if user_dq is not None:
        dq_or = dq_or | np.asarray(user_dq, dtype=np.uint32)
    return apply, 0, dq_or


def _prep_saturation(step, ctx):
    from ..saturation.flagging import flag_saturation
    from ..saturation.step import ATOD_LIMIT

    shell = ctx.shell
    thresh, sat_dq, bias = (_own(a) for a in step.reference_arrays(shell, ctx.geom, fast=True))
    if bias is not None:
        path = step.get_reference_file(shell, "superbias")
        ctx.state["saturation_bias"] = (path, bias)
    exp = shell.meta.exposure
    read_pattern = None
    if step.use_readpatt:
        nframes, ngroups = int(exp.nframes), int(exp.ngroups)
        read_pattern = [[g * nframes + k + 1 for k in range(nframes)] for g in range(ngroups)]
    n_grow = int(step.n_pix_grow_sat)
    use_zf = bool(exp.zero_frame) and ctx.zeroframe_used

    def apply(b):
        res = flag_saturation(
            b.data, b.groupdq, b.pixeldq, b.ref(thresh), b.ref(sat_dq),
            n_pix_grow_sat=n_grow, zeroframe=b.zeroframe if use_zf else None,
            read_pattern=read_pattern, bias=None if bias is None else b.ref(bias),
            atod_limit=ATOD_LIMIT, use_readpatt=step.use_readpatt,
        )  # fmt: skip
        b.groupdq, b.pixeldq = res.groupdq, res.pixeldq
        if res.zeroframe is not None:
            b.zeroframe = res.zeroframe

    # Rows a pixel's flags depend on: the growth, twice over when frame averaging
    # (NFRAMES > 1) lets a grown SATURATED flag mark its neighbours DO_NOT_USE, grown again.
    halo = 2 * n_grow if read_pattern is not None and int(exp.nframes) > 1 else n_grow
    return apply, halo, np.asarray(sat_dq, dtype=np.uint32)


def _prep_ipc(step, ctx):
    from stdatamodels.jwst.datamodels import IPCModel

    from ..ipc.kernel import apply_ipc
    from ..lib.reffiles import check_reference_values

    ref = step.open_reference(ctx.shell, "ipc", IPCModel, fast=True)
    name = os.path.basename(ref.meta.filename or "ipc reference")
    kernel = np.asarray(ref.data)
    check_reference_values(kernel, name, "SCI", allow_nan=False)
    if kernel.ndim == 4:
        raise NotStreamable("a per-pixel (4-D) IPC kernel")
    halo = int(max(kernel.shape[0] - kernel.shape[0] // 2 - 1, kernel.shape[0] // 2))
    geom = ctx.geom

    def apply(b):
        b.data = apply_ipc(b.data, kernel, geometry=_block_geometry(geom, b.r0, b.r1))

    return apply, halo, None


def _prep_superbias(step, ctx):
    from stdatamodels.jwst.datamodels import SuperBiasModel

    from ..lib.reffiles import NAN_MEANING, reference_array
    from ..superbias.subtract import subtract_superbias

    ref = step.open_reference(ctx.shell, "superbias", SuperBiasModel, fast=True)
    bias = reference_array(ref, "data", ctx.geom, extname="SCI",
                           nan_meaning=NAN_MEANING["superbias"])  # fmt: skip
    bias_dq = _own(reference_array(ref, "dq", ctx.geom))
    shared = ctx.state.get("saturation_bias")
    if shared is not None and shared[0] == step.get_reference_file(ctx.shell, "superbias"):
        # The same file, cut the same way, read moments ago: the same array.
        bias = shared[1]  # the same superbias saturation already holds
    else:
        bias = _own(bias)
    del ref
    use_zf = bool(ctx.shell.meta.exposure.zero_frame) and ctx.zeroframe_used

    def apply(b):
        zf = b.zeroframe if use_zf else None
        b.data, b.pixeldq, zf = subtract_superbias(
            b.data, b.pixeldq, b.ref(bias), b.ref(bias_dq), zeroframe=zf
        )
        if zf is not None:
            b.zeroframe = zf

    return apply, 0, np.asarray(bias_dq, dtype=np.uint32)


def _prep_linearity(step, ctx):
    from ..linearity.correct import correct_linearity

    coeffs, lin_dq = (_own(a) for a in step.reference_arrays(ctx.shell, ctx.geom, fast=True))
    use_zf = bool(ctx.shell.meta.exposure.zero_frame) and ctx.zeroframe_used

    def apply(b):
        zf = b.zeroframe if use_zf else None
        b.data, b.pixeldq, zf = correct_linearity(
            b.data, b.groupdq, b.pixeldq, b.ref(coeffs), b.ref(lin_dq), zeroframe=zf
        )
        if zf is not None:
            b.zeroframe = zf

    return apply, 0, None


def _prep_dark_current(step, ctx):
    from ..dark_current.subtract import DarkMismatchError, average_dark_frames, subtract_dark
    from ..lib.reffiles import ReferenceFileError

    if step.dark_output:
        raise NotStreamable("dark_output asks for the averaged dark product")
    if _is_miri(ctx.shell):
        return _prep_miri_dark(step, ctx)
    path = step.get_reference_file(ctx.shell, "dark")
    log.info("Using DARK reference file %s", path)
    section = _ReferenceSection(path, ctx)
    ctx.closers.append(section.close)
    ctx.state["dark_name"] = section.name
    exp = ctx.shell.meta.exposure
    ngroups = ctx.ngroups
    log.info(
        "Science data nints=%d, ngroups=%d, nframes=%d, groupgap=%d",
        ctx.nints, ngroups, exp.nframes, exp.groupgap,
    )  # fmt: skip
    dark_nframes = int(section.header.get("NFRAMES") or 1)
    dark_groupgap = int(section.header.get("GROUPGAP") or 0)
    nframes, groupgap = int(exp.nframes), int(exp.groupgap)
    if dark_nframes == nframes and dark_groupgap == groupgap:
        nplanes = ngroups
    else:
        nplanes = ngroups * nframes + (ngroups - 1) * groupgap
    if section.nplanes < nplanes:
        raise NotStreamable("the dark reference must be extrapolated")
    # The 2-D average dark current (used by ramp fitting), as the step sets it.
    ctx.average_dark = section.average_dark_current(step.average_dark_current)

    # NaN pixels of the planes used, each row counted once (halo rows are read twice).
    nan_count = ctx.state.setdefault("dark_nan", [0, 0])

    # The averaged dark of the last rows read: chunks of integrations share it.
    cached = {}

    def dark_rows(b):
        key = (b.r0, b.r1)
        if key in cached:
            return cached[key]
        cached.clear()
        dark = section.read("SCI", b.rows, planes=slice(0, nplanes))
        _count_nan_rows(nan_count, dark, b)
        dq = section.read_dq(b.rows)
        if dq.ndim == 3:
            dq = np.bitwise_or.reduce(dq, axis=0)
        try:
            avg = average_dark_frames(
                dark, ngroups=ngroups, nframes=nframes, groupgap=groupgap,
                dark_nframes=dark_nframes, dark_groupgap=dark_groupgap,
            )  # fmt: skip
        except DarkMismatchError as exc:
            raise ReferenceFileError(f"{section.name}: {exc}") from None
        cached[key] = (avg, dq.astype(np.uint32))
        return cached[key]

    def apply(b):
        avg, dq = dark_rows(b)
        b.data, b.pixeldq = subtract_dark(b.data, b.pixeldq, avg, dq)

    return apply, 0, None


def _prep_refpix(step, ctx):
    from ..refpix.nir import RefPixParameters

    if _is_miri(ctx.shell):
        return _prep_miri_refpix(step, ctx)
    names = set(RefPixParameters.__dataclass_fields__)
    params = RefPixParameters(**{k: v for k, v in step.get_parameters().items() if k in names})
    ctx.state["refpix_params"] = params

    def apply(b):
        from ..refpix.nir import apply_refpix_terms

        terms, zterms = ctx.refpix_terms
        ng = b.data.shape[1]
        for i in range(b.data.shape[0]):
            planes = slice((b.i0 + i) * ng, (b.i0 + i + 1) * ng)
            b.data[i] = apply_refpix_terms(b.data[i], terms, planes, b.rows)
        if b.zeroframe is not None and zterms is not None:
            zf = b.zeroframe
            zero = zf == 0.0
            n = zf.shape[0]
            out = apply_refpix_terms(zf, zterms, slice(b.i0, b.i0 + n), b.rows)
            out[zero] = 0.0
            b.zeroframe = out

    return apply, 0, None


# --------------------------------------------------------------------------- MIRI stages
def _is_miri(model) -> bool:
    return (model.meta.instrument.name or "").upper() == "MIRI"


def _finish(ctx: _Context, fn: Callable[[], None]) -> None:
    """Run ``fn`` after the last block (whole-array counts, meta, log lines)."""
    ctx.state.setdefault("finish", []).append(fn)


def _dnu_planes(ctx: _Context) -> np.ndarray:
    """(nints, ngroups) groups that steps flag DO_NOT_USE in every pixel, as far as
    they are known in advance (the jump regime is predicted from them)."""
    return ctx.state.setdefault("dnu_planes", np.zeros((ctx.nints, ctx.ngroups), dtype=bool))


def _counted(ctx: _Context, name: str) -> np.ndarray:
    """A whole-array (ny, nx) bool mask that stages OR their counted rows into."""
    masks = ctx.state.setdefault("masks", {})
    if name not in masks:
        masks[name] = np.zeros((ctx.ny, ctx.nx), dtype=bool)
    return masks[name]


def _or_counted(ctx: _Context, name: str, b: _Block, mask: np.ndarray) -> None:
    """OR the rows of ``mask`` (the block's rows) that ``b`` counts into ``name``."""
    rows = np.arange(b.r0, b.r1)[b.count]
    _counted(ctx, name)[rows] |= mask[b.count]


def _prep_firstframe(step, ctx):
    from ..dqflags import DO_NOT_USE, SATURATED
    from ..firstframe.flagging import FLUX_ESTIMATED, MIN_GROUPS, flag_first_group

    flog = logging.getLogger("webbcal.firstframe.step")
    flog.warning(
        "The firstframe step is deprecated in the official pipeline (first-group "
        "flagging is part of rscd)"
    )
    detector = (ctx.shell.meta.instrument.detector or "").upper()
    if not detector.startswith("MIR"):
        raise StepSkipped(f"the first-frame correction is for MIRI only (DETECTOR={detector})")
    if ctx.ngroups <= MIN_GROUPS:
        raise StepSkipped(f"too few groups ({ctx.ngroups}) to flag the first one")
    bright = bool(step.bright_use_group1)
    if bright:
        # FLUX_ESTIMATED goes to pixels bright in any integration.
        ctx.state["pixeldq_any"] = ctx.state.get("pixeldq_any", 0) | FLUX_ESTIMATED
        _counted(ctx, "firstframe_kept")

        def finish():
            n_kept = int(np.count_nonzero(_counted(ctx, "firstframe_kept")))
            flog.info("Usable bright pixels whose first group is kept: %d", n_kept)

        _finish(ctx, finish)
    # Group 1 is DO_NOT_USE everywhere unless some pixel is bright (checked at the end).
    _dnu_planes(ctx)[:, 0] = True

    def apply(b):
        if bright and b.count is not None:
            # The pixels the kernel counts: kept somewhere, not DO_NOT_USE.
            kept = np.any((b.groupdq[:, 2] & SATURATED) != 0, axis=0)
            _or_counted(ctx, "firstframe_kept", b, kept & ((b.pixeldq & DO_NOT_USE) == 0))
        b.groupdq, b.pixeldq, _ = flag_first_group(b.groupdq, b.pixeldq, bright_use_group1=bright)

    return apply, 0, None


def _prep_lastframe(step, ctx):
    from ..lastframe.flagging import MIN_GROUPS, flag_last_group

    detector = (ctx.shell.meta.instrument.detector or "").upper()
    if not detector.startswith("MIR"):
        raise StepSkipped(f"the last-frame correction is for MIRI only (DETECTOR={detector})")
    if ctx.ngroups <= MIN_GROUPS:
        raise StepSkipped(f"too few groups ({ctx.ngroups}) to flag the last one")
    _dnu_planes(ctx)[:, -1] = True

    def apply(b):
        b.groupdq = flag_last_group(b.groupdq)

    return apply, 0, None


def _prep_reset(step, ctx):
    from types import SimpleNamespace

    from ..lib.reffiles import ReferenceFileError
    from ..reset.step import _trim_to_keywords
    from ..reset.subtract import subtract_reset

    path = step.get_reference_file(ctx.shell, "reset")
    logging.getLogger("webbcal.stpipe.step").info("Using RESET reference file %s", path)
    if path is None:
        raise StepSkipped("no reset reference file applies (N/A)")
    section = _ReferenceSection(path, ctx, ndim=4, what="reset")
    ctx.closers.append(section.close)
    header = section.header
    if len(section.shape) != 4:  # pragma: no cover - the section checks it
        raise ReferenceFileError(f"{section.name}: SCI has shape {section.shape}")
    # NINTS / NGROUPS of the reference bound the planes it holds, as the step checks.
    shim = SimpleNamespace(meta=SimpleNamespace(
        filename=section.name,
        exposure=SimpleNamespace(nints=header.get("NINTS"), ngroups=header.get("NGROUPS")),
    ))  # fmt: skip
    full = section.shape[:2] + (ctx.ny, ctx.nx)
    rnints, rngroups = _trim_to_keywords(shim, np.broadcast_to(np.float32(0), full)).shape[:2]
    logging.getLogger("webbcal.reset.step").info(
        "Reset reference nints=%d, ngroups=%d; science nints=%d, ngroups=%d",
        rnints, rngroups, ctx.nints, ctx.ngroups,
    )  # fmt: skip
    start = ctx.shell.meta.exposure.integration_start
    start = int(start) if start is not None else 1
    if start < 1:
        raise ValueError(f"first_integration={start}; expected >= 1")
    ncorr = min(ctx.ngroups, rngroups)
    # The reference integrations the science integrations use.
    lo = min(start - 1, rnints - 1)
    hi = min(start - 1 + ctx.nints - 1, rnints - 1) + 1
    nan_count = ctx.state.setdefault("reset_nan", [0, 0])
    _finish(ctx, lambda: _check_section_nans(ctx, section.name, nan_count[0], None))
    cached = {}
    # The reference DQ of every plane, OR-ed (read by rows: it may be 4-D).
    dq_or = np.zeros((ctx.ny, ctx.nx), dtype=np.uint32)
    for r0 in range(0, ctx.ny, 64):
        dq = section.read_dq(slice(r0, min(ctx.ny, r0 + 64)))
        dq_or[r0 : r0 + dq.shape[-2]] = np.bitwise_or.reduce(dq.reshape(-1, *dq.shape[-2:]), axis=0)
    ctx.state["ref_bytes_per_row"] = (
        ctx.state.get("ref_bytes_per_row", 0) + 8 * (hi - lo) * ncorr * ctx.nx
    )

    def reset_rows(b):
        key = (b.r0, b.r1, _cols_key(b.cols))
        if key not in cached:
            cached.clear()
            cols = None if isinstance(b.cols, slice) else b.cols
            sci = section.read("SCI", b.rows, (slice(lo, hi), slice(0, ncorr)), cols)
            if b.count is not None:
                _count_nan_rows(nan_count, sci, b)
            cached[key] = (sci, b.ref(dq_or))
        return cached[key]

    def apply(b):
        sci, dq = reset_rows(b)
        b.data, b.pixeldq = subtract_reset(
            b.data, b.pixeldq, sci, dq, first_integration=start + b.i0 - lo
        )

    return apply, 0, dq_or.astype(np.uint32)


def _count_nan_rows(nan_count: list, planes: np.ndarray, b: _Block) -> None:
    """Count the pixels of rows not counted yet (``nan_count``: [count, rows done])
    that are NaN in some plane of ``planes`` (..., rows, nx), the block's rows."""
    first = max(b.r0, nan_count[1]) - b.r0
    rows = planes[..., first:, :]
    if rows.shape[-2] > 0:  # rows already counted (overlapping halos) are skipped
        bad = np.isnan(rows).reshape(-1, *rows.shape[-2:]).any(axis=0)
        nan_count[0] += int(np.count_nonzero(bad))
    nan_count[1] = max(nan_count[1], b.r1)


def _cols_key(cols) -> Any:
    return None if isinstance(cols, slice) else (int(cols[0]), int(cols[-1]), len(cols))


def _prep_rscd(step, ctx):
    from ..dqflags import SATURATED
    from ..rscd.flagging import FLUX_ESTIMATED, flag_rscd_groups

    klog = logging.getLogger("webbcal.rscd.flagging")
    shell = ctx.shell
    skip1, skip2p, nints = step.group_skips(shell, ctx.ngroups, ctx.nints)
    exp = shell.meta.exposure
    start = int(exp.integration_start) if exp.integration_start is not None else 1
    ctx.state["pixeldq_any"] = ctx.state.get("pixeldq_any", 0) | FLUX_ESTIMATED
    # The labels the kernel uses, by integration of the file.
    labels = []
    if start == 1:
        labels.append(("int1", skip1))
    if nints > 1 and ctx.nints > (1 if start == 1 else 0):
        labels.append(("int2p", skip2p))
    for label, _ in labels:
        for part in ("lowered", "no_group", "saturated_next"):
            _counted(ctx, f"rscd_{label}_{part}")
    planes = _dnu_planes(ctx)
    if start == 1:
        planes[0, :skip1] = True
    if nints > 1:
        planes[1 if start == 1 else 0 :, :skip2p] = True
    deepest = max(skip1, skip2p)

    def apply(b):
        # The kernel walks down from group skip + 2 while some pixel of the array is
        # saturated there: on a part of the array it walks as far for every pixel
        # whose SATURATED flags stick (once set, set in every later group), which the
        # saturation step guarantees; anything else is left to the step-by-step path.
        sat = (b.groupdq[:, 1 : deepest + 2] & SATURATED) != 0
        if np.any(sat[:, :-1] & ~sat[:, 1:]):
            raise NotStreamable("SATURATED flags that do not stick across groups (rscd)")
        res = flag_rscd_groups(
            b.groupdq, b.pixeldq, skip_int1=skip1, skip_int2p=skip2p, nints_total=nints,
            first_integration=start + b.i0, pixel_masks=True,
        )  # fmt: skip
        b.groupdq, b.pixeldq = res.groupdq, res.pixeldq
        if b.count is not None:
            for label, masks in res.masks.items():
                for part, mask in zip(("lowered", "no_group", "saturated_next"), masks):
                    _or_counted(ctx, f"rscd_{label}_{part}", b, mask)

    def finish():
        meta = shell.meta.rscd
        counts = {}
        for label, skip in labels:
            lowered = int(np.count_nonzero(_counted(ctx, f"rscd_{label}_lowered")))
            any_sat = bool(_counted(ctx, f"rscd_{label}_saturated_next").any())
            no_group = _counted(ctx, f"rscd_{label}_no_group")
            counts[label] = (lowered, int(np.count_nonzero(no_group)) if any_sat else 0)
            klog.info(
                "RSCD %s: flagged %d leading group(s); lowered for saturation in %d pixel(s)",
                label, skip, lowered,
            )  # fmt: skip
        lo1, one1 = counts.get("int1", (0, 0))
        lo2, one2 = counts.get("int2p", (0, 0))
        if start == 1:
            meta.ngroups_skip_int1 = skip1
            meta.keep_groups_saturation_int1 = lo1
            meta.keep_bright_firstgroup_int1 = one1
        if nints > 1:
            meta.ngroups_skip_int2p = skip2p
            meta.keep_groups_saturation_int2p = lo2
            meta.keep_bright_firstgroup_int2p = one2

    _finish(ctx, finish)
    return apply, 0, None


def _prep_miri_dark(step, ctx):
    from ..dark_current.miri import average_miri_dark, miri_dark_dq, subtract_miri_dark
    from ..dark_current.subtract import DarkMismatchError
    from ..lib.reffiles import ReferenceFileError

    dlog = logging.getLogger("webbcal.dark_current.miri")
    path = step.get_reference_file(ctx.shell, "dark")
    logging.getLogger("webbcal.stpipe.step").info("Using DARK reference file %s", path)
    if path is None:
        raise StepSkipped("no dark reference file applies (N/A)")
    section = _ReferenceSection(path, ctx, ndim=4)
    ctx.closers.append(section.close)
    ctx.state["dark_name"] = section.name
    name = section.name
    dnints, dngroups = section.shape[:2]
    # A malformed dark is reported by the step itself (the same message as without
    # streaming): leave it to the step-by-step path.
    if dnints < 1 or dngroups < 1:
        raise NotStreamable("a MIRI dark without integrations or groups")
    if "DQ" not in section._hdul:
        raise NotStreamable("a MIRI dark without DQ")
    dq_shape = section._hdul["DQ"].shape
    if len(dq_shape) == 4 and dq_shape[0] != dnints:
        raise NotStreamable("a MIRI dark whose DQ and SCI integrations differ")
    if len(dq_shape) not in (2, 4):
        raise NotStreamable(f"a MIRI dark DQ of shape {dq_shape}")
    exp = ctx.shell.meta.exposure
    ngroups = ctx.ngroups
    nframes, groupgap = int(exp.nframes or 1), int(exp.groupgap or 0)
    dark_nframes = int(section.header.get("NFRAMES") or 1)
    dark_groupgap = int(section.header.get("GROUPGAP") or 0)
    logging.getLogger("webbcal.dark_current.step").info(
        "Science data nints=%d, ngroups=%d, nframes=%d, groupgap=%d; dark nints=%d, "
        "ngroups=%d", ctx.nints, ngroups, exp.nframes, exp.groupgap, dnints, dngroups,
    )  # fmt: skip
    if dark_nframes == nframes and dark_groupgap == groupgap:
        nplanes = ngroups
    else:
        nplanes = ngroups * nframes + (ngroups - 1) * groupgap
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
            dlog.info(
                "Science integrations %d-%d use the dark's last integration (%d)",
                dnints + 1, ctx.nints, dnints,
            )  # fmt: skip
    else:
        used = slice(dnints - 1, dnints)
    nused = used.stop - used.start
    ctx.state["ref_bytes_per_row"] = (
        ctx.state.get("ref_bytes_per_row", 0) + 8 * nused * nplanes * ctx.nx
    )
    nan_count = ctx.state.setdefault("dark_nan", [0, 0])
    cached = {}

    def dark_rows(b):
        key = (b.r0, b.r1, _cols_key(b.cols))
        if key in cached:
            return cached[key]
        cached.clear()
        cols = None if isinstance(b.cols, slice) else b.cols
        dark = section.read("SCI", b.rows, (used, slice(0, nplanes)), cols)
        if b.count is not None:
            _count_nan_rows(nan_count, dark, b)
        if len(dq_shape) == 4:
            dq = section.read_dq(b.rows, (slice(None), slice(0, 1)), cols)
        else:
            dq = section.read_dq(b.rows, None, cols)
        try:
            avg = average_miri_dark(
                dark, ngroups=ngroups, nframes=nframes, groupgap=groupgap,
                dark_nframes=dark_nframes, dark_groupgap=dark_groupgap,
            )  # fmt: skip
            pixel_dq = miri_dark_dq(dq)
        except (DarkMismatchError, ValueError) as exc:
            raise ReferenceFileError(f"{name}: {exc}") from None
        cached[key] = (avg, pixel_dq)
        return avg, pixel_dq

    def apply(b):
        avg, dq = dark_rows(b)
        n = b.data.shape[0]
        if start == 1:
            sel = np.minimum(np.arange(b.i0, b.i0 + n), nused - 1)
            b.data, b.pixeldq = subtract_miri_dark(b.data, b.pixeldq, avg[sel], dq)
        else:
            b.data, b.pixeldq = subtract_miri_dark(
                b.data, b.pixeldq, avg, dq, first_integration=start
            )

    return apply, 0, None


def _prep_miri_refpix(step, ctx):
    from ..refpix.miri import MIRI_FULL_SHAPE, subtract_reference_signals

    if step.refpix_algorithm == "sirs":
        logging.getLogger("webbcal.refpix.step").info(
            "The SIRS algorithm does not apply to MIRI data; using the MIRI correction"
        )
    if (ctx.ny, ctx.nx) != MIRI_FULL_SHAPE:
        raise StepSkipped(f"MIRI subarray {(ctx.ny, ctx.nx)} has no reference columns")
    odd_even = bool(step.odd_even_rows)
    ctx.state["miri_refpix"] = (odd_even, float(step.siglimit))

    def apply(b):
        signals = ctx.state["miri_refpix_signals"]
        n = b.data.shape[0]
        b.data = subtract_reference_signals(
            b.data, signals[b.i0 : b.i0 + n], odd_even_rows=odd_even, row0=b.r0
        )

    return apply, 0, None


def _miri_refpix_first_pass(ctx: _Context, stages: list[_Stage], all_stages) -> None:
    """The per-amplifier drifts of every group, from MIRI's reference columns.

    The steps before refpix run on the reference columns only (with as many
    neighbouring columns as the saturation growth needs; IPC leaves reference
    columns unchanged and is not run), over all rows, a few integrations at a
    time; the drifts (:func:`webbcal.refpix.miri.reference_column_signals`) of
    all integrations are kept for the blocks.
    """
    from ..dqflags import DO_NOT_USE
    from ..refpix.miri import (
        MIRI_REFERENCE_COLUMNS,
        reference_column_signals,
        unusable_reference_column,
    )

    odd_even, siglimit = ctx.state["miri_refpix"]
    nints, ngroups, ny, nx = ctx.nints, ctx.ngroups, ctx.ny, ctx.nx
    use = [s for s in stages if s.alias != "ipc"]
    # Saturation growth reaches n columns (twice that through the frame-averaging pass).
    halo = 2 * sum(s.halo for s in use)
    refcols = np.asarray(MIRI_REFERENCE_COLUMNS)
    sides = [np.arange(0, min(nx, 4 + halo)), np.arange(max(0, 1028 - halo), nx)]
    picks = [np.searchsorted(cols, refcols[4 * k : 4 * k + 4]) for k, cols in enumerate(sides)]
    ncols = sum(len(c) for c in sides)
    per_int = ngroups * ny * ncols * _BYTES_PER_SAMPLE
    chunk = int(max(1, min(nints, (64 * 2**20) // per_int)))
    npar = 2 if odd_even else 1
    signals = np.empty((nints, max(ngroups - 1, 0), 4, npar), dtype=np.float32)
    usable = None
    pixeldq = [None, None]
    for i0 in range(0, nints, chunk):
        ints = slice(i0, min(nints, i0 + chunk))
        ramp = np.empty((ints.stop - ints.start, ngroups, ny, 8), dtype=np.float32)
        for k, cols in enumerate(sides):
            blk = _read_block(ctx, 0, ny, cols, ints=ints)
            for s in use:
                s.apply(blk)
            ramp[..., 4 * k : 4 * k + 4] = blk.data[..., picks[k]]
            pixeldq[k] = _same_pixeldq(ctx, pixeldq[k], blk.pixeldq[:, picks[k]])
        if usable is None:
            usable = (np.concatenate(pixeldq, axis=1) & DO_NOT_USE) == 0
            reason = unusable_reference_column(usable, odd_even_rows=odd_even)
            if reason:
                for s in all_stages:
                    if s.alias == "refpix":
                        s.apply = None
                        s.skipped = reason
                return
        drift = ramp[:, 1:] - ramp[:, :1]  # float32, as the step computes it
        signals[ints] = reference_column_signals(
            drift, usable, odd_even_rows=odd_even, siglimit=siglimit
        )
    ctx.state["miri_refpix_signals"] = signals


def _check_section_nans(ctx: _Context, name: str, nbad: int, meaning: str | None) -> None:
    """Report NaN pixels of a reference read by sections as its step does."""
    from ..lib.reffiles import check_reference_values

    counts = np.zeros((1, ctx.ny * ctx.nx), dtype=np.float32)
    counts[0, :nbad] = np.nan
    check_reference_values(counts, name, "SCI", nan_meaning=meaning)


def _prep_jump(step, ctx):
    from ..jump._postflag import planes_all_set
    from ..jump.differences import choose_mode
    from ..jump.params import JumpParameters
    from ..jump.twopoint import detect_jumps
    from ..lib.reffiles import gain_and_readnoise

    nints, ngroups = ctx.nints, ctx.ngroups
    step.check_enough_groups(nints, ngroups)
    names = set(JumpParameters.__dataclass_fields__)
    params = JumpParameters(**{k: v for k, v in step.get_parameters().items() if k in names})
    if params.expand_large_events or params.find_showers:
        raise NotStreamable("snowball or shower flagging needs whole frames")
    gain, readnoise = _gain_readnoise(ctx, step, gain_and_readnoise)
    exp = ctx.shell.meta.exposure

    # Predicted regime: no group is DO_NOT_USE in every pixel but those steps flag
    # everywhere (MIRI's first, last and RSCD groups); checked at the end.
    predicted = np.zeros((nints, ngroups, 1, 1), dtype=np.uint8)
    predicted[_dnu_planes(ctx)] = _DNU
    mode, _ = choose_mode(predicted, params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        median_gain = float(np.nanmedian(gain))
    info = ctx.state
    info.update(mode=mode, params=params, n_jumps=0,
                all_dnu=np.ones((nints, ngroups), dtype=bool),
                all_flagged=np.ones((nints, ngroups), dtype=bool))  # fmt: skip
    halo = 1 if params.flag_4_neighbors else 0

    def apply(b, inner: slice):
        # DO_NOT_USE planes over the whole array decide the regime: accumulate them.
        planes_all_set(b.groupdq, inner, _DNU, info["all_dnu"])
        res = detect_jumps(
            b.data, b.groupdq, b.pixeldq, b.ref(gain), b.ref(readnoise),
            nframes=int(exp.nframes), frame_time=float(exp.frame_time),
            group_time=float(exp.group_time), params=params, mode=mode,
            median_gain=median_gain, clear_planes=False, count_rows=inner,
        )  # fmt: skip
        b.groupdq, b.pixeldq = res.groupdq, res.pixeldq
        info["n_jumps"] += res.n_jumps
        planes_all_set(res.groupdq, inner, _JUMP | _DNU, info["all_flagged"])

    return apply, halo, None


def _gain_readnoise(ctx, step, loader):
    if ctx.gain is None:
        ctx.gain, ctx.readnoise = (_own(a) for a in loader(step, ctx.shell, fast=True))
    return ctx.gain, ctx.readnoise


_PREPARE = {
    "group_scale": _prep_group_scale,
    "dq_init": _prep_dq_init,
    "saturation": _prep_saturation,
    "ipc": _prep_ipc,
    "superbias": _prep_superbias,
    "refpix": _prep_refpix,
    "linearity": _prep_linearity,
    "dark_current": _prep_dark_current,
    "firstframe": _prep_firstframe,
    "lastframe": _prep_lastframe,
    "reset": _prep_reset,
    "rscd": _prep_rscd,
    "jump": _prep_jump,
}


# --------------------------------------------------------------------------- references
class _ReferenceSection:
    """Rows of a large reference array read from disk on demand (the dark, MIRI's reset).

    ``ndim`` is the dimensionality SCI must have (3: planes, rows, columns; 4 for
    the MIRI references: integrations, groups, rows, columns).
    """

    def __init__(self, path: str, ctx: _Context, ndim: int = 3, what: str = "dark") -> None:
        import os

        from astropy.io import fits

        from ..lib.reffiles import ReferenceFileError

        self.path = path
        self.name = os.path.basename(path)
        try:
            self._hdul = fits.open(path, memmap=False, lazy_load_hdus=True)
        except Exception as exc:
            raise ReferenceFileError(
                f"{path}: cannot be read as a {what} reference: {exc}"
            ) from None
        try:
            self._check(ctx, ndim, what)
        except BaseException:
            self._hdul.close()  # nothing else will: the caller never gets the section
            raise

    def _check(self, ctx: _Context, ndim: int, what: str) -> None:
        """Read the header and check the reference against the science exposure."""
        from ..lib.reffiles import ReferenceFileError

        path = self.path
        try:
            self.header = self._hdul[0].header
            sci = self._hdul["SCI"]
        except Exception as exc:
            raise ReferenceFileError(
                f"{path}: cannot be read as a {what} reference: {exc}"
            ) from None
        inst = (self.header.get("INSTRUME") or "").upper()
        det = (self.header.get("DETECTOR") or "").upper()
        sci_inst = (ctx.shell.meta.instrument.name or "").upper()
        sci_det = (ctx.shell.meta.instrument.detector or "").upper()
        if inst and inst != sci_inst:
            raise ReferenceFileError(
                f"{self.name}: INSTRUME={inst!r} but the science exposure's INSTRUME is "
                f"{sci_inst!r}; expected a reference for INSTRUME={sci_inst!r}"
            )
        if det and det not in ("ANY", "N/A") and det != sci_det:
            raise ReferenceFileError(
                f"{self.name}: DETECTOR={det!r} but the science exposure's DETECTOR is "
                f"{sci_det!r}; expected a reference for DETECTOR={sci_det!r} (or ANY)"
            )
        shape = sci.shape
        if len(shape) != ndim:
            raise NotStreamable(f"a {what} reference SCI of shape {shape}")
        if 0 in shape:
            # The step reports an empty array in its own words.
            raise NotStreamable(f"an empty {what} reference SCI {shape}")
        self.shape = shape
        self.nplanes = shape[0]
        self._dq_def = None
        if "DQ_DEF" in self._hdul and self._hdul["DQ_DEF"].data is not None:
            table = self._hdul["DQ_DEF"].data
            if len(table):
                self._dq_def = [(int(r["VALUE"]), str(r["NAME"]).strip()) for r in table]
        geom = ctx.geom
        ny, nx = shape[-2:]
        if (nx, ny) == (geom.full_nx, geom.full_ny):
            x0, y0 = 1, 1
        else:
            x0 = int(self.header.get("SUBSTRT1") or 1)
            y0 = int(self.header.get("SUBSTRT2") or 1)
        self.dy = geom.ystart - y0
        self.dx = geom.xstart - x0
        if self.dy < 0 or self.dx < 0 or self.dy + geom.ysize > ny or self.dx + geom.xsize > nx:
            raise NotStreamable("a dark reference that does not cover the science subarray")
        self.xsize = geom.xsize
        self.shape2 = (geom.ysize, geom.xsize)

    def close(self) -> None:
        self._hdul.close()

    def read(self, extname: str, rows: slice, planes: Any = None, cols: Any = None) -> np.ndarray:
        """Rows (and the columns ``cols`` of a block, all by default) of an extension.

        ``planes`` selects along the leading axes of a 3-D (a slice) or 4-D (a
        tuple of two slices) array; a 2-D array has none.
        """
        hdu = self._hdul[extname]
        r = slice(rows.start + self.dy, rows.stop + self.dy)
        c = slice(self.dx, self.dx + self.xsize)
        naxis = hdu.header.get("NAXIS")
        if naxis == 2:
            lead = ()
        elif planes is None:
            lead = (slice(None),) * (naxis - 2)
        else:
            lead = planes if isinstance(planes, tuple) else (planes,)
        out = self._read_direct(hdu, lead, r)
        if out is None:
            out = np.asarray(hdu.section[(*lead, r, slice(None))])
        out = out[..., c]
        if cols is not None and not isinstance(cols, slice):
            out = out[..., np.asarray(cols)]
        return _native(out)

    def _read_direct(self, hdu, lead: tuple, r: slice) -> np.ndarray | None:
        """Whole-width rows ``r`` of the planes ``lead`` of an unscaled float32 image,
        one read per plane (astropy's section reads row by row); None otherwise."""
        import itertools

        from astropy.io import fits

        hdr = hdu.header
        info = hdu.fileinfo()
        if (
            isinstance(hdu, fits.CompImageHDU)
            or info is None
            or getattr(info.get("file"), "compression", None)
            or hdr.get("BITPIX") != -32
            or hdr.get("BSCALE", 1) != 1
            or hdr.get("BZERO", 0) != 0
            or not all(isinstance(x, slice) for x in lead)
        ):
            return None
        shape = hdu.shape
        ny, nx = shape[-2:]
        ranges = [range(*sl.indices(n)) for sl, n in zip(lead, shape[:-2])]
        nrows = len(range(*r.indices(ny)))
        out = np.empty((*(len(x) for x in ranges), nrows, nx), dtype=">f4")
        flat = out.reshape(-1, nrows, nx)
        base = info["datLoc"]
        with open(self.path, "rb") as f:
            for k, idx in enumerate(itertools.product(*ranges)):
                plane = int(np.ravel_multi_index(idx, shape[:-2])) if idx else 0
                view = memoryview(flat[k]).cast("B")
                if os.preadv(f.fileno(), [view], base + (plane * ny + r.start) * nx * 4) != len(
                    view
                ):
                    return None
        return out

    def read_dq(self, rows: slice, planes: Any = None, cols: Any = None) -> np.ndarray:
        """DQ rows as uint32 in standard JWST flags (translated through DQ_DEF, as
        stdatamodels does for reference files)."""
        from ..dqflags import PIXEL

        raw = self.read("DQ", rows, planes, cols).astype(np.uint32)
        if self._dq_def is None:
            return raw
        out = np.zeros(raw.shape, dtype=np.uint32)
        for value, name in self._dq_def:
            standard = PIXEL.get(name)
            if standard is not None:
                out[(raw & np.uint32(value)) != 0] |= np.uint32(standard)
        return out

    def average_dark_current(self, user_value: float | None) -> np.ndarray:
        if user_value is not None:
            return np.full(self.shape2, user_value, dtype=np.float32)
        if "AVDRKCUR" in self._hdul:
            arr = np.asarray(self._hdul["AVDRKCUR"].data)
            if arr.shape == self.shape2 and np.sum(arr) != 0:
                return arr.astype(np.float32)
        scalar = self.header.get("AVGDRKCR") or 0.0
        return np.full(self.shape2, scalar, dtype=np.float32)


# --------------------------------------------------------------------------- driver
def _active_stages(pipe, shell, ctx, aliases) -> list[_Stage]:
    """Prepare every ramp step as the step-by-step path would (skip rules, references)."""
    stages = []
    seen_refpix = False
    for alias in aliases:
        step = pipe.step(alias)
        if step.skip:
            continue
        log.info("Step %s running with model %s (streaming)", step.name, shell.meta.filename)
        if alias not in _PREPARE:
            raise NotStreamable(f"step {alias} is not covered by the streaming executor")
        if step.save_results:
            raise NotStreamable(f"step {alias} saves an intermediate product")
        try:
            step._resolve_references(shell)
            apply, halo, dq_or = _PREPARE[alias](step, ctx)
        except StepSkipped as why:
            stages.append(_Stage(alias, step, None, 0, not seen_refpix, skipped=str(why)))
            continue
        before = not seen_refpix and alias != "refpix"
        stages.append(_Stage(alias, step, apply, halo, before, dq_or))
        if alias == "refpix":
            seen_refpix = True
    # The reference models are no longer needed (only the arrays the stages own).
    import gc

    gc.collect()
    return stages


def _native(arr: np.ndarray) -> np.ndarray:
    """``arr`` in native byte order (the same values): FITS arrays are big-endian and
    the compiled kernels take native numbers only."""
    return arr if arr.dtype.isnative else arr.astype(arr.dtype.newbyteorder("="))


def _own(arr):
    """A reference array in native byte order that does not keep the rest of its
    model's memory alive.

    A view of a whole array is kept as it is (the model's other extensions are
    freed with the model); a cut-out (subarray) of a bigger array, or a view of
    another buffer, is copied.
    """
    if arr is None:
        return None
    if not arr.dtype.isnative:
        return _native(arr)
    root = arr
    while isinstance(root, np.ndarray) and root.base is not None:
        root = root.base
    if isinstance(root, np.ndarray) and root.nbytes == arr.nbytes:
        return arr
    return np.array(arr, copy=True)


def run_streaming(pipe, model, raw, ramp_aliases, memory_limit: int, spill_rateints=False):
    """Run the ramp steps and ramp fitting of ``pipe`` by blocks of rows.

    Parameters
    ----------
    pipe : Detector1Pipeline
        The configured pipeline (its sub-steps give parameters and references).
    model : Level1bModel
        The exposure's metadata (SCI not loaded), from
        :func:`webbcal.lib.rawio.open_lazy_ramp_input`.
    raw : webbcal.lib.rawio.RawRamp
        Where the raw ramp lies in the file.
    ramp_aliases : list of str
        The active ramp steps, in order.
    memory_limit : int
        Target peak memory in bytes; sets the number of rows per block.
    spill_rateints : bool
        Keep the per-integration results on disk (beside the products) rather
        than in memory; ``rateints`` is then a :class:`SpilledRateints`.

    Returns
    -------
    tuple
        ``(rate, rateints)`` as ramp_fit returns them, with the step statuses,
        reference keywords and jump rates recorded.

    Raises
    ------
    NotStreamable
        If the configuration needs the step-by-step path; nothing was written.
    """
    from ..datamodels import to_ramp_model
    from ..lib.reffiles import geometry_of

    nints, ngroups, ny, nx = raw.shape
    fit_step = pipe.step("ramp_fit")
    if fit_step.skip:
        raise NotStreamable("ramp_fit is skipped")
    shell = to_ramp_model(model)
    if fit_step._choose_algorithm(shell) == "LIKELY":
        raise NotStreamable("the LIKELY ramp fit")
    geom = geometry_of(shell, shape=(ny, nx))
    zf = getattr(model, "zeroframe", None)
    ctx = _Context(pipe, shell, raw, geom, nints, ngroups, ny, nx,
                   zeroframe_used=zf is not None and np.ndim(zf) == 3)  # fmt: skip
    spill = None
    if spill_rateints:
        spill = _Spill(pipe.product_path(shell, suffix="rateints"), (nints, ny, nx))
        ctx.closers.append(spill.remove_on_error)
    try:
        return _stream(pipe, ctx, ramp_aliases, fit_step, memory_limit, spill)
    finally:
        for close in ctx.closers:
            close()


def _stream(pipe, ctx: _Context, ramp_aliases, fit_step, memory_limit: int, spill):
    shell = ctx.shell
    nints, ngroups, ny = ctx.nints, ctx.ngroups, ctx.ny
    start = time.monotonic()
    stages = _active_stages(pipe, shell, ctx, ramp_aliases)
    fit = _FitPrep(fit_step, ctx, spill)
    run = [s for s in stages if s.apply is not None]
    jump = next((s for s in run if s.alias == "jump"), None)
    body = [s for s in run if s.alias != "jump"]
    halo = sum(s.halo for s in run)
    if any(s.alias == "refpix" for s in run):
        first_pass = _miri_refpix_first_pass if _is_miri(shell) else _refpix_first_pass
        first_pass(ctx, [s for s in body if s.before_refpix], stages)
    jump_halo = jump.halo if jump is not None else 0
    pre_halo = halo - jump_halo
    rows, chunk = _block_plan(ctx, memory_limit, halo, pre_halo, spill is not None)
    log.info(
        "Streaming %d steps over blocks of %d rows (%d halo rows) and %d of %d integrations "
        "of %d groups",
        len(run) + 1, rows, halo, chunk, nints, ngroups,
    )  # fmt: skip
    results = fit.allocate()
    nblocks = -(-ny // rows)
    calibrated = None
    if ny > rows and 2 * halo > _HALO_FRACTION * rows:
        calibrated = _calibrate_to_disk(pipe, ctx, body, shell, memory_limit)
    pipe._progress(1, 2, "streaming")
    for k, a in enumerate(range(0, ny, rows)):
        pipe._progress(1, 2, "streaming", done=k, nints=nblocks, unit="block")
        b = min(a + rows, ny)
        # Rows kept for jump detection (its neighbour halo), and rows read for the
        # steps before it (their own halos on top).
        k0, k1 = max(0, a - jump_halo), min(ny, b + jump_halo)
        e0, e1 = max(0, k0 - pre_halo), min(ny, k1 + pre_halo)
        if calibrated is not None:
            blk = calibrated.read_block(k0, k1)
        else:
            blk = _calibrated_block(ctx, body, e0, e1, k0, k1, chunk, slice(a, b))
        inner = slice(a - k0, b - k0)
        if jump is not None:
            jump.apply(blk, inner)
        fit.fit_block(blk, inner, a, b, results)
        del blk
    if "dark_nan" in ctx.state:
        # NaN dark pixels as the step reports them (an error when every pixel is NaN); the
        # streaming path counts the planes it uses, the step every plane of the reference.
        _check_section_nans(ctx, ctx.state["dark_name"], ctx.state["dark_nan"][0],
                            _nan_meaning("dark"))  # fmt: skip
    # Whole-array counts and meta of the steps, recorded as the steps record them.
    for finish in ctx.state.get("finish", []):
        finish()
    if jump is not None:
        _check_jump_assumptions(ctx)
    # Statuses, reference keywords and meta, as each step would record them.
    for s in stages:
        if s.apply is None:
            log.info("Step %s skipped: %s", s.step.name, s.skipped)
            s.step._set_status(shell, "SKIPPED")
        else:
            s.step._set_status(shell, "COMPLETE")
            s.step.finalize_result(shell)
    for alias in ramp_aliases:
        step = pipe.step(alias)
        if step.skip:
            step._set_status(shell, "SKIPPED")
    if ctx.average_dark is not None:
        shell.average_dark_current = ctx.average_dark
    if jump is not None:
        _record_jump_rates(ctx)
    log.info("Streamed the ramp steps in %.2f s", time.monotonic() - start)
    return fit.products(results)


def _read_block(
    ctx: _Context, r0: int, r1: int, cols: Any = None, ints: slice | None = None
) -> _Block:
    """Raw rows ``r0:r1`` (and columns ``cols``) of the integrations ``ints``."""
    ints = ints or slice(0, ctx.nints)
    ngroups = ctx.ngroups
    ncols = ctx.nx if cols is None else len(cols)
    nsel = ints.stop - ints.start
    data = np.empty((nsel, ngroups, r1 - r0, ncols), dtype=np.float32)
    for k, i in enumerate(range(ints.start, ints.stop)):
        ctx.raw.read(i, slice(r0, r1), out=data[k], cols=cols)
    gdq = np.zeros(data.shape, dtype=np.uint8)
    pdq = np.zeros((r1 - r0, ncols), dtype=np.uint32)
    zf = None
    if ctx.zeroframe_used:
        zf = np.asarray(ctx.shell.zeroframe[ints, r0:r1], dtype=np.float32)
        zf = zf.copy() if cols is None else zf[..., cols]
    blk = _Block(r0, r1, data, gdq, pdq, zf, slice(None) if cols is None else cols)
    blk.i0 = ints.start
    return blk


def _calibrated_block(
    ctx: _Context, stages, e0: int, e1: int, k0: int, k1: int, chunk: int, own: slice
):
    """Rows ``k0:k1`` of every integration after the steps before jump.

    The steps run on rows ``e0:e1`` (their halo) of ``chunk`` integrations at a time;
    ``own`` are the block's own rows (whole-array statistics are taken on them).
    """
    nints, ngroups, nx = ctx.nints, ctx.ngroups, ctx.nx
    count = slice(own.start - e0, own.stop - e0)
    if chunk >= nints and (e0, e1) == (k0, k1):
        blk = _read_block(ctx, e0, e1)
        blk.count = count
        for s in stages:
            s.apply(blk)
        return blk
    keep = slice(k0 - e0, k1 - e0)
    data = np.empty((nints, ngroups, k1 - k0, nx), dtype=np.float32)
    gdq = np.empty(data.shape, dtype=np.uint8)
    zf = np.empty((nints, k1 - k0, nx), dtype=np.float32) if ctx.zeroframe_used else None
    pixeldq = None
    for i0 in range(0, nints, chunk):
        ints = slice(i0, min(nints, i0 + chunk))
        part = _read_block(ctx, e0, e1, ints=ints)
        part.count = count
        for s in stages:
            s.apply(part)
        data[ints] = part.data[:, :, keep]
        gdq[ints] = part.groupdq[:, :, keep]
        if zf is not None:
            zf[ints] = part.zeroframe[:, keep]
        pixeldq = _same_pixeldq(ctx, pixeldq, part.pixeldq[keep])
    blk = _Block(k0, k1, data, gdq, pixeldq, zf)
    blk.i0 = 0
    return blk


def _same_pixeldq(ctx: _Context, known: np.ndarray | None, pixeldq: np.ndarray) -> np.ndarray:
    """The pixel DQ of the integrations so far (``known``, None at first), merged with
    one more chunk's.

    The steps set the pixel DQ from references, the same for every integration,
    except the flags in ``ctx.state["pixeldq_any"]`` (FLUX_ESTIMATED of MIRI's
    firstframe and rscd), which a pixel gets when any integration asks for them:
    those are OR-ed, every other flag must agree. (The steps after them within a
    chunk test only DO_NOT_USE, so a chunk's partial OR changes nothing.)
    """
    if known is None:
        return pixeldq.copy()
    any_bits = np.uint32(ctx.state.get("pixeldq_any", 0))
    if np.any((known ^ pixeldq) & ~any_bits):
        raise NotStreamable("pixel DQ differs between integrations")
    return known | pixeldq if any_bits else known


def _calibrate_to_disk(pipe, ctx: _Context, stages, shell, memory_limit: int):
    """Run the steps before jump over whole integrations, keeping the results on disk.

    Integrations are taken as many at a time as a quarter of the budget allows
    (at least one). Whole-height blocks need no halo rows, so every step runs
    exactly once per sample; jump and ramp fitting then read blocks of rows of
    every integration back from the :class:`_CalibratedRamps` returned.
    """
    nints, ngroups, ny, nx = ctx.nints, ctx.ngroups, ctx.ny, ctx.nx
    per_int = ngroups * ny * nx * _BYTES_PER_SAMPLE
    budget = max(memory_limit - _BASELINE, 0)
    chunk = int(max(1, min(nints, max(budget // 4, 32 * 2**20) // max(per_int, 1))))
    log.info(
        "Running the steps before jump over %d integration(s) at a time; their results "
        "wait on disk for jump and ramp fitting", chunk,
    )  # fmt: skip
    out = _CalibratedRamps(pipe.product_path(shell, suffix="ramp"), ctx)
    ctx.closers.append(out.close)
    pipe._progress(1, 2, "calibrating")
    for i0 in range(0, nints, chunk):
        pipe._progress(1, 2, "calibrating", done=i0, nints=nints)
        ints = slice(i0, min(nints, i0 + chunk))
        part = _read_block(ctx, 0, ny, ints=ints)
        part.count = slice(None)
        for s in stages:
            s.apply(part)
        out.write(ints, part)
    return out


class _CalibratedRamps:
    """Ramps after the steps before jump, in raw files beside the products.

    ``data`` (float32) and ``groupdq`` (uint8) are stored as (nints, ngroups, ny,
    nx) arrays, the zero frames (when used) as (nints, ny, nx); the pixel DQ,
    which the steps set identically for every integration, stays in memory.
    The files are removed when the run ends.
    """

    def __init__(self, product_path: str, ctx: _Context) -> None:
        import tempfile

        directory = os.path.dirname(os.path.abspath(product_path)) or "."
        os.makedirs(directory, exist_ok=True)
        self.dir = tempfile.mkdtemp(prefix=".tmp_webbcal_ramp_", dir=directory)
        self.ctx = ctx
        self.pixeldq = None
        self.fds = {}
        names = [("data", np.float32), ("groupdq", np.uint8)]
        if ctx.zeroframe_used:
            names.append(("zeroframe", np.float32))
        for name, dtype in names:
            path = os.path.join(self.dir, name)
            self.fds[name] = (os.open(path, os.O_RDWR | os.O_CREAT, 0o600), np.dtype(dtype))

    def _offset(self, name: str, i: int, g: int, r0: int) -> int:
        """Byte offset of row ``r0`` of group ``g`` of integration ``i`` in file ``name``."""
        ctx = self.ctx
        dtype = self.fds[name][1]
        planes = i if name == "zeroframe" else i * ctx.ngroups + g
        return ((planes * ctx.ny) + r0) * ctx.nx * dtype.itemsize

    def write(self, ints: slice, part: _Block) -> None:
        """Store the calibrated integrations ``ints`` (whole-height ``part``)."""
        self.pixeldq = _same_pixeldq(self.ctx, self.pixeldq, part.pixeldq)
        arrays = {"data": part.data, "groupdq": part.groupdq}
        if "zeroframe" in self.fds:
            arrays["zeroframe"] = part.zeroframe
        for name, arr in arrays.items():
            fd, dtype = self.fds[name]
            arr = np.ascontiguousarray(arr, dtype=dtype)
            try:
                os.pwrite(fd, arr.data, self._offset(name, ints.start, 0, 0))
            except OSError as exc:
                raise NotStreamable(
                    f"the calibrated ramps cannot be kept in {self.dir}: {exc}"
                ) from None

    def read_block(self, r0: int, r1: int) -> _Block:
        """Rows ``r0:r1`` of every integration, as the steps before jump left them."""
        ctx = self.ctx
        shape = (ctx.nints, ctx.ngroups, r1 - r0, ctx.nx)
        out = {"data": np.empty(shape, np.float32), "groupdq": np.empty(shape, np.uint8)}
        if "zeroframe" in self.fds:
            out["zeroframe"] = np.empty((ctx.nints, r1 - r0, ctx.nx), np.float32)
        for name, arr in out.items():
            fd, _ = self.fds[name]
            planes = arr.reshape(-1, r1 - r0, ctx.nx)
            for p in range(planes.shape[0]):
                i, g = (p, 0) if name == "zeroframe" else divmod(p, ctx.ngroups)
                view = memoryview(planes[p]).cast("B")
                if os.preadv(fd, [view], self._offset(name, i, g, r0)) != view.nbytes:
                    raise OSError(f"{self.dir}/{name}: short read")
        blk = _Block(r0, r1, out["data"], out["groupdq"], self.pixeldq[r0:r1].copy(),
                     out.get("zeroframe"))  # fmt: skip
        blk.i0 = 0
        return blk

    def close(self) -> None:
        import shutil

        for fd, _ in self.fds.values():
            try:
                os.close(fd)
            except OSError:
                pass
        self.fds = {}
        shutil.rmtree(self.dir, ignore_errors=True)


def _block_plan(
    ctx: _Context, memory_limit: int, halo: int, pre_halo: int, spilled: bool
) -> tuple[int, int]:
    """Rows per block and integrations per chunk of the steps before jump.

    The block (float32 data and uint8 DQ of every integration, 5 bytes a sample,
    plus about as much again in jump and ramp-fitting temporaries) may use what
    ``memory_limit`` leaves after the references and products, at most 40 % of
    the limit; between 2 and 128 rows (bigger blocks are no faster).
    """
    nints, ngroups, ny, nx = ctx.nints, ctx.ngroups, ctx.ny, ctx.nx
    # References held for the whole (sub)array and the products in memory: rate,
    # and rateints unless it is spilled to disk.
    products = 20 * (1 if spilled else nints + 1)
    fixed = _BASELINE + ny * nx * (products + 64)
    budget = max(min(memory_limit - fixed, int(memory_limit * 0.4)), 0)
    jump_halo = halo - pre_halo
    per_row = nints * ngroups * nx * 12 + ctx.state.get("ref_bytes_per_row", 0)
    rows = int(budget // max(per_row, 1)) - 2 * jump_halo
    rows = max(min(rows, _MAX_ROWS), _MIN_ROWS)
    if per_row * (rows + 2 * jump_halo) > budget:
        log.warning(
            "memory_limit of %.2f GB is below what this exposure needs (about %.2f GB); "
            "using blocks of %d rows",
            memory_limit / 2**30, (fixed + per_row * (rows + 2 * jump_halo)) / 2**30, rows,
        )  # fmt: skip
    rows = max(1, min(rows, ny))
    # The steps before jump: their (halo-extended) rows for some integrations at a time.
    per_int = ngroups * (rows + 2 * halo) * nx * _BYTES_PER_SAMPLE
    chunk_budget = max(budget // 4, 32 * 2**20) if budget > 0 else 0
    chunk = int(max(1, min(nints, chunk_budget // max(per_int, 1))))
    return rows, chunk


def _refpix_first_pass(ctx: _Context, stages: list[_Stage], all_stages) -> None:
    """Compute the reference-pixel terms of every group from the reference pixels.

    The steps before refpix are pixel-local for the reference pixels' values
    and pixel DQ (IPC leaves reference pixels unchanged), so they run here on
    the reference pixels only: whole rows where reference rows are, the
    reference columns elsewhere.
    """
    from ..dqflags import DO_NOT_USE
    from ..refpix.nir import NRS_EDGELESS_SUBARRAYS, reference_pixel_mask, refpix_terms

    shell = ctx.shell
    params = ctx.state["refpix_params"]
    sub, exp = shell.meta.subarray, shell.meta.exposure
    nints, ngroups, ny, nx = ctx.nints, ctx.ngroups, ctx.ny, ctx.nx
    use = [s for s in stages if s.alias != "ipc"]
    kw = dict(
        geometry=ctx.geom, fastaxis=int(sub.fastaxis), slowaxis=int(sub.slowaxis),
        noutputs=int(exp.noutputs or 1), params=params,
        edge_columns_as_reference=(sub.name or "").upper() in NRS_EDGELESS_SUBARRAYS,
    )  # fmt: skip
    # The pixel DQ the steps will have set; DO_NOT_USE removed, the mask is a superset.
    predicted = np.zeros((ny, nx), dtype=np.uint32)
    for s in use:
        if s.dq_or is not None:
            predicted |= s.dq_or
    mask = reference_pixel_mask(predicted & np.uint32(~DO_NOT_USE & 0xFFFFFFFF), **kw)
    yy, xx = np.nonzero(mask)
    vals = np.empty((nints, ngroups, len(yy)), dtype=np.float32)
    zvals = np.empty((nints, len(yy)), dtype=np.float32) if ctx.zeroframe_used else None
    actual = predicted.copy()
    for a, b in _reference_row_chunks(mask):
        cols = np.nonzero(mask[a:b].any(axis=0))[0]
        if cols.size == 0:
            continue
        sel = (yy >= a) & (yy < b)
        where = np.searchsorted(cols, xx[sel])
        per_int = ngroups * (b - a) * len(cols) * 8
        chunk = int(max(1, min(nints, (64 * 2**20) // per_int)))
        for i0 in range(0, nints, chunk):
            ints = slice(i0, min(nints, i0 + chunk))
            blk = _read_block(ctx, a, b, cols, ints=ints)
            for s in use:
                s.apply(blk)
            vals[ints, :, sel] = blk.data[:, :, yy[sel] - a, where]
            if zvals is not None:
                zvals[ints, sel] = blk.zeroframe[:, yy[sel] - a, where]
        actual[a:b, cols] = blk.pixeldq
        if not np.array_equal(actual[a:b, cols], predicted[a:b, cols]):
            raise NotStreamable("pixel DQ of the reference pixels differs from the prediction")
    # The terms of all groups of all integrations, as planes (i * ngroups + g), computed
    # for as many planes at a time as 64 MB of whole planes hold.
    flat = vals.reshape(nints * ngroups, -1)
    nplanes = flat.shape[0]
    chunk = min(nplanes, max(1, (64 * 2**20) // (ny * nx * 4)))
    parts = []
    # Only the reference pixels are read: one buffer, its other pixels left at zero.
    planes = np.zeros((chunk, ny, nx), dtype=np.float32)
    for p0 in range(0, nplanes, chunk):
        n = min(chunk, nplanes - p0)
        planes[:n, yy, xx] = flat[p0 : p0 + n]
        parts.append(refpix_terms(planes[:n], actual, **kw))
    del planes
    terms = _concat_terms(parts)
    zterms = None
    if zvals is not None:
        planes = np.zeros((nints, ny, nx), dtype=np.float32)
        planes[:, yy, xx] = zvals
        zterms = refpix_terms(planes, actual, **kw)
    if terms.status != "COMPLETE":
        for s in all_stages:
            if s.alias == "refpix":
                s.apply = None
                s.skipped = terms.reason
    ctx.refpix_terms = (terms, zterms)


def _reference_row_chunks(mask: np.ndarray, max_rows: int = 64) -> list[tuple[int, int]]:
    """Row ranges of at most ``max_rows`` rows whose reference pixels are alike.

    Rows that are mostly reference pixels (reference rows) and rows with only a few
    (the side columns) go to separate ranges, so that the side-column rows are read
    and calibrated for their reference columns alone.
    """
    wide = mask.sum(axis=1) > mask.shape[1] // 2
    chunks = []
    a = 0
    while a < mask.shape[0]:
        b = a + 1
        while b < mask.shape[0] and b - a < max_rows and wide[b] == wide[a]:
            b += 1
        chunks.append((a, b))
        a = b
    return chunks


def _concat_terms(parts):
    from dataclasses import replace

    first = parts[0]
    if len(parts) == 1 or first.status != "COMPLETE":
        return first
    cat = lambda name: (  # noqa: E731
        None
        if getattr(first, name) is None
        else np.concatenate([getattr(p, name) for p in parts], axis=0)
    )
    return replace(first, first=cat("first"), second=cat("second"))


def _nan_meaning(reftype: str) -> str:
    from ..lib.reffiles import NAN_MEANING

    return NAN_MEANING[reftype]


def _check_jump_assumptions(ctx: _Context) -> None:
    from ..jump.differences import choose_mode

    info = ctx.state
    gdq = np.where(info["all_dnu"], _DNU, np.uint8(0)).astype(np.uint8)[:, :, None, None]
    mode, _ = choose_mode(gdq, info["params"])
    if mode != info["mode"]:
        raise NotStreamable(
            f"jump detection regime {mode!r} (groups DO_NOT_USE everywhere) differs from the "
            f"predicted {info['mode']!r}"
        )
    if mode == "sigma_clip" and info["all_flagged"].any():
        raise NotStreamable("sigma clipping flagged a whole group, which must be un-flagged")


def _record_jump_rates(ctx: _Context) -> None:
    from ..jump.step import record_jump_rates

    info = ctx.state
    npix = ctx.geom.xsize * ctx.geom.ysize
    record_jump_rates(ctx.shell.meta.exposure, info["all_dnu"], npix, info["n_jumps"], 0)


_INT_ARRAYS = {
    "slope_ints": ("data", np.float32),
    "dq_ints": ("dq", np.uint32),
    "err_ints": ("err", np.float32),
    "var_poisson_ints": ("var_poisson", np.float32),
    "var_rnoise_ints": ("var_rnoise", np.float32),
}


class _Spill:
    """Per-integration results kept in raw files beside the products until they are written."""

    def __init__(self, product_path: str, shape: tuple[int, int, int]) -> None:
        import tempfile

        directory = os.path.dirname(os.path.abspath(product_path)) or "."
        os.makedirs(directory, exist_ok=True)
        self.dir = tempfile.mkdtemp(prefix=".tmp_webbcal_spill_", dir=directory)
        self.shape = shape
        self.files = {}
        for name, (_, dtype) in _INT_ARRAYS.items():
            path = os.path.join(self.dir, name)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            os.ftruncate(fd, int(np.prod(shape)) * np.dtype(dtype).itemsize)
            self.files[name] = (fd, np.dtype(dtype))
        self.committed = False

    def write_rows(self, name: str, r0: int, values: np.ndarray) -> None:
        """Rows ``r0:r0 + values.shape[1]`` of every integration."""
        fd, dtype = self.files[name]
        nints, ny, nx = self.shape
        values = np.ascontiguousarray(values, dtype=dtype)
        for i in range(nints):
            offset = ((i * ny) + r0) * nx * dtype.itemsize
            os.pwrite(fd, values[i].data, offset)

    def read_int(self, name: str, i: int) -> np.ndarray:
        fd, dtype = self.files[name]
        _, ny, nx = self.shape
        nbytes = ny * nx * dtype.itemsize
        buf = os.pread(fd, nbytes, i * nbytes)
        return np.frombuffer(buf, dtype=dtype).reshape(ny, nx)

    def remove_on_error(self) -> None:
        if not self.committed:
            self.close()

    def close(self) -> None:
        import shutil

        for fd, _ in self.files.values():
            try:
                os.close(fd)
            except OSError:
                pass
        self.files = {}
        shutil.rmtree(self.dir, ignore_errors=True)


class SpilledRateints:
    """The ``_rateints`` product of a streamed run whose arrays wait on disk.

    Attributes
    ----------
    template : CubeModel
        Metadata, INT_TIMES and placeholder arrays of shape (1, ny, nx).
    """

    def __init__(self, template, spill: _Spill) -> None:
        self.template = template
        self.spill = spill
        spill.committed = True  # the pipeline writes or removes it from here on

    def write_product(self, template, path: str) -> str:
        """Write the product at ``path`` from the spilled arrays (after gain_scale on
        ``template``: a gain factor it applied is applied to every integration)."""
        from ..gain_scale.scale import scale_by_gain_factor
        from ..lib.fitsstream import StreamedProduct

        nints, ny, nx = self.spill.shape
        factor = None
        if getattr(template.meta.cal_step, "gain_scale", None) == "COMPLETE":
            factor = template.meta.exposure.gain_factor
        shapes = {attr: (nints, ny, nx) for attr, _ in _INT_ARRAYS.values()}
        with StreamedProduct(template, path, shapes) as out:
            for i in range(nints):
                planes = {
                    attr: self.spill.read_int(name, i) for name, (attr, _) in _INT_ARRAYS.items()
                }
                if factor is not None:
                    sci, err, vp, vr = scale_by_gain_factor(
                        planes["data"][None], planes["err"][None], planes["var_poisson"][None],
                        planes["var_rnoise"][None], gain_factor=factor,
                    )  # fmt: skip
                    planes.update(data=sci[0], err=err[0], var_poisson=vp[0], var_rnoise=vr[0])
                for attr, plane in planes.items():
                    out.write(attr, (i,), plane)
            out.commit()
        return path

    def close(self) -> None:
        self.spill.close()


class _FitPrep:
    """Ramp fitting of blocks into whole-array products."""

    def __init__(self, step, ctx: _Context, spill: _Spill | None = None) -> None:
        from ..lib.reffiles import gain_and_readnoise

        self.step = step
        self.ctx = ctx
        self.spill = spill
        step._resolve_references(ctx.shell)
        self.gain, self.readnoise = _gain_readnoise(ctx, step, gain_and_readnoise)

    def allocate(self) -> dict:
        nints, ny, nx = self.ctx.nints, self.ctx.ny, self.ctx.nx
        out = {}
        for name in ("slope", "var_poisson", "var_rnoise", "err"):
            out[name] = np.empty((ny, nx), dtype=np.float32)
        out["dq"] = np.empty((ny, nx), dtype=np.uint32)
        for name, (_, dtype) in _INT_ARRAYS.items():
            shape = (1, ny, nx) if self.spill is not None else (nints, ny, nx)
            out[name] = np.zeros(shape, dtype=dtype)
        return out

    def fit_block(self, blk: _Block, inner: slice, a: int, b: int, out: dict) -> None:
        ctx = self.ctx
        zf = None if blk.zeroframe is None else blk.zeroframe[:, inner]
        dark = None if ctx.average_dark is None else ctx.average_dark[a:b]
        fit = self.step.fit_ols(
            blk.data[:, :, inner], blk.groupdq[:, :, inner], blk.pixeldq[inner],
            self.readnoise[a:b], self.gain[a:b], ctx.shell.meta.exposure,
            zeroframe=zf, average_dark_current=dark,
        )  # fmt: skip
        for name in ("slope", "var_poisson", "var_rnoise", "err", "dq"):
            out[name][a:b] = getattr(fit, name)
        for name in _INT_ARRAYS:
            if self.spill is not None:
                self.spill.write_rows(name, a, getattr(fit, name))
            else:
                out[name][:, a:b] = getattr(fit, name)

    def products(self, out: dict):
        from ..ramp_fitting.ols import RampFitResult

        step, shell = self.step, self.ctx.shell
        rate, rateints = step._make_products(shell, RampFitResult(**out))
        for product in (rate, rateints):
            step._set_status(product, "COMPLETE")
            step.finalize_result(product)
        if self.spill is not None:
            rateints = SpilledRateints(rateints, self.spill)
        return rate, rateints
