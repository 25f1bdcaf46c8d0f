"""The ``jump`` step adapter."""

import logging
import time
import warnings

import numpy as np

from .. import dqflags
from ..lib.reffiles import gain_and_readnoise, geometry_of
from ..stpipe import Param, Step, StepSkipped

__all__ = ["JumpStep"]

log = logging.getLogger(__name__)

_DNU = np.uint8(dqflags.DO_NOT_USE)
_JUMP = np.uint8(dqflags.JUMP_DET)

_F, _I, _B = float, int, bool
_SPEC = (
    Param("rejection_threshold", _F, 4.0, "Jump sigma threshold", minimum=0, unit="sigma"),
    Param("three_group_rejection_threshold", _F, 6.0, "Threshold for 3-group ramps",
          minimum=0, unit="sigma"),
    Param("four_group_rejection_threshold", _F, 5.0, "Threshold for 4-group ramps",
          minimum=0, unit="sigma"),
    Param("maximum_cores", str, "1", "Cores to use: an integer, 'quarter', 'half' or 'all'"),
    Param("flag_4_neighbors", _B, True, "Flag the four perpendicular neighbours of each jump"),
    Param("max_jump_to_flag_neighbors", _F, 1000.0,
          "Largest jump significance that triggers neighbour flagging", minimum=0, unit="sigma"),
    Param("min_jump_to_flag_neighbors", _F, 10.0,
          "Smallest jump significance that triggers neighbour flagging", minimum=0, unit="sigma"),
    Param("after_jump_flag_dn1", _F, 0.0, "1st: jumps above this flag later groups",
          minimum=0, unit="DN"),
    Param("after_jump_flag_time1", _F, 0.0, "1st: time after a jump that is flagged",
          minimum=0, unit="s"),
    Param("after_jump_flag_dn2", _F, 0.0, "2nd: jumps above this flag later groups",
          minimum=0, unit="DN"),
    Param("after_jump_flag_time2", _F, 0.0, "2nd: time after a jump that is flagged",
          minimum=0, unit="s"),
    Param("expand_large_events", _B, False, "Flag snowballs (near-infrared large events)"),
    Param("min_sat_area", _F, 1.0, "Minimum area of a snowball's saturated core", minimum=0,
          unit="pixels"),
    Param("min_jump_area", _F, 5.0, "Minimum jump area that starts large-event processing",
          minimum=0, unit="pixels"),
    Param("expand_factor", _F, 2.0, "Expansion factor of the enclosing circle or ellipse",
          minimum=0),
    Param("use_ellipses", _B, False, "Deprecated; kept for parameter-file compatibility"),
    Param("sat_required_snowball", _B, True, "Require a saturated core for snowballs"),
    Param("min_sat_radius_extend", _F, 2.5, "Minimum core radius to extend the core",
          minimum=0, unit="pixels"),
    Param("sat_expand", _I, 2, "Pixels added to the radius of a snowball core", minimum=0,
          unit="pixels"),
    Param("edge_size", _I, 25, "Distance from the edge where no saturated core is required",
          minimum=0, unit="pixels"),
    Param("mask_snowball_core_next_int", _B, True,
          "Flag snowball cores in the next integration"),
    Param("snowball_time_masked_next_int", _I, 4000,
          "Time after a snowball over which its core is flagged in the next integration",
          minimum=0, unit="s"),
    Param("find_showers", _B, False, "Flag MIRI cosmic-ray showers"),
    Param("max_shower_amplitude", _F, 4.0, "Largest MIRI shower amplitude", minimum=0,
          unit="DN/s"),
    Param("extend_snr_threshold", _F, 1.2, "Minimum SNR of extended shower emission",
          minimum=0),
    Param("extend_min_area", _I, 90, "Minimum area of shower emission after convolution",
          minimum=0, unit="pixels"),
    Param("extend_inner_radius", _F, 1.0, "Inner radius of the ring convolution kernel",
          minimum=0, unit="pixels"),
    Param("extend_outer_radius", _F, 2.6, "Outer radius of the ring convolution kernel",
          minimum=0, unit="pixels"),
    Param("extend_ellipse_expand_ratio", _F, 1.1, "Expansion of the ellipse fit to showers",
          minimum=0),
    Param("time_masked_after_shower", _F, 15.0, "Time flagged as jump after a shower",
          minimum=0, unit="s"),
    Param("min_diffs_single_pass", _I, 10,
          "Minimum number of differences to flag all jumps in one pass", minimum=0),
    Param("max_extended_radius", _I, 200, "Largest radius of a snowball or shower", minimum=0,
          unit="pixels"),
    Param("minimum_groups", _I, 3, "Fewest groups needed for jump detection", minimum=1),
    Param("minimum_sigclip_groups", _I, 100,
          "Number of differences from which sigma clipping across integrations is used",
          minimum=1),
    Param("only_use_ints", _B, True,
          "In sigma clipping compare each group only across integrations"),
)  # fmt: skip


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
        from .params import JumpParameters
        from .twopoint import detect_jumps

        nints, ngroups = model.data.shape[:2]
        self.check_enough_groups(nints, ngroups)
        geom = geometry_of(model)
        gain, readnoise = gain_and_readnoise(self, model)
        names = set(JumpParameters.__dataclass_fields__)
        params = JumpParameters(**{k: v for k, v in self.get_parameters().items() if k in names})
        exp = model.meta.exposure
        start = time.monotonic()
        result = detect_jumps(
            model.data, model.groupdq, model.pixeldq,
            np.asarray(gain, dtype=np.float32), np.asarray(readnoise, dtype=np.float32),
            nframes=int(exp.nframes), frame_time=float(exp.frame_time),
            group_time=float(exp.group_time), params=params,
        )  # fmt: skip
        if result.skipped:
            raise StepSkipped(f"too few groups ({ngroups}) for jump detection")
        model.groupdq = result.groupdq
        model.pixeldq = result.pixeldq
        self._record_rates(model, result, geom)
        log.info("Total elapsed time = %.3f s", time.monotonic() - start)
        return model

    def block_stage(self, ctx):
        """Two-point jump detection on blocks holding every integration of their rows.

        The regime (groups DO_NOT_USE in every pixel) is predicted from what the
        stages before flag everywhere (``ctx.dnu_groups``) and checked at the
        end, as is the absence of planes sigma clipping flags entirely; the
        median gain is that of the whole array. Halo: one row (neighbour flagging).

        Raises
        ------
        StepSkipped
            For too few groups.
        NotStreamable
            With snowball or shower flagging, or (at the end) when a prediction failed.
        """
        from ..jump._postflag import planes_all_set
        from ..stpipe.blocks import BlockStage, NotStreamable
        from .differences import choose_mode
        from .params import JumpParameters
        from .twopoint import detect_jumps

        nints, ngroups = ctx.nints, ctx.ngroups
        self.check_enough_groups(nints, ngroups)
        names = set(JumpParameters.__dataclass_fields__)
        params = JumpParameters(**{k: v for k, v in self.get_parameters().items() if k in names})
        if params.expand_large_events or params.find_showers:
            raise NotStreamable("snowball or shower flagging needs whole frames")
        gain, readnoise = ctx.gain_readnoise(self)
        exp = ctx.model.meta.exposure
        predicted = np.zeros((nints, ngroups, 1, 1), dtype=np.uint8)
        predicted[ctx.dnu_groups] = _DNU
        mode, _ = choose_mode(predicted, params)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            median_gain = float(np.nanmedian(gain))
        all_dnu = np.ones((nints, ngroups), dtype=bool)
        all_flagged = np.ones((nints, ngroups), dtype=bool)
        n_jumps = [0]

        def apply(b):
            inner = b.count
            # DO_NOT_USE planes over the whole array decide the regime: accumulate them.
            planes_all_set(b.groupdq, inner, _DNU, all_dnu)
            res = detect_jumps(
                b.data, b.groupdq, b.pixeldq, b.ref(gain), b.ref(readnoise),
                nframes=int(exp.nframes), frame_time=float(exp.frame_time),
                group_time=float(exp.group_time), params=params, mode=mode,
                median_gain=median_gain, clear_planes=False, count_rows=inner, verbose=False,
            )  # fmt: skip
            b.groupdq, b.pixeldq = res.groupdq, res.pixeldq
            n_jumps[0] += res.n_jumps
            planes_all_set(res.groupdq, inner, _JUMP | _DNU, all_flagged)

        def finish():
            gdq = np.where(all_dnu, _DNU, np.uint8(0)).astype(np.uint8)[:, :, None, None]
            actual, _ = choose_mode(gdq, params)
            if actual != mode:
                raise NotStreamable(
                    f"jump detection regime {actual!r} (groups DO_NOT_USE everywhere) differs "
                    f"from the predicted {mode!r}"
                )
            if mode == "sigma_clip" and all_flagged.any():
                raise NotStreamable(
                    "sigma clipping flagged a whole group, which must be un-flagged"
                )
            log.info("Two-point detection (%s): %d jumps", mode, n_jumps[0])
            npix = ctx.geometry.xsize * ctx.geometry.ysize
            record_jump_rates(exp, all_dnu, npix, n_jumps[0], 0)

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

    @staticmethod
    def _record_rates(model, result, geom) -> None:
        from ..dqflags import DO_NOT_USE

        all_dnu = np.all((model.groupdq & DO_NOT_USE) != 0, axis=(2, 3))
        record_jump_rates(
            model.meta.exposure, all_dnu, geom.xsize * geom.ysize, result.n_jumps,
            result.n_extended,
        )  # fmt: skip


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
