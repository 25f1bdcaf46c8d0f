"""Blotting: the median image of the output grid sampled back onto an input exposure.

:func:`blot_median` maps every pixel centre of the input exposure onto the median's
grid with :func:`webbcal.wcs.pixel_map` (bicubic interpolation from a node grid with
a measured error bound of at most 0.001 pixel) and interpolates the median there
bilinearly with ``drizzle.resample.blot_image``. Input pixels that the map does not
reach (NaN in the map) are given the position (-1, -1), outside the median, as the
official step does, so they receive the fill value.

:func:`bad_bits_from_good_bits` (defined in :mod:`.bits`, re-exported here) turns the
official ``good_bits`` text into the DQ bits that give a pixel zero weight.

References
----------
JWST pipeline documentation, ``outlier_detection`` "Imaging Data", step 4 (blot) and
the step arguments (``good_bits``); drizzle documentation, ``blot_image``.
"""

from __future__ import annotations

import numpy as np
from drizzle.resample import blot_image

from ..wcs import MAX_TOLERANCE, pixel_map
from .bits import bad_bits_from_good_bits

__all__ = ["bad_bits_from_good_bits", "blot_median"]


#: First node spacing of the blot's pixel map (input pixels).
BLOT_INITIAL_STEP = 128


def blot_median(
    median: np.ndarray,
    median_wcs,
    wcs,
    shape: tuple[int, int],
    *,
    fillval: float = np.nan,
    tolerance: float = MAX_TOLERANCE,
    pixmap: np.ndarray | None = None,
) -> np.ndarray:
    """The median image resampled onto an input exposure's pixels (bilinear).

    Parameters
    ----------
    median : ndarray, shape (my, mx), float32
        Median on the output grid (surface brightness).
    median_wcs : gwcs.WCS
        WCS of the median grid.
    wcs : gwcs.WCS
        WCS of the input exposure.
    shape : tuple of int
        ``(ny, nx)`` of the input exposure.
    fillval : float, optional
        Value of input pixels that fall outside the median.
    tolerance : float, optional
        Pixel-map error bound, median pixels (<= 0.001).
    pixmap : ndarray, shape (ny, nx, 2), float64, or None
        The exposure-to-median pixel map when already computed (exactly
        :func:`webbcal.wcs.pixel_map` of these WCSs at ``tolerance`` and first node
        spacing :data:`BLOT_INITIAL_STEP`); overwritten (NaN set to -1). None: computed here.

    Returns
    -------
    ndarray, shape (ny, nx), float32
    """
    if pixmap is None:
        pixmap = pixel_map(wcs, median_wcs, shape=shape, tolerance=tolerance,
                           initial_step=BLOT_INITIAL_STEP).pixmap  # fmt: skip
    pixmap[np.isnan(pixmap)] = -1.0
    out = np.full(shape, fillval, dtype=np.float32)
    blot_image(data=np.asarray(median, dtype=np.float32), pixmap=pixmap, out_img=out,
               fillval=fillval, iscale=1.0, interp="linear")  # fmt: skip
    return out
