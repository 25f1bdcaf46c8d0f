"""Run the official stcal jump detection on plain arrays (test oracle only)."""

from __future__ import annotations

import numpy as np

from webbcal import dqflags
from webbcal.jump.params import JumpParameters


def stcal_detect_jumps(data, groupdq, pixeldq, gain, readnoise, *, nframes, group_time, params):
    """Call ``stcal.jump.jump.detect_jumps_data`` the way ``jwst`` 3.0 JumpStep does."""
    from stcal.jump.jump import detect_jumps_data
    from stcal.jump.jump_class import JumpData

    jd = JumpData(gain2d=gain.copy(), rnoise2d=readnoise.copy(), dqflags=dqflags.PIXEL)
    jd.init_arrays_from_arrays(data.copy(), groupdq.copy(), pixeldq.copy())
    jd.nframes = nframes
    jd.dt_group = np.ones(1)
    jd.n_reads_groupdiff = np.ones(1) * 2 * nframes
    p = params
    jd.set_detection_settings(
        p.rejection_threshold,
        p.three_group_rejection_threshold,
        p.four_group_rejection_threshold,
        p.max_jump_to_flag_neighbors,
        p.min_jump_to_flag_neighbors,
        p.flag_4_neighbors,
    )
    jd.set_after_jump(
        p.after_jump_flag_dn1,
        int(p.after_jump_flag_time1 // group_time),
        p.after_jump_flag_dn2,
        int(p.after_jump_flag_time2 // group_time),
    )
    jd.set_snowball_info(
        p.expand_large_events,
        p.min_jump_area,
        p.min_sat_area,
        p.expand_factor,
        p.sat_required_snowball,
        p.min_sat_radius_extend,
        p.sat_expand * 2,
        p.edge_size,
    )
    jd.set_shower_info(
        p.find_showers,
        p.extend_snr_threshold,
        p.extend_min_area,
        p.extend_inner_radius,
        p.extend_outer_radius,
        p.extend_ellipse_expand_ratio,
        p.min_diffs_single_pass,
        p.max_extended_radius * 2,
    )
    jd.set_sigma_clipping_info(p.minimum_groups, p.minimum_sigclip_groups, p.only_use_ints)
    jd.max_cores = "1"
    jd.grps_masked_after_shower = int(p.time_masked_after_shower // group_time)
    jd.mask_persist_grps_next_int = p.mask_snowball_core_next_int
    jd.persist_grps_flagged = int(p.snowball_time_masked_next_int // group_time)
    # jwst 3.0 ignores the step's max_shower_amplitude; use ours (DN/s) for parity.
    jd.max_shower_amplitude = p.max_shower_amplitude * group_time
    gdq, pdq, ncrs, next_ = detect_jumps_data(jd)
    return gdq, pdq, int(ncrs), int(next_)


__all__ = ["JumpParameters", "stcal_detect_jumps"]
