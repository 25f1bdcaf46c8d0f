"""The source catalog table: the official columns, units, descriptions, formats and meta.

Column order (for ``aperture_ee = (30, 50, 70)``): ``label``, ``xcentroid``,
``ycentroid``, ``sky_centroid``, ``aper_bkg_flux(_err)``, ``aper30/50/70_flux(_err)``,
``aper_total_flux(_err)``, the same for ``abmag`` and ``vegamag``, ``CI_50_30``,
``CI_70_50``, ``CI_70_30``, ``is_extended``, ``sharpness``, ``roundness``,
``nn_label``, ``nn_dist``, ``isophotal_flux(_err)``, ``isophotal_abmag(_err)``,
``isophotal_vegamag(_err)``, ``isophotal_area``, ``semimajor_sigma``,
``semiminor_sigma``, ``ellipticity``, ``orientation``, ``sky_orientation`` and the
four ``sky_bbox_*`` corners; then, a webbcal extension after the official columns, Kron
photometry of segmentation catalogs: ``kron_flux(_err)``, ``kron_abmag(_err)``,
``kron_vegamag(_err)`` (the elliptical Kron aperture of ``kron_params``, photutils
``SourceCatalog.kron_flux``; Kron 1980, ApJS 43, 305). Fluxes are in Jy, positions
0-based pixels.

References
----------
JWST pipeline documentation, ``source_catalog`` step, "Source Catalog Table" (column
names, meanings and units).
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from typing import Any

import numpy as np

from .photometry import (
    CI_PAIRS,
    ApertureParams,
    aperture_photometry,
    concentration_indices,
    daofind_statistics,
    flux_to_abmag,
    is_extended,
    nearest_neighbours,
)

__all__ = ["CatalogInputs", "build_catalog", "sky_orientation_offset"]

#: Detection-table column (future photutils name, then star-finder name) of each
#: segment column of the catalog.
_SEGMENT_SOURCES = {
    "label": ("label", "id"),
    "xcentroid": ("x_centroid", "xcentroid"),
    "ycentroid": ("y_centroid", "ycentroid"),
    "sky_centroid": ("sky_centroid",),
    "isophotal_flux": ("segment_flux", "flux"),
    "isophotal_flux_err": ("segment_flux_err",),
    "isophotal_area": ("area", "npix"),
    "semimajor_sigma": ("semimajor_axis",),
    "semiminor_sigma": ("semiminor_axis",),
    "ellipticity": ("ellipticity",),
    "orientation": ("orientation", "pa"),
    "sky_bbox_ll": ("sky_bbox_ll",),
    "sky_bbox_ul": ("sky_bbox_ul",),
    "sky_bbox_lr": ("sky_bbox_lr",),
    "sky_bbox_ur": ("sky_bbox_ur",),
    "kron_flux": ("kron_flux",),
    "kron_flux_err": ("kron_flux_err",),
}
_SEGMENT_DESCRIPTIONS = {
    "label": "Unique source identification label number",
    "xcentroid": "X pixel value of the source centroid (0 indexed)",
    "ycentroid": "Y pixel value of the source centroid (0 indexed)",
    "sky_centroid": "ICRS Sky coordinate of the source centroid",
    "isophotal_flux": "Isophotal flux",
    "isophotal_flux_err": "Isophotal flux error",
    "isophotal_abmag": "Isophotal AB magnitude",
    "isophotal_abmag_err": "Isophotal AB magnitude error",
    "isophotal_vegamag": "Isophotal Vega magnitude",
    "isophotal_vegamag_err": "Isophotal Vega magnitude error",
    "isophotal_area": "Isophotal area",
    "kron_flux": "Flux within the Kron elliptical aperture (kron_params)",
    "kron_flux_err": "Kron flux error",
    "kron_abmag": "Kron AB magnitude",
    "kron_abmag_err": "Kron AB magnitude error",
    "kron_vegamag": "Kron Vega magnitude",
    "kron_vegamag_err": "Kron Vega magnitude error",
    "semimajor_sigma": "1-sigma standard deviation along the semimajor axis of the 2D "
    "Gaussian function that has the same second-order central moments as the source",
    "semiminor_sigma": "1-sigma standard deviation along the semiminor axis of the 2D "
    "Gaussian function that has the same second-order central moments as the source",
    "ellipticity": "1 minus the ratio of the 1-sigma lengths of the semimajor and semiminor axes",
    "orientation": "The angle (degrees) between the positive X axis and the major axis "
    "(increases counter-clockwise)",
    "sky_orientation": "The position angle (degrees) from North of the major axis",
    "sky_bbox_ll": "Sky coordinate of the lower-left vertex of the minimal bounding box "
    "of the source",
    "sky_bbox_ul": "Sky coordinate of the upper-left vertex of the minimal bounding box "
    "of the source",
    "sky_bbox_lr": "Sky coordinate of the lower-right vertex of the minimal bounding box "
    "of the source",
    "sky_bbox_ur": "Sky coordinate of the upper-right vertex of the minimal bounding box "
    "of the source",
}
_KIND_WORDS = {"flux": ("Flux", "flux"), "abmag": ("AB magnitude",) * 2,
               "vegamag": ("Vega magnitude",) * 2}  # fmt: skip
_SIX_DECIMALS = ("semimajor_sigma", "semiminor_sigma", "ellipticity", "orientation",
                 "sky_orientation", "nn_dist", "sharpness", "roundness")  # fmt: skip
_VERSION_PACKAGES = ("Python", "numpy", "scipy", "astropy", "photutils", "gwcs")


@dataclass(frozen=True)
class CatalogInputs:
    """Everything the catalog is measured from (arrays are not modified).

    Attributes
    ----------
    data, error : ndarray, shape (ny, nx), float, Jy per pixel
        Image (not background subtracted) and its total 1-sigma error.
    detections : astropy.table.QTable
        Detection table (:func:`webbcal.source_catalog.detect_sources`), >= 1 row.
    wcs : object
        Shared-interface WCS (gwcs) of the image.
    crpix : (float, float)
        1-based reference pixel (CRPIX1, CRPIX2), where the sky orientation is taken.
    aperture : ApertureParams
    abvega_offset : float
        ``m_AB - m_Vega``, mag.
    kernel_fwhm : float
        Detection kernel FWHM, pixels (DAOFIND statistics).
    ci_star_thresholds : (float, float)
    """

    data: np.ndarray
    error: np.ndarray
    detections: Any
    wcs: Any
    crpix: tuple[float, float]
    aperture: ApertureParams
    abvega_offset: float
    kernel_fwhm: float
    ci_star_thresholds: tuple[float, float]


def _column(table, names):
    for name in names:
        if name in table.colnames:
            return table[name]
    return None


def sky_orientation_offset(wcs: Any, x: float, y: float, *, offset_arcsec: float = 1.0) -> float:
    """Angle (degrees, counter-clockwise from +x) of North at pixel (x, y).

    Measured from the pixel of a point ``offset_arcsec`` North of the sky position
    of (x, y).

    Parameters
    ----------
    wcs : object
        Shared-interface WCS.
    x, y : float
        0-based pixel.
    offset_arcsec : float, optional

    Returns
    -------
    float, degrees
    """
    import astropy.units as u

    sky = wcs.pixel_to_world(x, y)
    north = sky.directional_offset_by(0.0 * u.deg, offset_arcsec * u.arcsec)
    x0, y0 = wcs.world_to_pixel(sky)
    x1, y1 = wcs.world_to_pixel(north)
    return float(np.degrees(np.arctan2(y1 - y0, x1 - x0)))


def _aperture_columns(ee, result, apcorr, offset):
    """Ordered aperture columns (name -> (values, is_flux)) and their descriptions."""
    cols, desc = {}, {}
    cols["aper_bkg_flux"] = (result.bkg, True)
    cols["aper_bkg_flux_err"] = (result.bkg_err, True)
    desc["aper_bkg_flux"] = ("The local background value calculated as the sigma-clipped "
                             "median value in the background annulus aperture")  # fmt: skip
    desc["aper_bkg_flux_err"] = "The standard error of the sigma-clipped median background value"
    total = apcorr[-1] * result.flux[-1]
    total_err = apcorr[-1] * result.flux_err[-1]
    fluxes = [*zip(result.flux, result.flux_err, strict=True), (total, total_err)]
    mags = [flux_to_abmag(f, e) for f, e in fluxes]
    values = {
        "flux": fluxes,
        "abmag": mags,
        "vegamag": [(m - offset, e) for m, e in mags],
    }
    for kind, pairs in values.items():
        big, small = _KIND_WORDS[kind]
        names = [f"aper{e}_{kind}" for e in ee] + [f"aper_total_{kind}"]
        for i, (name, (val, err)) in enumerate(zip(names, pairs, strict=True)):
            cols[name] = (val, kind == "flux")
            cols[f"{name}_err"] = (err, kind == "flux")
            if i < len(ee):
                where = f"within the {ee[i]}% encircled energy circular aperture"
                desc[name] = f"{big} {where}"
                desc[f"{name}_err"] = f"{big} error {where}"
            else:
                tail = (f"based on the {ee[-1]}% encircled energy circular aperture; should "
                        "be used only for unresolved sources.")  # fmt: skip
                desc[name] = f"Total aperture-corrected {small} {tail}"
                desc[f"{name}_err"] = f"Total aperture-corrected {small} error {tail}"
    return cols, desc


def build_catalog(inputs: CatalogInputs, *, software: tuple[str, str]) -> Any:
    """Measure every detected source and assemble the catalog table.

    Parameters
    ----------
    inputs : CatalogInputs
    software : (str, str)
        Name and version recorded in the ``version`` metadata.

    Returns
    -------
    astropy.table.QTable
        The catalog (columns, units, descriptions, formats as in the module
        docstring); ``meta`` holds the detection metadata (date, versions,
        local_bkg_width, aperture_mask_method, kron_params), ``aperture_params`` and
        ``abvega_offset``.
    """
    import astropy.units as u
    from astropy.table import QTable

    det = inputs.detections
    n = len(det)
    seg = {name: _column(det, src) for name, src in _SEGMENT_SOURCES.items()}
    x = np.asarray(seg["xcentroid"], float)
    y = np.asarray(seg["ycentroid"], float)
    xy = np.column_stack([x, y])
    if seg["sky_centroid"] is None and inputs.wcs is not None:
        seg["sky_centroid"] = inputs.wcs.pixel_to_world(x, y)
    ap = inputs.aperture
    result = aperture_photometry(inputs.data, inputs.error, xy, ap)
    aper_cols, aper_desc = _aperture_columns(ap.aperture_ee, result, ap.aperture_corrections,
                                             inputs.abvega_offset)  # fmt: skip
    ci = concentration_indices(result.flux)
    sharp, round_ = daofind_statistics(inputs.data, xy, kernel_fwhm=inputs.kernel_fwhm)
    nn_label, nn_dist = nearest_neighbours(xy, np.asarray(seg["label"]))

    cat, desc = QTable(), {}

    def add(name, value, text, unit=None):
        if value is None:  # not measured by this star finder: unitless NaN
            value, unit = np.full(n, np.nan), None
        if unit is not None and not hasattr(value, "unit"):
            value = u.Quantity(np.asarray(value), unit)
        cat[name] = value
        desc[name] = text

    for name in ("label", "xcentroid", "ycentroid", "sky_centroid"):
        add(name, seg[name], _SEGMENT_DESCRIPTIONS[name])
    for name, (values, is_flux) in aper_cols.items():
        add(name, values, aper_desc[name], u.Jy if is_flux else None)
    ee = ap.aperture_ee
    for k, (a, b) in enumerate(CI_PAIRS):
        add(f"CI_{ee[a]}_{ee[b]}", ci[k],
            f"Concentration index calculated as (aper{ee[a]}_flux / aper{ee[b]}_flux)")  # fmt: skip
    add("is_extended", is_extended(ci, inputs.ci_star_thresholds),
        "Flag indicating whether the source is extended")  # fmt: skip
    add("sharpness", sharp, "The DAOFind source sharpness statistic")
    add("roundness", round_, "The DAOFind source roundness statistic")
    add("nn_label", nn_label, "The label number of the nearest neighbor")
    add("nn_dist", nn_dist, "The distance in pixels to the nearest neighbor", u.pixel)
    _add_segment_photometry(add, seg, inputs.abvega_offset)
    for name in ("isophotal_area", "semimajor_sigma", "semiminor_sigma", "ellipticity",
                 "orientation"):  # fmt: skip
        add(name, seg[name], _SEGMENT_DESCRIPTIONS[name])
    add("sky_orientation", _sky_orientation(inputs, seg["orientation"]),
        _SEGMENT_DESCRIPTIONS["sky_orientation"])  # fmt: skip
    for corner in ("ll", "ul", "lr", "ur"):
        add(f"sky_bbox_{corner}", seg[f"sky_bbox_{corner}"],
            _SEGMENT_DESCRIPTIONS[f"sky_bbox_{corner}"])  # fmt: skip
    # webbcal extension, after the official columns: Kron photometry (segmentation only)
    if seg["kron_flux"] is not None:
        _add_flux_columns(add, "kron", seg["kron_flux"], seg["kron_flux_err"],
                          inputs.abvega_offset)  # fmt: skip
    for name in cat.colnames:
        cat[name].info.description = desc[name]
        fmt = _format(name)
        if fmt:
            cat[name].info.format = fmt
    cat.meta.update(_meta(det.meta, software, ap, inputs.abvega_offset))
    return cat


def _add_segment_photometry(add, seg, offset):
    _add_flux_columns(add, "isophotal", seg["isophotal_flux"], seg["isophotal_flux_err"], offset)


def _add_flux_columns(add, prefix, flux, err, offset):
    """``<prefix>_flux(_err)`` in Jy and the AB and Vega magnitudes from them."""
    import astropy.units as u

    flux_v = None if flux is None else np.asarray(getattr(flux, "value", flux))
    err_v = None if err is None else np.asarray(getattr(err, "value", err))
    text = _SEGMENT_DESCRIPTIONS
    add(f"{prefix}_flux", flux_v, text[f"{prefix}_flux"], u.Jy)
    add(f"{prefix}_flux_err", err_v, text[f"{prefix}_flux_err"], u.Jy)
    if flux_v is None:
        mag = mag_err = None
    else:
        mag, mag_err = flux_to_abmag(flux_v, err_v)
    add(f"{prefix}_abmag", mag, text[f"{prefix}_abmag"])
    add(f"{prefix}_abmag_err", mag_err, text[f"{prefix}_abmag_err"])
    add(f"{prefix}_vegamag", None if mag is None else mag - offset, text[f"{prefix}_vegamag"])
    add(f"{prefix}_vegamag_err", mag_err, text[f"{prefix}_vegamag_err"])


def _sky_orientation(inputs, orientation):
    import astropy.units as u

    if inputs.wcs is None:
        return None
    if orientation is None:
        return np.full(len(inputs.detections), np.nan) * u.deg
    angle = sky_orientation_offset(inputs.wcs, inputs.crpix[0] - 1.0, inputs.crpix[1] - 1.0)
    orient = u.Quantity(orientation, u.deg)
    return ((180.0 - angle) * u.deg + orient) % (360.0 * u.deg)


def _format(name: str) -> str | None:
    fmt = None
    if name in ("xcentroid", "ycentroid") or "CI_" in name:
        fmt = ".4f"
    if "flux" in name:
        fmt = ".6e"
    if "abmag" in name or "vegamag" in name or name in _SIX_DECIMALS:
        fmt = ".6f"
    return fmt


def _meta(detection_meta: dict, software: tuple[str, str], ap: ApertureParams, offset) -> dict:
    meta = dict(detection_meta)
    for key in ("versions", "version"):
        if key in meta and isinstance(meta[key], dict):
            versions = dict(meta[key])
            versions.setdefault("Python", platform.python_version())
            versions[software[0]] = software[1]
            meta[key] = {k: versions[k] for k in (*_VERSION_PACKAGES, software[0])
                         if k in versions}  # fmt: skip
    meta["aperture_params"] = ap.as_meta()
    meta["abvega_offset"] = offset
    return meta
