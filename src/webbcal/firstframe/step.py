"""The ``firstframe`` step adapter."""

import logging

from ..stpipe import Param, Step, StepSkipped

__all__ = ["FirstFrameStep"]

log = logging.getLogger(__name__)


class FirstFrameStep(Step):
    """Flag the first group of MIRI integrations DO_NOT_USE (official alias ``firstframe``).

    Skipped by default, as in the official pipeline, where first-group flagging
    has moved into the ``rscd`` step.

    References
    ----------
    JWST pipeline documentation, "firstframe" step.
    """

    class_alias = "firstframe"
    cal_step_name = "firstframe"
    spec = (
        Param("bright_use_group1", bool, True,
              "Keep group 1 where group 3 is saturated (flag FLUX_ESTIMATED)"),
        Param("skip", bool, True, "Skip this step"),
    )  # fmt: skip

    def process(self, model):
        from .flagging import MIN_GROUPS, flag_first_group

        log.warning(
            "The firstframe step is deprecated in the official pipeline (first-group "
            "flagging is part of rscd)"
        )
        detector = (model.meta.instrument.detector or "").upper()
        if not detector.startswith("MIR"):
            raise StepSkipped(f"the first-frame correction is for MIRI only (DETECTOR={detector})")
        ngroups = model.data.shape[1]
        if ngroups <= MIN_GROUPS:
            raise StepSkipped(f"too few groups ({ngroups}) to flag the first one")
        model.groupdq, model.pixeldq, n_kept = flag_first_group(
            model.groupdq, model.pixeldq, bright_use_group1=self.bright_use_group1
        )
        if self.bright_use_group1:
            log.info("Usable bright pixels whose first group is kept: %d", n_kept)
        return model
