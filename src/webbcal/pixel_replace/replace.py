"""Kernels of the ``pixel_replace`` step: estimate bad pixels of 2-D spectral images.

Two estimators, as in the official step (jwst 3.0.0, ``jwst.pixel_replace``):

``mingrad`` (minimum gradient)
    Each non-finite SCI pixel at least two pixels from every edge is replaced by the mean of
    its two neighbours along the axis (rows or columns) where those two neighbours differ
    least; an axis whose pair holds a non-finite value is not used, and a pixel with no
    usable pair is left alone. ERR takes the same mean of its neighbours on the chosen
    axis; each VAR_* array the square of the mean of the neighbours' square roots.
    DO_NOT_USE is cleared (unless NON_SCIENCE is set) and FLUX_ESTIMATED set on every
    pixel replaced.

``fit_profile`` (spatial profile fit)
    Within the bounding box of the pixels without DO_NOT_USE, each cross-dispersion profile
    (a column for DISPAXIS=1, a row for DISPAXIS=2) that holds DO_NOT_USE pixels (not
    NON_SCIENCE) is compared with the median of its ``n_adjacent_cols`` neighbouring
    profiles on each side (each normalised to its largest absolute value unless no
    neighbour pixel reaches a signal-to-noise ratio of 5). That median profile is scaled
    to the good pixels of the profile by a Nelder-Mead minimisation of the mean squared
    difference (started at 1, as officially, so the fitted scale agrees with the official
    one to float precision), and the scaled median replaces the DO_NOT_USE pixels. ERR
    and the square roots of VAR_* are estimated by the same scaled median of the
    neighbours' values. Replaced pixels with a finite estimate lose DO_NOT_USE and gain
    FLUX_ESTIMATED; DO_NOT_USE pixels of a treated profile without an estimate become
    NaN.

Functions take arrays and return new arrays; nothing given is modified.

References
----------
JWST pipeline documentation, ``pixel_replace`` step (description: "Minimum gradient",
"Fit profile"; arguments ``algorithm``, ``n_adjacent_cols``); jwst 3.0.0
``jwst/pixel_replace/pixel_replace.py`` (the behaviour reproduced here, including the
two-pixel edge margin of ``mingrad``).
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np

from ..dqflags import DO_NOT_USE, NON_SCIENCE, PIXEL

__all__ = ["ALGORITHMS", "VARIANCES", "ReplacedPixels", "replace_bad_pixels"]

log = logging.getLogger(__name__)

FLUX_ESTIMATED = PIXEL["FLUX_ESTIMATED"]
#: Replacement algorithms implemented here.
ALGORITHMS = ("fit_profile", "mingrad")
#: Variance arrays that are replaced alongside SCI and ERR, in this order.
VARIANCES = ("var_poisson", "var_rnoise", "var_flat")
#: Neighbour-profile signal-to-noise ratio below which profiles are not normalised.
_MIN_PROFILE_SNR = 5.0
#: Values at or above which no scale is fitted (the official overflow guard).
_HUGE = 1e20


@dataclass(frozen=True)
class ReplacedPixels:
    """Arrays after pixel replacement (same shapes and dtypes as the inputs).

    Attributes
    ----------
    data, err : ndarray, shape (ny, nx) or (nints, ny, nx)
        SCI and ERR with estimated values.
    dq : ndarray, same shape, uint32
        DQ with FLUX_ESTIMATED set (and DO_NOT_USE cleared) on estimated pixels.
    variances : dict of str to ndarray
        The VAR_* arrays given (keys among :data:`VARIANCES`), with estimated values.
    n_replaced : ndarray, shape (nints,) or (1,), int
        Pixels of each integration newly finite and flagged FLUX_ESTIMATED.
    """

    data: np.ndarray
    dq: np.ndarray
    err: np.ndarray
    variances: dict
    n_replaced: np.ndarray


def replace_bad_pixels(
    data: np.ndarray,
    dq: np.ndarray,
    err: np.ndarray,
    *,
    variances: dict | None = None,
    algorithm: str = "mingrad",
    dispaxis: int,
    n_adjacent_cols: int = 3,
) -> ReplacedPixels:
    """Estimate the bad pixels of one spectral image or of a stack of integrations.

    Parameters
    ----------
    data : ndarray, shape (ny, nx) or (nints, ny, nx), float
        SCI, surface brightness or count rate (any unit: estimates share it). Axis order
        (integration, row y, column x), 0-based pixels.
    dq : ndarray, same shape, unsigned int
        Pixel DQ flags (DO_NOT_USE marks the pixels ``fit_profile`` replaces).
    err : ndarray, same shape, float
        Total error, unit of ``data``.
    variances : dict of str to ndarray or None, optional
        VAR_POISSON / VAR_RNOISE / VAR_FLAT (keys among :data:`VARIANCES`), same shape,
        unit of ``data`` squared; ``None`` values are ignored.
    algorithm : {"mingrad", "fit_profile"}, optional
        Estimator (see the module description).
    dispaxis : {1, 2}
        Dispersion direction (DISPAXIS): 1 along x (columns are spatial profiles),
        2 along y (rows are spatial profiles).
    n_adjacent_cols : int, optional
        ``fit_profile``: neighbouring profiles on each side used for the median profile
        (>= 0; 0 replaces nothing).

    Returns
    -------
    ReplacedPixels
        New arrays; integrations are treated independently.

    Raises
    ------
    ValueError
        If ``algorithm`` is not one of :data:`ALGORITHMS`, ``dispaxis`` is not 1 or 2,
        ``n_adjacent_cols`` is negative, or the arrays are not 2-D/3-D of one shape.
    """
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm={algorithm!r}: expected one of {', '.join(ALGORITHMS)}")
    if dispaxis not in (1, 2):
        raise ValueError(f"dispaxis={dispaxis!r}: expected 1 (along x) or 2 (along y)")
    if n_adjacent_cols < 0:
        raise ValueError(f"n_adjacent_cols={n_adjacent_cols!r}: expected >= 0")
    given = {k: v for k, v in (variances or {}).items() if v is not None}
    unknown = set(given) - set(VARIANCES)
    if unknown:
        raise ValueError(f"variances: unknown arrays {sorted(unknown)}; expected {VARIANCES}")
    shape = np.shape(data)
    if len(shape) not in (2, 3):
        raise ValueError(f"data has shape {shape}; expected (ny, nx) or (nints, ny, nx)")
    for name, arr in (("dq", dq), ("err", err), *given.items()):
        if np.shape(arr) != shape:
            raise ValueError(f"{name} has shape {np.shape(arr)}; data has {shape}")
    # Working copies, always 3-D (views of the copies are returned for 2-D input).
    arrays = {"data": np.array(data), "dq": np.array(dq), "err": np.array(err)}
    arrays.update({k: np.array(given[k]) for k in VARIANCES if k in given})
    cube = {k: v.reshape((-1,) + shape[-2:]) for k, v in arrays.items()}
    before = _estimated(cube["data"], cube["dq"])
    if algorithm == "mingrad":
        _mingrad(cube)
    else:
        for i in range(cube["data"].shape[0]):
            _fit_profile(
                {k: v[i] for k, v in cube.items()}, dispaxis=dispaxis, n_adjacent=n_adjacent_cols
            )
    n_replaced = np.count_nonzero(_estimated(cube["data"], cube["dq"]) & ~before, axis=(1, 2))
    return ReplacedPixels(
        data=arrays["data"],
        dq=arrays["dq"],
        err=arrays["err"],
        variances={k: arrays[k] for k in VARIANCES if k in arrays},
        n_replaced=n_replaced,
    )


def _estimated(data: np.ndarray, dq: np.ndarray) -> np.ndarray:
    return np.isfinite(data) & ((dq & FLUX_ESTIMATED) != 0)


def _clear(dq: np.ndarray, flag: int) -> np.ndarray:
    return dq & ~np.asarray(flag, dtype=dq.dtype)


# --------------------------------------------------------------------------- mingrad
def _mingrad(cube: dict) -> None:
    """Minimum-gradient replacement of every integration of ``cube`` (updated in place).

    ``cube``: working copies, shape (nints, ny, nx).
    """
    data = cube["data"]
    ny, nx = data.shape[-2:]
    # Officially only pixels with 2 <= y <= ny - 2 and 2 <= x <= nx - 2 are candidates.
    k, y, x = np.nonzero(~np.isfinite(data[:, 2 : ny - 1, 2 : nx - 1]))
    y, x = y + 2, x + 2
    with np.errstate(invalid="ignore", over="ignore"):
        across = np.abs(data[k, y, x - 1] - data[k, y, x + 1])
        along = np.abs(data[k, y - 1, x] - data[k, y + 1, x])
    across = np.where(np.isnan(across), np.inf, across)
    along = np.where(np.isnan(along), np.inf, along)
    usable = ~(np.isinf(across) & np.isinf(along))
    k, y, x = k[usable], y[usable], x[usable]
    vertical = along[usable] < across[usable]  # ties go to the horizontal pair
    y_lo, y_hi = np.where(vertical, y - 1, y), np.where(vertical, y + 1, y)
    x_lo, x_hi = np.where(vertical, x, x - 1), np.where(vertical, x, x + 1)
    for name, arr in cube.items():
        if name == "dq":
            continue
        a, b = arr[k, y_lo, x_lo], arr[k, y_hi, x_hi]
        with np.errstate(invalid="ignore", over="ignore"):
            if name in VARIANCES:  # averaged as errors
                arr[k, y, x] = ((np.sqrt(a) + np.sqrt(b)) / 2.0) ** 2
            else:
                arr[k, y, x] = (a + b) / 2.0
    dq = cube["dq"]
    flags = dq[k, y, x]
    science = (flags & NON_SCIENCE) == 0
    flags = np.where(science, _clear(flags, DO_NOT_USE), flags)
    dq[k, y, x] = flags | np.asarray(FLUX_ESTIMATED, dtype=dq.dtype)


# --------------------------------------------------------------------------- fit_profile
def _fit_profile(image: dict, *, dispaxis: int, n_adjacent: int) -> None:
    """Profile-fit replacement of one 2-D image (``image``: working copies, updated)."""
    # Orient every array as (dispersion index, spatial index): each row is a profile.
    view = {k: (v if dispaxis == 2 else v.T) for k, v in image.items()}
    dq0 = view["dq"].copy()
    good = (dq0 & DO_NOT_USE) == 0
    if not good.any():
        log.warning("No good pixels in the image: no pixel replaced")
        return
    rows, cols = np.flatnonzero(good.any(axis=1)), np.flatnonzero(good.any(axis=0))
    first, stop = int(rows[0]), int(rows[-1]) + 1
    span = slice(int(cols[0]), int(cols[-1]) + 1)
    cut = dq0[first:stop, span]
    nonscience = (cut & NON_SCIENCE) != 0
    bad = ((cut & DO_NOT_USE) != 0) & ~nonscience
    n_bad = np.count_nonzero(bad, axis=1)
    usable = np.zeros(dq0.shape[0], dtype=bool)
    usable[first:stop] = n_bad + np.count_nonzero(nonscience, axis=1) < cut.shape[1]
    todo = first + np.flatnonzero(usable[first:stop] & (n_bad > 0))
    for row in todo:
        near = np.arange(max(row - n_adjacent, 0), row + n_adjacent + 1)
        near = near[(near != row) & (near < usable.size)]
        near = near[usable[near]]
        if near.size == 0:
            log.info("Profile %d has no usable neighbour: not replaced", row)
            continue
        _replace_profile(view, dq0, int(row), near, span)


def _neighbour_medians(view: dict, dq0: np.ndarray, near: np.ndarray, span: slice):
    """Median normalised profile of the neighbours, and of their ERR and sqrt(VAR_*).

    Returns
    -------
    norm : ndarray, shape (n_near, 1)
    median : ndarray, shape (n_span,)
    err_medians : dict of str to ndarray, shape (n_span,)
    """
    masked = (dq0[near, span] & DO_NOT_USE) != 0
    profiles = view["data"][near, span]
    profiles[masked] = np.nan
    errors = {"err": view["err"][near, span]}
    for name in VARIANCES:
        if name in view:
            errors[name] = np.sqrt(view[name][near, span])
    for arr in errors.values():
        arr[masked] = np.nan
    snr = np.abs(profiles / errors["err"])
    norm = np.nanmax(np.abs(profiles), axis=1, keepdims=True)
    if np.nanmax(snr) < _MIN_PROFILE_SNR:  # noise only: normalising would fit noise
        norm[:] = 1.0
    median = np.nanmedian(profiles / norm, axis=0)
    err_medians = {k: np.nanmedian(v / norm, axis=0) for k, v in errors.items()}
    return norm, median, err_medians


def _profile_mse(scale, model: np.ndarray, observed: np.ndarray) -> float:
    """Mean squared difference of ``observed`` and ``model * scale`` (NaNs left out)."""
    return np.nansum((observed - model * scale) ** 2.0) / (
        len(model) - np.count_nonzero(np.isnan(observed))
    )


def _fit_scale(norm: np.ndarray, median: np.ndarray, current: np.ndarray):
    """(fitted normalised scale, amplitude) bringing ``median`` to ``current``'s good pixels."""
    from scipy.optimize import minimize

    model, observed = median, current
    peak = np.max(observed)
    relative = observed / peak
    if (
        np.nanmedian(norm) != 1.0
        and np.nanmax(np.abs(model)) < _HUGE
        and np.nanmax(np.abs(relative)) < _HUGE
    ):
        fit = minimize(
            _profile_mse,
            x0=np.abs(np.nanmax(relative)),
            args=(np.abs(model), np.abs(relative)),
            method="Nelder-Mead",
        )
        return fit.x, peak
    return 1.0, 1.0


def _replace_profile(view: dict, dq0: np.ndarray, row: int, near: np.ndarray, span: slice):
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        warnings.filterwarnings("ignore", "All-NaN slice encountered", RuntimeWarning)
        norm, median, err_medians = _neighbour_medians(view, dq0, near, span)
        flags = dq0[row, span]
        current = np.where((flags & DO_NOT_USE) != 0, np.nan, view["data"][row, span])
        good = ~np.isnan(current)
        if not good.any():
            log.info("Profile %d has no good pixel: not replaced", row)
            return
        fit, amp = _fit_scale(norm, median[good], current[good])
        replace = ((flags & DO_NOT_USE) != 0) & ((flags & NON_SCIENCE) == 0)
        estimate = np.where(replace, median * fit * amp, current)
        view["data"][row, span] = estimate
        done = replace & ~np.isnan(estimate)
        view["dq"][row, span] = np.where(
            done, _clear(flags, DO_NOT_USE) | np.asarray(FLUX_ESTIMATED, flags.dtype), flags
        )
        view["err"][row, span] = np.where(
            replace, err_medians["err"] * fit * amp, view["err"][row, span]
        )
        for name in VARIANCES:
            if name in view:
                view[name][row, span] = np.where(
                    replace, (err_medians[name] * fit * amp) ** 2, view[name][row, span]
                )
