"""The ``srctype`` step adapter: SRCTYPE of spectroscopic exposures from their keywords."""

from __future__ import annotations

import logging

from ..stpipe import Param, Step

__all__ = ["SourceTypeStep", "is_time_series"]

log = logging.getLogger(__name__)

#: EXP_TYPEs that are time series whatever TSOVISIT says (lower case, official list).
_TSO_EXP_TYPES = ("nrc_tsimage", "nrc_tsgrism", "nrs_brightobj")


def is_time_series(model) -> bool:
    """Whether an exposure is a time series (TSOVISIT or a TSO EXP_TYPE, and NINTS >= 2).

    References
    ----------
    JWST pipeline documentation, "Time-series observations" (TSOVISIT).
    """
    meta = model.meta
    tso = bool(getattr(meta.visit, "tsovisit", False))
    tso = tso or (meta.exposure.type or "").lower() in _TSO_EXP_TYPES
    nints = meta.exposure.nints
    if nints is not None and nints < 2:
        tso = False
    return tso


class SourceTypeStep(Step):
    """Decide whether the source is a point or extended one (official alias ``srctype``).

    For single-source modes (MIRI LRS and MRS, NIRCam time-series grism, NIRISS SOSS,
    NIRSpec fixed slit, bright object and IFU) SRCTYPE follows
    :func:`webbcal.srctype.decide_source_type`: the ``source_type`` parameter, else
    EXTENDED for background targets, else POINT for time series, else SRCTYAPT, else POINT
    for nodded dithers, else the mode's default. SRCTYAPT keeps the proposer's value
    (filled from SRCTYPE when absent). Other time series are POINT; other modes UNKNOWN.
    Slit models get the value on the slit too. NIRSpec MOS (stellarity) and WFSS
    (``is_extended``) decide per source and are not implemented: the step is skipped for
    them with a message.

    References
    ----------
    JWST pipeline documentation, ``srctype`` step.
    """

    class_alias = "srctype"
    cal_step_name = "srctype"
    spec = (
        Param("source_type", str, None, "User-supplied source type",
              choices=("POINT", "EXTENDED"), allow_none=True),
    )  # fmt: skip

    def process(self, model):
        from stdatamodels.jwst import datamodels as dm

        from ..stpipe import StepSkipped
        from .decide import SINGLE_SOURCE_EXP_TYPES, decide_source_type

        exp_type = (model.meta.exposure.type or "").upper()
        if not exp_type:
            raise ValueError(
                f"{model.meta.filename or 'input'}: EXP_TYPE is missing; srctype cannot decide "
                "the source type without it"
            )
        log.info("Input EXP_TYPE is %s", exp_type)
        target = model.meta.target
        if exp_type in SINGLE_SOURCE_EXP_TYPES:
            apt = target.source_type_apt
            log.info("Input SRCTYAPT = %s", apt)
            if apt is None:
                log.warning("SRCTYAPT keyword not found in input; using SRCTYPE instead")
                apt = target.source_type
                target.source_type_apt = apt
            pattern = (model.meta.dither.optimized_for if exp_type == "MIR_MRS"
                       else model.meta.dither.primary_type)  # fmt: skip
            src, why = decide_source_type(
                exp_type, user_choice=self.source_type, apt_type=apt,
                background_target=bool(model.meta.observation.bkgdtarg),
                tso=is_time_series(model), pattern_type=pattern,
            )  # fmt: skip
            log.info("SRCTYPE = %s (%s)", src, why)
        elif exp_type in ("NRS_MSASPEC", "NIS_WFSS", "NRC_WFSS", "MIR_WFSS"):
            raise StepSkipped(f"per-source types of EXP_TYPE={exp_type} are not implemented")
        elif is_time_series(model):
            src = "POINT"
            log.info("Input is a TSO exposure; setting default SRCTYPE = %s", src)
        else:
            src = "UNKNOWN"
            log.warning("EXP_TYPE %s not applicable to this operation; SRCTYPE = UNKNOWN",
                        exp_type)  # fmt: skip
        target.source_type = src
        if isinstance(model, dm.SlitModel):
            model.source_type = src
        elif isinstance(model, dm.MultiSlitModel):
            for slit in model.slits:
                slit.source_type = src
        return model
