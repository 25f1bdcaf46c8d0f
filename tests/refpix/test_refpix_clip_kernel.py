"""The compiled sigma-clipped mean equals the whole-array numpy version bit for bit."""

import numpy as np
import pytest

from webbcal.refpix import stats


@pytest.mark.parametrize("shape", [(3, 4, 1024), (16, 8, 130), (5, 2), (2, 3, 7), (1, 1)])
def test_clipped_mean_equals_numpy(shape):
    rng = np.random.default_rng(sum(shape))
    x = rng.normal(100.0, 5.0, shape)
    x[rng.random(shape) < 0.02] += 500.0  # outliers to clip
    x[rng.random(shape) < 0.01] = np.nan
    x[rng.random(shape) < 0.01] = np.inf
    valid = rng.random(shape) > 0.1
    if shape[0] > 1:
        valid[0] = False  # a sample without usable values
    for low, high in ((3.0, 3.0), (2.0, 4.0), (0.5, 0.5)):
        mean, count = stats.clipped_mean(x, valid, low=low, high=high)
        ref_mean, ref_count = stats._clipped_mean_numpy(x, valid, low=low, high=high)
        np.testing.assert_array_equal(mean, ref_mean)
        np.testing.assert_array_equal(count, ref_count)
        assert mean.shape == shape[:-1] and count.dtype == ref_count.dtype


def test_clipped_mean_broadcast_valid_and_float32():
    rng = np.random.default_rng(3)
    x = rng.normal(0, 1, (4, 6, 300)).astype(np.float32)
    valid = rng.random((6, 300)) > 0.2
    mean, count = stats.clipped_mean(x, valid[None], low=3.0, high=3.0)
    ref_mean, ref_count = stats._clipped_mean_numpy(
        x.astype(np.float64), np.broadcast_to(valid, x.shape), low=3.0, high=3.0
    )
    np.testing.assert_array_equal(mean, ref_mean)
    np.testing.assert_array_equal(count, ref_count)
