"""Classical non-linearity correction with a per-pixel polynomial.

References
----------
JWST pipeline documentation, "linearity" step; WFC3 Data Handbook ch. 6.5
(detector non-linearity): ``corrected = sum_k c_k * DN**k`` applied to the
bias-subtracted counts of every group that is not SATURATED. Pixels whose
coefficients are flagged NO_LIN_CORR in the reference, contain NaN, or have a
zero linear term are left uncorrected and flagged NO_LIN_CORR.
"""

import numba
import numpy as np

from ..dqflags import NO_LIN_CORR, SATURATED
from ..lib.progress import integration_done

__all__ = ["correct_linearity", "prepare_coefficients"]

_SAT = np.uint8(SATURATED)


def prepare_coefficients(
    coeffs: np.ndarray, lin_dq: np.ndarray, pixeldq: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Replace unusable coefficient sets by the identity and flag them.

    Parameters
    ----------
    coeffs : ndarray, shape (ncoeffs, ny, nx)
        Polynomial coefficients, lowest order first.
    lin_dq : ndarray, shape (ny, nx), uint32
        Reference DQ.
    pixeldq : ndarray, shape (ny, nx), uint32
        Science pixel DQ.

    Returns
    -------
    coeffs, pixeldq : ndarray
        New arrays: identity coefficients (0, 1, 0, ...) where unusable, and
        PIXELDQ with the reference DQ and NO_LIN_CORR where unusable.

    Raises
    ------
    ValueError
        If fewer than two coefficients are given.
    """
    if coeffs.ndim != 3 or coeffs.shape[0] < 2:
        raise ValueError(f"COEFFS must have shape (ncoeffs>=2, ny, nx), got {coeffs.shape}")
    c = coeffs.astype(np.float32, copy=True)
    bad = ((lin_dq & NO_LIN_CORR) != 0) | np.any(np.isnan(c), axis=0) | (c[1] == 0)
    new_dq = pixeldq | lin_dq.astype(np.uint32)
    if np.any(bad):
        c[:, bad] = 0.0
        c[1, bad] = 1.0
        new_dq = new_dq | np.where(bad, np.uint32(NO_LIN_CORR), np.uint32(0))
    return c, new_dq


_ZERO = np.float32(0.0)
_JIT = {"cache": True, "nogil": True}

#: Integrations per compiled call hold about this many samples (progress is
#: reported between calls).
_CHUNK_SAMPLES = 1 << 24


#: Columns per tile: a tile of the row, its coefficients and its output stay in L1 cache.
_TILE = 256


@numba.njit(**_JIT)
def _horner_tile(d, c, y, x0, x1, r):  # pragma: no cover - compiled
    """``r[x0:x1] = polynomial(d[x0:x1])`` of row ``y`` without the final ``+ c[0]``.

    The float32 operations of per-pixel Horner evaluation
    (``r = c[n-1] * d``, then ``r = (r + c[k]) * d`` for k = n-2 .. 1),
    one vector loop per coefficient.
    """
    n = c.shape[0]
    dd = d[x0:x1]
    rr = r[x0:x1]
    top = c[n - 1, y, x0:x1]
    for x in range(x1 - x0):
        rr[x] = top[x] * dd[x]
    for k in range(n - 2, 0, -1):
        ck = c[k, y, x0:x1]
        for x in range(x1 - x0):
            rr[x] = (rr[x] + ck[x]) * dd[x]


@numba.njit(**_JIT)
def _horner_row(d, c, y, r):  # pragma: no cover - compiled
    """``r = polynomial(d)`` of row ``y`` without the final ``+ c[0]``.

    For up to 7 coefficients the whole Horner chain of a pixel is one
    expression in registers (the branch on ``n`` is outside the vector loop);
    longer polynomials go tile by tile through :func:`_horner_tile`. Both
    perform the same float32 operations in the same order.
    """
    n = c.shape[0]
    nx = d.shape[0]
    c1 = c[1, y]
    c2 = c[min(2, n - 1), y]
    c3 = c[min(3, n - 1), y]
    c4 = c[min(4, n - 1), y]
    c5 = c[min(5, n - 1), y]
    c6 = c[min(6, n - 1), y]
    if n == 2:
        for x in range(nx):
            r[x] = c1[x] * d[x]
    elif n == 3:
        for x in range(nx):
            v = d[x]
            r[x] = (c2[x] * v + c1[x]) * v
    elif n == 4:
        for x in range(nx):
            v = d[x]
            r[x] = ((c3[x] * v + c2[x]) * v + c1[x]) * v
    elif n == 5:
        for x in range(nx):
            v = d[x]
            r[x] = (((c4[x] * v + c3[x]) * v + c2[x]) * v + c1[x]) * v
    elif n == 6:
        for x in range(nx):
            v = d[x]
            r[x] = ((((c5[x] * v + c4[x]) * v + c3[x]) * v + c2[x]) * v + c1[x]) * v
    elif n == 7:
        for x in range(nx):
            v = d[x]
            a = ((c6[x] * v + c5[x]) * v + c4[x]) * v
            r[x] = (((a + c3[x]) * v + c2[x]) * v + c1[x]) * v
    else:
        for x0 in range(0, nx, _TILE):
            _horner_tile(d, c, y, x0, min(nx, x0 + _TILE), r)


@numba.njit(parallel=True, **_JIT)
def _apply_polynomial(data, groupdq, c, out):  # pragma: no cover - compiled
    """Correct every group of a (nints, ngroups, ny, nx) float32 ramp; SATURATED groups copied.

    Parallel over (integration, row).
    """
    nints, ngroups, ny, nx = data.shape
    for iy in numba.prange(nints * ny):
        i = iy // ny
        y = iy - i * ny
        c0 = c[0, y]
        for g in range(ngroups):
            d = data[i, g, y]
            q = groupdq[i, g, y]
            o = out[i, g, y]
            _horner_row(d, c, y, o)
            for x in range(nx):
                o[x] = d[x] if q[x] & _SAT else o[x] + c0[x]


@numba.njit(parallel=True, **_JIT)
def _apply_polynomial_zeroframe(zf, c, out):  # pragma: no cover - compiled
    """Correct a float32 (nints, ny, nx) zero frame; values equal to 0 become +0."""
    nints, ny, nx = zf.shape
    for iy in numba.prange(nints * ny):
        i = iy // ny
        y = iy - i * ny
        z = zf[i, y]
        o = out[i, y]
        c0 = c[0, y]
        _horner_row(z, c, y, o)
        for x in range(nx):
            o[x] = _ZERO if z[x] == 0.0 else o[x] + c0[x]


def _polyval(c: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Horner evaluation of ``c`` (lowest order first) at ``x`` with numpy (any dtype)."""
    result = c[-1] * x
    for k in range(c.shape[0] - 2, 0, -1):
        result += c[k]
        result *= x
    result += c[0]
    return result


def correct_linearity(
    data: np.ndarray,
    groupdq: np.ndarray,
    pixeldq: np.ndarray,
    coeffs: np.ndarray,
    lin_dq: np.ndarray,
    *,
    zeroframe: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Apply the polynomial linearity correction to unsaturated groups.

    Parameters
    ----------
    data : ndarray, shape (nints, ngroups, ny, nx), float32, DN (bias-subtracted)
    groupdq : ndarray, shape (nints, ngroups, ny, nx), uint8
    pixeldq : ndarray, shape (ny, nx), uint32
    coeffs : ndarray, shape (ncoeffs, ny, nx)
        LINEARITY reference COEFFS cut to the subarray.
    lin_dq : ndarray, shape (ny, nx), uint32
        LINEARITY reference DQ.
    zeroframe : ndarray or None, shape (nints, ny, nx)
        Zero-frame data; values of 0 (unusable) stay 0.

    Returns
    -------
    data, pixeldq, zeroframe : ndarray
        New arrays: float32 data (DN), uint32 pixel DQ, float32 zero frame
        (None when not given).

    Notes
    -----
    The polynomial is evaluated per pixel by Horner's rule in float32,
    ``((c[n-1] * d + c[n-2]) * d + ... + c[1]) * d + c[0]``, without fused
    multiply-adds, by a compiled loop parallel over (integration, row). A
    float32 zero frame goes through the same loop; other zero-frame types use
    numpy's promotion.
    """
    c, new_dq = prepare_coefficients(coeffs, lin_dq, pixeldq)
    out = np.empty(data.shape, dtype=np.float32)
    nints = data.shape[0]
    src = np.ascontiguousarray(data, dtype=np.float32)
    gdq = np.ascontiguousarray(groupdq, dtype=np.uint8)
    chunk = max(1, _CHUNK_SAMPLES // max(1, int(np.prod(data.shape[1:]))))
    for i0 in range(0, nints, chunk):
        ints = slice(i0, min(nints, i0 + chunk))
        _apply_polynomial(src[ints], gdq[ints], c, out[ints])
        integration_done(ints.stop - 1, nints)
    new_zf = None
    if zeroframe is not None:
        new_zf = np.empty_like(zeroframe, dtype=np.float32)
        if zeroframe.dtype == np.float32:
            _apply_polynomial_zeroframe(np.ascontiguousarray(zeroframe), c, new_zf)
        else:  # numpy's promotion (e.g. float64 sums) for other types
            for i in range(zeroframe.shape[0]):
                z = zeroframe[i]
                new_zf[i] = np.where(z == 0.0, 0.0, _polyval(c, z))
    return out, new_dq, new_zf
