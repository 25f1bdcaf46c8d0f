"""Source detection on a resampled image: background mesh, smoothing, segmentation.

The background and its RMS come from photutils ``Background2D`` (3-sigma clipped
medians in boxes of ``bkg_boxsize`` pixels, 3x3 median filter); pixels above
``snr_threshold`` times the RMS in the image smoothed by a Gaussian of ``kernel_fwhm``
pixels form segments of at least ``npixels`` connected pixels, deblended by
multi-thresholding and watershed (photutils ``SourceFinder``); the segments' properties
(centroids, isophotal fluxes, moments, bounding boxes) come from photutils
``SourceCatalog``. The DAOFIND and IRAF star finders of photutils are the alternatives
(``starfinder='dao'`` or ``'iraf'``; no segmentation map then).

Everything here takes plain arrays (any consistent flux unit) and returns new ones.

Two photutils steps run compiled here with bit-identical results (``_fastfind``): the
expansion of the background mesh to the full image (the same cubic spline as
``Background2D``) and the star finders' peak search (the same local maxima as
``find_peaks`` with ``min_separation``; the finder's catalog is still photutils').

References
----------
JWST pipeline documentation, ``source_catalog`` step (algorithm and arguments).

Bradley, L. et al., photutils: background estimation (``Background2D``), image
segmentation (``SourceFinder``, ``SourceCatalog``), star finders (``DAOStarFinder``,
``IRAFStarFinder``).

Stetson, P. B. 1987, PASP 99, 191 (DAOFIND).
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from dataclasses import dataclass

import numpy as np

__all__ = [
    "DetectionParams",
    "Detections",
    "astropy_convolve",
    "background_mesh",
    "deblend_candidates",
    "detect_sources",
    "find_segments",
    "run_star_finder",
    "scipy_convolve",
    "smooth",
]

log = logging.getLogger(__name__)

#: Columns of photutils ``SourceCatalog`` that the catalog reads (future names).
SEGMENT_COLUMNS = (
    "label", "x_centroid", "y_centroid", "sky_centroid", "area", "semimajor_axis",
    "semiminor_axis", "orientation", "ellipticity", "segment_flux", "segment_flux_err",
    "sky_bbox_ll", "sky_bbox_ul", "sky_bbox_lr", "sky_bbox_ur", "kron_flux", "kron_flux_err",
)  # fmt: skip
#: Default Kron parameters of the segment catalog (the official value when None).
DEFAULT_KRON_PARAMS = (2.5, 1.4, 0.0)
STARFINDERS = ("segmentation", "dao", "iraf")


@dataclass(frozen=True)
class DetectionParams:
    """Frozen detection options (the step's parameters of the same names).

    Attributes
    ----------
    snr_threshold : float
        Detection threshold per pixel, in units of the background RMS.
    bkg_boxsize : int
        Background mesh box size, pixels.
    kernel_fwhm : float
        FWHM of the Gaussian smoothing kernel, pixels (0: no smoothing).
    starfinder : str
        ``segmentation``, ``dao`` or ``iraf``.
    npixels, connectivity, nlevels, contrast, multithresh_mode, deblend : see step
        Segmentation and deblending options.
    localbkg_width, apermask_method, kron_params : see step
        Options of the segment catalog.
    minsep_fwhm, sigma_radius, sharplo, sharphi, roundlo, roundhi, brightest, peakmax
        DAOFIND/IRAF star-finder options.
    """

    snr_threshold: float = 3.0
    bkg_boxsize: int = 1000
    kernel_fwhm: float = 2.0
    starfinder: str = "segmentation"
    npixels: int = 25
    connectivity: int = 8
    nlevels: int = 32
    contrast: float = 0.001
    multithresh_mode: str = "exponential"
    deblend: bool = True
    localbkg_width: int = 0
    apermask_method: str = "correct"
    kron_params: tuple[float, ...] | None = None
    minsep_fwhm: float = 0.0
    sigma_radius: float = 1.5
    sharplo: float = 0.5
    sharphi: float = 2.0
    roundlo: float = 0.0
    roundhi: float = 0.2
    brightest: int = 200
    peakmax: float | None = None

    def __post_init__(self) -> None:
        if self.starfinder not in STARFINDERS:
            raise ValueError(f"starfinder={self.starfinder!r}: expected one of {STARFINDERS}")
        if self.connectivity not in (4, 8):
            raise ValueError(f"connectivity={self.connectivity!r}: expected 4 or 8")
        if self.bkg_boxsize < 1:
            raise ValueError(f"bkg_boxsize={self.bkg_boxsize!r}: expected >= 1 pixel")
        if self.npixels < 1:
            raise ValueError(f"npixels={self.npixels!r}: expected >= 1 pixel")
        if self.kernel_fwhm < 0:
            raise ValueError(f"kernel_fwhm={self.kernel_fwhm!r}: expected >= 0 pixels")


@dataclass(frozen=True)
class Detections:
    """What detection found.

    Attributes
    ----------
    table : astropy.table.QTable
        One row per source. Segmentation: photutils ``SourceCatalog`` columns
        (``SEGMENT_COLUMNS``, future photutils names); star finders: their tables.
    segmentation : ndarray, shape (ny, nx), int or None
        Segment labels (0: no source), None for the star finders or no source.
    background : ndarray, shape (ny, nx), float
        Background mesh subtracted before detection.
    """

    table: object
    segmentation: np.ndarray | None
    background: np.ndarray


def background_mesh(
    data: np.ndarray, *, box_size: int, coverage_mask: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Background and background RMS of an image from a mesh of boxes.

    Boxes of ``box_size`` pixels (3-sigma clipped median and standard deviation, a
    3x3 median filter over the mesh, interpolated back; photutils ``Background2D``,
    its box statistics compiled with the same results:
    :mod:`webbcal.source_catalog._background_boxes`). When no box can be used
    (the image is smaller than a box, or boxes hold too few good pixels) the whole
    unmasked image makes one box.

    Parameters
    ----------
    data : ndarray, shape (ny, nx), float
        Image (NaN: no data).
    box_size : int
        Box size, pixels.
    coverage_mask : ndarray, shape (ny, nx), bool, optional
        True where the image has no coverage.

    Returns
    -------
    background, rms : ndarray, shape (ny, nx), float
    """
    from astropy.stats import SigmaClip
    from astropy.utils.exceptions import AstropyUserWarning
    from photutils.background import MedianBackground

    from ._background_boxes import background2d_class

    # photutils' Background2D with the box statistics compiled (bit-identical)
    Background2D = background2d_class()
    common = {"filter_size": (3, 3), "coverage_mask": coverage_mask,
              "sigma_clip": SigmaClip(sigma=3.0), "bkg_estimator": MedianBackground()}  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyUserWarning)
        try:
            bkg = Background2D(data, box_size, **common)
        except ValueError:
            log.info("Background mesh of %d px not usable; one box over the whole unmasked "
                     "image (bkg_boxsize=%s)", box_size, data.shape)  # fmt: skip
            bkg = Background2D(data, data.shape, exclude_percentile=100.0, **common)
        return _full_plane(bkg, bkg.background_mesh, data), _full_plane(
            bkg, bkg.background_rms_mesh, data
        )


def _full_plane(bkg, mesh: np.ndarray, data: np.ndarray) -> np.ndarray:
    """A ``Background2D`` mesh expanded to the image, as ``Background2D.background`` does
    (bit-identical; compiled evaluation of the same cubic spline)."""
    from ._fastfind import zoom_mesh

    dtype = data.dtype if np.asarray(data).dtype.kind == "f" else np.float32
    plane = zoom_mesh(np.asarray(mesh), bkg.box_size, data.shape, dtype)
    if bkg.coverage_mask is not None:
        plane[bkg.coverage_mask] = bkg.fill_value
    return plane


def run_star_finder(finder, data: np.ndarray, mask: np.ndarray | None):
    """Run a photutils ``IRAFStarFinder`` or ``DAOStarFinder`` with compiled peak finding.

    The finder's own catalog (centroids, sharpness, roundness, fluxes, selection) is
    computed by photutils from the peaks given as ``xycoords``; the peaks are found by
    :func:`webbcal.source_catalog._fastfind.circular_peaks`, which returns exactly the
    peaks of photutils' ``find_peaks(min_separation=...)`` on the same convolved image
    (the finder's kernel, zero outside the image). A finder with ``min_separation`` below
    one pixel or preset ``xycoords`` runs unchanged.

    Parameters
    ----------
    finder : photutils.detection.IRAFStarFinder or DAOStarFinder
        Configured finder; not modified.
    data : ndarray, shape (ny, nx), float
        Background-subtracted image.
    mask : ndarray of bool, shape (ny, nx), or None
        True where a pixel cannot hold a star.

    Returns
    -------
    astropy.table.QTable or None
        The finder's table; None when nothing is found.

    References
    ----------
    Davis, L. E. 1987, IRAF ``starfind``; Stetson, P. B. 1987, PASP 99, 191 (DAOFIND);
    photutils 3.0 ``find_peaks``, ``IRAFStarFinder``, ``DAOStarFinder``.
    """
    import copy

    from photutils.utils import NoDetectionsWarning
    from scipy.ndimage import convolve

    from ._fastfind import circular_peaks

    if finder.xycoords is not None or not finder.min_separation >= 1:
        return finder(data, mask=mask)
    data = np.asarray(data)
    image = data.astype(float) if np.issubdtype(data.dtype, np.integer) else data
    convolved = scipy_convolve(image, finder.kernel.data, cval=0.0)
    if convolved is None:
        convolved = convolve(image, finder.kernel.data, mode="constant", cval=0.0)
    border = None
    if finder.exclude_border:
        border = (finder.kernel.y_radius, finder.kernel.x_radius)
    threshold = getattr(finder, "threshold_eff", finder.threshold)
    peaks = circular_peaks(convolved, threshold, finder.min_separation, mask=mask,
                           border=border)  # fmt: skip
    if peaks is None:
        warnings.warn("No sources were found.", NoDetectionsWarning, stacklevel=2)
        return None
    located = copy.copy(finder)
    located.xycoords = np.column_stack(peaks)
    with _convolved_once(located, data, convolved):
        return located(data, mask=mask)


#: Calls of photutils' convolution answered with the image convolved here (tests).
REUSED_CONVOLUTIONS = [0]


@contextlib.contextmanager
def _convolved_once(finder, data: np.ndarray, convolved: np.ndarray):
    """While the finder runs, its module's ``_filter_data`` (photutils' convolution
    helper, which ``find_stars`` calls again on the same image with the same kernel)
    returns ``convolved`` for that call: the same array scipy would compute
    (:func:`scipy_convolve`), without a second pass. Any other call, a photutils without
    the helper, or another Python thread running (the module is shared) leaves
    photutils as it is."""
    import sys
    import threading

    module = sys.modules.get(type(finder).__module__)
    original = getattr(module, "_filter_data", None)
    if original is None or threading.active_count() > 1:
        yield
        return
    kernel = np.asarray(finder.kernel.data)
    expected = {"mode": "constant", "fill_value": 0.0, "check_normalization": False}

    def reuse(image, weights, **options):
        values = np.asarray(getattr(weights, "array", weights))
        if image is data and options == expected and np.array_equal(values, kernel):
            REUSED_CONVOLUTIONS[0] += 1
            return convolved
        return original(image, weights, **options)

    module._filter_data = reuse
    try:
        yield
    finally:
        module._filter_data = original


def smooth(data: np.ndarray, fwhm: float, mask: np.ndarray | None = None) -> np.ndarray:
    """Convolve an image with a normalised circular Gaussian of ``fwhm`` pixels.

    Masked and NaN pixels are filled by the kernel-weighted mean of their
    neighbours (astropy ``convolve``, ``nan_treatment='interpolate'``).

    Parameters
    ----------
    data : ndarray, shape (ny, nx), float
    fwhm : float
        Kernel FWHM, pixels (> 0).
    mask : ndarray, shape (ny, nx), bool, optional

    Returns
    -------
    ndarray, shape (ny, nx), float64
    """
    from astropy.convolution import Gaussian2DKernel, convolve
    from astropy.stats import gaussian_fwhm_to_sigma
    from astropy.utils.exceptions import AstropyUserWarning

    kernel = Gaussian2DKernel(fwhm * gaussian_fwhm_to_sigma)
    compiled = astropy_convolve(data, kernel.array, mask=mask)
    if compiled is not None:
        return compiled
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyUserWarning)
        return convolve(data, kernel, mask=mask)


def astropy_convolve(
    data: np.ndarray, kernel: np.ndarray, *, mask: np.ndarray | None = None
) -> np.ndarray | None:
    """astropy's ``convolve(data, kernel, mask=mask)`` (boundary ``'fill'`` with 0, NaN
    interpolation, normalised kernel), compiled with the same result bit for bit
    (:mod:`webbcal.source_catalog._convolve_kernel`).

    Parameters
    ----------
    data : ndarray, shape (ny, nx), float32
        Image (NaN: no data).
    kernel : ndarray, shape (ky, kx), float, odd sizes
        Kernel whose sum is positive and not close to 0 (a Gaussian).
    mask : ndarray, shape (ny, nx), bool, optional
        True where a pixel counts as NaN.

    Returns
    -------
    ndarray, shape (ny, nx), float32, or None
        None where this function does not reproduce astropy (other dtypes or
        dimensions, even kernel sizes, a kernel sum below 1e-8 or a large kernel):
        call astropy then.
    """
    from ._convolve_kernel import ASTROPY_INTERPOLATE, convolve_rows

    data = np.asarray(data)
    weights = np.asarray(kernel, dtype=np.float64)
    if not (data.ndim == 2 and data.dtype.kind == "f" and data.dtype.itemsize == 4
            and weights.ndim == 2 and all(n % 2 == 1 for n in weights.shape)
            and weights.size <= _MAX_TAPS and all(n > 2 * (k // 2) for n, k in
                                                  zip(data.shape, weights.shape))):  # fmt: skip
        return None
    if mask is not None and np.shape(mask) != data.shape:
        return None
    ksum = weights.sum()
    if not ksum > 1e-8:
        return None  # astropy refuses such kernels
    ky, kx = weights.shape
    ty, tx = np.indices(weights.shape)
    flipped = np.ascontiguousarray(weights[::-1, ::-1])
    out = np.empty(data.shape, dtype=np.float32)
    mask_array = np.zeros((0, 0), bool) if mask is None else np.ascontiguousarray(mask, bool)
    convolve_rows(np.ascontiguousarray(data, dtype=np.float32), mask_array,
                  ty.ravel().astype(np.int64), tx.ravel().astype(np.int64), flipped.ravel(),
                  ky // 2, kx // 2, 0.0, ASTROPY_INTERPOLATE, float(ksum), out)  # fmt: skip
    return out


def scipy_convolve(data: np.ndarray, kernel: np.ndarray, *, cval: float = 0.0) -> np.ndarray | None:
    """scipy's ``ndimage.convolve(data, kernel, mode='constant', cval=cval)`` compiled
    with the same result bit for bit (:mod:`webbcal.source_catalog._convolve_kernel`).

    Parameters
    ----------
    data : ndarray, shape (ny, nx), float32 or float64
    kernel : ndarray, shape (ky, kx), float, odd sizes

    Returns
    -------
    ndarray, shape (ny, nx), dtype of ``data``, or None
        None for other dtypes, dimensions or even kernel sizes (call scipy then).
    """
    from ._convolve_kernel import SCIPY, convolve_rows

    data = np.asarray(data)
    weights = np.asarray(kernel, dtype=np.float64)
    if not (data.ndim == 2 and data.dtype.kind == "f" and data.dtype.itemsize in (4, 8)
            and weights.ndim == 2 and all(n % 2 == 1 for n in weights.shape)
            and weights.size <= _MAX_TAPS):  # fmt: skip
        return None
    ky, kx = weights.shape
    flipped = weights[::-1, ::-1]
    # scipy leaves out the taps of weight within DBL_EPSILON of 0
    ty, tx = np.nonzero(np.abs(flipped) > np.finfo(np.float64).eps)
    out = np.empty(data.shape, dtype=data.dtype.newbyteorder("="))
    convolve_rows(np.ascontiguousarray(data, dtype=out.dtype), np.zeros((0, 0), bool),
                  ty.astype(np.int64), tx.astype(np.int64),
                  np.ascontiguousarray(flipped[ty, tx]), ky // 2, kx // 2, float(cval), SCIPY,
                  1.0, out)  # fmt: skip
    return out


#: Largest kernel (taps) convolved by the compiled kernel (the padded copy and the
#: per-row sums are sized for small detection kernels).
_MAX_TAPS = 41 * 41


def detect_sources(
    data: np.ndarray,
    *,
    error: np.ndarray,
    coverage_mask: np.ndarray,
    params: DetectionParams,
    wcs: object = None,
) -> Detections:
    """Find the sources of an image and measure their segment properties.

    Parameters
    ----------
    data : ndarray, shape (ny, nx), float
        Image, e.g. Jy per pixel (NaN: no data); not background subtracted.
    error : ndarray, shape (ny, nx), float
        Total 1-sigma error, same unit.
    coverage_mask : ndarray, shape (ny, nx), bool
        True where there is no data (never part of a source).
    params : DetectionParams
    wcs : object, optional
        Shared-interface WCS (gwcs) for the sky columns.

    Returns
    -------
    Detections
        ``table`` has no rows when nothing is found.
    """
    from photutils.utils import NoDetectionsWarning

    background, rms = background_mesh(data, box_size=params.bkg_boxsize,
                                      coverage_mask=coverage_mask)  # fmt: skip
    threshold = params.snr_threshold * rms
    residual = data - background
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "No sources were found", NoDetectionsWarning)
        if params.starfinder == "segmentation":
            table, segm = _segmentation(residual, threshold, error, coverage_mask, params, wcs)
        else:
            table, segm = _star_finder(residual, threshold, coverage_mask, params), None
    if table is None or len(table) == 0:
        log.warning("No sources found in the image.")
        from astropy.table import QTable

        table = QTable()
    return Detections(table=table, segmentation=segm, background=background)


def _segmentation(residual, threshold, error, mask, params, wcs):
    from photutils import use_future_column_names
    from photutils.segmentation import SourceCatalog, SourceFinder

    conv = smooth(residual, params.kernel_fwhm, mask) if params.kernel_fwhm > 0 else residual
    finder = SourceFinder(
        params.npixels, connectivity=params.connectivity, deblend=params.deblend,
        n_levels=params.nlevels, contrast=params.contrast, mode=params.multithresh_mode,
        relabel=True, progress_bar=False,
    )  # fmt: skip
    segm = find_segments(finder, conv, threshold, mask)
    if segm is None:
        return None, None
    kron = DEFAULT_KRON_PARAMS if params.kron_params is None else tuple(params.kron_params)
    with use_future_column_names():
        cat = SourceCatalog(
            residual, segm, convolved_data=conv, error=error, mask=mask, wcs=wcs,
            local_bkg_width=params.localbkg_width,
            aperture_mask_method=params.apermask_method, kron_params=kron,
        )  # fmt: skip
        table = cat.to_table(columns=list(SEGMENT_COLUMNS))
    return table, np.asarray(segm.data)


def find_segments(finder, data: np.ndarray, threshold, mask: np.ndarray | None):
    """photutils ``SourceFinder`` run as ``finder(data, threshold, mask=mask)`` with the
    same segmentation image, deblending only the segments that can be split.

    ``detect_sources`` finds the segments; ``deblend_sources`` is then given the labels of
    the segments that have two or more local maxima (pixels with no greater neighbour in
    the segment, :mod:`webbcal.source_catalog._deblend_screen`), or a minimum that
    makes photutils change an exponential deblending to linear (so that its warning is
    the same). A segment with one local maximum has one group of pixels above every
    threshold, and photutils leaves it as it is.

    Parameters
    ----------
    finder : photutils.segmentation.SourceFinder
    data : ndarray, shape (ny, nx), float
        Smoothed image.
    threshold : ndarray, shape (ny, nx), or float
    mask : ndarray, shape (ny, nx), bool, or None

    Returns
    -------
    photutils.segmentation.SegmentationImage or None
    """
    from photutils.segmentation import deblend_sources
    from photutils.segmentation import detect_sources as photutils_detect

    if not finder.deblend or finder.n_processes != 1 or finder.contrast == 1:
        return finder(data, threshold, mask=mask)
    segm = photutils_detect(data, threshold, finder.n_pixels[0], mask=mask,
                            connectivity=finder.connectivity)  # fmt: skip
    if segm is None:
        return None
    return deblend_sources(
        data, segm, finder.n_pixels[1], labels=deblend_candidates(data, segm, finder),
        n_levels=finder.n_levels, contrast=finder.contrast, mode=finder.mode,
        connectivity=finder.connectivity, relabel=finder.relabel, n_processes=1,
        progress_bar=finder.progress_bar,
    )  # fmt: skip


def deblend_candidates(data: np.ndarray, segm, finder) -> np.ndarray:
    """Labels of ``segm`` that photutils' deblending could split or warn about (see
    :func:`find_segments`), in increasing order."""
    from ._deblend_screen import segment_peaks

    labels = np.asarray(segm.labels)
    image = np.asarray(data)
    if image.dtype.kind != "f" or not image.dtype.isnative:
        image = np.asarray(image, dtype=np.float64)
    peaks, low = segment_peaks(np.ascontiguousarray(image), np.ascontiguousarray(segm.data),
                               int(segm.max_label), finder.connectivity == 8)  # fmt: skip
    keep = peaks[labels] >= 2
    if finder.mode == "exponential":
        keep |= low[labels] <= 0
    return labels[keep]


def _star_finder(residual, threshold, mask, params):
    from photutils import use_future_column_names
    from photutils.detection import DAOStarFinder, IRAFStarFinder

    cls = DAOStarFinder if params.starfinder == "dao" else IRAFStarFinder
    # the star finders take one threshold: the median of the per-pixel one
    finder = cls(
        float(np.median(threshold)), params.kernel_fwhm, sigma_radius=params.sigma_radius,
        min_separation=max(2, int(params.minsep_fwhm * params.kernel_fwhm + 0.5)),
        sharpness_range=(params.sharplo, params.sharphi),
        roundness_range=(params.roundlo, params.roundhi), peak_max=params.peakmax,
        n_brightest=params.brightest,
    )  # fmt: skip
    with use_future_column_names():
        return run_star_finder(finder, residual, mask)
