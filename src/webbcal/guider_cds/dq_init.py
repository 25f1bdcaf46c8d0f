"""The ``dq_init`` step for guider exposures: the MASK reference into the 2-D DQ array."""

from __future__ import annotations

import logging

import numpy as np
from astropy.io import fits

from ..lib.reffiles import geometry_of, reference_array
from ..stpipe import Param, Step

__all__ = ["GuiderDQInitStep"]

log = logging.getLogger(__name__)


class GuiderDQInitStep(Step):
    """Initialise the DQ array of a guider exposure from MASK (official alias ``dq_init``).

    Guider products (GuiderRawModel) have one 2-D ``dq`` array instead of PIXELDQ and
    GROUPDQ; the MASK flags, cut to the subarray, are OR-ed into it.

    References
    ----------
    JWST Science Calibration Pipeline documentation, "DQ Initialization" (guider data:
    the mask is copied to the DQ array).
    """

    class_alias = "dq_init"
    cal_step_name = "dq_init"
    reference_file_types = ("mask",)
    spec = (
        Param("user_supplied_dq", str, None, "FITS file of extra DQ flags to add",
              allow_none=True),
    )  # fmt: skip

    @classmethod
    def open_input(cls, path: str):
        """Open a raw guider exposure (GuiderRawModel)."""
        from .inputs import open_guider_input

        return open_guider_input(path)

    def process(self, model):
        from stdatamodels.jwst.datamodels import MaskModel

        from .inputs import open_guider_input

        model = open_guider_input(model)
        ref = self.open_reference(model, "mask", MaskModel)
        mask = np.asarray(reference_array(ref, "dq", geometry_of(model)), dtype=np.uint32)
        if self.user_supplied_dq is not None:
            user = np.asarray(fits.getdata(self.user_supplied_dq))
            if user.shape != mask.shape:
                raise ValueError(
                    f"user_supplied_dq={self.user_supplied_dq!r} has shape {user.shape}; "
                    f"expected {mask.shape}"
                )
            mask = mask | user.astype(np.uint32)
        dq = model.dq
        if dq is None or np.shape(dq) != mask.shape:
            log.warning("Setting input DQ to a zero array of shape %s", mask.shape)
            dq = np.zeros(mask.shape, dtype=np.uint32)
        model.dq = np.asarray(dq, dtype=np.uint32) | mask
        return model
