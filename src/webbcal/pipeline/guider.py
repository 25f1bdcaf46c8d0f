"""calwebb_guider: FGS guider exposures (``_uncal``) to calibrated count rates (``_cal``).

References
----------
JWST pipeline documentation, "calwebb_guider: Guide Star Processing": dq_init,
guider_cds, flat_field.
"""

from __future__ import annotations

import logging
from typing import Any

from ..flat_field import FlatFieldStep
from ..guider_cds import GuiderCdsStep, GuiderDQInitStep
from ..guider_cds.inputs import open_guider_input
from ..stpipe import Pipeline

__all__ = ["GuiderPipeline", "calwebb_guider"]

log = logging.getLogger(__name__)


class GuiderPipeline(Pipeline):
    """Guide-star processing of FGS guider exposures (alias ``calwebb_guider``).

    Input is a raw guider exposure (GuiderRawModel: SCI (nints, ngroups, ny, nx) DN,
    EXP_TYPE FGS_ACQ1, FGS_ACQ2, FGS_TRACK, FGS_FINEGUIDE, FGS_ID-IMAGE or
    FGS_ID-STACK), or a GuiderCalModel when ``dq_init`` and ``guider_cds`` are skipped.
    The result is the ``_cal`` GuiderCalModel (SCI, ERR in DN/s per integration, DQ).
    """

    class_alias = "calwebb_guider"
    step_defs = {
        "dq_init": GuiderDQInitStep,
        "guider_cds": GuiderCdsStep,
        "flat_field": FlatFieldStep,
    }

    @property
    def output_suffix(self) -> str:
        return self.suffix or "cal"

    @classmethod
    def open_input(cls, path: str) -> Any:
        """Open a raw guider exposure (checked: guider EXP_TYPE, at least 2 groups)."""
        return open_guider_input(path)

    def _calibrated_input(self) -> bool:
        return bool(self.step("dq_init").skip and self.step("guider_cds").skip)

    def _run_model(self, model: Any) -> Any:
        # Check the input before references are looked up for it.
        if not self.skip:
            model = open_guider_input(model, calibrated=self._calibrated_input())
        return super()._run_model(model)

    def process(self, model: Any) -> Any:
        log.info("Starting calwebb_guider ...")
        model = open_guider_input(model, calibrated=self._calibrated_input())
        for alias in self.active_steps(model):
            model = self.step(alias).run(model)
        log.info("... ending calwebb_guider")
        return model


#: The official alias as a name (``from webbcal.pipeline.guider import calwebb_guider``).
calwebb_guider = GuiderPipeline
