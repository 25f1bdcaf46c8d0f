"""The ``firstframe`` step adapter."""

import logging

import numpy as np

from ..stpipe import Param, Step, StepSkipped
from ..stpipe.blocks import BlockStage, run_block_stage

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
        return run_block_stage(self, model)

    def block_stage(self, ctx):
        """Flag the first group DO_NOT_USE, except (``bright_use_group1``) in pixels
        whose third group is saturated, which get FLUX_ESTIMATED (pixel-local).

        FLUX_ESTIMATED goes to pixels bright in any integration; the number of
        such usable pixels is logged once for the whole array.

        Raises
        ------
        StepSkipped
            For a detector other than MIRI's, or too few groups.
        """
        from ..dqflags import DO_NOT_USE, SATURATED
        from .flagging import FLUX_ESTIMATED, MIN_GROUPS, flag_first_group

        log.warning(
            "The firstframe step is deprecated in the official pipeline (first-group "
            "flagging is part of rscd)"
        )
        detector = (ctx.model.meta.instrument.detector or "").upper()
        if not detector.startswith("MIR"):
            raise StepSkipped(f"the first-frame correction is for MIRI only (DETECTOR={detector})")
        if ctx.ngroups <= MIN_GROUPS:
            raise StepSkipped(f"too few groups ({ctx.ngroups}) to flag the first one")
        bright = bool(self.bright_use_group1)
        kept_mask = ctx.pixel_mask()
        finish = None
        if bright:
            ctx.any_integration_flags |= FLUX_ESTIMATED

            def finish():
                n_kept = int(np.count_nonzero(kept_mask))
                log.info("Usable bright pixels whose first group is kept: %d", n_kept)

        # Group 1 is DO_NOT_USE everywhere unless some pixel is bright (the driver checks
        # the jump regime this predicts).
        ctx.dnu_groups[:, 0] = True

        def apply(b):
            if bright and b.count is not None:
                # The pixels the kernel counts: kept somewhere, not DO_NOT_USE.
                kept = np.any((b.groupdq[:, 2] & SATURATED) != 0, axis=0)
                kept &= (b.pixeldq & DO_NOT_USE) == 0
                kept_mask[b.counted_rows()] |= kept[b.count]
            b.groupdq, b.pixeldq, _ = flag_first_group(
                b.groupdq, b.pixeldq, bright_use_group1=bright
            )

        return BlockStage(apply, finish=finish)
