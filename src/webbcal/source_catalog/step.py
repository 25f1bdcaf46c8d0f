"""The ``source_catalog`` step adapter: a catalog of the sources of a resampled image.

Input: an ``_i2d`` ImageModel (SCI and ERR in MJy/sr, WHT, a gwcs WCS, PIXAR_SR).
Output: the catalog table (``_cat.ecsv``) and, with segmentation, the segment map
(``_segm.fits``, SegmentationMapModel) when results are saved.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np

from .._version import __version__
from ..datamodels.io import InputError
from ..stpipe import Param, Step

__all__ = ["SourceCatalogStep"]

log = logging.getLogger(__name__)

_MJYSR = "MJy/sr"


def _is_model(obj: Any) -> bool:
    return hasattr(obj, "meta") and not isinstance(obj.meta, dict)


def _name(model: Any) -> str:
    return getattr(model.meta, "filename", None) or "<model>"


class SourceCatalogStep(Step):
    """Detect and measure the sources of a resampled image (official alias ``source_catalog``).

    The image is converted from MJy/sr to Jy per pixel (``1e6 * PIXAR_SR``); a
    background mesh is subtracted for detection; sources are found by image
    segmentation (or DAOFIND/IRAF star finding) and measured: isophotal photometry and
    shapes of the segments, circular-aperture photometry at the three APCORR
    encircled-energy radii with a local background annulus, aperture-corrected total
    fluxes, AB and Vega magnitudes, concentration indices, ``is_extended``, DAOFIND
    sharpness and roundness, nearest neighbours, sky coordinates through the WCS.

    Returns the catalog (astropy ``QTable``), or None when no source is found. Saved
    results: ``<product>_cat.ecsv`` and ``<product>_segm.fits``.

    Differences from the official step, by design:

    * an APCORR or ABVEGAOFFSET table without a row for the image's filter (pupil,
      subarray or detector), an image without a WCS, without PIXAR_SR or not in MJy/sr
      raise :class:`~webbcal.datamodels.io.InputError` naming the file and value (the
      official step logs a warning and returns None, or fails later);
    * the catalog's ``version`` metadata names ``webbcal`` instead of ``jwst``.

    References
    ----------
    JWST pipeline documentation, ``source_catalog`` step (description, arguments,
    reference files APCORR and ABVEGAOFFSET, output catalog columns).
    """

    class_alias = "source_catalog"
    library_mode = "library"
    reference_file_types = ("apcorr", "abvegaoffset")
    spec = (
        Param("aperture_ee1", int, 30, "Aperture encircled energy 1", unit="percent"),
        Param("aperture_ee2", int, 50, "Aperture encircled energy 2", unit="percent"),
        Param("aperture_ee3", int, 70, "Aperture encircled energy 3", unit="percent"),
        Param("ci1_star_threshold", float, 2.0, "CI 1 star threshold"),
        Param("ci2_star_threshold", float, 1.8, "CI 2 star threshold"),
        Param("suffix", str, "cat", "Default suffix for output files"),
        Param("starfinder", str, "segmentation", "Star finder to use",
              choices=("dao", "iraf", "segmentation")),
        Param("snr_threshold", float, 3.0, "SNR threshold above the bkg for star finder"),
        Param("bkg_boxsize", int, 1000, "The background mesh box size in pixels",
              unit="pixel"),
        Param("kernel_fwhm", float, 2.0, "Gaussian kernel FWHM in pixels", unit="pixel"),
        Param("minsep_fwhm", float, 0.0, "Minimum separation between detected objects in "
              "FWHM (dao, iraf)"),
        Param("sigma_radius", float, 1.5, "Truncation radius of the Gaussian kernel, units "
              "of sigma (dao, iraf)"),
        Param("sharplo", float, 0.5, "The lower bound on sharpness (dao, iraf)"),
        Param("sharphi", float, 2.0, "The upper bound on sharpness (dao, iraf)"),
        Param("roundlo", float, 0.0, "The lower bound on roundness (dao, iraf)"),
        Param("roundhi", float, 0.2, "The upper bound on roundness (dao, iraf)"),
        Param("brightest", int, 200, "Keep top ``brightest`` objects (dao, iraf)"),
        Param("peakmax", float, None, "Filter out objects with pixel values >= peakmax "
              "(dao, iraf)", allow_none=True),
        Param("npixels", int, 25, "Minimum number of connected pixels (segmentation)",
              unit="pixel"),
        Param("connectivity", str, "8", "The connectivity defining the neighborhood of a "
              "pixel", choices=("4", "8")),
        Param("nlevels", int, 32, "Number of multi-thresholding levels for deblending"),
        Param("contrast", float, 0.001, "Fraction of total source flux an object must have "
              "to be deblended"),
        Param("multithresh_mode", str, "exponential", "Multi-thresholding mode",
              choices=("exponential", "linear", "sinh")),
        Param("localbkg_width", int, 0, "Width of rectangular annulus used to compute local "
              "background around each source", unit="pixel"),
        Param("apermask_method", str, "correct", "How to handle neighboring sources",
              choices=("correct", "mask", "none")),
        Param("kron_params", list, None, "Parameters defining Kron aperture", element=float,
              length=(2, 3), allow_none=True),
        Param("deblend", bool, True, "Deblend sources?"),
    )  # fmt: skip

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        object.__setattr__(self, "_segmentation", None)

    # ------------------------------------------------------------------ framework hooks
    # The result is a table (or the caller's own image, uncopied, when skipped): no
    # status, provenance or logs are written into either.
    def _copy_input(self, model: Any) -> Any:
        # the image is only read; new arrays are made for the conversion to Jy
        return model

    def _set_status(self, model: Any, status: str) -> None:
        return None

    def finalize_result(self, result: Any) -> None:
        return None

    def _store_logs(self, result: Any) -> None:
        return None

    # ------------------------------------------------------------------ inputs
    @staticmethod
    def _check_input(model: Any) -> None:
        from ..datamodels import ModelLibrary

        if isinstance(model, ModelLibrary):
            raise InputError("source_catalog: expected one resampled image (_i2d), got an "
                             "association; run resample first")  # fmt: skip
        name = _name(model)
        data = getattr(model, "data", None)
        if data is None or np.ndim(data) != 2:
            shape = None if data is None else np.shape(data)
            raise InputError(f"{name}: SCI has shape {shape}; source_catalog expects a 2-D "
                             "image (_i2d)")  # fmt: skip
        if getattr(model.meta, "wcs", None) is None:
            raise InputError(f"{name}: meta.wcs is missing; source_catalog needs the image's "
                             "WCS (run assign_wcs/resample first)")  # fmt: skip
        if not model.hasattr("err") or model.err is None or np.shape(model.err) != data.shape:
            raise InputError(f"{name}: ERR is missing or not of shape {data.shape}")
        for what, unit in (("BUNIT of SCI", model.meta.bunit_data),
                           ("BUNIT of ERR", getattr(model.meta, "bunit_err", None))):  # fmt: skip
            if unit != _MJYSR:
                raise InputError(f"{name}: {what} is {unit!r}; expected {_MJYSR!r}")
        area = getattr(model.meta.photometry, "pixelarea_steradians", None)
        if area is None or not area > 0:
            raise InputError(f"{name}: PIXAR_SR is {area!r}; expected the pixel area in "
                             "steradians (to convert MJy/sr to Jy)")  # fmt: skip

    def _aperture_params(self, model: Any):
        from stdatamodels.jwst import datamodels as dm

        from .reference_tables import (
            ReferenceTableError,
            apcorr_selector,
            select_aperture_params,
        )

        path = self.get_reference_file(model, "apcorr")
        log.info("Using APCORR reference file: %s", path)
        inst = model.meta.instrument
        ratio = getattr(model.meta.resample, "pixel_scale_ratio", None)
        if ratio is None:
            log.warning("meta.resample.pixel_scale_ratio is not set; the native pixel scale "
                        "is assumed (pixel_scale_ratio = 1)")  # fmt: skip
            ratio = 1.0
        try:
            with dm.open(path) as ref:
                table = ref.apcorr_table
                selector = apcorr_selector(inst.name, filter=inst.filter, pupil=inst.pupil,
                                           subarray=model.meta.subarray.name)  # fmt: skip
                return select_aperture_params(
                    table, selector,
                    (self.aperture_ee1, self.aperture_ee2, self.aperture_ee3),
                    pixel_scale_ratio=float(ratio), name=os.path.basename(path),
                )  # fmt: skip
        except (ReferenceTableError, AttributeError) as exc:
            raise InputError(f"source_catalog: {exc}") from None

    def _abvega_offset(self, model: Any) -> float:
        from stdatamodels.jwst.datamodels import ABVegaOffsetModel

        from .reference_tables import (
            ReferenceTableError,
            abvega_selector,
            select_abvega_offset,
        )

        path = self.get_reference_file(model, "abvegaoffset")
        log.info("Using ABVEGAOFFSET reference file: %s", path)
        inst = model.meta.instrument
        try:
            with ABVegaOffsetModel(path) as ref:
                selector = abvega_selector(inst.name, filter=inst.filter, pupil=inst.pupil,
                                           detector=inst.detector)  # fmt: skip
                offset = select_abvega_offset(ref.abvega_offset, selector,
                                              name=os.path.basename(path))  # fmt: skip
        except ReferenceTableError as exc:
            raise InputError(f"source_catalog: {exc}") from None
        log.info("AB to Vega magnitude offset %.5f", offset)
        return offset

    def _detection_params(self):
        from .detection import DetectionParams

        return DetectionParams(
            snr_threshold=self.snr_threshold, bkg_boxsize=self.bkg_boxsize,
            kernel_fwhm=self.kernel_fwhm, starfinder=self.starfinder, npixels=self.npixels,
            connectivity=int(self.connectivity), nlevels=self.nlevels,
            contrast=self.contrast, multithresh_mode=self.multithresh_mode,
            deblend=self.deblend, localbkg_width=self.localbkg_width,
            apermask_method=self.apermask_method,
            kron_params=None if self.kron_params is None else tuple(self.kron_params),
            minsep_fwhm=self.minsep_fwhm, sigma_radius=self.sigma_radius,
            sharplo=self.sharplo, sharphi=self.sharphi, roundlo=self.roundlo,
            roundhi=self.roundhi, brightest=self.brightest, peakmax=self.peakmax,
        )  # fmt: skip

    # ------------------------------------------------------------------ process
    def process(self, model: Any) -> Any:
        """Build the catalog of ``model`` (a resampled ImageModel); None if no source."""
        from .catalog import CatalogInputs, build_catalog
        from .detection import detect_sources

        self._check_input(model)
        object.__setattr__(self, "_segmentation", None)
        object.__setattr__(self, "_image_meta", model)
        params = self._detection_params()
        aperture = self._aperture_params(model)
        offset = self._abvega_offset(model)
        err = np.asarray(model.err)
        coverage = np.isnan(err)
        wht = model.wht if model.hasattr("wht") else None
        if wht is not None and np.shape(wht) == err.shape:
            coverage |= np.asarray(wht) == 0
        to_jy = 1.0e6 * model.meta.photometry.pixelarea_steradians
        data_jy = np.asarray(model.data) * to_jy
        err_jy = err * to_jy
        found = detect_sources(data_jy, error=err_jy, coverage_mask=coverage, params=params,
                               wcs=model.meta.wcs)  # fmt: skip
        if len(found.table) == 0:
            log.warning("No sources found in the image; no catalog is made.")
            return None
        wcsinfo = model.meta.wcsinfo
        crpix = (getattr(wcsinfo, "crpix1", None), getattr(wcsinfo, "crpix2", None))
        if None in crpix:
            ny, nx = data_jy.shape
            crpix = ((nx + 1) / 2.0, (ny + 1) / 2.0)
        catalog = build_catalog(
            CatalogInputs(
                data=data_jy, error=err_jy, detections=found.table, wcs=model.meta.wcs,
                crpix=crpix, aperture=aperture, abvega_offset=offset,
                kernel_fwhm=self.kernel_fwhm,
                ci_star_thresholds=(self.ci1_star_threshold, self.ci2_star_threshold),
            ),
            software=("webbcal", __version__),
        )  # fmt: skip
        object.__setattr__(self, "_segmentation", found.segmentation)
        log.info("Source catalog: %d sources", len(catalog))
        return catalog

    # ------------------------------------------------------------------ saving
    def save_result(self, result: Any, suffix: str | None = None) -> list[str]:
        """Write the catalog (``_cat.ecsv``) and the segmentation map (``_segm.fits``)."""
        if result is None or _is_model(result):
            # no catalog: no source found, or the step was skipped (the image came back)
            return []
        paths = [self._write_catalog(result, suffix)]
        segm = self.__dict__.get("_segmentation")
        if segm is not None:
            paths.append(self._write_segmentation(segm))
        return paths

    def _write_catalog(self, catalog: Any, suffix: str | None) -> str:
        path = self.save_ecsv(catalog, self.product_path(self.__dict__.get("_image_meta"), suffix))
        log.info("Wrote source catalog: %s", path)
        return path

    def _write_segmentation(self, segm: np.ndarray) -> str:
        from stdatamodels.jwst import datamodels as dm

        image = self.__dict__.get("_image_meta")
        out = dm.SegmentationMapModel(np.asarray(segm, dtype=np.uint32))
        if image is not None:
            out.update(image, only="PRIMARY")
            out.meta.wcs = image.meta.wcs
            out.meta.wcsinfo = image.meta.wcsinfo
        path = self.save_model(out, "segm")
        log.info("Wrote segmentation map: %s", path)
        return path
