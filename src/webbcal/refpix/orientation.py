"""Conversion between DMS (science) orientation and detector readout orientation.

Near-infrared data are delivered in the DMS orientation, which differs from
detector to detector. The FASTAXIS and SLOWAXIS keywords say which DMS axis
(1 = columns / x, 2 = rows / y) is read along the fast and slow directions
of the readout, and the sign says whether it is read in increasing (+) or
decreasing (-) order. In detector orientation the fast direction runs along
the columns (last axis, increasing) and the slow direction along the rows,
so the four 512-column amplifier strips of a full frame are columns
0-511, 512-1023, 1024-1535 and 1536-2047.

References
----------
JWST Science Calibration Pipeline documentation, "Reference Pixel
Correction" (``refpix``) step description, and the JWST keyword dictionary
entries for FASTAXIS / SLOWAXIS.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from webbcal.lib.subarray import SubarrayGeometry

__all__ = ["DetectorWindow", "detector_window", "to_detector", "to_dms"]

_VALID_AXES = {(1, 2), (1, -2), (-1, 2), (-1, -2), (2, 1), (2, -1), (-2, 1), (-2, -1)}


def _check_axes(fastaxis: int, slowaxis: int) -> None:
    if (fastaxis, slowaxis) not in _VALID_AXES:
        raise ValueError(
            f"fastaxis={fastaxis!r}, slowaxis={slowaxis!r} is not a valid readout orientation: "
            "expected one of +-1 and one of +-2 (different axes)"
        )


def to_detector(array: np.ndarray, fastaxis: int, slowaxis: int) -> np.ndarray:
    """Return a view of ``array`` in detector orientation.

    Parameters
    ----------
    array : ndarray, shape (..., ny, nx)
        Data in DMS orientation; the last two axes are rows and columns.
    fastaxis, slowaxis : int
        FASTAXIS and SLOWAXIS keywords (+-1 or +-2, on different axes).

    Returns
    -------
    ndarray, shape (..., ny, nx) or (..., nx, ny)
        A view (writes go through to ``array``) in which the fast readout
        direction runs along the last axis in increasing order.

    Raises
    ------
    ValueError
        If the axes are not a valid pair.
    """
    _check_axes(fastaxis, slowaxis)
    if abs(fastaxis) == 1:
        return array[..., :: int(np.sign(slowaxis)), :: int(np.sign(fastaxis))]
    flipped = array[..., :: int(np.sign(fastaxis)), :: int(np.sign(slowaxis))]
    return np.swapaxes(flipped, -2, -1)


def to_dms(array: np.ndarray, fastaxis: int, slowaxis: int) -> np.ndarray:
    """Return a view of a detector-orientation ``array`` in DMS orientation.

    The inverse of :func:`to_detector`.

    Parameters
    ----------
    array : ndarray, shape (..., ny_det, nx_det)
        Data in detector orientation.
    fastaxis, slowaxis : int
        FASTAXIS and SLOWAXIS keywords.

    Returns
    -------
    ndarray
        A view in DMS orientation.

    Raises
    ------
    ValueError
        If the axes are not a valid pair.
    """
    _check_axes(fastaxis, slowaxis)
    if abs(fastaxis) == 1:
        return array[..., :: int(np.sign(slowaxis)), :: int(np.sign(fastaxis))]
    swapped = np.swapaxes(array, -2, -1)
    return swapped[..., :: int(np.sign(fastaxis)), :: int(np.sign(slowaxis))]


@dataclass(frozen=True)
class DetectorWindow:
    """Position of a (sub)array on the detector, in detector orientation.

    Attributes
    ----------
    x0, y0 : int
        0-based first column (fast direction) and row (slow direction).
    nx, ny : int
        Number of columns and rows.
    full_nx, full_ny : int
        Size of the whole detector in detector orientation.
    """

    x0: int
    y0: int
    nx: int
    ny: int
    full_nx: int
    full_ny: int

    @property
    def fits(self) -> bool:
        """True when the window lies inside the detector."""
        return (
            self.x0 >= 0
            and self.y0 >= 0
            and self.x0 + self.nx <= self.full_nx
            and self.y0 + self.ny <= self.full_ny
        )


def _flip_range(start: int, size: int, full: int, sign: int) -> int:
    """First index of ``[start, start + size)`` after optionally reversing an axis of ``full``."""
    return start if sign > 0 else full - (start + size)


def detector_window(geometry: SubarrayGeometry, fastaxis: int, slowaxis: int) -> DetectorWindow:
    """Where a DMS subarray lies on the detector in detector orientation.

    Parameters
    ----------
    geometry : SubarrayGeometry
        1-based SUBSTRT1/2 and SUBSIZE1/2 in DMS full-frame coordinates.
    fastaxis, slowaxis : int
        FASTAXIS and SLOWAXIS keywords.

    Returns
    -------
    DetectorWindow
        The subarray's 0-based start and size along the detector fast
        (columns) and slow (rows) directions.

    Raises
    ------
    ValueError
        If the axes are not a valid pair.
    """
    _check_axes(fastaxis, slowaxis)
    col0, row0 = geometry.xstart - 1, geometry.ystart - 1
    if abs(fastaxis) == 1:
        x0 = _flip_range(col0, geometry.xsize, geometry.full_nx, fastaxis)
        y0 = _flip_range(row0, geometry.ysize, geometry.full_ny, slowaxis)
        return DetectorWindow(
            x0, y0, geometry.xsize, geometry.ysize, geometry.full_nx, geometry.full_ny
        )
    x0 = _flip_range(row0, geometry.ysize, geometry.full_ny, fastaxis)
    y0 = _flip_range(col0, geometry.xsize, geometry.full_nx, slowaxis)
    return DetectorWindow(
        x0, y0, geometry.ysize, geometry.xsize, geometry.full_ny, geometry.full_nx
    )
