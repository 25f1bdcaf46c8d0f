"""Drizzle a mosaic tile by tile: memory bounded by a budget, not by the output size.

The output grid is cut into rectangular tiles. Each tile is combined on its own
by a :class:`~webbcal.resample.coadd.Coadd` over a *window*: the tile grown by a
halo of a few output pixels on every side, on which only the members whose
footprint reaches the window are added, in the order of their global index. Only
the tile (the window less its halo) is kept.

How a tile reproduces the same region of the all-in-memory combination:

* each member's pixel map is the map onto the *whole* grid, computed by the same
  call as the in-memory path (:func:`webbcal.wcs.pixel_map` with the same
  tolerance and first node spacing), shifted by the window's origin (whole
  pixels);
* drizzle drops the input pixels that are not entirely inside its output array,
  so output pixels near a window's edge may lose part of their flux; the halo is
  wider than any input pixel's kernel footprint, so no pixel of the tile itself is
  affected. Windows reach beyond the grid's edges too, and the whole-grid
  combination drizzles the same margin around the grid
  (:class:`~webbcal.resample.coadd.Coadd` ``pad``), so the grid's outer pixels
  receive all their input pixels in both;
* each member is cut to the input pixels that map into the window (plus two
  pixels, since drizzle interpolates a pixel's corners from its neighbours), read
  as a section of its file;
* every output pixel receives its members in the same (global) order, so the
  floating-point sums are performed in the same order;
* the context bits of the window's combination (one per member *added to the
  window*) are moved to the members' global bits (member ``k`` is bit
  ``k % 32`` of plane ``k // 32``), so the context plane is the global one.

What remains different, measured (``tests/resample/test_tiles.py``,
``benchmarks/bench_mosaic.py``): drizzle works in the window's coordinates, so its
intermediate sums (pixel corners interpolated from the map, overlap areas) are
rounded at other magnitudes: a few output pixels in a million differ by a few
float32 ulps. The context planes, the covered pixels (NaN pattern) and DQ are
identical.

Tiles are independent: :func:`coadd_tile` reads its members through a reader
(a library in this process, or files on a dask worker) and returns the tile's
planes; :func:`run_tiles` runs them one after another in this process, or as tasks
on a ``dask.distributed`` cluster, and hands each finished tile to a sink that
stores it (:class:`ArraySink`: whole arrays in memory). A task lost with a killed
worker is simply run again by the scheduler: it only reads files and returns
arrays.

References
----------
Fruchter, A. S. & Hook, R. N. 2002, PASP 114, 144 (drizzle; each output pixel is
a weighted sum over the input pixels whose footprint overlaps it).

JWST pipeline documentation, ``resample`` step ("context image": one bit per
input, 32 inputs per int32 plane).

Dask.distributed documentation, "Resilience" (tasks of a lost worker are
recomputed on the remaining workers). https://distributed.dask.org
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..wcs import pixel_map
from .constants import VARIANCE_NAMES

log = logging.getLogger(__name__)

__all__ = [
    "ArraySink",
    "FileReader",
    "LibraryReader",
    "MemberSpec",
    "PixelMaps",
    "Tile",
    "TileJob",
    "TilePlanes",
    "cluster_client",
    "coadd_tile",
    "combined_times",
    "exposure_spec",
    "member_boxes",
    "plan_tiles",
    "run_tiles",
    "tile_halo",
    "tile_shape_for",
    "shifted_wcs",
    "tile_wcs",
    "tiled_coadd",
]

#: Reach of each kernel around an input pixel's centre, input pixels (generous: the
#: halo only needs to be at least this wide).
_KERNEL_REACH = {"square": 1, "point": 1, "turbo": 1, "gaussian": 3, "lanczos2": 3, "lanczos3": 4}
#: Extra output pixels of halo beyond the kernel's reach.
_HALO_MARGIN = 3
#: Output bytes per pixel of a window while a member is added (drizzle planes, the
#: three drizzled variances and their running sums, finalize temporaries).
WINDOW_BYTES_PER_PIXEL = 128
#: Bytes per input pixel of one member while it is added (its planes, the weight,
#: the pixel map, the square roots of the variances).
MEMBER_BYTES_PER_PIXEL = 72
#: Interpreter, libraries and small objects, bytes.
BASELINE_BYTES = 400 * 2**20
#: Smallest and largest tile side, output pixels.
MIN_TILE, MAX_TILE = 256, 8192
#: Largest spacing of outline samples along an input edge (footprint boxes), pixels.
_OUTLINE_STEP = 32


# ------------------------------------------------------------------------ geometry
@dataclass(frozen=True)
class Tile:
    """One tile of the output grid and the members that reach it.

    Attributes
    ----------
    index : int
        Position in the plan (row-major).
    y0, y1, x0, x1 : int
        The tile: output rows ``y0:y1`` and columns ``x0:x1`` (0-based, end excluded).
    wy0, wy1, wx0, wx1 : int
        The window (tile plus halo, which may reach beyond the grid), same
        convention.
    members : tuple of int
        Global indices of the members whose footprint reaches the window, ascending.
    """

    index: int
    y0: int
    y1: int
    x0: int
    x1: int
    wy0: int
    wy1: int
    wx0: int
    wx1: int
    members: tuple[int, ...] = ()

    @property
    def shape(self) -> tuple[int, int]:
        """``(ny, nx)`` of the tile."""
        return self.y1 - self.y0, self.x1 - self.x0

    @property
    def window_shape(self) -> tuple[int, int]:
        """``(ny, nx)`` of the window."""
        return self.wy1 - self.wy0, self.wx1 - self.wx0

    @property
    def section(self) -> tuple[slice, slice]:
        """The tile's region of the output arrays."""
        return slice(self.y0, self.y1), slice(self.x0, self.x1)

    @property
    def inner(self) -> tuple[slice, slice]:
        """The tile's region of the window's arrays."""
        return (slice(self.y0 - self.wy0, self.y1 - self.wy0),
                slice(self.x0 - self.wx0, self.x1 - self.wx0))  # fmt: skip


def tile_halo(kernel: str, pixel_scale_ratio: float | None) -> int:
    """Halo width (output pixels) that keeps a tile equal to the whole-grid result.

    Parameters
    ----------
    kernel : str
        Drizzle kernel name.
    pixel_scale_ratio : float or None
        Output over input pixel scale (None: 1).

    Returns
    -------
    int
        ``ceil(reach / ratio) + 3`` with the kernel's reach in input pixels.
    """
    ratio = pixel_scale_ratio or 1.0
    if not ratio > 0:
        raise ValueError(f"pixel_scale_ratio={pixel_scale_ratio!r}: expected a positive ratio")
    return int(math.ceil(_KERNEL_REACH.get(kernel, 4) / ratio)) + _HALO_MARGIN


def plan_tiles(shape: tuple[int, int], tile_shape: tuple[int, int], halo: int) -> list[Tile]:
    """Cut an output grid into tiles (row-major), each with its halo window.

    Parameters
    ----------
    shape : tuple of int
        ``(ny, nx)`` of the output grid.
    tile_shape : tuple of int
        ``(ty, tx)`` largest tile; the tiles of a row (column) are of equal size
        within one pixel.
    halo : int
        Output pixels added on each side of a tile, beyond the grid's edges too
        (as the whole-grid combination drizzles a margin of the same width around
        the grid: :class:`~webbcal.resample.coadd.Coadd` ``pad``).

    Returns
    -------
    list of Tile
        With empty ``members``.

    Raises
    ------
    ValueError
        If a size is not positive or the halo is negative.
    """
    ny, nx = (int(n) for n in shape)
    ty, tx = (int(n) for n in tile_shape)
    if min(ny, nx, ty, tx) < 1 or halo < 0:
        raise ValueError(f"shape={shape!r}, tile_shape={tile_shape!r}, halo={halo!r}: "
                         "expected positive sizes and a halo >= 0")  # fmt: skip
    rows = np.linspace(0, ny, -(-ny // ty) + 1).round().astype(int)
    cols = np.linspace(0, nx, -(-nx // tx) + 1).round().astype(int)
    tiles = []
    for y0, y1 in zip(rows[:-1], rows[1:], strict=True):
        for x0, x1 in zip(cols[:-1], cols[1:], strict=True):
            tiles.append(Tile(len(tiles), int(y0), int(y1), int(x0), int(x1),
                              int(y0) - halo, int(y1) + halo,
                              int(x0) - halo, int(x1) + halo))  # fmt: skip
    return tiles


def _outline(shape: tuple[int, int], bbox) -> tuple[np.ndarray, np.ndarray]:
    """Points along the outer edges of an input array's valid region, input pixels."""
    ny, nx = shape
    if bbox is None:
        (x1, x2), (y1, y2) = (-0.5, nx - 0.5), (-0.5, ny - 0.5)
    else:
        (x1, x2), (y1, y2) = bbox.bounding_box(order="F")
        x1, x2 = max(float(x1), -0.5), min(float(x2), nx - 0.5)
        y1, y2 = max(float(y1), -0.5), min(float(y2), ny - 0.5)
    xs = np.linspace(x1, x2, max(2, int(math.ceil((x2 - x1) / _OUTLINE_STEP)) + 1))
    ys = np.linspace(y1, y2, max(2, int(math.ceil((y2 - y1) / _OUTLINE_STEP)) + 1))
    x = np.concatenate([xs, np.full(ys.size, x2), xs[::-1], np.full(ys.size, x1)])
    y = np.concatenate([np.full(xs.size, y1), ys, np.full(xs.size, y2), ys[::-1]])
    return x, y


def member_boxes(wcs_list: Iterable, shapes: Iterable, grid_wcs, *, margin: int
                 ) -> list[tuple[int, int, int, int] | None]:  # fmt: skip
    """Output-pixel box reached by each member: ``(ymin, ymax, xmin, xmax)`` inclusive.

    The outer edge of each input array's valid region (its WCS bounding box), sampled
    at most every 32 input pixels, is mapped to the output grid; the box of those
    points is grown by ``margin`` output pixels (the curvature of the edges between
    samples and the kernel's reach must fit in it).

    Parameters
    ----------
    wcs_list : iterable of gwcs.WCS
        Input pixel -> (RA, Dec) degrees.
    shapes : iterable of tuple of int
        ``(ny, nx)`` of each input array.
    grid_wcs : gwcs.WCS
        The output grid.
    margin : int
        Output pixels added on each side.

    Returns
    -------
    list
        One box per member, or None when no outline point maps to a finite output
        position.
    """
    boxes = []
    for wcs, shape in zip(wcs_list, shapes, strict=True):
        x, y = _outline(tuple(int(n) for n in shape), getattr(wcs, "bounding_box", None))
        ra, dec = wcs(x, y, with_bounding_box=False)
        ox, oy = grid_wcs.invert(ra, dec, with_bounding_box=False)
        ok = np.isfinite(ox) & np.isfinite(oy)
        if not ok.any():
            boxes.append(None)
            continue
        boxes.append((int(math.floor(np.min(oy[ok]))) - margin,
                      int(math.ceil(np.max(oy[ok]))) + margin,
                      int(math.floor(np.min(ox[ok]))) - margin,
                      int(math.ceil(np.max(ox[ok]))) + margin))  # fmt: skip
    return boxes


def assign_members(tiles: Sequence[Tile], boxes: Sequence) -> list[Tile]:
    """The tiles with ``members`` set: the members whose box meets the window."""
    out = []
    for tile in tiles:
        members = tuple(
            k for k, b in enumerate(boxes)
            if b is not None and b[0] < tile.wy1 and b[1] >= tile.wy0
            and b[2] < tile.wx1 and b[3] >= tile.wx0
        )  # fmt: skip
        out.append(Tile(**{**tile.__dict__, "members": members}))
    return out


def tile_wcs(grid_wcs, y0: int, x0: int, shape: tuple[int, int]):
    """The grid's WCS for the region starting at output pixel ``(y0, x0)``.

    Parameters
    ----------
    grid_wcs : gwcs.WCS
        The whole output grid (not modified).
    y0, x0 : int
        0-based origin of the region on the grid.
    shape : tuple of int
        ``(ny, nx)`` of the region.

    Returns
    -------
    gwcs.WCS
        Pixel ``(x, y)`` of the region is pixel ``(x + x0, y + y0)`` of the grid;
        ``array_shape`` and ``bounding_box`` are the region's.
    """
    from astropy.modeling.models import Shift

    wcs = copy.deepcopy(grid_wcs)
    if x0 or y0:
        wcs.insert_transform(wcs.input_frame, Shift(float(x0)) & Shift(float(y0)), after=True)
    ny, nx = (int(n) for n in shape)
    wcs.bounding_box = ((-0.5, nx - 0.5), (-0.5, ny - 0.5))
    wcs.array_shape = (ny, nx)
    return wcs


def tile_shape_for(grid_shape: tuple[int, int], *, memory_limit: int, member_pixels: int,
                   fixed_bytes: int = 0) -> tuple[int, int]:  # fmt: skip
    """Largest square tile whose combination fits in ``memory_limit``.

    Parameters
    ----------
    grid_shape : tuple of int
        ``(ny, nx)`` of the output grid.
    memory_limit : int
        Bytes the process may use.
    member_pixels : int
        Pixels of the largest member (one member is held while it is added).
    fixed_bytes : int, optional
        Bytes held for the whole run (e.g. output planes kept in memory).

    Returns
    -------
    tuple of int
        ``(ty, tx)``, sides between 256 and 8192 output pixels (never larger than the
        grid). Below 256 the budget is not met: a warning says so.
    """
    budget = memory_limit - BASELINE_BYTES - fixed_bytes - member_pixels * MEMBER_BYTES_PER_PIXEL
    side = int(math.sqrt(max(budget, 0) / WINDOW_BYTES_PER_PIXEL))
    if side < MIN_TILE:
        log.warning("memory_limit of %.2f GB is below what the mosaic needs (tiles of %d "
                    "pixels, about %.2f GB); using %d-pixel tiles", memory_limit / 2**30,
                    MIN_TILE, (memory_limit - budget + MIN_TILE**2 * WINDOW_BYTES_PER_PIXEL)
                    / 2**30, MIN_TILE)  # fmt: skip
        side = MIN_TILE
    side = min(side, MAX_TILE)
    ny, nx = grid_shape
    return min(side, int(ny)), min(side, int(nx))


# ------------------------------------------------------------------------ one tile
@dataclass(frozen=True)
class TileJob:
    """What every tile of one mosaic shares (picklable: sent to dask workers).

    Attributes
    ----------
    grid_wcs : gwcs.WCS
        The whole output grid.
    params : CoaddParams
    n_inputs : int
        Members in the mosaic (sizes the global context planes).
    pixel_scale_ratio : float or None
    propagate_dq : bool
    """

    grid_wcs: Any
    params: Any
    n_inputs: int
    pixel_scale_ratio: float | None
    propagate_dq: bool = False

    @property
    def context_planes(self) -> int:
        """Global context planes (32 members each)."""
        return (self.n_inputs - 1) // 32 + 1


@dataclass
class TilePlanes:
    """The planes of one tile, shape ``tile.shape`` (context ``(planes, ny, nx)``).

    Attributes
    ----------
    tile : Tile
    data, wht : ndarray, float32
    con : ndarray, int32 or None
        Global context planes.
    dq : ndarray, uint32 or None
    variances : dict of str to ndarray, float32
    err : ndarray, float32 or None
    max_pixmap_error : float
        Largest pixel-map error bound used, output pixels.
    seconds : float
        Wall time of the tile.
    """

    tile: Tile
    data: np.ndarray
    wht: np.ndarray
    con: np.ndarray | None
    dq: np.ndarray | None
    variances: dict = field(default_factory=dict)
    err: np.ndarray | None = None
    max_pixmap_error: float = 0.0
    seconds: float = 0.0


def _global_context(local: np.ndarray, members: Sequence[int], planes: int) -> np.ndarray:
    """Move bit ``j`` (the ``j``-th member added to the window) to bit ``members[j]``."""
    src = local.view(np.uint32)
    out = np.zeros((planes,) + local.shape[1:], dtype=np.uint32)
    for j, k in enumerate(members):
        bit = (src[j // 32] >> np.uint32(j % 32)) & np.uint32(1)
        out[k // 32] |= bit << np.uint32(k % 32)
    return out.view(np.int32)


def _empty_planes(tile: Tile, job: TileJob) -> TilePlanes:
    """Planes of a tile no member reaches (as drizzle leaves an untouched output)."""
    from drizzle.resample import Drizzle

    p = job.params
    shape = tile.shape
    data = Drizzle(kernel=p.kernel, fillval=p.fillval, out_shape=shape, disable_ctx=True).out_img
    nan = np.full(shape, np.nan, dtype=np.float32)
    variances = {n: nan.copy() for n in VARIANCE_NAMES} if p.enable_var else {}
    return TilePlanes(
        tile=tile, data=data, wht=np.zeros(shape, np.float32),
        con=np.zeros((job.context_planes,) + shape, np.int32) if p.enable_ctx else None,
        dq=np.zeros(shape, np.uint32) if job.propagate_dq else None,
        variances=variances, err=nan if p.enable_var else None,
    )  # fmt: skip


class PixelMaps:
    """Each member's pixel map onto the whole grid, computed once per process.

    The map is the same call as the whole-grid combination makes
    (:func:`webbcal.wcs.pixel_map` with the job's tolerance and first node spacing).
    With a ``directory``, maps are kept there as ``.npy`` files (a member reaches
    several tiles); without one, they are computed each time they are asked for.

    Parameters
    ----------
    job : TileJob
    directory : str or None
        Scratch folder (the caller removes it).
    """

    def __init__(self, job: TileJob, directory: str | None = None):
        self.job = job
        self.directory = directory
        self.errors: dict[int, float] = {}

    def get(self, k: int, wcs, shape: tuple[int, int]) -> np.ndarray:
        """Map ``(ny, nx, 2)`` float64 of member ``k`` onto the whole grid, output pixels."""
        import os

        path = None if self.directory is None else os.path.join(self.directory, f"{k}.npy")
        if path is not None and os.path.exists(path):
            return np.load(path)
        p = self.job.params
        pm = pixel_map(wcs, self.job.grid_wcs, shape=shape, tolerance=p.tolerance,
                       initial_step=max(8, p.initial_step))  # fmt: skip
        self.errors[k] = pm.max_error
        if path is not None:
            np.save(path, pm.pixmap)
        return pm.pixmap

    def max_error(self, k: int) -> float:
        return self.errors.get(k, 0.0)


def _input_crop(pixmap: np.ndarray, tile: Tile, margin: int):
    """Input rows/columns ``(r0, r1, c0, c1)`` whose map reaches the window (None: none).

    The pixels mapped within ``margin`` output pixels of the window, grown by two
    input pixels (drizzle interpolates a pixel's corners from its neighbours).
    """
    x, y = pixmap[..., 0], pixmap[..., 1]
    with np.errstate(invalid="ignore"):
        inside = ((x >= tile.wx0 - margin) & (x <= tile.wx1 - 1 + margin)
                  & (y >= tile.wy0 - margin) & (y <= tile.wy1 - 1 + margin))  # fmt: skip
    rows = np.flatnonzero(inside.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(inside.any(axis=0))
    ny, nx = inside.shape
    return (max(0, int(rows[0]) - 2), min(ny, int(rows[-1]) + 3),
            max(0, int(cols[0]) - 2), min(nx, int(cols[-1]) + 3))  # fmt: skip


def shifted_wcs(wcs, y0: int, x0: int, shape: tuple[int, int]):
    """An input WCS for the cut-out starting at input pixel ``(y0, x0)``.

    Pixel ``(x, y)`` of the cut-out is pixel ``(x + x0, y + y0)`` of ``wcs``; the
    bounding box is shifted with it and cut to the cut-out's ``shape`` (ny, nx).
    """
    from astropy.modeling.models import Shift

    out = copy.deepcopy(wcs)
    if x0 or y0:
        out.insert_transform(out.input_frame, Shift(float(x0)) & Shift(float(y0)), after=True)
    ny, nx = shape
    if wcs.bounding_box is not None:
        (bx0, bx1), (by0, by1) = wcs.bounding_box.bounding_box(order="F")
        out.bounding_box = ((max(bx0 - x0, -0.5), min(bx1 - x0, nx - 0.5)),
                            (max(by0 - y0, -0.5), min(by1 - y0, ny - 0.5)))  # fmt: skip
    else:
        out.bounding_box = ((-0.5, nx - 0.5), (-0.5, ny - 0.5))
    out.array_shape = (ny, nx)
    return out


def coadd_tile(tile: Tile, job: TileJob, reader: Any, pixmaps: PixelMaps | None = None
               ) -> TilePlanes:  # fmt: skip
    """Combine the members that reach one tile; the tile equals the whole-grid result.

    Each member is cut to the input pixels that map into the tile's window (read
    from its file as a section, when the reader reads files).

    Parameters
    ----------
    tile : Tile
        With its ``members`` (global indices, ascending).
    job : TileJob
    reader : FileReader or LibraryReader
        ``reader.specs[k]`` (member ``k`` without arrays) and ``reader(k, crop)``
        (its planes cut to ``crop = (r0, r1, c0, c1)``, as an Exposure).
    pixmaps : PixelMaps or None
        Pixel maps (default: computed for this tile only).

    Returns
    -------
    TilePlanes

    Raises
    ------
    ValueError
        As :meth:`Coadd.add` for a bad member.
    """
    import dataclasses

    from .coadd import Coadd

    t0 = time.perf_counter()
    pixmaps = pixmaps or PixelMaps(job)
    p = job.params
    maps: dict[int, np.ndarray] = {}
    errors = [0.0]
    added = []
    coadd = None
    margin = tile_halo(p.kernel, job.pixel_scale_ratio)
    for k in tile.members:
        spec = reader.specs[k]
        full = pixmaps.get(k, spec.wcs, spec.shape)
        crop = _input_crop(full, tile, margin)
        if crop is None:
            continue  # reaches the window's box only: no contribution
        r0, r1, c0, c1 = crop
        pixmap = full[r0:r1, c0:c1].copy()
        del full
        pixmap[..., 0] -= tile.wx0
        pixmap[..., 1] -= tile.wy0
        exposure = reader(k, crop)
        exposure = dataclasses.replace(
            exposure, wcs=shifted_wcs(spec.wcs, r0, c0, (r1 - r0, c1 - c0))
        )
        maps[id(exposure.wcs)] = pixmap
        errors.append(pixmaps.max_error(k))
        if coadd is None:
            window = tile_wcs(job.grid_wcs, tile.wy0, tile.wx0, tile.window_shape)
            coadd = Coadd(window, p, n_inputs=len(tile.members),
                          pixel_scale_ratio=job.pixel_scale_ratio,
                          pixel_map_function=lambda wcs_from, _to, _shape: maps.pop(id(wcs_from)),
                          propagate_dq=job.propagate_dq, cut_margin=margin)  # fmt: skip
        coadd.add(exposure)
        added.append(k)
        del exposure, pixmap
    if coadd is None:
        planes = _empty_planes(tile, job)
        planes.seconds = time.perf_counter() - t0
        return planes
    result = coadd.finalize()
    inner = tile.inner

    def cut(a):
        return None if a is None else np.ascontiguousarray(a[inner])

    con = None
    if result.con is not None:
        con = _global_context(result.con[(slice(None),) + inner], added, job.context_planes)
    return TilePlanes(
        tile=tile, data=cut(result.data), wht=cut(result.wht), con=con, dq=cut(result.dq),
        variances={k: cut(v) for k, v in result.variances.items()}, err=cut(result.err),
        max_pixmap_error=max(errors), seconds=time.perf_counter() - t0,
    )  # fmt: skip


# ------------------------------------------------------------------------ readers
#: Extension names of the planes a member may carry, by Exposure field.
_EXTENSIONS = {"data": "SCI", "dq": "DQ", "err": "ERR",
               **{name: name.upper() for name in VARIANCE_NAMES}}  # fmt: skip


@dataclass(frozen=True)
class MemberSpec:
    """What a tile needs to know of a member besides its pixels (small, picklable).

    Attributes
    ----------
    exposure : Exposure
        The member's Exposure without arrays (metadata, WCS, the variance names).
    shape : tuple of int
        ``(ny, nx)`` of its arrays.
    """

    exposure: Any
    shape: tuple[int, int]

    @property
    def wcs(self):
        return self.exposure.wcs


def exposure_spec(exposure) -> MemberSpec:
    """The :class:`MemberSpec` of an Exposure (its arrays dropped)."""
    import dataclasses

    bare = dataclasses.replace(exposure, data=None, dq=None, err=None,
                               variances=dict.fromkeys(exposure.variances))  # fmt: skip
    return MemberSpec(bare, tuple(int(n) for n in exposure.data.shape))


def _cut(plane, crop):
    if plane is None or crop is None:
        return plane
    r0, r1, c0, c1 = crop
    return plane[r0:r1, c0:c1]


class FileReader:
    """Members' planes read from their FITS files (picklable, for dask workers).

    Only the image extensions are read (SCI, DQ, ERR, VAR_*, with astropy, only
    the rows and columns asked for); metadata and WCS come from the member specs.
    Invalid pixels are marked as the step marks them
    (:func:`~webbcal.resample.coadd.mark_invalid`), pixel by pixel, so a cut-out is
    the same cut of the whole member.

    Parameters
    ----------
    paths : sequence of str
        One file per global member index.
    specs : sequence of MemberSpec
    """

    def __init__(self, paths: Sequence[str], specs: Sequence[MemberSpec]):
        if len(paths) != len(specs):
            raise ValueError(f"{len(paths)} path(s) for {len(specs)} member spec(s)")
        self.paths = list(paths)
        self.specs = list(specs)

    def __call__(self, k: int, crop: tuple[int, int, int, int] | None = None):
        """Member ``k`` (rows ``r0:r1``, columns ``c0:c1`` of ``crop``) as an Exposure.

        Raises
        ------
        InputError
            If the file cannot be read or lacks SCI or DQ.
        """
        import dataclasses

        from astropy.io import fits

        from ..datamodels.io import InputError
        from .coadd import mark_invalid

        spec, path = self.specs[k].exposure, self.paths[k]
        window = (slice(None), slice(None)) if crop is None else \
            (slice(crop[0], crop[1]), slice(crop[2], crop[3]))  # fmt: skip
        planes = {}
        try:
            with fits.open(path, memmap=False, lazy_load_hdus=True) as hdul:
                names = {h.name for h in hdul}
                for attr, ext in _EXTENSIONS.items():
                    wanted = attr in ("data", "dq", "err") or attr in spec.variances
                    if wanted and ext in names and hdul[ext].size:
                        planes[attr] = np.asarray(hdul[ext].section[window])
        except OSError as exc:
            raise InputError(f"{path}: cannot read the member's planes ({exc})") from None
        if "data" not in planes or "dq" not in planes:
            raise InputError(f"{path}: SCI or DQ extension missing")
        variances = {n: planes[n] for n in spec.variances if n in planes}
        data, dq, err, variances = mark_invalid(planes["data"], planes["dq"],
                                                planes.get("err"), variances)  # fmt: skip
        return dataclasses.replace(spec, data=data, dq=dq, err=err, variances=variances)


class LibraryReader:
    """Members borrowed from a :class:`ModelLibrary` (this process only).

    Parameters
    ----------
    library : ModelLibrary
        Open (inside ``with library:``) for as long as the reader is used.
    indices : sequence of int
        Library index of each global member index.
    specs : sequence of MemberSpec
    exposure : callable
        ``exposure(model) -> Exposure`` (the step's conversion).
    """

    def __init__(self, library: Any, indices: Sequence[int], specs: Sequence[MemberSpec],
                 exposure: Callable[[Any], Any]):  # fmt: skip
        self.library = library
        self.indices = list(indices)
        self.specs = list(specs)
        self.exposure = exposure

    def __call__(self, k: int, crop: tuple[int, int, int, int] | None = None):
        """Member ``k`` cut to ``crop`` ``(r0, r1, c0, c1)`` as an Exposure."""
        import dataclasses

        index = self.indices[k]
        model = self.library.borrow(index)
        try:
            e = self.exposure(model)
        finally:
            self.library.shelve(model, index, modify=False)
        return dataclasses.replace(
            e, data=_cut(e.data, crop), dq=_cut(e.dq, crop), err=_cut(e.err, crop),
            variances={n: _cut(v, crop) for n, v in e.variances.items()},
        )  # fmt: skip


def combined_times(specs: Sequence[Any]) -> dict:
    """Exposure-time sums of a mosaic, as :class:`Coadd` sums them (once per group).

    Parameters
    ----------
    specs : sequence of MemberSpec or Exposure
        Every member, in the order they are combined (arrays not needed).

    Returns
    -------
    dict
        ``pointings``, ``exposure_time``, ``duration``, ``measurement_time`` (None
        unless every group's first member has one), ``start_time``, ``end_time``.
    """
    groups, starts, ends = [], [], []
    exposure = duration = measurement = 0.0
    measured = True
    for spec in specs:
        spec = getattr(spec, "exposure", spec)
        if spec.group_id in groups:
            continue
        groups.append(spec.group_id)
        starts.append(spec.start_time)
        ends.append(spec.end_time)
        exposure += spec.exposure_time
        if spec.measurement_time is None:
            measured = False
        else:
            measurement += spec.measurement_time
        if spec.duration is not None:
            duration += spec.duration
    starts = [t for t in starts if t is not None]
    ends = [t for t in ends if t is not None]
    return dict(pointings=len(groups), exposure_time=exposure, duration=duration,
                measurement_time=measurement if measured else None,
                start_time=min(starts) if starts else None,
                end_time=max(ends) if ends else None)  # fmt: skip


# ------------------------------------------------------------------------ sinks
class ArraySink:
    """Whole output planes in memory, filled tile by tile.

    Parameters
    ----------
    shape : tuple of int
        ``(ny, nx)`` of the grid.
    job : TileJob
    """

    def __init__(self, shape: tuple[int, int], job: TileJob):
        p = job.params
        self.data = np.empty(shape, np.float32)
        self.wht = np.empty(shape, np.float32)
        self.con = np.empty((job.context_planes,) + tuple(shape), np.int32) if p.enable_ctx \
            else None  # fmt: skip
        self.dq = np.empty(shape, np.uint32) if job.propagate_dq else None
        self.variances = {n: np.empty(shape, np.float32) for n in VARIANCE_NAMES} \
            if p.enable_var else {}  # fmt: skip
        self.err = np.empty(shape, np.float32) if p.enable_var else None
        self.max_pixmap_error = 0.0

    @staticmethod
    def nbytes(shape: tuple[int, int], job: TileJob) -> int:
        """Bytes the sink holds for a grid of ``shape``."""
        p = job.params
        planes = 2 + (job.context_planes if p.enable_ctx else 0) + int(job.propagate_dq)
        planes += (1 + len(VARIANCE_NAMES)) if p.enable_var else 0
        return planes * 4 * int(shape[0]) * int(shape[1])

    def put(self, planes: TilePlanes) -> None:
        """Store one tile's planes."""
        s = planes.tile.section
        self.data[s] = planes.data
        self.wht[s] = planes.wht
        if self.con is not None:
            self.con[(slice(None),) + s] = planes.con
        if self.dq is not None:
            self.dq[s] = planes.dq
        for name, plane in self.variances.items():
            plane[s] = planes.variances[name]
        if self.err is not None:
            self.err[s] = planes.err
        self.max_pixmap_error = max(self.max_pixmap_error, planes.max_pixmap_error)


# ------------------------------------------------------------------------ mosaic
def estimated_in_memory_bytes(grid_shape: tuple[int, int], member_shape: tuple[int, int]) -> int:
    """Peak memory of the all-in-memory combination (one :class:`Coadd` on the grid)."""
    return (BASELINE_BYTES + int(np.prod(grid_shape)) * WINDOW_BYTES_PER_PIXEL
            + int(np.prod(member_shape)) * MEMBER_BYTES_PER_PIXEL)  # fmt: skip


def tiled_coadd(library: Any, indices: Sequence[int], grid: Any, params: Any, *,
                pixel_scale_ratio: float | None, propagate_dq: bool,
                exposure: Callable[[Any], Any], memory_limit: int, scheduler: str = "",
                client: Any = None, tile_shape: tuple[int, int] | None = None):  # fmt: skip
    """Combine library members into whole output planes, tile by tile.

    Parameters
    ----------
    library : ModelLibrary
    indices : sequence of int
        Library indices of the members, in combination order (member ``k`` of the
        mosaic is ``indices[k]``: context bit ``k``).
    grid : OutputGrid
    params : CoaddParams
    pixel_scale_ratio : float or None
    propagate_dq : bool
    exposure : callable
        ``exposure(model) -> Exposure`` (the step's conversion of a member).
    memory_limit : int
        Bytes for this process (and for each dask worker); sets the tile size.
    scheduler : str, optional
        ``""``: tiles run here; ``"local"``: on a new local dask cluster; else the
        address of a dask scheduler. Workers read the members' files, so members
        that live only in memory make the tiles run here (with a warning).
    client : distributed.Client or None, optional
        An existing client (overrides ``scheduler``).
    tile_shape : tuple of int or None, optional
        ``(ty, tx)``; default from ``memory_limit``.

    Returns
    -------
    CoaddResult
        Equal, array by array, to :meth:`Coadd.finalize` of the members added one
        after another on the whole grid.
    """
    from .coadd import CoaddResult

    specs, paths = [], []
    with library:
        for index in indices:
            model = library.borrow(index)
            try:
                specs.append(exposure_spec(exposure(model)))
            finally:
                library.shelve(model, index, modify=False)
            del model
            paths.append(library.member_file(index))
    job = TileJob(grid.wcs, params, len(specs), pixel_scale_ratio, propagate_dq)
    halo = tile_halo(params.kernel, pixel_scale_ratio)
    shapes = [s.shape for s in specs]
    member_pixels = max(int(np.prod(s)) for s in shapes)
    sink_bytes = ArraySink.nbytes(grid.shape, job)
    if tile_shape is None:
        tile_shape = tile_shape_for(
            grid.shape, memory_limit=memory_limit, member_pixels=member_pixels,
            fixed_bytes=sink_bytes,
        )  # fmt: skip
    boxes = member_boxes([s.wcs for s in specs], shapes, grid.wcs, margin=halo)
    tiles = assign_members(plan_tiles(grid.shape, tile_shape, halo), boxes)
    log.info("Mosaic %s in %d tile(s) of up to %s (halo %d px), %d member(s)", grid.shape,
             len(tiles), tuple(tile_shape), halo, len(specs))  # fmt: skip
    sink = ArraySink(grid.shape, job)
    on_files = all(p is not None for p in paths)
    if (scheduler or client is not None) and not on_files:
        log.warning("Members live only in memory (in_memory=True): the tiles run in this "
                    "process instead of on dask workers")  # fmt: skip
    if (scheduler or client is not None) and on_files:
        read = FileReader(paths, specs)
        if client is not None:
            run_tiles(tiles, job, read, sink, client=client)
        else:
            per_task = BASELINE_BYTES + member_pixels * MEMBER_BYTES_PER_PIXEL \
                + int(np.prod(tile_shape)) * WINDOW_BYTES_PER_PIXEL  # fmt: skip
            with cluster_client(scheduler, n_tasks=len(tiles), bytes_per_task=per_task) as cl:
                run_tiles(tiles, job, read, sink, client=cl)
    elif on_files:
        run_tiles(tiles, job, FileReader(paths, specs), sink)
    else:
        with library:
            run_tiles(tiles, job, LibraryReader(library, indices, specs, exposure), sink)
    return CoaddResult(
        data=sink.data, wht=sink.wht, con=sink.con, dq=sink.dq, variances=sink.variances,
        err=sink.err, max_pixmap_error=sink.max_pixmap_error, **combined_times(specs),
    )  # fmt: skip


# ------------------------------------------------------------------------ driver
def run_tiles(tiles: Sequence[Tile], job: TileJob, reader: Any, sink, *,
              client: Any = None) -> None:  # fmt: skip
    """Combine every tile and store it in ``sink`` (``sink.put(planes)``).

    Parameters
    ----------
    tiles : sequence of Tile
        With their members.
    job : TileJob
    reader : FileReader or LibraryReader
        Sent to the workers when ``client`` is given (it must then read files:
        :class:`FileReader`).
    sink : object
        With ``put(TilePlanes)``; called in this process, in completion order.
    client : distributed.Client or None
        Run the tiles as tasks on this cluster (None: one after another here, each
        member's pixel map computed once and kept in a scratch folder).
    """
    import shutil
    import tempfile

    t0 = time.perf_counter()
    if client is None:
        scratch = tempfile.mkdtemp(prefix="webbcal_pixmaps_")
        try:
            pixmaps = PixelMaps(job, scratch)
            for tile in tiles:
                planes = coadd_tile(tile, job, reader, pixmaps)
                sink.put(planes)
                log.info("Tile %d/%d (%d x %d, %d member(s)): %.2f s", tile.index + 1,
                         len(tiles), *tile.shape, len(tile.members), planes.seconds)  # fmt: skip
                del planes
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    else:
        from distributed import as_completed

        job_f, reader_f = client.scatter([job, reader], broadcast=True)
        futures = [client.submit(coadd_tile, tile, job_f, reader_f, pure=False,
                                 key=f"webbcal-tile-{tile.index}-{id(sink):x}")
                   for tile in tiles]  # fmt: skip
        for future in as_completed(futures):
            planes = future.result()
            future.release()
            sink.put(planes)
            log.info("Tile %d/%d (%d member(s)) from a worker: %.2f s", planes.tile.index + 1,
                     len(tiles), len(planes.tile.members), planes.seconds)  # fmt: skip
            del planes
    log.info("%d tile(s) combined in %.2f s", len(tiles), time.perf_counter() - t0)


@contextlib.contextmanager
def cluster_client(scheduler: str, *, n_tasks: int, bytes_per_task: int,
                   n_workers: int | None = None) -> Iterator[Any]:  # fmt: skip
    """A dask client: a new local cluster (``"local"``) or the scheduler at an address.

    The local cluster is set up as the batch runner's (one single-threaded worker
    process per core, as many as the memory allows, workers ignoring Ctrl-C).

    Parameters
    ----------
    scheduler : str
        ``"local"`` or a scheduler address such as ``tcp://host:8786``.
    n_tasks : int
        Tiles to run (no more workers than tiles).
    bytes_per_task : int
        Estimated peak memory of one tile task.
    n_workers : int or None
        Workers of the local cluster (default: from cores and memory).

    Raises
    ------
    ValueError
        If ``scheduler`` is empty.
    """
    from distributed import Client, LocalCluster

    from ..batch.runner import _quiet_resource_tracker, _sigint_ignored, cluster_size
    from ..batch.worker import WORKER_PRELOAD

    if not scheduler:
        raise ValueError("scheduler='': expected 'local' or a scheduler address")
    if scheduler != "local":
        with Client(scheduler) as client:
            yield client
        return
    n, limit = cluster_size(n_tasks, bytes_per_task)
    if n_workers is not None:
        n = n_workers
    log.info("Starting a local dask cluster for the tiles: %d worker(s) x 1 thread, %.1f GiB "
             "each", n, limit / 2**30)  # fmt: skip
    _quiet_resource_tracker()
    with _sigint_ignored():
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                               memory_limit=limit, dashboard_address=":0",
                               preload=[WORKER_PRELOAD])  # fmt: skip
    with cluster, Client(cluster) as client:
        yield client
