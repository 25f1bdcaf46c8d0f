"""Kernels of ``tso_photometry``: units, source centroids and aperture sums per integration.

* :func:`to_flux_units` -- MJy/sr -> Jy per pixel (x 1e6 PIXAR_SR), or DN/s ->
  electrons (x integration time x gain);
* :func:`locate_source` -- two passes of centre-of-mass centroids (photutils
  ``centroid_sources``) on images with their median background (outside
  ``source_radius``) subtracted: a ``search_box_width`` box around the planned position,
  then a ``fit_box_width`` box around the median of the first pass, where a Gaussian
  PRF of free widths and flux is fitted at the fixed centroid (photutils
  ``PSFPhotometry``);
* :func:`aperture_sums` -- per integration, the sum (and its error) in a circle of
  ``radius`` and in an annulus ``radius_inner``..``radius_outer`` (exact pixel overlap,
  photutils ``ApertureStats``); the annulus mean times the aperture area is the
  background.

Pixel coordinates are 0-based (centre of the first pixel at 0).

References
----------
JWST pipeline documentation, ``tso_photometry`` step (description, arguments, output
catalog columns); photutils documentation (``ApertureStats``, ``centroid_sources``,
``GaussianPRF``, ``PSFPhotometry``).
"""

from __future__ import annotations

import logging
import warnings

import numpy as np

__all__ = ["aperture_sums", "locate_source", "to_flux_units"]

log = logging.getLogger(__name__)

_FWHM_TO_SIGMA = 1.0 / (2.0 * np.sqrt(2.0 * np.log(2.0)))


def to_flux_units(
    data: np.ndarray,
    err: np.ndarray,
    bunit: str | None,
    *,
    pixar_sr: float | None,
    integration_time: float | None,
    gain: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, str | None]:
    """New SCI and ERR arrays in flux units, and their unit.

    Parameters
    ----------
    data, err : ndarray, shape (nints, ny, nx), float32
    bunit : str or None
        ``MJy/sr`` (needs ``pixar_sr``), ``DN/s`` (needs ``integration_time`` and
        ``gain``, e-/DN, shape (ny, nx)); other units are kept (a warning).

    Returns
    -------
    data, err : ndarray
        Converted copies.
    unit : str or None
        ``Jy``, ``electron`` or ``bunit``.
    """
    if bunit == "MJy/sr" and pixar_sr is not None:
        factor = np.float32(1e6 * pixar_sr)
        return data * factor, err * factor, "Jy"
    if bunit == "DN/s" and gain is not None and integration_time is not None:
        factor = np.float32(integration_time) * np.asarray(gain, dtype=np.float32)
        return data * factor, err * factor, "electron"
    log.warning("Unexpected data units: %s. Photometry will be produced using the input "
                "units.", bunit)  # fmt: skip
    return np.array(data), np.array(err), bunit


def _centroids(data, bad, source, x0, y0, box, fit_psf):
    from photutils.centroids import centroid_sources

    nints, ny, nx = data.shape
    cx, cy = np.full(nints, np.nan), np.full(nints, np.nan)
    psf = np.full((3, nints), np.nan) if fit_psf else None
    for i in range(nints):
        image = data[i] - np.nanmedian(data[i][~source])
        try:
            x, y = centroid_sources(image, x0, y0, mask=bad[i], box_size=box)
            cx[i], cy[i] = x[0], y[0]
        except ValueError as exc:
            log.debug("Centroid failed in integration %d: %s", i + 1, exc)
        if not (0 <= cx[i] < nx and 0 <= cy[i] < ny):
            cx[i] = cy[i] = np.nan
        if fit_psf and np.isfinite(cx[i]):
            psf[:, i] = _gaussian_prf(image, bad[i], box, cx[i], cy[i])
    return cx, cy, psf


def _gaussian_prf(image, bad, box, x, y):
    """(sigma_x, sigma_y, flux) of a Gaussian PRF fitted at the fixed position (x, y)."""
    from astropy.table import QTable
    from photutils.psf import GaussianPRF, PSFPhotometry
    from photutils.utils import CutoutImage

    cut = CutoutImage(image, (y, x), (box, box))
    cut_bad = CutoutImage(bad, (y, x), (box, box))
    flux = float(np.sum(cut.data[~cut_bad.data]))
    prf = GaussianPRF(flux=flux, x_0=x, y_0=y, x_fwhm=box / 2, y_fwhm=box / 2)
    prf.x_0.fixed = prf.y_0.fixed = True  # the position is the centroid's
    prf.flux.fixed = prf.x_fwhm.fixed = prf.y_fwhm.fixed = False  # widths fixed by default
    prf.flux.bounds = (0.0, np.inf)
    prf.x_fwhm.bounds = prf.y_fwhm.bounds = (0.0, box)
    start = QTable({"x": [x], "y": [y], "flux": [flux], "x_fwhm": [box / 2],
                    "y_fwhm": [box / 2]})  # fmt: skip
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = PSFPhotometry(prf, (box, box))(image, mask=bad, init_params=start)
    except ValueError as exc:
        log.debug("PSF fit failed: %s", exc)
        return np.nan, np.nan, np.nan
    return (_FWHM_TO_SIGMA * float(fit["x_fwhm_fit"][0]),
            _FWHM_TO_SIGMA * float(fit["y_fwhm_fit"][0]), float(fit["flux_fit"][0]))  # fmt: skip


def locate_source(data: np.ndarray, bad: np.ndarray, x0: float, y0: float, *,
                  search_box_width: int, fit_box_width: int,
                  source_radius: float) -> dict[str, np.ndarray | None]:  # fmt: skip
    """Centroid (and Gaussian PRF) of the source in every integration.

    Parameters
    ----------
    data : ndarray, shape (nints, ny, nx)
        Images (flux units).
    bad : ndarray of bool, same shape
        Pixels left out (DO_NOT_USE or NaN).
    x0, y0 : float
        Planned position, 0-based pixels.
    search_box_width, fit_box_width : int
        Odd box widths of the two passes, pixels.
    source_radius : float
        Radius (pixels) excluded from the background median.

    Returns
    -------
    dict
        ``centroid_x``, ``centroid_y`` (nints,) (NaN where a fit failed); ``psf_width_x``,
        ``psf_width_y`` (Gaussian sigma, pixels) and ``psf_flux``: arrays, or None when
        the first pass failed everywhere.
    """
    ny, nx = data.shape[1:]
    yy, xx = np.mgrid[:ny, :nx]

    def source(x, y):
        return (xx - x) ** 2 + (yy - y) ** 2 < source_radius**2

    cx, cy, _ = _centroids(data, bad, source(x0, y0), x0, y0, search_box_width, False)
    if not np.isfinite(cx).any() or not np.isfinite(cy).any():
        log.warning("Source could not be centroided.")
        return {"centroid_x": cx, "centroid_y": cy, "psf_width_x": None,
                "psf_width_y": None, "psf_flux": None}  # fmt: skip
    x1, y1 = np.nanmedian(cx), np.nanmedian(cy)
    cx, cy, psf = _centroids(data, bad, source(x1, y1), x1, y1, fit_box_width, True)
    return {"centroid_x": cx, "centroid_y": cy, "psf_width_x": psf[0],
            "psf_width_y": psf[1], "psf_flux": psf[2]}  # fmt: skip


def aperture_sums(data: np.ndarray, err: np.ndarray, x: np.ndarray, y: np.ndarray, *,
                  radius: float, radius_inner: float,
                  radius_outer: float) -> dict[str, np.ndarray]:  # fmt: skip
    """Aperture and annulus sums per integration (see module).

    Parameters
    ----------
    data, err : ndarray, shape (nints, ny, nx)
    x, y : ndarray, shape (nints,)
        Aperture centres, 0-based pixels.
    radius, radius_inner, radius_outer : float
        Pixels.

    Returns
    -------
    dict of str to ndarray (nints,), float64
        aperture_sum, aperture_sum_err, annulus_sum, annulus_sum_err, annulus_mean,
        annulus_mean_err, aperture_bkg, aperture_bkg_err, net_aperture_sum,
        net_aperture_sum_err.
    """
    from photutils.aperture import ApertureStats, CircularAnnulus, CircularAperture

    n = data.shape[0]
    cols = {k: np.empty(n) for k in ("ap", "ap_err", "ap_area", "an", "an_err", "an_area")}
    for i in range(n):
        centre = (float(x[i]), float(y[i]))
        ap = ApertureStats(data[i], CircularAperture(centre, r=radius), error=err[i])
        an = ApertureStats(data[i], CircularAnnulus(centre, r_in=radius_inner,
                                                    r_out=radius_outer), error=err[i])  # fmt: skip
        cols["ap"][i], cols["ap_err"][i] = ap.sum, ap.sum_err
        cols["ap_area"][i] = ap.sum_aper_area.value
        cols["an"][i], cols["an_err"][i] = an.sum, an.sum_err
        cols["an_area"][i] = an.sum_aper_area.value
    mean = cols["an"] / cols["an_area"]
    mean_err = cols["an_err"] / cols["an_area"]
    bkg, bkg_err = mean * cols["ap_area"], mean_err * cols["ap_area"]
    return {
        "aperture_sum": cols["ap"], "aperture_sum_err": cols["ap_err"],
        "annulus_sum": cols["an"], "annulus_sum_err": cols["an_err"],
        "annulus_mean": mean, "annulus_mean_err": mean_err,
        "aperture_bkg": bkg, "aperture_bkg_err": bkg_err,
        "net_aperture_sum": cols["ap"] - bkg,
        "net_aperture_sum_err": np.sqrt(cols["ap_err"] ** 2 + bkg_err**2),
    }  # fmt: skip
