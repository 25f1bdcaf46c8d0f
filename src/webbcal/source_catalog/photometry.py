"""Photometry and shape statistics at the detected positions.

* circular-aperture sums at the radii of three encircled energies, less the local
  background (3-sigma clipped median of an annulus, its error the standard error of
  the median ``sqrt(pi / 2N) std``), and the aperture-corrected total flux from the
  largest aperture;
* AB magnitudes ``-2.5 log10(F / 3631 Jy)`` (``8.9 - 2.5 log10 F[Jy]``), their errors
  ``2.5 log10(1 + dF / F)``, Vega magnitudes ``m_AB - (m_AB - m_Vega)``;
* concentration indices (flux ratios of the apertures) and the star/extended
  classification;
* the DAOFIND sharpness and roundness of each source (a zero-sum Gaussian kernel
  truncated at ``max(2, 1.5 sigma)`` pixels);
* the nearest neighbour of each source.

Inputs are plain arrays in one flux unit per pixel (the step uses Jy); outputs are new
arrays.

References
----------
JWST pipeline documentation, ``source_catalog`` step (aperture photometry with the
APCORR encircled-energy radii, concentration indices, ``is_extended``, magnitudes).

Stetson, P. B. 1987, PASP 99, 191 (DAOFIND sharpness and roundness).

Oke, J. B. & Gunn, J. E. 1983, ApJ 266, 713 (AB magnitude system).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

__all__ = [
    "ApertureParams",
    "ApertureResult",
    "aperture_photometry",
    "concentration_indices",
    "daofind_statistics",
    "flux_to_abmag",
    "is_extended",
    "local_background",
    "nearest_neighbours",
]

#: AB zero point for fluxes in Jy: m_AB = 8.9 - 2.5 log10(F / Jy).
AB_ZEROPOINT_JY = 8.9
#: Position given to sources whose centroid is not finite (no aperture overlap).
_OFF_IMAGE = -1000.0


@dataclass(frozen=True)
class ApertureParams:
    """Aperture definition from the APCORR reference (radii in image pixels).

    Attributes
    ----------
    aperture_ee : tuple of int
        Encircled energies, percent, strictly increasing.
    aperture_radii : ndarray, shape (n,), float
        Radii of the circular apertures, pixels of the image measured.
    aperture_corrections : ndarray, shape (n,), float
        Total over enclosed flux for each aperture.
    bkg_aperture_inner_radius, bkg_aperture_outer_radius : float
        Local background annulus radii, pixels of the image measured.
    """

    aperture_ee: tuple[int, ...]
    aperture_radii: np.ndarray
    aperture_corrections: np.ndarray
    bkg_aperture_inner_radius: float
    bkg_aperture_outer_radius: float

    def as_meta(self) -> dict:
        """The parameters as the catalog's ``aperture_params`` metadata."""
        return {
            "aperture_ee": np.asarray(self.aperture_ee),
            "aperture_radii": np.asarray(self.aperture_radii),
            "aperture_corrections": np.asarray(self.aperture_corrections),
            "bkg_aperture_inner_radius": self.bkg_aperture_inner_radius,
            "bkg_aperture_outer_radius": self.bkg_aperture_outer_radius,
        }


@dataclass(frozen=True)
class ApertureResult:
    """Background-subtracted aperture fluxes.

    Attributes
    ----------
    flux, flux_err : ndarray, shape (n_apertures, n_sources), float
        Sums in each aperture less the local background, and their errors.
    bkg, bkg_err : ndarray, shape (n_sources,), float
        Local background per pixel and its error.
    """

    flux: np.ndarray
    flux_err: np.ndarray
    bkg: np.ndarray
    bkg_err: np.ndarray


def finite_positions(xy: np.ndarray) -> np.ndarray:
    """Copy of ``xy`` (shape (n, 2)) with non-finite coordinates moved far off the image."""
    xy = np.array(xy, dtype=float)
    xy[~np.isfinite(xy)] = _OFF_IMAGE
    return xy


def local_background(
    data: np.ndarray, xy: np.ndarray, r_in: float, r_out: float
) -> tuple[np.ndarray, np.ndarray]:
    """Sigma-clipped median of an annulus around each position, and its error.

    Pixels whose centre lies in the annulus are used; NaN pixels are ignored.

    Parameters
    ----------
    data : ndarray, shape (ny, nx), float
    xy : ndarray, shape (n, 2), float
        0-based (x, y) centres (finite).
    r_in, r_out : float
        Annulus radii, pixels.

    Returns
    -------
    median, error : ndarray, shape (n,), float64
        NaN where the annulus holds no usable pixel.
    """
    from astropy.stats import SigmaClip
    from astropy.utils.exceptions import AstropyUserWarning
    from photutils.aperture import CircularAnnulus

    clip = SigmaClip(sigma=3.0)
    masks = CircularAnnulus(xy, r_in, r_out).to_mask(method="center")
    n = len(masks)
    median, std, count = np.full(n, np.nan), np.full(n, np.nan), np.zeros(n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", AstropyUserWarning)
        for i, mask in enumerate(masks):
            values = clip(mask.get_values(data), masked=False)
            count[i] = values.size
            if values.size:
                median[i] = np.median(values)
                std[i] = np.std(values)
        error = np.sqrt(np.pi / (2.0 * count)) * std
    return median, error


def aperture_photometry(
    data: np.ndarray, error: np.ndarray, xy: np.ndarray, params: ApertureParams
) -> ApertureResult:
    """Background-subtracted circular-aperture fluxes at the APCORR radii.

    The aperture sums use exact pixel overlaps; each sum loses the local background
    times the aperture area.

    Parameters
    ----------
    data, error : ndarray, shape (ny, nx), float
        Image and its 1-sigma error, flux per pixel.
    xy : ndarray, shape (n, 2), float
        0-based (x, y) centroids (non-finite ones give NaN fluxes).
    params : ApertureParams

    Returns
    -------
    ApertureResult
    """
    from photutils.aperture import CircularAperture
    from photutils.aperture import aperture_photometry as _photometry

    xy = finite_positions(xy)
    bkg, bkg_err = local_background(data, xy, params.bkg_aperture_inner_radius,
                                    params.bkg_aperture_outer_radius)  # fmt: skip
    apertures = [CircularAperture(xy, r) for r in params.aperture_radii]
    table = _photometry(data, apertures, error=error)
    flux, flux_err = [], []
    for i, aperture in enumerate(apertures):
        flux.append(np.asarray(table[f"aperture_sum_{i}"]) - bkg * aperture.area)
        flux_err.append(np.asarray(table[f"aperture_sum_err_{i}"]))
    return ApertureResult(np.array(flux), np.array(flux_err), bkg, bkg_err)


def flux_to_abmag(flux: np.ndarray, flux_err: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """AB magnitudes and their errors from fluxes in Jy.

    Parameters
    ----------
    flux : ndarray, float, Jy
    flux_err : ndarray or None, float, Jy

    Returns
    -------
    abmag, abmag_err : ndarray, float (the dtype of ``flux``)
        NaN for negative fluxes; errors NaN when ``flux_err`` is None or all NaN.
    """
    flux = np.asarray(flux)
    if flux.dtype.kind != "f":
        flux = flux.astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        abmag = AB_ZEROPOINT_JY - 2.5 * np.log10(flux)
        if flux_err is None or np.all(np.isnan(flux_err)):
            abmag_err = np.full_like(abmag, np.nan)
        else:
            abmag_err = 2.5 * np.log10(1.0 + np.asarray(flux_err) / flux)
    negative = flux < 0
    abmag[negative] = np.nan
    abmag_err[negative] = np.nan
    return abmag, abmag_err


#: Aperture index pairs (numerator, denominator) of the three concentration indices.
CI_PAIRS = ((1, 0), (2, 1), (2, 0))


def concentration_indices(flux: np.ndarray) -> np.ndarray:
    """Concentration indices: middle/smallest, largest/middle, largest/smallest.

    Parameters
    ----------
    flux : ndarray, shape (3, n_sources), float
        Aperture fluxes, smallest aperture first.

    Returns
    -------
    ndarray, shape (3, n_sources), float64
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.array([flux[a] / flux[b] for a, b in CI_PAIRS], dtype=float)


def is_extended(ci: np.ndarray, thresholds: tuple[float, float]) -> np.ndarray:
    """True where both the first and second concentration indices exceed their thresholds.

    Parameters
    ----------
    ci : ndarray, shape (3, n_sources), float
        From :func:`concentration_indices`.
    thresholds : (float, float)
        ``ci1_star_threshold``, ``ci2_star_threshold``.

    Returns
    -------
    ndarray, shape (n_sources,), bool
    """
    if len(thresholds) != 2:
        raise ValueError(f"thresholds={thresholds!r}: expected two values")
    return (ci[0] > thresholds[0]) & (ci[1] > thresholds[1])


def _daofind_kernel(sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Zero-sum DAOFIND kernel and its circular footprint (odd square arrays)."""
    rmax = max(2.0, 1.5 * sigma)
    half = int(rmax)
    yy, xx = np.mgrid[-half : half + 1, -half : half + 1]
    r2 = xx**2 + yy**2
    footprint = (np.sqrt(r2) <= rmax).astype(int)
    gauss = np.exp(-0.5 * r2 / sigma**2) * footprint
    n = footprint.sum()
    denom = np.sum(gauss**2) - gauss.sum() ** 2 / n
    return (gauss - gauss.sum() / n) / denom * footprint, footprint


def _cutouts(image: np.ndarray, xy: np.ndarray, size: int) -> np.ndarray:
    """Square ``size`` cutouts (odd) centred on the pixels nearest ``xy``, zero-filled."""
    from astropy.nddata.utils import NoOverlapError, extract_array

    out = np.zeros((len(xy), size, size), dtype=np.result_type(image.dtype, np.float32))
    for i, (x, y) in enumerate(xy):
        try:
            out[i] = extract_array(image, (size, size), (y, x), fill_value=0.0)
        except NoOverlapError:
            pass
    return out


def daofind_statistics(
    data: np.ndarray, xy: np.ndarray, *, kernel_fwhm: float
) -> tuple[np.ndarray, np.ndarray]:
    """DAOFIND sharpness and roundness at each source position.

    Sharpness: (peak pixel - mean of the other pixels of the kernel footprint) over the
    kernel-convolved peak. Roundness: twice the difference of the two diagonal pairs
    of quadrant sums of the convolved image (peak pixel excluded) over the sum of
    their absolute values. Cutouts are centred on the pixel nearest the centroid.

    Parameters
    ----------
    data : ndarray, shape (ny, nx), float
    xy : ndarray, shape (n, 2), float
        0-based (x, y) positions (non-finite ones give NaN).
    kernel_fwhm : float
        FWHM of the Gaussian, pixels.

    Returns
    -------
    sharpness, roundness : ndarray, shape (n,), float
    """
    from astropy.stats import gaussian_fwhm_to_sigma
    from scipy import ndimage

    kernel, footprint = _daofind_kernel(kernel_fwhm * gaussian_fwhm_to_sigma)
    size = kernel.shape[0]
    c = size // 2
    xy = finite_positions(xy)
    from .detection import scipy_convolve

    # scipy's convolution, compiled (the same values bit for bit)
    convolved = scipy_convolve(data, kernel, cval=0.0)
    if convolved is None:
        convolved = ndimage.convolve(np.asarray(data), kernel, mode="constant", cval=0.0)
    cut = _cutouts(np.asarray(data), xy, size)
    cut_conv = _cutouts(convolved, xy, size)
    peak = cut[:, c, c]
    others = (np.sum(cut * footprint, axis=(1, 2)) - peak) / (footprint.sum() - 1)
    quad = cut_conv.copy()
    quad[:, c, c] = 0.0
    sum2 = (-quad[:, : c + 1, c + 1 :].sum(axis=(1, 2)) + quad[:, :c, : c + 1].sum(axis=(1, 2))
            - quad[:, c:, :c].sum(axis=(1, 2)) + quad[:, c + 1 :, c:].sum(axis=(1, 2)))  # fmt: skip
    sum4 = np.abs(quad).sum(axis=(1, 2))
    sum4[sum4 == 0] = np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        return (peak - others) / cut_conv[:, c, c], 2.0 * sum2 / sum4


def nearest_neighbours(xy: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Label of and distance to each source's nearest neighbour.

    Parameters
    ----------
    xy : ndarray, shape (n, 2), float
        0-based (x, y) positions.
    labels : ndarray, shape (n,), int
        Source labels.

    Returns
    -------
    nn_label : ndarray, shape (n,), int
        -1 for a lone source or a non-finite position.
    nn_dist : ndarray, shape (n,), float64, pixels
        NaN for a lone source or a non-finite position.
    """
    from scipy.spatial import KDTree

    n = len(xy)
    if n < 2:
        return np.full(n, -1, dtype=np.asarray(labels).dtype), np.full(n, np.nan)
    bad = ~np.isfinite(xy).all(axis=1)
    pos = finite_positions(xy)
    dist, idx = KDTree(pos).query(pos, k=[2])
    nn_label = np.asarray(labels)[idx[:, 0]].copy()
    nn_dist = dist[:, 0].copy()
    nn_label[bad] = -1
    nn_dist[bad] = np.nan
    return nn_label, nn_dist
