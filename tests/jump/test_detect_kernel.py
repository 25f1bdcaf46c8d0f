"""The compiled two-point detection kernel equals the numpy implementation bit for bit."""

import itertools

import numba
import numpy as np
import pytest
from _jump_blocks import make_block as _make_block

from webbcal.jump import _detect_kernel
from webbcal.jump._median import nanmedian_over_differences
from webbcal.jump.differences import (
    _clipped_median,
    _detect_block,
    _detect_block_numpy,
    _first_diffs,
    _kernel_ok,
    two_point_jumps,
)
from webbcal.jump.params import JumpParameters


def _params(mode, flag_4_neighbors):
    return JumpParameters(
        rejection_threshold=4.0 if mode == "iterative" else 3.5,
        three_group_rejection_threshold=6.0,
        four_group_rejection_threshold=5.0,
        flag_4_neighbors=flag_4_neighbors,
        min_jump_to_flag_neighbors=6.0,
        max_jump_to_flag_neighbors=200.0,
    )


def _reference(*args, **kwargs):
    """The numpy implementation; the infinite test values make it warn (the kernel does not)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return _detect_block_numpy(*args, **kwargs)


def _assert_same(got, expected):
    jumps, nbr, above = got
    ref_jumps, ref_nbr, ref_above = expected
    assert jumps.dtype == bool
    assert np.array_equal(jumps, ref_jumps)
    if ref_nbr is None:
        assert nbr is None
    else:
        assert np.array_equal(nbr, ref_nbr)
    assert len(above) == len(ref_above)
    for a, b in zip(above, ref_above, strict=True):
        assert np.array_equal(a, b)


_AFTER_E = ((), (300.0,), (120.0, 4000.0))
_CASES = [
    (seed, nints, ngroups, nframes)
    for seed, (nints, ngroups, nframes) in enumerate(
        [(1, 3, 1), (1, 4, 4), (2, 5, 1), (1, 10, 2), (3, 6, 1), (2, 12, 5), (1, 12, 1)]
    )
]


@pytest.mark.parametrize("mode", _detect_kernel.MODES)
@pytest.mark.parametrize(("seed", "nints", "ngroups", "nframes"), _CASES)
def test_kernel_equals_numpy(seed, nints, ngroups, nframes, mode):
    data, groupdq, gain, readnoise = (a[..., 1:, :] for a in _make_block(seed, nints, ngroups))
    assert _kernel_ok(data, gain, readnoise, groupdq, mode)
    n_jumps = 0
    for flag_4_neighbors, after_e in itertools.product((True, False), _AFTER_E):
        params = _params(mode, flag_4_neighbors)
        kwargs = {"nframes": nframes, "mode": mode, "params": params, "after_e": after_e}
        got = _detect_block(data, gain, readnoise, groupdq, **kwargs)
        expected = _reference(data, gain, readnoise, groupdq, **kwargs)
        _assert_same(got, expected)
        n_jumps += int(expected[0].sum())
    assert n_jumps > 0  # the cases do exercise the detection


def _significances(data, groupdq, gain, readnoise, nframes):
    """Float64 differences, medians, read-noise variances and significances (numpy path)."""
    with np.errstate(over="ignore", invalid="ignore"):
        diffs = _first_diffs(data, gain, groupdq)
        rn_var = (readnoise * gain) ** 2 / np.float64(nframes)
    median = nanmedian_over_differences(diffs)
    sigma = np.sqrt(np.abs(median) + rn_var)
    sigma[sigma == 0.0] = np.nan
    with np.errstate(invalid="ignore"):
        return diffs, median, rn_var, np.abs(diffs - median) / sigma


def _iteration_tops(absdiffs, rn_var):
    """(largest significance, usable count) of each outlier iteration of one pixel.

    Flags the largest outlier at every iteration, whatever its significance.
    """
    work = absdiffs[..., None].copy()
    tops = []
    for iteration in range(work.size):
        med = _clipped_median(work)
        if iteration > 0:
            med = med.astype(np.float32).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.abs((work - med).astype(np.float32)) / np.sqrt(np.abs(med) + rn_var)
        if not np.isfinite(ratio).any():
            break
        top = np.nanmax(ratio)
        tops.append((top, np.count_nonzero(np.isfinite(work))))
        work[ratio == top] = np.nan
    return tops


def _edges(value):
    """A threshold equal to ``value`` and the next float64 below it."""
    return (float(value), float(np.nextafter(value, -np.inf)))


def _run_both(data, groupdq, gain, readnoise, nframes, mode, after_e=(), **thresholds):
    params = JumpParameters(**{"max_jump_to_flag_neighbors": 1e6, **thresholds})
    kwargs = {"nframes": nframes, "mode": mode, "params": params, "after_e": after_e}
    got = _detect_block(data, gain, readnoise, groupdq, **kwargs)
    expected = _reference(data, gain, readnoise, groupdq, **kwargs)
    _assert_same(got, expected)


@pytest.fixture
def one_thread():
    """Run numba kernels on one thread (these tests make hundreds of tiny calls)."""
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    yield
    numba.set_num_threads(before)


@pytest.mark.usefixtures("one_thread")
@pytest.mark.parametrize(("nints", "ngroups", "nframes"), [(1, 10, 1), (2, 6, 3)])
def test_thresholds_at_exact_significances(nints, ngroups, nframes):
    """Thresholds equal to computed significances expose any difference in rounding.

    A threshold equal to a difference's significance, or one float64 step
    below, flips that difference's flag if the kernel rounds anything
    (electrons, differences, medians, noise) differently from numpy.
    """
    data, groupdq, gain, readnoise = (
        a[..., 1:, :] for a in _make_block(40 + ngroups, nints, ngroups)
    )
    diffs, median, rn_var, ratio = _significances(data, groupdq, gain, readnoise, nframes)
    rng = np.random.default_rng(ngroups)
    with np.errstate(invalid="ignore"):
        significant = np.nanmax(np.where(np.isfinite(ratio), ratio, 0.0), axis=(0, 1)) > 1.0
    pixels = [tuple(p) for p in np.argwhere(significant)]
    chosen = [pixels[j] for j in rng.choice(len(pixels), 12, replace=False)]
    for r, c in chosen:
        finite = np.isfinite(ratio[:, :, r, c])
        top = ratio[:, :, r, c][finite].max()
        excess = (diffs - median)[:, :, r, c][finite].max()
        for edge in _edges(top):
            _run_both(
                data,
                groupdq,
                gain,
                readnoise,
                nframes,
                "single_pass",
                rejection_threshold=edge,
                min_jump_to_flag_neighbors=edge,
            )
            _run_both(
                data,
                groupdq,
                gain,
                readnoise,
                nframes,
                "single_pass",
                min_jump_to_flag_neighbors=0.0,
                max_jump_to_flag_neighbors=edge,
            )
        for edge in _edges(excess):
            _run_both(data, groupdq, gain, readnoise, nframes, "single_pass", after_e=(edge,))

    # Iterative: thresholds at the significance of the first iterations (later
    # ones use medians re-rounded to float32), for each usable-count regime.
    names = {2: "three_group_rejection_threshold", 3: "four_group_rejection_threshold"}
    n_checked = 0
    for r, c in itertools.product(range(data.shape[2]), range(data.shape[3])):
        if n_checked > 40:
            break
        tops = _iteration_tops(np.abs(diffs[:, :, r, c]), rn_var[r, c])
        for j in range(min(len(tops), 3)):
            top, nusable = tops[j]
            if not 0 < top < np.inf or not all(t > top for t, _ in tops[:j]):
                continue
            n_checked += 1
            name = names.get(nusable, "rejection_threshold")
            for edge in _edges(top):
                others = {"rejection_threshold": 0.0} if name != "rejection_threshold" else {}
                _run_both(
                    data, groupdq, gain, readnoise, nframes, "iterative", **{**others, name: edge}
                )
    assert n_checked > 10


def test_contiguous_arrays_and_two_point_jumps(monkeypatch):
    """Whole (C-contiguous) arrays, and the full two-point flagging, agree too."""
    data, groupdq, gain, readnoise = (
        np.ascontiguousarray(a[..., 1:, :]) for a in _make_block(11, 2, 8)
    )
    params = JumpParameters(
        flag_4_neighbors=True, after_jump_flag_dn1=50.0, after_jump_flag_dn2=1000.0
    )
    kwargs = {"nframes": 1, "params": params, "after_jump_groups": (1, 3)}
    for mode in _detect_kernel.MODES:
        fast = two_point_jumps(data, groupdq, gain, readnoise, mode=mode, **kwargs)
        with monkeypatch.context() as m:
            m.setattr("webbcal.jump.differences._detect_block", _reference)
            slow = two_point_jumps(data, groupdq, gain, readnoise, mode=mode, **kwargs)
        assert np.array_equal(fast.groupdq, slow.groupdq)
        assert fast.n_primary == slow.n_primary > 0


def test_other_dtypes_use_numpy():
    data, groupdq, gain, readnoise = _make_block(3, 1, 5)
    assert not _kernel_ok(data.astype(np.float64), gain, readnoise, groupdq, "iterative")
    assert _kernel_ok(data, gain, readnoise, groupdq, "sigma_clip")
    assert not _kernel_ok(data, gain, readnoise, groupdq.astype(np.uint16), "sigma_clip")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"mode": "sigma_clip"}, r"mode='sigma_clip': expected one of"),
        ({"nframes": 0}, r"nframes=0: expected an integer >= 1"),
        ({"gain": np.ones((2, 3))}, r"gain: expected a 2-D float32 array, got float64"),
        ({"readnoise": np.ones((2, 4), np.float32)}, r"readnoise: shape \(2, 4\) expected"),
    ],
)
def test_bad_arguments(kwargs, match):
    args = {
        "data": np.zeros((1, 4, 2, 3), np.float32),
        "groupdq": np.zeros((1, 4, 2, 3), np.uint8),
        "gain": np.ones((2, 3), np.float32),
        "readnoise": np.ones((2, 3), np.float32),
        "nframes": 1,
        "mode": "iterative",
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        _detect_kernel.detect_block(
            args.pop("data"),
            args.pop("groupdq"),
            args.pop("gain"),
            args.pop("readnoise"),
            rejection_threshold=4.0,
            three_group_rejection_threshold=6.0,
            four_group_rejection_threshold=5.0,
            flag_4_neighbors=True,
            min_jump_to_flag_neighbors=10.0,
            max_jump_to_flag_neighbors=1000.0,
            **args,
        )
