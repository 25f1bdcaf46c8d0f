"""Tests of the NIR reference-pixel correction kernel against simulated truth."""

import numpy as np
import pytest
from scipy import stats

from webbcal.dqflags import DO_NOT_USE, REFERENCE_PIXEL
from webbcal.lib.subarray import SubarrayGeometry
from webbcal.refpix.nir import (
    RefPixParameters,
    UnsupportedRefPixModeError,
    correct_refpix,
)
from webbcal.refpix.orientation import detector_window, to_detector, to_dms
from webbcal.refpix.stats import clipped_mean, running_median

AXES = [(1, 2), (-1, 2), (1, -2), (-1, -2), (2, 1), (-2, -1), (2, -1), (-2, 1)]
FULL = SubarrayGeometry(1, 1, 2048, 2048)
SIGMA = 3.0  # DN read noise of the simulations


@pytest.mark.parametrize(("fast", "slow"), AXES)
def test_orientation_round_trip_and_window(fast, slow):
    full = np.arange(2048 * 2048).reshape(2048, 2048)
    geom = SubarrayGeometry(xstart=3, ystart=1900, xsize=50, ysize=149)
    sub = full[geom.slices]
    assert np.array_equal(to_dms(to_detector(sub, fast, slow), fast, slow), sub)
    win = detector_window(geom, fast, slow)
    det_full = to_detector(full, fast, slow)
    expected = det_full[win.y0 : win.y0 + win.ny, win.x0 : win.x0 + win.nx]
    assert np.array_equal(to_detector(sub, fast, slow), expected)


def test_orientation_rejects_bad_axes():
    with pytest.raises(ValueError, match=r"fastaxis=1, slowaxis=1 is not a valid"):
        to_detector(np.zeros((2, 2)), 1, 1)


def test_clipped_mean_matches_scipy_sigmaclip():
    rng = np.random.default_rng(5)
    values = rng.normal(10.0, 2.0, (6, 300))
    values[:, :7] += rng.uniform(20, 200, (6, 7))
    valid = rng.random(values.shape) > 0.1
    means, counts = clipped_mean(values, valid, low=3.0, high=3.0)
    for k in range(values.shape[0]):
        clipped = stats.sigmaclip(values[k][valid[k]], 3.0, 3.0)[0]
        assert means[k] == pytest.approx(clipped.mean(), rel=1e-12)
        assert counts[k] == clipped.size
    empty, n = clipped_mean(values[:1], np.zeros((1, 300), bool), low=3.0, high=3.0)
    assert np.isnan(empty[0]) and n[0] == 0


@pytest.mark.parametrize("length", [1, 4, 11])
def test_running_median_matches_loop(length):
    rng = np.random.default_rng(length)
    strip = rng.normal(0, 1, (40, 4))
    valid = rng.random(strip.shape) > 0.3
    valid[10:25] = False  # rows with no usable value for short windows
    got = running_median(strip, valid, length)
    half = length // 2
    padded = np.pad(strip, ((half, half), (0, 0)), mode="reflect")
    pvalid = np.pad(valid, ((half, half), (0, 0)), mode="reflect")
    for row in range(40):
        window = padded[row : row + length][pvalid[row : row + length]]
        if window.size == 0:
            assert np.isnan(got[row])
        else:
            assert got[row] == pytest.approx(np.median(window), rel=1e-12)


@pytest.mark.parametrize("length", [1, 4, 11])
@pytest.mark.parametrize("rows", [slice(0, 40), slice(0, 7), slice(15, 22), slice(36, 40)])
def test_running_median_rows_equal_the_full_result(length, rows):
    rng = np.random.default_rng(7)
    strip = rng.normal(0, 1, (3, 40, 4))
    valid = rng.random(strip.shape[1:]) > 0.3
    full = running_median(strip, valid, length)
    part = running_median(strip, valid, length, rows=rows)
    assert part.shape == (3, rows.stop - rows.start)
    np.testing.assert_array_equal(part, full[:, rows])


def _simulate_full_frame(rng, fast, slow, ngroups=2):
    """Full-frame ramp with known per-amplifier/parity offsets and row drifts.

    Returns DMS data, the true signal (DMS), and pixeldq.
    """
    n = 2048
    det_rows = np.arange(n)[:, None]
    det_cols = np.arange(n)[None, :]
    refpix = (det_rows < 4) | (det_rows >= n - 4) | (det_cols < 4) | (det_cols >= n - 4)
    data_det = np.empty((1, ngroups, n, n), dtype=np.float32)
    truth_det = np.empty_like(data_det)
    for g in range(ngroups):
        signal = np.where(refpix, 0.0, 200.0 + 80.0 * g)
        offsets = rng.uniform(-300, 300, (4, 2))
        column_offset = offsets[det_cols // 512, det_cols % 2]
        drift = 8.0 * np.sin(2 * np.pi * det_rows / 400.0 + rng.uniform(0, 6))
        noise = rng.normal(0, SIGMA, (n, n))
        data_det[0, g] = signal + column_offset + drift + noise
        truth_det[0, g] = signal + noise
    data = np.ascontiguousarray(to_dms(data_det, fast, slow))
    truth = np.ascontiguousarray(to_dms(truth_det, fast, slow))
    return data, truth, np.zeros((n, n), np.uint32)


@pytest.mark.parametrize(("fast", "slow"), [(-1, 2), (2, 1)])
def test_full_frame_removes_amplifier_offsets_and_drifts(fast, slow):
    rng = np.random.default_rng(11)
    data, truth, pixeldq = _simulate_full_frame(rng, fast, slow)
    result = correct_refpix(data, pixeldq, geometry=FULL, fastaxis=fast, slowaxis=slow, noutputs=4)
    assert result.status == "COMPLETE" and result.reason == ""
    assert result.data.dtype == np.float32 and result.zeroframe is None
    residual = to_detector(result.data - truth, fast, slow)[0]
    # Per amplifier and column parity: the top/bottom mean of 2048 pixels has an error
    # of 3 / sqrt(2048) = 0.066 DN; the side correction adds those of amplifiers A and D.
    tolerance = 5 * 1.5 * SIGMA / np.sqrt(2048)
    for amp in range(4):
        for parity in range(2):
            cols = slice(512 * amp + parity, 512 * (amp + 1), 2)
            assert np.abs(residual[:, :, cols].mean(axis=(-2, -1))).max() < tolerance
    # Per row: the running median of 88 side pixels has noise ~0.13 sigma.
    row_means = residual.mean(axis=-1)
    assert row_means.std() < 0.2 * SIGMA
    assert np.abs(row_means).max() < 0.8 * SIGMA
    # Without correction the residuals are hundreds of DN.
    assert np.abs(data - truth).mean() > 50


def test_full_frame_without_side_pixels_leaves_row_drift():
    rng = np.random.default_rng(12)
    data, truth, pixeldq = _simulate_full_frame(rng, 1, 2, ngroups=1)
    params = RefPixParameters(use_side_ref_pixels=False, odd_even_columns=False)
    result = correct_refpix(
        data, pixeldq, geometry=FULL, fastaxis=1, slowaxis=2, noutputs=4, params=params
    )
    residual = (result.data - truth)[0, 0]
    # Odd/even offsets differ, so one mean per amplifier leaves the parity split.
    split = residual[:, 0:512:2].mean() - residual[:, 1:512:2].mean()
    assert abs(split) > 1.0
    assert residual.mean(axis=-1).std() > 3.0  # the row drift survives


def _subarray_ramp(rng, geom, fast, slow, ngroups=3, nints=2):
    """Single-output subarray with per-group, per-detector-parity offsets."""
    ny, nx = geom.ysize, geom.xsize
    refmask = geom.reference_pixel_mask()
    truth = np.where(refmask, 0.0, 500.0)[None, None] + rng.normal(
        0, SIGMA, (nints, ngroups, ny, nx)
    )
    data = truth.astype(np.float32)
    win = detector_window(geom, fast, slow)
    det_parity = (win.x0 + np.arange(win.nx)) % 2
    offsets = rng.uniform(-500, 500, (nints, ngroups, 2))
    det_view = to_detector(data, fast, slow)
    det_view += offsets[..., det_parity][:, :, None, :].astype(np.float32)
    pixeldq = np.where(refmask, REFERENCE_PIXEL, 0).astype(np.uint32)
    return data, truth.astype(np.float32), pixeldq


@pytest.mark.parametrize(("fast", "slow"), [(-1, 2), (1, -2), (2, 1), (-2, -1)])
def test_single_output_subarray_removes_parity_offsets(fast, slow):
    rng = np.random.default_rng(21)
    geom = SubarrayGeometry(1, 1, 160, 160)  # corner: 4 reference rows and columns
    data, truth, pixeldq = _subarray_ramp(rng, geom, fast, slow)
    zeroframe = data[:, 0].copy()
    zeroframe[:, 50, 60] = 0.0
    result = correct_refpix(
        data, pixeldq, geometry=geom, fastaxis=fast, slowaxis=slow, noutputs=1,
        zeroframe=zeroframe,
    )  # fmt: skip
    assert result.status == "COMPLETE"
    residual = result.data - truth
    # 1264 reference pixels, ~632 per parity: mean error ~ 3 / sqrt(632) = 0.12 DN.
    det = to_detector(residual, fast, slow)
    for parity in range(2):
        assert np.abs(det[..., parity::2].mean(axis=(-2, -1))).max() < 0.6
    expected_zero = result.data[:, 0].copy()
    expected_zero[:, 50, 60] = 0.0
    np.testing.assert_allclose(result.zeroframe, expected_zero, atol=1e-3, rtol=0)
    assert np.array_equal(data, _subarray_ramp(np.random.default_rng(21), geom, fast, slow)[0])


def test_do_not_use_reference_pixels_are_excluded():
    rng = np.random.default_rng(31)
    geom = SubarrayGeometry(1, 1, 64, 64)
    data, _, pixeldq = _subarray_ramp(rng, geom, -1, 2, ngroups=2, nints=1)
    bad = geom.reference_pixel_mask() & (rng.random(pixeldq.shape) < 0.3)
    pixeldq[bad] |= DO_NOT_USE
    kwargs = dict(geometry=geom, fastaxis=-1, slowaxis=2, noutputs=1)
    clean = correct_refpix(data, pixeldq, **kwargs).data
    spoiled = data.copy()
    spoiled[..., bad] += 6.0  # 2 sigma: inside the 3-sigma clip, so only the flags remove it
    result = correct_refpix(spoiled, pixeldq, **kwargs).data
    np.testing.assert_allclose(result[..., ~bad], clean[..., ~bad], atol=1e-4, rtol=0)
    # Without the flags the shifted pixels would move the reference value.
    unflagged = pixeldq & ~np.uint32(DO_NOT_USE)
    moved = correct_refpix(spoiled, unflagged, **kwargs).data
    assert np.abs(moved[..., ~bad] - clean[..., ~bad]).max() > 0.5


def test_subarray_without_reference_pixels_is_skipped():
    geom = SubarrayGeometry(900, 900, 64, 32)
    data = np.ones((1, 2, 32, 64), np.float32)
    pixeldq = np.zeros((32, 64), np.uint32)
    for noutputs in (1, 4):
        result = correct_refpix(
            data, pixeldq, geometry=geom, fastaxis=-1, slowaxis=2, noutputs=noutputs
        )
        assert (result.status, result.reason) == ("SKIPPED", "no usable reference pixels")
        assert np.array_equal(result.data, data) and result.data is not data


def test_subarray_outside_detector_is_skipped():
    geom = SubarrayGeometry(2040, 1, 64, 32)
    data = np.ones((1, 1, 32, 64), np.float32)
    result = correct_refpix(
        data, np.zeros((32, 64), np.uint32), geometry=geom, fastaxis=1, slowaxis=2, noutputs=1
    )
    assert result.status == "SKIPPED"
    assert result.reason == "subarray does not fit in the full detector frame"


def test_edge_columns_as_reference():
    rng = np.random.default_rng(41)
    geom = SubarrayGeometry(1001, 1001, 64, 32)
    data = rng.normal(0, SIGMA, (1, 2, 32, 64)).astype(np.float32) + 700.0
    data[..., 4:-4] += 1000.0
    pixeldq = np.zeros((32, 64), np.uint32)
    kwargs = dict(geometry=geom, fastaxis=2, slowaxis=1, noutputs=1)
    assert correct_refpix(data, pixeldq, **kwargs).status == "SKIPPED"
    result = correct_refpix(data, pixeldq, edge_columns_as_reference=True, **kwargs)
    assert result.status == "COMPLETE"
    assert abs(result.data[..., :4].mean()) < 0.5
    assert abs(result.data[..., 4:-4].mean() - 1000.0) < 0.5


def test_sirs_and_irs2_are_not_implemented():
    data = np.zeros((1, 1, 2048, 2048), np.float32)
    dq = np.zeros((2048, 2048), np.uint32)
    with pytest.raises(UnsupportedRefPixModeError, match="refpix_algorithm='sirs'"):
        correct_refpix(
            data, dq, geometry=FULL, fastaxis=1, slowaxis=2, noutputs=4,
            params=RefPixParameters(refpix_algorithm="sirs"),
        )  # fmt: skip
    assert issubclass(UnsupportedRefPixModeError, ValueError)
    irs2 = np.zeros((1, 1, 3200, 2048), np.float32)
    with pytest.raises(UnsupportedRefPixModeError, match="IRS2"):
        correct_refpix(irs2, dq, geometry=FULL, fastaxis=2, slowaxis=1, noutputs=4)


def test_bad_arguments():
    with pytest.raises(ValueError, match="refpix_algorithm='fancy'"):
        RefPixParameters(refpix_algorithm="fancy")
    with pytest.raises(ValueError, match="side_smoothing_length=0"):
        RefPixParameters(side_smoothing_length=0)
    with pytest.raises(ValueError, match="siglimit=0"):
        RefPixParameters(siglimit=0)
    geom = SubarrayGeometry(1, 1, 8, 8)
    data = np.zeros((1, 1, 8, 8), np.float32)
    dq = np.zeros((8, 8), np.uint32)
    with pytest.raises(ValueError, match="noutputs=0"):
        correct_refpix(data, dq, geometry=geom, fastaxis=1, slowaxis=2, noutputs=0)
    with pytest.raises(ValueError, match=r"data has image shape \(8, 8\)"):
        correct_refpix(
            data, dq, geometry=SubarrayGeometry(1, 1, 9, 8), fastaxis=1, slowaxis=2, noutputs=1
        )
    with pytest.raises(ValueError, match="expected 4-D"):
        correct_refpix(data[0], dq, geometry=geom, fastaxis=1, slowaxis=2, noutputs=1)
    with pytest.raises(ValueError, match="pixeldq has shape"):
        correct_refpix(data, dq[:4], geometry=geom, fastaxis=1, slowaxis=2, noutputs=1)
