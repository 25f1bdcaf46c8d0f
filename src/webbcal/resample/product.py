"""Metadata of the resampled (``i2d``) product: FITS WCS keywords, S_REGION, sums.

References
----------
JWST pipeline documentation, ``resample`` step ("Output product": WCS keywords
of the TAN grid, combined ``S_REGION``, exposure-time keywords) and the JWST
keyword dictionary (``EFFEXPTM``, ``XPOSURE``, ``TMEASURE``, ``DURATION``).

Calabretta, M. R. & Greisen, E. W. 2002, A&A 395, 1077 (FITS celestial WCS).
"""

from __future__ import annotations

import logging
import math
import re

import numpy as np
import shapely
from gwcs import FITSImagingWCSTransform

from ..wcs import parse_s_region

log = logging.getLogger(__name__)

__all__ = ["combined_s_region", "pixel_area_steradians", "update_wcsinfo"]

#: Pointing keywords that no longer describe a resampled grid.
_POINTING_KEYS = ("v2_ref", "v3_ref", "ra_ref", "dec_ref", "roll_ref", "v3yangle", "vparity")
_SIP_KEY = re.compile(r"^(cd[12]_[12]|[ab]p?_\d_\d|[ab]p?_order)$")


def update_wcsinfo(wcsinfo, wcs) -> None:
    """Write the FITS keywords of a TAN output grid into ``meta.wcsinfo``.

    Parameters
    ----------
    wcsinfo : stdatamodels ObjectNode
        ``model.meta.wcsinfo``; modified in place (the product being built).
    wcs : gwcs.WCS
        Output WCS.

    Notes
    -----
    SIP and pointing keywords (``V2_REF`` ... ``VPARITY``) are removed. A custom
    WCS whose transform is not a FITS imaging transform only loses them.
    """
    keys = list(wcsinfo.instance.keys())
    for key in keys:
        if _SIP_KEY.match(key) or key in _POINTING_KEYS:
            del wcsinfo.instance[key]
    transform = wcs.forward_transform
    if not isinstance(transform, FITSImagingWCSTransform):
        log.warning("Custom output WCS is not a FITS imaging transform: CRPIX/PC not written")
        return
    wcsinfo.crpix1 = float(transform.crpix[0]) + 1
    wcsinfo.crpix2 = float(transform.crpix[1]) + 1
    wcsinfo.cdelt1 = float(transform.cdelt[0])
    wcsinfo.cdelt2 = float(transform.cdelt[1])
    wcsinfo.crval1 = float(transform.crval[0])
    wcsinfo.crval2 = float(transform.crval[1])
    pc = np.asarray(transform.pc, dtype=float)
    wcsinfo.pc1_1, wcsinfo.pc1_2 = float(pc[0][0]), float(pc[0][1])
    wcsinfo.pc2_1, wcsinfo.pc2_2 = float(pc[1][0]), float(pc[1][1])
    wcsinfo.ctype1, wcsinfo.ctype2 = "RA---TAN", "DEC--TAN"
    wcsinfo.cunit1, wcsinfo.cunit2 = "deg", "deg"
    wcsinfo.radesys = "ICRS"


def _s_regions(text: str) -> list[np.ndarray]:
    parts = [p.strip() for p in (text or "").split("POLYGON") if p.strip()]
    return [parse_s_region("POLYGON " + p) for p in parts]


def combined_s_region(s_regions: list[str], wcs) -> str | None:
    """Union of input S_REGIONs, cut to the output grid, as an S_REGION string.

    Parameters
    ----------
    s_regions : list of str
        Input ``S_REGION`` values (each may hold several polygons).
    wcs : gwcs.WCS
        Output WCS with ``array_shape``; the union is formed in its pixel frame.

    Returns
    -------
    str or None
        ``"POLYGON ICRS  ..."`` (one polygon per disjoint piece, 9 decimals);
        None (with a warning) when nothing overlaps the grid.
    """
    ny, nx = wcs.array_shape
    pieces = []
    for text in s_regions:
        for corners in _s_regions(text):
            x, y = wcs.invert(corners[:, 0], corners[:, 1], with_bounding_box=False)
            pieces.append(shapely.Polygon(np.column_stack([x, y])).buffer(0))
    box = shapely.box(-0.5, -0.5, nx - 0.5, ny - 0.5)
    union = shapely.intersection(shapely.union_all(pieces), box)
    polygons = [g for g in getattr(union, "geoms", [union]) if isinstance(g, shapely.Polygon)]
    polygons = [g.simplify(1e-6) for g in polygons if not g.is_empty and g.area > 0]
    if not polygons:
        log.warning("Input S_REGIONs do not overlap the output grid: S_REGION not set")
        return None
    out = []
    for poly in polygons:
        x, y = (np.asarray(c)[:-1] for c in poly.exterior.coords.xy)
        ra, dec = wcs(x, y, with_bounding_box=False)
        ra = np.mod(ra, 360.0)
        out.append("POLYGON ICRS  " + " ".join(f"{a:.9f} {d:.9f}" for a, d in zip(ra, dec)))
    return "  ".join(out)


def pixel_area_steradians(pixel_scale_arcsec: float) -> float:
    """Area of a square pixel of the given side (arcsec), steradians."""
    return (pixel_scale_arcsec * math.pi / (180.0 * 3600.0)) ** 2
