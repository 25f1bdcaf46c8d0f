"""Compiled running sums of the drizzled variances (one pass per plane, no temporaries).

The resample step combines each drizzled variance ``V`` of an exposure into
per-output-pixel sums with the weight ``w`` of that pixel (``1 / drizzled
VAR_RNOISE`` for "ivm", the time for "exptime", else 1)::

    wsum += V * w * w      (float64 arithmetic, stored as float32; w = 1 / VAR_RNOISE
                            is the float32 reciprocal)
    wt   += w              (float64 arithmetic, stored as float32)

only where ``V >= 0``, ``V`` is finite and ``w > 0``; a NaN ``wsum`` (nothing
added yet) counts as zero. The final variance is ``wsum * scaling / wt / wt`` in
float32 and the error ``sqrt`` of the sum of the variances that are not NaN
(NaN where all are). The numpy versions (``*_numpy``) are the reference the
compiled kernels reproduce bit for bit (``tests/resample/test_variance_sums.py``).
The kernels are serial: memory-bound passes, where numba's parallel regions cost
more CPU time than they save.

References
----------
JWST pipeline documentation, ``resample`` step, "Error propagation": variances
are combined with the inverse read-noise variance (or exposure time) weights,
``V_out = sum(w**2 V) / (sum w)**2``, scaled by the square of the pixel scale ratio.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = [
    "accumulate",
    "accumulate_numpy",
    "finish",
    "finish_numpy",
    "finish_single",
    "start_in_place",
]


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _accumulate(wsum, wt, var, rn, use_rn, constant):  # pragma: no cover - compiled
    ny, nx = var.shape
    for j in range(ny):
        _accumulate_row(wsum[j], wt[j], var[j], rn[j] if use_rn else rn[0], use_rn, constant)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _weight(rn, i, use_rn, constant):  # pragma: no cover - compiled
    """Pixel ``i``'s weight: the float32 reciprocal of its read-noise variance (as numpy's
    on the float32 plane), widened; 0 where that is not positive and finite; else the
    constant."""
    if not use_rn:
        return constant
    r = rn[i]
    return np.float64(np.float32(1.0) / r) if (r > 0 and np.isfinite(r)) else 0.0


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _accumulate_row(wsum, wt, var, rn, use_rn, constant):  # pragma: no cover - compiled
    for i in range(var.shape[0]):
        w = _weight(rn, i, use_rn, constant)
        v = var[i]
        if v >= 0 and np.isfinite(v) and w > 0:
            previous = np.float64(wsum[i])
            if np.isnan(previous):
                previous = 0.0
            wsum[i] = np.float32(previous + (np.float64(v) * w) * w)
            wt[i] = np.float32(np.float64(wt[i]) + w)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _start(var, wt, rn, use_rn, constant):  # pragma: no cover - compiled
    ny, nx = var.shape
    for j in range(ny):
        _start_row(var[j], wt[j], rn[j] if use_rn else rn[0], use_rn, constant)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _start_row(var, wt, rn, use_rn, constant):  # pragma: no cover - compiled
    # _accumulate_row onto wsum = NaN, wt = 0, with wsum stored over var; each
    # pixel's rn (which may be var itself) is read before its var is overwritten
    for i in range(var.shape[0]):
        w = _weight(rn, i, use_rn, constant)
        v = var[i]
        if v >= 0 and np.isfinite(v) and w > 0:
            var[i] = np.float32(0.0 + (np.float64(v) * w) * w)
            wt[i] = np.float32(0.0 + w)
        else:
            var[i] = np.float32(np.nan)


def start_in_place(var, wt, rn=None, constant: float = 1.0) -> None:
    """Turn a first drizzled variance plane into its running sums, in place.

    The same values as :func:`accumulate` onto new sums (``wsum`` NaN, ``wt``
    0), with ``wsum`` written over ``var``: no full-frame plane is allocated.

    Parameters
    ----------
    var : ndarray, shape (ny, nx), float32, C-contiguous
        Drizzled variance of the first exposure; overwritten with ``wsum``
        (so it must be the caller's own plane).
    wt : ndarray, shape (ny, nx), float32, C-contiguous
        Zeros; receives ``sum(w)``.
    rn : ndarray, shape (ny, nx), float32, or None
        As in :func:`accumulate`; it may be ``var`` itself (read pixel by pixel
        before being overwritten), but not another plane turned earlier.
    constant : float
        Weight when ``rn`` is None.

    Raises
    ------
    ValueError
        If ``var`` or ``wt`` is not a C-contiguous float32 plane of ``var``'s shape.
    """
    for name, a in (("var", var), ("wt", wt)):
        if a.dtype != np.float32 or not a.flags.c_contiguous or a.shape != var.shape:
            raise ValueError(f"{name}: {a.dtype} {a.shape}; expected a C-contiguous float32 "
                             f"plane of shape {var.shape}")  # fmt: skip
    use_rn = rn is not None
    rn = np.ascontiguousarray(rn if use_rn else np.zeros((1, 1)), dtype=np.float32)
    _start(var, wt, rn, use_rn, float(constant))


def accumulate(wsum, wt, var, rn=None, constant: float = 1.0) -> None:
    """Add one drizzled variance plane to its running sums, in place.

    Parameters
    ----------
    wsum, wt : ndarray, shape (ny, nx), float32, C-contiguous
        Running ``sum(w**2 V)`` (NaN where nothing was added) and ``sum(w)``;
        updated in place (they are the caller's accumulators).
    var : ndarray, shape (ny, nx), float32
        Drizzled variance of this exposure (NaN where nothing contributed).
    rn : ndarray, shape (ny, nx), float32, or None
        Drizzled read-noise variance: the weight is ``1 / rn`` where ``rn`` is
        positive and finite, else 0. None: the weight is ``constant`` everywhere.
    constant : float
        Weight when ``rn`` is None (1, or the exposure time in seconds).
    """
    var = np.ascontiguousarray(var, dtype=np.float32)
    use_rn = rn is not None
    rn = np.ascontiguousarray(rn if use_rn else np.zeros((1, 1)), dtype=np.float32)
    _accumulate(wsum, wt, var, rn, use_rn, float(constant))


def accumulate_numpy(wsum, wt, var, rn=None, constant: float = 1.0) -> None:
    """The numpy reference of :func:`accumulate` (same arguments, same bits)."""
    if rn is None:
        weight = np.full(var.shape, float(constant))
    else:
        weight = np.zeros(var.shape)
        ok = (rn > 0) & np.isfinite(rn)
        weight[ok] = np.reciprocal(rn[ok])  # float32 reciprocal stored as float64
    ok = (var >= 0) & np.isfinite(var) & (weight > 0)
    previous = wsum.astype(np.float64)
    previous[np.isnan(previous)] = 0.0
    with np.errstate(over="ignore", invalid="ignore"):
        total = previous + var * weight * weight
        np.copyto(wsum, total, where=ok, casting="same_kind")
        np.copyto(wt, wt + weight, where=ok, casting="same_kind")


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _finish(wsums, wts, present, scaling, variances, err):  # pragma: no cover - compiled
    ny, nx = err.shape
    nplanes = len(variances)
    for j in range(ny):
        for i in range(nx):
            total = np.float32(0.0)
            some = False
            for k in range(nplanes):
                if present[k]:
                    w = wts[k][j, i]
                    v = ((wsums[k][j, i] * scaling) / w) / w
                else:
                    v = np.float32(np.nan)
                variances[k][j, i] = v
                if not np.isnan(v):
                    total += v
                    some = True
            err[j, i] = np.sqrt(total) if some else np.float32(np.nan)


def finish(wsums: list, wts: list, scaling: float, shape: tuple, *,
           in_place: bool = False) -> tuple[list, np.ndarray]:  # fmt: skip
    """Final variances and error from the running sums.

    Parameters
    ----------
    wsums, wts : list of (ndarray (ny, nx) float32 or None)
        Running sums of each variance plane, at least one plane (None: the plane
        had no data, its output is NaN).
    scaling : float
        ``1 / pixel_scale_ratio**2`` (1 when there is no ratio).
    shape : tuple
        (ny, nx).
    in_place : bool
        Write each variance over its ``wsum`` (C-contiguous float32, the
        caller's own; the sums are then gone) instead of into a new plane.

    Returns
    -------
    variances : list of ndarray (ny, nx), float32
        ``wsum * scaling / wt / wt`` (float32 arithmetic), NaN for absent planes.
    err : ndarray (ny, nx), float32
        Square root of the sum of the variances that are not NaN; NaN where all are.
    """
    if not wsums:
        raise ValueError("wsums: expected at least one variance plane")
    present = np.array([w is not None for w in wsums], dtype=np.bool_)
    absent = np.zeros((1, 1), dtype=np.float32)
    # each pixel's variance is computed from its own sums only, so it may replace them
    variances = tuple(w if in_place and w is not None else np.empty(shape, dtype=np.float32)
                      for w in wsums)  # fmt: skip
    err = np.empty(shape, dtype=np.float32)
    _finish(tuple(absent if w is None else np.ascontiguousarray(w) for w in wsums),
            tuple(absent if w is None else np.ascontiguousarray(w) for w in wts),
            present, np.float32(scaling), variances, err)  # fmt: skip
    return list(variances), err


def finish_numpy(wsums: list, wts: list, scaling: float, shape: tuple) -> tuple[list, np.ndarray]:
    """The numpy reference of :func:`finish` (same arguments, same bits)."""
    out = []
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for wsum, wt in zip(wsums, wts, strict=True):
            if wsum is None:
                out.append(np.full(shape, np.nan, dtype=np.float32))
            else:
                out.append((wsum * np.float32(scaling) / wt / wt).astype(np.float32))
        stack = np.array(out)
        err = np.sqrt(np.nansum(stack, axis=0)).astype(np.float32)
    err[np.all(np.isnan(stack), axis=0)] = np.nan
    return out, err


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _finish_single(planes, present, rn, use_rn, constant, scaling, err):  # pragma: no cover
    ny, nx = err.shape
    for j in range(ny):
        for i in range(nx):
            # the pixel's weight first: rn may be one of the planes written below
            w = _weight(rn[j], i, use_rn, constant) if use_rn else constant
            wt = np.float32(0.0 + w)
            total = np.float32(0.0)
            some = False
            for k in range(len(planes)):
                if not present[k]:
                    continue
                v = planes[k][j, i]
                if v >= 0 and np.isfinite(v) and w > 0:
                    wsum = np.float32(0.0 + (np.float64(v) * w) * w)
                    out = ((wsum * scaling) / wt) / wt
                else:
                    out = np.float32(np.nan)
                planes[k][j, i] = out
                if not np.isnan(out):
                    total += out
                    some = True
            err[j, i] = np.sqrt(total) if some else np.float32(np.nan)


def finish_single(planes: list, scaling: float, rn=None, constant: float = 1.0):
    """Final variances and error of a combination of one exposure, in place.

    The same bits as :func:`start_in_place` on each plane followed by :func:`finish`
    (``in_place``), without the planes of summed weights: each pixel's weight is
    used as it is computed.

    Parameters
    ----------
    planes : list of (ndarray (ny, nx) float32, C-contiguous, or None)
        The exposure's drizzled variances (the caller's own planes: overwritten with
        the final variances); None for a plane without data (its output is NaN).
    scaling : float
        ``1 / pixel_scale_ratio**2`` (1 when there is no ratio).
    rn : ndarray (ny, nx) float32 or None
        Drizzled read-noise variance (it may be one of ``planes``): the weight is
        ``1 / rn`` where positive and finite, else 0. None: ``constant`` everywhere.
    constant : float
        Weight when ``rn`` is None.

    Returns
    -------
    variances : list of ndarray (ny, nx), float32
        The planes (new NaN planes for the absent ones).
    err : ndarray (ny, nx), float32
        Square root of the sum of the variances that are not NaN; NaN where all are.

    Raises
    ------
    ValueError
        If no plane is given or a plane is not C-contiguous float32 of one shape.
    """
    given = [a for a in planes if a is not None]
    if not given:
        raise ValueError("planes: expected at least one variance plane")
    shape = given[0].shape
    for a in given:
        if a.dtype != np.float32 or not a.flags.c_contiguous or a.shape != shape:
            raise ValueError(f"planes: {a.dtype} {a.shape}; expected C-contiguous float32 "
                             f"planes of shape {shape}")  # fmt: skip
    present = np.array([a is not None for a in planes], dtype=np.bool_)
    absent = np.zeros((1, 1), dtype=np.float32)
    use_rn = rn is not None
    rn = np.ascontiguousarray(rn if use_rn else np.zeros((1, 1)), dtype=np.float32)
    err = np.empty(shape, dtype=np.float32)
    _finish_single(tuple(absent if a is None else a for a in planes), present, rn, use_rn,
                   float(constant), np.float32(scaling), err)  # fmt: skip
    return [np.full(shape, np.nan, dtype=np.float32) if a is None else a for a in planes], err
