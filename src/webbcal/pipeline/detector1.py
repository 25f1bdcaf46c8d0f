"""calwebb_detector1: raw ramps (``_uncal``) to count-rate images (``_rate``, ``_rateints``).

References
----------
JWST pipeline documentation, "calwebb_detector1: Stage 1 Detector Processing";
JDox "Stages of JWST Data Processing". Near-infrared order: group_scale,
dq_init, saturation, ipc, superbias, refpix, linearity, dark_current, then
charge_migration, jump, ramp_fit, gain_scale.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from dataclasses import dataclass
from functools import partial
from typing import Any

from ..charge_migration import ChargeMigrationStep
from ..clean_flicker_noise import CleanFlickerNoiseStep
from ..dark_current import DarkCurrentStep
from ..datamodels import open_ramp_input, to_ramp_model
from ..dq_init import DQInitStep
from ..emicorr import EmiCorrStep
from ..firstframe import FirstFrameStep
from ..gain_scale import GainScaleStep
from ..group_scale import GroupScaleStep
from ..ipc import IPCStep
from ..jump import JumpStep
from ..lastframe import LastFrameStep
from ..lib import progress
from ..linearity import LinearityStep
from ..persistence import PersistenceStep
from ..picture_frame import PictureFrameStep
from ..ramp_fitting import RampFitStep
from ..refpix import RefPixStep
from ..reset import ResetStep
from ..rscd import RscdStep
from ..saturation import SaturationStep
from ..stpipe import Param, Pipeline
from ..superbias import SuperBiasStep

__all__ = ["Detector1Pipeline", "Detector1Products"]

log = logging.getLogger(__name__)

#: Near-infrared order of the steps that work on the ramp.
RAMP_STEPS = (
    "group_scale", "dq_init", "saturation", "ipc", "superbias", "refpix", "linearity",
    "dark_current", "charge_migration", "jump", "picture_frame", "clean_flicker_noise",
    "persistence",
)  # fmt: skip
#: MIRI order: its own corrections, and refpix after dark_current.
MIRI_RAMP_STEPS = (
    "group_scale", "dq_init", "emicorr", "saturation", "ipc", "firstframe", "lastframe",
    "reset", "linearity", "rscd", "dark_current", "refpix", "charge_migration", "jump",
    "picture_frame", "clean_flicker_noise", "persistence",
)  # fmt: skip
RATE_STEPS = ("ramp_fit", "gain_scale")
#: Ramp steps that need the whole exposure at once (a draft rate of the full frame): when
#: one of them runs, every ramp step runs step by step.
WHOLE_EXPOSURE_STEPS = ("picture_frame",)


@dataclass(frozen=True)
class Detector1Products:
    """What calwebb_detector1 makes of one exposure.

    Attributes
    ----------
    rate : ImageModel or RampModel
        The ``_rate`` product (the calibrated ramp when ramp_fit is skipped).
    rateints : CubeModel or None
        The ``_rateints`` product, or None when it was written straight from
        disk (``save_results`` while streaming) or not made.
    """

    rate: Any
    rateints: Any


class Detector1Pipeline(Pipeline):
    """Stage-1 detector processing of near-infrared exposures (alias ``calwebb_detector1``).

    Input is a Level 1b ``_uncal`` product (SCI uint16, shape (nints, ngroups,
    ny, nx), DN) or a ``_ramp`` product. The result is the ``_rate`` ImageModel
    (DN/s, with ERR, DQ, VAR_POISSON, VAR_RNOISE); the ``_rateints`` CubeModel
    (one plane per integration) is saved beside it, and the calibrated ramp as
    ``_ramp`` when ``save_calibrated_ramp`` is set.
    """

    class_alias = "calwebb_detector1"
    # Imported while an exposure runs (listed from sys.modules after a full-frame NIRCam
    # exposure); a batch imports them before its workers' first exposure. Not the ramp
    # fit's kernels: loading them from numba's cache starts its threads (no fork after).
    batch_warm_modules = (
        "webbcal.crds_client", "webbcal.lib.rawio", "webbcal.lib.reffits",
        "webbcal.lib.refsection", "webbcal.lib.fitsstream", "webbcal.lib._dq_translate",
        "webbcal.lib.hugepages", "webbcal.stpipe.naming", "webbcal.stpipe.references",
        "webbcal.pipeline.streaming", "webbcal.guider_cds", "webbcal.group_scale.scale",
        "webbcal.dq_init.init", "webbcal.saturation.flagging", "webbcal.ipc.kernel",
        "webbcal.superbias.subtract", "webbcal.refpix.nir", "webbcal.refpix._stage",
        "webbcal.refpix._apply_terms", "webbcal.refpix._clip_kernel",
        "webbcal.linearity.correct", "webbcal.dark_current.subtract", "webbcal.jump.differences",
        "webbcal.jump.twopoint", "webbcal.jump.large_events", "webbcal.jump._detect_kernel",
        "webbcal.jump._postflag", "webbcal.gain_scale.scale",
    )  # fmt: skip
    batch_warm_models = (
        "Level1bModel", "RampModel", "ImageModel", "CubeModel", "MaskModel", "SaturationModel",
        "SuperBiasModel", "IPCModel", "LinearityModel", "GainModel", "ReadnoiseModel",
    )  # fmt: skip
    spec = (
        Param("save_calibrated_ramp", bool, False, "Save the calibrated ramp as _ramp"),
        Param("progress", bool, True, "Show progress on a terminal (never when not a TTY)"),
        Param("streaming", bool, True,
              "Stream the raw ramp by blocks of rows when no intermediate product is saved"),
        Param("memory_limit", str, "1.4GB",
              "Target peak memory of the streaming execution (e.g. 1.4GB, 800MB)"),
    )  # fmt: skip
    # The official order of the aliases (parameter files, --help); the order in
    # which steps run is active_steps().
    step_defs = {
        "group_scale": GroupScaleStep,
        "dq_init": DQInitStep,
        "emicorr": EmiCorrStep,
        "saturation": SaturationStep,
        "ipc": IPCStep,
        "superbias": SuperBiasStep,
        "refpix": RefPixStep,
        "rscd": RscdStep,
        "firstframe": FirstFrameStep,
        "lastframe": LastFrameStep,
        "linearity": LinearityStep,
        "dark_current": DarkCurrentStep,
        "reset": ResetStep,
        "persistence": PersistenceStep,
        "charge_migration": ChargeMigrationStep,
        "jump": JumpStep,
        "picture_frame": PictureFrameStep,
        "clean_flicker_noise": CleanFlickerNoiseStep,
        "ramp_fit": RampFitStep,
        "gain_scale": GainScaleStep,
    }

    @classmethod
    def open_input(cls, path: str) -> Any:
        """Open and check a stage-1 input (``_uncal`` or ``_ramp``).

        A raw ``_uncal`` exposure is opened without reading its SCI array (the
        streaming execution reads it by blocks; otherwise it is read in
        :meth:`process`).
        """
        from ..lib.rawio import NotStreamableError, attach_raw, open_lazy_ramp_input

        try:
            model, raw = open_lazy_ramp_input(path)
        except NotStreamableError:
            model = open_ramp_input(path)
            _refuse_guider(model, path)
            return model
        _refuse_guider(model, path)
        attach_raw(model, raw)
        return model

    @classmethod
    def open_for_planning(cls, path: str) -> Any:
        """The input as a run opens it (:meth:`open_input`): a raw exposure's ramps
        stay on disk, and the header checks of a run fail the exposure already
        when a batch plans it, with the same message."""
        return cls.open_input(path)

    @property
    def output_suffix(self) -> str:
        return self.suffix or "rate"

    def active_steps(self, model: Any) -> list[str]:
        """The near-infrared or the MIRI branch, chosen from INSTRUME."""
        _refuse_guider(model)
        ramp_steps = MIRI_RAMP_STEPS if _is_miri(model) else RAMP_STEPS
        return [*ramp_steps, *RATE_STEPS]

    def process(self, model: Any) -> Any:
        """Calibrate ``model``; the ``_rate`` product (see :meth:`calibrate`)."""
        return self.calibrate(model).rate

    def calibrate(self, model: Any) -> Detector1Products:
        """Run the stage-1 steps on ``model`` (an ``_uncal`` or ``_ramp`` product).

        Returns
        -------
        Detector1Products
            ``rate`` (or the calibrated ramp when ramp_fit is skipped) and
            ``rateints`` (None when it was written from disk or not made).
        """
        return self._process(model)

    def _process(self, model: Any) -> Detector1Products:
        from ..lib.rawio import raw_of

        if self.save_results:
            from ..lib.spill import prepare_output_directory

            # Before any work: an unwritable output directory is named as such, and
            # scratch folders of killed runs there are removed.
            prepare_output_directory(os.path.dirname(os.path.abspath(self.product_path(model))))
        raw = raw_of(model)
        ramp_steps = [a for a in self.active_steps(model) if a not in RATE_STEPS]
        if _is_miri(model):
            log.info("MIRI exposure: running the MIRI branch of calwebb_detector1")
        if raw is not None:
            fitted = self._try_streaming(model, raw, ramp_steps)
            if fitted is not None:
                return self._finish(*fitted)
            from ..lib.rawio import materialize

            model = materialize(model, raw)
        model = open_ramp_input(model)
        ramp = to_ramp_model(model)
        total = len(ramp_steps) + 2
        for n, alias in enumerate(ramp_steps, start=1):
            self._progress(n, total, alias)
            with progress.reporting(partial(self._progress, n, total, alias)):
                ramp = self.step(alias).run(ramp)
        if self.save_calibrated_ramp:
            self.save_model(ramp, suffix="ramp")
        self._progress(total - 1, total, "ramp_fit")
        fitted = self.step("ramp_fit").run(ramp)
        if not isinstance(fitted, tuple):
            # ramp_fit was skipped: nothing more can be made.
            log.warning("ramp_fit was skipped; the result is the calibrated ramp")
            return Detector1Products(fitted, None)
        return self._finish(*fitted, total=total)

    def _finish(self, rate: Any, rateints: Any, total: int | None = None) -> Detector1Products:
        total = total or len(self.active_steps(rate))
        self._progress(total, total, "gain_scale")
        rate = self.step("gain_scale").run(rate)
        from .streaming import SpilledRateints

        if isinstance(rateints, SpilledRateints):
            # Streamed from disk into the product: never whole in memory.
            spilled, rateints = rateints, None
            try:
                template = self._gain_scale_like(rate, spilled.template)
                self._store_logs(template)
                path = self.product_path(template, suffix="rateints")
                spilled.write_product(template, path)
                self.record_output(path)
            finally:
                spilled.close()
        elif rateints is not None:
            rateints = self._gain_scale_like(rate, rateints)
            if self.save_results:
                self._store_logs(rateints)
                self.save_model(rateints, suffix="rateints")
        self._progress_done()
        return Detector1Products(rate, rateints)

    def _gain_scale_like(self, rate: Any, product: Any) -> Any:
        """Give ``product`` (``_rateints``) the gain scaling the gain_scale step gave
        ``rate``: the same factor, status and reference keywords (logged once, for rate)."""
        step = self.step("gain_scale")
        status = getattr(rate.meta.cal_step, "gain_scale", None)
        if status == "COMPLETE":
            step.apply_factor(product, rate.meta.exposure.gain_factor)
            step.finalize_result(product)
        if status is not None:
            product.meta.cal_step.gain_scale = status
        return product

    def _copy_input(self, model: Any) -> Any:
        from ..lib.rawio import attach_raw, raw_of

        copy = model.copy()
        raw = raw_of(model)
        if raw is not None:
            attach_raw(copy, raw)
        return copy

    def _try_streaming(self, model: Any, raw: Any, ramp_steps: list[str]) -> Any:
        """Run the streaming executor; None when the step-by-step path is needed."""
        from .streaming import NotStreamable, parse_memory, run_streaming

        if not self.streaming:
            return None
        if self.save_calibrated_ramp:
            log.info("Step-by-step execution: the calibrated ramp is saved")
            return None
        whole = [a for a in WHOLE_EXPOSURE_STEPS if a in ramp_steps and not self.step(a).skip]
        if whole:
            log.info("Step-by-step execution: step %s needs the whole exposure", whole[0])
            return None
        try:
            limit = parse_memory(self.memory_limit)
        except ValueError as exc:
            from ..stpipe import ParameterError

            raise ParameterError(str(exc)) from None
        try:
            return run_streaming(
                self, model, raw, [self.step(a) for a in ramp_steps], self.step("ramp_fit"),
                limit, spill_rateints=bool(self.save_results),
                progress=partial(self._progress, 1, 2),
            )  # fmt: skip
        except NotStreamable as why:
            log.info("Step-by-step execution: %s", why)
            return None

    # ----------------------------------------------------------------- progress
    def _progress_enabled(self) -> bool:
        return bool(self.progress) and sys.stderr.isatty()

    def _progress(
        self,
        n: int,
        total: int,
        alias: str,
        done: int | None = None,
        nints: int | None = None,
        unit: str = "integration",
    ) -> None:
        if not self._progress_enabled():
            return
        if n == 1 and done is None:
            object.__setattr__(self, "_t0", time.monotonic())
        elapsed = time.monotonic() - self.__dict__.get("_t0", time.monotonic())
        ints = f"{unit} {done + 1}/{nints}" if done is not None and done < nints else ""
        sys.stderr.write(f"\r[{n:2d}/{total}] {alias:<18s} {ints:<18s} {elapsed:6.1f} s ")
        sys.stderr.flush()

    def _progress_done(self) -> None:
        if self._progress_enabled():
            sys.stderr.write("\n")
            sys.stderr.flush()


def _refuse_guider(model: Any, name: str | None = None) -> None:
    """Raise InputError for an FGS guider exposure (calwebb_guider processes those)."""
    from ..guider_cds import GUIDER_EXP_TYPES

    meta = getattr(model, "meta", None)
    exp_type = str(getattr(getattr(meta, "exposure", None), "type", None) or "").upper()
    if exp_type not in GUIDER_EXP_TYPES:
        return
    from ..datamodels import InputError

    name = name or getattr(meta, "filename", None) or "<in-memory model>"
    raise InputError(
        f"{name}: EXP_TYPE={exp_type!r} is an FGS guider exposure, which calwebb_detector1 "
        "does not process (its steps have no guider references); use calwebb_guider, e.g. "
        f"'webbcal run calwebb_guider {name}'"
    )


def _is_miri(model: Any) -> bool:
    return (getattr(model.meta.instrument, "name", "") or "").upper() == "MIRI"
