"""Compiled translation of reference-file DQ bit planes to standard JWST flags.

A reference file's DQ array stores flags in the bit planes its ``DQ_DEF``
table defines (rows of VALUE and NAME); a pixel gets the standard flag named
by every row whose VALUE bits it has set. One pass over the pixels, parallel,
instead of one numpy pass per ``DQ_DEF`` row.

References
----------
JWST pipeline documentation, "Reference File Information": data quality
flags and the DQ_DEF extension.
"""

import numba
import numpy as np

__all__ = ["translate_flags"]


@numba.njit(parallel=True, cache=True, nogil=True)
def _translate(raw, values, standard, out):  # pragma: no cover - compiled
    n = raw.shape[0]
    nrows = values.shape[0]
    nchunks = (n + 65535) // 65536
    for k in numba.prange(nchunks):
        for p in range(k * 65536, min(n, (k + 1) * 65536)):
            v = np.uint64(raw[p])
            if v == 0:  # most pixels of a reference: no row to test
                out[p] = 0
                continue
            f = np.uint64(0)
            for j in range(nrows):
                if v & values[j]:
                    f |= standard[j]
            out[p] = f


def translate_flags(raw: np.ndarray, values: np.ndarray, standard: np.ndarray) -> np.ndarray:
    """Standard flags of DQ values stored in a file's own bit planes.

    Parameters
    ----------
    raw : ndarray, shape (n,), unsigned or signed integers, native byte order
        The DQ values as stored.
    values, standard : ndarray, shape (nrows,), uint64
        ``DQ_DEF`` VALUE of each row and the standard flag value of its NAME.

    Returns
    -------
    ndarray, shape (n,), ``raw.dtype``
        For every pixel, the OR of ``standard[j]`` over the rows ``j`` with
        ``raw & values[j] != 0``.
    """
    out = np.empty(raw.shape, dtype=raw.dtype)
    _translate(raw, values, standard, out)
    return out
