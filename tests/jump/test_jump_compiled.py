"""The compiled two-point flagging (all regimes) equals the numpy implementation bit for bit."""

import itertools

import numpy as np
import pytest
from _jump_blocks import make_block

from webbcal import dqflags
from webbcal.jump import differences
from webbcal.jump._detect_kernel import thresholds_array
from webbcal.jump._network import apply_network, selection_network, sorting_network
from webbcal.jump._sigclip import sigma_clip_codes
from webbcal.jump.params import JumpParameters


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 9, 16, 17, 33, 76])
def test_networks_give_exact_order_statistics(n):
    rng = np.random.default_rng(n)
    # Few distinct values: many ties; +inf stands for unusable values.
    values = rng.integers(-3, 4, size=(n, 257)).astype(np.float32)
    values[rng.random(values.shape) < 0.1] = np.inf
    expected = np.sort(values, axis=0)
    full = values.copy()
    apply_network(full, sorting_network(n), full.shape[1])
    assert np.array_equal(full, expected)
    positions = (n // 2,) if n % 2 else (n // 2 - 1, n // 2)
    part = values.astype(np.float64)
    apply_network(part, selection_network(n, positions), part.shape[1])
    assert np.array_equal(part[list(positions)], expected[list(positions)])


def test_network_arguments():
    with pytest.raises(ValueError, match=r"n=0: expected at least 1 value"):
        selection_network(0, ())
    with pytest.raises(ValueError, match=r"positions=\(5,\): expected ranks in \[0, 5\)"):
        selection_network(5, (5,))


def _block(seed, nints, ngroups):
    data, groupdq, gain, readnoise = (a[..., 1:, :] for a in make_block(seed, nints, ngroups))
    groupdq = groupdq.copy()
    rng = np.random.default_rng(seed)
    groupdq[rng.random(groupdq.shape) < 0.01] |= dqflags.JUMP_DET  # flags already there
    groupdq[min(1, nints - 1), 1] |= dqflags.DO_NOT_USE  # a plane DO_NOT_USE everywhere
    return data, groupdq, gain, readnoise


def _both(data, groupdq, gain, readnoise, monkeypatch, **kwargs):
    with np.errstate(over="ignore", invalid="ignore"):
        fast = differences.two_point_jumps(data, groupdq, gain, readnoise, **kwargs)
        with monkeypatch.context() as m:
            m.setattr(differences, "_kernel_ok", lambda *args: False)
            slow = differences.two_point_jumps(data, groupdq, gain, readnoise, **kwargs)
    assert np.array_equal(fast.groupdq, slow.groupdq)
    assert (fast.n_primary, fast.mode, fast.skipped) == (slow.n_primary, slow.mode, slow.skipped)
    return fast


_PARAMS = [
    JumpParameters(min_jump_to_flag_neighbors=6.0, max_jump_to_flag_neighbors=200.0),
    JumpParameters(
        rejection_threshold=3.0,
        flag_4_neighbors=False,
        after_jump_flag_dn1=10.0,
        after_jump_flag_dn2=800.0,
        only_use_ints=False,
    ),
    JumpParameters(rejection_threshold=2.5, after_jump_flag_dn1=30.0, min_jump_to_flag_neighbors=3),
]


@pytest.mark.parametrize(
    ("mode", "nints", "ngroups"),
    [
        ("iterative", 1, 10),
        ("iterative", 3, 4),
        ("iterative", 2, 6),
        ("single_pass", 4, 20),
        ("single_pass", 1, 12),
        ("sigma_clip", 110, 4),
        ("sigma_clip", 5, 7),
    ],
)
def test_compiled_flagging_equals_numpy(mode, nints, ngroups, monkeypatch):
    """Jumps, neighbours, after-jump groups and counts, with every awkward input."""
    data, groupdq, gain, readnoise = _block(nints * 100 + ngroups, nints, ngroups)
    n_flagged = 0
    for params, (after, clear, rows) in itertools.product(
        _PARAMS, [((0, 0), True, slice(None)), ((1, 3), False, slice(1, -1)), ((2, 0), True, 2)]
    ):
        rows = slice(None, None, rows) if isinstance(rows, int) else rows
        out = _both(
            data,
            groupdq,
            gain,
            readnoise,
            monkeypatch,
            nframes=2,
            params=params,
            mode=mode,
            after_jump_groups=after,
            clear_planes=clear,
            count_rows=rows,
        )
        n_flagged += out.n_primary
    assert n_flagged > 0


def test_mode_chosen_and_planes_cleared(monkeypatch):
    """Sigma clipping chosen from the DQ, and a group flagged in every pixel un-flagged."""
    rng = np.random.default_rng(5)
    nints, ngroups, ny, nx = 120, 3, 4, 9
    data = np.cumsum(rng.normal(20.0, 3.0, (nints, ngroups, ny, nx)), axis=1).astype(np.float32)
    data[7, 2:] += 500.0  # the whole plane jumps: cleared again
    data[9, 1:, 2, 3] += 400.0
    groupdq = np.zeros(data.shape, np.uint8)
    gain = np.full((ny, nx), 2.0, np.float32)
    readnoise = np.full((ny, nx), 5.0, np.float32)
    out = _both(data, groupdq, gain, readnoise, monkeypatch, nframes=1, params=JumpParameters())
    assert out.mode == "sigma_clip"
    assert not np.any(out.groupdq[7, 2] & dqflags.JUMP_DET)
    assert out.groupdq[9, 1, 2, 3] & dqflags.JUMP_DET


@pytest.mark.parametrize("per_group", [True, False])
def test_sigma_clip_codes_equal_numpy_masks(per_group):
    """The one-pass sigma-clipping kernel gives the masks of the numpy reference."""
    data, groupdq, gain, readnoise = _block(3, 104, 5)
    params = JumpParameters(rejection_threshold=3.0, only_use_ints=per_group)
    after_e = (50.0, 900.0)
    with np.errstate(over="ignore", invalid="ignore"):
        jumps, nbr, above = differences._detect_block_numpy(
            data,
            gain,
            readnoise,
            groupdq,
            nframes=1,
            mode="sigma_clip",
            params=params,
            after_e=after_e,
        )
    code = sigma_clip_codes(
        data,
        groupdq,
        gain,
        readnoise,
        nframes=1,
        sigma=3.0,
        per_group=per_group,
        thresholds=thresholds_array(4.0, 6.0, 5.0, 10.0, 1000.0),
        flag_4_neighbors=True,
        after_e=after_e,
        write_primary=False,
    )
    assert np.array_equal((code & 1) != 0, jumps)
    assert np.array_equal((code & 2) != 0, nbr)
    for a, mask in enumerate(above):
        assert np.array_equal((code & (4 << a)) != 0, mask)
    assert jumps.sum() > 0


def test_drop_unusable_jumps_equals_numpy():
    from webbcal.jump._postflag import drop_unusable_jumps

    rng = np.random.default_rng(3)
    gdq = rng.integers(0, 256, (2, 5, 7, 33)).astype(np.uint8)
    unusable = (gdq & (dqflags.SATURATED | dqflags.DO_NOT_USE)) != 0
    expect = np.where(unusable, gdq & ~np.uint8(dqflags.JUMP_DET), gdq)
    assert (unusable & ((gdq & dqflags.JUMP_DET) != 0)).any()
    drop_unusable_jumps(gdq)
    np.testing.assert_array_equal(gdq, expect)


@pytest.mark.parametrize("rows", [slice(None), slice(1, 4), slice(2, 2)])
def test_planes_all_set_equals_numpy(rows):
    from webbcal.jump._postflag import planes_all_set

    rng = np.random.default_rng(4)
    nints, ngroups = 3, 6
    gdq = rng.integers(0, 4, (nints, ngroups, 5, 9)).astype(np.uint8) * np.uint8(4)
    gdq[0, 1] = dqflags.DO_NOT_USE
    gdq[1, 2, 1:4] = dqflags.JUMP_DET | dqflags.SATURATED  # only within rows 1:4
    gdq[2, 3] = dqflags.JUMP_DET
    gdq[2, 3, 4, 8] = 0  # one unflagged pixel, in the last row
    mask = dqflags.JUMP_DET | dqflags.DO_NOT_USE
    known = np.ones((nints, ngroups), dtype=bool)
    known[0, 0] = False  # stays cleared whatever the plane holds
    gdq[0, 0] = dqflags.DO_NOT_USE
    expect = known & np.all((gdq[:, :, rows] & mask) != 0, axis=(2, 3))
    planes_all_set(gdq, rows, mask, known)
    np.testing.assert_array_equal(known, expect)
    assert known[0, 1] and known[1, 2] == (rows == slice(1, 4) or rows == slice(2, 2))
