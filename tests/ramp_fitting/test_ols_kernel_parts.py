"""The OLS kernel's building blocks against direct numpy calculations."""

import numpy as np
import pytest

from webbcal.ramp_fitting import _ols_kernel


@pytest.mark.parametrize("n", [1, 2, 3, 4, 9, 19, 32, 33, 76])
def test_median_small_equals_numpy_median(n):
    rng = np.random.default_rng(n)
    for trial in range(50):
        x = rng.normal(size=n)
        if trial % 2 and n > 2:
            x[: n // 2] = x[-1]  # ties, including at the middle
        buf = np.concatenate([x, rng.normal(size=5)])  # values past n are ignored
        assert _ols_kernel._median_small(buf, n) == np.median(x)


def test_weight_table_matches_fixsen_weights():
    powers = [0.0, 0.4, 1.0, 3.0, 6.0, 10.0]
    table = _ols_kernel.weight_table(12)
    assert table.shape == (6, 13, 12)
    for p, power in enumerate(powers):
        for n in range(3, 13):
            mid = (n - 1) / 2.0
            k = np.arange(n)
            expect = np.abs((k - mid) / mid) ** power
            np.testing.assert_allclose(table[p, n, :n], expect, rtol=1e-14, atol=0)
            assert not table[p, n, n:].any()
    # End points get weight 1 whatever the power; the middle of odd lengths 0 unless P = 0.
    assert table[3, 5, 0] == table[3, 5, 4] == 1.0
    assert table[3, 5, 2] == 0.0 and table[0, 5, 2] == 1.0
