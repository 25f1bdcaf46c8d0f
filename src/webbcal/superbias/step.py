"""The ``superbias`` step adapter."""

import logging

from ..lib.reffiles import NAN_MEANING, geometry_of, load_reference, reference_array
from ..stpipe import Step
from .subtract import subtract_superbias

__all__ = ["SuperBiasStep"]

log = logging.getLogger(__name__)


class SuperBiasStep(Step):
    """Subtract the SUPERBIAS reference from every group (official alias ``superbias``)."""

    class_alias = "superbias"
    cal_step_name = "superbias"
    reference_file_types = ("superbias",)

    def process(self, model):
        from stdatamodels.jwst.datamodels import SuperBiasModel

        path = self.get_reference_file(model, "superbias")
        log.info("Using SUPERBIAS reference file %s", path)
        ref = load_reference(path, SuperBiasModel, model)
        geom = geometry_of(model)
        bias = reference_array(
            ref, "data", geom, extname="SCI", nan_meaning=NAN_MEANING["superbias"]
        )
        bias_dq = reference_array(ref, "dq", geom)
        zf = model.zeroframe if _has_zeroframe(model) else None
        model.data, model.pixeldq, zf = subtract_superbias(
            model.data, model.pixeldq, bias, bias_dq, zeroframe=zf
        )
        if zf is not None:
            model.zeroframe = zf
        return model


def _has_zeroframe(model) -> bool:
    return (
        bool(model.meta.exposure.zero_frame)
        and model.zeroframe is not None
        and (model.zeroframe.ndim == 3)
    )
