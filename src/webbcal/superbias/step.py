"""The ``superbias`` step adapter."""

import logging

import numpy as np

from ..lib.reffiles import NAN_MEANING, reference_array
from ..stpipe import Step
from ..stpipe.blocks import BlockStage, own_array, run_block_stage

__all__ = ["SuperBiasStep"]

log = logging.getLogger(__name__)


class SuperBiasStep(Step):
    """Subtract the SUPERBIAS reference from every group (official alias ``superbias``)."""

    class_alias = "superbias"
    cal_step_name = "superbias"
    reference_file_types = ("superbias",)

    def process(self, model):
        return run_block_stage(self, model)

    def block_stage(self, ctx):
        """Subtract the SUPERBIAS reference (and OR its DQ); pixel-local, no halo."""
        from stdatamodels.jwst.datamodels import SuperBiasModel

        from .subtract import subtract_superbias

        ref = self.open_reference(ctx.model, "superbias", SuperBiasModel, fast=True)
        bias = reference_array(ref, "data", ctx.geometry, extname="SCI",
                               nan_meaning=NAN_MEANING["superbias"])  # fmt: skip
        bias_dq = own_array(reference_array(ref, "dq", ctx.geometry))
        # The same file, cut the same way, may already be held (saturation reads it).
        path = self.get_reference_file(ctx.model, "superbias")
        bias = ctx.shared(("superbias", path), lambda: own_array(bias))
        del ref
        use_zf = ctx.uses_zeroframe()

        def apply(b):
            zf = b.zeroframe if use_zf else None
            b.data, b.pixeldq, zf = subtract_superbias(
                b.data, b.pixeldq, b.ref(bias), b.ref(bias_dq), zeroframe=zf
            )
            if zf is not None:
                b.zeroframe = zf

        return BlockStage(apply, dq_or=np.asarray(bias_dq, dtype=np.uint32))
