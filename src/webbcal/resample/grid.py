"""Output grids of the imaging ``resample`` step.

Two ways to define where the ``i2d`` product lives on the sky:

* from the inputs (the default): a TAN grid covering every input footprint
  (``S_REGION``), oriented like the first exposure unless a ``rotation`` is
  given, at the first exposure's pixel scale (measured at its reference point
  ``RA_REF``/``DEC_REF``) times ``pixel_scale_ratio``, or at ``pixel_scale``;
  built by :func:`webbcal.wcs.output_wcs`;
* from a user file: an ASDF file whose tree holds a gwcs ``wcs`` and optionally
  ``pixel_scale`` (arcsec), ``pixel_area`` (arcsec**2), ``pixel_shape`` or
  ``array_shape``.

The mean pixel area of a WCS (:func:`mean_pixel_area`) is the spherical area of
the outline of its pixel rectangle, sampled at most every 15 pixels along each
edge, divided by the rectangle's area in pixels; it converts ``pixel_scale``
into a ratio to the input scale.

References
----------
JWST pipeline documentation, ``resample`` step, "Step Arguments" (``output_wcs``,
``output_shape``, ``crpix``, ``crval``, ``rotation``, ``pixel_scale_ratio``,
``pixel_scale``) and "Custom output WCS" (the ASDF file layout).

Calabretta, M. R. & Greisen, E. W. 2002, A&A 395, 1077 (TAN projection).
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import asdf
import numpy as np
from spherical_geometry.polygon import SphericalPolygon

from ..wcs import Pointing, output_wcs, pixel_scale_at

log = logging.getLogger(__name__)

__all__ = ["GridError", "OutputGrid", "custom_grid", "grid_from_footprints", "mean_pixel_area"]

#: Largest spacing of outline samples along an edge in :func:`mean_pixel_area`, pixels.
_OUTLINE_STEP = 15


class GridError(ValueError):
    """The output grid cannot be built from the given parameters or file."""


@dataclass(frozen=True)
class OutputGrid:
    """The resampled product's WCS and the scales the drizzle needs.

    Attributes
    ----------
    wcs : gwcs.WCS
        Output WCS with ``array_shape`` (ny, nx) set.
    pixel_scale : float
        Output pixel scale, arcsec.
    pixel_scale_ratio : float or None
        Output over input pixel scale; None when it is to be measured on the
        first input (custom grids).
    """

    wcs: object
    pixel_scale: float
    pixel_scale_ratio: float | None

    @property
    def shape(self) -> tuple[int, int]:
        """``(ny, nx)`` of the output arrays."""
        ny, nx = self.wcs.array_shape
        return int(ny), int(nx)


def _outline(xmin: int, xmax: int, ymin: int, ymax: int):
    """Counter-clockwise outline points of a pixel rectangle (centres of edge pixels)."""
    nx, ny = xmax - xmin + 1, ymax - ymin + 1
    sx = max(1, math.ceil(nx / min(max((xmax - xmin) // 4, 1), _OUTLINE_STEP)))
    sy = max(1, math.ceil(ny / min(max((ymax - ymin) // 4, 1), _OUTLINE_STEP)))
    bottom = np.linspace(xmin, xmax, sx, endpoint=False)
    right = np.linspace(ymin, ymax, sy, endpoint=False)
    top = np.linspace(xmax, xmin, sx, endpoint=False)
    left = np.linspace(ymax, ymin, sy, endpoint=False)
    x = np.concatenate([bottom, np.full(sy, float(xmax)), top, np.full(sy, float(xmin))])
    y = np.concatenate([np.full(sx, float(ymin)), right, np.full(sx, float(ymax)), left])
    return x, y


def mean_pixel_area(wcs, shape: tuple[int, int] | None = None) -> float:
    """Mean pixel area of an imaging WCS over its bounding box, steradians.

    Parameters
    ----------
    wcs : gwcs.WCS
        Imaging WCS (pixel -> RA, Dec in degrees).
    shape : tuple of int or None, optional
        ``(ny, nx)`` of the array; default ``wcs.array_shape``.

    Returns
    -------
    float
        Spherical area of the outline through the centres of the edge pixels
        divided by the outline's area in square pixels.

    Raises
    ------
    GridError
        If no shape is known, the region is narrower than two pixels, or the
        outline has no finite sky position.

    References
    ----------
    JWST pipeline documentation, ``resample`` ("pixel_scale": mean input pixel area).
    """
    shape = shape if shape is not None else wcs.array_shape
    if shape is None:
        raise GridError("mean pixel area: the WCS has no array_shape and no shape was given")
    ny, nx = (int(n) for n in shape)
    if wcs.bounding_box is None:
        (x0, x1), (y0, y1) = (-0.5, nx - 0.5), (-0.5, ny - 0.5)
    else:
        (x0, x1), (y0, y1) = wcs.bounding_box.bounding_box(order="F")
    xmin, xmax = max(0, int(min(x0, x1) + 0.5)), min(nx - 1, int(max(x0, x1) - 0.5))
    ymin, ymax = max(0, int(min(y0, y1) + 0.5)), min(ny - 1, int(max(y0, y1) - 0.5))
    if xmax <= xmin or ymax <= ymin:
        raise GridError(f"mean pixel area: bounding box {(x0, x1, y0, y1)} is too small")
    x, y = _outline(xmin, xmax, ymin, ymax)
    ra, dec = wcs(x, y, with_bounding_box=False)
    if not (np.all(np.isfinite(ra)) and np.all(np.isfinite(dec))):
        raise GridError("mean pixel area: the WCS gives non-finite sky positions on the outline")
    centre = wcs(0.5 * (xmin + xmax), 0.5 * (ymin + ymax), with_bounding_box=False)
    area = SphericalPolygon.from_radec(ra, dec, center=centre).area()
    if area > 2 * math.pi:  # the complement was returned
        area = 4 * math.pi - area
    return float(area / ((xmax - xmin) * (ymax - ymin)))


def grid_from_footprints(
    footprints: Sequence,
    reference_wcs,
    reference: Pointing,
    *,
    reference_shape: tuple[int, int],
    pixel_scale_ratio: float = 1.0,
    pixel_scale: float | None = None,
    rotation: float | None = None,
    crpix: tuple[float, float] | None = None,
    crval: tuple[float, float] | None = None,
    output_shape: tuple[int, int] | None = None,
) -> OutputGrid:
    """The default output grid: a TAN grid covering the input footprints.

    Parameters
    ----------
    footprints : sequence of str or array_like (n, 2)
        Input ``S_REGION`` strings (one polygon each) or corners in degrees.
    reference_wcs : gwcs.WCS
        WCS of the first input (pixel scale and, with ``reference``, orientation).
    reference : Pointing
        Pointing of the first input (``RA_REF``, ``DEC_REF``, ``ROLL_REF``,
        ``V3I_YANG``, ``VPARITY``).
    reference_shape : tuple of int
        ``(ny, nx)`` of the first input's arrays.
    pixel_scale_ratio : float, optional
        Output over input pixel scale; ignored when ``pixel_scale`` is given.
    pixel_scale : float or None, optional
        Output pixel scale, arcsec.
    rotation : float or None, optional
        Position angle of the output +y axis, degrees east of north.
    crpix : tuple of float or None, optional
        0-based pixel of ``crval``.
    crval : tuple of float or None, optional
        ``(ra, dec)`` of the reference pixel, degrees.
    output_shape : tuple of int or None, optional
        ``(ny, nx)`` of the output.

    Returns
    -------
    OutputGrid

    Raises
    ------
    GridError
        If a scale is not positive.
    """
    if pixel_scale is None:
        if not pixel_scale_ratio > 0:
            raise GridError(f"pixel_scale_ratio={pixel_scale_ratio!r}: expected a positive number")
        scale_in = pixel_scale_at(reference_wcs, reference.ra_ref, reference.dec_ref)
        scale_deg = scale_in * pixel_scale_ratio
        ratio = float(pixel_scale_ratio)
    else:
        if not pixel_scale > 0:
            raise GridError(f"pixel_scale={pixel_scale!r}: expected a positive number of arcsec")
        scale_deg = pixel_scale / 3600.0
        scale_in = math.degrees(math.sqrt(mean_pixel_area(reference_wcs, reference_shape)))
        ratio = scale_deg / scale_in
    log.info("Output pixel scale %.6g arcsec (ratio to input %.6g)", 3600 * scale_deg, ratio)
    wcs = output_wcs(
        footprints,
        reference,
        pixel_scale=scale_deg,
        rotation=rotation,
        crval=None if crval is None else tuple(crval),
        crpix=None if crpix is None else tuple(crpix),
        shape=None if output_shape is None else tuple(output_shape),
    )
    return OutputGrid(wcs, 3600.0 * scale_deg, ratio)


def custom_grid(path: str | Path, output_shape: tuple[int, int] | None = None) -> OutputGrid:
    """Read a user output grid from an ASDF file.

    Parameters
    ----------
    path : str or Path
        ASDF file with a gwcs under ``wcs``; optional ``pixel_scale`` (arcsec),
        ``pixel_area`` (arcsec**2), ``pixel_shape`` (nx, ny), ``array_shape``
        (ny, nx).
    output_shape : tuple of int or None, optional
        ``(ny, nx)``; overrides the file's shape.

    Returns
    -------
    OutputGrid
        ``pixel_scale_ratio`` is None (measured on the first input).

    Raises
    ------
    GridError
        If the file cannot be read, has no ``wcs``, or no output shape can be
        found (``output_shape``, ``array_shape``, ``pixel_shape`` or a bounding box).
    """
    try:
        with asdf.open(path) as af:
            tree = af.tree
            if "wcs" not in tree:
                raise GridError(f"{path}: no 'wcs' in the ASDF tree (expected a gwcs.WCS there)")
            wcs = copy.deepcopy(tree["wcs"])
            area = tree.get("pixel_area")
            scale = tree.get("pixel_scale")
            pixel_shape = tree.get("pixel_shape")
            array_shape = tree.get("array_shape")
    except (OSError, ValueError) as exc:
        if isinstance(exc, GridError):
            raise
        raise GridError(f"output_wcs={str(path)!r}: cannot read the ASDF file ({exc})") from None
    if array_shape is None and pixel_shape is not None:
        array_shape = tuple(pixel_shape)[::-1]
    if output_shape is not None:
        wcs.array_shape = tuple(int(n) for n in output_shape)
    elif wcs.array_shape is None:
        if array_shape is not None:
            wcs.array_shape = tuple(int(n) for n in array_shape)
        elif wcs.bounding_box is not None:
            (_, x1), (_, y1) = wcs.bounding_box.bounding_box(order="F")
            wcs.array_shape = (int(y1 + 0.5), int(x1 + 0.5))
        else:
            raise GridError(
                f"output_wcs={str(path)!r}: the WCS has no array_shape, pixel_shape or "
                "bounding_box; give output_shape"
            )
    if scale is None and area is not None:
        scale = math.sqrt(float(area))
    if scale is None:
        scale = 3600.0 * math.degrees(math.sqrt(mean_pixel_area(wcs)))
    log.info("Custom output grid %s from %s, %.6g arcsec", wcs.array_shape, path, scale)
    return OutputGrid(wcs, float(scale), None)
