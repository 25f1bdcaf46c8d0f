"""The compiled variance sums of resample give the numpy reference's bits."""

import numpy as np
import pytest

from webbcal.resample._variance_sums import accumulate, accumulate_numpy, finish, finish_numpy


def _plane(rng, shape, *, special=True):
    a = rng.uniform(0.0, 5.0, shape).astype(np.float32)
    if special:
        flat = a.reshape(-1)
        idx = rng.choice(flat.size, size=flat.size // 5, replace=False)
        values = np.array([np.nan, np.inf, -np.inf, -1.0, 0.0, 3e38, 1e-30], dtype=np.float32)
        flat[idx] = values[rng.integers(0, len(values), idx.size)]
    return a


@pytest.mark.parametrize("mode", ["ivm", "constant"])
def test_accumulate_matches_numpy_over_several_exposures(mode):
    rng = np.random.default_rng(3)
    shape = (37, 53)
    sums = {k: (np.full(shape, np.nan, np.float32), np.zeros(shape, np.float32))
            for k in ("compiled", "numpy")}  # fmt: skip
    for _ in range(3):
        var = _plane(rng, shape)
        rn = _plane(rng, shape) if mode == "ivm" else None
        accumulate(*sums["compiled"], var, rn, 2.5)
        accumulate_numpy(*sums["numpy"], var, rn, 2.5)
    for a, b in zip(sums["compiled"], sums["numpy"], strict=True):
        np.testing.assert_array_equal(a.view(np.uint32), b.view(np.uint32))
    # Not trivially empty: most pixels were added, some were not.
    wt = sums["numpy"][1]
    assert 0.5 < np.mean(wt > 0) < 1.0


def test_accumulate_known_values():
    wsum = np.array([[np.nan, 1.0, 2.0]], np.float32)
    wt = np.array([[0.0, 1.0, 1.0]], np.float32)
    var = np.array([[4.0, -1.0, 8.0]], np.float32)
    rn = np.array([[0.5, 1.0, 0.0]], np.float32)  # weights 2, 1, 0
    accumulate(wsum, wt, var, rn)
    np.testing.assert_array_equal(wsum, [[16.0, 1.0, 2.0]])  # 4 * 2 * 2; V<0 and w=0 skipped
    np.testing.assert_array_equal(wt, [[2.0, 1.0, 1.0]])


def test_finish_matches_numpy_and_absent_planes_are_nan():
    rng = np.random.default_rng(5)
    shape = (29, 41)
    wsums = [_plane(rng, shape), None, _plane(rng, shape)]
    wts = [_plane(rng, shape), None, _plane(rng, shape)]
    planes, err = finish(wsums, wts, 0.81, shape)
    ref_planes, ref_err = finish_numpy(wsums, wts, 0.81, shape)
    for a, b in zip(planes, ref_planes, strict=True):
        np.testing.assert_array_equal(a.view(np.uint32), b.view(np.uint32))
    np.testing.assert_array_equal(err.view(np.uint32), ref_err.view(np.uint32))
    assert np.isnan(planes[1]).all()
    # wsum 8, wt 2, scaling 0.5 -> 1; err over planes 1 and NaN -> 1; all NaN -> NaN
    p, e = finish([np.array([[8.0, np.nan]], np.float32)], [np.array([[2.0, 1.0]], np.float32)],
                  0.5, (1, 2))  # fmt: skip
    assert p[0][0, 0] == 1.0 and e[0, 0] == 1.0 and np.isnan(e[0, 1])


@pytest.mark.parametrize("mode", ["ivm", "ivm_self", "constant"])
def test_start_in_place_equals_accumulate_onto_new_sums(mode):
    """The first exposure's sums written over its plane: the bits of ``accumulate`` onto
    NaN / 0 sums, also when the plane is the read-noise plane that gives the weights."""
    from webbcal.resample._variance_sums import start_in_place

    rng = np.random.default_rng(11)
    shape = (31, 47)
    var = _plane(rng, shape)
    rn = {"ivm": _plane(rng, shape), "ivm_self": var, "constant": None}[mode]
    wsum_ref, wt_ref = np.full(shape, np.nan, np.float32), np.zeros(shape, np.float32)
    accumulate_numpy(wsum_ref, wt_ref, var, None if rn is None else rn.copy(), 2.5)
    plane, wt = var.copy(), np.zeros(shape, np.float32)
    start_in_place(plane, wt, plane if mode == "ivm_self" else rn, 2.5)
    np.testing.assert_array_equal(plane.view(np.uint32), wsum_ref.view(np.uint32))
    np.testing.assert_array_equal(wt.view(np.uint32), wt_ref.view(np.uint32))
    assert 0.3 < np.mean(wt > 0) < 1.0  # some pixels added, some not
    with pytest.raises(ValueError, match="C-contiguous float32"):
        start_in_place(plane.astype(np.float64), wt)


def test_finish_in_place_writes_over_the_sums():
    rng = np.random.default_rng(13)
    shape = (23, 19)
    wsums = [_plane(rng, shape), None, _plane(rng, shape)]
    wts = [_plane(rng, shape), None, _plane(rng, shape)]
    ref_planes, ref_err = finish([w if w is None else w.copy() for w in wsums], wts, 0.7, shape)
    planes, err = finish(wsums, wts, 0.7, shape, in_place=True)
    assert planes[0] is wsums[0] and planes[2] is wsums[2]
    for a, b in zip(planes, ref_planes, strict=True):
        np.testing.assert_array_equal(a.view(np.uint32), b.view(np.uint32))
    np.testing.assert_array_equal(err.view(np.uint32), ref_err.view(np.uint32))


@pytest.mark.parametrize("mode", ["ivm", "ivm_self", "constant"])
def test_finish_single_equals_sums_then_finish(mode):
    """One exposure finished straight from its drizzled planes: the bits of the numpy
    sums (NaN / 0 start) followed by ``finish_numpy``, absent planes NaN, also when the
    read-noise plane that gives the weights is one of the planes overwritten."""
    from webbcal.resample._variance_sums import finish_single

    rng = np.random.default_rng(17)
    shape = (33, 45)
    planes = [_plane(rng, shape), None, _plane(rng, shape)]
    rn = {"ivm": _plane(rng, shape), "ivm_self": planes[2], "constant": None}[mode]
    sums = []
    for var in planes:
        if var is None:
            sums.append((None, None))
            continue
        wsum, wt = np.full(shape, np.nan, np.float32), np.zeros(shape, np.float32)
        accumulate_numpy(wsum, wt, var, None if rn is None else rn.copy(), 3.7)
        sums.append((wsum, wt))
    ref_planes, ref_err = finish_numpy([s[0] for s in sums], [s[1] for s in sums], 0.64, shape)
    given = [None if p is None else p.copy() for p in planes]
    rn_arg = given[2] if mode == "ivm_self" else rn
    out, err = finish_single(given, 0.64, rn_arg, 3.7)
    assert out[0] is given[0] and out[2] is given[2] and np.isnan(out[1]).all()
    for a, b in zip(out, ref_planes, strict=True):
        np.testing.assert_array_equal(a.view(np.uint32), b.view(np.uint32))
    np.testing.assert_array_equal(err.view(np.uint32), ref_err.view(np.uint32))
    assert 0.3 < np.mean(np.isfinite(out[0])) < 1.0  # some pixels kept, some not
    with pytest.raises(ValueError, match="C-contiguous float32"):
        finish_single([planes[0].astype(np.float64)], 1.0)
