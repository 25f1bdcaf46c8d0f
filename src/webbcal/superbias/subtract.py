"""Superbias subtraction.

References
----------
JWST pipeline documentation, "superbias" step: the SUPERBIAS reference image
is subtracted from every group of every integration; NaNs in the reference are
treated as zero bias; the reference DQ is propagated to PIXELDQ; ZEROFRAME values
of 0 (unusable) stay 0.
"""

import numba
import numpy as np

__all__ = ["subtract_superbias"]

_F32 = np.dtype(np.float32)
_ZERO = np.float32(0.0)


@numba.njit(parallel=True, cache=True, nogil=True)
def _subtract_rows(data, bias, out, keep_zero):  # pragma: no cover - compiled
    """``out = data - bias`` in float32 for (nplanes, ny, nx) planes; parallel over rows.

    With ``keep_zero``, values equal to 0 (no zero-frame read) become +0 instead.
    """
    nplanes, ny, nx = data.shape
    for pr in numba.prange(nplanes * ny):
        p = pr // ny
        y = pr - p * ny
        d, b, o = data[p, y], bias[y], out[p, y]
        for x in range(nx):
            o[x] = d[x] - b[x]
        if keep_zero:
            for x in range(nx):
                if d[x] == 0.0:
                    o[x] = _ZERO


def subtract_superbias(
    data: np.ndarray,
    pixeldq: np.ndarray,
    bias: np.ndarray,
    bias_dq: np.ndarray,
    *,
    zeroframe: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Subtract the superbias from each group.

    Parameters
    ----------
    data : ndarray, shape (nints, ngroups, ny, nx), float32, DN
        Ramp data.
    pixeldq : ndarray, shape (ny, nx), uint32
        Pixel DQ.
    bias : ndarray, shape (ny, nx), float32, DN
        Superbias image cut to the subarray (NaN means unknown, treated as 0).
    bias_dq : ndarray, shape (ny, nx), uint32
        Superbias DQ.
    zeroframe : ndarray or None, shape (nints, ny, nx), DN

    Returns
    -------
    data, pixeldq, zeroframe : ndarray
        New arrays (zeroframe None when not given): float32 data, uint32 pixel
        DQ, float32 zero frame.

    Notes
    -----
    float32 data and zero frames are processed by one compiled float32 pass,
    parallel over rows; other types by numpy with its usual promotion. The
    results are the same bits as ``(data - bias).astype(float32)``.
    """
    b = np.nan_to_num(bias.astype(np.float32), nan=0.0)
    if data.dtype == _F32 and data.ndim == 4 and b.shape == data.shape[-2:]:
        out = np.empty(data.shape, dtype=np.float32)
        ny, nx = data.shape[-2:]
        src = np.ascontiguousarray(data).reshape(-1, ny, nx)
        _subtract_rows(src, np.ascontiguousarray(b), out.reshape(-1, ny, nx), False)
    else:  # numpy's promotion for other types
        out = (data - b[None, None]).astype(np.float32, copy=False)
    new_dq = pixeldq | bias_dq.astype(np.uint32)
    new_zf = None
    if zeroframe is not None:
        if zeroframe.dtype == _F32 and zeroframe.ndim == 3 and b.shape == zeroframe.shape[1:]:
            new_zf = np.empty(zeroframe.shape, dtype=np.float32)
            src = np.ascontiguousarray(zeroframe)
            _subtract_rows(src, np.ascontiguousarray(b), new_zf, True)
        else:
            new_zf = np.where(zeroframe == 0.0, 0.0, zeroframe - b[None]).astype(np.float32)
    return out, new_dq, new_zf
