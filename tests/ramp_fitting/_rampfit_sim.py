"""Seeded simulation of MULTIACCUM ramps with known count rates (tests only)."""

import numpy as np

from webbcal import dqflags


def simulate_ramps(
    rng,
    rate,
    *,
    nints,
    ngroups,
    nframes,
    groupgap,
    frame_time,
    readnoise,
    gain,
    bias=1000.0,
):
    """Simulate frame-by-frame ramps and average frames into groups.

    Parameters
    ----------
    rng : numpy.random.Generator
    rate : ndarray, shape (ny, nx), DN/s
        True count rate.
    readnoise : ndarray, shape (ny, nx), DN
        CDS read noise (a single frame has noise ``readnoise / sqrt(2)``).
    gain : ndarray, shape (ny, nx), e-/DN

    Returns
    -------
    data : ndarray, shape (nints, ngroups, ny, nx), float32, DN
    """
    ny, nx = rate.shape
    electrons_per_frame = np.clip(rate * gain * frame_time, 0, None)
    frame_sigma = readnoise / np.sqrt(2.0)
    data = np.empty((nints, ngroups, ny, nx), dtype=np.float32)
    for i in range(nints):
        charge = np.zeros((ny, nx))
        for g in range(ngroups):
            group = np.zeros((ny, nx))
            for _ in range(nframes):
                charge += rng.poisson(electrons_per_frame)
                group += charge / gain + rng.normal(0.0, 1.0, (ny, nx)) * frame_sigma
            data[i, g] = bias + group / nframes
            for _ in range(groupgap):
                charge += rng.poisson(electrons_per_frame)
    return data


def inject_jumps(rng, data, groupdq, fraction, amplitude):
    """Add cosmic-ray steps after random groups and flag the group that has them."""
    nints, ngroups = data.shape[:2]
    for i in range(nints):
        for g in range(1, ngroups):
            hit = rng.random(data.shape[2:]) < fraction
            data[i, g:, hit] += amplitude
            groupdq[i, g, hit] |= dqflags.JUMP_DET


def flag_saturation(data, groupdq, level):
    """Flag every group at and after the first one above ``level`` as SATURATED."""
    above = np.maximum.accumulate(data >= level, axis=1)
    groupdq[above] |= dqflags.SATURATED
