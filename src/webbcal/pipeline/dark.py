"""calwebb_dark: raw dark exposures (``_uncal``) to corrected ramps (``_dark``).

The detector corrections that precede dark subtraction in ``calwebb_detector1``,
applied to the raw exposures from which DARK reference files are built; the product is
the corrected 4-D ramp, not a count rate.

References
----------
JWST pipeline documentation, "calwebb_dark: Dark Processing". Near-infrared order:
group_scale, dq_init, saturation, ipc, superbias, refpix, linearity. MIRI order:
group_scale, dq_init, emicorr, saturation, ipc, firstframe, lastframe, reset,
linearity, rscd. Output: the corrected ramp (RampModel) with suffix ``_dark``.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from ..datamodels import open_ramp_input, to_ramp_model
from ..lib import progress
from ..stpipe import Param, Pipeline
from .detector1 import MIRI_RAMP_STEPS, RAMP_STEPS, Detector1Pipeline, _is_miri

__all__ = ["DarkPipeline", "calwebb_dark"]

log = logging.getLogger(__name__)

#: Near-infrared order: calwebb_detector1's ramp steps up to and including linearity.
DARK_STEPS = RAMP_STEPS[: RAMP_STEPS.index("linearity") + 1]
#: MIRI order: calwebb_detector1's MIRI ramp steps up to and including rscd.
MIRI_DARK_STEPS = MIRI_RAMP_STEPS[: MIRI_RAMP_STEPS.index("rscd") + 1]


class DarkPipeline(Pipeline):
    """Corrected ramps of dark exposures (alias ``calwebb_dark``).

    Input is a Level 1b ``_uncal`` product (SCI uint16, shape (nints, ngroups, ny,
    nx), DN) or a ``_ramp`` product. The branch is chosen from INSTRUME: MIRI
    exposures get the MIRI corrections (emicorr, firstframe, lastframe, reset, rscd)
    and no superbias or refpix. The result is the corrected ramp (RampModel: SCI
    float32 DN, PIXELDQ, GROUPDQ), saved with suffix ``_dark``.
    """

    class_alias = "calwebb_dark"
    spec = (Param("progress", bool, True, "Show progress on a terminal (never when not a TTY)"),)
    # The official order of the aliases (parameter files, --help); the order in
    # which steps run is active_steps().
    step_defs = {
        alias: Detector1Pipeline.step_defs[alias]
        for alias in ("group_scale", "dq_init", "emicorr", "saturation", "ipc", "superbias",
                      "refpix", "reset", "rscd", "firstframe", "lastframe", "linearity")
    }  # fmt: skip

    # calwebb_detector1's terminal progress line, shared rather than rewritten.
    _progress = Detector1Pipeline._progress
    _progress_done = Detector1Pipeline._progress_done
    _progress_enabled = Detector1Pipeline._progress_enabled

    @classmethod
    def open_input(cls, path: str) -> Any:
        """Open and check a stage-1 input (``_uncal`` or ``_ramp``)."""
        return open_ramp_input(path)

    @property
    def output_suffix(self) -> str:
        return self.suffix or "dark"

    def active_steps(self, model: Any) -> list[str]:
        """The near-infrared or the MIRI branch, chosen from INSTRUME."""
        return list(MIRI_DARK_STEPS if _is_miri(model) else DARK_STEPS)

    def process(self, model: Any) -> Any:
        log.info("Starting calwebb_dark ...")
        ramp = to_ramp_model(open_ramp_input(model))
        if _is_miri(ramp):
            log.info("MIRI exposure: running the MIRI branch of calwebb_dark")
        steps = self.active_steps(ramp)
        for n, alias in enumerate(steps, start=1):
            self._progress(n, len(steps), alias)
            with progress.reporting(partial(self._progress, n, len(steps), alias)):
                ramp = self.step(alias).run(ramp)
        self._progress_done()
        log.info("... ending calwebb_dark")
        return ramp


#: The official alias as a name (``from webbcal.pipeline.dark import calwebb_dark``).
calwebb_dark = DarkPipeline
