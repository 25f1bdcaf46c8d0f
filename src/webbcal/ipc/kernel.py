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

References
----------
JWST Science Calibration Pipeline documentation, "IPC" step (``ipc``) and
the IPC reference file description (reference type ``IPC``), jwst 3.0.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

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
    out = np.array(data, dtype=np.float32, copy=True)
    rows = slice(border.bottom, out.shape[-2] - border.top)
    cols = slice(border.left, out.shape[-1] - border.right)
    if out[..., rows, cols].size == 0:
        log.info("No science pixels outside the reference border: IPC correction has no effect")
        return out
    per_pixel = kernel.ndim == 4
    for i in range(out.shape[0]):
        for g in range(out.shape[1]):
            out[i, g, rows, cols] = _convolve_plane(out[i, g], kernel, border, per_pixel)
    return out
