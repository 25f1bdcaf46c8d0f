"""Inter-pixel capacitance (IPC) correction of ramps.

Capacitive coupling between neighbouring pixels spreads a little of each
pixel's signal into its neighbours. The IPC reference file holds the
*deconvolution* kernel: convolving each group with it restores the signal
the pixels would have seen without coupling. The kernel is either one small
2-D array (``ny_k, nx_k``, usually 3 x 3) used everywhere, or a 4-D array
(``ny_k, nx_k, ny, nx``) with one kernel per pixel.

Only science pixels are convolved: the reference-pixel border of the full
frame is left unchanged and counts as zero signal for the science pixels
next to it, as do pixels beyond the edges of a subarray.

For kernel element ``(j, i)`` away from the centre ``(ny_k // 2, nx_k // 2)``
the output pixel ``(y, x)`` receives ``k[j, i] * s[y + t - j, x + r - i]``
with ``t = ny_k - ny_k // 2 - 1`` and ``r = nx_k - nx_k // 2 - 1``; the
centre element multiplies ``s[y, x]``. For the usual odd kernel sizes this
is the ordinary 2-D convolution centred on the kernel's middle element;
even sizes follow the official step's convention.

Products and sums are float32, accumulated per pixel in kernel order (row
``j``, then column ``i``) with the centre element last. A 2-D kernel is
applied by a compiled (numba) loop, parallel over the rows of all groups, that
performs exactly these float32 operations; a 4-D kernel by numpy, plane by
plane. Both give the same bits.

References
----------
JWST Science Calibration Pipeline documentation, "IPC" step (``ipc``) and
the IPC reference file description (reference type ``IPC``), jwst 3.0.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numba
import numpy as np

from webbcal.lib.subarray import NREF, SubarrayGeometry

__all__ = ["ReferenceBorder", "apply_ipc", "reference_border"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReferenceBorder:
    """Number of reference-pixel rows/columns at each edge of a (sub)array.

    Attributes
    ----------
    bottom, top : int
        Reference rows at the start and end of the row axis (DMS orientation).
    left, right : int
        Reference columns at the start and end of the column axis.
    """

    bottom: int
    top: int
    left: int
    right: int


def reference_border(
    geometry: SubarrayGeometry, *, nref: int = NREF, nref_rows: int | None = None
) -> ReferenceBorder:
    """How many reference rows and columns of the full-frame border a (sub)array holds.

    Parameters
    ----------
    geometry : SubarrayGeometry
        Position of the array on the detector.
    nref : int
        Width of the reference border along the columns (and rows, unless
        ``nref_rows`` is given).
    nref_rows : int, optional
        Height of the reference border along the rows (0 for MIRI).

    Returns
    -------
    ReferenceBorder
    """
    rows = nref if nref_rows is None else nref_rows
    x0, y0 = geometry.xstart - 1, geometry.ystart - 1
    return ReferenceBorder(
        bottom=max(0, rows - y0),
        top=max(0, y0 + geometry.ysize - (geometry.full_ny - rows)),
        left=max(0, nref - x0),
        right=max(0, x0 + geometry.xsize - (geometry.full_nx - nref)),
    )


def _kernel_for_data(kernel: np.ndarray, geometry: SubarrayGeometry) -> np.ndarray:
    """Validate the kernel and cut a full-frame 4-D kernel to the subarray."""
    if kernel.ndim == 2:
        return kernel
    if kernel.ndim != 4:
        raise ValueError(
            f"kernel has shape {kernel.shape}: expected 2-D (ny_k, nx_k) or "
            "4-D (ny_k, nx_k, ny, nx)"
        )
    image_shape = kernel.shape[-2:]
    if image_shape == (geometry.ysize, geometry.xsize):
        return kernel
    if image_shape == (geometry.full_ny, geometry.full_nx):
        return kernel[..., geometry.slices[0], geometry.slices[1]]
    raise ValueError(
        f"kernel has image shape {image_shape}: expected the data shape "
        f"({geometry.ysize}, {geometry.xsize}) or the full frame "
        f"({geometry.full_ny}, {geometry.full_nx})"
    )


def _convolve_plane(
    plane: np.ndarray, kernel: np.ndarray, border: ReferenceBorder, per_pixel: bool
) -> np.ndarray:
    """Return the deconvolved science region of one plane (float32)."""
    ny_k, nx_k = kernel.shape[:2]
    mid_j, mid_i = ny_k // 2, nx_k // 2
    sci_rows = slice(border.bottom, plane.shape[0] - border.top)
    sci_cols = slice(border.left, plane.shape[1] - border.right)
    sci = plane[sci_rows, sci_cols]
    ny, nx = sci.shape
    # Zero-padded copy: padded[p + mid_j, q + mid_i] = sci[p, q].
    pad_b, pad_t = mid_j, ny_k - mid_j - 1
    pad_l, pad_r = mid_i, nx_k - mid_i - 1
    padded = np.pad(sci, ((pad_b, pad_t), (pad_l, pad_r)))
    weights = kernel[:, :, sci_rows, sci_cols] if per_pixel else kernel
    # float32 products and sums, centre element last (largest term), as the
    # official step accumulates them.
    total = np.zeros((ny, nx), dtype=np.float32)
    for j in range(ny_k):
        for i in range(nx_k):
            if (j, i) == (mid_j, mid_i):
                continue
            rs, cs = ny_k - 1 - j, nx_k - 1 - i
            total += weights[j, i] * padded[rs : rs + ny, cs : cs + nx]
    # The centre element always multiplies the pixel itself (also for even sizes).
    total += weights[mid_j, mid_i] * sci
    return total


_JIT = {"cache": True, "nogil": True}


@numba.njit(**_JIT)
def _pixel(src, kernel, p, yy, xx, b0, c0, sny, snx):  # pragma: no cover - compiled
    """One deconvolved science pixel ``(yy, xx)`` (science coordinates) of plane ``p``.

    Any kernel size; sources outside the science region count as 0 (their
    product with the kernel element is still formed, as with zero padding).
    """
    ny_k, nx_k = kernel.shape
    mid_j, mid_i = ny_k // 2, nx_k // 2
    top, right = ny_k - mid_j - 1, nx_k - mid_i - 1
    acc = np.float32(0.0)
    for j in range(ny_k):
        q = yy + top - j
        for i in range(nx_k):
            if j == mid_j and i == mid_i:
                continue
            c = xx + right - i
            v = np.float32(0.0)
            if 0 <= q < sny and 0 <= c < snx:
                v = src[p, b0 + q, c0 + c]
            acc = acc + kernel[j, i] * v
    return acc + kernel[mid_j, mid_i] * src[p, b0 + yy, c0 + xx]


@numba.njit(**_JIT)
def _row_3x3(src, kernel, p, yy, b0, c0, sny, snx, zeros, orow):  # pragma: no cover
    """Science row ``yy`` of plane ``p`` with a 3 x 3 kernel, into ``orow[c0:c0 + snx]``.

    The eight neighbour products are summed in kernel order in a register,
    the centre last; rows beyond the science region are read from ``zeros``.
    """
    w00, w01, w02 = kernel[0, 0], kernel[0, 1], kernel[0, 2]
    w10, w11, w12 = kernel[1, 0], kernel[1, 1], kernel[1, 2]
    w20, w21, w22 = kernel[2, 0], kernel[2, 1], kernel[2, 2]
    up = src[p, b0 + yy + 1, c0 : c0 + snx] if yy + 1 < sny else zeros[:snx]
    mid = src[p, b0 + yy, c0 : c0 + snx]
    down = src[p, b0 + yy - 1, c0 : c0 + snx] if yy >= 1 else zeros[:snx]
    n = snx - 2
    # Views shifted by one column: index x of a view is science column x + k.
    u0, u1, u2 = up[0:n], up[1 : n + 1], up[2 : n + 2]
    m0, m1, m2 = mid[0:n], mid[1 : n + 1], mid[2 : n + 2]
    d0, d1, d2 = down[0:n], down[1 : n + 1], down[2 : n + 2]
    o = orow[c0 + 1 : c0 + 1 + n]
    zero = np.float32(0.0)
    for x in range(n):
        a = zero + w00 * u2[x]
        a = a + w01 * u1[x]
        a = a + w02 * u0[x]
        a = a + w10 * m2[x]
        a = a + w12 * m0[x]
        a = a + w20 * d2[x]
        a = a + w21 * d1[x]
        a = a + w22 * d0[x]
        o[x] = a + w11 * m1[x]
    orow[c0] = _pixel(src, kernel, p, yy, 0, b0, c0, sny, snx)
    if snx > 1:
        orow[c0 + snx - 1] = _pixel(src, kernel, p, yy, snx - 1, b0, c0, sny, snx)


@numba.njit(**_JIT)
def _row_any(src, kernel, p, yy, b0, c0, sny, snx, acc, orow):  # pragma: no cover
    """Science row ``yy`` of plane ``p`` with any kernel size, via ``acc`` (float32 scratch)."""
    ny_k, nx_k = kernel.shape
    mid_j, mid_i = ny_k // 2, nx_k // 2
    top, right = ny_k - mid_j - 1, nx_k - mid_i - 1
    zero = np.float32(0.0)
    for x in range(snx):
        acc[x] = zero
    for j in range(ny_k):
        q = yy + top - j  # science row feeding this kernel row
        for i in range(nx_k):
            if j == mid_j and i == mid_i:
                continue
            w = kernel[j, i]
            wz = w * zero  # padding: keeps the sign of zero and NaN of w * 0
            if q < 0 or q >= sny:
                for x in range(snx):
                    acc[x] = acc[x] + wz
                continue
            o = right - i  # column offset of the source pixel
            lo = min(max(0, -o), snx)
            hi = max(min(snx, snx - o), lo)
            for x in range(lo):
                acc[x] = acc[x] + wz
            s = src[p, b0 + q, c0 + lo + o : c0 + hi + o]
            a = acc[lo:hi]
            for x in range(hi - lo):
                a[x] = a[x] + w * s[x]
            for x in range(hi, snx):
                acc[x] = acc[x] + wz
    w = kernel[mid_j, mid_i]
    s = src[p, b0 + yy, c0 : c0 + snx]
    o = orow[c0 : c0 + snx]
    for x in range(snx):
        o[x] = acc[x] + w * s[x]


@numba.njit(parallel=True, **_JIT)
def _convolve_rows(src, kernel, b0, b1, c0, c1, out):  # pragma: no cover - compiled
    """Deconvolve the science region ``[b0:b1, c0:c1]`` of every plane with a 2-D kernel.

    ``src`` and ``out`` are float32 ``(nplanes, ny, nx)``; ``kernel`` is float32
    ``(ny_k, nx_k)``. Pixels outside the science region are copied. Each output
    pixel is the float32 sum, in the order of :func:`_convolve_plane`, of the
    float32 products of the kernel with the zero-padded science region.
    Parallel over (plane, row).
    """
    nplanes, ny, nx = src.shape
    sny, snx = b1 - b0, c1 - c0
    is_3x3 = kernel.shape[0] == 3 and kernel.shape[1] == 3 and snx >= 2
    zeros = np.zeros(snx, dtype=np.float32)
    for pr in numba.prange(nplanes * ny):
        p = pr // ny
        y = pr - p * ny
        srow = src[p, y]
        orow = out[p, y]
        if y < b0 or y >= b1:
            for x in range(nx):
                orow[x] = srow[x]
            continue
        for x in range(c0):
            orow[x] = srow[x]
        for x in range(c1, nx):
            orow[x] = srow[x]
        if is_3x3:
            _row_3x3(src, kernel, p, y - b0, b0, c0, sny, snx, zeros, orow)
        else:
            acc = np.empty(snx, dtype=np.float32)
            _row_any(src, kernel, p, y - b0, b0, c0, sny, snx, acc, orow)


def apply_ipc(
    data: np.ndarray,
    kernel: np.ndarray,
    *,
    geometry: SubarrayGeometry,
    nref: int = NREF,
    nref_rows: int | None = None,
) -> np.ndarray:
    """Correct every group of a ramp for inter-pixel capacitance.

    Parameters
    ----------
    data : ndarray, shape (nints, ngroups, ny, nx), float, DN
        Ramp in DMS orientation (not modified).
    kernel : ndarray, shape (ny_k, nx_k) or (ny_k, nx_k, NY, NX), float
        Deconvolution kernel from the IPC reference file; a 4-D kernel's
        image axes cover either the data ``(ny, nx)`` or the full frame
        (cut to the subarray here).
    geometry : SubarrayGeometry
        Position of the data on the detector (SUBSTRT1/2, SUBSIZE1/2).
    nref : int
        Width of the full-frame reference border (4 for NIR and MIRI).
    nref_rows : int, optional
        Height of the reference border along the rows; defaults to
        ``nref`` (MIRI has no reference rows: pass 0).

    Returns
    -------
    ndarray, shape (nints, ngroups, ny, nx), float32, DN
        Corrected copy; reference pixels are unchanged.

    Raises
    ------
    ValueError
        If the data or kernel shapes do not match the geometry, or the
        kernel has not 2 or 4 dimensions.

    References
    ----------
    JWST Science Calibration Pipeline documentation, "IPC" (``ipc``) step,
    jwst 3.0.
    """
    data = np.asarray(data)
    kernel = np.asarray(kernel)
    if data.ndim != 4:
        raise ValueError(f"data has shape {data.shape}: expected 4-D (nints, ngroups, ny, nx)")
    if data.shape[-2:] != (geometry.ysize, geometry.xsize):
        raise ValueError(
            f"data has image shape {data.shape[-2:]} but geometry gives SUBSIZE2 x SUBSIZE1 = "
            f"({geometry.ysize}, {geometry.xsize})"
        )
    kernel = _kernel_for_data(kernel, geometry).astype(np.float32, copy=False)
    border = reference_border(geometry, nref=nref, nref_rows=nref_rows)
    log.debug("IPC kernel shape %s, reference border %s", kernel.shape, border)
    ny, nx = data.shape[-2:]
    rows = slice(border.bottom, ny - border.top)
    cols = slice(border.left, nx - border.right)
    if data[..., rows, cols].size == 0:
        log.info("No science pixels outside the reference border: IPC correction has no effect")
        return np.array(data, dtype=np.float32, copy=True)
    if kernel.ndim == 2:
        # Bounds as numpy resolves the slices (the region is not empty here).
        r0, r1, _ = rows.indices(ny)
        c0, c1, _ = cols.indices(nx)
        src = np.ascontiguousarray(data, dtype=np.float32)
        out = np.empty(data.shape, dtype=np.float32)
        kern = np.ascontiguousarray(kernel)
        _convolve_rows(src.reshape(-1, ny, nx), kern, r0, r1, c0, c1, out.reshape(-1, ny, nx))
        return out
    return _apply_ipc_numpy(data, kernel, border)


def _apply_ipc_numpy(data: np.ndarray, kernel: np.ndarray, border: ReferenceBorder) -> np.ndarray:
    """Plane-by-plane numpy deconvolution of (nints, ngroups, ny, nx) ``data`` (float32 copy).

    The per-pixel (4-D) kernel path, and the reference the compiled 2-D kernel
    reproduces bit for bit. ``kernel`` is float32 and its science region non-empty.
    """
    out = np.array(data, dtype=np.float32, copy=True)
    ny, nx = out.shape[-2:]
    rows = slice(border.bottom, ny - border.top)
    cols = slice(border.left, nx - border.right)
    for i in range(out.shape[0]):
        for g in range(out.shape[1]):
            out[i, g, rows, cols] = _convolve_plane(out[i, g], kernel, border, kernel.ndim == 4)
    return out
