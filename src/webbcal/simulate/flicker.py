"""Correlated 1/f ("flicker") read noise of the near-infrared SIDECAR readout.

H2RG detectors read by SIDECAR ASICs show read noise whose power spectral density rises as
1/f at low frequency. Because pixels are sampled one after the other along the fast-read
direction, noise slower than one row time appears as offsets common to a row of each output:
horizontal (fast-axis) stripes in NIRCam DMS images, vertical ones in NIRSpec/NIRISS.

:func:`flicker_frame` draws one frame of such noise: for every output, a time series with
a 1/f spectrum sampled at the pixel clock (10 microseconds per pixel, with a 12-pixel
new-line overhead during which nothing is sampled), part of it common to all outputs and the
rest independent per output.

References
----------
Rauscher et al. 2015, PASP 127, 1144, "New and Better Detector Noise Models for JWST"
(1/f noise, its correlation between outputs, and the pixel clock / line overhead).
Rauscher 2024, PASP 136, 015001, "NSClean" (clocking pattern used to place pixels in time).
"""

from __future__ import annotations

import numpy as np

from webbcal.lib.subarray import SubarrayGeometry

__all__ = ["LINE_OVERHEAD", "PIXEL_TIME", "flicker_frame", "read_order"]

#: Pixel dwell time of the near-infrared SIDECAR readout (s).
PIXEL_TIME = 10.0e-6
#: Clock ticks spent at the start of each row without sampling a pixel.
LINE_OVERHEAD = 12


def read_order(
    geometry: SubarrayGeometry, fastaxis: int, slowaxis: int, noutputs: int
) -> tuple[np.ndarray, np.ndarray, int]:
    """Row (slow) and column-within-output (fast) read positions of every DMS pixel.

    Parameters
    ----------
    geometry : SubarrayGeometry
        The (sub)array read.
    fastaxis, slowaxis : int
        FASTAXIS / SLOWAXIS keywords.
    noutputs : int
        Outputs sharing the fast-read direction (1 or 4).

    Returns
    -------
    slow, fast : ndarray of int64, shape (ysize, xsize)
        0-based read-order indices: the ``slow``-th row read by the pixel's output, and the
        ``fast``-th pixel of that row within the output.
    length : int
        Pixels per row per output.
    """
    rows = np.arange(geometry.ysize)[:, None]
    cols = np.arange(geometry.xsize)[None, :]
    shape = (geometry.ysize, geometry.xsize)
    if abs(fastaxis) == 1:
        fast_pos, fast_len = (cols if fastaxis > 0 else geometry.xsize - 1 - cols), geometry.xsize
        slow_pos = rows if slowaxis > 0 else geometry.ysize - 1 - rows
    else:
        fast_pos, fast_len = (rows if fastaxis > 0 else geometry.ysize - 1 - rows), geometry.ysize
        slow_pos = cols if slowaxis > 0 else geometry.xsize - 1 - cols
    length = fast_len // noutputs
    fast = np.broadcast_to(fast_pos % length, shape).astype(np.int64)
    slow = np.broadcast_to(slow_pos, shape).astype(np.int64)
    return slow, fast, length


def _one_over_f_series(rng: np.random.Generator, n: int, count: int) -> np.ndarray:
    """``count`` independent zero-mean series of ``n`` samples with a 1/f spectrum, unit RMS."""
    nfreq = n // 2 + 1
    gain = np.zeros(nfreq)
    gain[1:] = 1.0 / np.sqrt(np.arange(1, nfreq))
    # Expected variance of irfft(white * gain) for unit-variance white noise.
    power = 2.0 * np.sum(gain[1:] ** 2) - (gain[-1] ** 2 if n % 2 == 0 else 0.0)
    scale = np.sqrt(n / power)
    white = rng.standard_normal((count, n))
    return np.fft.irfft(np.fft.rfft(white, axis=-1) * (gain * scale), n, axis=-1)


def flicker_frame(
    rng: np.random.Generator,
    geometry: SubarrayGeometry,
    *,
    fastaxis: int,
    slowaxis: int,
    noutputs: int,
    output_index: np.ndarray,
    rms_dn: float,
    common_fraction: float,
) -> np.ndarray:
    """One frame of 1/f read noise in DMS orientation.

    Parameters
    ----------
    rng : numpy.random.Generator
    geometry : SubarrayGeometry
    fastaxis, slowaxis : int
        FASTAXIS / SLOWAXIS keywords.
    noutputs : int
        Number of outputs (1 or 4).
    output_index : ndarray of int, shape (ysize, xsize)
        Output reading each pixel.
    rms_dn : float
        RMS of the 1/f noise of one frame read, DN (over the frame's clock ticks).
    common_fraction : float
        Fraction (0-1) of the noise variance common to all outputs.

    Returns
    -------
    ndarray, shape (ysize, xsize), float32, DN
    """
    slow, fast, length = read_order(geometry, fastaxis, slowaxis, noutputs)
    nrows = int(slow.max()) + 1
    n = nrows * (length + LINE_OVERHEAD)
    series = _one_over_f_series(rng, n, noutputs + 1)
    common, own = series[0], series[1:]
    mixed = np.sqrt(common_fraction) * common + np.sqrt(1.0 - common_fraction) * own
    tick = slow * (length + LINE_OVERHEAD) + LINE_OVERHEAD + fast
    return (rms_dn * mixed[output_index, tick]).astype(np.float32)
