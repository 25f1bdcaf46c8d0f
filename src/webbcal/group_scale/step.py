"""The ``group_scale`` step adapter."""

import logging

from ..stpipe import Step, StepSkipped

__all__ = ["GroupScaleStep"]

log = logging.getLogger(__name__)


class GroupScaleStep(Step):
    """Rescale group data when FRMDIVSR differs from NFRAMES (official alias ``group_scale``)."""

    class_alias = "group_scale"
    cal_step_name = "group_scale"

    def process(self, model):
        from .scale import scale_groups

        nframes = model.meta.exposure.nframes
        frmdivsr = model.meta.exposure.frame_divisor
        if frmdivsr is None or nframes is None or frmdivsr == nframes:
            log.info("NFRAMES=%s and FRMDIVSR=%s: no rescaling needed", nframes, frmdivsr)
            raise StepSkipped("FRMDIVSR equals NFRAMES or is absent")
        log.info("Rescaling all groups by %d/%d", frmdivsr, nframes)
        model.data = scale_groups(model.data, frmdivsr=int(frmdivsr), nframes=int(nframes))
        return model
