"""Background from dedicated background exposures (imaging and slit modes): the kernel.

The background exposures of a science exposure are averaged with sigma
clipping and the average is subtracted. Each background is first placed on the
science exposure's pixel grid (its subarray may differ; pixels it does not
cover are NaN). A background with integrations (``rateints``) is first reduced
to one image: sigma-clipped mean over its integrations, DQ OR-ed over them.

References
----------
JWST pipeline documentation, "Background Image Subtraction" (bkg_subtract):
"the background exposures are averaged together using sigma clipping … and the
average is subtracted from the target exposure"; astropy ``sigma_clip``
(median centre, standard-deviation scale).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

__all__ = ["SubarrayBox", "average_background", "on_science_grid"]


@dataclass(frozen=True)
class SubarrayBox:
    """Where an exposure lies on the detector: 0-based first row/column and size.

    Attributes
    ----------
    row0, col0 : int
        0-based detector row and column of the exposure's pixel (0, 0)
        (SUBSTRT2 - 1, SUBSTRT1 - 1).
    nrows, ncols : int
        SUBSIZE2, SUBSIZE1.
    """

    row0: int
    col0: int
    nrows: int
    ncols: int

    def overlaps(self, other: SubarrayBox) -> bool:
        """Whether the two boxes share at least one pixel."""
        return not (
            self.col0 + self.ncols <= other.col0
            or other.col0 + other.ncols <= self.col0
            or self.row0 + self.nrows <= other.row0
            or other.row0 + other.nrows <= self.row0
        )


def on_science_grid(
    science: SubarrayBox,
    background: SubarrayBox,
    data: np.ndarray,
    err: np.ndarray,
    dq: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Place a background exposure's arrays on the science exposure's pixel grid.

    Parameters
    ----------
    science, background : SubarrayBox
        Detector placement of the science and the background exposure.
    data, err : ndarray, shape ([nints,] nrows, ncols), float
        Background SCI (DN/s or MJy/sr) and ERR.
    dq : ndarray, same shape, uint32
        Background DQ.

    Returns
    -------
    data, err : ndarray, shape ([nints,] science.nrows, science.ncols), float64
        NaN where the background does not cover the science pixel.
    dq : ndarray, uint32
        0 where the background does not cover the science pixel.

    Notes
    -----
    The official step copies the overlap into the first rows and columns of the
    science frame, which is right only when both exposures start at the same
    detector pixel; here the overlap lands on the science pixels it covers.
    """
    lead = data.shape[:-2]
    shape = (*lead, science.nrows, science.ncols)
    out_data = np.full(shape, np.nan)
    out_err = np.full(shape, np.nan)
    out_dq = np.zeros(shape, np.uint32)
    r0 = max(science.row0, background.row0)
    r1 = min(science.row0 + science.nrows, background.row0 + background.nrows)
    c0 = max(science.col0, background.col0)
    c1 = min(science.col0 + science.ncols, background.col0 + background.ncols)
    if r1 <= r0 or c1 <= c0:
        return out_data, out_err, out_dq
    dst = (
        ...,
        slice(r0 - science.row0, r1 - science.row0),
        slice(c0 - science.col0, c1 - science.col0),
    )
    src = (..., slice(r0 - background.row0, r1 - background.row0),
           slice(c0 - background.col0, c1 - background.col0))  # fmt: skip
    out_data[dst] = data[src]
    out_err[dst] = err[src]
    out_dq[dst] = dq[src]
    return out_data, out_err, out_dq


def _clip(values: np.ndarray, sigma: float, maxiters: int | None) -> np.ma.MaskedArray:
    from astropy.stats import sigma_clip
    from astropy.utils.exceptions import AstropyUserWarning

    with warnings.catch_warnings():
        # NaN (uncovered) pixels are masked by design.
        warnings.filterwarnings("ignore", category=AstropyUserWarning)
        warnings.filterwarnings("ignore", category=RuntimeWarning)
        return sigma_clip(values, sigma=sigma, maxiters=maxiters, axis=0)


def average_background(
    data: list[np.ndarray],
    err: list[np.ndarray],
    dq: list[np.ndarray],
    *,
    sigma: float = 3.0,
    maxiters: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sigma-clipped average of background exposures already on the science grid.

    Parameters
    ----------
    data, err : list of ndarray, each shape (ny, nx) or (nints, ny, nx), float
        SCI and ERR of each background exposure (NaN where not covered).
    dq : list of ndarray, same shapes, uint32
        DQ of each background exposure.
    sigma : float
        Clipping threshold in standard deviations (lower and upper).
    maxiters : int or None
        Clipping iterations; None iterates until nothing more is clipped.

    Returns
    -------
    data : ndarray, shape (ny, nx), float64
        Mean of the unclipped backgrounds.
    err : ndarray, shape (ny, nx), float64
        Uncertainty of that mean: sqrt(sum of the unclipped ERR^2) / (number unclipped).
    dq : ndarray, shape (ny, nx), uint32
        OR of every background's DQ.

    Raises
    ------
    ValueError
        If the lists are empty or of different lengths.

    Notes
    -----
    Clipping is about the median with the standard deviation of the same
    samples, so among n exposures a single deviant one lies at most about
    2(n-1)/n standard deviations away: with fewer than about 10 backgrounds
    nothing is clipped at ``sigma=3`` (the official default), and the average is
    a plain mean. This is the official behaviour; lower ``sigma`` to reject.
    """
    if not data or not (len(data) == len(err) == len(dq)):
        raise ValueError(
            f"average_background needs equal, non-empty lists; got {len(data)} SCI, "
            f"{len(err)} ERR and {len(dq)} DQ arrays"
        )
    shape = data[0].shape[-2:]
    cdata = np.empty((len(data), *shape))
    cvar = np.empty_like(cdata)
    combined_dq = np.zeros(shape, np.uint32)
    for i, (d, e, q) in enumerate(zip(data, err, dq, strict=True)):
        if d.ndim == 3:
            cdata[i] = _clip(d, sigma, maxiters).mean(axis=0).filled(np.nan)
            cvar[i] = _clip(e * e, sigma, maxiters).mean(axis=0).filled(np.nan)
            combined_dq |= np.bitwise_or.reduce(q, axis=0)
        else:
            cdata[i] = d
            cvar[i] = e * e
            combined_dq |= q
    clipped = _clip(cdata, sigma, maxiters)
    mean = clipped.mean(axis=0).filled(np.nan)
    var = np.ma.masked_array(cvar, mask=np.ma.getmaskarray(clipped))
    count = len(data) - np.ma.getmaskarray(clipped).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        out_err = np.sqrt(var.sum(axis=0).filled(np.nan)) / count
    return mean, out_err, combined_dq
