"""The compiled saturation passes give the flags of the numpy (whole-plane) passes, bit for bit."""

import numpy as np
import pytest

from webbcal.dqflags import NO_SAT_CHECK
from webbcal.saturation import flagging
from webbcal.saturation.flagging import flag_saturation, saturation_read_pattern


def _inputs(rng):
    nints, ngroups = (int(v) for v in rng.integers(1, 7, 2))
    ny, nx = (int(v) for v in rng.integers(1, 13, 2))
    shape = (nints, ngroups, ny, nx)
    bias = rng.uniform(9000, 14000, (ny, nx)).astype(np.float32)
    thresh = rng.uniform(20000, 60000, (ny, nx)).astype(np.float32)
    thresh[rng.random((ny, nx)) < 0.1] = np.nan
    sat_dq = np.where(rng.random((ny, nx)) < 0.1, NO_SAT_CHECK, 0).astype(np.uint32)
    rate = rng.choice([20.0, 3000.0, 9000.0, 20000.0], size=(nints, 1, ny, nx))
    ramp = np.arange(1, ngroups + 1).reshape(1, -1, 1, 1)
    data = bias + rate * ramp + rng.normal(0, 30, shape)
    for value, frac in ((0.0, 0.05), (-0.0, 0.03), (np.nan, 0.03), (70000.0, 0.02), (-3.0, 0.02)):
        data[rng.random(shape) < frac] = value
    data = data.astype(np.float32)
    gdq = (rng.integers(0, 256, shape) * (rng.random(shape) < 0.1)).astype(np.uint8)
    pdq = rng.integers(0, 2**31, (ny, nx)).astype(np.uint32)
    zf = (bias + rng.uniform(0, 60000, (nints, ny, nx))).astype(np.float32)
    for value, frac in ((0.0, 0.1), (np.nan, 0.05), (-1.0, 0.05)):
        zf[rng.random(zf.shape) < frac] = value
    nframes = int(rng.choice([1, 2, 3, 4]))
    if rng.random() < 0.2:  # frames not contiguous (groups with a gap)
        pattern = [[g * 5 + k + 1 for k in range(nframes)] for g in range(ngroups)]
    else:
        pattern = saturation_read_pattern(ngroups, nframes)
    options = {
        "n_pix_grow_sat": int(rng.integers(0, 4)),
        "zeroframe": zf if rng.random() < 0.6 else None,
        "read_pattern": pattern if rng.random() < 0.8 else None,
        "bias": bias if rng.random() < 0.6 else None,
        "use_readpatt": bool(rng.random() < 0.9),
    }
    return (data, gdq, pdq, thresh, sat_dq), options


def _numpy_result(monkeypatch, args, options):
    with monkeypatch.context() as m:
        m.setattr(flagging, "_compiled_applies", lambda *a: False)
        return flag_saturation(*args, **options)


def _assert_same(actual, expected):
    np.testing.assert_array_equal(actual.groupdq, expected.groupdq)
    np.testing.assert_array_equal(actual.pixeldq, expected.pixeldq)
    assert actual.groupdq.dtype == np.uint8 and actual.pixeldq.dtype == np.uint32
    if expected.zeroframe is None:
        assert actual.zeroframe is None
        return
    a, e = actual.zeroframe, expected.zeroframe
    assert a.dtype == e.dtype
    np.testing.assert_array_equal(np.isnan(a), np.isnan(e))
    np.testing.assert_array_equal(a.view(np.uint32)[~np.isnan(a)], e.view(np.uint32)[~np.isnan(e)])


@pytest.mark.parametrize("seed", range(8))
def test_compiled_matches_numpy_passes(seed, monkeypatch):
    rng = np.random.default_rng(seed)
    for _ in range(25):
        args, options = _inputs(rng)
        copies = [a.copy() for a in args]
        with np.errstate(invalid="ignore"):
            expected = _numpy_result(monkeypatch, args, options)
        actual = flag_saturation(*args, **options)
        _assert_same(actual, expected)
        for a, c in zip(args, copies, strict=True):
            np.testing.assert_array_equal(a, c)  # inputs untouched


def test_compiled_matches_numpy_in_chunks(monkeypatch):
    """Integrations split over several compiled calls give the same flags."""
    rng = np.random.default_rng(42)
    args, options = _inputs(rng)
    while args[0].shape[0] < 3:
        args, options = _inputs(rng)
    monkeypatch.setattr(flagging, "_CHUNK_SAMPLES", 1)
    _assert_same(flag_saturation(*args, **options), _numpy_result(monkeypatch, args, options))


def test_float64_inputs_take_the_numpy_path():
    rng = np.random.default_rng(3)
    (data, gdq, pdq, thresh, sat_dq), options = _inputs(rng)
    options["bias"] = None
    a = flag_saturation(data.astype(np.float64), gdq, pdq, thresh, sat_dq, **options)
    b = flag_saturation(data, gdq, pdq, thresh.astype(np.float64), sat_dq, **options)
    assert a.groupdq.shape == b.groupdq.shape == data.shape
