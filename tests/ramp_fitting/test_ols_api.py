"""fit_ramps: interface, input safety and the documented special cases."""

import logging

import numpy as np
import pytest

from webbcal import dqflags
from webbcal.ramp_fitting.ols import RampFitResult, fit_ramps

TG = 10.0
TIMING = dict(frame_time=TG, group_time=TG, nframes=1, groupgap=0)


def flat_inputs(nints=1, ngroups=5, ny=3, nx=4, rate=20.0):
    data = np.broadcast_to(
        (100.0 + rate * TG * np.arange(1, ngroups + 1))[None, :, None, None],
        (nints, ngroups, ny, nx),
    ).astype(np.float32)
    return (
        data,
        np.zeros(data.shape, np.uint8),
        np.zeros((ny, nx), np.uint32),
        np.full((ny, nx), 10.0, np.float32),
        np.full((ny, nx), 2.0, np.float32),
    )


def test_result_types_and_noiseless_rate():
    result = fit_ramps(*flat_inputs(nints=2), **TIMING)
    assert isinstance(result, RampFitResult)
    assert result.slope.shape == (3, 4) and result.slope_ints.shape == (2, 3, 4)
    for name in ("slope", "var_poisson", "var_rnoise", "err", "slope_ints", "err_ints"):
        assert getattr(result, name).dtype == np.float32
    assert result.dq.dtype == np.uint32 and result.dq_ints.dtype == np.uint32
    np.testing.assert_allclose(result.slope, 20.0, rtol=1e-6)
    np.testing.assert_allclose(result.err**2, result.var_poisson + result.var_rnoise, rtol=1e-6)
    assert np.all(result.dq == 0)


def test_read_noise_variance_formula():
    """Noiseless 5-group ramp: var_rnoise = 12 sigma**2 / ((n**3 - n) t**2), sigma = RN/sqrt(2)."""
    result = fit_ramps(*flat_inputs(), **TIMING)
    sigma2 = 10.0**2 / 2.0
    np.testing.assert_allclose(result.var_rnoise, 12 * sigma2 / ((5**3 - 5) * TG**2), rtol=1e-6)
    # Poisson variance: median rate / (gain * t * (n - 1)).
    np.testing.assert_allclose(result.var_poisson, 20.0 / (2.0 * TG * 4), rtol=1e-6)


def test_inputs_not_modified():
    inputs = flat_inputs(nints=2)
    inputs[1][0, 2:, 0, 0] = dqflags.SATURATED
    inputs[1][1, 1:, 1, 1] = dqflags.SATURATED  # one good group: suppressed
    copies = [a.copy() for a in inputs]
    zeroframe = np.ones((2, 3, 4), np.float32)
    fit_ramps(*inputs, **TIMING, zeroframe=zeroframe, firstgroup=1, lastgroup=3)
    for before, after in zip(copies, inputs):
        np.testing.assert_array_equal(before, after)
    assert np.all(zeroframe == 1)


def test_suppress_one_group():
    data, groupdq, pixeldq, rn, gain = flat_inputs()
    groupdq[0, 1:, 0, 0] = dqflags.SATURATED
    kept = fit_ramps(data, groupdq, pixeldq, rn, gain, **TIMING, suppress_one_group=False)
    dropped = fit_ramps(data, groupdq, pixeldq, rn, gain, **TIMING, suppress_one_group=True)
    # A lone first group is timed from the start of the integration: (nframes + 1) / 2 frames.
    np.testing.assert_allclose(kept.slope[0, 0], data[0, 0, 0, 0] / TG, rtol=1e-6)
    assert kept.dq[0, 0] == dqflags.SATURATED
    assert np.isnan(dropped.slope[0, 0])
    assert dropped.dq[0, 0] == dqflags.SATURATED | dqflags.DO_NOT_USE
    assert dropped.var_poisson[0, 0] == 0 and dropped.err[0, 0] == 0


def test_zeroframe_replaces_saturated_first_group():
    data, groupdq, pixeldq, rn, gain = flat_inputs(nints=2)
    groupdq[:, :, 0, 0] = dqflags.SATURATED
    zeroframe = np.zeros((2, 3, 4), np.float32)
    zeroframe[:, 0, 0] = 55.0
    kwargs = dict(TIMING, suppress_one_group=False)
    with_zf = fit_ramps(data, groupdq, pixeldq, rn, gain, zeroframe=zeroframe, **kwargs)
    without = fit_ramps(data, groupdq, pixeldq, rn, gain, **kwargs)
    np.testing.assert_allclose(with_zf.slope[0, 0], 55.0 / TG, rtol=1e-6)  # ZEROFRAME / TFRAME
    assert with_zf.dq[0, 0] == dqflags.SATURATED
    assert np.isnan(without.slope[0, 0])
    assert without.dq[0, 0] == dqflags.SATURATED | dqflags.DO_NOT_USE
    # A zero ZEROFRAME value means "saturated there too" and is not used.
    groupdq[:, :, 0, 1] = dqflags.SATURATED
    with_zf = fit_ramps(data, groupdq, pixeldq, rn, gain, zeroframe=zeroframe, **kwargs)
    assert np.isnan(with_zf.slope[0, 1])


def test_bad_gain_flags_and_nan():
    data, groupdq, pixeldq, rn, gain = flat_inputs(nints=2)
    gain[0, 0], gain[0, 1], gain[0, 2] = np.nan, 0.0, -2.0
    pixeldq[0, 3] = dqflags.HOT
    result = fit_ramps(data, groupdq, pixeldq, rn, gain, **TIMING)
    flags = dqflags.DO_NOT_USE | dqflags.NO_GAIN_VALUE
    np.testing.assert_array_equal(result.dq[0], [flags, flags, flags, dqflags.HOT])
    assert np.all(np.isnan(result.slope[0, :3])) and np.all(np.isnan(result.slope_ints[:, 0, :3]))
    for name in ("var_poisson", "var_rnoise", "err"):
        assert np.all(getattr(result, name)[0, :3] == 0)
    assert np.isfinite(result.slope[0, 3])


def test_jump_splits_segments():
    data, groupdq, pixeldq, rn, gain = flat_inputs(ngroups=8)
    data = data.copy()
    data[0, 4:, 0, 0] += 5000.0
    groupdq[0, 4, 0, 0] = dqflags.JUMP_DET
    result = fit_ramps(data, groupdq, pixeldq, rn, gain, **TIMING)
    np.testing.assert_allclose(result.slope[0, 0], 20.0, rtol=1e-5)
    assert result.dq[0, 0] == dqflags.JUMP_DET
    # Two 4-group segments: read-noise variance halves the single-segment value.
    single = 12 * 50.0 / ((4**3 - 4) * TG**2)
    np.testing.assert_allclose(result.var_rnoise[0, 0], single / 2, rtol=1e-6)


def test_group_range(caplog):
    data, groupdq, pixeldq, rn, gain = flat_inputs(ngroups=8)
    data = data.copy()
    data[0, 6:] += 1000.0
    result = fit_ramps(data, groupdq, pixeldq, rn, gain, **TIMING, firstgroup=1, lastgroup=5)
    np.testing.assert_allclose(result.slope, 20.0, rtol=1e-6)
    with caplog.at_level(logging.WARNING, logger="webbcal.ramp_fitting.ols"):
        fit_ramps(data, groupdq, pixeldq, rn, gain, **TIMING, firstgroup=6, lastgroup=2)
    assert "firstgroup=6 >= lastgroup=2; group selection ignored" in caplog.text


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (dict(weighting="unweighted"), "weighting='unweighted' is not supported"),
        (dict(group_time=0.0), r"group_time=0.0 is not valid; expected a value > 0"),
        (dict(frame_time=float("nan")), "frame_time=nan is not valid"),
        (dict(nframes=1.5), "nframes=1.5 is not valid; expected an integer"),
        (dict(groupgap=-1), "groupgap=-1 is not valid"),
        (dict(zeroframe=np.zeros((2, 3, 4))), r"zeroframe has shape \(2, 3, 4\); expected"),
    ],
)
def test_bad_arguments(change, match):
    kwargs = dict(TIMING, **change)
    with pytest.raises(ValueError, match=match):
        fit_ramps(*flat_inputs(), **kwargs)


def test_bad_array_shapes():
    data, groupdq, pixeldq, rn, gain = flat_inputs()
    with pytest.raises(ValueError, match=r"data has shape \(5, 3, 4\); expected 4 dimensions"):
        fit_ramps(data[0], groupdq, pixeldq, rn, gain, **TIMING)
    with pytest.raises(ValueError, match=r"gain has shape \(4, 3\); expected \(3, 4\)"):
        fit_ramps(data, groupdq, pixeldq, rn, gain.T, **TIMING)
    with pytest.raises(ValueError, match="groupdq has dtype float32; expected an integer"):
        fit_ramps(data, groupdq.astype(np.float32), pixeldq, rn, gain, **TIMING)
