"""The ``lastframe`` step adapter."""

import logging

from ..stpipe import Step, StepSkipped
from ..stpipe.blocks import BlockStage, run_block_stage

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
        return run_block_stage(self, model)

    def block_stage(self, ctx):
        """Flag the last group DO_NOT_USE (every pixel; pixel-local).

        Raises
        ------
        StepSkipped
            For a detector other than MIRI's, or too few groups.
        """
        from .flagging import MIN_GROUPS, flag_last_group

        detector = (ctx.model.meta.instrument.detector or "").upper()
        if not detector.startswith("MIR"):
            raise StepSkipped(f"the last-frame correction is for MIRI only (DETECTOR={detector})")
        if ctx.ngroups <= MIN_GROUPS:
            raise StepSkipped(f"too few groups ({ctx.ngroups}) to flag the last one")
        ctx.dnu_groups[:, -1] = True

        def apply(b):
            b.groupdq = flag_last_group(b.groupdq)

        return BlockStage(apply)
