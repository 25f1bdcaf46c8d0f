"""The ``superbias`` step adapter."""

import logging

from ..lib.reffiles import NAN_MEANING, geometry_of, reference_array, zeroframe_of
from ..stpipe import Step

__all__ = ["SuperBiasStep"]

log = logging.getLogger(__name__)


class SuperBiasStep(Step):
    """Subtract the SUPERBIAS reference from every group (official alias ``superbias``)."""

    class_alias = "superbias"
    cal_step_name = "superbias"
    reference_file_types = ("superbias",)

    def process(self, model):
        from stdatamodels.jwst.datamodels import SuperBiasModel

        from .subtract import subtract_superbias

        ref = self.open_reference(model, "superbias", SuperBiasModel)
        geom = geometry_of(model)
        bias = reference_array(
            ref, "data", geom, extname="SCI", nan_meaning=NAN_MEANING["superbias"]
        )
        bias_dq = reference_array(ref, "dq", geom)
        model.data, model.pixeldq, zf = subtract_superbias(
            model.data, model.pixeldq, bias, bias_dq, zeroframe=zeroframe_of(model)
        )
        if zf is not None:
            model.zeroframe = zf
        return model
