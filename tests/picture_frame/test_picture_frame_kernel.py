"""The picture_frame kernel: regions, exact removal of a noiseless frame, bad arguments."""

import numpy as np
import pytest
from _cases import N, frame_shape

from webbcal.picture_frame import NoScalingDataError, correct_picture_frame, frame_regions


def test_region_sizes_and_borders():
    center, edge = frame_regions(np.ones((N, N), bool))
    assert center.sum() == (1984 - 76) ** 2
    # The band: inside [4, 2043) on both axes, less the pixels with both in [75, 1985).
    assert edge.sum() == (2043 - 4) ** 2 - (1985 - 75) ** 2
    assert not (center & edge).any()
    for y, x, where in [(76, 76, "c"), (1983, 1983, "c"), (75, 75, ""), (1984, 1984, ""),
                        (4, 1000, "e"), (3, 1000, ""), (2042, 100, "e"), (2043, 100, ""),
                        (1000, 74, "e"), (1000, 1985, "e"), (1000, 1984, "")]:  # fmt: skip
        assert (center[y, x], edge[y, x]) == (where == "c", where == "e"), (y, x)
    mask = np.ones((N, N), bool)
    mask[:, 1500:] = False
    center, edge = frame_regions(mask)
    assert not center[:, 1500:].any() and not edge[:, 1500:].any()


def test_noiseless_frame_is_removed_exactly():
    """rate = b + a * reference: every plane becomes 0; in a ramp every group becomes
    group 0, which is not changed."""
    ref = frame_shape()
    rates = np.stack([0.7 + 0.2 * ref, 1.5 + 0.05 * ref]).astype(np.float32)
    rates[1, 500, 500] = np.nan  # ignored by the medians, stays NaN
    mask = np.ones((N, N), bool)
    out = correct_picture_frame(rates, ref, mask, is_ramp=False)
    assert np.isnan(out[1, 500, 500])
    out[1, 500, 500] = 0.0
    np.testing.assert_allclose(out, 0.0, atol=1e-6)
    assert np.isnan(rates[1, 500, 500])  # the input is not modified
    zero = np.full((N, N), 100.0, np.float32)
    times = np.array([1.0, 2.0, 3.0], np.float32)
    ramp = (zero + times[:, None, None] * rates[0])[None]
    out = correct_picture_frame(ramp, ref, mask, is_ramp=True)
    np.testing.assert_array_equal(out[0, 0], ramp[0, 0])
    # Each later group loses its whole increase since group 0.
    np.testing.assert_allclose(out[0, 1:], np.broadcast_to(ramp[0, 0], (2, N, N)), atol=3e-5)


def test_bad_arguments():
    ref = frame_shape()
    mask = np.ones((N, N), bool)
    with pytest.raises(ValueError, match=r"data \(1, 1, 2048, 2048\).*2 are needed|1 group"):
        correct_picture_frame(np.zeros((1, 1, N, N), np.float32), ref, mask, is_ramp=True)
    with pytest.raises(ValueError, match=r"data \(64, 64\), reference \(2048, 2048\)"):
        correct_picture_frame(np.zeros((64, 64), np.float32), ref, mask, is_ramp=False)
    band_only = mask & (ref == 2)
    with pytest.raises(NoScalingDataError, match="no background pixel in the centre region"):
        correct_picture_frame(np.ones((N, N), np.float32), ref, band_only, is_ramp=False)
    with pytest.raises(ValueError, match=r"same median \(1\) in the centre region"):
        correct_picture_frame(np.ones((N, N), np.float32), np.ones((N, N)), mask, is_ramp=False)
    with pytest.raises(ValueError, match=r"background has shape \(2, 2, 2\)"):
        frame_regions(np.ones((2, 2, 2), bool))
