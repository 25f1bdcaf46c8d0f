"""The ``assign_wcs`` step adapter (imaging exposures of NIRCam, NIRISS, MIRI and FGS)."""

from __future__ import annotations

import logging
from typing import Any

from ..stpipe import Param, Step, StepSkipped

__all__ = ["AssignWcsStep"]

log = logging.getLogger(__name__)

#: Reference types used for imaging; the other official ones serve spectroscopic modes.
IMAGING_REFERENCE_TYPES = ("distortion", "filteroffset")


class AssignWcsStep(Step):
    """Attach the WCS of an exposure (official alias ``assign_wcs``).

    Imaging exposure types of NIRCam, NIRISS, MIRI and FGS (``NRC_IMAGE``,
    ``NRC_TSIMAGE``, ``NRC_CORON``, ``NIS_IMAGE``, ``NIS_AMI``, ``MIR_IMAGE``, ``MIR_LYOT``,
    ``MIR_4QPM``, ``FGS_IMAGE``, target acquisitions...) get a gwcs object with the frames
    ``detector``, ``v2v3``, ``v2v3vacorr`` and ``world``, from the ``distortion`` reference,
    the ``filteroffset`` reference (required for MIRI, used when given for NIRCam and
    NIRISS), the pointing keywords and the velocity-aberration scale; S_REGION; and the
    FITS TAN-SIP approximation in ``meta.wcsinfo``. MIRI LRS slitless (``MIR_LRS-SLITLESS``)
    gets the spectral WCS of the ``specwcs`` trace table and the imager ``distortion``
    (frames ``detector``, ``v2v3``, ``v2v3vacorr``, ``world`` with a spectral axis) and a
    ``wavelength`` array (:mod:`webbcal.assign_wcs.lrs`). NIRCam grism time series
    (``NRC_TSGRISM``) get the grism WCS of the ``specwcs`` dispersion polynomials, the
    imaging ``distortion`` and ``filteroffset``, and the source position XREF_SCI/YREF_SCI
    (frames ``grism_detector``, ``direct_image``, ``v2v3``, ``v2v3vacorr``, ``world``;
    :mod:`webbcal.assign_wcs.tsgrism`). Other spectroscopic modes and NIRSpec are not
    implemented: such exposures are skipped with a message.

    References
    ----------
    JWST pipeline documentation, ``assign_wcs`` step ("Description", "Arguments",
    "Reference Files").
    """

    class_alias = "assign_wcs"
    cal_step_name = "assign_wcs"
    reference_file_types = (
        "distortion", "filteroffset", "specwcs", "regions", "wavelengthrange", "camera",
        "chromcorr", "collimator", "disperser", "fore", "fpa", "msa", "ote", "ifupost",
        "ifufore", "ifuslicer",
    )  # fmt: skip
    optional_reference_types = reference_file_types
    spec = (
        Param("sip_approx", bool, True, "Compute the FITS SIP approximation (imaging modes)"),
        Param("sip_max_pix_error", float, 0.01,
              "Largest allowed forward error of the SIP fit", unit="pixel"),
        Param("sip_degree", int, None, "Degree of the forward SIP fit (None: best fit)",
              maximum=6, allow_none=True),
        Param("sip_max_inv_pix_error", float, 0.01,
              "Largest allowed inverse error of the SIP fit", unit="pixel"),
        Param("sip_inv_degree", int, None, "Degree of the inverse SIP fit (None: best fit)",
              maximum=6, allow_none=True),
        Param("sip_npoints", int, 12, "Sample points per axis of the SIP fit"),
        Param("slit_y_low", float, -0.55,
              "Lower edge of a slit (NIRSpec only; not used: NIRSpec is not implemented)"),
        Param("slit_y_high", float, 0.55,
              "Upper edge of a slit (NIRSpec only; not used: NIRSpec is not implemented)"),
        Param("nrs_ifu_slice_wcs", bool, False,
              "Slice-based NIRSpec IFU WCS (diagnostic; not used: NIRSpec is not implemented)"),
    )  # fmt: skip

    def _resolve_references(self, model: Any) -> None:
        # References depend on the mode: looked up in process() once it is known.
        self._references_used.clear()

    def required_reference_types(self) -> tuple[str, ...]:
        """The imaging references not overridden (none when skipped)."""
        if self.skip:
            return ()
        return tuple(
            r for r in IMAGING_REFERENCE_TYPES if self._values.get(f"override_{r}") is None
        )

    def required_reference_types_for(self, model: Any) -> tuple[str, ...]:
        """MIRI LRS slitless needs distortion and specwcs; imaging as
        :meth:`required_reference_types`."""
        if self.skip:
            return ()
        if (model.meta.exposure.type or "").upper() in ("MIR_LRS-SLITLESS", "NRC_TSGRISM"):
            wanted = ("distortion", "specwcs")
            return tuple(r for r in wanted if self._values.get(f"override_{r}") is None)
        return self.required_reference_types()

    def process(self, model: Any) -> Any:
        """Assign the imaging WCS to ``model`` (a copy owned by the run) and return it.

        Raises
        ------
        AssignWcsError
            If keywords are missing or inconsistent, or the distortion reference is N/A
            or belongs to another exposure (see
            :func:`webbcal.assign_wcs.assign_imaging_wcs`).
        StepSkipped
            For input models other than images and cubes, spectroscopic modes and NIRSpec.
        """
        from stdatamodels.jwst import datamodels as dm

        # gwcs and the WCS helpers are imported here, not with the module, so that
        # `webbcal list` and --help stay light.
        from ..wcs import SipFitError, SipParams
        from .imaging import (
            DISTORTION_INSTRUMENTS,
            IMAGING_EXP_TYPES,
            AssignWcsError,
            assign_imaging_wcs,
            check_exposure_keywords,
        )

        if not isinstance(model, (dm.ImageModel, dm.CubeModel, dm.IFUImageModel)):
            log.warning("Input dataset type is not supported.")
            log.warning("assign_wcs expects ImageModel, IFUImageModel or CubeModel as input.")
            raise StepSkipped(f"{type(model).__name__} input is not supported")
        instrument, exp_type = check_exposure_keywords(model)
        if exp_type == "MIR_LRS-SLITLESS":
            return self._assign_lrs(model)
        if exp_type == "NRC_TSGRISM":
            return self._assign_tsgrism(model)
        if exp_type.lower() not in IMAGING_EXP_TYPES:
            raise StepSkipped(f"spectroscopic WCS not implemented for EXP_TYPE={exp_type}")
        if instrument not in DISTORTION_INSTRUMENTS:
            raise StepSkipped(
                f"{instrument} WCS (instrument optical model) not implemented for "
                f"EXP_TYPE={exp_type}"
            )
        distortion = self.get_reference_file(model, "distortion")
        if distortion is None:
            raise AssignWcsError(
                f"{model.meta.filename}: no distortion reference applies (N/A) to "
                f"EXP_TYPE={exp_type}, DETECTOR={model.meta.instrument.detector}; an imaging "
                "WCS needs one (give override_distortion)"
            )
        filteroffset = None
        if instrument != "FGS":
            filteroffset = self.get_reference_file(model, "filteroffset")
        log.info("Using DISTORTION reference file %s", distortion)
        log.info("Using FILTEROFFSET reference file %s", filteroffset)
        try:
            sip = SipParams(
                approx=self.sip_approx, max_pix_error=self.sip_max_pix_error,
                degree=self.sip_degree, max_inv_pix_error=self.sip_max_inv_pix_error,
                inv_degree=self.sip_inv_degree, npoints=self.sip_npoints,
            ) if self.sip_approx else SipParams(approx=False)  # fmt: skip
        except SipFitError as exc:
            raise AssignWcsError(f"{self.name}: {exc}") from None
        return assign_imaging_wcs(model, distortion, filteroffset, sip)

    def _spectral_references(self, model: Any, what: str) -> dict[str, str]:
        """The ``distortion`` and ``specwcs`` references a spectral WCS needs (``what``
        names it in the error when one is N/A)."""
        from .imaging import AssignWcsError

        refs = {}
        for reftype in ("distortion", "specwcs"):
            refs[reftype] = self.get_reference_file(model, reftype)
            if refs[reftype] is None:
                raise AssignWcsError(
                    f"{model.meta.filename}: no {reftype} reference applies (N/A) to "
                    f"EXP_TYPE={model.meta.exposure.type}; the {what} needs one (give "
                    f"override_{reftype})"
                )
            log.info("Using %s reference file %s", reftype.upper(), refs[reftype])
        return refs

    def _assign_lrs(self, model: Any) -> Any:
        """MIRI LRS slitless: ``distortion`` + ``specwcs`` (no SIP: the WCS is spectral)."""
        from .lrs import assign_lrs_slitless_wcs

        refs = self._spectral_references(model, "LRS WCS")
        return assign_lrs_slitless_wcs(model, refs["distortion"], refs["specwcs"])

    def _assign_tsgrism(self, model: Any) -> Any:
        """NIRCam grism time series: ``distortion`` + ``specwcs`` (+ ``filteroffset``)."""
        from .tsgrism import assign_tsgrism_wcs

        refs = self._spectral_references(model, "grism WCS")
        filteroffset = self.get_reference_file(model, "filteroffset")
        log.info("Using FILTEROFFSET reference file %s", filteroffset)
        return assign_tsgrism_wcs(model, refs["distortion"], refs["specwcs"], filteroffset)
