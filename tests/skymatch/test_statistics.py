"""Sky statistics: clipped mean/median against a plain reference, histogram mode and
midpoint against known distributions, and the official imagestats on identical values."""

from __future__ import annotations

import numpy as np
import pytest

from webbcal.skymatch import SkyStatistics, sky_value


def _reference_clip(values, nclip, lsig, usig):
    """Plain float64 loop: keep [lo, hi], then mean -/+ sigma * stddev (ddof=1), nclip times."""
    lo, hi = values.min(), values.max()
    for k in range(nclip + 1):
        kept = values[(values >= lo) & (values <= hi)]
        mean, std = kept.mean(), kept.std(ddof=1)
        if k < nclip:
            lo, hi = max(values.min(), mean - lsig * std), min(values.max(), mean + usig * std)
    return kept, mean


def _sky_with_sources(rng, n, level=0.3, sigma=0.01):
    """Gaussian sky plus a positive tail (sources, cosmic rays) on 5% of the pixels."""
    tail = (rng.random(n) < 0.05) * rng.exponential(0.2, n)
    return (rng.normal(level, sigma, n) + tail).astype(np.float32)


@pytest.mark.parametrize("nclip", [0, 1, 5])
def test_clipped_mean_and_npix_equal_a_plain_loop(nclip):
    values = _sky_with_sources(np.random.default_rng(4), 20000)
    kept, mean = _reference_clip(values.astype(float), nclip, 4.0, 3.0)
    sky, npix = sky_value(values, SkyStatistics(skystat="mean", nclip=nclip, usigma=3.0))
    assert npix == kept.size
    assert sky == pytest.approx(mean, rel=1e-6)
    if nclip:
        # clipping removes most of the tail: the mean comes within 0.3 sigma of the sky
        assert abs(sky - 0.3) < 0.003


def test_median_uses_clipped_values_and_all_values_without_clipping():
    values = _sky_with_sources(np.random.default_rng(5), 10001)
    kept, _ = _reference_clip(values.astype(float), 3, 4.0, 4.0)
    assert sky_value(values, SkyStatistics(skystat="median", nclip=3))[0] == pytest.approx(
        np.median(kept), rel=1e-7
    )
    assert sky_value(values, SkyStatistics(skystat="median", nclip=0))[0] == pytest.approx(
        float(np.median(values)), rel=1e-7
    )


def test_mode_and_midpt_find_the_sky_under_a_source_tail():
    """The tail pulls the mean up by ~0.01; the histogram mode and midpoint stay on the sky."""
    values = _sky_with_sources(np.random.default_rng(6), 400_000)
    mean = sky_value(values, SkyStatistics(skystat="mean", nclip=0))[0]
    mode = sky_value(values, SkyStatistics(skystat="mode"))[0]
    midpt = sky_value(values, SkyStatistics(skystat="midpt"))[0]
    median = sky_value(values, SkyStatistics(skystat="median"))[0]
    assert mean - 0.3 > 0.008
    assert abs(mode - 0.3) < 0.1 * 0.01  # within 0.1 sigma of the true peak
    assert midpt == pytest.approx(median, abs=0.05 * 0.01)


def test_lower_and_upper_limit_the_values():
    values = np.array([0.0, 1.0, 2.0, 3.0, 100.0], np.float32)
    assert sky_value(values, SkyStatistics(skystat="mean", nclip=0, upper=50.0)) == (1.5, 4)
    assert sky_value(values, SkyStatistics(skystat="mean", nclip=0, lower=0.5, upper=3.0)) == (
        2.0, 3,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("values", "params"),
    [
        (np.zeros(0, np.float32), SkyStatistics()),
        (np.ones(5, np.float32), SkyStatistics(lower=2.0)),
        (np.ones(5, np.float32), SkyStatistics(upper=0.5)),
        (np.ones(5, np.float32), SkyStatistics(lower=0.9, upper=0.8)),
        (np.array([1.0], np.float32), SkyStatistics(skystat="mode")),  # no stddev of one value
    ],
)
def test_nothing_to_measure_gives_none(values, params):
    assert sky_value(values, params) == (None, 0)


def test_constant_values():
    values = np.full(100, 0.25, np.float32)
    assert sky_value(values, SkyStatistics(skystat="mode", nclip=0)) == (0.25, 100)
    assert sky_value(values, SkyStatistics(skystat="midpt", nclip=0)) == (0.25, 100)


@pytest.mark.parametrize("bad", [{"skystat": "max"}, {"nclip": -1}, {"lsigma": 0.0},
                                 {"binwidth": -0.1}])  # fmt: skip
def test_bad_parameters_are_named(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        SkyStatistics(**bad)


@pytest.mark.jwst_oracle
def test_same_values_as_the_official_statistics():
    """stsci.imagestats (what jwst 3.0.0's skymatch uses) on 400 random sets."""
    imagestats = pytest.importorskip("stsci.imagestats")
    rng = np.random.default_rng(7)
    worst = 0.0
    for _ in range(100):
        n = int(rng.integers(5, 20000))
        values = _sky_with_sources(rng, n)
        nclip = int(rng.integers(0, 6))
        lower = None if rng.random() < 0.5 else 0.29
        upper = None if rng.random() < 0.5 else 0.6
        for stat in ("mode", "median", "midpt", "mean"):
            params = SkyStatistics(skystat=stat, lower=lower, upper=upper, nclip=nclip,
                                   lsigma=3.5, usigma=2.5, binwidth=0.1)  # fmt: skip
            ours, npix = sky_value(values, params)
            official = imagestats.ImageStats(
                values, fields=f"npix,{stat}", lower=lower, upper=upper, nclip=nclip,
                lsig=3.5, usig=2.5, binwidth=0.1,
            )  # fmt: skip
            assert npix == official.npix
            worst = max(worst, abs(ours - float(getattr(official, stat))) / 0.3)
    assert worst < 1e-6


def _moments_numpy(values, lo, hi):
    """The numpy computation ``_moments`` replaced (mask, compress, float64 sums)."""
    kept = values[(values >= lo) & (values <= hi)]
    n = kept.size
    mean = np.float32(np.sum(kept, dtype=np.float64) / n)
    dev = kept - mean
    var = np.sum(dev * dev, dtype=np.float64) / (n - 1)
    first = values[0]
    vmin = min(max(lo, first), kept.min())
    vmax = max(min(hi, first), kept.max())
    return n, mean, np.float32(np.sqrt(var)), np.float32(vmin), np.float32(vmax)


@pytest.mark.parametrize("limits", [(0.28, 0.33), (-1.0, 5.0), (0.3, 0.3001), (0.31, 0.45)])
def test_compiled_selection_equals_the_numpy_moments_bit_for_bit(limits):
    from webbcal.skymatch.statistics import _moments, select_range

    values = _sky_with_sources(np.random.default_rng(8), 300_001)
    values[7] = np.nan  # never selected
    lo, hi = np.float32(limits[0]), np.float32(limits[1])
    kept, vmin, vmax = select_range(values, lo, hi)
    expected = values[(values >= lo) & (values <= hi)]
    np.testing.assert_array_equal(kept, expected)
    assert (vmin, vmax) == (expected.min(), expected.max())
    got, _ = _moments(values, lo, hi)
    assert (got.npix, got.mean, got.stddev, got.vmin, got.vmax) == _moments_numpy(values, lo, hi)
    assert got.npix == expected.size > 1


def test_moments_of_all_values_skip_the_selection_with_the_same_numbers():
    from webbcal.skymatch.statistics import _moments

    values = _sky_with_sources(np.random.default_rng(9), 100_000)
    before = values.copy()
    lo, hi = values.min(), values.max()
    got, _ = _moments(values, lo, hi, (lo, hi))
    assert (got.npix, got.mean, got.stddev, got.vmin, got.vmax) == _moments_numpy(values, lo, hi)
    np.testing.assert_array_equal(values, before)  # the caller's values are not overwritten


def test_compiled_selection_of_nothing():
    from webbcal.skymatch.statistics import select_range

    kept, vmin, vmax = select_range(np.array([1.0, 2.0], np.float32), 5.0, 6.0)
    assert kept.size == 0 and (vmin, vmax) == (6.0, 5.0)


@pytest.mark.parametrize("n", [2, 9, 8191, 8192, 8193, 3 * 8192 + 129, 1_000_003])
def test_compiled_moments_equal_numpy_across_its_buffer_chunks(n):
    """numpy sums float32 values as float64 by chunks of its buffer: the compiled moments
    give the same bits on both sides of each chunk boundary, with and without selection."""
    from webbcal.skymatch.statistics import _moments

    values = _sky_with_sources(np.random.default_rng(n), n) * np.float32(1e3)
    lo, hi = values.min(), values.max()
    for limits, extremes in (((lo, hi), (lo, hi)), ((lo, hi), None),
                             ((np.float32(290.0), np.float32(320.0)), (lo, hi))):  # fmt: skip
        got, _ = _moments(values, *limits, extremes)
        want = _moments_numpy(values, *limits)
        assert (got.npix, got.mean, got.stddev, got.vmin, got.vmax) == want


def _histogram_numpy(values, nbins, width, start):
    """The numpy histogram ``_histogram`` replaced (same single-precision edges)."""
    f32 = np.float32
    scale = f32(1.0) / width if width > 0 else f32(np.inf)
    edge = start + width * f32(nbins)
    with np.errstate(invalid="ignore", over="ignore"):
        reach = scale * (edge - start)
    closed = bool(np.isfinite(reach)) and int(reach) == nbins
    if closed:
        edge = edge * (f32(1.0) - np.finfo(np.float32).eps)
    inside = (values >= start) & ((values <= edge) if closed else (values < edge))
    with np.errstate(invalid="ignore"):
        index = (scale * (values[inside] - start)).astype(np.int64)
    return np.bincount(np.clip(index, 0, nbins - 1), minlength=nbins)


@pytest.mark.parametrize(
    ("nbins", "width", "start"),
    [(1, 0.0, 0.25), (1, 0.5, 0.25), (2, 0.01, 0.28), (37, 0.0011, 0.29), (500, 1e-4, 0.27),
     (3, 0.3, -0.5)],
)  # fmt: skip
def test_compiled_histogram_equals_numpy(nbins, width, start):
    from webbcal.skymatch.statistics import _histogram

    values = _sky_with_sources(np.random.default_rng(nbins), 50_001)
    values[:4] = (0.25, np.nan, 0.25 + 37 * 0.0011, -np.inf)
    width, start = np.float32(width), np.float32(start)
    # a value on the upper edge of the last bin (counted in it when the edge is closed)
    values[4] = start + width * np.float32(nbins)
    got = _histogram(values, nbins, width, start)
    want = _histogram_numpy(values, nbins, width, start)
    np.testing.assert_array_equal(got, want)
    assert got.dtype == want.dtype and (got.sum() > 0 or width == 0)


def test_moments_reuse_a_selection_only_when_the_limits_keep_the_same_values():
    """Limits between the nearest left-out values and the kept extremes select the same
    values: their moments are reused (and equal a fresh computation); other limits are
    computed afresh."""
    from webbcal.skymatch.statistics import _moments

    values = _sky_with_sources(np.random.default_rng(12), 200_001)
    lo, hi = np.float32(0.29), np.float32(0.31)
    first, selection = _moments(values, lo, hi)
    assert selection.below < lo <= selection.kmin and selection.kmax <= hi < selection.above
    inner_lo = np.float32((np.float64(selection.below) + np.float64(selection.kmin)) / 2)
    inner_hi = np.float32((np.float64(selection.kmax) + np.float64(selection.above)) / 2)
    assert selection.same_values(inner_lo, inner_hi)
    reused, again = _moments(values, inner_lo, inner_hi, None, selection)
    fresh, _ = _moments(values, inner_lo, inner_hi)
    assert again is selection and reused == fresh
    assert (reused.npix, reused.mean, reused.stddev) == (first.npix, first.mean, first.stddev)
    # one more value on either side: not the same selection
    for limits in ((selection.below, inner_hi), (inner_lo, selection.above),
                   (np.nextafter(selection.kmin, np.float32(1)), inner_hi)):  # fmt: skip
        assert not selection.same_values(*limits)
        got, new = _moments(values, *limits, None, selection)
        assert new is not selection and got == _moments(values, *limits)[0]
        assert got.npix != first.npix
