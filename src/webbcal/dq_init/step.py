"""The ``dq_init`` step adapter."""

import logging

import numpy as np
from astropy.io import fits

from ..datamodels import to_ramp_model
from ..lib.reffiles import load_reference, reference_array
from ..stpipe import Param, Step
from ..stpipe.blocks import BlockStage, own_array, run_block_stage

__all__ = ["DQInitStep"]

log = logging.getLogger(__name__)


class DQInitStep(Step):
    """Initialise PIXELDQ/GROUPDQ from the MASK reference (official alias ``dq_init``)."""

    class_alias = "dq_init"
    cal_step_name = "dq_init"
    reference_file_types = ("mask",)
    spec = (
        Param("user_supplied_dq", str, None, "FITS file of extra DQ flags to add",
              allow_none=True),
    )  # fmt: skip

    def process(self, model):
        return run_block_stage(self, to_ramp_model(model))

    def block_stage(self, ctx):
        """OR the MASK reference DQ (and ``user_supplied_dq``) into the pixel DQ.

        Pixel-local, no halo; DO_NOT_USE mask pixels also flag every group.
        """
        from stdatamodels.jwst.datamodels import MaskModel

        from .init import initialize_dq

        path = self.get_reference_file(ctx.model, "mask")
        log.info("Using MASK reference file %s", path)
        mask = load_reference(path, MaskModel, ctx.model, fast=True)
        mask_dq = own_array(reference_array(mask, "dq", ctx.geometry))
        user_dq = None
        if self.user_supplied_dq is not None:
            user_dq = fits.getdata(self.user_supplied_dq)

        def apply(b):
            udq = None if user_dq is None else b.ref(user_dq)
            b.pixeldq, b.groupdq = initialize_dq(b.pixeldq, b.groupdq, b.ref(mask_dq), user_dq=udq)

        dq_or = np.asarray(mask_dq, dtype=np.uint32)
        if user_dq is not None:
            dq_or = dq_or | np.asarray(user_dq, dtype=np.uint32)
        return BlockStage(apply, dq_or=dq_or)
