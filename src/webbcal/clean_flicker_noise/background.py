"""Background statistics for 1/f cleaning: sigma clipping, scene masks and smooth backgrounds.

The 1/f (flicker) noise is measured on pixels that see only background. These helpers find
those pixels in a rate image (iterative sigma clipping, optionally refined by a Gaussian fit
to the histogram of values) and estimate the background level to remove before the noise fit
(a single median or a smooth low-resolution model).

References
----------
JWST pipeline documentation, "clean_flicker_noise" step: scene masking and background
removal. Willott 2022, "image1overf" (https://github.com/chriswillott/jwst).
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
from astropy.stats import sigma_clipped_stats
from astropy.utils.exceptions import AstropyUserWarning
from scipy.ndimage import map_coordinates, median_filter
from scipy.optimize import curve_fit

__all__ = ["background_level", "clip_to_background", "scene_mask"]

log = logging.getLogger(__name__)

#: Clipping limit (sigma) of the basic statistics and of the background estimate.
_CLIP = 3.0


def _clipped(values: np.ndarray, mask: np.ndarray | None = None) -> tuple[float, float, float]:
    """Sigma-clipped (3 sigma, 5 iterations) mean, median and standard deviation."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyUserWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        mean, median, std = sigma_clipped_stats(
            values, mask=None if mask is None else ~mask, sigma=_CLIP
        )
    return float(mean), float(median), float(std)


def _gaussian(x: np.ndarray, amp: float, mean: float, sigma: float) -> np.ndarray:
    return amp * np.exp(-0.5 * ((x - mean) / sigma) ** 2)


def _histogram_fit(values: np.ndarray, center: float, sigma: float) -> tuple[float, float]:
    """Refine (center, sigma) with a Gaussian fitted to a 2000-bin histogram within 4 sigma."""
    if not (np.isfinite(sigma) and sigma > 0):
        return center, sigma
    hist, edges = np.histogram(values, bins=2000, range=(center - 4 * sigma, center + 4 * sigma))
    x = 0.5 * (edges[1:] + edges[:-1])
    peak = int(np.argmax(hist))
    try:
        popt, _ = curve_fit(
            _gaussian, x, hist, p0=(hist[peak], x[peak], sigma),
            bounds=([0, x[0], 0], [np.inf, x[-1], x[-1] - x[0]]),
        )  # fmt: skip
    except (RuntimeError, ValueError):
        log.warning("Gaussian fit to the histogram failed; using sigma-clipped statistics")
        return center, sigma
    return float(popt[1]), float(popt[2])


def clip_to_background(
    image: np.ndarray,
    mask: np.ndarray,
    *,
    sigma_lower: float = 3.0,
    sigma_upper: float = 2.0,
    fit_histogram: bool = False,
    lower_half_only: bool = False,
) -> np.ndarray:
    """Remove signal and low outliers from a background mask.

    The background centre and width come from 3-sigma iterative clipping of the masked
    values (centre: the clipped median, or the clipped mean when ``fit_histogram``). With
    ``lower_half_only`` they are recomputed from the values below the centre mirrored about
    it (robust to faint diffuse emission, which only adds a tail above the background). With
    ``fit_histogram`` they are refined by a Gaussian fit to the histogram. Pixels above
    ``center + sigma_upper * sigma`` or below ``center - sigma_lower * sigma`` leave the mask.

    Parameters
    ----------
    image : ndarray, shape (ny, nx), float
    mask : ndarray, shape (ny, nx), bool
        True for background pixels.
    sigma_lower, sigma_upper : float
        Clipping limits below and above the centre (sigma).
    fit_histogram, lower_half_only : bool
        See above.

    Returns
    -------
    ndarray, shape (ny, nx), bool
        The new mask (the input is not modified).
    """
    image = np.asarray(image, dtype=np.float64)
    mask = np.array(mask, dtype=bool)
    if not mask.any():
        return mask
    mean, median, sigma = _clipped(image, mask)
    center = mean if fit_histogram else median
    values = image[mask]
    if lower_half_only:
        low = values[values <= center]
        values = np.concatenate((low, 2.0 * center - low))
        mean, median, sigma = _clipped(values)
        center = mean if fit_histogram else median
    if fit_histogram:
        center, sigma = _histogram_fit(values, center, sigma)
    log.debug("Background centre %.5g, sigma %.5g", center, sigma)
    with np.errstate(invalid="ignore"):
        mask &= image >= center - sigma_lower * sigma
        mask &= image <= center + sigma_upper * sigma
    return mask


def scene_mask(
    rate: np.ndarray,
    *,
    n_sigma: float = 2.0,
    fit_histogram: bool = False,
    exclude: np.ndarray | None = None,
) -> np.ndarray:
    """Background pixels of a rate image (or of each plane of a rateints cube).

    Pixels that are NaN or exactly zero, flagged in ``exclude``, brighter than
    ``n_sigma`` or fainter than 3 sigma from the clipped background (see
    :func:`clip_to_background`) are not background. ``n_sigma = 0`` skips the clipping.

    Parameters
    ----------
    rate : ndarray, shape (ny, nx) or (nints, ny, nx), float, DN/s
    n_sigma : float
        Upper clipping limit (sigma); must be >= 0.
    fit_histogram : bool
        Derive the clipping centre and sigma from a Gaussian fit to the histogram.
    exclude : ndarray of bool, broadcastable to ``rate``, optional
        Pixels never used (e.g. non-science regions).

    Returns
    -------
    ndarray of bool, shape of ``rate``
        True for background pixels.

    Raises
    ------
    ValueError
        If ``rate`` is not 2-D or 3-D or ``n_sigma`` is negative.
    """
    rate = np.asarray(rate)
    if rate.ndim not in (2, 3):
        raise ValueError(f"rate has shape {rate.shape}; expected (ny, nx) or (nints, ny, nx)")
    if not n_sigma >= 0:
        raise ValueError(f"n_sigma={n_sigma!r} is not valid; expected a value >= 0")
    mask = np.isfinite(rate) & (rate != 0)
    if exclude is not None:
        mask &= ~np.broadcast_to(exclude, rate.shape)
    if n_sigma > 0:
        planes = mask.reshape((-1,) + rate.shape[-2:])
        images = rate.reshape(planes.shape)
        for i in range(planes.shape[0]):
            planes[i] = clip_to_background(
                images[i], planes[i], sigma_upper=n_sigma, fit_histogram=fit_histogram
            )
    return mask


def _default_box(shape: tuple[int, int]) -> tuple[int, int]:
    """Largest box size <= 32 that divides each axis."""
    return tuple(max(b for b in range(1, 33) if n % b == 0) for n in shape)


def _model_background(image: np.ndarray, mask: np.ndarray, box: tuple[int, int]) -> np.ndarray:
    """Smooth background: clipped medians in boxes, 5x5 median filter, cubic interpolation."""
    ny, nx = image.shape
    by, bx = box
    gy, gx = -(-ny // by), -(-nx // bx)
    padded = np.full((gy * by, gx * bx), np.nan)
    padded[:ny, :nx] = np.where(mask, image, np.nan)
    blocks = padded.reshape(gy, by, gx, bx).transpose(0, 2, 1, 3).reshape(gy, gx, -1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        med = np.nanmedian(blocks, axis=-1)
        for _ in range(5):
            std = np.nanstd(blocks, axis=-1)
            blocks = np.where(
                np.abs(blocks - med[..., None]) <= _CLIP * std[..., None], blocks, np.nan
            )
            med = np.nanmedian(blocks, axis=-1)
    if not np.isfinite(med).any():
        raise ValueError("no background pixel in any box")
    # Boxes without background take the median of the others.
    med = np.where(np.isfinite(med), med, np.nanmedian(med))
    med = median_filter(med, size=(min(5, gy), min(5, gx)), mode="nearest")
    yy = (np.arange(ny) + 0.5) / by - 0.5
    xx = (np.arange(nx) + 0.5) / bx - 0.5
    coords = np.meshgrid(yy, xx, indexing="ij")
    order = 3 if min(gy, gx) >= 4 else 1
    return map_coordinates(med, coords, order=order, mode="nearest")


def background_level(
    image: np.ndarray,
    mask: np.ndarray,
    *,
    method: str | None = "median",
    box_size: tuple[int, int] | None = None,
) -> tuple[np.ndarray | float, np.ndarray]:
    """Background level to remove before fitting the noise, and the refined mask.

    The mask is first cleaned with :func:`clip_to_background` (3 sigma on both sides, lower
    half of the distribution). ``"median"`` returns the median of the remaining pixels;
    ``"model"`` a smooth image (sigma-clipped medians in ``box_size`` boxes, a 5x5 median
    filter of the box grid and cubic interpolation); ``None`` returns 0 and leaves the mask.

    Parameters
    ----------
    image : ndarray, shape (ny, nx), float
    mask : ndarray, shape (ny, nx), bool
        True for background pixels.
    method : {"median", "model", None}
    box_size : (int, int), optional
        Box (ny, nx) of the ``"model"`` grid; default the largest size <= 32 dividing each
        axis.

    Returns
    -------
    background : float or ndarray, shape (ny, nx)
    mask : ndarray of bool, shape (ny, nx)

    Raises
    ------
    ValueError
        For an unknown ``method``.
    """
    if method is None:
        return 0.0, mask
    if method not in ("median", "model"):
        raise ValueError(f"method={method!r} is not valid; expected 'median', 'model' or None")
    mask = clip_to_background(image, mask, sigma_lower=_CLIP, sigma_upper=_CLIP,
                              lower_half_only=True)  # fmt: skip
    if not mask.any():
        return 0.0, mask
    if method == "model":
        box = tuple(box_size) if box_size is not None else _default_box(image.shape)
        if image.shape[0] % box[0] or image.shape[1] % box[1]:
            log.warning("Background box size %s does not divide the image shape %s evenly",
                        box, image.shape)  # fmt: skip
        try:
            return _model_background(image, mask, box), mask
        except ValueError:
            log.error("Background model failed; using the median background")
    return float(np.median(image[mask])), mask
