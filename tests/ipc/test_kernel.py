"""Tests of the IPC deconvolution kernel: slow loop, truth, and the official jwst code."""

import numpy as np
import pytest

from webbcal.ipc.kernel import ReferenceBorder, apply_ipc, reference_border
from webbcal.lib.subarray import SubarrayGeometry


def _slow_ipc(plane, kernel, border):
    """Pixel-by-pixel deconvolution; zero signal outside the science region."""
    ny_k, nx_k = kernel.shape[:2]
    mid_j, mid_i = ny_k // 2, nx_k // 2
    ny, nx = plane.shape
    y_lo, y_hi = border.bottom, ny - border.top
    x_lo, x_hi = border.left, nx - border.right
    out = plane.astype(np.float64).copy()
    for y in range(y_lo, y_hi):
        for x in range(x_lo, x_hi):
            total = 0.0
            for j in range(ny_k):
                for i in range(nx_k):
                    k = kernel[j, i] if kernel.ndim == 2 else kernel[j, i, y, x]
                    if (j, i) == (mid_j, mid_i):
                        sy, sx = y, x
                    else:
                        sy, sx = y + (ny_k - 1 - j) - mid_j, x + (nx_k - 1 - i) - mid_i
                    if y_lo <= sy < y_hi and x_lo <= sx < x_hi:
                        total += k * float(plane[sy, sx])
            out[y, x] = total
    return out


@pytest.mark.parametrize(
    ("geom", "kshape"),
    [
        (SubarrayGeometry(1, 1, 20, 16), (3, 3)),
        (SubarrayGeometry(2035, 2030, 13, 19), (3, 3)),
        (SubarrayGeometry(100, 100, 12, 10), (4, 2)),
        (SubarrayGeometry(1, 2039, 12, 10), (3, 3, 10, 12)),
    ],
)
def test_matches_slow_loop(geom, kshape):
    rng = np.random.default_rng(3)
    data = rng.normal(100, 10, (1, 2, geom.ysize, geom.xsize)).astype(np.float32)
    kernel = rng.normal(0, 0.02, kshape).astype(np.float32)
    kernel[kshape[0] // 2, kshape[1] // 2] += 1.0
    out = apply_ipc(data, kernel, geometry=geom)
    assert out.dtype == np.float32
    border = reference_border(geom)
    for g in range(2):
        expected = _slow_ipc(data[0, g], kernel, border)
        np.testing.assert_allclose(out[0, g], expected, rtol=1e-5, atol=1e-4)


def test_reference_border():
    assert reference_border(SubarrayGeometry(1, 1, 2048, 2048)) == ReferenceBorder(4, 4, 4, 4)
    assert reference_border(SubarrayGeometry(3, 2040, 10, 8)) == ReferenceBorder(0, 3, 2, 0)
    miri = SubarrayGeometry(1, 1, 1032, 1024, full_nx=1032, full_ny=1024)
    assert reference_border(miri, nref_rows=0) == ReferenceBorder(0, 0, 4, 4)


def test_deconvolution_recovers_true_image():
    """Forward IPC with alpha = 1 %, then the first-order inverse kernel."""
    rng = np.random.default_rng(8)
    geom = SubarrayGeometry(900, 900, 64, 48)  # no reference pixels
    truth = rng.uniform(0, 1000, (1, 1, 48, 64))
    alpha = 0.01
    forward = np.array([[0, alpha, 0], [alpha, 1 - 4 * alpha, alpha], [0, alpha, 0]])
    inverse = np.array([[0, -alpha, 0], [-alpha, 1 + 4 * alpha, -alpha], [0, -alpha, 0]])
    padded = np.pad(truth[0, 0], 1)
    observed = sum(
        forward[j, i] * padded[2 - j : 2 - j + 48, 2 - i : 2 - i + 64]
        for j in range(3)
        for i in range(3)
    )
    observed = observed[None, None].astype(np.float32)
    corrected = apply_ipc(observed, inverse, geometry=geom)
    inner = (slice(None), slice(None), slice(1, -1), slice(1, -1))
    # The IPC error is first order in alpha (rms ~ alpha * sqrt(20) * 289 DN = 13 DN);
    # after the first-order inverse it is second order (~ alpha^2 * 26 * 289 DN = 0.75 DN).
    rms_before = np.sqrt(np.mean((observed - truth)[inner] ** 2))
    rms_after = np.sqrt(np.mean((corrected - truth)[inner] ** 2))
    assert rms_before > 8.0
    assert rms_after < 0.1 * rms_before


def test_full_frame_4d_kernel_is_cut_to_subarray():
    rng = np.random.default_rng(9)
    full = SubarrayGeometry(1, 1, 64, 64, full_nx=64, full_ny=64)
    sub = SubarrayGeometry(10, 20, 16, 12, full_nx=64, full_ny=64)
    kernel = rng.normal(0, 0.02, (3, 3, 64, 64)).astype(np.float32)
    kernel[1, 1] += 1.0
    data = rng.normal(100, 10, (1, 1, 12, 16)).astype(np.float32)
    from_full = apply_ipc(data, kernel, geometry=sub)
    from_cut = apply_ipc(data, kernel[:, :, sub.slices[0], sub.slices[1]], geometry=sub)
    assert full.is_full_frame
    np.testing.assert_array_equal(from_full, from_cut)


def test_reference_pixels_unchanged_and_input_untouched():
    geom = SubarrayGeometry(1, 1, 12, 10)
    data = np.arange(120, dtype=np.float32).reshape(1, 1, 10, 12)
    before = data.copy()
    out = apply_ipc(data, np.full((3, 3), 0.1, np.float32), geometry=geom)
    assert np.array_equal(data, before)
    assert np.array_equal(out[..., :4, :], data[..., :4, :])
    assert np.array_equal(out[..., :, :4], data[..., :, :4])
    assert not np.array_equal(out[..., 4:, 4:], data[..., 4:, 4:])


def test_bad_arguments():
    geom = SubarrayGeometry(1, 1, 12, 10)
    data = np.zeros((1, 1, 10, 12), np.float32)
    with pytest.raises(ValueError, match=r"kernel has shape \(3,\)"):
        apply_ipc(data, np.ones(3), geometry=geom)
    with pytest.raises(ValueError, match=r"kernel has image shape \(5, 5\)"):
        apply_ipc(data, np.ones((3, 3, 5, 5)), geometry=geom)
    with pytest.raises(ValueError, match="expected 4-D"):
        apply_ipc(data[0], np.ones((3, 3)), geometry=geom)
    with pytest.raises(ValueError, match=r"data has image shape \(10, 12\)"):
        apply_ipc(data, np.ones((3, 3)), geometry=SubarrayGeometry(1, 1, 10, 12))


ORACLE_CASES = {
    "full-3x3": ((1, 1, 2048, 2048), (3, 3), 1),
    "corner-3x3": ((1, 1, 64, 48), (3, 3), 2),
    "top-right-3x3": ((2000, 1990, 49, 59), (3, 3), 2),
    "inner-5x3": ((100, 100, 64, 48), (5, 3), 2),
    "even-4x4": ((1, 1, 64, 48), (4, 4), 2),
    "per-pixel": ((1, 1, 64, 48), (3, 3, 48, 64), 2),
    "per-pixel-even": ((1, 1, 59, 48), (4, 2, 48, 59), 1),
}


@pytest.mark.jwst_oracle
@pytest.mark.parametrize("name", list(ORACLE_CASES))
def test_matches_official_ipc(name):
    ipc_corr = pytest.importorskip("jwst.ipc.ipc_corr")
    datamodels = pytest.importorskip("stdatamodels.jwst.datamodels")
    geom_args, kshape, ngroups = ORACLE_CASES[name]
    geom = SubarrayGeometry(*geom_args)
    rng = np.random.default_rng(len(name))
    data = rng.normal(1000, 50, (2, ngroups, geom.ysize, geom.xsize)).astype(np.float32)
    kernel = rng.normal(0, 0.01, kshape).astype(np.float32)
    kernel[kshape[0] // 2, kshape[1] // 2] += 1.0
    model = datamodels.RampModel(data=data.copy())
    model.meta.instrument.name = "NIRCAM"
    model.meta.instrument.detector = "NRCA1"
    sub = model.meta.subarray
    sub.xstart, sub.ystart, sub.xsize, sub.ysize = geom_args
    ipc_corr.ipc_correction(model, datamodels.IPCModel(data=kernel))
    out = apply_ipc(data, kernel, geometry=geom)
    np.testing.assert_allclose(out, model.data, rtol=1e-5, atol=1e-3)
    assert np.abs(out - data).max() > 1.0
