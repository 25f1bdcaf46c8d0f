"""The ``extract_1d`` step adapter (MIRI LRS slitless time series: ``x1dints``)."""

from __future__ import annotations

import logging

from ..stpipe import Param, Step, StepSkipped

__all__ = ["SUPPORTED_EXP_TYPES", "Extract1dStep"]

log = logging.getLogger(__name__)

#: Exposure types extracted here (others are skipped with a message).
SUPPORTED_EXP_TYPES = frozenset({"MIR_LRS-SLITLESS", "NRC_TSGRISM"})

#: Exposure types without aperture correction (the official step has no APCORR model
#: for them; CRDS gives N/A).
NO_APCORR_EXP_TYPES = frozenset({"NRC_TSGRISM"})


class Extract1dStep(Step):
    """Extract spectra from 2-D spectral images (official alias ``extract_1d``).

    Implemented: box extraction of MIRI LRS slitless exposures (``MIR_LRS-SLITLESS``,
    after assign_wcs/photom) and of NIRCam grism time series (``NRC_TSGRISM``, the
    extract_2d cut-out after photom; aperture id ``NRC_TSGRISM``, dispersion along rows,
    no aperture correction), a ``_calints`` cube giving an ``x1dints`` product
    (``TSOMultiSpecModel``: one row per integration, integration times from INT_TIMES) and a
    ``_cal`` image an ``x1d`` product (``MultiSpecModel``). The aperture and background
    regions come from the ``extract1d`` reference (JSON; aperture id = EXP_TYPE) and the
    step's parameters (:mod:`webbcal.extract_1d.reference`); the sums from
    :func:`webbcal.extract_1d.box.extract_box`, vectorised over chunks of integrations so
    memory does not grow with their number. Fluxes are in Jy (surface brightness x
    PIXAR_SR) once photom has run, else DN/s.

    Point sources are aperture-corrected with the MIRI LRS ``apcorr`` reference when
    ``apply_apcorr`` is set (:mod:`webbcal.extract_1d.apcorr`).

    Not implemented (a warning says so): optimal extraction (``extraction_type``
    "optimal" falls back to box, as the official step does without a PSF reference),
    ``use_source_posn`` (the nominal aperture is used), IFU and SOSS parameters
    (accepted, unused). Other exposure types are skipped.

    References
    ----------
    JWST pipeline documentation, ``extract_1d`` step ("Description", "Box extraction",
    "Arguments", "Reference File", "Output product").
    """

    class_alias = "extract_1d"
    cal_step_name = "extract_1d"
    reference_file_types = ("extract1d", "apcorr", "pastasoss", "specprofile", "speckernel",
                            "psf")  # fmt: skip
    optional_reference_types = reference_file_types
    spec = (
        Param("subtract_background", bool, None, "Subtract the background?", allow_none=True),
        Param("apply_apcorr", bool, True, "Apply aperture corrections?"),
        Param("extraction_type", str, "box", "Box or optimal extraction (optimal: not "
              "implemented, box is used)", choices=("box", "optimal"), allow_none=True),
        Param("use_source_posn", bool, None, "Use the source position to centre the "
              "extraction? (not implemented)", allow_none=True),
        Param("position_offset", float, 0.0, "Pixels to shift the aperture across the "
              "dispersion", unit="pixel"),
        Param("model_nod_pair", bool, True, "Optimal extraction: model a negative nod "
              "(unused)"),
        Param("optimize_psf_location", bool, True, "Optimal extraction: optimise the source "
              "location (unused)"),
        Param("smoothing_length", int, None, "Background boxcar smoothing length along the "
              "dispersion", allow_none=True),
        Param("bkg_fit", str, None, "Background fitting type",
              choices=("poly", "mean", "median"), allow_none=True),
        Param("bkg_order", int, None, "Order of the background polynomial", minimum=0,
              allow_none=True),
        Param("log_increment", int, 50, "Log a progress message every this many "
              "integrations"),
        Param("save_profile", bool, False, "Save the spatial profile (unused)"),
        Param("save_scene_model", bool, False, "Save the scene model (unused)"),
        Param("save_residual_image", bool, False, "Save the residual image (unused)"),
        Param("center_xy", list, None, "IFU extraction x/y centre (unused)", element=float,
              length=2, allow_none=True),
        Param("ifu_autocen", bool, False, "IFU auto-centring (unused)"),
        Param("bkg_sigma_clip", float, 3.0, "IFU background sigma clipping (unused)"),
        Param("ifu_rfcorr", bool, True, "MIRI MRS residual fringe correction (unused)"),
        Param("ifu_set_srctype", str, None, "IFU source type (unused)",
              choices=("POINT", "EXTENDED"), allow_none=True),
        Param("ifu_rscale", float, None, "IFU radius scale (unused)", minimum=0.5, maximum=3,
              allow_none=True),
        Param("ifu_covar_scale", float, 1.0, "IFU covariance scale (unused)"),
        Param("soss_atoca", bool, True, "NIRISS SOSS: ATOCA (unused)"),
        Param("soss_threshold", float, 1e-2, "NIRISS SOSS threshold (unused)"),
        Param("soss_n_os", int, 2, "NIRISS SOSS oversampling (unused)"),
        Param("soss_wave_grid_in", str, None, "NIRISS SOSS wavelength grid (unused)",
              allow_none=True),
        Param("soss_wave_grid_out", str, None, "NIRISS SOSS wavelength grid output (unused)",
              allow_none=True),
        Param("soss_estimate", str, None, "NIRISS SOSS estimate (unused)", allow_none=True),
        Param("soss_rtol", float, 1.0e-4, "NIRISS SOSS tolerance (unused)"),
        Param("soss_max_grid_size", int, 20000, "NIRISS SOSS grid size (unused)"),
        Param("soss_tikfac", float, None, "NIRISS SOSS regularisation (unused)",
              allow_none=True),
        Param("soss_width", float, 40.0, "NIRISS SOSS aperture width (unused)"),
        Param("soss_bad_pix", str, "masking", "NIRISS SOSS bad pixels (unused)",
              choices=("model", "masking")),
        Param("soss_modelname", str, None, "NIRISS SOSS model output (unused)",
              allow_none=True),
        Param("soss_order_3", bool, True, "NIRISS SOSS order 3 (unused)"),
    )  # fmt: skip

    def _resolve_references(self, model) -> None:
        # References depend on the mode and parameters: looked up in process().
        self._references_used.clear()

    def required_reference_types(self) -> tuple[str, ...]:
        """``extract1d`` and, with ``apply_apcorr``, ``apcorr`` (unless overridden)."""
        if self.skip:
            return ()
        wanted = ("extract1d", "apcorr") if self.apply_apcorr else ("extract1d",)
        return tuple(r for r in wanted if self._values.get(f"override_{r}") is None)

    def required_reference_types_for(self, model) -> tuple[str, ...]:
        """As :meth:`required_reference_types`, without ``apcorr`` for the modes that have
        no aperture correction."""
        wanted = self.required_reference_types()
        if (getattr(model.meta.exposure, "type", None) or "").upper() in NO_APCORR_EXP_TYPES:
            wanted = tuple(r for r in wanted if r != "apcorr")
        return wanted

    def process(self, model):
        from .extract import extract_model

        return extract_model(model, self.extractor(model))

    def extractor(self, model):
        """The extraction of ``model``'s exposure, to be fed integrations in chunks
        (:class:`~webbcal.extract_1d.extract.LrsExtractor`); references looked up here.

        Raises
        ------
        StepSkipped
            For an exposure type or model class that is not extracted.
        """
        from stdatamodels.jwst import datamodels as dm

        exp_type = (model.meta.exposure.type or "").upper()
        if exp_type not in SUPPORTED_EXP_TYPES:
            raise StepSkipped(f"spectral extraction of EXP_TYPE={exp_type} is not implemented")
        if not isinstance(model, (dm.ImageModel, dm.CubeModel, dm.SlitModel)):
            raise StepSkipped(f"{type(model).__name__} input is not supported")
        ext_path = self.get_reference_file(model, "extract1d")
        log.info("Using EXTRACT1D reference file %s", ext_path)
        apcorr = None
        if self.apply_apcorr and exp_type in NO_APCORR_EXP_TYPES:
            log.info("No aperture correction for EXP_TYPE=%s", exp_type)
        elif self.apply_apcorr:
            apcorr = self.get_reference_file(model, "apcorr")
            if apcorr is not None:
                log.info("Using APCORR file %s", apcorr)
        if str(self.extraction_type).lower() == "optimal":
            log.warning("Optimal extraction is not implemented; using box extraction")
        from .extract import prepare_lrs

        return prepare_lrs(model, ext_path, self, apcorr_path=apcorr)
