"""The numba per-pixel medians equal the numpy calculations they replace."""

import warnings

import numpy as np
import pytest

from webbcal.jump._median import clipped_median, nanmedian_over_differences


def _numpy_clipped(values):
    work = values.astype(np.float64).copy()
    n = np.count_nonzero(np.isfinite(work), axis=(0, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        top = np.nanmax(work, axis=(0, 1))
        work[(n >= 4) & (work == top)] = np.nan
        med = np.nanmedian(work, axis=(0, 1))
        two = n == 2
        med[two] = np.nanmin(work, axis=(0, 1))[two]
    med[n < 2] = np.nan
    return med


@pytest.mark.parametrize(("nints", "ndiffs"), [(1, 1), (1, 2), (1, 3), (1, 9), (3, 4), (2, 7)])
def test_medians_equal_numpy(nints, ndiffs):
    rng = np.random.default_rng(nints * 10 + ndiffs)
    values = np.abs(rng.normal(0, 10, (nints, ndiffs, 3000)))
    values[rng.random(values.shape) < 0.2] = np.nan
    values[..., :50] = np.round(values[..., :50])  # ties, including ties at the maximum
    values[..., 50:60] = np.nan  # pixels with nothing usable
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = np.nanmedian(values, axis=(0, 1))
    np.testing.assert_array_equal(nanmedian_over_differences(values), expected)
    np.testing.assert_array_equal(clipped_median(values), _numpy_clipped(values))
