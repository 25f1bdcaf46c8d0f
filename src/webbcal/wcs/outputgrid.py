"""Output grids for resampling: a TAN WCS that covers a set of input footprints.

Resampled products (``i2d``) sit on a distortion-free gnomonic (TAN) grid:

* the fiducial (CRVAL) is the centre of the smallest axis-aligned box that
  encloses the unit vectors of all input footprint corners (robust across
  RA = 0 and near the poles);
* the pixel scale is the input's at its reference point, ``sqrt(sx * sy)`` for
  one-pixel steps along x and y, times ``pscale_ratio`` (or given outright);
* the orientation keeps the detector axes (``ROLL_REF``, ``V3I_YANG``,
  ``VPARITY`` of the reference exposure) unless a ``rotation`` (position angle
  of the output +y axis, degrees east of north) is given;
* the array covers the footprints: ``CRPIX`` puts the lowest projected corner
  at pixel 0 (or is given), and each axis ends at the pixel nearest the
  highest corner (the official rounding: that corner may lie up to one pixel
  beyond the last pixel's edge).

The transform is gwcs's ``FITSImagingWCSTransform`` (CRPIX shift, PC matrix,
CDELT scale, ``Pix2Sky_TAN``, native-to-celestial rotation), as in official
resampled products.

References
----------
Calabretta, M. R. & Greisen, E. W. 2002, A&A 395, 1077 (TAN projection, PC
matrix, native-to-celestial rotation with LONPOLE 180).

JWST pipeline documentation, ``resample`` step arguments ``pixel_scale_ratio``,
``pixel_scale``, ``rotation``, ``crpix``, ``crval``, ``output_shape``.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Sequence

import gwcs
import numpy as np
from astropy import coordinates
from astropy import units as u
from astropy.modeling import models
from gwcs import FITSImagingWCSTransform

from . import frames
from .footprint import parse_s_region
from .pointing import Pointing, PointingError, pc_matrix

log = logging.getLogger(__name__)

__all__ = ["fiducial_from_footprints", "output_wcs", "pixel_scale_at"]


def _as_corners(item) -> np.ndarray:
    corners = parse_s_region(item) if isinstance(item, str) else np.asarray(item, dtype=float)
    if corners.ndim != 2 or corners.shape[1] != 2 or not np.all(np.isfinite(corners)):
        raise ValueError(f"footprint {item!r}: expected (n, 2) finite (ra, dec) or an S_REGION")
    return corners


def fiducial_from_footprints(footprints: Sequence) -> tuple[float, float]:
    """Centre of the box enclosing the footprint corners on the unit sphere.

    Parameters
    ----------
    footprints : sequence of array_like (n, 2) or str
        Corners ``(ra, dec)`` in degrees, or ``S_REGION`` strings.

    Returns
    -------
    tuple of float
        ``(ra, dec)`` in degrees, RA in [0, 360).

    Raises
    ------
    ValueError
        If ``footprints`` is empty or a footprint is malformed.
    """
    if len(footprints) == 0:
        raise ValueError("footprints is empty: expected at least one footprint")
    corners = np.vstack([_as_corners(f) for f in footprints])
    ra, dec = np.radians(corners[:, 0]), np.radians(corners[:, 1])
    xyz = np.array([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)])
    mid = 0.5 * (xyz.min(axis=1) + xyz.max(axis=1))
    lon = math.degrees(math.atan2(mid[1], mid[0])) % 360.0
    lat = math.degrees(math.atan2(mid[2], math.hypot(mid[0], mid[1])))
    return lon, lat


def pixel_scale_at(wcs, ra: float, dec: float) -> float:
    """Pixel scale of a WCS at a sky position, ``sqrt(sx * sy)`` in degrees.

    Parameters
    ----------
    wcs : gwcs.WCS
        Imaging WCS.
    ra, dec : float
        Sky position (degrees) where the scale is measured (e.g. RA_REF, DEC_REF).

    Returns
    -------
    float
        Geometric mean of the angular lengths of one-pixel steps along x and y
        from the pixel at ``(ra, dec)``, degrees.
    """
    x0, y0 = wcs.invert(ra, dec, with_bounding_box=False)
    xs = np.array([x0, x0 + 1.0, x0])
    ys = np.array([y0, y0, y0 + 1.0])
    r, d = wcs(xs, ys, with_bounding_box=False)
    sky = coordinates.SkyCoord(r * u.deg, d * u.deg)
    sx = sky[0].separation(sky[1]).deg
    sy = sky[0].separation(sky[2]).deg
    return float(math.sqrt(sx * sy))


def _pc(reference: Pointing, rotation: float | None) -> np.ndarray:
    if rotation is None:
        return pc_matrix(reference)
    if reference.v3i_yang is None or reference.vparity is None:
        raise PointingError("rotation needs V3I_YANG and VPARITY of the reference exposure")
    # The roll that puts +y at the requested position angle once the ideal-frame angle is removed.
    roll = rotation + reference.vparity * reference.v3i_yang
    return pc_matrix(dataclasses.replace(reference, roll_ref=roll))


def _tan_transform(crval, pc, scale, offsets) -> FITSImagingWCSTransform:
    return FITSImagingWCSTransform(
        models.Pix2Sky_TAN(),
        crpix=[float(offsets[0]), float(offsets[1])],
        crval=[float(crval[0]), float(crval[1])],
        cdelt=[scale, scale],
        pc=pc,
    )


def output_wcs(
    footprints: Sequence,
    reference: Pointing,
    *,
    pixel_scale: float,
    rotation: float | None = None,
    crval: tuple[float, float] | None = None,
    crpix: tuple[float, float] | None = None,
    shape: tuple[int, int] | None = None,
) -> gwcs.WCS:
    """A TAN output grid covering footprints, frames ``detector`` -> ``world``.

    Parameters
    ----------
    footprints : sequence of array_like (n, 2) or str
        Input footprints, ``(ra, dec)`` degrees or ``S_REGION`` strings.
    reference : Pointing
        Pointing of the reference exposure; ``roll_ref``, ``v3i_yang`` and
        ``vparity`` set the default orientation.
    pixel_scale : float
        Output pixel scale, degrees (see :func:`pixel_scale_at`).
    rotation : float or None, optional
        Position angle of the output +y axis, degrees east of north (0 = north
        up); None keeps the reference exposure's detector orientation.
    crval : tuple of float or None, optional
        Sky position of the reference pixel; default
        :func:`fiducial_from_footprints`.
    crpix : tuple of float or None, optional
        0-based pixel of ``crval``; default puts the lowest footprint corner
        at pixel 0 on each axis.
    shape : tuple of int or None, optional
        ``(ny, nx)``; default reaches the highest footprint corner.

    Returns
    -------
    gwcs.WCS
        With ``bounding_box`` and ``pixel_shape`` set.

    Raises
    ------
    ValueError
        On a non-positive ``pixel_scale``, malformed footprints or a computed
        shape smaller than 2 x 2.
    PointingError
        If ``reference`` lacks V3I_YANG or VPARITY.

    References
    ----------
    Calabretta & Greisen 2002 (TAN, PC, LONPOLE 180).
    """
    if not pixel_scale > 0:
        raise ValueError(f"pixel_scale={pixel_scale!r}: expected a positive number of degrees")
    corners = [_as_corners(f) for f in footprints]
    if crval is None:
        crval = fiducial_from_footprints(corners)
    pc = _pc(reference, rotation)
    core = _tan_transform(crval, pc, pixel_scale, (0.0, 0.0))
    native = np.hstack([np.array(core.inverse(*c.T)) for c in corners])
    lo, hi = native.min(axis=1), native.max(axis=1)
    if crpix is None:
        offsets = -lo
    else:
        offsets = np.asarray(crpix, dtype=float)
    lo, hi = lo + offsets, hi + offsets
    if shape is None:
        shape = tuple(int(h + 0.5) for h in hi[::-1])
        bbox = tuple((-0.5, n - 0.5) for n in shape[::-1])
    else:
        shape = tuple(int(n) for n in shape)
        bbox = tuple(
            (max(0, int(a + 0.5)) - 0.5, min(int(b + 0.5), n) - 0.5)
            for a, b, n in zip(lo, hi, shape[::-1], strict=True)
        )
    if min(shape) < 2:
        raise ValueError(f"computed output shape {shape} is smaller than 2 x 2 (bbox {bbox})")
    transform = _tan_transform(crval, pc, pixel_scale, offsets)
    wcs = gwcs.WCS([(frames.detector_frame(), transform), (frames.world_frame(), None)])
    wcs.bounding_box = bbox
    wcs.pixel_shape = shape[::-1]
    log.debug("Output grid %s, CRVAL %s, scale %.4g arcsec", shape, crval, pixel_scale * 3600)
    return wcs
