"""SkyMatchStep on simulated dithered exposures with known sky levels (truth), each method,
exposure groups, user sky lists, memory modes and bad input."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from _skymatch_files import SKY, copy_set, regroup
from stdatamodels.jwst import datamodels as dm

from webbcal.datamodels import ModelLibrary
from webbcal.datamodels.io import InputError
from webbcal.dqflags import PIXEL
from webbcal.skymatch import SkyMatchStep
from webbcal.stpipe.params import ParameterError

TRUTH = np.array(SKY)
OFF = {"disable_crds_steppars": True}


_RUNS: dict = {}


def run(inp, **kwargs):
    """Levels, statuses and data of every member of the step's result.

    Runs on a file are remembered (several tests look at the same run).
    """
    key = (inp, tuple(sorted(kwargs.items()))) if isinstance(inp, str) else None
    if key is not None and key in _RUNS:
        return _RUNS[key]
    result = SkyMatchStep.call(inp, **OFF, **kwargs)
    out = []
    with result:
        for i in range(len(result)):
            m = result.borrow(i)
            out.append((m.meta.background.level, m.meta.cal_step.skymatch,
                        m.meta.background.subtracted, m.meta.background.method,
                        np.array(m.data)))  # fmt: skip
            result.shelve(m, i, modify=False)
    if key is not None:
        _RUNS[key] = out
    return out


def levels(out):
    return np.array([o[0] for o in out], dtype=float)


@pytest.fixture(scope="module")
def noise(dithers):
    """Per-pixel sky noise of the exposures (MJy/sr, robust), and overlap sizes."""
    with dm.open(str(dithers.cal_paths[0])) as m:
        d = np.asarray(m.data, float)
        return 1.4826 * np.median(np.abs(d - np.median(d)))


def test_match_recovers_the_sky_differences(dithers, noise):
    """Relative skies (median statistic) to a few times the noise-limited precision.

    About 20000 pixels overlap in each pair: sigma/sqrt(N) ~ 3e-5 MJy/sr.
    """
    out = run(str(dithers.asn_path), skystat="median")
    err = levels(out) - (TRUTH - TRUTH.min())
    assert [o[1] for o in out] == ["COMPLETE"] * 4
    assert err[0] == 0.0  # the lowest sky is the reference (match_down)
    assert np.abs(err).max() < 3 * noise / np.sqrt(20000) * 2
    assert all(o[2] is False and o[3] == "match" for o in out)


def test_match_with_the_default_mode_statistic(dithers, noise):
    """The histogram mode (0.1-sigma bins) is far noisier than the median: within 0.6 sigma."""
    down = levels(run(str(dithers.asn_path)))
    err = down - (TRUTH - TRUTH.min())
    assert np.abs(err).max() < 0.6 * noise
    up = levels(run(str(dithers.asn_path), match_down=False))
    assert down.min() == 0.0 and up.max() == 0.0
    np.testing.assert_allclose(up - down, up[0] - down[0], rtol=0, atol=1e-15)


def test_local_and_global(dithers, noise):
    local = levels(run(str(dithers.asn_path), skymethod="local"))
    np.testing.assert_allclose(local, TRUTH, atol=0.1 * noise)
    glob = levels(run(str(dithers.asn_path), skymethod="global"))
    assert (glob == local.min()).all()


def test_global_plus_match_adds_the_lowest_matched_sky(dithers, noise):
    match = levels(run(str(dithers.asn_path), skystat="median"))
    local = levels(run(str(dithers.asn_path), skystat="median", skymethod="local"))
    both = levels(run(str(dithers.asn_path), skystat="median", skymethod="global+match"))
    np.testing.assert_allclose(both - match, np.min(local - match), rtol=0, atol=1e-12)
    # absolute levels carry the faint wings of the stars (+1e-4 to +2e-4 MJy/sr)
    np.testing.assert_allclose(both, TRUTH, atol=3e-4)
    np.testing.assert_allclose(np.diff(both), np.diff(TRUTH), atol=1e-4)


def test_subtract_removes_the_level_and_a_rerun_finds_nothing_left(dithers, tmp_path):
    asn = copy_set(dithers, tmp_path / "in")
    before = [np.array(dm.open(str(p)).data) for p in dithers.cal_paths]
    step = SkyMatchStep(skymethod="global+match", subtract=True, skystat="median",
                        save_results=True, output_dir=str(tmp_path))  # fmt: skip
    result = step.run(str(asn))
    paths = sorted(tmp_path.glob("*_skymatch.fits"))
    assert len(paths) == 4
    for k, path in enumerate(paths):
        with dm.open(str(path)) as m:
            assert m.meta.background.subtracted is True
            # two corrections subtracted in turn in float32: equal to rounding
            np.testing.assert_allclose(m.data, before[k] - m.meta.background.level,
                                       rtol=3e-7, atol=1e-7)  # fmt: skip
            assert abs(np.median(m.data)) < 5e-4  # the median of all pixels sees the stars
    # a second run on the subtracted images keeps the level (base + a tiny correction)
    again = levels(run([dm.open(str(p)) for p in paths], skymethod="global+match",
                       subtract=True, skystat="median"))  # fmt: skip
    first = []
    with result:
        for i in range(len(result)):
            m = result.borrow(i)
            first.append(m.meta.background.level)
            result.shelve(m, i, modify=False)
    np.testing.assert_allclose(again, first, atol=2e-5)
    with pytest.raises(InputError, match="BKGSUB=True from an earlier sky matching, but "
                                         "subtract=False"):  # fmt: skip
        run([dm.open(str(p)) for p in paths])


def test_exposure_group_gets_one_correction(dithers, tmp_path):
    """Detectors of one exposure (same group_id) are matched as one image.

    The second member is given the first one's sky, so the group's sky is 0.10 MJy/sr.
    """
    offsets = (0.0, TRUTH[0] - TRUTH[1], 0.0, 0.0)
    asn = regroup(dithers, tmp_path, (1, 1, 2, 3), offsets)
    out = levels(run(str(asn), skystat="median"))
    assert out[0] == out[1] == 0.0
    np.testing.assert_allclose(out[2:], TRUTH[2:] - TRUTH[0], atol=1e-4)


def test_user_sky_list(dithers, tmp_path):
    values = [0.5, 0.25, 0.125, 1.0]
    skylist = tmp_path / "sky.txt"
    lines = [f"{p.name.replace('_cal.fits', '_crf.fits')}  {v}" for p, v in
             zip(reversed(dithers.cal_paths), reversed(values), strict=True)]  # fmt: skip
    skylist.write_text("# name sky\n" + "\n".join(lines) + "\n")
    out = run(str(dithers.asn_path), skymethod="user", skylist=str(skylist), subtract=True)
    assert list(levels(out)) == values
    with dm.open(str(dithers.cal_paths[1])) as m:
        np.testing.assert_array_equal(out[1][4], m.data - np.float32(0.25))
    assert {o[3] for o in out} == {"user"} and {o[1] for o in out} == {"COMPLETE"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a_cal.fits 0.1\n", r"1 sky value\(s\) for 4 input image\(s\); expected one line per"),
        (
            "{0} 0.1\n{1} 0.2\n{2} 0.3\nmissing_cal.fits 0.4\n",
            "image 'jw01234001001_01101_00004_nrca1' is not listed",
        ),
        ("{0} 0.1\n{0} 0.2\n{2} 0.3\n{3} 0.4\n", "is listed 2 times"),
        ("{0} 0.1 extra\n", "line 1: .*expected '<image name> <sky value>'"),
        ("{0} abc\n", "line 1: .*expected '<image name> <sky value>'"),
    ],
)
def test_bad_sky_lists_are_named(dithers, tmp_path, text, message):
    skylist = tmp_path / "sky.txt"
    skylist.write_text(text.format(*[p.name for p in dithers.cal_paths]))
    with pytest.raises(InputError, match=message):
        SkyMatchStep.call(str(dithers.asn_path), skymethod="user", skylist=str(skylist), **OFF)


def test_user_without_or_with_a_missing_sky_list(dithers, tmp_path):
    with pytest.raises(InputError, match="skymethod='user' needs skylist"):
        SkyMatchStep.call(str(dithers.asn_path), skymethod="user", **OFF)
    with pytest.raises(InputError, match="nothere.txt: cannot read the sky list"):
        SkyMatchStep.call(str(dithers.asn_path), skymethod="user",
                          skylist=str(tmp_path / "nothere.txt"), **OFF)  # fmt: skip


def test_on_disk_library_one_member_at_a_time_same_levels(dithers, monkeypatch):
    """in_memory=False: never more than one member lent at once; same results."""
    digest = [hashlib.sha256(p.read_bytes()).hexdigest() for p in dithers.cal_paths]
    lent = []
    borrow = ModelLibrary.borrow

    def counting(self, index):
        model = borrow(self, index)
        lent.append(len(self._ledger))
        return model

    monkeypatch.setattr(ModelLibrary, "borrow", counting)
    memory = run(str(dithers.asn_path), skystat="median")
    disk = run(str(dithers.asn_path), skystat="median", in_memory=False)
    assert max(lent) == 1
    np.testing.assert_array_equal(levels(memory), levels(disk))
    for a, b in zip(memory, disk, strict=True):
        np.testing.assert_array_equal(a[4], b[4])
    assert [hashlib.sha256(p.read_bytes()).hexdigest() for p in dithers.cal_paths] == digest


def test_models_in_memory_are_not_modified(dithers):
    models = [dm.open(str(p)) for p in dithers.cal_paths]
    data = [np.array(m.data) for m in models]
    run(ModelLibrary(models), subtract=True)
    for m, d in zip(models, data, strict=True):
        np.testing.assert_array_equal(m.data, d)
        assert m.meta.background.level is None


def test_image_without_good_pixels_is_skipped(dithers):
    models = [dm.open(str(p)) for p in dithers.cal_paths]
    models[2].dq = models[2].dq | np.uint32(PIXEL["DO_NOT_USE"])
    out = run(models, skystat="median")
    assert [o[1] for o in out] == ["COMPLETE", "COMPLETE", "SKIPPED", "COMPLETE"]
    assert out[2][0] is None
    # global: the lowest of the measured skies, given to every image (jwst would fail here)
    glob = run(models, skymethod="global")
    assert [o[1] for o in glob] == ["COMPLETE"] * 4
    assert len({o[0] for o in glob}) == 1 and glob[0][0] == pytest.approx(TRUTH[0], abs=3e-4)
    # with dqbits=None the DQ is not looked at: the image is matched again
    out = run(models, skystat="median", dqbits=None)
    assert [o[1] for o in out] == ["COMPLETE"] * 4


def test_member_without_wcs_and_bad_dqbits(dithers):
    models = [dm.open(str(p)) for p in dithers.cal_paths]
    models[1].meta.wcs = None
    with pytest.raises(InputError, match="_00002_nrca1_cal.fits: no WCS"):
        run(models)
    with pytest.raises(ParameterError, match="dqbits='NOT_A_FLAG'"):
        run([dm.open(str(p)) for p in dithers.cal_paths], dqbits="NOT_A_FLAG")
    with pytest.raises(ParameterError, match="lsigma=0.0; expected a number > 0"):
        run([dm.open(str(p)) for p in dithers.cal_paths], lsigma=0.0)
    with pytest.raises(InputError, match="not a single ImageModel"):
        SkyMatchStep.call(dm.open(str(dithers.cal_paths[0])), **OFF)


def _levels_and_pair_sums(inp, monkeypatch, **kwargs):
    """Levels of every member, and the pair sky and pixel counts given to the matching."""
    from webbcal.skymatch import step as step_module

    given = []
    original = step_module.match_skies

    def recording(pair_sky, pair_npix, **options):
        given.append((pair_sky.copy(), pair_npix.copy()))
        return original(pair_sky, pair_npix, **options)

    monkeypatch.setattr(step_module, "match_skies", recording)
    result = SkyMatchStep.call(inp, **OFF, **kwargs)
    with result:
        out = []
        for i in range(len(result)):
            m = result.borrow(i)
            out.append(m.meta.background.level)
            result.shelve(m, i, modify=False)
    monkeypatch.setattr(step_module, "match_skies", original)
    return np.array(out, dtype=float), given


@pytest.mark.parametrize(
    "numbers, kwargs, forks",
    [
        (None, {}, 2),
        (None, {"skystat": "median", "match_down": False, "skymethod": "global+match"}, 2),
        ((1, 1, 2, 3), {"skymethod": "global+match", "subtract": True}, 1),
    ],
    ids=["match", "median-up-global+match", "three-groups-subtract"],
)
def test_skies_measured_in_a_worker_are_the_serial_ones(dithers, tmp_path, monkeypatch,
                                                        numbers, kwargs, forks):  # fmt: skip
    """Members in memory: the overlap skies of every second image or group are
    measured in a forked worker (lib.forkmap), with the footprint intersections
    computed beforehand. The pair sums and levels are those of measuring them in turn
    here, bit for bit: on disk (the serial path) and in memory without workers
    (WEBBCAL_OVERLAP=0).

    A process whose numba OpenMP threads are running may not fork (an earlier test's
    parallel kernel): ``tests/lib_forkmap/test_forked_paths.py`` runs this test in a
    fresh process.
    """
    import os

    from webbcal.lib.forkmap import fork_available

    if os.environ.get("WEBBCAL_TEST_REQUIRE_FORK"):
        assert fork_available(), "this process was started to test the forked paths"
    asn = str(dithers.asn_path if numbers is None else regroup(dithers, tmp_path, numbers))
    started = []
    fork = os.fork

    def counting():
        started.append(1)
        return fork()

    monkeypatch.setattr(os, "fork", counting)
    beside, beside_sums = _levels_and_pair_sums(asn, monkeypatch, **kwargs)
    monkeypatch.setattr(os, "fork", fork)
    assert len(started) == (forks if fork_available() else 0)
    serial, serial_sums = _levels_and_pair_sums(asn, monkeypatch, in_memory=False, **kwargs)
    monkeypatch.setenv("WEBBCAL_OVERLAP", "0")
    here, here_sums = _levels_and_pair_sums(asn, monkeypatch, **kwargs)
    assert np.isfinite(beside).all()
    for levels_, sums in ((serial, serial_sums), (here, here_sums)):
        np.testing.assert_array_equal(beside, levels_)
        assert len(sums) == len(beside_sums) == 1
        for (sky, npix), (sky_here, npix_here) in zip(beside_sums, sums, strict=True):
            np.testing.assert_array_equal(sky, sky_here)
            np.testing.assert_array_equal(npix, npix_here)


@pytest.mark.parametrize("dtype", [np.uint32, np.uint16, np.uint64, np.int32])
@pytest.mark.parametrize("bits", [-514, 1, 0, -1, 2**31, -(2**31)])
def test_good_pixels_in_the_dq_type_are_those_of_a_64_bit_mask(dtype, bits):
    """Unsigned DQ is masked in its own type: the good pixels of the int64 mask."""
    from types import SimpleNamespace

    from webbcal.skymatch.step import _good_pixels

    rng = np.random.default_rng(11)
    info = np.iinfo(dtype)
    dq = rng.integers(info.min, info.max, (40, 50), dtype=dtype, endpoint=True)
    dq[:5] = 0
    data = rng.normal(size=dq.shape).astype(np.float32)
    data[0, :3] = np.nan
    expected = np.isfinite(data) & ((dq.astype(np.int64) & ~np.int64(bits)) == 0)
    good = _good_pixels(SimpleNamespace(dq=dq), data, bits)
    np.testing.assert_array_equal(good, expected)
    assert good.any()
