"""The compiled pairwise sum equals numpy's sum bit for bit, in float64 and float32."""

import numpy as np
import pytest

from webbcal.lib._pairwise_kernel import pairwise_sum


@pytest.mark.parametrize("n", [1, 5, 7, 8, 9, 16, 127, 128, 129, 255, 256, 1000, 1031, 4096])
def test_float64_sum_equals_numpy_sum(n):
    rng = np.random.default_rng(n)
    for _ in range(20):
        a = rng.normal(size=n) * 10.0 ** rng.uniform(-6, 6, n)
        stack = np.stack([a, a[::-1]])  # rows of a 2-D array, summed along the last axis
        assert pairwise_sum(a, 0, n, 0.0) == stack.sum(axis=-1)[0]
        assert pairwise_sum(np.concatenate([[1e300], a]), 1, n, 0.0) == stack.sum(axis=-1)[0]


def test_float32_sum_equals_numpy_sum_bit_for_bit():
    rng = np.random.default_rng(1)
    for n in [*range(1, 300), 1000, 4096, 19200, 160000, 1 << 20, 4_000_003]:
        x = (rng.normal(1.0, 1.0, n) * 10 ** rng.uniform(-3, 3, n)).astype(np.float32)
        total = pairwise_sum(x, 0, n, np.float32(0.0))
        # numba returns a Python float: it must hold a float32 value, numpy's own
        assert np.float32(total) == total == np.sum(x[None], axis=-1)[0], n


def test_zero_sign_follows_numpy():
    """Fewer than 8 values are summed from +0: negative zeros give +0, as numpy's."""
    x = np.full(5, -0.0, dtype=np.float32)
    got = pairwise_sum(x, 0, 5, np.float32(0.0))
    assert np.signbit(got) == np.signbit(np.sum(x[None], axis=-1)[0])
