"""Streaming execution of calwebb_detector1: blocks of rows across all integrations.

When no intermediate product is requested, the ramp steps run fused over
blocks of rows of the raw ramp, read straight from the ``_uncal`` file,
with every integration of those rows in memory at once (ramp fitting and
jump detection use statistics over the integrations of a pixel). Nothing
the size of the whole ramp is ever allocated: peak memory is bounded by
``memory_limit`` plus the products and references, and does not grow with
the number of groups.

The driver knows no step by name. Each ramp step returns its
:class:`~webbcal.stpipe.blocks.BlockStage` from ``step.block_stage(ctx)``
(halo rows, pixel DQ it sets from references, whether it needs every
integration of its rows, a first pass over reference pixels, whole-array
totals recorded at the end); the stages before the first that needs every
integration run on chunks of integrations of a block with its halo rows, the
rest on the whole block, then ramp fitting on the block's own rows.

Exactness with the step-by-step path is by construction: every step runs
the same kernel on a block of rows as on the whole array (each step's
``process()`` runs the very same stage on one block, the whole array). The
few whole-frame dependencies the stages handle:

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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..stpipe import StepSkipped
from ..stpipe.blocks import Block, BlockStage, NotStreamable, StreamContext, Upstream

__all__ = ["NotStreamable", "SpilledRateints", "parse_memory", "run_streaming"]

log = logging.getLogger(__name__)

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


# --------------------------------------------------------------------------- stages
@dataclass
class _Stage:
    """A step of the run and its block stage (None when the step is skipped)."""

    step: Any
    stage: BlockStage | None
    skipped: str = ""

    @property
    def active(self) -> bool:
        return self.stage is not None and not self.stage.skipped


def _set_status(step, model, status: str) -> None:
    if step.cal_step_name:
        setattr(model.meta.cal_step, step.cal_step_name, status)


def _prepare_stages(ctx: StreamContext, steps) -> list[_Stage]:
    """Each active ramp step's block stage, prepared as the step would run
    (skip rules, references, parameters)."""
    stages = []
    for step in steps:
        if step.skip:
            continue
        log.info("Step %s running with model %s (streaming)", step.name, ctx.model.meta.filename)
        if not hasattr(step, "block_stage"):
            raise NotStreamable(f"step {step.name} is not covered by the streaming executor")
        if step.save_results:
            raise NotStreamable(f"step {step.name} saves an intermediate product")
        try:
            step.resolve_references(ctx.model)
            stage = step.block_stage(ctx)
        except StepSkipped as why:
            stages.append(_Stage(step, None, str(why)))
            continue
        stages.append(_Stage(step, stage))
    # The reference models are no longer needed (only the arrays the stages own).
    import gc

    gc.collect()
    return stages


def run_streaming(
    pipe, model, raw, steps, fit_step, memory_limit: int, spill_rateints: bool = False,
    progress: Callable[..., None] | None = None,
):  # fmt: skip
    """Run the ramp steps and ramp fitting of ``pipe`` by blocks of rows.

    Parameters
    ----------
    pipe : Detector1Pipeline
        The pipeline (``product_path`` names the files kept beside the products).
    model : Level1bModel
        The exposure's metadata (SCI not loaded), from
        :func:`webbcal.lib.rawio.open_lazy_ramp_input`.
    raw : webbcal.lib.rawio.RawRamp
        Where the raw ramp lies in the file.
    steps : list of Step
        The ramp steps, in order (those with ``skip`` are recorded as skipped);
        each that runs must offer ``block_stage``.
    fit_step : RampFitStep
        Ramp fitting (``choose_algorithm``, ``fit_ols``, ``make_products``).
    memory_limit : int
        Target peak memory in bytes; sets the number of rows per block.
    spill_rateints : bool
        Keep the per-integration results on disk (beside the products) rather
        than in memory; ``rateints`` is then a :class:`SpilledRateints`.
    progress : callable, optional
        ``progress(what, done=None, nints=None, unit="integration")`` is told
        how far the run is (``what``: "calibrating" or "streaming").

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
    if fit_step.skip:
        raise NotStreamable("ramp_fit is skipped")
    shell = to_ramp_model(model)
    if fit_step.choose_algorithm(shell) == "LIKELY":
        raise NotStreamable("the LIKELY ramp fit")
    geom = geometry_of(shell, shape=(ny, nx))
    zf = getattr(model, "zeroframe", None)
    used = zf is not None and np.ndim(zf) == 3
    ctx = StreamContext(shell, geom, nints, ngroups, ny, nx, zeroframe_used=used, streaming=True)
    src = _Source(ctx, raw)
    spill = None
    if spill_rateints:
        spill = _Spill(pipe.product_path(shell, suffix="rateints"), (nints, ny, nx))
        ctx.on_close(spill.remove_on_error)
    try:
        return _stream(pipe, ctx, src, steps, fit_step, memory_limit, spill,
                       progress or (lambda *a, **k: None))  # fmt: skip
    finally:
        ctx.close()


def _stream(pipe, ctx: StreamContext, src, steps, fit_step, memory_limit: int, spill, progress):
    shell = ctx.model
    nints, ngroups, ny = ctx.nints, ctx.ngroups, ctx.ny
    start = time.monotonic()
    stages = _prepare_stages(ctx, steps)
    fit = _FitPrep(fit_step, ctx, spill)
    # A first pass (refpix) sees the steps before it, calibrated on reference pixels.
    for k, s in enumerate(stages):
        if s.stage is not None and s.stage.first_pass is not None:
            before = [t.stage for t in stages[:k] if t.active and t.stage.on_reference_pixels]
            reason = s.stage.first_pass(_upstream(ctx, src, before))
            if reason:
                s.stage.skipped = reason
    run = [s.stage for s in stages if s.active]
    split = next((k for k, st in enumerate(run) if st.all_integrations), len(run))
    body, whole = run[:split], run[split:]
    pre_halo = sum(st.halo for st in body)
    post_halo = sum(st.halo for st in whole)
    halo = pre_halo + post_halo
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
        calibrated = _calibrate_to_disk(pipe, ctx, src, body, memory_limit, progress)
    progress("streaming")
    for k, a in enumerate(range(0, ny, rows)):
        progress("streaming", done=k, nints=nblocks, unit="block")
        b = min(a + rows, ny)
        # Rows kept for the stages on whole blocks (their halo), and rows read for the
        # steps before them (their own halos on top).
        k0, k1 = max(0, a - post_halo), min(ny, b + post_halo)
        e0, e1 = max(0, k0 - pre_halo), min(ny, k1 + pre_halo)
        if calibrated is not None:
            blk = calibrated.read_block(k0, k1)
        else:
            blk = _calibrated_block(ctx, src, body, e0, e1, k0, k1, chunk, slice(a, b))
        inner = slice(a - k0, b - k0)
        blk.count = inner
        for st in whole:
            st.apply(blk)
        fit.fit_block(blk, inner, a, b, results)
        del blk
    # Whole-array counts, checks and meta of the steps, recorded as the steps record them.
    for st in run:
        if st.finish is not None:
            st.finish()
    # Statuses, reference keywords and meta, as each step would record them.
    for s in stages:
        if not s.active:
            log.info("Step %s skipped: %s", s.step.name, s.skipped or s.stage.skipped)
            _set_status(s.step, shell, "SKIPPED")
        else:
            _set_status(s.step, shell, "COMPLETE")
            s.step.finalize_result(shell)
    for step in steps:
        if step.skip:
            _set_status(step, shell, "SKIPPED")
    if ctx.average_dark is not None:
        shell.average_dark_current = ctx.average_dark
    log.info("Streamed the ramp steps in %.2f s", time.monotonic() - start)
    return fit.products(results)


# --------------------------------------------------------------------------- reading
class _Source:
    """Raw rows of the exposure as blocks (SCI from the file, zero frames from the model)."""

    def __init__(self, ctx: StreamContext, raw) -> None:
        self.ctx = ctx
        self.raw = raw

    def read(self, r0: int, r1: int, cols: Any = None, ints: slice | None = None) -> Block:
        """Raw rows ``r0:r1`` (and columns ``cols``) of the integrations ``ints``."""
        ctx = self.ctx
        ints = ints or slice(0, ctx.nints)
        ncols = ctx.nx if cols is None else len(cols)
        nsel = ints.stop - ints.start
        data = np.empty((nsel, ctx.ngroups, r1 - r0, ncols), dtype=np.float32)
        for k, i in enumerate(range(ints.start, ints.stop)):
            self.raw.read(i, slice(r0, r1), out=data[k], cols=cols)
        gdq = np.zeros(data.shape, dtype=np.uint8)
        pdq = np.zeros((r1 - r0, ncols), dtype=np.uint32)
        zf = None
        if ctx.zeroframe_used:
            zf = np.asarray(ctx.model.zeroframe[ints, r0:r1], dtype=np.float32)
            zf = zf.copy() if cols is None else zf[..., cols]
        blk = Block(r0, r1, data, gdq, pdq, zf, slice(None) if cols is None else cols)
        blk.i0 = ints.start
        return blk


def _upstream(ctx: StreamContext, src: _Source, before: list[BlockStage]) -> Upstream:
    predicted = np.zeros((ctx.ny, ctx.nx), dtype=np.uint32)
    for st in before:
        if st.dq_or is not None:
            predicted |= st.dq_or

    def read(r0, r1, cols=None, ints=None):
        blk = src.read(r0, r1, cols, ints)
        for st in before:
            st.apply(blk)
        return blk

    return Upstream(
        read=read,
        predicted_pixeldq=predicted,
        halo=sum(st.halo for st in before),
        merge_pixeldq=lambda known, new: _same_pixeldq(ctx, known, new),
    )


def _calibrated_block(
    ctx: StreamContext, src: _Source, stages, e0: int, e1: int, k0: int, k1: int, chunk: int,
    own: slice,
):  # fmt: skip
    """Rows ``k0:k1`` of every integration after the stages before the whole-block ones.

    The stages run on rows ``e0:e1`` (their halo) of ``chunk`` integrations at a time;
    ``own`` are the block's own rows (whole-array statistics are taken on them).
    """
    nints, ngroups, nx = ctx.nints, ctx.ngroups, ctx.nx
    count = slice(own.start - e0, own.stop - e0)
    if chunk >= nints and (e0, e1) == (k0, k1):
        blk = src.read(e0, e1)
        blk.count = count
        for st in stages:
            st.apply(blk)
        return blk
    keep = slice(k0 - e0, k1 - e0)
    data = np.empty((nints, ngroups, k1 - k0, nx), dtype=np.float32)
    gdq = np.empty(data.shape, dtype=np.uint8)
    zf = np.empty((nints, k1 - k0, nx), dtype=np.float32) if ctx.zeroframe_used else None
    pixeldq = None
    for i0 in range(0, nints, chunk):
        ints = slice(i0, min(nints, i0 + chunk))
        part = src.read(e0, e1, ints=ints)
        part.count = count
        for st in stages:
            st.apply(part)
        data[ints] = part.data[:, :, keep]
        gdq[ints] = part.groupdq[:, :, keep]
        if zf is not None:
            zf[ints] = part.zeroframe[:, keep]
        pixeldq = _same_pixeldq(ctx, pixeldq, part.pixeldq[keep])
    return Block(k0, k1, data, gdq, pixeldq, zf)


def _same_pixeldq(ctx: StreamContext, known: np.ndarray | None, pixeldq: np.ndarray) -> np.ndarray:
    """The pixel DQ of the integrations so far (``known``, None at first), merged with
    one more chunk's.

    The steps set the pixel DQ from references, the same for every integration,
    except the flags in ``ctx.any_integration_flags`` (FLUX_ESTIMATED of MIRI's
    firstframe and rscd), which a pixel gets when any integration asks for them:
    those are OR-ed, every other flag must agree. (The steps after them within a
    chunk test only DO_NOT_USE, so a chunk's partial OR changes nothing.)
    """
    if known is None:
        return pixeldq.copy()
    any_bits = np.uint32(ctx.any_integration_flags)
    if np.any((known ^ pixeldq) & ~any_bits):
        raise NotStreamable("pixel DQ differs between integrations")
    return known | pixeldq if any_bits else known


def _calibrate_to_disk(pipe, ctx: StreamContext, src: _Source, stages, memory_limit: int, progress):
    """Run the stages before the whole-block ones over whole integrations, keeping the
    results on disk.

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
    out = _CalibratedRamps(pipe.product_path(ctx.model, suffix="ramp"), ctx)
    ctx.on_close(out.close)
    progress("calibrating")
    for i0 in range(0, nints, chunk):
        progress("calibrating", done=i0, nints=nints)
        ints = slice(i0, min(nints, i0 + chunk))
        part = src.read(0, ny, ints=ints)
        part.count = slice(None)
        for st in stages:
            st.apply(part)
        out.write(ints, part)
    return out


class _CalibratedRamps:
    """Ramps after the steps before jump, in raw files beside the products.

    ``data`` (float32) and ``groupdq`` (uint8) are stored as (nints, ngroups, ny,
    nx) arrays, the zero frames (when used) as (nints, ny, nx); the pixel DQ,
    which the steps set identically for every integration, stays in memory.
    The files are removed when the run ends.
    """

    def __init__(self, product_path: str, ctx: StreamContext) -> None:
        from ..lib.spill import make_spill_dir

        directory = os.path.dirname(os.path.abspath(product_path)) or "."
        os.makedirs(directory, exist_ok=True)
        self.dir = make_spill_dir(directory, "ramp")
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

    def write(self, ints: slice, part: Block) -> None:
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

    def read_block(self, r0: int, r1: int) -> Block:
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
        blk = Block(r0, r1, out["data"], out["groupdq"], self.pixeldq[r0:r1].copy(),
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
    ctx: StreamContext, memory_limit: int, halo: int, pre_halo: int, spilled: bool
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
    per_row = nints * ngroups * nx * 12 + ctx.ref_bytes_per_row
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
        from ..lib.spill import make_spill_dir

        directory = os.path.dirname(os.path.abspath(product_path)) or "."
        os.makedirs(directory, exist_ok=True)
        self.dir = make_spill_dir(directory, "spill")
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
        Metadata, INT_TIMES and placeholder arrays of shape (1, 1, 1).
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

    def __init__(self, step, ctx: StreamContext, spill: _Spill | None = None) -> None:
        self.step = step
        self.ctx = ctx
        self.spill = spill
        step.resolve_references(ctx.model)
        self.gain, self.readnoise = ctx.gain_readnoise(step)

    def allocate(self) -> dict:
        nints, ny, nx = self.ctx.nints, self.ctx.ny, self.ctx.nx
        out = {}
        for name in ("slope", "var_poisson", "var_rnoise", "err"):
            out[name] = np.empty((ny, nx), dtype=np.float32)
        out["dq"] = np.empty((ny, nx), dtype=np.uint32)
        for name, (_, dtype) in _INT_ARRAYS.items():
            # Spilled: placeholders of the template product (its arrays are written from
            # disk at their full shape), one element each rather than a whole frame,
            # which the product writer would copy and encode for nothing.
            shape = (1, 1, 1) if self.spill is not None else (nints, ny, nx)
            out[name] = np.zeros(shape, dtype=dtype)
        return out

    def fit_block(self, blk: Block, inner: slice, a: int, b: int, out: dict) -> None:
        ctx = self.ctx
        zf = None if blk.zeroframe is None else blk.zeroframe[:, inner]
        dark = None if ctx.average_dark is None else ctx.average_dark[a:b]
        fit = self.step.fit_ols(
            blk.data[:, :, inner], blk.groupdq[:, :, inner], blk.pixeldq[inner],
            self.readnoise[a:b], self.gain[a:b], ctx.model.meta.exposure,
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

        step, shell = self.step, self.ctx.model
        rate, rateints = step.make_products(shell, RampFitResult(**out))
        for product in (rate, rateints):
            _set_status(step, product, "COMPLETE")
            step.finalize_result(product)
        if self.spill is not None:
            rateints = SpilledRateints(rateints, self.spill)
        return rate, rateints
