"""The ``ipc`` step adapter."""

import logging
import os

from ..lib.reffiles import check_reference_values, geometry_of
from ..stpipe import Step

__all__ = ["IPCStep"]

log = logging.getLogger(__name__)


class IPCStep(Step):
    """Remove inter-pixel capacitance with the IPC kernel (official alias ``ipc``).

    References
    ----------
    JWST pipeline documentation, "ipc"; Moseley et al. 2010 (IPC deconvolution).
    """

    class_alias = "ipc"
    cal_step_name = "ipc"
    reference_file_types = ("ipc",)

    def process(self, model):
        from stdatamodels.jwst.datamodels import IPCModel

        from .kernel import apply_ipc

        ref = self.open_reference(model, "ipc", IPCModel)
        # A NaN in the kernel would spread to every pixel it touches: never allowed.
        name = os.path.basename(ref.meta.filename or "ipc reference")
        check_reference_values(ref.data, name, "SCI", allow_nan=False)
        model.data = apply_ipc(model.data, ref.data, geometry=geometry_of(model))
        return model
