"""The ``group_scale`` step adapter."""

import logging

from ..stpipe import Step, StepSkipped
from ..stpipe.blocks import BlockStage, run_block_stage

__all__ = ["GroupScaleStep"]

log = logging.getLogger(__name__)


class GroupScaleStep(Step):
    """Rescale group data when FRMDIVSR differs from NFRAMES (official alias ``group_scale``)."""

    class_alias = "group_scale"
    cal_step_name = "group_scale"

    def process(self, model):
        return run_block_stage(self, model)

    def block_stage(self, ctx):
        """Multiply every group by FRMDIVSR / NFRAMES (pixel-local, no halo).

        Raises
        ------
        StepSkipped
            If FRMDIVSR equals NFRAMES or either keyword is absent.
        """
        from .scale import scale_groups

        exp = ctx.model.meta.exposure
        nframes, frmdivsr = exp.nframes, exp.frame_divisor
        if frmdivsr is None or nframes is None or frmdivsr == nframes:
            log.info("NFRAMES=%s and FRMDIVSR=%s: no rescaling needed", nframes, frmdivsr)
            raise StepSkipped("FRMDIVSR equals NFRAMES or is absent")
        log.info("Rescaling all groups by %d/%d", frmdivsr, nframes)

        def apply(b):
            b.data = scale_groups(b.data, frmdivsr=int(frmdivsr), nframes=int(nframes))

        return BlockStage(apply)
