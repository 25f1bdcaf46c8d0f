"""The ``refpix`` step adapter."""

import logging

from ..lib.reffiles import geometry_of
from ..stpipe import Param, Step, StepSkipped

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
    spec = (
        Param("odd_even_columns", bool, True,
              "Compute the reference signal separately for even and odd columns"),
        Param("use_side_ref_pixels", bool, True,
              "Use the side reference pixels for a per-row reference signal"),
        Param("side_smoothing_length", int, 11,
              "Median window height for smoothing the side reference signal", minimum=1,
              unit="rows"),
        Param("side_gain", float, 1.0,
              "Factor applied to the side reference signal before subtraction"),
        Param("odd_even_rows", bool, True,
              "Compute the reference signal separately for even and odd rows (MIRI)"),
        Param("ovr_corr_mitigation_ftr", float, 3.0,
              "Factor limiting over-correction by bad reference pixels (IRS2)"),
        Param("preserve_irs2_refpix", bool, False, "Keep interleaved reference pixels (IRS2)"),
        Param("irs2_mean_subtraction", bool, False, "Subtract a mean offset first (IRS2)"),
        Param("refpix_algorithm", str, "median", "Side-pixel algorithm for NIR full frames",
              choices=("median", "sirs")),
        Param("sigreject", float, 4.0, "Sigmas for outlier rejection (sirs)", minimum=0),
        Param("gaussmooth", float, 1.0, "Gaussian low-pass width (sirs)", minimum=0),
        Param("halfwidth", int, 30, "Half-width of the convolution kernel (sirs)", minimum=1),
        Param("siglimit", float, 3.0, "Sigma-clipping limit of the reference-pixel means",
              minimum=1e-6),
    )  # fmt: skip

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
        from .nir import RefPixParameters

        if (ctx.model.meta.instrument.name or "").upper() == "MIRI":
            return miri_refpix_stage(self, ctx)
        names = set(RefPixParameters.__dataclass_fields__)
        params = RefPixParameters(**{k: v for k, v in self.get_parameters().items() if k in names})
        return nir_refpix_stage(self, ctx, params)

    def process(self, model):
        from .nir import NRS_EDGELESS_SUBARRAYS, RefPixParameters, correct_refpix

        if (model.meta.instrument.name or "").upper() == "MIRI":
            return self._process_miri(model)
        names = set(RefPixParameters.__dataclass_fields__)
        params = RefPixParameters(**{k: v for k, v in self.get_parameters().items() if k in names})
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
