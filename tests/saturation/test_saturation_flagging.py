"""Tests of the saturation flagging kernel."""

import numpy as np
import pytest

from webbcal.dqflags import AD_FLOOR, DO_NOT_USE, JUMP_DET, NO_SAT_CHECK, PIXEL, SATURATED
from webbcal.saturation.flagging import (
    SaturationResult,
    flag_saturation,
    grow_mask,
    saturation_read_pattern,
)

ATOD = 65535


# --------------------------------------------------------------------------------------------
# Slow, per-pixel reference written from the documented algorithm
# --------------------------------------------------------------------------------------------
def _near(y, x, ny, nx, n):
    """Pixels within the (2n+1)-box around (y, x)."""
    return [
        (yy, xx)
        for yy in range(max(0, y - n), min(ny, y + n + 1))
        for xx in range(max(0, x - n), min(nx, x + n + 1))
    ]


def _grow_slow(points, ny, nx, n):
    out = set()
    for y, x in points:
        out.update(_near(y, x, ny, nx, n))
    return out


def reference_saturation(
    data, gdq, pdq, thresh, sat_dq, n, zeroframe=None, pattern=None, bias=None, atod=ATOD, hits=None
):
    """Flags by explicit loops; ``hits`` (a dict) counts the pixels each pass flags."""
    hits = {} if hits is None else hits
    for key in ("saturated", "floor", "diluted", "second_group", "zeroframe"):
        hits.setdefault(key, 0)
    nints, ngroups, ny, nx = data.shape
    gdq = gdq.astype(np.uint8).copy()
    zf = None if zeroframe is None else zeroframe.copy()
    ref_dq = sat_dq.astype(np.uint32).copy()
    t = np.empty((ny, nx), dtype=np.float32)
    unchecked = np.zeros((ny, nx), dtype=bool)
    for y in range(ny):
        for x in range(nx):
            if np.isnan(thresh[y, x]):
                ref_dq[y, x] |= NO_SAT_CHECK
            unchecked[y, x] = bool(ref_dq[y, x] & NO_SAT_CHECK)
            t[y, x] = atod + 1 if unchecked[y, x] else thresh[y, x]
    b = np.zeros((ny, nx), np.float32) if bias is None else bias
    for i in range(nints):
        for g in range(ngroups):
            for y in range(ny):
                for x in range(nx):
                    if any(data[i, k, y, x] >= t[y, x] for k in range(g + 1)):
                        gdq[i, g, y, x] |= SATURATED
                        hits["saturated"] += 1
                    if data[i, g, y, x] <= 0:
                        gdq[i, g, y, x] |= AD_FLOOR | DO_NOT_USE
                        hits["floor"] += 1
            sat = [(y, x) for y in range(ny) for x in range(nx) if gdq[i, g, y, x] & SATURATED]
            for y, x in _grow_slow(sat, ny, nx, n):
                gdq[i, g, y, x] |= SATURATED
        if pattern is not None:
            for g in range(ngroups - 2, -1, -1):
                dil = sum(pattern[g]) / len(pattern[g]) / pattern[g][-1]
                if dil == 1:
                    continue
                found = []
                for y in range(ny):
                    for x in range(nx):
                        limit = float(t[y, x]) * (1.0 if unchecked[y, x] else dil)
                        if (
                            float(data[i, g, y, x]) >= limit
                            and not gdq[i, g, y, x] & (SATURATED | DO_NOT_USE)
                            and gdq[i, g + 1, y, x] & SATURATED
                        ):
                            found.append((y, x))
                hits["diluted"] += len(found)
                for y, x in _grow_slow(found, ny, nx, n):
                    gdq[i, g, y, x] |= DO_NOT_USE
            if ngroups > 2:
                mean0 = sum(pattern[0]) / len(pattern[0])
                for y in range(ny):
                    for x in range(nx):
                        d0, d1 = data[i, 0, y, x], data[i, 1, y, x]
                        signal = float(np.float32(d0 - b[y, x]))
                        low = signal / mean0 * pattern[2][-1] + float(b[y, x]) < float(t[y, x])
                        jump = (d1 - d0) > (t[y, x] - d0) / np.float32(len(pattern[1]))
                        if (
                            low
                            and jump
                            and gdq[i, 2, y, x] & SATURATED
                            and not gdq[i, 1, y, x] & SATURATED
                        ):
                            gdq[i, 1, y, x] |= DO_NOT_USE
                            hits["second_group"] += 1
        if zf is not None:
            sat = [(y, x) for y in range(ny) for x in range(nx) if zf[i, y, x] >= t[y, x]]
            reset = _grow_slow(sat, ny, nx, n)
            reset |= {(y, x) for y in range(ny) for x in range(nx) if zf[i, y, x] <= 0}
            hits["zeroframe"] += len(reset)
            for y, x in reset:
                zf[i, y, x] = 0
    return gdq, (pdq | ref_dq).astype(np.uint32), zf


# --------------------------------------------------------------------------------------------
# Random inputs exercising every branch
# --------------------------------------------------------------------------------------------
def make_inputs(seed, nints=2, ngroups=5, ny=7, nx=8, nframes=2):
    rng = np.random.default_rng(seed)
    shape = (nints, ngroups, ny, nx)
    bias = rng.uniform(9000, 14000, (ny, nx)).astype(np.float32)
    thresh = rng.uniform(30000, 60000, (ny, nx)).astype(np.float32)
    thresh[rng.random((ny, nx)) < 0.08] = np.nan
    sat_dq = np.where(rng.random((ny, nx)) < 0.1, NO_SAT_CHECK, 0).astype(np.uint32)
    sat_dq |= np.where(rng.random((ny, nx)) < 0.1, 1 << 10, 0).astype(np.uint32)
    rate = rng.choice(
        [20.0, 500.0, 3000.0, 9000.0], p=[0.4, 0.3, 0.2, 0.1], size=(nints, 1, ny, nx)
    )
    groups = np.arange(1, ngroups + 1).reshape(1, ngroups, 1, 1)
    data = bias + rate * groups + rng.normal(0, 30, shape)
    # cosmic-ray-like jumps from group 2 on, and some floor / above-A/D values
    jump = np.where(
        rng.random((nints, 1, ny, nx)) < 0.1, rng.uniform(1e4, 4e4, (nints, 1, ny, nx)), 0
    )
    data[:, 1:] += jump
    data[rng.random(shape) < 0.03] = 0.0
    data[rng.random(shape) < 0.02] = -5.0
    data[rng.random(shape) < 0.005] = 70000.0
    data = data.astype(np.float32)
    gdq = np.zeros(shape, dtype=np.uint8)
    gdq[rng.random(shape) < 0.05] |= DO_NOT_USE
    gdq[rng.random(shape) < 0.005] |= SATURATED
    gdq[rng.random(shape) < 0.05] |= JUMP_DET
    pdq = np.where(rng.random((ny, nx)) < 0.1, 4, 0).astype(np.uint32)
    zeroframe = (bias + rate[:, 0] * rng.uniform(0.1, 3, (nints, ny, nx))).astype(np.float32)
    zeroframe[rng.random(zeroframe.shape) < 0.05] = 0.0
    pattern = saturation_read_pattern(ngroups, nframes)
    return data, gdq, pdq, thresh, sat_dq, zeroframe, pattern, bias


def _run(data, gdq, pdq, thresh, sat_dq, **kw):
    return flag_saturation(data, gdq, pdq, thresh, sat_dq, **kw)


# --------------------------------------------------------------------------------------------
# Against the slow reference
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n_grow", [0, 1, 2])
@pytest.mark.parametrize("nframes", [1, 2, 4])
@pytest.mark.parametrize("seed", [1, 2])
def test_matches_slow_reference(seed, nframes, n_grow):
    data, gdq, pdq, thresh, sat_dq, zf, pattern, bias = make_inputs(seed, nframes=nframes)
    res = _run(
        data,
        gdq,
        pdq,
        thresh,
        sat_dq,
        n_pix_grow_sat=n_grow,
        zeroframe=zf,
        read_pattern=pattern,
        bias=bias,
    )
    ref_gdq, ref_pdq, ref_zf = reference_saturation(
        data, gdq, pdq, thresh, sat_dq, n_grow, zeroframe=zf, pattern=pattern, bias=bias
    )
    np.testing.assert_array_equal(res.groupdq, ref_gdq)
    np.testing.assert_array_equal(res.pixeldq, ref_pdq)
    np.testing.assert_array_equal(res.zeroframe, ref_zf)
    assert res.groupdq.dtype == np.uint8
    assert res.pixeldq.dtype == np.uint32
    assert res.zeroframe.dtype == np.float32


@pytest.mark.parametrize("seed", [1, 2, 11, 12])
def test_random_inputs_reach_every_branch(seed):
    """The random inputs used here and in the oracle tests exercise every pass."""
    data, gdq, pdq, thresh, sat_dq, zf, pattern, bias = make_inputs(seed, nframes=4)
    hits = {}
    reference_saturation(
        data, gdq, pdq, thresh, sat_dq, 1, zeroframe=zf, pattern=pattern, bias=bias, hits=hits
    )
    assert all(count > 0 for count in hits.values()), hits
    # and leave a fair share of groups unsaturated
    assert hits["saturated"] < 0.5 * data.size


def test_no_read_pattern_and_use_readpatt_false_agree():
    data, gdq, pdq, thresh, sat_dq, _, pattern, bias = make_inputs(3)
    a = _run(data, gdq, pdq, thresh, sat_dq, read_pattern=pattern, bias=bias, use_readpatt=False)
    b = _run(data, gdq, pdq, thresh, sat_dq)
    ref_gdq, ref_pdq, _ = reference_saturation(data, gdq, pdq, thresh, sat_dq, 1)
    np.testing.assert_array_equal(a.groupdq, ref_gdq)
    np.testing.assert_array_equal(b.groupdq, ref_gdq)
    np.testing.assert_array_equal(a.pixeldq, ref_pdq)
    assert a.zeroframe is None


def test_inputs_not_modified():
    data, gdq, pdq, thresh, sat_dq, zf, pattern, bias = make_inputs(4)
    copies = [a.copy() for a in (data, gdq, pdq, thresh, sat_dq, zf, bias)]
    res = _run(data, gdq, pdq, thresh, sat_dq, zeroframe=zf, read_pattern=pattern, bias=bias)
    for before, after in zip(copies, (data, gdq, pdq, thresh, sat_dq, zf, bias), strict=True):
        np.testing.assert_array_equal(before, after)
    assert not np.shares_memory(res.groupdq, gdq)
    assert not np.shares_memory(res.zeroframe, zf)


# --------------------------------------------------------------------------------------------
# Hand-made cases
# --------------------------------------------------------------------------------------------
def _ramp(values, ny=5, nx=5, where=(2, 2), base=1000.0):
    """One integration, constant ``base`` everywhere except the pixel ``where``."""
    ngroups = len(values)
    data = np.full((1, ngroups, ny, nx), base, dtype=np.float32)
    data[0, :, where[0], where[1]] = values
    return data


def _plain(data, thresh=50000.0, **kw):
    ny, nx = data.shape[-2:]
    gdq = np.zeros(data.shape, np.uint8)
    pdq = np.zeros((ny, nx), np.uint32)
    t = np.full((ny, nx), thresh, np.float32)
    sdq = np.zeros((ny, nx), np.uint32)
    return flag_saturation(data, gdq, pdq, t, sdq, **kw)


@pytest.mark.parametrize(
    ("values", "first_sat"),
    [
        ([60000, 61000, 62000, 63000], 0),
        ([20000, 40000, 50000, 49000], 2),  # at threshold counts, later dip still flagged
        ([10000, 20000, 30000, 40000], None),
    ],
)
def test_saturation_onset(values, first_sat):
    res = _plain(_ramp(values), n_pix_grow_sat=0)
    flags = res.groupdq[0, :, 2, 2]
    expected = np.zeros(len(values), np.uint8)
    if first_sat is not None:
        expected[first_sat:] = SATURATED
    np.testing.assert_array_equal(flags, expected)
    assert not res.groupdq[0, :, [0, 1, 3, 4]].any()


def test_saturation_sets_no_do_not_use():
    """Like the official step, saturation itself adds only SATURATED."""
    res = _plain(_ramp([60000, 61000, 62000]))
    assert np.all(res.groupdq[0, :, 2, 2] == SATURATED)


@pytest.mark.parametrize("n_grow", [0, 1, 2, 3])
@pytest.mark.parametrize("where", [(2, 3), (0, 0), (4, 6), (0, 4)])
def test_growth_box_and_edges(n_grow, where):
    data = _ramp([1000, 60000, 62000], ny=5, nx=7, where=where)
    res = _plain(data, n_pix_grow_sat=n_grow)
    y, x = where
    expected = np.zeros((5, 7), bool)
    expected[max(0, y - n_grow) : y + n_grow + 1, max(0, x - n_grow) : x + n_grow + 1] = True
    assert not res.groupdq[0, 0].any()
    for g in (1, 2):
        np.testing.assert_array_equal(res.groupdq[0, g] == SATURATED, expected)
        np.testing.assert_array_equal(res.groupdq[0, g] == 0, ~expected)


def test_growth_of_existing_saturated_flags():
    """SATURATED flags already in the input group DQ are grown as well."""
    data = np.full((1, 2, 4, 4), 1000.0, np.float32)
    gdq = np.zeros(data.shape, np.uint8)
    gdq[0, 1, 0, 0] = SATURATED
    res = flag_saturation(
        data,
        gdq,
        np.zeros((4, 4), np.uint32),
        np.full((4, 4), 5e4, np.float32),
        np.zeros((4, 4), np.uint32),
    )
    assert not res.groupdq[0, 0].any()
    np.testing.assert_array_equal(np.argwhere(res.groupdq[0, 1]), [[0, 0], [0, 1], [1, 0], [1, 1]])


def test_nan_threshold_and_no_sat_check():
    data = np.full((1, 3, 2, 3), 62000.0, np.float32)
    data[0, 2, :, 2] = 70000.0  # above the A/D limit: flagged even when unchecked
    thresh = np.array([[50000, np.nan, np.nan], [50000, 40000, 40000]], np.float32)
    sat_dq = np.zeros((2, 3), np.uint32)
    sat_dq[1, 1:] = NO_SAT_CHECK
    sat_dq[0, 0] = 1 << 9
    pdq = np.full((2, 3), 4, np.uint32)
    res = flag_saturation(
        data, np.zeros(data.shape, np.uint8), pdq, thresh, sat_dq, n_pix_grow_sat=0
    )
    sat = (res.groupdq[0] & SATURATED) != 0
    np.testing.assert_array_equal(sat[:, :, 0], True)
    np.testing.assert_array_equal(sat[:, :, 1], False)
    np.testing.assert_array_equal(sat[:, :, 2], [[False, False], [False, False], [True, True]])
    expected_pdq = np.array(
        [[4 | 1 << 9, 4 | NO_SAT_CHECK, 4 | NO_SAT_CHECK], [4, 4 | NO_SAT_CHECK, 4 | NO_SAT_CHECK]],
        np.uint32,
    )
    np.testing.assert_array_equal(res.pixeldq, expected_pdq)
    assert res.pixeldq.dtype == np.uint32


def test_custom_atod_limit():
    data = np.full((1, 1, 1, 1), 1000.0, np.float32)
    args = (
        np.zeros((1, 1, 1, 1), np.uint8),
        np.zeros((1, 1), np.uint32),
        np.full((1, 1), np.nan, np.float32),
        np.zeros((1, 1), np.uint32),
    )
    assert flag_saturation(data, *args, atod_limit=999).groupdq[0, 0, 0, 0] == SATURATED
    assert flag_saturation(data, *args, atod_limit=1000).groupdq[0, 0, 0, 0] == 0


def test_ad_floor_only_current_group():
    res = _plain(_ramp([0.0, -3.0, 5.0, 0.0]), n_pix_grow_sat=2)
    np.testing.assert_array_equal(
        res.groupdq[0, :, 2, 2],
        [AD_FLOOR | DO_NOT_USE, AD_FLOOR | DO_NOT_USE, 0, AD_FLOOR | DO_NOT_USE],
    )
    assert np.count_nonzero(res.groupdq) == 3  # floor flags are not grown


def test_diluted_group_flagged_before_saturated_group():
    """Frames [[1,2],[3,4],[5,6],[7,8]]: group 2 averaging 3,4 has dilution 3.5/4."""
    pattern = saturation_read_pattern(4, 2)
    assert pattern == [[1, 2], [3, 4], [5, 6], [7, 8]]
    thresh = 40000.0
    # group index 1 at 0.9 * thresh (>= 0.875 * thresh), group index 2 saturated
    data = _ramp([10000, 36000, 41000, 45000], ny=5, nx=5)
    res = _plain(data, thresh=thresh, n_pix_grow_sat=1, read_pattern=pattern)
    box = np.zeros((5, 5), bool)
    box[1:4, 1:4] = True
    np.testing.assert_array_equal(res.groupdq[0, 1] == DO_NOT_USE, box)
    np.testing.assert_array_equal(res.groupdq[0, 2] == SATURATED, box)
    assert not res.groupdq[0, 0].any()
    # below the diluted threshold: nothing extra
    data[0, 1, 2, 2] = 34000
    res = _plain(data, thresh=thresh, n_pix_grow_sat=1, read_pattern=pattern)
    assert not res.groupdq[0, 1].any()
    # NFRAMES=1 has no dilution
    res = _plain(
        _ramp([10000, 39999, 41000, 45000]),
        thresh=thresh,
        read_pattern=saturation_read_pattern(4, 1),
    )
    assert not res.groupdq[0, :2].any()


def test_second_group_check_with_bias():
    """Frames [[1,2],[5,6],[9,10]] style pattern: a jump in group 2 saturating group 3."""
    pattern = [[1, 2], [5, 6], [9, 10]]
    thresh = 50000.0
    bias_level = 12000.0
    # group 1: slow signal, extrapolates to below threshold by frame 10
    # group 2: jump larger than (thresh - group1) / 2; group 3 saturated
    data = _ramp([13000, 33000, 52000], ny=3, nx=3, where=(1, 1))
    bias = np.full((3, 3), bias_level, np.float32)
    res = _plain(data, thresh=thresh, n_pix_grow_sat=0, read_pattern=pattern, bias=bias)
    np.testing.assert_array_equal(res.groupdq[0, :, 1, 1], [0, DO_NOT_USE, SATURATED])
    # jump too small -> not flagged
    data[0, 1, 1, 1] = 30000  # 17000 < (50000 - 13000) / 2
    res = _plain(data, thresh=thresh, n_pix_grow_sat=0, read_pattern=pattern, bias=bias)
    np.testing.assert_array_equal(res.groupdq[0, :, 1, 1], [0, 0, SATURATED])
    # without bias, group 1 (13000 DN) extrapolates to 13000 / 1.5 * 10 > thresh -> not flagged
    data[0, 1, 1, 1] = 33000
    res = _plain(data, thresh=thresh, n_pix_grow_sat=0, read_pattern=pattern)
    np.testing.assert_array_equal(res.groupdq[0, :, 1, 1], [0, 0, SATURATED])


def test_second_group_check_needs_three_groups():
    data = _ramp([13000, 52000])
    res = _plain(data, n_pix_grow_sat=0, read_pattern=[[1], [2]])
    np.testing.assert_array_equal(res.groupdq[0, :, 2, 2], [0, SATURATED])


def test_zeroframe():
    data = np.full((2, 2, 4, 4), 1000.0, np.float32)
    zf = np.full((2, 4, 4), 500.0, np.float32)
    zf[0, 0, 0] = 60000.0
    zf[1, 3, 3] = -2.0
    zf[1, 0, 3] = np.nan
    res = _plain(data, zeroframe=zf, n_pix_grow_sat=1)
    expected = np.full((2, 4, 4), 500.0, np.float32)
    expected[0, :2, :2] = 0.0
    expected[1, 3, 3] = 0.0
    expected[1, 0, 3] = np.nan
    np.testing.assert_array_equal(res.zeroframe, expected)
    assert not res.groupdq.any()  # the zero frame does not flag groups


def test_counts_flagged_pixels():
    res = _plain(_ramp([0.0, 60000.0]), n_pix_grow_sat=0)
    assert (res.n_saturated, res.n_floor) == (1, 1)


def test_grow_mask_matches_scipy_dilation():
    ndimage = pytest.importorskip("scipy.ndimage")
    rng = np.random.default_rng(5)
    for shape in [(1, 1), (1, 6), (3, 2), (6, 9)]:
        for n in range(4):
            mask = rng.random(shape) < 0.15
            expected = mask.copy()
            if n:
                expected = ndimage.binary_dilation(mask, structure=np.ones((2 * n + 1,) * 2, bool))
            np.testing.assert_array_equal(grow_mask(mask, n), expected)


def test_result_is_frozen():
    res = _plain(_ramp([1.0, 2.0]))
    assert isinstance(res, SaturationResult)
    with pytest.raises(AttributeError):
        res.groupdq = None


# --------------------------------------------------------------------------------------------
# Argument errors
# --------------------------------------------------------------------------------------------
def _good():
    data = np.ones((1, 3, 2, 2), np.float32)
    return {
        "data": data,
        "groupdq": np.zeros(data.shape, np.uint8),
        "pixeldq": np.zeros((2, 2), np.uint32),
        "sat_thresh": np.full((2, 2), 5e4, np.float32),
        "sat_dq": np.zeros((2, 2), np.uint32),
    }


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"data": np.ones((3, 2, 2), np.float32)}, r"data has shape \(3, 2, 2\); expected 4"),
        ({"groupdq": np.zeros((1, 2, 2, 2), np.uint8)}, r"groupdq has shape \(1, 2, 2, 2\)"),
        ({"pixeldq": np.zeros((2, 3), np.uint32)}, r"pixeldq has shape \(2, 3\); expected"),
        ({"sat_thresh": np.ones(4)}, r"sat_thresh has shape \(4,\); expected \(2, 2\)"),
        ({"sat_dq": np.zeros((3, 2), np.uint32)}, r"sat_dq has shape \(3, 2\)"),
        ({"zeroframe": np.ones((2, 2, 2))}, r"zeroframe has shape \(2, 2, 2\); expected \(1, 2"),
        ({"bias": np.ones((1, 2))}, r"bias has shape \(1, 2\); expected \(2, 2\)"),
        ({"n_pix_grow_sat": -1}, r"n_pix_grow_sat=-1 is invalid; expected an integer >= 0"),
        ({"n_pix_grow_sat": 1.5}, r"n_pix_grow_sat=1.5 is invalid"),
        ({"read_pattern": [[1], [2]]}, r"read_pattern lists 2 groups; expected ngroups=3"),
        ({"read_pattern": [[1], [], [3]]}, r"read_pattern\[1\]=\[\] is invalid"),
    ],
)
def test_bad_arguments(change, match):
    kwargs = _good() | change
    with pytest.raises(ValueError, match=match):
        flag_saturation(**kwargs)


def test_bad_read_pattern_ignored_when_not_used():
    kwargs = _good() | {"read_pattern": [[1]], "use_readpatt": False}
    flag_saturation(**kwargs)


@pytest.mark.parametrize(("ngroups", "nframes"), [(0, 1), (2, 0), (2.0, 1), (True, 1)])
def test_read_pattern_helper_rejects(ngroups, nframes):
    with pytest.raises(ValueError, match=r"(ngroups|nframes)=.* is invalid; expected an integer"):
        saturation_read_pattern(ngroups, nframes)


# --------------------------------------------------------------------------------------------
# Parity with the official stcal kernel on identical random inputs
# --------------------------------------------------------------------------------------------
@pytest.mark.jwst_oracle
@pytest.mark.parametrize("zero_frame", [True, False])
@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize("n_grow", [0, 1, 2])
@pytest.mark.parametrize(("nframes", "use_readpatt"), [(1, True), (2, True), (4, True), (4, False)])
@pytest.mark.parametrize("seed", [11, 12])
def test_matches_stcal(seed, nframes, use_readpatt, n_grow, use_bias, zero_frame):
    stcal_sat = pytest.importorskip("stcal.saturation.saturation")
    data, gdq, pdq, thresh, sat_dq, zf, pattern, bias = make_inputs(
        seed, nints=2, ngroups=6, ny=9, nx=10, nframes=nframes
    )
    zf = zf if zero_frame else None
    bias = bias if use_bias else None
    ours = flag_saturation(
        data,
        gdq,
        pdq,
        thresh,
        sat_dq,
        n_pix_grow_sat=n_grow,
        zeroframe=zf,
        read_pattern=pattern,
        bias=bias,
        use_readpatt=use_readpatt,
    )
    # the official kernel updates its array arguments in place: give it copies
    gdq_off, pdq_off, zf_off = stcal_sat.flag_saturated_pixels(
        data.copy(),
        gdq.copy(),
        pdq.copy(),
        thresh.copy(),
        sat_dq.copy(),
        65535.0,
        PIXEL,
        n_pix_grow_sat=n_grow,
        zframe=None if zf is None else zf.copy(),
        read_pattern=pattern if use_readpatt else None,
        bias=None if bias is None else bias.copy(),
    )
    np.testing.assert_array_equal(ours.groupdq, gdq_off)
    np.testing.assert_array_equal(ours.pixeldq, pdq_off)
    if zf is None:
        assert ours.zeroframe is None
    else:
        np.testing.assert_array_equal(ours.zeroframe, zf_off)
