"""Blotting: the median image of the output grid sampled back onto an input exposure.

:func:`blot_median` maps every pixel centre of the input exposure onto the median's
grid with :func:`webbcal.wcs.pixel_map` (bicubic interpolation from a node grid with
a measured error bound of at most 0.001 pixel) and interpolates the median there
bilinearly with ``drizzle.resample.blot_image``. Input pixels that the map does not
reach (NaN in the map) are given the position (-1, -1), outside the median, as the
official step does, so they receive the fill value.

:func:`bad_bits_from_good_bits` turns the official ``good_bits`` text
(``"~DO_NOT_USE"``, ``"DO_NOT_USE+NON_SCIENCE"``, an int, None) into the DQ bits
that give a pixel zero weight.

References
----------
JWST pipeline documentation, ``outlier_detection`` "Imaging Data", step 4 (blot) and
the step arguments (``good_bits``); drizzle documentation, ``blot_image``.
"""

from __future__ import annotations

import numpy as np
from astropy.nddata.bitmask import interpret_bit_flags
from drizzle.resample import blot_image

from ..dqflags import PIXEL
from ..wcs import MAX_TOLERANCE, pixel_map

__all__ = ["bad_bits_from_good_bits", "blot_median"]

_ALL_BITS = 0xFFFFFFFF


def bad_bits_from_good_bits(good_bits: str | int | None) -> int:
    """DQ bits that exclude a pixel, from the official ``good_bits`` parameter.

    Parameters
    ----------
    good_bits : str, int or None
        Bits (or mnemonic names of :data:`webbcal.dqflags.PIXEL`, joined by ``+``
        or ``,``) that are *ignored*; a leading ``~`` means every bit but those.
        None: every DQ bit is ignored.

    Returns
    -------
    int
        Bit mask (uint32 range) of the flags that give zero weight.

    Raises
    ------
    ValueError
        If the text names an unknown flag or is not a valid bit specification.

    Examples
    --------
    >>> bad_bits_from_good_bits("~DO_NOT_USE")
    1
    >>> bad_bits_from_good_bits(None)
    0
    """
    try:
        good = interpret_bit_flags(good_bits, flag_name_map=PIXEL)
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError(
            f"good_bits={good_bits!r}: not a DQ bit specification ({exc}); "
            "expected e.g. '~DO_NOT_USE' or 'DO_NOT_USE+NON_SCIENCE'"
        ) from None
    if good is None:
        return 0
    return int(~int(good)) & _ALL_BITS


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
