"""Fits of 1/f (flicker) read noise along the fast-read direction of near-infrared detectors.

1/f noise slower than a row read is common to the pixels of one row of one output: it
shows as stripes along the fast-read direction. Both fits work in detector orientation (fast
direction along the last axis, see :mod:`webbcal.refpix.orientation`) on a
background-subtracted image and the mask of its background pixels:

* ``median`` -- each row's (or each row segment's, per output) median of the background
  pixels is the noise of that row (Willott's "image1overf").
* ``fft`` -- each row (segment) is fitted in Fourier space: a truncated Fourier series with
  a cosine low-pass window is fitted to the background pixels by weighted least squares, each
  pixel weighted by the inverse of the local density of background pixels along the row so
  that crowded and sparse parts of the row count alike; outliers are replaced by the row
  median first (NSClean, Rauscher 2024). All rows share one basis, so the normal equations of
  every row are built with two matrix products and solved in one batch.

References
----------
Rauscher 2024, PASP 136, 015001, "NSClean: An Algorithm for Removing Correlated Noise from
JWST NIRSpec Images". Willott 2022, "image1overf" (https://github.com/chriswillott/jwst).
JWST pipeline documentation, "clean_flicker_noise" step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d

from webbcal.lib.subarray import SubarrayGeometry
from webbcal.refpix.orientation import detector_window, to_detector

__all__ = [
    "ReadoutLayout",
    "fft_noise",
    "lowpass_window",
    "median_noise",
    "noise_model",
]

_AMP_WIDTH = 512
#: Low-pass half-power frequency (cycles/pixel) and cosine roll-off width of the fft fit.
FFT_CUTOFF = 1.0 / 256.0
FFT_ROLLOFF = FFT_CUTOFF / 4.0
#: Gaussian sigma (pixels) of the local background-density estimate used as fft weights.
DENSITY_SIGMA = 32.0
#: Outlier limit (robust sigma) within a row of the fft fit.
ROW_SIGREJ = 3.0
#: Ridge (relative to the summed weights) stabilising rows with large gaps.
RIDGE = 1e-4


@dataclass(frozen=True)
class ReadoutLayout:
    """How a DMS image maps onto the detector readout.

    Attributes
    ----------
    fastaxis, slowaxis : int
        FASTAXIS / SLOWAXIS keywords.
    channels : tuple of (int, int)
        Column ranges ``[start, stop)`` read by each output, in detector orientation (fast
        direction along the last axis). One range covering the row when one output reads it.
    """

    fastaxis: int
    slowaxis: int
    channels: tuple[tuple[int, int], ...]

    @classmethod
    def from_geometry(
        cls, geometry: SubarrayGeometry, *, fastaxis: int, slowaxis: int, noutputs: int = 1
    ) -> ReadoutLayout:
        """Layout of a (sub)array read by ``noutputs`` outputs.

        Raises
        ------
        ValueError
            If the axes are invalid or ``noutputs`` is not 1 or 4.
        """
        if noutputs not in (1, 4):
            raise ValueError(f"noutputs={noutputs!r} is not valid; expected 1 or 4")
        win = detector_window(geometry, fastaxis, slowaxis)
        if noutputs == 1:
            return cls(fastaxis, slowaxis, ((0, win.nx),))
        starts = sorted({max(win.x0, a) for a in range(0, win.full_nx, _AMP_WIDTH)
                         if a + _AMP_WIDTH > win.x0 and a < win.x0 + win.nx})  # fmt: skip
        stops = [*starts[1:], win.x0 + win.nx]
        ranges = tuple((a - win.x0, b - win.x0) for a, b in zip(starts, stops, strict=True))
        return cls(fastaxis, slowaxis, ranges)

    def segments(self, by_channel: bool) -> tuple[tuple[int, int], ...]:
        """Column ranges fitted independently: one per output, or the whole row."""
        if by_channel:
            return self.channels
        return ((self.channels[0][0], self.channels[-1][1]),)


def _row_median(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Median of the masked values of each row; 0 where a row has none.

    Sorting with the unused values pushed to the end is much faster than ``nanmedian``,
    which loops over rows as soon as one NaN is present.
    """
    ordered = np.sort(np.where(mask, values, np.inf), axis=-1)
    count = mask.sum(axis=-1)
    lo = np.take_along_axis(ordered, np.maximum((count - 1) // 2, 0)[:, None], axis=-1)[:, 0]
    hi = np.take_along_axis(ordered, np.minimum(count // 2, values.shape[-1] - 1)[:, None],
                            axis=-1)[:, 0]  # fmt: skip
    with np.errstate(invalid="ignore"):
        med = 0.5 * (lo + hi)
    return np.where(count > 0, med, 0.0)


def median_noise(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Row medians of the background pixels, broadcast along the row (detector orientation).

    Parameters
    ----------
    image : ndarray, shape (ny, nx), float
        Background-subtracted image segment, fast direction along the last axis.
    mask : ndarray, shape (ny, nx), bool
        True for background pixels.

    Returns
    -------
    ndarray, shape (ny, nx), float64
        The noise model (0 in rows without background pixels).
    """
    med = _row_median(image, mask)
    return np.broadcast_to(med[:, None], image.shape).astype(np.float64)


def lowpass_window(n: int, cutoff: float = FFT_CUTOFF, width: float = FFT_ROLLOFF) -> np.ndarray:
    """Gain of the low-pass window at the Fourier frequencies ``k / n`` (cycles/pixel).

    Unity below ``cutoff - width/2``, a half-cosine roll-off to zero at ``cutoff + width/2``
    (0.5 at ``cutoff``), zero above.

    Returns
    -------
    ndarray, shape (n // 2 + 1,), float64
    """
    f = np.fft.rfftfreq(n)
    x = np.clip((f - (cutoff - width / 2)) / width, 0.0, 1.0)
    return 0.5 * (1.0 + np.cos(np.pi * x)) * (f <= cutoff + width / 2)


def _fourier_basis(n: int, window: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Real basis [1, cos, sin, ...] of the frequencies passed by ``window``, and their gains."""
    ks = np.flatnonzero(window > 0)
    x = np.arange(n)[:, None]
    cols, gains = [np.ones((n, 1))], [np.ones(1) * window[0]]
    for k in ks[ks > 0]:
        if 2 * k == n:
            cols.append(np.cos(np.pi * x))
            gains.append(window[k : k + 1])
            continue
        phase = 2.0 * np.pi * k * x / n
        cols += [np.cos(phase), np.sin(phase)]
        gains.append(np.repeat(window[k], 2))
    return np.hstack(cols), np.concatenate(gains)


def fft_noise(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Low-pass Fourier model of each row fitted to its background pixels (NSClean-style).

    Parameters
    ----------
    image : ndarray, shape (ny, nx), float
        Background-subtracted image segment, fast direction along the last axis.
    mask : ndarray, shape (ny, nx), bool
        True for background pixels.

    Returns
    -------
    ndarray, shape (ny, nx), float64
        The noise model: ``sum_k g_k c_k phi_k(x)`` with the fitted coefficients ``c_k`` of
        the basis ``phi_k`` (constant, cosines and sines of ``k`` cycles per row) and the
        low-pass gains ``g_k`` (:func:`lowpass_window` with a cutoff of 1/256 cycles per
        pixel). Rows with fewer background pixels than twice the number of coefficients get
        their weighted mean only; rows without any get 0.
    """
    ny, nx = image.shape
    values = np.asarray(image, dtype=np.float64)
    mask = np.asarray(mask, dtype=bool)
    # Replace outliers by the row median (robust sigma from the median absolute deviation).
    med = _row_median(values, mask)
    sigma = 1.4826 * _row_median(np.abs(values - med[:, None]), mask)
    values = np.where(np.abs(values - med[:, None]) <= ROW_SIGREJ * sigma[:, None], values,
                      med[:, None])  # fmt: skip
    # Weights: inverse local density of background pixels along the row.
    density = gaussian_filter1d(mask.astype(np.float64), DENSITY_SIGMA, axis=-1, mode="wrap")
    with np.errstate(divide="ignore"):
        weight = np.where(mask & (density > 1e-6), 1.0 / density, 0.0)
    basis, gains = _fourier_basis(nx, lowpass_window(nx))
    npar = basis.shape[1]
    wd = weight * values
    sum_w = weight.sum(axis=-1)
    count = mask.sum(axis=-1)
    model = np.zeros((ny, nx))
    full = count >= 2 * npar
    if full.any():
        outer = (basis[:, :, None] * basis[:, None, :]).reshape(nx, npar * npar)
        normal = (weight[full] @ outer).reshape(-1, npar, npar)
        normal += (RIDGE * sum_w[full])[:, None, None] * np.eye(npar)
        rhs = wd[full] @ basis
        coef = np.linalg.solve(normal, rhs[..., None])[..., 0]
        model[full] = (coef * gains) @ basis.T
    few = ~full & (sum_w > 0)
    model[few] = (wd[few].sum(axis=-1) / sum_w[few])[:, None] * gains[0]
    return model


def noise_model(
    image: np.ndarray,
    mask: np.ndarray,
    layout: ReadoutLayout,
    *,
    method: str = "median",
    by_channel: bool = False,
) -> np.ndarray:
    """1/f noise model of a DMS image (background already removed).

    Parameters
    ----------
    image : ndarray, shape (ny, nx), float
        Background-subtracted image in DMS orientation.
    mask : ndarray, shape (ny, nx), bool
        True for background pixels.
    layout : ReadoutLayout
        Readout orientation and outputs.
    method : {"median", "fft"}
        Row fit (see the module description).
    by_channel : bool
        Fit each output's row segments separately.

    Returns
    -------
    ndarray, shape (ny, nx), float64
        The noise to subtract, in DMS orientation.

    Raises
    ------
    ValueError
        For an unknown ``method`` or mismatched shapes.
    """
    if method not in ("median", "fft"):
        raise ValueError(f"method={method!r} is not valid; expected 'median' or 'fft'")
    if np.shape(image) != np.shape(mask):
        raise ValueError(f"mask has shape {np.shape(mask)}; expected {np.shape(image)}")
    fit = median_noise if method == "median" else fft_noise
    model = np.zeros(np.shape(image))
    det_image = to_detector(np.asarray(image), layout.fastaxis, layout.slowaxis)
    det_mask = to_detector(np.asarray(mask), layout.fastaxis, layout.slowaxis)
    det_model = to_detector(model, layout.fastaxis, layout.slowaxis)
    for start, stop in layout.segments(by_channel):
        det_model[:, start:stop] = fit(det_image[:, start:stop], det_mask[:, start:stop])
    return model
