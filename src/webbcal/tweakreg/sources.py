"""Source catalogs for image alignment: background, threshold and a photutils star finder.

The image is background-subtracted with a sigma-clipped median mesh (photutils
``Background2D``); sources are then found above ``snr_threshold`` times the background
RMS by one of three photutils finders: ``IRAFStarFinder`` (``iraf``, the default),
``DAOStarFinder`` (``dao``) or the segmentation ``SourceFinder`` + ``SourceCatalog``
(``segmentation``). The options and their defaults are those of the official
``tweakreg`` step; the result is the table the alignment uses (``id``, ``xcentroid``,
``ycentroid``, ``flux``). The background planes and the star finders' peaks are computed
by compiled equivalents of photutils' steps with identical results (see
:mod:`webbcal.source_catalog.detection`).

References
----------
JWST pipeline documentation, ``tweakreg`` step ("Source detection").

Stetson, P. B. 1987, PASP 99, 191 (DAOFIND); Davis, L. E. 1987, IRAF ``starfind``.

photutils documentation: ``Background2D``, ``IRAFStarFinder``, ``DAOStarFinder``,
``SourceFinder``, ``SourceCatalog``.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from dataclasses import dataclass

import numpy as np
from astropy.table import Table

__all__ = ["STARFINDERS", "SourceFinding", "empty_catalog", "find_sources"]

log = logging.getLogger(__name__)

#: Names of the ``starfinder`` option.
STARFINDERS = ("dao", "iraf", "segmentation")
#: Columns of the catalogs handed to the alignment.
CATALOG_COLUMNS = ("id", "xcentroid", "ycentroid", "flux")
#: Kron aperture parameters used when ``kron_params`` is None (photutils' default).
DEFAULT_KRON_PARAMS = (2.5, 1.4, 0.0)
#: Sigma-clipping threshold and smoothing filter of the background mesh (official values).


@dataclass(frozen=True)
class SourceFinding:
    """Source-finding options, named and defaulted as the official ``tweakreg`` step's.

    Attributes
    ----------
    starfinder : str
        ``"iraf"``, ``"dao"`` or ``"segmentation"``.
    snr_threshold : float
        Detection threshold in units of the background RMS.
    kernel_fwhm : float
        FWHM of the Gaussian detection kernel, pixels.
    bkg_boxsize : int
        Background mesh size, pixels (the whole image when larger than it).
    minsep_fwhm : float
        Smallest separation of two stars, in units of ``kernel_fwhm`` (at least 2 pixels).
    sigma_radius, sharplo, sharphi, roundlo, roundhi, brightest, peakmax
        Star-finder options (``iraf``, ``dao``): kernel truncation radius in sigma,
        sharpness and roundness bounds, the number of brightest stars kept, the peak
        above which a star is rejected (None: no limit).
    npixels, connectivity, nlevels, contrast, multithresh_mode, localbkg_width,
    apermask_method, kron_params, deblend
        Segmentation options (``segmentation``).
    """

    starfinder: str = "iraf"
    snr_threshold: float = 10.0
    kernel_fwhm: float = 2.5
    bkg_boxsize: int = 400
    minsep_fwhm: float = 0.0
    sigma_radius: float = 1.5
    sharplo: float = 0.5
    sharphi: float = 2.0
    roundlo: float = 0.0
    roundhi: float = 0.2
    brightest: int | None = 200
    peakmax: float | None = None
    npixels: int = 10
    connectivity: int = 8
    nlevels: int = 32
    contrast: float = 0.001
    multithresh_mode: str = "exponential"
    localbkg_width: int = 0
    apermask_method: str = "correct"
    kron_params: tuple[float, ...] | None = None
    deblend: bool = True

    def __post_init__(self):
        if self.starfinder.lower() not in STARFINDERS:
            raise ValueError(
                f"starfinder={self.starfinder!r}: expected one of {', '.join(STARFINDERS)}"
            )
        if int(self.connectivity) not in (4, 8):
            raise ValueError(f"connectivity={self.connectivity!r}: expected 4 or 8")

    @property
    def min_separation(self) -> int:
        """Smallest star separation in whole pixels (the official rounding, at least 2)."""
        return max(2, int(self.minsep_fwhm * self.kernel_fwhm + 0.5))


def empty_catalog() -> Table:
    """A catalog without rows, with the alignment columns (``id`` int, others float)."""
    return Table(names=CATALOG_COLUMNS, dtype=(np.int64, float, float, float))


def _future_names():
    """photutils' context that gives the ``x_centroid`` column names (a no-op if absent)."""
    try:
        from photutils import use_future_column_names
    except ImportError:  # pragma: no cover - older photutils
        return contextlib.nullcontext()
    return use_future_column_names()


def _star_finder(data, threshold_img, mask, opts: SourceFinding):
    from photutils.detection import DAOStarFinder, IRAFStarFinder

    finder_class = IRAFStarFinder if opts.starfinder.lower() == "iraf" else DAOStarFinder
    # These finders take one threshold: the median of the per-pixel threshold image.
    threshold = float(np.median(threshold_img))
    finder = finder_class(
        threshold, opts.kernel_fwhm, sigma_radius=opts.sigma_radius,
        min_separation=opts.min_separation, sharpness_range=(opts.sharplo, opts.sharphi),
        roundness_range=(opts.roundlo, opts.roundhi), peak_max=opts.peakmax,
        n_brightest=opts.brightest,
    )  # fmt: skip
    from ..source_catalog.detection import run_star_finder

    with _future_names():
        table = run_star_finder(finder, data, mask)
    if table is None or len(table) == 0:
        return None
    return Table(
        {"id": np.asarray(table["id"]), "xcentroid": np.asarray(table["x_centroid"], float),
         "ycentroid": np.asarray(table["y_centroid"], float),
         "flux": np.asarray(table["flux"], float)}
    )  # fmt: skip


def _segmentation(data, threshold_img, mask, err, opts: SourceFinding):
    from astropy.convolution import Gaussian2DKernel, convolve
    from astropy.stats import gaussian_fwhm_to_sigma
    from astropy.utils.exceptions import AstropyUserWarning
    from photutils.segmentation import SourceCatalog, SourceFinder

    if opts.kernel_fwhm > 0:
        kernel = Gaussian2DKernel(opts.kernel_fwhm * gaussian_fwhm_to_sigma)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AstropyUserWarning)
            smoothed = convolve(data, kernel, mask=mask)
    else:
        smoothed = data
    finder = SourceFinder(
        int(opts.npixels), connectivity=int(opts.connectivity), deblend=bool(opts.deblend),
        n_levels=int(opts.nlevels), contrast=float(opts.contrast), mode=opts.multithresh_mode,
        progress_bar=False,
    )  # fmt: skip
    segments = finder(smoothed, threshold_img, mask=mask)
    if segments is None:
        return None
    kron = DEFAULT_KRON_PARAMS if opts.kron_params is None else tuple(opts.kron_params)
    with _future_names():
        table = SourceCatalog(
            data, segments, mask=mask, convolved_data=smoothed, error=err,
            local_bkg_width=int(opts.localbkg_width), aperture_mask_method=opts.apermask_method,
            kron_params=kron,
        ).to_table(columns=["label", "x_centroid", "y_centroid", "segment_flux"])  # fmt: skip
    return Table(
        {"id": np.asarray(table["label"]), "xcentroid": np.asarray(table["x_centroid"], float),
         "ycentroid": np.asarray(table["y_centroid"], float),
         "flux": np.asarray(table["segment_flux"], float)}
    )  # fmt: skip


def find_sources(
    data: np.ndarray,
    *,
    mask: np.ndarray | None = None,
    err: np.ndarray | None = None,
    options: SourceFinding = SourceFinding(),
) -> Table:
    """Find the point-like sources of an image for alignment.

    Parameters
    ----------
    data : ndarray, shape (ny, nx), float
        Image (any flux unit; it need not be background-subtracted). Not modified.
    mask : ndarray of bool, shape (ny, nx), or None, optional
        True where a pixel is not usable (e.g. DQ DO_NOT_USE or NON_SCIENCE): excluded
        from the background and from every source.
    err : ndarray, shape (ny, nx), or None, optional
        1-sigma uncertainty of ``data`` (segmentation photometry only).
    options : SourceFinding, optional
        Finder and its options (official defaults).

    Returns
    -------
    astropy.table.Table
        One row per source: ``id`` (int), ``xcentroid``, ``ycentroid`` (0-based pixel
        coordinates, pixel centres at integers, float64), ``flux`` (background-subtracted,
        ``data`` units summed over the source, float64). No rows when nothing is found
        or the background cannot be estimated (a warning is logged).

    Raises
    ------
    ValueError
        If ``data`` is not 2-D or ``mask``/``err`` have another shape.

    References
    ----------
    JWST pipeline documentation, ``tweakreg`` ("Source detection"); photutils
    documentation (``Background2D``, ``IRAFStarFinder``, ``DAOStarFinder``,
    ``SourceFinder``).
    """
    from photutils.utils import NoDetectionsWarning

    data = np.asarray(data)
    if data.ndim != 2:
        raise ValueError(f"data: expected a 2-D image, got shape {data.shape}")
    mask = np.zeros(data.shape, bool) if mask is None else np.asarray(mask, bool)
    for name, arr in (("mask", mask), ("err", err)):
        if arr is not None and np.shape(arr) != data.shape:
            raise ValueError(f"{name}: shape {np.shape(arr)} differs from data {data.shape}")
    try:
        from ..source_catalog.detection import background_mesh  # the same mesh as the catalog

        background, rms = background_mesh(data, box_size=int(options.bkg_boxsize),
                                          coverage_mask=mask)  # fmt: skip
    except ValueError as exc:
        log.warning("Error determining sky background: %s", exc)
        return empty_catalog()
    threshold_img = options.snr_threshold * rms
    subtracted = data - background
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoDetectionsWarning)
        if options.starfinder.lower() == "segmentation":
            table = _segmentation(subtracted, threshold_img, mask, err, options)
        else:
            table = _star_finder(subtracted, threshold_img, mask, options)
    if table is None or len(table) == 0:
        log.warning("No sources found in the image.")
        return empty_catalog()
    return table
