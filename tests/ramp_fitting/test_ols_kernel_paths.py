"""The OLS kernel's fast paths against its general path and the slow reference.

Integrations without any flag take a straight-line path (one segment of all
groups, variances computed once per pixel) and the per-integration products
are written through a buffer of columns; these tests pin both to the general
code bit for bit and to the slow reference within rounding.
"""

import numpy as np
import pytest
from _rampfit_reference import reference_fit
from _rampfit_sim import inject_jumps, simulate_ramps

from webbcal import dqflags
from webbcal.ramp_fitting import _ols_kernel
from webbcal.ramp_fitting.ols import fit_ramps

FLOAT_FIELDS = ("slope", "var_poisson", "var_rnoise", "err")
TIMING = {"frame_time": 10.0, "group_time": 10.0, "nframes": 1, "groupgap": 0}


def ramps(seed, nints, ngroups, ny, nx):
    """Mostly clean ramps (a few jumps) with gains, read noises and bad gains."""
    rng = np.random.default_rng(seed)
    rate = np.exp(rng.uniform(np.log(0.05), np.log(3000.0), (ny, nx)))
    readnoise = rng.uniform(6.0, 20.0, (ny, nx)).astype(np.float32)
    gain = rng.uniform(1.0, 3.0, (ny, nx)).astype(np.float32)
    data = simulate_ramps(
        rng,
        rate,
        nints=nints,
        ngroups=ngroups,
        nframes=1,
        groupgap=0,
        frame_time=TIMING["frame_time"],
        readnoise=readnoise,
        gain=gain,
    )
    groupdq = np.zeros(data.shape, dtype=np.uint8)
    inject_jumps(rng, data, groupdq, 0.3 / ngroups, 400.0)
    gain[0, 0] = np.nan
    gain[0, 1] = -1.0
    return data, groupdq, readnoise, gain


def assert_bits_equal(a, b, name):
    assert a.dtype == b.dtype, name
    np.testing.assert_array_equal(a.view(np.uint32), b.view(np.uint32), err_msg=name)


def fit_fast_and_general(data, groupdq, pixeldq, readnoise, gain):
    """Fit as given and with a PERSISTENCE flag on every ramp's middle group (which excludes
    nothing but sends every pixel down the general path), with a dark current; assert that
    both give the same bits (DQ aside from PERSISTENCE) and return both fits."""
    ngroups = data.shape[1]
    flagged = groupdq.copy()
    flagged[:, ngroups // 2] |= dqflags.PERSISTENCE
    dark = np.full(pixeldq.shape, 0.3, dtype=np.float32)
    kwargs = dict(TIMING, average_dark_current=dark)
    fast = fit_ramps(data, groupdq, pixeldq, readnoise, gain, **kwargs)
    general = fit_ramps(data, flagged, pixeldq, readnoise, gain, **kwargs)
    for suffix in ("", "_ints"):
        for name in FLOAT_FIELDS:
            assert_bits_equal(getattr(fast, name + suffix), getattr(general, name + suffix), name)
        pers = getattr(general, "dq" + suffix) & dqflags.PERSISTENCE
        np.testing.assert_array_equal(
            getattr(fast, "dq" + suffix) | pers, getattr(general, "dq" + suffix)
        )
    return fast, general


@pytest.mark.parametrize(("nints", "ngroups"), [(1, 3), (3, 5), (2, 20), (2, 40), (6, 5)])
def test_clean_path_equals_general_path(nints, ngroups):
    """A PERSISTENCE flag (which excludes nothing) sends the ramp down the general path.

    With six integrations most pixels have a jump somewhere: those rows are fitted pixel by
    pixel (``_fit_unflagged_pixel`` for the others); with fewer, by the row's vector pass."""
    data, groupdq, readnoise, gain = ramps(ngroups, nints, ngroups, 4, 37)
    pixeldq = np.zeros((4, 37), dtype=np.uint32)
    pixeldq[3, 4] = dqflags.DO_NOT_USE
    pixeldq[3, 5] = dqflags.SATURATED
    fast, general = fit_fast_and_general(data, groupdq, pixeldq, readnoise, gain)
    assert np.all(general.dq & dqflags.PERSISTENCE)


@pytest.mark.parametrize(("nints", "ngroups"), [(1, 3), (1, 10), (3, 5), (2, 20), (6, 5)])
def test_rows_mostly_without_flags_equal_general_path(nints, ngroups):
    """Rows where at most one pixel in eight has a flag (``_FEW_FLAGGED``) fit the others in
    the row's vector pass (``_fit_clean_row``) and refit the flagged ones one by one: the
    same bits as the general path, for every weight exponent (rates 0.05-3000 DN/s), bad
    gains, unusable pixel DQ, a dark current and flagged groups of each kind."""
    ny, nx = 4, 67
    data, groupdq, readnoise, gain = ramps(100 + ngroups, nints, ngroups, ny, nx)
    groupdq[:] = 0  # row 0 keeps the two bad gains of ramps()
    groupdq[0, ngroups - 1, 1, 5] = dqflags.JUMP_DET
    groupdq[nints - 1, 1:, 1, 40] = dqflags.SATURATED
    groupdq[0, 0, 2, 61] = dqflags.DO_NOT_USE
    data[nints - 1, 1, 3, 20] = np.nan
    pixeldq = np.zeros((ny, nx), dtype=np.uint32)
    pixeldq[3, 4] = dqflags.DO_NOT_USE
    pixeldq[2, 5] = dqflags.SATURATED
    pixeldq[1, 6] = dqflags.HOT
    fast, general = fit_fast_and_general(data, groupdq, pixeldq, readnoise, gain)
    assert np.isfinite(fast.slope).sum() > 0.9 * fast.slope.size


@pytest.mark.parametrize("suppress_one_group", [True, False])
@pytest.mark.parametrize(("nints", "ngroups", "nx"), [(2, 4, 37), (1, 12, 5), (2, 36, 33)])
def test_mostly_clean_ramps_match_reference(nints, ngroups, nx, suppress_one_group):
    """Widths around the output buffer's column count, series longer than 32 differences."""
    data, groupdq, readnoise, gain = ramps(nints * ngroups + nx, nints, ngroups, 2, nx)
    pixeldq = np.zeros((2, nx), dtype=np.uint32)
    timing = {k: TIMING[k] for k in ("frame_time", "group_time", "nframes")}
    ours = fit_ramps(
        data, groupdq, pixeldq, readnoise, gain, suppress_one_group=suppress_one_group, **TIMING
    )
    ref = reference_fit(
        data, groupdq, pixeldq, readnoise, gain, suppress_one_group=suppress_one_group, **timing
    )
    for suffix in ("", "_ints"):
        np.testing.assert_array_equal(getattr(ours, "dq" + suffix), ref["dq" + suffix])
        for name in FLOAT_FIELDS:
            np.testing.assert_allclose(
                getattr(ours, name + suffix), ref[name + suffix], rtol=1e-6, atol=0,
                err_msg=name + suffix,
            )  # fmt: skip


@pytest.mark.parametrize("n", [1, 2, 5, 19, 32])
def test_median_ranked_orders_like_sort(n):
    rng = np.random.default_rng(n)
    rank = np.empty(n, dtype=np.int64)
    ordered = np.empty(n)
    for trial in range(30):
        x = rng.integers(-3, 4, n).astype(float) if trial % 2 else rng.normal(size=n)
        median = _ols_kernel._median_ranked(x, n, rank, ordered)
        np.testing.assert_array_equal(ordered, np.sort(x))
        assert sorted(rank) == list(range(n))
        assert median == np.median(x)


@pytest.mark.parametrize("ngroups", [3, 4, 5, 20, 21])
def test_row_median_rates_equal_numpy_median(ngroups):
    """The comparator-network medians of a row against np.median, pixel by pixel.

    Integer-valued ramps give tied differences; NaN and infinite samples, group
    flags and a group-range DO_NOT_USE must each clear ``ok`` (NaN difference or
    flag) or give the same order statistic (infinite differences).
    """
    rng = np.random.default_rng(ngroups)
    nints, ny, nx = 3, 2, 41
    data = rng.integers(0, 6, (nints, ngroups, ny, nx)).cumsum(axis=1).astype(np.float32)
    data[0, 1, 0, :5] = np.nan
    data[1, 2, 0, 5:8] = np.inf
    data[2, 0, 0, 8:10] = -np.inf
    groupdq = np.zeros(data.shape, dtype=np.uint8)
    groupdq[0, ngroups - 1, 0, 10:13] = dqflags.JUMP_DET
    groupdq[1, 0, 0, 13] = dqflags.DO_NOT_USE
    extra_dnu = np.zeros(ngroups, dtype=np.uint32)
    t_group = 10.7
    pairs = _ols_kernel.median_pairs(ngroups)
    for r, extra in ((0, extra_dnu), (1, extra_dnu), (1, extra_dnu + (np.arange(ngroups) == 1))):
        med = np.full((nints, nx), -99.0)
        ok = np.zeros((nints, nx), dtype=bool)
        buf = np.empty((ngroups - 1, nx))
        _ols_kernel._row_median_rates(
            np.ascontiguousarray(data[:, :, r]), np.ascontiguousarray(groupdq[:, :, r]),
            extra.astype(np.uint32), t_group, pairs, med, ok, buf,
        )  # fmt: skip
        for i in range(nints):
            y = data[i, :, r].astype(np.float64) / t_group
            diffs = y[1:] - y[:-1]
            flagged = (groupdq[i, :, r] | extra[:, None]).any(axis=0)
            expect_ok = ~flagged & ~np.isnan(diffs).any(axis=0)
            np.testing.assert_array_equal(ok[i], expect_ok)
            with np.errstate(invalid="ignore"):
                expect = np.median(diffs, axis=0)
            np.testing.assert_array_equal(med[i][expect_ok], expect[expect_ok])
        if r == 0:  # the odd samples were exercised: NaN excluded, infinities kept
            assert not ok[0, :5].any() and ok[1, 5:8].all() and ok[2, 8:10].all()
            assert not ok[0, 10:13].any() and not ok[1, 13]


def test_unflagged_ramps_with_infinite_samples_equal_general_path():
    """Infinite and NaN samples in unflagged ramps: network median and per-pixel median agree."""
    nints, ngroups = 2, 9
    data, groupdq, readnoise, gain = ramps(5, nints, ngroups, 3, 29)
    data[0, 3, 0, :4] = np.inf
    data[1, 5, 1, 4:8] = -np.inf
    data[0, 2, 2, 8:11] = np.nan
    pixeldq = np.zeros((3, 29), dtype=np.uint32)
    flagged = groupdq.copy()
    flagged[:, 0] |= dqflags.PERSISTENCE
    fast = fit_ramps(data, groupdq, pixeldq, readnoise, gain, **TIMING)
    general = fit_ramps(data, flagged, pixeldq, readnoise, gain, **TIMING)
    for suffix in ("", "_ints"):
        for name in FLOAT_FIELDS:
            assert_bits_equal(getattr(fast, name + suffix), getattr(general, name + suffix), name)


def test_many_integrations_skip_the_row_network_with_the_same_bits():
    """Rows of more than ``_ROW_MEDIAN_SAMPLES`` integration-columns take per-pixel
    medians; the first columns, fitted alone (network path), give the same bits."""
    nints, ngroups = 4, 6
    nx = _ols_kernel._ROW_MEDIAN_SAMPLES // nints + 1
    rng = np.random.default_rng(11)
    rate = rng.uniform(1.0, 50.0, (1, nx))
    t = np.arange(1, ngroups + 1)[:, None, None] * TIMING["group_time"]
    data = (rate * t + rng.normal(0.0, 5.0, (nints, ngroups, 1, nx))).astype(np.float32)
    groupdq = np.zeros(data.shape, dtype=np.uint8)
    pixeldq = np.zeros((1, nx), dtype=np.uint32)
    readnoise = np.full((1, nx), 8.0, dtype=np.float32)
    gain = np.full((1, nx), 2.0, dtype=np.float32)
    wide = fit_ramps(data, groupdq, pixeldq, readnoise, gain, **TIMING)
    n = 40
    narrow = fit_ramps(
        data[..., :n], groupdq[..., :n], pixeldq[:, :n], readnoise[:, :n], gain[:, :n], **TIMING
    )
    for suffix in ("", "_ints"):
        for name in FLOAT_FIELDS:
            assert_bits_equal(
                getattr(wide, name + suffix)[..., :n], getattr(narrow, name + suffix), name
            )
    assert np.all(np.isfinite(wide.slope))
