"""gwcs helpers shared by assign_wcs, tweakreg, resample and source_catalog.

Modules
-------
frames
    The standard frames ``detector``, ``v2v3``, ``v2v3vacorr``, ``world``.
pointing
    :class:`Pointing` from the FITS keywords, the V2V3-to-sky rotation and the
    velocity-aberration scale.
imaging
    :func:`imaging_wcs`: detector -> v2v3 -> v2v3vacorr -> world from a
    distortion transform, a pointing, the subarray and a filter offset.
footprint
    Footprint corners, the ``S_REGION`` string, overlaps on the sphere.
outputgrid
    The TAN output grid of resampling that covers a set of footprints.
pixelmap
    Pixel-to-pixel maps between two WCSs, exact or interpolated with a
    measured error bound.
sip
    The FITS TAN-SIP approximation with the official parameters.
grism
    The NIRCam grism time-series WCS (``specwcs`` dispersion polynomials per order) and
    the WCS of its extract_2d cut-out (imported on use, not re-exported here).
siaf
    Detector-to-V2V3 transforms from SIAF aperture parameters (read from a SIAF XML,
    or from the small subset shipped in ``webbcal/data/siaf_demo.json``).

References
----------
JWST pipeline documentation, ``assign_wcs`` ("WCS of imaging data").
"""

from .footprint import (
    FootprintError,
    footprint,
    footprint_polygon,
    footprints_overlap,
    overlap_fraction,
    parse_s_region,
    s_region,
    s_region_from_wcs,
)
from .frames import detector_frame, v2v3_frame, v2v3vacorr_frame, world_frame
from .imaging import (
    ImagingWcsError,
    filter_offset,
    imaging_wcs,
    imaging_wcs_from_model,
    read_distortion,
)
from .outputgrid import fiducial_from_footprints, output_wcs, pixel_scale_at
from .pixelmap import (
    MAX_TOLERANCE,
    PixelMap,
    PixelMapFit,
    exact_pixel_map,
    fit_pixel_map,
    pixel_map,
)
from .pointing import (
    Pointing,
    PointingError,
    pc_matrix,
    pointing_from_header,
    pointing_from_model,
    v2v3_to_sky,
    va_correction,
)
from .siaf import (
    SiafAperture,
    SiafError,
    distortion_from_siaf,
    packaged_siaf_aperture,
    read_siaf_aperture,
)
from .sip import (
    STALE_WCSINFO_KEYS,
    SipFitError,
    SipParams,
    sip_header,
    sip_wcsinfo,
    update_sip_wcsinfo,
    wcsinfo_crpix,
)

__all__ = [
    "MAX_TOLERANCE",
    "STALE_WCSINFO_KEYS",
    "FootprintError",
    "ImagingWcsError",
    "PixelMap",
    "PixelMapFit",
    "Pointing",
    "PointingError",
    "SiafAperture",
    "SiafError",
    "SipFitError",
    "SipParams",
    "detector_frame",
    "distortion_from_siaf",
    "exact_pixel_map",
    "fiducial_from_footprints",
    "filter_offset",
    "fit_pixel_map",
    "footprint",
    "footprint_polygon",
    "footprints_overlap",
    "imaging_wcs",
    "imaging_wcs_from_model",
    "output_wcs",
    "overlap_fraction",
    "packaged_siaf_aperture",
    "parse_s_region",
    "pc_matrix",
    "pixel_map",
    "pixel_scale_at",
    "pointing_from_header",
    "pointing_from_model",
    "read_distortion",
    "read_siaf_aperture",
    "s_region",
    "s_region_from_wcs",
    "sip_header",
    "sip_wcsinfo",
    "update_sip_wcsinfo",
    "v2v3_frame",
    "v2v3_to_sky",
    "v2v3vacorr_frame",
    "va_correction",
    "wcsinfo_crpix",
    "world_frame",
]
