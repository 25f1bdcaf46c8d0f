"""The ``ipc`` step adapter."""

import logging

from ..lib.reffiles import geometry_of, load_reference
from ..stpipe import Step
from .kernel import apply_ipc

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

        path = self.get_reference_file(model, "ipc")
        log.info("Using IPC reference file %s", path)
        ref = load_reference(path, IPCModel, model)
        model.data = apply_ipc(model.data, ref.data, geometry=geometry_of(model))
        return model
