"""The ``extract_2d`` step adapter (NIRCam grism time series)."""

from __future__ import annotations

import logging
from typing import Any

from ..datamodels.io import InputError
from ..stpipe import Param, Step, StepSkipped

__all__ = ["Extract2dStep"]

log = logging.getLogger(__name__)

#: Exposure types cut out here (other modes are skipped with a message).
SUPPORTED_EXP_TYPES = frozenset({"NRC_TSGRISM"})


class Extract2dStep(Step):
    """Cut 2-D spectra out of spectral images (official alias ``extract_2d``).

    Implemented: NIRCam grism time series (``NRC_TSGRISM``, after ``assign_wcs``): one
    ``SlitModel`` holding every column of the subarray and its first
    ``tsgrism_extract_height`` rows (default 64), with the cut-out's WCS and WAVELENGTH
    array, for the order of ``extract_orders`` (default: the ``wavelengthrange``
    reference's order for the filter); :mod:`webbcal.extract_2d.tso`. The
    ``wavelengthrange`` reference gives the trace's wavelength range, which must fall on
    the subarray. NIRSpec, WFSS and NIRCam DHS cut-outs are not implemented: such
    exposures are skipped with a message (the WFSS and NIRSpec parameters are accepted
    and unused).

    Differences from the official step, by design: an N/A ``wavelengthrange``, a
    reference without the filter, a trace off the subarray or a height below 2 raise
    :class:`~webbcal.datamodels.io.InputError` naming the file, keyword and value.

    References
    ----------
    JWST pipeline documentation, ``extract_2d`` step ("NIRCam grism time series",
    "Step Arguments", "Reference File": WAVELENGTHRANGE).
    """

    class_alias = "extract_2d"
    cal_step_name = "extract_2d"
    reference_file_types = ("wavelengthrange",)
    optional_reference_types = ("wavelengthrange",)
    spec = (
        Param("slit_names", list, None, "Slits to extract (NIRSpec; unused)", element=str,
              allow_none=True),
        Param("source_ids", list, None, "Source ids to extract (unused)", element=str,
              allow_none=True),
        Param("source_ra", list, None, "Source RAs to extract (WFSS; unused)", element=str,
              allow_none=True),
        Param("source_dec", list, None, "Source Decs to extract (WFSS; unused)", element=str,
              allow_none=True),
        Param("source_max_sep", float, 2.0, "Largest separation around source_ra/dec "
              "(WFSS; unused)", unit="arcsec"),
        Param("extract_orders", list, None, "Spectral orders to extract (one for a time "
              "series)", element=int, allow_none=True),
        Param("grism_objects", list, None, "Grism objects (WFSS; unused)", element=str,
              allow_none=True),
        Param("tsgrism_extract_height", int, None, "Cut-out height, rows (None: 64)",
              allow_none=True, unit="pixel"),
        Param("wfss_extract_half_height", int, 5, "Cut-out half height (WFSS; unused)",
              unit="pixel"),
        Param("wfss_mmag_extract", float, None, "Faintest AB magnitude extracted (WFSS; "
              "unused)", allow_none=True),
        Param("wfss_nbright", int, 1000, "Number of brightest objects (WFSS; unused)"),
    )  # fmt: skip

    #: Official default of ``tsgrism_extract_height``.
    default_tsgrism_height = 64

    def _resolve_references(self, model: Any) -> None:
        # Only the slitless time series uses a reference: looked up in process().
        self._references_used.clear()

    def required_reference_types_for(self, model: Any) -> tuple[str, ...]:
        exp_type = (getattr(model.meta.exposure, "type", None) or "").upper()
        if self.skip or exp_type not in SUPPORTED_EXP_TYPES:
            return ()
        return super().required_reference_types()

    def required_reference_types(self) -> tuple[str, ...]:
        return ()

    def process(self, model: Any) -> Any:
        """The cut-out of ``model`` (a new ``SlitModel``).

        Raises
        ------
        InputError
            Without a grism WCS, an N/A or unusable ``wavelengthrange``, several orders,
            or a trace off the subarray.
        StepSkipped
            For exposure types other than NRC_TSGRISM, and NIRCam DHS subarrays.
        """
        from stdatamodels.jwst import datamodels as dm

        from .tso import extract_tso_slit, read_tsgrism_wavelengthrange

        exp_type = (model.meta.exposure.type or "").upper()
        name = model.meta.filename or "input"
        log.info("EXP_TYPE is %s", exp_type)
        if exp_type not in SUPPORTED_EXP_TYPES:
            raise StepSkipped(f"2-D extraction of EXP_TYPE={exp_type} is not implemented")
        if "DHS" in (model.meta.subarray.name or "").upper():
            raise StepSkipped("NIRCam DHS time series are not implemented")
        if not isinstance(model, (dm.CubeModel, dm.ImageModel)):
            raise InputError(f"{name}: a {type(model).__name__}; extract_2d of NRC_TSGRISM "
                             "expects the rateints cube (CubeModel) or a rate image")  # fmt: skip
        frames = [] if model.meta.wcs is None else list(model.meta.wcs.available_frames)
        if "grism_detector" not in frames:
            raise InputError(f"{name}: no grism WCS (frames {frames}); run assign_wcs first")
        path = self.get_reference_file(model, "wavelengthrange")
        if path is None:
            raise InputError(f"{name}: no wavelengthrange reference applies (N/A) to "
                             "EXP_TYPE=NRC_TSGRISM; give override_wavelengthrange")  # fmt: skip
        log.info("Using WAVELENGTHRANGE reference file %s", path)
        ranges = read_tsgrism_wavelengthrange(path)
        filt = (model.meta.instrument.filter or "").upper()
        if self.extract_orders is None:
            log.info("Using default order extraction from reference file")
            orders = ranges.default_orders(filt)
        else:
            orders = tuple(int(o) for o in self.extract_orders)
        if len(orders) != 1:
            raise InputError(
                f"extract_orders={list(orders)}: a time series is cut out for one order "
                "(several orders are not implemented, as officially)"
            )
        order = orders[0]
        log.info("Extracting order: %s", list(orders))
        height = self.tsgrism_extract_height
        if height is None:
            height = self.default_tsgrism_height
        log.info("Setting extraction height to %d", height)
        limits = ranges.limits(order, filt)
        return extract_tso_slit(model, order=order, limits=limits, height=int(height))
