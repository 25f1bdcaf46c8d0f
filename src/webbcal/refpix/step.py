"""The ``refpix`` step adapter."""

import logging

from ..lib.reffiles import geometry_of
from ..stpipe import Step, StepSkipped
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
        from .nir import NRS_EDGELESS_SUBARRAYS, correct_refpix

        if (model.meta.instrument.name or "").upper() == "MIRI":
            return self._process_miri(model)
        params = dataclass_from_parameters(RefPixParameters, self.get_parameters())
        sub = model.meta.subarray
        exp = model.meta.exposure
        zf = None
        if exp.zero_frame and model.zeroframe is not None and model.zeroframe.ndim == 3:
            zf = model.zeroframe
        result = correct_refpix(
            model.data, model.pixeldq, geometry=geometry_of(model),
            fastaxis=int(sub.fastaxis), slowaxis=int(sub.slowaxis),
            noutputs=int(exp.noutputs or 1), params=params, zeroframe=zf,
            edge_columns_as_reference=(sub.name or "").upper() in NRS_EDGELESS_SUBARRAYS,
        )  # fmt: skip
        if result.status != "COMPLETE":
            raise StepSkipped(result.reason)
        model.data = result.data
        if result.zeroframe is not None:
            model.zeroframe = result.zeroframe
        return model

    def _process_miri(self, model):
        """MIRI: left/right reference columns per amplifier (full frames only)."""
        from .miri import correct_miri_refpix

        if self.refpix_algorithm == "sirs":
            log.info("The SIRS algorithm does not apply to MIRI data; using the MIRI correction")
        result = correct_miri_refpix(
            model.data, model.pixeldq, odd_even_rows=self.odd_even_rows, siglimit=self.siglimit
        )
        if result.status != "COMPLETE":
            raise StepSkipped(result.reason)
        model.data = result.data
        return model
