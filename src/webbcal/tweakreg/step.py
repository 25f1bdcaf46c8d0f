"""The ``tweakreg`` step adapter: align the WCS of calibrated exposures to each other and
to an absolute reference catalog."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..datamodels.io import InputError
from ..stpipe import Param, Step
from .align import AlignmentSkipped, MatchFit
from .refcat import S3_CATALOGS, SERVICE_CATALOGS
from .sources import STARFINDERS, SourceFinding

__all__ = ["TweakRegStep"]

log = logging.getLogger(__name__)

_FITGEOMETRIES = ("shift", "rshift", "rscale", "general")
_CATALOG_FORMATS = {"ecsv": "ascii.ecsv", "fits": "fits"}


def _name(model: Any) -> str:
    return getattr(model.meta, "filename", None) or "<model>"


class TweakRegStep(Step):
    """Align exposures by their sources (official alias ``tweakreg``).

    The input is a library of calibrated imaging exposures (``_cal``, with the gwcs of
    assign_wcs), or one exposure. Sources are found in each exposure
    (:func:`~webbcal.tweakreg.sources.find_sources`) or read from user catalogs
    (``use_custom_catalogs``); the exposure groups (``group_id``: the detectors of one
    exposure move together) are aligned to each other with tweakwcs
    (:func:`~webbcal.tweakreg.align.relative_align`) and, with ``abs_refcat``, all of them
    to a reference catalog (:func:`~webbcal.tweakreg.align.absolute_align`). Each fitted
    exposure's gwcs gains a ``v2v3corr`` frame; S_REGION and the FITS SIP keywords of
    ``meta.wcsinfo`` are recomputed. Alignment that cannot be done (one group and no
    reference catalog, too few sources or matches, a suspiciously large correction) is
    skipped with a warning and every exposure is returned unchanged with
    ``S_TWEAKR = SKIPPED``, as officially.

    Differences from the official step, by design:

    * a reference catalog name of the catalog service (``GAIADR3``...) that cannot be
      reached (no network) skips the alignment with a warning instead of failing;
      ``GAIADR3_S3`` (cloud storage) is not supported and skips it likewise;
    * a missing or malformed ``abs_refcat`` file, catalog file or ``catfile`` is reported
      before any source is searched for.

    References
    ----------
    JWST pipeline documentation, ``tweakreg`` step (description, arguments, "Alignment",
    "Absolute astrometric alignment"); tweakwcs documentation (``align_wcs``).
    """

    class_alias = "tweakreg"
    cal_step_name = "tweakreg"
    library_mode = "library"
    records_member_status = True  # a skipped alignment marks its members SKIPPED
    spec = (
        Param("save_catalogs", bool, False, "Write out catalogs"),
        Param("use_custom_catalogs", bool, False, "Use custom user-provided catalogs"),
        Param("catalog_format", str, "ecsv", "Catalog output file format (ecsv or fits)"),
        Param("catfile", str, "", "File listing custom catalogs (exposure, catalog per line)"),
        Param("starfinder", str, "iraf", "Star finder to use", choices=STARFINDERS),
        Param("snr_threshold", float, 10.0, "SNR threshold above the background"),
        Param("kernel_fwhm", float, 2.5, "Gaussian kernel FWHM", unit="pixel"),
        Param("bkg_boxsize", int, 400, "Background mesh box size", unit="pixel"),
        Param("minsep_fwhm", float, 0.0, "Minimum separation of objects", unit="FWHM"),
        Param("sigma_radius", float, 1.5, "Truncation radius of the Gaussian kernel",
              unit="sigma"),
        Param("sharplo", float, 0.5, "Lower bound on sharpness"),
        Param("sharphi", float, 2.0, "Upper bound on sharpness"),
        Param("roundlo", float, 0.0, "Lower bound on roundness"),
        Param("roundhi", float, 0.2, "Upper bound on roundness"),
        Param("brightest", int, 200, "Keep the brightest objects"),
        Param("peakmax", float, None, "Reject objects with a peak >= peakmax",
              allow_none=True),
        Param("npixels", int, 10, "Minimum number of connected pixels (segmentation)"),
        Param("connectivity", str, "8", "Pixel connectivity (segmentation)",
              choices=("4", "8")),
        Param("nlevels", int, 32, "Multi-thresholding levels for deblending"),
        Param("contrast", float, 0.001, "Flux fraction an object needs to be deblended"),
        Param("multithresh_mode", str, "exponential", "Multi-thresholding mode",
              choices=("exponential", "linear", "sinh")),
        Param("localbkg_width", int, 0, "Width of the local background annulus",
              unit="pixel"),
        Param("apermask_method", str, "correct", "Treatment of neighbouring sources",
              choices=("correct", "mask", "none")),
        Param("kron_params", list, None, "Kron aperture parameters", element=float,
              length=(2, 3), allow_none=True),
        Param("deblend", bool, True, "Deblend sources (segmentation)"),
        Param("enforce_user_order", bool, False, "Align images in the order given"),
        Param("expand_refcat", bool, False, "Expand the reference catalog with new sources"),
        Param("minobj", int, 15, "Minimum number of matched objects"),
        Param("fitgeometry", str, "rshift", "Fitting geometry", choices=_FITGEOMETRIES),
        Param("nclip", int, 3, "Clipping iterations of the fit", minimum=0),
        Param("sigma", float, 3.0, "Clipping limit", minimum=0.0, unit="sigma"),
        Param("searchrad", float, 2.0, "Search radius of a match", unit="arcsec"),
        Param("use2dhist", bool, True, "Use a 2-D histogram for the initial offset"),
        Param("separation", float, 1.0, "Minimum object separation", unit="arcsec"),
        Param("tolerance", float, 0.7, "Matching tolerance", unit="arcsec"),
        Param("xoffset", float, 0.0, "Initial guess of the X offset", unit="arcsec"),
        Param("yoffset", float, 0.0, "Initial guess of the Y offset", unit="arcsec"),
        Param("abs_refcat", str, "", "Catalog file or one of "
              f"{', '.join(SERVICE_CATALOGS + S3_CATALOGS)}, or ''"),
        Param("save_abs_catalog", bool, False, "Write out the absolute reference catalog used"),
        Param("abs_minobj", int, 15, "Minimum number of matched objects (absolute)"),
        Param("abs_fitgeometry", str, "rshift", "Fitting geometry (absolute)",
              choices=_FITGEOMETRIES),
        Param("abs_nclip", int, 3, "Clipping iterations of the fit (absolute)", minimum=0),
        Param("abs_sigma", float, 3.0, "Clipping limit (absolute)", minimum=0.0,
              unit="sigma"),
        Param("abs_searchrad", float, 6.0, "Search radius of a match (absolute)",
              unit="arcsec"),
        Param("abs_use2dhist", bool, True, "Use a 2-D histogram for the initial offset "
              "(absolute)"),
        Param("abs_separation", float, 1.0, "Minimum object separation (absolute)",
              unit="arcsec"),
        Param("abs_tolerance", float, 0.7, "Matching tolerance (absolute)", unit="arcsec"),
        Param("sip_approx", bool, True, "Compute the FITS SIP approximation"),
        Param("sip_max_pix_error", float, 0.01, "Largest forward error of the SIP fit",
              unit="pixel"),
        Param("sip_degree", int, None, "Degree of the forward SIP fit (None: best fit)",
              maximum=6, allow_none=True),
        Param("sip_max_inv_pix_error", float, 0.01, "Largest inverse error of the SIP fit",
              unit="pixel"),
        Param("sip_inv_degree", int, None, "Degree of the inverse SIP fit (None: best fit)",
              maximum=6, allow_none=True),
        Param("sip_npoints", int, 12, "Sample points per axis of the SIP fit"),
        Param("in_memory", bool, True, "Keep images in memory (False: temporary files)"),
    )  # fmt: skip

    def required_reference_types(self) -> tuple[str, ...]:
        return ()

    # ------------------------------------------------------------------ options
    def _source_finding(self) -> SourceFinding:
        return SourceFinding(
            starfinder=self.starfinder, snr_threshold=self.snr_threshold,
            kernel_fwhm=self.kernel_fwhm, bkg_boxsize=self.bkg_boxsize,
            minsep_fwhm=self.minsep_fwhm, sigma_radius=self.sigma_radius,
            sharplo=self.sharplo, sharphi=self.sharphi, roundlo=self.roundlo,
            roundhi=self.roundhi, brightest=self.brightest, peakmax=self.peakmax,
            npixels=self.npixels, connectivity=int(self.connectivity), nlevels=self.nlevels,
            contrast=self.contrast, multithresh_mode=self.multithresh_mode,
            localbkg_width=self.localbkg_width, apermask_method=self.apermask_method,
            kron_params=self.kron_params, deblend=self.deblend,
        )  # fmt: skip

    def _relative_match(self) -> MatchFit:
        return MatchFit(
            searchrad=self.searchrad, separation=self.separation, use2dhist=self.use2dhist,
            tolerance=self.tolerance, xoffset=self.xoffset, yoffset=self.yoffset,
            minobj=self.minobj, fitgeometry=self.fitgeometry, nclip=self.nclip,
            sigma=self.sigma,
        )  # fmt: skip

    def _absolute_match(self) -> MatchFit:
        return MatchFit(
            searchrad=self.abs_searchrad, separation=self.abs_separation,
            use2dhist=self.abs_use2dhist, tolerance=self.abs_tolerance,
            minobj=self.abs_minobj, fitgeometry=self.abs_fitgeometry, nclip=self.abs_nclip,
            sigma=self.abs_sigma,
        )  # fmt: skip

    def _check_parameters(self) -> str:
        """Check file parameters before any work; return the stripped ``abs_refcat``."""
        if self.catalog_format not in _CATALOG_FORMATS:
            raise ValueError(
                f"tweakreg: catalog_format={self.catalog_format!r}: expected 'ecsv' or 'fits'"
            )
        refcat = (self.abs_refcat or "").strip()
        if refcat.lower() == "none":
            refcat = ""
        if refcat and refcat.upper() not in SERVICE_CATALOGS + S3_CATALOGS:
            if not Path(refcat).is_file():
                raise InputError(
                    f"abs_refcat={refcat!r}: no such file; expected a catalog file with "
                    f"RA/DEC columns or one of {', '.join(SERVICE_CATALOGS)}"
                )
        return refcat

    # ------------------------------------------------------------------ the work
    def process(self, model: Any) -> Any:
        """Align the exposures of ``model`` and return a new library of the results.

        Raises
        ------
        InputError
            If an exposure has no WCS (stage 2 not run) or not an imaging WCS, or
            ``abs_refcat``, ``catfile`` or a custom catalog is missing or malformed.
        ValueError
            If ``catalog_format`` is not ``ecsv`` or ``fits``.
        """
        from ..datamodels import ModelLibrary

        library = model if isinstance(model, ModelLibrary) else ModelLibrary([model])
        refcat_name = self._check_parameters()
        custom = self._custom_catalogs(library)
        n_groups = len(library.group_names)
        if not refcat_name and not self.save_catalogs and n_groups == 1:
            log.warning("At least two exposures are required for image alignment.")
            log.warning("Nothing to do. Skipping 'TweakRegStep'...")
            return self._results(library, None, {}, status="SKIPPED")
        correctors, saved = self._correctors(library, custom)
        log.info("Number of image groups to be aligned: %d.", n_groups)
        relative_done = False
        if n_groups > 1:
            from .align import relative_align

            try:
                relative_align(correctors, self._relative_match(),
                               enforce_user_order=self.enforce_user_order,
                               expand_refcat=self.expand_refcat or bool(refcat_name))  # fmt: skip
                relative_done = True
            except AlignmentSkipped as why:
                log.warning("%s", why)
        if refcat_name:
            try:
                self._absolute(library, correctors, refcat_name)
            except AlignmentSkipped as why:
                log.warning("%s", why)
                return self._results(library, None, saved, status="SKIPPED")
        elif not relative_done:
            return self._results(library, None, saved, status="SKIPPED")
        return self._results(library, correctors, saved, status="COMPLETE",
                             refcat_name=refcat_name)  # fmt: skip

    def _correctors(self, library: Any, custom: dict[int, str]) -> tuple[list, dict[int, str]]:
        """Catalog and tweakwcs corrector of every member; the catalogs written.

        With the members in memory, the sources of each are found in a forked worker
        process (:class:`webbcal.lib.forkmap.ForkPool`, two at a time) while the next
        members are read; the catalogs are then taken in member order.
        """
        from ..lib.forkmap import ForkPool

        options = self._source_finding()
        correctors, saved = [], {}
        workers = 0 if library.on_disk else 2
        with library, ForkPool(workers) as pool:
            found = []
            for index in range(len(library)):
                model = library.borrow(index)
                try:
                    # The first member here: what source finding loads on its first
                    # use (imports, compiled kernels) is then inherited by the workers.
                    submit = pool.submit if found else pool.run_here
                    found.append(self._start_catalog(submit, model, custom.get(index),
                                                     options))  # fmt: skip
                finally:
                    library.shelve(model, index, modify=False)
                del model
            for index in range(len(library)):
                model = library.borrow(index)
                try:
                    catalog, save = self._catalog(model, *found[index])
                    found[index] = None
                    name = Path(_name(model)).stem.strip("_- ")
                    if save:
                        saved[index] = self._write_catalog(catalog, _name(model))
                    correctors.append(self._corrector(model, catalog, library, index, name))
                finally:
                    library.shelve(model, index, modify=False)
        return correctors, saved

    def _start_catalog(self, submit: Any, model: Any, custom_path: str | None,
                       options: SourceFinding) -> tuple:  # fmt: skip
        """``(catalog or a function giving it, save)``: a custom catalog, or the sources
        found by ``submit`` (:meth:`webbcal.lib.forkmap.ForkPool.submit`)."""
        _check_imaging(model)
        if custom_path is not None:
            log.info("Using user-provided input catalog '%s'", custom_path)
            return _read_custom_catalog(custom_path), False
        err = None if model.err is None else np.asarray(model.err)
        return submit(_member_sources, np.asarray(model.data), np.asarray(model.dq), err,
                      options), self.save_catalogs  # fmt: skip

    def _catalog(self, model: Any, catalog: Any, save: bool):
        """The member's catalog within its WCS bounding box (``catalog`` may be a
        function giving it)."""
        from .align import within_bounding_box

        if callable(catalog):
            catalog = catalog()
        name = _name(model)
        bbox = model.meta.wcs.bounding_box
        catalog = within_bounding_box(catalog, None if bbox is None else bbox.bounding_box("F"))
        if len(catalog) == 0:
            log.warning("No sources found in %s.", name)
        else:
            log.info("Detected %d sources in %s.", len(catalog), name)
        return catalog, save

    @staticmethod
    def _corrector(model: Any, catalog: Any, library: Any, index: int, name: str):
        from .align import make_corrector

        info = model.meta.wcsinfo
        wcsinfo = {"v2_ref": info.v2_ref, "v3_ref": info.v3_ref, "roll_ref": info.roll_ref}
        missing = [k.upper() for k, v in wcsinfo.items() if v is None]
        if missing:
            raise InputError(f"{_name(model)}: missing {', '.join(missing)} in the SCI header; "
                             "expected the pointing keywords of a stage-2 product")  # fmt: skip
        group = library.group_id_of(index) or f"member{index}"
        try:
            return make_corrector(model.meta.wcs, wcsinfo, catalog, group, name)
        except ValueError as exc:
            raise InputError(f"{_name(model)}: the WCS cannot be aligned: {exc}") from None

    def _absolute(self, library: Any, correctors: list, refcat_name: str) -> None:
        from .align import absolute_align

        log.info("Aligning to absolute reference catalog: %s", refcat_name)
        refcat = self._reference_catalog(library, correctors, refcat_name)
        absolute_align(correctors, refcat, self._absolute_match())

    def _reference_catalog(self, library: Any, correctors: list, refcat_name: str):
        from .refcat import (
            CatalogServiceError,
            field_of_view,
            query_catalog_service,
            read_reference_catalog,
        )

        name = refcat_name.upper()
        if name in S3_CATALOGS:
            raise AlignmentSkipped(
                f"abs_refcat={refcat_name!r}: catalogs in cloud storage are not supported; "
                f"use a catalog file or one of {', '.join(SERVICE_CATALOGS)}. "
                "Skipping alignment to the reference catalog"
            )
        if name not in SERVICE_CATALOGS:
            return read_reference_catalog(refcat_name)
        ra, dec, radius = field_of_view([c.wcs.footprint(axis_type="spatial")
                                         for c in correctors])  # fmt: skip
        try:
            table = query_catalog_service(name, ra, dec, radius, epoch=_epoch(library))
        except CatalogServiceError as exc:
            raise AlignmentSkipped(
                f"{exc}; skipping alignment to the reference catalog {refcat_name}"
            ) from None
        if self.save_abs_catalog:
            path = self._output_path(f"fit_{name.lower()}_ref.ecsv")
            existed = os.path.exists(path)
            table.write(path, format="ascii.ecsv", overwrite=True)
            if not existed:
                self.record_output(path)
            log.info("Wrote the absolute reference catalog %s", path)
        return table

    def _results(self, library: Any, correctors: list | None, saved: dict[int, str], *,
                 status: str, refcat_name: str = "") -> Any:  # fmt: skip
        """The members, corrected where a fit succeeded: in place in a library this run
        owns (:meth:`owns_input`), else copies in a new library."""
        sips = self._start_sip_fits(library, correctors)
        if self.owns_input():
            with library:
                for index in range(len(library)):
                    model = library.borrow(index)
                    self._record(model, index, correctors, saved, status, refcat_name,
                                 sips.get(index))  # fmt: skip
                    library.shelve(model, index)
            return library
        results = library.derived()
        for index in range(len(library)):
            model = library.copy_of(index)
            self._record(model, index, correctors, saved, status, refcat_name, sips.get(index))
            results.add_result(index, model)
        return results

    def _start_sip_fits(self, library: Any, correctors: list | None) -> dict[int, Any]:
        """Member index -> function giving the FITS SIP fit of its corrected WCS.

        The fits (~0.2 s each for a full frame) are independent: with the members in
        memory they run in forked worker processes, two at a time
        (:class:`webbcal.lib.forkmap.ForkPool`), their log records and warnings
        emitted here when each member's fit is applied. Empty when nothing is fitted.
        """
        from ..lib.forkmap import ForkPool
        from ..wcs import sip_header, wcsinfo_crpix
        from .align import fit_succeeded

        if correctors is None or not self.sip_approx:
            return {}
        params = _sip_params(self)
        sips = {}
        with library, ForkPool(0 if library.on_disk else 2) as pool:
            for index, corrector in enumerate(correctors):
                if corrector is None or not fit_succeeded(corrector):
                    continue
                model = library.borrow(index)
                try:
                    crpix = wcsinfo_crpix(model)
                finally:
                    library.shelve(model, index, modify=False)
                sips[index] = pool.submit(sip_header, corrector.wcs, params, crpix=crpix,
                                          strict=False)  # fmt: skip
        return sips

    def _record(self, model: Any, index: int, correctors: list | None, saved: dict[int, str],
                status: str, refcat_name: str, sip: Any = None) -> None:  # fmt: skip
        """Write member ``index``'s corrected WCS, S_REGION, catalog name and status
        (``sip``: a function giving its SIP fit, from :meth:`_start_sip_fits`)."""
        from ..datamodels.io import assigning_checked_values
        from ..wcs import s_region_from_wcs
        from .align import fit_succeeded

        corrector = None if correctors is None else correctors[index]
        # A gwcs object, strings and the SIP floats: the types are ours (the model is
        # validated when saved), so the per-assignment schema check is skipped.
        with assigning_checked_values(model):
            if corrector is not None and fit_succeeded(corrector):
                wcs = corrector.wcs
                if refcat_name:
                    wcs.name = f"FIT-LVL3-{refcat_name}"
                model.meta.wcs = wcs
                model.meta.wcsinfo.s_region = s_region_from_wcs(wcs)
                log.info("Updated S_REGION of %s to %s", _name(model),
                         model.meta.wcsinfo.s_region)  # fmt: skip
                if self.sip_approx:
                    _update_sip(model, wcs, self, sip)
            if index in saved:
                model.meta.tweakreg_catalog = str(saved[index])
            model.meta.cal_step.tweakreg = str(status)

    # ------------------------------------------------------------------ catalogs
    def _output_path(self, name: str) -> str:
        root = self._root()
        output_dir = self.output_dir or (root.output_dir if root is not self else None)
        return os.path.join(output_dir, name) if output_dir else name

    def _write_catalog(self, catalog: Any, filename: str) -> str:
        name = os.path.basename(filename).replace(".fits", f"_cat.{self.catalog_format}")
        path = self._output_path(name)
        existed = os.path.exists(path)
        catalog.write(path, format=_CATALOG_FORMATS[self.catalog_format], overwrite=True)
        if not existed:
            self.record_output(path)
        log.info("Wrote source catalog: %s", path)
        return name

    def _custom_catalogs(self, library: Any) -> dict[int, str]:
        """Member index -> custom catalog path (``use_custom_catalogs``); empty if none."""
        if not self.use_custom_catalogs:
            return {}
        by_name: dict[str, str | None] = {}
        if self.catfile.strip():
            by_name = _parse_catfile(self.catfile)
            if not by_name:
                log.warning("'use_custom_catalogs' is set to True but 'catfile' contains no "
                            "user catalogs. Turning on built-in catalog creation.")  # fmt: skip
                return {}
        out: dict[int, str] = {}
        members = library.members
        base = library.asn.base_dir if library.asn.path else None
        with library:
            for index in range(len(library)):
                model = library.borrow(index)
                filename = os.path.basename(_name(model))
                meta_cat = getattr(model.meta, "tweakreg_catalog", None)
                library.shelve(model, index, modify=False)
                if filename in by_name:
                    path = by_name[filename]
                elif not self.catfile.strip() and "tweakreg_catalog" in members[index].extra:
                    entry = members[index].extra["tweakreg_catalog"]
                    path = os.path.join(base or "", entry) if entry and entry.strip() else None
                else:
                    path = meta_cat if meta_cat and meta_cat.strip() else None
                if path is not None:
                    out[index] = path
        return out


def _epoch(library: Any) -> float | None:
    from astropy.time import Time

    with library:
        model = library.borrow(0)
        date = model.meta.observation.date
        library.shelve(model, 0, modify=False)
    return None if not date else float(Time(date).decimalyear)


def _member_sources(
    data: np.ndarray, dq: np.ndarray, err: np.ndarray | None, options: SourceFinding
):
    """Alignment catalog (``id``, ``x``, ``y``, ``flux``) of one member's arrays."""
    from .. import dqflags
    from .sources import find_sources

    mask = (np.asarray(dq) & (dqflags.NON_SCIENCE | dqflags.DO_NOT_USE)) != 0
    catalog = find_sources(data, mask=mask, err=err, options=options)
    catalog = catalog["id", "xcentroid", "ycentroid", "flux"]
    catalog.rename_columns(["xcentroid", "ycentroid"], ["x", "y"])
    return catalog


def _check_imaging(model: Any) -> None:
    name = _name(model)
    if getattr(model.meta, "wcs", None) is None:
        raise InputError(f"{name}: no WCS (meta.wcs is missing): stage 2 (assign_wcs) not run; "
                         "tweakreg needs calibrated (_cal) exposures")  # fmt: skip
    if model.data is None or np.ndim(model.data) != 2:
        raise InputError(f"{name}: SCI has shape {np.shape(model.data)}; tweakreg expects a "
                         "2-D image")  # fmt: skip


def _parse_catfile(path: str) -> dict[str, str | None]:
    """``catfile``: ``<exposure> [<catalog>]`` per line, catalogs relative to the catfile."""
    catfile = Path(path)
    if not catfile.is_file():
        raise InputError(f"catfile={path!r}: no such file")
    out: dict[str, str | None] = {}
    for number, line in enumerate(catfile.read_text().splitlines(), start=1):
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        if len(words) > 2:
            raise InputError(f"catfile={path!r}, line {number}: {len(words)} columns; expected "
                             "an exposure file name and at most one catalog file")  # fmt: skip
        out[words[0]] = str(catfile.parent / words[1]) if len(words) == 2 else None
    return out


def _read_custom_catalog(path: str):
    from astropy.table import Table

    if not os.path.isfile(path):
        raise InputError(f"custom tweakreg catalog {path!r}: no such file")
    try:
        table = Table.read(path)
    except Exception as exc:  # astropy raises many types for unreadable tables
        raise InputError(f"custom tweakreg catalog {path!r}: cannot read it: {exc}") from None
    for axis in ("x", "y"):
        if axis in table.colnames:
            continue
        for alias in (f"{axis}centroid", f"{axis}_centroid"):
            if alias in table.colnames:
                table.rename_column(alias, axis)
                break
        else:
            raise InputError(
                f"custom tweakreg catalog {path!r}: columns {table.colnames}; expected "
                f"{axis!r}, '{axis}centroid' or '{axis}_centroid'"
            )
    return table


def _sip_params(step: TweakRegStep) -> Any:
    """The step's ``sip_*`` parameters as :class:`webbcal.wcs.SipParams`."""
    from ..wcs import SipParams

    return SipParams(
        approx=True, max_pix_error=step.sip_max_pix_error, degree=step.sip_degree,
        max_inv_pix_error=step.sip_max_inv_pix_error, inv_degree=step.sip_inv_degree,
        npoints=step.sip_npoints,
    )  # fmt: skip


def _update_sip(model: Any, wcs: Any, step: TweakRegStep, fitted: Any = None) -> None:
    """Refit the FITS SIP approximation in ``meta.wcsinfo`` (a failure only warns);
    ``fitted`` gives a fit already made (:meth:`TweakRegStep._start_sip_fits`)."""
    from ..wcs import update_sip_wcsinfo

    update_sip_wcsinfo(model, wcs, _sip_params(step), fitted=fitted)
