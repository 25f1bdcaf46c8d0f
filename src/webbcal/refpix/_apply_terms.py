"""Compiled application of reference-pixel terms (private helper of ``refpix.nir``).

See :func:`webbcal.refpix.nir.apply_refpix_terms` for the contract. The
arithmetic is that of numpy's ``out -= term`` on a float32 array with a float64
term: each subtraction is done in float64 and rounded to float32, the first
term before the second.

References
----------
JWST Science Calibration Pipeline documentation, "Reference Pixel Correction"
(``refpix``) step, jwst 3.0.
"""

import numba
import numpy as np

__all__ = ["subtract_terms"]


@numba.njit(parallel=True, cache=True, nogil=True)
def subtract_terms(block, first, first_by_row, second, second_by_row, has_second, out):
    """``out = float32(float32(block - first) - second)`` with float64 subtractions.

    Parameters
    ----------
    block : ndarray, shape (nsel, nrows, ncols), float32, DN
        Pixels to correct (not modified unless it is ``out``).
    first, second : ndarray, shape (nsel, nrows) or (nsel, ncols), float64, DN
        Terms per plane, indexed by row when ``*_by_row`` is true, else by column.
        ``second`` is ignored unless ``has_second``.
    first_by_row, second_by_row, has_second : bool
        Layout of the terms, and whether the second one applies.
    out : ndarray, shape (nsel, nrows, ncols), float32, DN
        Result; may be ``block`` itself (each pixel is read before it is written).

    Notes
    -----
    Parallel over (plane, row).
    """
    nsel, nrows, ncols = block.shape
    for pr in numba.prange(nsel * nrows):
        p = pr // nrows
        r = pr - p * nrows
        b = block[p, r]
        o = out[p, r]
        if first_by_row:
            f = first[p, r]
            for x in range(ncols):
                o[x] = np.float32(np.float64(b[x]) - f)
        else:
            fc = first[p]
            for x in range(ncols):
                o[x] = np.float32(np.float64(b[x]) - fc[x])
        if has_second:
            if second_by_row:
                s = second[p, r]
                for x in range(ncols):
                    o[x] = np.float32(np.float64(o[x]) - s)
            else:
                sc = second[p]
                for x in range(ncols):
                    o[x] = np.float32(np.float64(o[x]) - sc[x])
