"""The ``dq_init`` step adapter."""

import logging

from astropy.io import fits

from ..datamodels import to_ramp_model
from ..lib.reffiles import geometry_of, load_reference, reference_array
from ..stpipe import Param, Step

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
        from stdatamodels.jwst.datamodels import MaskModel

        from .init import initialize_dq

        ramp = to_ramp_model(model)
        path = self.get_reference_file(ramp, "mask")
        log.info("Using MASK reference file %s", path)
        mask = load_reference(path, MaskModel, ramp)
        mask_dq = reference_array(mask, "dq", geometry_of(ramp))
        user_dq = None
        if self.user_supplied_dq is not None:
            user_dq = fits.getdata(self.user_supplied_dq)
        ramp.pixeldq, ramp.groupdq = initialize_dq(
            ramp.pixeldq, ramp.groupdq, mask_dq, user_dq=user_dq
        )
        return ramp
