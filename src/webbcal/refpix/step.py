"""The ``refpix`` step adapter."""

import logging

from ..stpipe import Step
from ..stpipe.blocks import run_block_stage
from ..stpipe.params import dataclass_from_parameters, dataclass_params
from .params import RefPixParameters

__all__ = ["RefPixStep"]

log = logging.getLogger(__name__)


class RefPixStep(Step):
    """Subtract reference-pixel drifts per amplifier (official alias ``refpix``).

    References
    ----------
    JWST pipeline documentation, "refpix" step (reference-pixel correction of the
    near-infrared SIDECAR readout).
    """

    class_alias = "refpix"
    cal_step_name = "refpix"
    reference_file_types = ("refpix", "sirskernel")
    optional_reference_types = ("refpix", "sirskernel")
    spec = dataclass_params(RefPixParameters)

    def _resolve_references(self, model):
        # The refpix and sirskernel references are only used for NIRSpec IRS2 and the
        # SIRS algorithm, neither of which webbcal implements yet: no lookup is needed.
        self._references_used.clear()

    def required_reference_types(self):
        return ()

    def block_stage(self, ctx):
        """Subtract the reference-pixel terms computed in a first pass over the
        reference pixels (:mod:`webbcal.refpix._stage`).

        Raises
        ------
        StepSkipped
            For a MIRI subarray; a first pass may also skip the step.
        """
        from ._stage import miri_refpix_stage, nir_refpix_stage

        if (ctx.model.meta.instrument.name or "").upper() == "MIRI":
            return miri_refpix_stage(self, ctx)
        params = dataclass_from_parameters(RefPixParameters, self.get_parameters())
        return nir_refpix_stage(self, ctx, params)

    def process(self, model):
        return run_block_stage(self, model)
