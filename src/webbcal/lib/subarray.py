"""Subarray geometry and cutting full-frame reference data to a science subarray.

JWST headers give a subarray's position in full-frame DMS pixel coordinates with
SUBSTRT1/SUBSTRT2 (1-based start column/row) and SUBSIZE1/SUBSIZE2 (number of
columns/rows). Reference files carry the same keywords. A reference that covers
the full frame is cut to the science region; one that already matches the
science subarray is used as is; anything else is an error.

References
----------
JWST pipeline documentation, "Reference file subarrays" (references_general).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "FULL_FRAME_NIR",
    "NREF",
    "SubarrayError",
    "SubarrayGeometry",
    "cut_to_subarray",
]

#: Full-frame size of the near-infrared H2RG detectors (pixels).
FULL_FRAME_NIR = 2048
#: Width in pixels of the reference-pixel border on each side of a NIR full frame.
NREF = 4


class SubarrayError(ValueError):
    """A reference array does not cover the science subarray."""


@dataclass(frozen=True)
class SubarrayGeometry:
    """Position of a (sub)array on the full detector.

    Attributes
    ----------
    xstart, ystart : int
        1-based first column (SUBSTRT1) and row (SUBSTRT2) in full-frame DMS coordinates.
    xsize, ysize : int
        Number of columns (SUBSIZE1) and rows (SUBSIZE2).
    full_nx, full_ny : int
        Size of the full detector frame (2048 x 2048 near-infrared).
    """

    xstart: int
    ystart: int
    xsize: int
    ysize: int
    full_nx: int = FULL_FRAME_NIR
    full_ny: int = FULL_FRAME_NIR

    @property
    def is_full_frame(self) -> bool:
        """True when the array covers the whole detector."""
        return (
            self.xstart == 1
            and self.ystart == 1
            and self.xsize == self.full_nx
            and self.ysize == self.full_ny
        )

    @property
    def slices(self) -> tuple[slice, slice]:
        """0-based (row, column) slices of this array within the full frame."""
        return (
            slice(self.ystart - 1, self.ystart - 1 + self.ysize),
            slice(self.xstart - 1, self.xstart - 1 + self.xsize),
        )

    def reference_pixel_mask(self, nref: int = NREF) -> np.ndarray:
        """Boolean mask, shape (ysize, xsize), of the reference pixels inside this array.

        Near-infrared detectors carry ``nref`` rows/columns of reference pixels on
        each of the four edges of the full frame.
        """
        rows = np.arange(self.ystart - 1, self.ystart - 1 + self.ysize)
        cols = np.arange(self.xstart - 1, self.xstart - 1 + self.xsize)
        ref_rows = (rows < nref) | (rows >= self.full_ny - nref)
        ref_cols = (cols < nref) | (cols >= self.full_nx - nref)
        return ref_rows[:, None] | ref_cols[None, :]


def cut_to_subarray(
    ref: np.ndarray,
    ref_geometry: SubarrayGeometry,
    science: SubarrayGeometry,
    *,
    name: str = "reference",
) -> np.ndarray:
    """Return the part of a reference array that covers the science subarray.

    Parameters
    ----------
    ref : ndarray, shape (..., ny_ref, nx_ref)
        Reference data; the last two axes are rows and columns.
    ref_geometry : SubarrayGeometry
        Where ``ref`` lies on the detector (from its SUBSTRT/SUBSIZE keywords).
    science : SubarrayGeometry
        Where the science data lie.
    name : str
        Name used in error messages (e.g. the reference file name).

    Returns
    -------
    ndarray, shape (..., science.ysize, science.xsize)
        A view of ``ref`` when no cut is needed, otherwise a copy of the cut region.

    Raises
    ------
    SubarrayError
        If the array shape disagrees with its geometry, or the reference does not
        contain the science region.
    """
    if ref.shape[-2:] != (ref_geometry.ysize, ref_geometry.xsize):
        raise SubarrayError(
            f"{name}: array shape {ref.shape[-2:]} does not match its SUBSIZE2 x SUBSIZE1 "
            f"= ({ref_geometry.ysize}, {ref_geometry.xsize})"
        )
    x0 = science.xstart - ref_geometry.xstart
    y0 = science.ystart - ref_geometry.ystart
    if (
        x0 < 0
        or y0 < 0
        or x0 + science.xsize > ref_geometry.xsize
        or y0 + science.ysize > ref_geometry.ysize
    ):
        raise SubarrayError(
            f"{name}: reference covers columns {ref_geometry.xstart}-"
            f"{ref_geometry.xstart + ref_geometry.xsize - 1}, rows {ref_geometry.ystart}-"
            f"{ref_geometry.ystart + ref_geometry.ysize - 1} (1-based), which does not contain "
            f"the science subarray columns {science.xstart}-{science.xstart + science.xsize - 1}, "
            f"rows {science.ystart}-{science.ystart + science.ysize - 1}"
        )
    if (x0, y0, science.xsize, science.ysize) == (0, 0, ref_geometry.xsize, ref_geometry.ysize):
        return ref
    return ref[..., y0 : y0 + science.ysize, x0 : x0 + science.xsize].copy()
