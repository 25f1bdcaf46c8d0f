"""Linearity correction: the compiled kernel equals the numpy Horner evaluation."""

import numpy as np

from webbcal.dqflags import NO_LIN_CORR, SATURATED
from webbcal.linearity.correct import _polyval, correct_linearity, prepare_coefficients


def test_compiled_kernel_equals_numpy_exactly():
    rng = np.random.default_rng(5)
    nints, ngroups, ny, nx = 2, 4, 33, 47
    data = rng.uniform(-100, 60000, (nints, ngroups, ny, nx)).astype(np.float32)
    gdq = np.where(rng.random(data.shape) < 0.1, SATURATED, 0).astype(np.uint8)
    coeffs = np.stack([rng.normal(0, s, (ny, nx)) for s in (1, 0.01, 1e-7, 1e-12, 1e-17)])
    coeffs[1] += 1.0
    coeffs = coeffs.astype(np.float32)
    coeffs[:, 3, 4] = np.nan
    lin_dq = np.zeros((ny, nx), np.uint32)
    lin_dq[5, 6] = NO_LIN_CORR
    pdq = np.zeros((ny, nx), np.uint32)
    out, new_dq, _ = correct_linearity(data, gdq, pdq, coeffs, lin_dq)
    c, expected_dq = prepare_coefficients(coeffs, lin_dq, pdq)
    expected = np.where((gdq & SATURATED) != 0, data, _polyval(c, data))
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(new_dq, expected_dq)
    assert new_dq[3, 4] & NO_LIN_CORR and new_dq[5, 6] & NO_LIN_CORR
    np.testing.assert_array_equal(out[:, :, 3, 4], data[:, :, 3, 4])  # identity where unusable
