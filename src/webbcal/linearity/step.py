"""The ``linearity`` step adapter."""

import logging

from ..lib.reffiles import NAN_MEANING, geometry_of, load_reference, reference_array
from ..stpipe import Step
from .correct import correct_linearity

__all__ = ["LinearityStep"]

log = logging.getLogger(__name__)


class LinearityStep(Step):
    """Correct the ramps for detector non-linearity (official alias ``linearity``)."""

    class_alias = "linearity"
    cal_step_name = "linearity"
    reference_file_types = ("linearity",)

    def process(self, model):
        from stdatamodels.jwst.datamodels import LinearityModel

        path = self.get_reference_file(model, "linearity")
        log.info("Using Linearity reference file %s", path)
        ref = load_reference(path, LinearityModel, model)
        geom = geometry_of(model)
        coeffs = reference_array(ref, "coeffs", geom, nan_meaning=NAN_MEANING["linearity"])
        lin_dq = reference_array(ref, "dq", geom)
        zf = None
        if model.meta.exposure.zero_frame and model.zeroframe is not None:
            zf = model.zeroframe if model.zeroframe.ndim == 3 else None
        model.data, model.pixeldq, zf = correct_linearity(
            model.data, model.groupdq, model.pixeldq, coeffs, lin_dq, zeroframe=zf
        )
        if zf is not None:
            model.zeroframe = zf
        return model
