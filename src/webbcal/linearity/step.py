"""The ``linearity`` step adapter."""

import logging

from ..lib.reffiles import NAN_MEANING, geometry_of, reference_array, zeroframe_of
from ..stpipe import Step

__all__ = ["LinearityStep"]

log = logging.getLogger(__name__)


class LinearityStep(Step):
    """Correct the ramps for detector non-linearity (official alias ``linearity``)."""

    class_alias = "linearity"
    cal_step_name = "linearity"
    reference_file_types = ("linearity",)

    def process(self, model):
        from stdatamodels.jwst.datamodels import LinearityModel

        from .correct import correct_linearity

        ref = self.open_reference(model, "linearity", LinearityModel)
        geom = geometry_of(model)
        coeffs = reference_array(ref, "coeffs", geom, nan_meaning=NAN_MEANING["linearity"])
        lin_dq = reference_array(ref, "dq", geom)
        model.data, model.pixeldq, zf = correct_linearity(
            model.data, model.groupdq, model.pixeldq, coeffs, lin_dq,
            zeroframe=zeroframe_of(model),
        )  # fmt: skip
        if zf is not None:
            model.zeroframe = zf
        return model
