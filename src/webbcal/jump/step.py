"""The ``jump`` step adapter."""

import logging
import time
import warnings

import numpy as np

from .. import dqflags
from ..stpipe import Param, Step, StepSkipped
from ..stpipe.blocks import run_block_stage
from ..stpipe.params import dataclass_from_parameters, dataclass_params
from .params import JumpParameters

__all__ = ["JumpStep"]

log = logging.getLogger(__name__)

_DNU = np.uint8(dqflags.DO_NOT_USE)
_JUMP = np.uint8(dqflags.JUMP_DET)

#: The runtime option of the official step, not an algorithm parameter.
_MAXIMUM_CORES = Param("maximum_cores", str, "1",
                       "Cores to use: an integer, 'quarter', 'half' or 'all'")  # fmt: skip
_ALGORITHM = dataclass_params(JumpParameters)
#: The algorithm parameters are declared once, by the kernel's JumpParameters; the
#: official order puts maximum_cores after the three thresholds.
_SPEC = (*_ALGORITHM[:3], _MAXIMUM_CORES, *_ALGORITHM[3:])


class JumpStep(Step):
    """Flag cosmic-ray jumps with two-point differences (official alias ``jump``).

    With ``expand_large_events`` the near-infrared snowballs are flagged, and with
    ``find_showers`` the MIRI cosmic-ray showers (faint extended emission), after
    the two-point detection (:mod:`webbcal.jump.large_events`).

    Notes
    -----
    ``max_shower_amplitude`` is honoured, in DN/s as documented: shower flags
    that change a pixel's mean rate by more than ``max_shower_amplitude *
    group_time * gain`` electrons per group are reverted. The official step
    (jwst 3.0, stcal 1.20) declares the parameter but never reads it and
    reverts above a fixed 6 * group_time electrons per group instead; set
    ``max_shower_amplitude = 6 / gain`` to reproduce it on a detector of
    uniform gain.

    References
    ----------
    Anderson & Gordon 2011, PASP 123, 1237; JWST pipeline documentation, "jump".
    """

    class_alias = "jump"
    cal_step_name = "jump"
    reference_file_types = ("gain", "readnoise")
    spec = _SPEC

    def process(self, model):
        return run_block_stage(self, model)

    def block_stage(self, ctx):
        """Two-point jump detection on blocks holding every integration of their rows.

        Streamed, the regime (groups DO_NOT_USE in every pixel) is predicted from
        what the stages before flag everywhere (``ctx.dnu_groups``) and checked at
        the end, as is the absence of planes sigma clipping flags entirely; the
        median gain is that of the whole array. Halo: one row (neighbour
        flagging). On the whole array (the step run on its own) the kernel
        chooses the regime from the ramp, un-flags entirely flagged planes
        itself, and snowball and shower flagging run after it.

        Raises
        ------
        StepSkipped
            For too few groups (or usable groups).
        NotStreamable
            Streamed, with snowball or shower flagging, or (at the end) when a
            prediction failed.
        """
        from ..jump._postflag import planes_all_set
        from ..stpipe.blocks import BlockStage, NotStreamable
        from .differences import choose_mode
        from .twopoint import after_jump_groups, detect_jumps

        nints, ngroups = ctx.nints, ctx.ngroups
        self.check_enough_groups(nints, ngroups)
        params = dataclass_from_parameters(JumpParameters, self.get_parameters())
        streaming = ctx.streaming
        if streaming and (params.expand_large_events or params.find_showers):
            raise NotStreamable("snowball or shower flagging needs whole frames")
        gain, readnoise = ctx.gain_readnoise(self)
        exp = ctx.model.meta.exposure
        mode = None  # on the whole array: chosen by the kernel
        if streaming:
            predicted = np.zeros((nints, ngroups, 1, 1), dtype=np.uint8)
            predicted[ctx.dnu_groups] = _DNU
            mode, _ = choose_mode(predicted, params)
            if mode == "skipped":
                # More groups DO_NOT_USE everywhere than predicted leave fewer usable.
                raise StepSkipped(f"too few groups ({ngroups}) for jump detection")
        median_gain = None  # of the whole array, for the after-jump thresholds only
        group_time = float(exp.group_time or 0.0)  # not positive: detect_jumps says so
        if group_time > 0 and any(after_jump_groups(params, group_time)):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                median_gain = float(np.nanmedian(gain))
        all_dnu = np.ones((nints, ngroups), dtype=bool)
        all_flagged = np.ones((nints, ngroups), dtype=bool)
        counts = [0, 0]  # primary jumps, snowballs or showers

        def apply(b):
            inner = b.count
            if streaming:
                # DO_NOT_USE planes over the whole array decide the regime: accumulate them.
                planes_all_set(b.groupdq, inner, _DNU, all_dnu)
            start = time.monotonic()
            res = detect_jumps(
                b.data, b.groupdq, b.pixeldq, b.ref(gain), b.ref(readnoise),
                nframes=int(exp.nframes), frame_time=float(exp.frame_time),
                group_time=float(exp.group_time), params=params, mode=mode,
                median_gain=median_gain, clear_planes=not streaming, count_rows=inner,
                verbose=not streaming,
            )  # fmt: skip
            if res.skipped:
                raise StepSkipped(f"too few groups ({ngroups}) for jump detection")
            b.groupdq, b.pixeldq = res.groupdq, res.pixeldq
            counts[0] += res.n_jumps
            counts[1] += res.n_extended
            if streaming:
                planes_all_set(res.groupdq, inner, _JUMP | _DNU, all_flagged)
            else:
                planes_all_set(res.groupdq, inner, _DNU, all_dnu)
                log.info("Total elapsed time = %.3f s", time.monotonic() - start)

        def finish():
            if streaming:
                _check_prediction(all_dnu, all_flagged, mode, params)
                log.info("Two-point detection (%s): %d jumps", mode, counts[0])
            npix = ctx.geometry.xsize * ctx.geometry.ysize
            record_jump_rates(exp, all_dnu, npix, counts[0], counts[1])

        halo = 1 if params.flag_4_neighbors else 0
        return BlockStage(apply, halo=halo, all_integrations=True, finish=finish)

    def check_enough_groups(self, nints: int, ngroups: int) -> None:
        """Skip (StepSkipped) a ramp too short for jump detection, as the official step does."""
        if ngroups < 3 or (
            ngroups < self.minimum_groups and nints * (ngroups - 1) < self.minimum_sigclip_groups
        ):
            log.warning(
                "Jump detection needs at least %d groups; this exposure has %d",
                self.minimum_groups, ngroups,
            )  # fmt: skip
            raise StepSkipped(f"too few groups ({ngroups}) for jump detection")


def _check_prediction(all_dnu, all_flagged, mode: str, params) -> None:
    """Check, after the last block, the regime predicted for a streamed run.

    Raises
    ------
    NotStreamable
        If the groups DO_NOT_USE everywhere give another regime, or sigma clipping
        flagged a whole group (which the whole-array kernel un-flags).
    """
    from ..stpipe.blocks import NotStreamable
    from .differences import choose_mode

    gdq = np.where(all_dnu, _DNU, np.uint8(0)).astype(np.uint8)[:, :, None, None]
    actual, _ = choose_mode(gdq, params)
    if actual != mode:
        raise NotStreamable(
            f"jump detection regime {actual!r} (groups DO_NOT_USE everywhere) differs "
            f"from the predicted {mode!r}"
        )
    if mode == "sigma_clip" and all_flagged.any():
        raise NotStreamable("sigma clipping flagged a whole group, which must be un-flagged")


def record_jump_rates(exposure, all_dnu, npix: int, n_jumps: int, n_extended: int) -> None:
    """Set PRIMECRS (jumps per 1e3 pixels per s) and EXTNCRS (events per 1e6 pixels per s).

    The exposure time counts every group that is not ``DO_NOT_USE`` in all
    pixels, less one group per integration (the first read of a ramp has no
    difference): ``nints * ngroups - n_all_dnu - nints`` groups.

    Parameters
    ----------
    exposure : meta.exposure node
        Where the rates are recorded (GROUP_TIME is read from it).
    all_dnu : ndarray, shape (nints, ngroups), bool
        Groups that are DO_NOT_USE in every pixel.
    npix : int
        Pixels of the (sub)array.
    n_jumps, n_extended : int
        Primary jumps and snowballs/showers flagged.
    """
    nints, ngroups = np.shape(all_dnu)
    n_groups = nints * ngroups - int(np.count_nonzero(all_dnu)) - nints
    if n_groups >= 1 and npix > 0:
        duration = float(exposure.group_time) * n_groups
        exposure.primary_cosmic_rays = 1000.0 * n_jumps / (npix * duration)
        exposure.extended_emission_events = 1.0e6 * n_extended / (npix * duration)
