"""The ``lastframe`` step adapter."""

import logging

from ..stpipe import Step, StepSkipped

__all__ = ["LastFrameStep"]

log = logging.getLogger(__name__)


class LastFrameStep(Step):
    """Flag the final group of MIRI integrations DO_NOT_USE (official alias ``lastframe``).

    References
    ----------
    JWST pipeline documentation, "lastframe" step.
    """

    class_alias = "lastframe"
    cal_step_name = "lastframe"

    def process(self, model):
        from .flagging import MIN_GROUPS, flag_last_group

        detector = (model.meta.instrument.detector or "").upper()
        if not detector.startswith("MIR"):
            raise StepSkipped(f"the last-frame correction is for MIRI only (DETECTOR={detector})")
        ngroups = model.data.shape[1]
        if ngroups <= MIN_GROUPS:
            raise StepSkipped(f"too few groups ({ngroups}) to flag the last one")
        model.groupdq = flag_last_group(model.groupdq)
        return model
