"""Kernels of clean_flicker_noise against slow, obviously-correct calculations."""

import numpy as np
import pytest

from webbcal.clean_flicker_noise import (
    FlickerParameters,
    ReadoutLayout,
    background_level,
    clean_flicker_noise,
    clip_to_background,
    fft_noise,
    lowpass_window,
    median_noise,
    noise_model,
    scene_mask,
)
from webbcal.lib.subarray import SubarrayGeometry


def test_layout_full_frame_and_stripes():
    full = SubarrayGeometry(1, 1, 2048, 2048)
    lay = ReadoutLayout.from_geometry(full, fastaxis=-1, slowaxis=2, noutputs=4)
    assert lay.channels == ((0, 512), (512, 1024), (1024, 1536), (1536, 2048))
    assert lay.segments(False) == ((0, 2048),)
    sub = ReadoutLayout.from_geometry(SubarrayGeometry(1, 1, 512, 512), fastaxis=-1, slowaxis=2)
    assert sub.channels == ((0, 512),)
    with pytest.raises(ValueError, match="noutputs=2"):
        ReadoutLayout.from_geometry(full, fastaxis=1, slowaxis=2, noutputs=2)


def _slow_median(image, mask):
    out = np.zeros(image.shape)
    for y in range(image.shape[0]):
        vals = [image[y, x] for x in range(image.shape[1]) if mask[y, x]]
        out[y, :] = np.median(vals) if vals else 0.0
    return out


def test_median_noise_matches_loop():
    rng = np.random.default_rng(1)
    image = rng.normal(size=(40, 64))
    mask = rng.random((40, 64)) > 0.3
    mask[5] = False
    np.testing.assert_allclose(median_noise(image, mask), _slow_median(image, mask), atol=1e-12)


def test_lowpass_window():
    w = lowpass_window(2048)
    assert np.all(w[:8] == 1.0)
    assert w[8] == pytest.approx(0.5)
    assert np.all(w[9:] == 0.0)


def test_fft_noise_recovers_low_frequency_rows_through_gaps():
    """A noise-free pattern of passed frequencies is fitted exactly despite masked gaps."""
    rng = np.random.default_rng(2)
    ny, nx = 16, 2048
    x = np.arange(nx)
    coef = rng.normal(size=(ny, 3))
    rows = (coef[:, :1] + coef[:, 1:2] * np.cos(2 * np.pi * 3 * x / nx)
            + coef[:, 2:] * np.sin(2 * np.pi * 5 * x / nx))  # fmt: skip
    mask = np.ones((ny, nx), bool)
    mask[:, 300:420] = False
    mask[3, :1500] = False
    image = rows.copy()
    image[~mask] += 100.0  # "sources" must not matter
    model = fft_noise(image, mask)
    good = np.arange(ny) != 3
    np.testing.assert_allclose(model[good], rows[good], atol=5e-3 * np.abs(rows).max())
    # Three quarters of row 3 are masked: the ridge keeps its extrapolation bounded.
    assert np.abs(model[3]).max() < 2 * np.abs(rows[3]).max()
    np.testing.assert_allclose(model[3, 1500:], rows[3, 1500:], atol=0.1 * np.abs(rows).max())
    # A row without background gets no model.
    mask[7] = False
    assert np.all(fft_noise(image, mask)[7] == 0.0)


@pytest.mark.parametrize(("detector_axes", "axis"), [((-1, 2), 1), ((2, 1), 0), ((-2, -1), 0)])
@pytest.mark.parametrize("method", ["median", "fft"])
def test_noise_model_follows_fast_axis(detector_axes, axis, method):
    """Stripes along the fast axis (rows for NIRCam, columns for NIRSpec) are removed."""
    rng = np.random.default_rng(3)
    fast, slow = detector_axes
    stripes = rng.normal(0, 5, 256)
    image = np.expand_dims(stripes, axis) + rng.normal(0, 1, (256, 256))
    lay = ReadoutLayout.from_geometry(SubarrayGeometry(1, 1, 256, 256), fastaxis=fast,
                                      slowaxis=slow)  # fmt: skip
    model = noise_model(image, np.ones(image.shape, bool), lay, method=method)
    residual = image - model
    before = np.var(np.median(image, axis=axis))
    after = np.var(np.median(residual, axis=axis))
    assert after < before / 100


def test_by_channel_removes_amplifier_offsets():
    rng = np.random.default_rng(4)
    ny = 64
    offsets = rng.normal(0, 5, (ny, 4))
    image = np.repeat(offsets, 512, axis=1) + rng.normal(0, 1, (ny, 2048))
    lay = ReadoutLayout.from_geometry(SubarrayGeometry(1, 1, 2048, ny), fastaxis=-1,
                                      slowaxis=2, noutputs=4)  # fmt: skip
    mask = np.ones(image.shape, bool)
    whole = image - noise_model(image, mask, lay, method="median", by_channel=False)
    per_amp = image - noise_model(image, mask, lay, method="median", by_channel=True)
    assert np.std(per_amp) < 1.1 < np.std(whole)


def test_scene_mask_and_clipping():
    rng = np.random.default_rng(5)
    rate = rng.normal(1.0, 0.1, (100, 100))
    rate[40:45, 40:45] += 5.0
    rate[10, 10] = np.nan
    rate[20, 20] = 0.0
    rate[30, 30] = -3.0
    mask = scene_mask(rate, n_sigma=2.0)
    assert not mask[40:45, 40:45].any()
    assert not mask[10, 10] and not mask[20, 20] and not mask[30, 30]
    # Upper clip at 2 sigma keeps about 97.7 % of the sky.
    assert 0.95 < mask.mean() < 0.99
    assert scene_mask(rate, n_sigma=0.0).sum() == 100 * 100 - 2
    with pytest.raises(ValueError, match="n_sigma=-1"):
        scene_mask(rate, n_sigma=-1)
    # Input masks are never modified.
    m0 = np.ones(rate.shape, bool) & np.isfinite(rate)
    before = m0.copy()
    clip_to_background(np.nan_to_num(rate), m0, fit_histogram=True)
    assert np.array_equal(m0, before)


@pytest.mark.parametrize("method", ["median", "model"])
def test_background_level(method):
    y, x = np.mgrid[:256, :256]
    sky = 10.0 + 0.02 * x + 0.01 * y
    rng = np.random.default_rng(6)
    image = sky + rng.normal(0, 0.1, sky.shape)
    bkg, mask = background_level(image, np.ones(sky.shape, bool), method=method)
    if method == "median":
        assert bkg == pytest.approx(np.median(sky), abs=0.02)
    else:
        # 8 x 8 boxes of 32 pixels; the 5 x 5 median filter of the box grid is exact for a
        # plane away from the two outer boxes.
        np.testing.assert_allclose(bkg[64:-64, 64:-64], sky[64:-64, 64:-64], atol=0.05)
    assert mask.mean() > 0.98


def test_parameters_and_shapes_are_checked():
    with pytest.raises(ValueError, match="fit_method='fast'"):
        FlickerParameters(fit_method="fast")
    with pytest.raises(ValueError, match="background_method='mean'"):
        FlickerParameters(background_method="mean")
    with pytest.raises(ValueError, match="background_box_size"):
        FlickerParameters(background_box_size=(0, 4))
    with pytest.raises(ValueError, match="iterations=0"):
        FlickerParameters(iterations=0)
    lay = ReadoutLayout(-1, 2, ((0, 8),))
    with pytest.raises(ValueError, match="mask has shape"):
        clean_flicker_noise(np.zeros((2, 8, 8)), np.ones((3, 8, 8), bool), lay,
                            params=FlickerParameters())  # fmt: skip
    with pytest.raises(ValueError, match="data has shape"):
        clean_flicker_noise(np.zeros(8), np.ones(8, bool), lay, params=FlickerParameters())


def test_unusable_image_is_left_alone():
    lay = ReadoutLayout(-1, 2, ((0, 16),))
    data = np.random.default_rng(7).normal(size=(1, 3, 16, 16)).astype(np.float32)
    res = clean_flicker_noise(data, np.zeros((16, 16), bool), lay, params=FlickerParameters())
    assert res.n_cleaned == 0 and res.n_unusable == 2
    np.testing.assert_allclose(res.data, data, atol=1e-5)
