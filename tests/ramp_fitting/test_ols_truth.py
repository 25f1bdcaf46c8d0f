"""fit_ramps on simulated ramps with known rates: normalised residuals must be N(0, 1)."""

import numpy as np
import pytest
from _rampfit_sim import flag_saturation, inject_jumps, simulate_ramps

from webbcal.lib.readout import read_pattern
from webbcal.ramp_fitting.ols import fit_ramps

SHAPE = (128, 128)
FRAME_TIME = 10.737
MEDIAN_TOL = 0.05
SCATTER_TOL = 0.05


def robust_stats(z):
    """Median and MAD-based standard deviation of the finite values of ``z``."""
    z = z[np.isfinite(z)]
    med = np.median(z)
    return med, 1.4826 * np.median(np.abs(z - med))


def run_case(seed, pattern, ngroups, nints, *, jumps=False, saturation=None):
    rng = np.random.default_rng(seed)
    readout = read_pattern(pattern)
    rate = np.exp(rng.uniform(np.log(0.1), np.log(500.0), SHAPE))
    readnoise = rng.uniform(8.0, 16.0, SHAPE)
    gain = rng.uniform(1.5, 2.5, SHAPE)
    data = simulate_ramps(
        rng,
        rate,
        nints=nints,
        ngroups=ngroups,
        nframes=readout.nframes,
        groupgap=readout.groupgap,
        frame_time=FRAME_TIME,
        readnoise=readnoise,
        gain=gain,
    )
    groupdq = np.zeros(data.shape, dtype=np.uint8)
    if jumps:
        inject_jumps(rng, data, groupdq, 0.02, 300.0)
    if saturation is not None:
        flag_saturation(data, groupdq, saturation)
    result = fit_ramps(
        data,
        groupdq,
        np.zeros(SHAPE, np.uint32),
        readnoise.astype(np.float32),
        gain.astype(np.float32),
        frame_time=FRAME_TIME,
        group_time=FRAME_TIME * (readout.nframes + readout.groupgap),
        nframes=readout.nframes,
        groupgap=readout.groupgap,
    )
    return rate, result


@pytest.mark.parametrize(
    ("pattern", "ngroups", "nints"),
    [
        ("RAPID", 10, 1),
        ("RAPID", 3, 2),
        ("RAPID", 2, 3),
        ("BRIGHT2", 5, 1),
        ("NIS", 6, 1),
        ("MEDIUM8", 5, 2),
    ],
)
def test_normalised_residuals(pattern, ngroups, nints):
    rate, result = run_case(11, pattern, ngroups, nints)
    for slope, err in ((result.slope, result.err), (result.slope_ints, result.err_ints)):
        med, scatter = robust_stats(((slope - rate) / err).ravel())
        assert abs(med) < MEDIAN_TOL, (pattern, med)
        assert abs(scatter - 1.0) < SCATTER_TOL, (pattern, scatter)


@pytest.mark.parametrize("nints", [1, 3])
def test_normalised_residuals_with_jumps_and_saturation(nints):
    rate, result = run_case(7, "RAPID", 10, nints, jumps=True, saturation=31000.0)
    assert np.all(np.isfinite(result.slope))
    med, scatter = robust_stats((result.slope - rate) / result.err)
    assert abs(med) < MEDIAN_TOL
    assert abs(scatter - 1.0) < SCATTER_TOL
