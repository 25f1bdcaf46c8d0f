"""A step's work on a block of rows: one definition for the whole array and for streaming.

A ramp step that can stream returns a :class:`BlockStage` from its public
``block_stage(ctx)`` method: what it needs (halo rows, reference sections it
reads itself, whole-frame statistics gathered in a first pass, every
integration of its rows at once) and what it does to a :class:`Block` (rows
``r0:r1`` of some integrations, plus halo rows). The step's own ``process()``
runs the same stage on one block that is the whole array
(:func:`run_block_stage`); the streaming driver
(:mod:`webbcal.pipeline.streaming`) runs it block by block and knows no step
by name.

References
----------
``docs/streaming-design.md``; ``docs/architecture.md`` ("A step is written once").
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

__all__ = [
    "Block",
    "BlockStage",
    "NotStreamable",
    "RowCache",
    "StreamContext",
    "Streamable",
    "Upstream",
    "run_block_stage",
]

log = logging.getLogger(__name__)


class NotStreamable(Exception):
    """The configuration or data need the step-by-step path (the message says why)."""


@dataclass
class Block:
    """Rows ``r0:r1`` of the (sub)array for some integrations and every group.

    Attributes
    ----------
    r0, r1 : int
        Rows of the (sub)array held, halo rows included.
    data : ndarray, shape (nints, ngroups, nrows, ncols), float32, DN
    groupdq : ndarray, shape (nints, ngroups, nrows, ncols), uint8
    pixeldq : ndarray, shape (nrows, ncols), uint32
        (``groupdq`` and ``pixeldq`` are None only for a whole model without them.)
    zeroframe : ndarray, shape (nints, nrows, ncols), float32, or None
    cols : slice or ndarray of int
        Columns held: all, or the reference columns gathered in a first pass.
    i0 : int
        Index in the exposure of the block's first integration.
    count : slice or None
        Rows (of this block) whose whole-array statistics the stages accumulate:
        rows whose results are final, each counted in exactly one block; None
        (a first pass over reference pixels) for none.
    """

    r0: int
    r1: int
    data: np.ndarray
    groupdq: np.ndarray
    pixeldq: np.ndarray
    zeroframe: np.ndarray | None
    cols: Any = field(default_factory=lambda: slice(None))
    i0: int = 0
    count: slice | None = None

    @property
    def rows(self) -> slice:
        """Rows ``r0:r1`` as a slice."""
        return slice(self.r0, self.r1)

    def ref(self, arr: np.ndarray) -> np.ndarray:
        """Rows (and columns) of a (..., ny, nx) reference array matching this block."""
        out = arr[..., self.r0 : self.r1, :]
        return out if isinstance(self.cols, slice) else out[..., self.cols]

    def counted_rows(self) -> np.ndarray:
        """Indices in the (sub)array of the rows this block counts (empty for none)."""
        if self.count is None:
            return np.arange(0)
        return np.arange(self.r0, self.r1)[self.count]


@dataclass
class StreamContext:
    """What the stages of one exposure share (typed; one per run).

    Attributes
    ----------
    model : RampModel
        The exposure's metadata (its arrays may be absent while streaming).
    geometry : SubarrayGeometry
        Where the science (sub)array lies on the detector.
    nints, ngroups, ny, nx : int
        Shape of the ramp.
    zeroframe_used : bool
        Whether blocks carry zero frames (a 3-D ZEROFRAME exists).
    streaming : bool
        Whether the stages run block by block (False: one block, the whole ramp).
    dnu_groups : ndarray, shape (nints, ngroups), bool
        Groups that the stages built so far flag DO_NOT_USE in every pixel
        (known in advance: MIRI's first, last and RSCD groups).
    any_integration_flags : int
        Pixel-DQ flags a pixel gets when any integration asks for them (OR-ed
        over integration chunks); every other pixel flag must agree.
    ref_bytes_per_row : int
        Bytes per row of the reference sections stages read with each block
        (the block plan makes room for them).
    average_dark : ndarray, shape (ny, nx), float32, or None
        Average dark current (e-/s) a dark stage provides for ramp fitting.
    gain, readnoise : ndarray, shape (ny, nx), float32, or None
        GAIN and READNOISE arrays, read once for the stages and ramp fitting.
    """

    model: Any
    geometry: Any
    nints: int
    ngroups: int
    ny: int
    nx: int
    zeroframe_used: bool
    streaming: bool = False
    dnu_groups: np.ndarray = field(default=None)  # type: ignore[assignment]
    any_integration_flags: int = 0
    ref_bytes_per_row: int = 0
    average_dark: np.ndarray | None = None
    gain: np.ndarray | None = None
    readnoise: np.ndarray | None = None
    _closers: list[Callable[[], None]] = field(default_factory=list, repr=False)
    _shared: dict[Any, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.dnu_groups is None:
            self.dnu_groups = np.zeros((self.nints, self.ngroups), dtype=bool)

    @classmethod
    def of_model(cls, model: Any) -> StreamContext:
        """The context of a whole ramp held in memory (a step run on its own)."""
        from ..lib.reffiles import geometry_of, zeroframe_of

        nints, ngroups, ny, nx = np.shape(model.data)
        zf = zeroframe_of(model, require_keyword=False)
        return cls(model, geometry_of(model), nints, ngroups, ny, nx, zf is not None)

    def uses_zeroframe(self) -> bool:
        """Whether saturation, superbias and linearity correct the zero frames
        (ZEROFRAM is true and the ramp has them), as the official steps decide."""
        return bool(self.model.meta.exposure.zero_frame) and self.zeroframe_used

    def on_close(self, fn: Callable[[], None]) -> None:
        """Call ``fn`` when the run ends (open reference sections, temporary files)."""
        self._closers.append(fn)

    def close(self) -> None:
        """Call every function registered with :meth:`on_close`, newest last."""
        closers, self._closers = self._closers, []
        for fn in closers:
            fn()

    def shared(self, key: Any, make: Callable[[], Any]) -> Any:
        """A value computed once per run and shared by stages (``make()`` the first time)."""
        if key not in self._shared:
            self._shared[key] = make()
        return self._shared[key]

    def pixel_mask(self) -> np.ndarray:
        """A new whole-array (ny, nx) bool mask that a stage ORs its counted rows into."""
        return np.zeros((self.ny, self.nx), dtype=bool)

    def gain_readnoise(self, step: Any) -> tuple[np.ndarray, np.ndarray]:
        """GAIN and READNOISE (read once per run, through ``step``'s references)."""
        from ..lib.reffiles import gain_and_readnoise

        if self.gain is None:
            gain, readnoise = gain_and_readnoise(step, self.model, fast=True)
            self.gain, self.readnoise = own_array(gain), own_array(readnoise)
        return self.gain, self.readnoise


@dataclass
class BlockStage:
    """A step's work on blocks of rows.

    Attributes
    ----------
    apply : callable
        ``apply(block)`` runs the step's kernel on the block (in place: the
        block's arrays are replaced by the kernel's new ones).
    halo : int
        Rows above and below a block the result of its own rows depends on.
    dq_or : ndarray, shape (ny, nx), uint32, or None
        Flags the stage ORs into the pixel DQ (from references), used to
        predict the pixel DQ of reference pixels before a first pass.
    all_integrations : bool
        The stage needs every integration of its rows at once (jump); it and
        the stages after it run on whole blocks, after the integration chunks.
    on_reference_pixels : bool
        False for a stage that leaves reference pixels unchanged (IPC): first
        passes over reference pixels do not run it.
    first_pass : callable or None
        ``first_pass(upstream)`` computes whole-frame statistics from the
        reference pixels (:class:`Upstream` gives them calibrated by the
        stages before); returns a reason to skip the step, or None.
    finish : callable or None
        Called after the last block: whole-array counts, metadata, log totals.
        May raise :class:`NotStreamable` when a predicted condition failed.
    skipped : str
        Why the step is skipped (set by a first pass); empty when it runs.
    """

    apply: Callable[[Block], None]
    halo: int = 0
    dq_or: np.ndarray | None = None
    all_integrations: bool = False
    on_reference_pixels: bool = True
    first_pass: Callable[[Upstream], str | None] | None = None
    finish: Callable[[], None] | None = None
    skipped: str = ""


@dataclass
class Upstream:
    """The reference pixels of the exposure, as the stages before a first pass leave them.

    Attributes
    ----------
    read : callable
        ``read(r0, r1, cols, ints)`` returns the :class:`Block` of rows
        ``r0:r1``, columns ``cols`` (None for all) and integrations ``ints`` (a
        slice, None for all), calibrated by the stages before (those with
        ``on_reference_pixels``).
    predicted_pixeldq : ndarray, shape (ny, nx), uint32
        The pixel DQ those stages will set (OR of their ``dq_or``).
    halo : int
        Sum of their halos (columns a first pass over side columns adds).
    merge_pixeldq : callable
        ``merge_pixeldq(known, new)``: the pixel DQ of integration chunks so far
        merged with one more chunk's (see the driver).
    """

    read: Callable[..., Block]
    predicted_pixeldq: np.ndarray
    halo: int
    merge_pixeldq: Callable[[np.ndarray | None, np.ndarray], np.ndarray]


class RowCache:
    """The reference rows of the last block read, shared by its integration chunks.

    ``read(block)`` is called again only when the block's rows or columns change.
    """

    def __init__(self, read: Callable[[Block], Any]) -> None:
        self._read = read
        self._key: Any = None
        self._value: Any = None

    def get(self, block: Block) -> Any:
        """``read(block)``, or the value kept for the same rows and columns."""
        cols = block.cols
        ckey = None if isinstance(cols, slice) else (int(cols[0]), int(cols[-1]), len(cols))
        key = (block.r0, block.r1, ckey)
        if key != self._key:
            self._key, self._value = None, None  # free the old rows first
            self._value = self._read(block)
            self._key = key
        return self._value


class Streamable(Protocol):
    """A step that describes its work on blocks of rows."""

    def block_stage(self, ctx: StreamContext) -> BlockStage:
        """The step's :class:`BlockStage` for the exposure of ``ctx``.

        Raises
        ------
        StepSkipped
            If the step does not apply (the same reasons as ``process``).
        NotStreamable
            If the configuration needs whole arrays.
        """


def own_array(arr: np.ndarray | None) -> np.ndarray | None:
    """A reference array in native byte order that does not keep the rest of its
    model's memory alive.

    A view of a whole array is kept as it is (the model's other extensions are
    freed with the model); a cut-out (subarray) of a bigger array, or a view of
    another buffer, is copied.
    """
    if arr is None:
        return None
    if not arr.dtype.isnative:
        return arr.astype(arr.dtype.newbyteorder("="))
    root = arr
    while isinstance(root, np.ndarray) and root.base is not None:
        root = root.base
    if isinstance(root, np.ndarray) and root.nbytes == arr.nbytes:
        return arr
    return np.array(arr, copy=True)


def _has(model: Any, name: str) -> bool:
    """Whether ``model`` has the array ``name`` (stdatamodels raise on unknown names)."""
    try:
        return getattr(model, name, None) is not None
    except Exception:  # pragma: no cover - stdatamodels raise for names outside the schema
        return False


def run_block_stage(step: Streamable, model: Any) -> Any:
    """Run ``step``'s block stage on the whole ramp ``model`` (one block).

    Parameters
    ----------
    step : Streamable
        The step (its parameters and references).
    model : RampModel
        The ramp, modified in place (its arrays are replaced).

    Returns
    -------
    RampModel
        ``model``.

    Raises
    ------
    StepSkipped
        If the step does not apply, or its first pass (over the model's own
        reference pixels, as the driver runs it over the stages before) gives
        a reason to skip it.
    """
    ctx = StreamContext.of_model(model)
    try:
        stage = step.block_stage(ctx)
        zf = model.zeroframe if ctx.zeroframe_used else None
        # A model without DQ arrays (a Level 1b exposure given to a step that only
        # touches the data, such as group_scale) gives None for them.
        dq = [getattr(model, name) if _has(model, name) else None
              for name in ("groupdq", "pixeldq")]  # fmt: skip
        block = Block(0, ctx.ny, model.data, dq[0], dq[1], zf, count=slice(None))
        if stage.first_pass is not None:
            reason = stage.first_pass(_whole_upstream(block))
            if reason:
                from . import StepSkipped

                raise StepSkipped(reason)
        stage.apply(block)
        if stage.finish is not None:
            stage.finish()
    finally:
        ctx.close()
    for name in ("data", "groupdq", "pixeldq", "zeroframe"):
        new = getattr(block, name)
        if new is not None and (not _has(model, name) or new is not getattr(model, name)):
            setattr(model, name, new)
    if ctx.average_dark is not None:
        model.average_dark_current = ctx.average_dark
    return model


def _whole_upstream(block: Block) -> Upstream:
    """The reference pixels of a whole ramp in memory for a first pass: no stage runs
    before, so the pixel DQ is the ramp's own and needs no prediction."""

    def read(r0, r1, cols=None, ints=None):
        ints = ints or slice(None)
        rows = slice(r0, r1)
        pick = slice(None) if cols is None else np.asarray(cols)
        zf = None if block.zeroframe is None else block.zeroframe[ints, rows][..., pick]
        out = Block(r0, r1, block.data[ints, :, rows][..., pick],
                    block.groupdq[ints, :, rows][..., pick], block.pixeldq[rows][..., pick], zf,
                    slice(None) if cols is None else cols)  # fmt: skip
        out.i0 = ints.start or 0
        return out

    return Upstream(
        read=read,
        predicted_pixeldq=block.pixeldq,
        halo=0,
        merge_pixeldq=lambda known, new: new if known is None else known,
    )
