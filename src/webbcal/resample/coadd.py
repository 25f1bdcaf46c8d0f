"""Drizzle exposures onto one output grid: science, weight, context, variances, error.

The numerical core of the imaging ``resample`` step, on plain arrays. Each
exposure is added in turn (:meth:`Coadd.add`) and only the output planes are
kept, so memory does not grow with the number of exposures; the context plane
is drizzle's compact one: one int32 plane per 32 exposures, bit ``k % 32`` of
plane ``k // 32`` set where exposure ``k`` contributed.

For each exposure:

1. pixels invalid in any of SCI, ERR or a variance, or flagged DO_NOT_USE, are
   invalid everywhere (NaN, DO_NOT_USE);
2. the drizzle weight of a pixel is zero where DQ has DO_NOT_USE or NON_SCIENCE,
   else ``1 / VAR_RNOISE`` (``weight_type="ivm"``; 0 where not finite; 1 when
   the exposure has no VAR_RNOISE) or the measurement (else exposure) time
   (``"exptime"``);
3. the input-to-output pixel map is :func:`webbcal.wcs.pixel_map` (bicubic
   interpolation from a node grid with a measured error bound, never above
   0.001 output pixel; exact when the bound cannot be met);
4. SCI (less the sky level when it was measured but not subtracted) is drizzled
   with the ``drizzle`` package's C kernel (``cdrizzle.tdriz``, the call behind
   ``Drizzle.add_image``) with that weight map; when the map is made here, in
   strips of rows (each with its part of the map, weights and inputs and one row
   beyond on each side), so that the full-frame float64 map is never held: the
   same contributions in the same order as one call for the whole exposure;
5. each variance ``V`` is drizzled as ``sqrt(V)`` with the same pixel map,
   weights and input box and squared (with the square kernel all of them, and
   ERR in ``drizzle_err`` mode, in one compiled pass that computes each input
   pixel's footprint once: :mod:`webbcal.resample._square_planes`; with the
   other kernels one ``Drizzle`` per plane); the results are combined across
   exposures with the per-output-pixel weight ``w = 1 / drizzled VAR_RNOISE``
   ("ivm") or the time ("exptime"): ``V_out = sum(w**2 V) / (sum w)**2``,
   divided by the square of the pixel scale ratio;
6. ERR is the square root of the sum of the output variances (NaN where all
   are NaN).

References
----------
Fruchter, A. S. & Hook, R. N. 2002, PASP 114, 144 ("Drizzle: A Method for the
Linear Reconstruction of Undersampled Images").

JWST pipeline documentation, ``resample`` step ("Description": weighting,
context image, error and variance propagation) and the ``drizzle`` package
documentation (``Drizzle.add_image``: pixmap, weight map, context planes).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
from drizzle import cdrizzle
from drizzle.resample import CTX_PLANE_BITS, Drizzle

from ..dqflags import DO_NOT_USE, NON_SCIENCE
from ..lib.overlap import overlap_enabled, run_beside
from ..wcs import MAX_TOLERANCE, PixelMapFit, fit_pixel_map
from ._variance_sums import accumulate, finish, finish_single, start_in_place
from .constants import KERNELS, VARIANCE_NAMES
from .tiles import tile_halo

log = logging.getLogger(__name__)

__all__ = [
    "KERNELS",
    "VARIANCE_NAMES",
    "WEIGHT_TYPES",
    "Coadd",
    "CoaddParams",
    "CoaddResult",
    "Exposure",
    "PixelMapStore",
    "drizzle_weight",
    "mark_invalid",
]

#: Bytes of float64 (ny, nx, 2) pixel map held at once when an exposure is drizzled in
#: strips of rows (see :meth:`Coadd.add`): 8 MiB, 256 rows of a 2048-pixel-wide detector.
STRIP_MAP_BYTES = 8 * 2**20
#: Fewest rows in a strip (drizzle needs at least two rows of valid map in each call).
MIN_STRIP_ROWS = 32

WEIGHT_TYPES = ("ivm", "exptime")
#: DQ bits that give a pixel zero weight (all others are ignored).
BAD_BITS = DO_NOT_USE | NON_SCIENCE


@dataclass(frozen=True)
class CoaddParams:
    """Options of the drizzle combination.

    Attributes
    ----------
    pixfrac : float
        Linear shrink of input pixels, 0 < pixfrac <= 1.
    kernel : str
        One of :data:`KERNELS`.
    fillval : str
        Output value where nothing contributed (``"NAN"``, ``"INDEF"`` or a number).
    weight_type : str or None
        One of :data:`WEIGHT_TYPES`; None gives unit weights to good pixels.
    enable_ctx : bool
        Compute the context planes.
    enable_var : bool
        Drizzle the variances (and compute ERR from them).
    drizzle_err : bool
        Drizzle ERR itself like SCI (divided by the pixel scale ratio) instead of
        computing it from the variances (the official ``single`` mode).
    tolerance : float
        Pixel-map error bound, output pixels (<= 0.001).
    initial_step : int
        First node spacing of the pixel-map grid, input pixels.
    bad_bits : int
        DQ bits that give a pixel zero weight (``resample``: DO_NOT_USE and
        NON_SCIENCE; ``outlier_detection``: the complement of its ``good_bits``).
    """

    pixfrac: float = 1.0
    kernel: str = "square"
    fillval: str = "NAN"
    weight_type: str | None = "ivm"
    enable_ctx: bool = True
    enable_var: bool = True
    drizzle_err: bool = False
    tolerance: float = MAX_TOLERANCE
    initial_step: int = 128
    bad_bits: int = BAD_BITS

    def __post_init__(self):
        if not 0.0 < self.pixfrac <= 1.0:
            raise ValueError(f"pixfrac={self.pixfrac!r}: expected 0 < pixfrac <= 1")
        if self.kernel not in KERNELS:
            raise ValueError(f"kernel={self.kernel!r}: expected one of {KERNELS}")
        if self.weight_type is not None and self.weight_type not in WEIGHT_TYPES:
            raise ValueError(f"weight_type={self.weight_type!r}: expected one of {WEIGHT_TYPES}")
        if not 0.0 < self.tolerance <= MAX_TOLERANCE:
            raise ValueError(f"tolerance={self.tolerance!r}: expected 0 < t <= {MAX_TOLERANCE}")


@dataclass
class Exposure:
    """One exposure to add: arrays (ny, nx) and the metadata the sums need.

    Attributes
    ----------
    data : ndarray, float32, surface brightness (e.g. MJy/sr)
    dq : ndarray, uint32
    wcs : gwcs.WCS
        Input pixel -> (RA, Dec) degrees.
    variances : dict of str to ndarray
        Some of :data:`VARIANCE_NAMES` (square of the data unit).
    err : ndarray or None
        Total error (data unit); drizzled only with ``drizzle_err``.
    exposure_time : float
        Seconds, > 0.
    measurement_time : float or None
        Seconds.
    start_time, end_time : float or None
        MJD.
    duration : float or None
        Seconds.
    group_id : str
        Exposures of one group (one pointing) count once in the time sums.
    sky_level : float or None
        Sky level to subtract (when measured but not yet subtracted).
    name : str
        For messages.
    """

    data: np.ndarray
    dq: np.ndarray
    wcs: object
    variances: dict = field(default_factory=dict)
    err: np.ndarray | None = None
    exposure_time: float = 1.0
    measurement_time: float | None = None
    start_time: float | None = None
    end_time: float | None = None
    duration: float | None = None
    group_id: str = ""
    sky_level: float | None = None
    name: str = "<exposure>"


@dataclass
class CoaddResult:
    """Output planes (ny, nx) and summed exposure metadata.

    Attributes
    ----------
    data, wht : ndarray, float32
    con : ndarray, int32, shape (nplanes, ny, nx) or None
    dq : ndarray, uint32 or None
        Bitwise OR of contributing input DQ (``propagate_dq``).
    variances : dict of str to ndarray, float32
    err : ndarray, float32 or None
    pointings : int
        Distinct groups added.
    exposure_time, duration : float
        Sums over groups, seconds.
    measurement_time : float or None
        Sum over groups, None unless every exposure had one.
    start_time, end_time : float or None
        Earliest start, latest end (MJD).
    max_pixmap_error : float
        Largest pixel-map error bound used, output pixels.
    """

    data: np.ndarray
    wht: np.ndarray
    con: np.ndarray | None
    dq: np.ndarray | None
    variances: dict
    err: np.ndarray | None
    pointings: int
    exposure_time: float
    duration: float
    measurement_time: float | None
    start_time: float | None
    end_time: float | None
    max_pixmap_error: float


def mark_invalid(data, dq, err=None, variances=None):
    """Make invalid pixels agree across planes: NaN in every plane and DO_NOT_USE.

    Parameters
    ----------
    data : ndarray (ny, nx), float
    dq : ndarray (ny, nx), uint32
    err : ndarray (ny, nx) or None
    variances : dict of str to ndarray (ny, nx) or None

    Returns
    -------
    tuple
        ``(data, dq, err, variances)``; a pixel is invalid where any plane is NaN or
        DQ has DO_NOT_USE. A plane that needs a change is a new array (the inputs are
        never modified); one that is already consistent is returned as it is, not
        copied, so do not modify the results in place. Planes of another shape are
        left as they are.

    References
    ----------
    JWST pipeline documentation, ``resample`` (invalid data are NaN with DO_NOT_USE).
    """
    variances = dict(variances or {})
    planes = [p for p in [err, *variances.values()] if p is not None and p.shape == data.shape]
    invalid = np.isnan(data)
    for plane in planes:
        invalid |= np.isnan(plane)
    invalid |= (dq & DO_NOT_USE).astype(bool)

    where = np.flatnonzero(invalid)

    def nanned(a):
        if a is None or a.shape != data.shape or np.isnan(a.reshape(-1)[where]).all():
            return a  # nothing to change: no copy of a full-frame plane
        out = np.array(a, copy=True)
        out[invalid] = np.nan
        return out

    if dq.dtype == np.uint32 and (dq.reshape(-1)[where] & DO_NOT_USE).all():
        new_dq = dq
    else:
        new_dq = np.array(dq, dtype=np.uint32, copy=True)
        new_dq[invalid] |= np.uint32(DO_NOT_USE)
    return nanned(data), new_dq, nanned(err), {k: nanned(v) for k, v in variances.items()}


def drizzle_weight(
    dq, *, weight_type: str, var_rnoise=None, time: float | None = None, bad_bits: int = BAD_BITS
):
    """Per-pixel drizzle weight of one exposure.

    Parameters
    ----------
    dq : ndarray (ny, nx), uint32
    weight_type : {"ivm", "exptime"} or None
        None: unit weights.
    var_rnoise : ndarray (ny, nx) or None
        Read-noise variance ("ivm"); None gives unit weights.
    time : float or None
        Measurement (else exposure) time, seconds ("exptime").
    bad_bits : int
        DQ bits that give a pixel zero weight (default DO_NOT_USE | NON_SCIENCE).

    Returns
    -------
    ndarray (ny, nx), float32
        Zero where DQ has any of ``bad_bits``.

    Raises
    ------
    ValueError
        On an unknown ``weight_type`` or a missing ``time`` for "exptime".
    """
    good = ((dq & np.uint32(bad_bits)) == 0).astype(np.uint8)
    if weight_type == "ivm":
        if var_rnoise is None or var_rnoise.shape != dq.shape:
            log.warning("VAR_RNOISE not available: drizzle weights set to 1")
            inverse = np.ones(dq.shape, dtype=np.float32)
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                inverse = 1.0 / var_rnoise
            inverse[~np.isfinite(inverse)] = 0
        np.multiply(inverse, good, out=inverse)  # a new plane of ours: no temporaries
        return inverse.astype(np.float32, copy=False)
    if weight_type == "exptime":
        if time is None:
            raise ValueError("weight_type='exptime' needs the exposure or measurement time")
        return (np.float32(time) * good).astype(np.float32)
    if weight_type is None:
        return good.astype(np.float32)
    raise ValueError(f"weight_type={weight_type!r}: expected one of {WEIGHT_TYPES}")


def _fill_string(fillval) -> str:
    """``fillval`` as drizzle's C kernel takes it ("NaN" for None, "", "INDEF").

    Raises
    ------
    ValueError
        If it is neither one of those nor a number.
    """
    text = "INDEF" if fillval is None else str(fillval).strip()
    if text.upper() in ("", "INDEF"):
        return "NaN"
    try:
        float(text)
    except ValueError:
        raise ValueError(f"fillval={fillval!r}: expected a number, 'NaN' or 'INDEF'") from None
    return text


def _fill_value(fillval) -> float:
    """Drizzle's value where nothing contributed: NaN for "NaN", "INDEF", "", else the number."""
    return float(_fill_string(fillval))


def _one_pass_applies(params: CoaddParams, pixel_scale_ratio, margin: int) -> bool:
    """Whether the error and variance planes take the one-pass compiled square kernel.

    It uses every input pixel of the box, drizzle only those inside its output
    array: the planes agree where at least the kernel's reach (``tile_halo``) of
    output pixels is cut away at every edge. Drizzle replaces the square kernel by
    the point kernel at ``pixfrac <= 0.001``.
    """
    from ._square_planes import MIN_PIXFRAC

    return (params.kernel == "square" and params.pixfrac > MIN_PIXFRAC
            and margin >= tile_halo(params.kernel, pixel_scale_ratio))  # fmt: skip


def _input_range(wcs, shape):
    """Inclusive input pixel range (xmin, xmax, ymin, ymax) inside the WCS bounding box."""
    ny, nx = shape
    bbox = getattr(wcs, "bounding_box", None)
    if bbox is None:
        return 0, nx - 1, 0, ny - 1
    (x1, x2), (y1, y2) = bbox.bounding_box(order="F")
    xmin, ymin = max(0, int(x1 + 0.5)), max(0, int(y1 + 0.5))
    xmax = max(xmin, min(nx - 1, int(x2 + 0.5)))
    ymax = max(ymin, min(ny - 1, int(y2 + 0.5)))
    return xmin, xmax, ymin, ymax


class PixelMapStore:
    """Pixel maps kept by name for a second use, within a byte budget.

    Parameters
    ----------
    budget_bytes : int
        Most bytes held at once; a map that would exceed it is not kept.
    tolerance : float
        The ``tolerance`` of the maps offered (:func:`webbcal.wcs.pixel_map`).
    initial_step : int
        Their first node spacing.

    Notes
    -----
    A name offered twice is never returned (the maps could differ). A map taken is
    removed from the store and belongs to the taker.
    """

    def __init__(self, budget_bytes: int, *, tolerance: float, initial_step: int):
        self.budget_bytes = int(budget_bytes)
        self.tolerance = float(tolerance)
        self.initial_step = int(initial_step)
        self._maps: dict[str, np.ndarray] = {}
        self._ambiguous: set[str] = set()
        self.held_bytes = 0

    def offer(self, name: str, pixmap: np.ndarray) -> bool:
        """Keep ``pixmap`` (not copied: it must not be modified) under ``name``; True if kept."""
        if name in self._ambiguous:
            return False
        if name in self._maps:
            self._ambiguous.add(name)
            self.held_bytes -= self._maps.pop(name).nbytes
            return False
        if self.held_bytes + pixmap.nbytes > self.budget_bytes:
            return False
        self._maps[name] = pixmap
        self.held_bytes += pixmap.nbytes
        return True

    def take(self, name: str, shape: tuple[int, int], *, tolerance: float,
             initial_step: int) -> np.ndarray | None:  # fmt: skip
        """The map kept for ``name`` if it was made for ``shape`` with these parameters."""
        pixmap = self._maps.pop(name, None)
        if pixmap is None:
            return None
        self.held_bytes -= pixmap.nbytes
        same = (pixmap.shape[:2] == tuple(shape) and float(tolerance) == self.tolerance
                and int(initial_step) == self.initial_step)  # fmt: skip
        return pixmap if same else None

    def clear(self) -> None:
        """Drop every map held."""
        self._maps.clear()
        self.held_bytes = 0


class Coadd:
    """Running drizzle combination of exposures on one output grid.

    Parameters
    ----------
    output_wcs : gwcs.WCS
        Output grid with ``array_shape`` (ny, nx).
    params : CoaddParams
    n_inputs : int
        Number of exposures to be added (sizes the context planes).
    pixel_scale_ratio : float or None
        Output over input pixel scale (kernel size; variance scaling). None: 1
        for the kernel and no variance scaling.
    pixel_map_function : callable or None
        ``f(wcs_from, wcs_to, shape) -> (ny, nx, 2) pixmap``; default the gridded
        :func:`webbcal.wcs.pixel_map` at ``params.tolerance``.
    propagate_dq : bool
        Keep the bitwise OR of the contributing input DQ.
    pad : int, optional
        Output pixels drizzled beyond every edge of the grid and cut away by
        :meth:`finalize` (default 0). Drizzle drops the input pixels that are not
        entirely inside its output array, so without a margin the pixels on the
        grid's outer edge lose the input pixels that straddle it; with a margin at
        least the kernel's reach (:func:`webbcal.resample.tiles.tile_halo`) every
        output pixel receives all its input pixels, and a mosaic combined tile by
        tile equals the whole-grid combination on its edges too.
    cut_margin : int, optional
        Output pixels at every edge of the result that the caller discards itself
        (the halo of a tile of :mod:`webbcal.resample.tiles`; default 0). When
        ``pad + cut_margin`` is at least :func:`~webbcal.resample.tiles.tile_halo`
        and the kernel is "square", the error and variance planes are drizzled in
        one compiled pass that takes every input pixel of the input box, also those
        straddling the array's edge which drizzle drops; the planes then equal
        drizzle's (to rounding) everywhere except in that margin.
    map_store : PixelMapStore or None, optional
        Offered each exposure's pixel map (before the margin shift), for the caller
        to reuse (outlier detection blots onto the same maps).
    """

    def __init__(self, output_wcs, params: CoaddParams, *, n_inputs: int,
                 pixel_scale_ratio: float | None, pixel_map_function=None,
                 propagate_dq: bool = False, pad: int = 0, cut_margin: int = 0,
                 map_store: PixelMapStore | None = None):  # fmt: skip
        if n_inputs < 1:
            raise ValueError(f"n_inputs={n_inputs!r}: expected at least one exposure")
        if pad < 0:
            raise ValueError(f"pad={pad!r}: expected a margin >= 0 output pixels")
        if cut_margin < 0:
            raise ValueError(f"cut_margin={cut_margin!r}: expected a margin >= 0 output pixels")
        self.wcs = output_wcs
        self.params = params
        self.shape = tuple(int(n) for n in output_wcs.array_shape)
        self.pad = int(pad)
        #: Shape of the drizzled arrays (the grid and its margin).
        self._shape = (self.shape[0] + 2 * self.pad, self.shape[1] + 2 * self.pad)
        self.pixel_scale_ratio = pixel_scale_ratio
        self.propagate_dq = propagate_dq
        self._pixmap = pixel_map_function or self._gridded_map
        self._owns_maps = pixel_map_function is None  # each map a new array of ours
        self.map_store = map_store
        # drizzle's output planes (its C kernel is called directly: every strip of
        # rows of one exposure sets that exposure's context bit)
        self._fillstr = _fill_string(params.fillval)
        self._img = np.full(self._shape, _fill_value(params.fillval), dtype=np.float32)
        self._wht = np.zeros(self._shape, dtype=np.float32)
        self._ctx = None
        if params.enable_ctx:
            n_planes = (n_inputs - 1) // CTX_PLANE_BITS + 1
            self._ctx = np.zeros((n_planes, *self._shape), dtype=np.int32)
        self._out_dq = None
        #: Error and variance planes in one compiled pass (square kernel, margin cut).
        self._one_pass = _one_pass_applies(params, pixel_scale_ratio, self.pad + int(cut_margin))
        self._driz_err = None
        self._err_sums = None  # running ERR mean and weight sum (one-pass ERR)
        if params.drizzle_err and self._one_pass:
            fill = _fill_value(params.fillval)
            self._err_sums = (np.full((1, *self._shape), fill, dtype=np.float32),
                              np.zeros(self._shape, dtype=np.float32), fill)  # fmt: skip
        elif params.drizzle_err:
            self._driz_err = Drizzle(kernel=params.kernel, fillval=params.fillval,
                                     out_shape=self._shape, disable_ctx=True)  # fmt: skip
        self._wsum: dict[str, np.ndarray] = {}
        self._wt: dict[str, np.ndarray] = {}
        self._pending = None  # the first exposure's drizzled variances, not yet summed
        self._groups: list[str] = []
        self._times = {"exposure": 0.0, "duration": 0.0, "measurement": 0.0}
        self._measured_all = True
        self._starts: list[float] = []
        self._ends: list[float] = []
        self.max_pixmap_error = 0.0
        self.n_added = 0
        self._finalized = False

    def _gridded_map(self, wcs_from, wcs_to, shape):
        pm = self._fit_map(wcs_from, wcs_to, shape)
        return pm.rows(0, pm.shape[0])

    def _fit_map(self, wcs_from, wcs_to, shape) -> PixelMapFit:
        pm = fit_pixel_map(wcs_from, wcs_to, shape=shape, tolerance=self.params.tolerance,
                           initial_step=max(8, self.params.initial_step))  # fmt: skip
        self.max_pixmap_error = max(self.max_pixmap_error, pm.max_error)
        log.info("Pixel map: error bound %.2g output pixel (%d exact evaluations)",
                 pm.max_error, pm.n_exact)  # fmt: skip
        return pm

    def _strips(self, ymin: int, ymax: int, nx: int) -> list[tuple[int, int]]:
        """Inclusive input row ranges drizzled one after the other (one: the whole box).

        With the map made here and the error and variance planes in the compiled
        pass, the rows go in strips of about :data:`STRIP_MAP_BYTES` of pixel map
        (never fewer than :data:`MIN_STRIP_ROWS` rows), each with its map, weights
        and inputs: drizzle gives each output pixel the same contributions in the
        same order as for the whole box (its square kernel and the compiled pass
        read one row of the map beyond the strip on each side, given with it).
        """
        if not (self._owns_maps and self.map_store is None and self._one_pass):
            return [(ymin, ymax)]
        rows = max(MIN_STRIP_ROWS, STRIP_MAP_BYTES // (16 * max(1, nx)))
        strips = [(y, min(ymax, y + rows - 1)) for y in range(ymin, ymax + 1, rows)]
        if len(strips) > 1 and strips[-1][1] - strips[-1][0] + 1 < MIN_STRIP_ROWS:
            strips[-2:] = [(strips[-2][0], ymax)]  # no short last strip
        return strips

    def add(self, exposure: Exposure) -> None:
        """Drizzle one exposure into the output planes.

        Raises
        ------
        ValueError
            If the arrays are not 2-D of one shape, the exposure time is not > 0, or
            ERR is missing in ``drizzle_err`` mode.
        RuntimeError
            If :meth:`finalize` was called before, or more exposures are added than
            ``n_inputs`` with the context plane on.
        """
        if self._finalized:
            raise RuntimeError(f"{exposure.name}: cannot be added after finalize()")
        data = exposure.data
        if data.ndim != 2 or exposure.dq.shape != data.shape:
            raise ValueError(f"{exposure.name}: SCI {data.shape} and DQ {exposure.dq.shape} "
                             "must be 2-D arrays of one shape")  # fmt: skip
        if not (exposure.exposure_time is not None and exposure.exposure_time > 0):
            raise ValueError(f"{exposure.name}: EFFEXPTM/exposure_time="
                             f"{exposure.exposure_time!r}; expected a positive time")  # fmt: skip
        p = self.params
        if p.drizzle_err and (exposure.err is None or exposure.err.shape != data.shape):
            raise ValueError(f"{exposure.name}: ERR is missing or not of the SCI shape")
        if self._ctx is not None and self.n_added // CTX_PLANE_BITS >= self._ctx.shape[0]:
            raise RuntimeError(f"{exposure.name}: more exposures added than n_inputs="
                               f"{self._ctx.shape[0] * CTX_PLANE_BITS}")  # fmt: skip
        t0 = time.perf_counter()
        ny, nx = data.shape
        xmin, xmax, ymin, ymax = _input_range(exposure.wcs, data.shape)
        strips = self._strips(ymin, ymax, nx)
        if len(strips) == 1:  # the whole map, as made (maybe kept for the caller)
            full = self._pixmap(exposure.wcs, self.wcs, data.shape)
            shared = not self._owns_maps
            if self.map_store is not None:
                shared = self.map_store.offer(exposure.name, full) or shared
            if self.pad:  # onto the padded arrays (whole pixels)
                full = full + float(self.pad) if shared else np.add(full, float(self.pad),
                                                                    out=full)  # fmt: skip
            rows = lambda a, b: full  # noqa: E731
            bounds = [(0, ny)]
        else:
            fit = self._fit_map(exposure.wcs, self.wcs, data.shape)

            def rows(a, b):
                part = fit.rows(a, b)
                return np.add(part, float(self.pad), out=part) if self.pad else part

            bounds = [(max(0, y0 - 1), min(ny, y1 + 2)) for y0, y1 in strips]
        t1 = time.perf_counter()
        seconds = exposure.measurement_time or exposure.exposure_time
        var_rnoise = exposure.variances.get("var_rnoise")
        if var_rnoise is not None and var_rnoise.shape != data.shape:
            var_rnoise = None  # drizzle_weight warns and gives unit weights
        names = self._variance_names(exposure) if p.enable_var else []
        variance_sums = None
        if self._one_pass and names:
            variance_sums = (np.empty((len(names), *self._shape), dtype=np.float32),
                             np.zeros(self._shape, dtype=np.float32))  # fmt: skip
        drizzled = {}
        for k, ((y0, y1), (a, b)) in enumerate(zip(strips, bounds, strict=True)):
            pixmap = rows(a, b)
            weight = drizzle_weight(exposure.dq[a:b], weight_type=p.weight_type, time=seconds,
                                    var_rnoise=None if var_rnoise is None else var_rnoise[a:b],
                                    bad_bits=p.bad_bits)  # fmt: skip
            sci = data[a:b]
            if exposure.sky_level is not None:
                sci = sci - exposure.sky_level
            box = (xmin, xmax, y0 - a, y1 - a)
            last = k == len(strips) - 1
            sci_args = (sci, weight, pixmap, exposure.dq[a:b], box, last)
            if self._one_pass and (self._err_sums is not None or variance_sums is not None):
                # the compiled planes (GIL released) in a worker thread while SCI is
                # drizzled by drizzle's C kernel (which holds the GIL): they read the
                # same map and weights and write different planes
                plane_args = (exposure, names, (a, b), weight, pixmap, box, variance_sums, last)
                if overlap_enabled():
                    run_beside(lambda entering, args=plane_args: self._add_one_pass(
                                   *args, entering=entering),
                               lambda args=sci_args: self._drizzle_sci(*args))  # fmt: skip
                else:
                    self._drizzle_sci(*sci_args)
                    self._add_one_pass(*plane_args)
                del plane_args
            else:
                self._drizzle_sci(*sci_args)
            if not self._one_pass:
                kwargs = self._drizzle_kwargs(exposure, weight, pixmap, box)
                if self._driz_err is not None:
                    self._driz_err.add_image(np.asarray(exposure.err, dtype=np.float32),
                                             **kwargs)  # fmt: skip
                drizzled = self._add_variances(exposure, kwargs) if p.enable_var else {}
                del kwargs
            # the map and weights are no longer needed: let them go before the sums
            del pixmap, weight, sci, sci_args
        del rows
        if variance_sums is not None:
            out, variance_sums = variance_sums[0], None  # the weights go before the sums
            np.square(out, out=out)
            drizzled = dict(zip(names, out, strict=True))
        if drizzled:
            self._accumulate_variances(drizzled, seconds)
        self._add_times(exposure)
        self.n_added += 1
        log.info("Drizzled %s: pixel map %.2f s, drizzle %.2f s", exposure.name, t1 - t0,
                 time.perf_counter() - t1)  # fmt: skip

    def _drizzle_kwargs(self, exposure, weight, pixmap, box):
        """Keyword arguments of ``Drizzle.add_image`` for one exposure's (part of the) rows."""
        xmin, xmax, ymin, ymax = box
        return dict(exptime=exposure.exposure_time, pixmap=pixmap, iscale=1.0,
                    pixel_scale_ratio=self.pixel_scale_ratio or 1.0, weight_map=weight,
                    wht_scale=1.0, pixfrac=self.params.pixfrac, in_units="cps",
                    xmin=xmin, xmax=xmax, ymin=ymin, ymax=ymax)  # fmt: skip

    def _drizzle_sci(self, sci, weight, pixmap, dq, box, last=True):
        """SCI (with WHT, context and DQ) of some rows of an exposure: drizzle's C kernel.

        Called once per strip of rows; every strip of one exposure sets the same
        context bit (``k % 32`` of plane ``k // 32`` for the ``k``-th exposure), as
        ``Drizzle.add_image`` does for a whole exposure. The fill value goes to the
        output pixels without weight after the ``last`` strip only (drizzle's fill is
        a pass over the whole output plane; a pixel without weight is never written).
        """
        xmin, xmax, ymin, ymax = box
        plane, bit = divmod(self.n_added, CTX_PLANE_BITS)
        outdq = None
        if self.propagate_dq:
            if self._out_dq is None:
                self._out_dq = np.zeros(self._shape, dtype=np.uint32)
            outdq, dq = self._out_dq, np.asarray(dq, dtype=np.uint32)
        else:
            dq = None
        cdrizzle.tdriz(
            input=np.asarray(sci, dtype=np.float32), weights=weight,
            pixmap=np.asarray(pixmap, dtype=np.float64), output=self._img,
            counts=self._wht, context=None if self._ctx is None else self._ctx[plane],
            input2=None, output2=None, dq=dq, outdq=outdq, uniqid=bit + 1,
            xmin=xmin, xmax=xmax, ymin=ymin, ymax=ymax, iscale=1.0,
            pscale_ratio=self.pixel_scale_ratio or 1.0, pixfrac=self.params.pixfrac,
            kernel=self.params.kernel, in_units="cps", expscale=1.0,
            wtscale=1.0, fillstr=self._fillstr if last else "INDEF",
            fillstr2=self._fillstr,
        )  # fmt: skip

    def _drizzle_variance(self, variance, kwargs):
        driz = Drizzle(out_shape=self._shape, kernel=self.params.kernel, fillval=np.nan,
                       disable_ctx=True)  # fmt: skip
        driz.add_image(np.sqrt(variance), **kwargs)
        out = driz.out_img
        np.square(out, out=out)
        return out

    @staticmethod
    def _variance_names(exposure):
        """The variance planes of ``exposure`` that are drizzled (present, SCI's shape)."""
        shape = exposure.data.shape
        return [name for name in VARIANCE_NAMES
                if (var := exposure.variances.get(name)) is not None and var.size > 0
                and var.shape == shape]  # fmt: skip

    def _add_one_pass(self, exposure, names, rows, weight, pixmap, box, variance_sums, last, *,
                      entering=None):  # fmt: skip
        """ERR (``drizzle_err``) and the variances ``names`` of input rows ``rows[0]:rows[1]``
        with the compiled square kernel, into the running ERR mean and ``variance_sums``
        (the square roots' weighted means and their weights; drizzle's fill value where
        nothing contributed is given after the ``last`` strip). ``entering`` is called
        before the first compiled pass (:func:`webbcal.lib.overlap.run_beside`).
        """
        from ._square_planes import drizzle_square_planes

        a, b = rows
        common = dict(pixfrac=self.params.pixfrac, bounds=box, entering=entering)
        err = None
        if self._err_sums is not None:
            out, counts, fill = self._err_sums
            err = (np.asarray(exposure.err[a:b], dtype=np.float32)[None], out, counts,
                   fill if last else None)  # fmt: skip
        if variance_sums is not None:
            # the kernel takes each variance's square root as it reads the pixel; ERR
            # (its running mean over the exposures) in the same pass, same overlaps
            out, counts = variance_sums
            drizzle_square_planes([exposure.variances[n][a:b] for n in names], weight, pixmap,
                                  out=out, counts=counts, fill=np.nan if last else None,
                                  roots=True, also=err, **common)  # fmt: skip
        elif err is not None:
            drizzle_square_planes(err[0], weight, pixmap, out=err[1], counts=err[2],
                                  fill=err[3], **common)  # fmt: skip

    def _add_variances(self, exposure, kwargs):
        """The variances drizzled one ``Drizzle`` each (name: new plane)."""
        drizzled = {}
        for name in self._variance_names(exposure):
            with np.errstate(invalid="ignore"):
                drizzled[name] = self._drizzle_variance(exposure.variances[name], kwargs)
        return drizzled

    def _accumulate_variances(self, drizzled, seconds):
        """Add this exposure's drizzled variances (new planes of ours) to the sums.

        The first exposure's planes are kept as they are until a second one comes
        (then they become the sums): a combination of one exposure is finished from
        them directly (:func:`finish_single`), without planes of summed weights.
        """
        rn, constant = None, 1.0
        if self.params.weight_type == "ivm":
            rn = drizzled.get("var_rnoise")
        elif self.params.weight_type == "exptime":
            constant = seconds
        if self._pending is None and not self._wsum:
            self._pending = (drizzled, rn, constant)
            return
        self._flush_pending()
        self._sum(drizzled, rn, constant)

    def _flush_pending(self):
        if self._pending is not None:
            pending, self._pending = self._pending, None
            self._sum(*pending)

    def _sum(self, drizzled, rn, constant):
        # The first exposure's planes become the sums in place (no new planes): the
        # one that gives the weights last, after the others have read it.
        for name in sorted(drizzled, key=lambda n: drizzled[n] is rn):
            var = drizzled[name]
            if name not in self._wsum:
                self._wt[name] = np.zeros(self._shape, dtype=np.float32)
                if var.dtype == np.float32 and var.flags.c_contiguous:
                    start_in_place(var, self._wt[name], rn, constant)
                    self._wsum[name] = var
                    continue
                self._wsum[name] = np.full(self._shape, np.nan, dtype=np.float32)
            # One compiled pass per plane (float64 arithmetic, no temporaries).
            accumulate(self._wsum[name], self._wt[name], var, rn, constant)

    def _add_times(self, exposure):
        if exposure.group_id in self._groups:
            return
        self._groups.append(exposure.group_id)
        self._starts.append(exposure.start_time)
        self._ends.append(exposure.end_time)
        self._times["exposure"] += exposure.exposure_time
        if exposure.measurement_time is None:
            self._measured_all = False
        else:
            self._times["measurement"] += exposure.measurement_time
        if exposure.duration is not None:
            self._times["duration"] += exposure.duration

    def _final_variances(self):
        """Output variances (dict) and ERR from the running sums (written over them)."""
        scaling = 1.0 if self.pixel_scale_ratio is None else 1.0 / self.pixel_scale_ratio**2
        if self._pending is not None and not self._wsum:
            (drizzled, rn, constant), self._pending = self._pending, None
            planes = [drizzled.get(n) for n in VARIANCE_NAMES]
            if all(p is None or (p.dtype == np.float32 and p.flags.c_contiguous)
                   for p in planes):  # fmt: skip
                planes, err = finish_single(planes, scaling, rn, constant)
                return dict(zip(VARIANCE_NAMES, planes, strict=True)), err
            self._sum(drizzled, rn, constant)
        self._flush_pending()
        planes, err = finish([self._wsum.get(n) for n in VARIANCE_NAMES],
                             [self._wt.get(n) for n in VARIANCE_NAMES], scaling,
                             self._shape, in_place=True)  # fmt: skip
        self._wsum, self._wt = {}, {}
        return dict(zip(VARIANCE_NAMES, planes, strict=True)), err

    def _cut(self, plane: np.ndarray | None) -> np.ndarray | None:
        """The grid's part of a drizzled plane (the margin cut away), in the plane's memory.

        The rows of the grid are moved to the start of the plane's own buffer, in
        order (each goes to an address at or before the one it is read from), and a
        view of them is returned: no full-frame copy. The padded plane is overwritten.
        """
        if plane is None or not self.pad:
            return plane
        p = self.pad
        if not plane.flags.c_contiguous:
            return np.ascontiguousarray(plane[..., p:-p, p:-p])
        *lead, nyp, nxp = plane.shape
        ny, nx = nyp - 2 * p, nxp - 2 * p
        flat = plane.reshape(-1)
        padded = plane.reshape(-1, nyp, nxp)
        for k in range(padded.shape[0]):
            base = k * ny * nx
            for r in range(ny):
                flat[base + r * nx : base + (r + 1) * nx] = padded[k, p + r, p : p + nx]
        return flat[: padded.shape[0] * ny * nx].reshape(*lead, ny, nx)

    def finalize(self) -> CoaddResult:
        """The output planes and summed times.

        Called once: the output planes are cut out of the running arrays in place,
        so no exposure can be added afterwards.

        Raises
        ------
        RuntimeError
            If no exposure was added, or ``finalize`` was called before.
        """
        if self.n_added == 0:
            raise RuntimeError("no exposure was added to the drizzle combination")
        if self._finalized:
            raise RuntimeError("finalize() was already called on this combination")
        self._finalized = True
        ratio = self.pixel_scale_ratio or 1.0
        variances, err = {}, None
        if self.params.enable_var:
            variances, err = self._final_variances()
        if self._driz_err is not None:
            err = (self._driz_err.out_img / ratio).astype(np.float32)
        elif self._err_sums is not None:
            err = self._err_sums[0][0]
            np.divide(err, ratio, out=err)  # the same loop and rounding as (err / ratio)
        starts = [t for t in self._starts if t is not None]
        ends = [t for t in self._ends if t is not None]
        cut = self._cut
        return CoaddResult(
            data=cut(self._img),
            wht=cut(self._wht),
            con=cut(self._ctx),
            dq=cut(self._out_dq) if self.propagate_dq else None,
            variances={name: cut(plane) for name, plane in variances.items()},
            err=cut(err),
            pointings=len(self._groups),
            exposure_time=self._times["exposure"],
            duration=self._times["duration"],
            measurement_time=self._times["measurement"] if self._measured_all else None,
            start_time=min(starts) if starts else None,
            end_time=max(ends) if ends else None,
            max_pixmap_error=self.max_pixmap_error,
        )
