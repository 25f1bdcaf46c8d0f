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


def _polyval(c: np.ndarray, x: np.ndarray) -> np.ndarray:
    result = c[-1] * x
    for k in range(c.shape[0] - 2, 0, -1):
        result += c[k]
        result *= x
    result += c[0]
    return result


@numba.njit(parallel=True, cache=True, nogil=True)
def _apply_polynomial(data, groupdq, c, out):  # pragma: no cover - compiled
    """Horner evaluation per pixel in float32, in the same order as :func:`_polyval`."""
    ngroups, ny, nx = data.shape
    ncoeffs = c.shape[0]
    for y in numba.prange(ny):
        for g in range(ngroups):
            for x in range(nx):
                d = data[g, y, x]
                if groupdq[g, y, x] & _SAT:
                    out[g, y, x] = d
                    continue
                r = c[ncoeffs - 1, y, x] * d
                for k in range(ncoeffs - 2, 0, -1):
                    r = r + c[k, y, x]
                    r = r * d
                out[g, y, x] = r + c[0, y, x]


@numba.njit(parallel=True, cache=True, nogil=True)
def _apply_polynomial_ints(data, groupdq, c, out):  # pragma: no cover - compiled
    """:func:`_apply_polynomial` for every integration of a (nints, ngroups, ny, nx) ramp,
    parallel over (integration, row)."""
    nints, ngroups, ny, nx = data.shape
    ncoeffs = c.shape[0]
    for iy in numba.prange(nints * ny):
        i = iy // ny
        y = iy % ny
        for g in range(ngroups):
            for x in range(nx):
                d = data[i, g, y, x]
                if groupdq[i, g, y, x] & _SAT:
                    out[i, g, y, x] = d
                    continue
                r = c[ncoeffs - 1, y, x] * d
                for k in range(ncoeffs - 2, 0, -1):
                    r = r + c[k, y, x]
                    r = r * d
                out[i, g, y, x] = r + c[0, y, x]


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
        New arrays.
    """
    c, new_dq = prepare_coefficients(coeffs, lin_dq, pixeldq)
    out = np.empty(data.shape, dtype=np.float32)
    nints = data.shape[0]
    if nints > 1 and data.shape[-2] * data.shape[-1] < 2**20:
        # Small images (subarrays, blocks of rows): one call for every integration.
        _apply_polynomial_ints(
            np.ascontiguousarray(data, dtype=np.float32),
            np.ascontiguousarray(groupdq, dtype=np.uint8),
            c,
            out,
        )
        integration_done(nints - 1, nints)
    else:
        for i in range(nints):
            integration_done(i, nints)
            _apply_polynomial(
                np.ascontiguousarray(data[i], dtype=np.float32),
                np.ascontiguousarray(groupdq[i], dtype=np.uint8),
                c,
                out[i],
            )
    new_zf = None
    if zeroframe is not None:
        new_zf = np.empty_like(zeroframe, dtype=np.float32)
        for i in range(zeroframe.shape[0]):
            z = zeroframe[i]
            new_zf[i] = np.where(z == 0.0, 0.0, _polyval(c, z))
    return out, new_dq, new_zf
