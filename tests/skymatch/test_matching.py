"""Least-squares sky matching on pair measurements with known sky offsets."""

from __future__ import annotations

import numpy as np
import pytest

from webbcal.skymatch import global_minimum, match_skies


def _pairs(sky, overlaps, rng=None, noise=0.0):
    """Pair measurements: image i sees sky[i] (+ noise) where it overlaps j."""
    n = len(sky)
    pair_sky = np.full((n, n), np.nan)
    npix = np.zeros((n, n), int)
    for i, j, count in overlaps:
        for a, b in ((i, j), (j, i)):
            pair_sky[a, b] = sky[a] + (rng.normal(0, noise) if noise else 0.0)
            npix[a, b] = count
    return pair_sky, npix


def test_exact_offsets_are_recovered_down_and_up():
    sky = np.array([0.3, 0.1, 0.25, 0.17])
    pair_sky, npix = _pairs(sky, [(0, 1, 500), (1, 2, 800), (2, 3, 100), (0, 3, 60)])
    np.testing.assert_allclose(match_skies(pair_sky, npix), sky - sky.min(), atol=1e-14)
    np.testing.assert_allclose(
        match_skies(pair_sky, npix, match_down=False), sky - sky.max(), atol=1e-14
    )


def test_weights_follow_the_overlap_pixel_counts():
    """Inconsistent pairs: the solution leans to the pair with more pixels (brute force)."""
    pair_sky = np.array([[np.nan, 0.0, 0.0], [0.1, np.nan, 0.0], [0.3, 0.0, np.nan]])
    npix = np.array([[0, 1000, 10], [1000, 0, 200], [10, 200, 0]])
    ours = match_skies(pair_sky, npix)
    # brute-force weighted least squares over d1, d2 with d0 = 0
    grid = np.linspace(-0.5, 0.5, 2001)
    d1, d2 = np.meshgrid(grid, grid, indexing="ij")
    cost = (
        (0.5 * (1000 + 1000) * ((0 - d1) - (0.0 - 0.1))) ** 2
        + (0.5 * (10 + 10) * ((0 - d2) - (0.0 - 0.3))) ** 2
        + (0.5 * (200 + 200) * ((d1 - d2) - (0.0 - 0.0))) ** 2
    )
    k = np.unravel_index(np.argmin(cost), cost.shape)
    best = np.array([0.0, d1[k], d2[k]])
    np.testing.assert_allclose(ours, best - best.min(), atol=1e-3)


def test_image_without_overlap_is_nan_and_disconnected_sets_each_matched(caplog):
    sky = np.array([0.3, 0.1, 0.5, 0.4, 9.0])
    pair_sky, npix = _pairs(sky, [(0, 1, 500), (2, 3, 400)])
    deltas = match_skies(pair_sky, npix)
    assert np.isnan(deltas[4])
    assert deltas[0] - deltas[1] == pytest.approx(0.2)
    assert deltas[2] - deltas[3] == pytest.approx(0.1)
    assert np.nanmin(deltas) == 0.0
    assert "only 2 independent equations" in caplog.text


def test_noisy_pairs_give_offsets_within_the_noise():
    rng = np.random.default_rng(1)
    sky = rng.uniform(0, 1, 12)
    overlaps = [(i, j, 1000) for i in range(12) for j in range(i + 1, 12) if j - i <= 3]
    pair_sky, npix = _pairs(sky, overlaps, rng, noise=1e-4)
    deltas = match_skies(pair_sky, npix)
    np.testing.assert_allclose(deltas - deltas[0], sky - sky[0], atol=3e-4)


def test_nothing_measured_and_bad_shapes():
    assert np.isnan(match_skies(np.full((1, 1), np.nan), np.zeros((1, 1)))).all()
    with pytest.raises(ValueError, match="pair_sky and pair_npix"):
        match_skies(np.zeros((2, 3)), np.zeros((2, 3)))
    assert global_minimum([None, 0.3, 0.2]) == 0.2
    assert global_minimum([None]) is None
