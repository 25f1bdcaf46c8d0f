"""The streaming execution of calwebb_detector1 gives the step-by-step products exactly.

Each case runs the pipeline twice on the same file and references: once with
``streaming=False`` (every step on the whole ramp) and once streaming with a
memory limit small enough to force many blocks of rows (so halos, block
edges and the reference-pixel first pass are exercised). SCI, ERR, DQ,
VAR_POISSON and VAR_RNOISE of ``_rate`` and ``_rateints`` must be identical,
as must the step statuses and the jump statistics.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest
from astropy.io import fits

from webbcal.lib.subarray import SubarrayGeometry
from webbcal.pipeline import Detector1Pipeline
from webbcal.pipeline.streaming import parse_memory

CASES = {
    # Single-output corner subarray, cosmic rays.
    "sub160p_rapid": {"subarray": "SUB160P", "ngroups": 6, "nints": 1, "cr_rate": 2e-3,
                      "seed": 3},
    # Full-width stripe read through 4 outputs (amplifier and side reference pixels),
    # frame averaging with dropped frames, zero frame, 3 integrations.
    "stripe_medium8_zf": {"subarray": "GENERIC", "geometry": SubarrayGeometry(1, 1, 2048, 64),
                          "readpatt": "MEDIUM8", "ngroups": 5, "nints": 3, "cr_rate": 2e-3,
                          "seed": 7, "zeroframe": True},
    # NIRSpec: FASTAXIS=2, an edgeless subarray.
    "nrs_sub512": {"instrument": "NIRSPEC", "detector": "NRS1", "subarray": "SUB512",
                   "ngroups": 6, "cr_rate": 2e-3, "seed": 5},
    # NIRISS: FASTAXIS=-2, SLOWAXIS=-1, two integrations.
    "nis_sub64": {"instrument": "NIRISS", "detector": "NIS", "subarray": "SUB64",
                  "ngroups": 6, "nints": 2, "cr_rate": 3e-3, "seed": 9},
    # Three groups (three-group threshold), BRIGHT2 frame averaging.
    "sub64p_bright2_3groups": {"subarray": "SUB64P", "readpatt": "BRIGHT2", "ngroups": 3,
                               "nints": 2, "cr_rate": 3e-3, "seed": 13},
}  # fmt: skip

ARRAYS = ("data", "err", "dq", "var_poisson", "var_rnoise")


def _run_both(case, tmp_path, caplog, **kwargs):
    from stdatamodels.jwst import datamodels as dm

    caplog.set_level(logging.INFO, logger="webbcal")
    results = {}
    for name, streaming in (("steps", False), ("stream", True)):
        caplog.clear()
        out = tmp_path / name
        out.mkdir()
        with case.crds():
            Detector1Pipeline.call(
                str(case.uncal), output_dir=str(out), save_results=True, progress=False,
                disable_crds_steppars=True, streaming=streaming, **kwargs,
            )  # fmt: skip
        streamed = any("Streaming" in r.getMessage() for r in caplog.records)
        assert streamed == streaming, [r.getMessage() for r in caplog.records][-5:]
        rate_path = next(out.glob("*_rate.fits"))
        rateints_path = next(out.glob("*_rateints.fits"))
        # Provenance: each product records its own file name (not a temporary one).
        for path in (rate_path, rateints_path):
            assert fits.getval(path, "FILENAME") == path.name
        assert sorted(p.name for p in out.iterdir()) == [rate_path.name, rateints_path.name]
        rate = dm.open(rate_path)
        rateints = dm.open(rateints_path)
        results[name] = (rate, rateints)
        results[f"{name}_log"] = [r.getMessage() for r in caplog.records]
    return results


#: Whole-array totals the steps log: once per run, the same numbers on both paths.
TOTALS = ("Detected ", "Two-point detection ", "Reference pixels: ")


@pytest.mark.parametrize(
    ("name", "limit"),
    [(name, "1MB") for name in sorted(CASES)]
    + [(name, "1MB-halo") for name in ("stripe_medium8_zf", "nrs_sub512", "sub64p_bright2_3groups")]
    + [("stripe_medium8_zf", "1.4GB"), ("nis_sub64", "1.4GB")]
    + [("stripe_medium8_zf", "1MB-halo-grow2"), ("sub160p_rapid", "1MB-afterjump")],
)
def test_streaming_identical_to_step_by_step(
    name, limit, case_builder, tmp_path, caplog, monkeypatch
):
    from webbcal.pipeline import streaming

    case = case_builder(tmp_path / "case", **CASES[name])
    # "1MB": blocks of the minimum height, so the steps before jump run over whole
    # integrations, one at a time, and wait on disk (two passes); "1MB-halo": the same
    # blocks, each calibrated with its halo rows, one integration at a time;
    # "1.4GB": one block; "-grow2": saturation grown by 2 pixels, which frame averaging
    # (MEDIUM8) carries twice as far.
    kwargs = {}
    if limit.endswith("-afterjump"):
        # Groups after large jumps flagged: thresholds from the whole array's median gain.
        kwargs["steps"] = {"jump": {"after_jump_flag_dn1": 10.0, "after_jump_flag_time1": 2.0}}
        limit = limit.removesuffix("-afterjump")
    two_pass = limit == "1MB"
    if limit.endswith("-grow2"):
        kwargs["steps"] = {"saturation": {"n_pix_grow_sat": 2}}
        limit = limit.removesuffix("-grow2")
    if limit.endswith("-halo"):
        monkeypatch.setattr(streaming, "_HALO_FRACTION", float("inf"))
        limit = limit.removesuffix("-halo")
    res = _run_both(case, tmp_path, caplog, memory_limit=limit, **kwargs)
    messages = [r.getMessage() for r in caplog.records]
    assert two_pass == any("wait on disk for jump" in m for m in messages)
    (rate_a, ints_a), (rate_b, ints_b) = res["steps"], res["stream"]
    for prefix in TOTALS:
        lines = [[m for m in res[f"{k}_log"] if m.startswith(prefix)] for k in ("steps", "stream")]
        assert lines[0] == lines[1], prefix
        assert len(set(lines[1])) == len(lines[1])  # one line per total, not one per block
    for attr in ARRAYS:
        for a, b in ((rate_a, rate_b), (ints_a, ints_b)):
            x, y = getattr(a, attr), getattr(b, attr)
            assert x.shape == y.shape
            assert np.array_equal(x, y, equal_nan=True), (attr, np.count_nonzero(x != y))
    # Something was measured: cosmic rays flagged, finite rates.
    assert np.isfinite(rate_b.data).mean() > 0.9
    assert np.count_nonzero(ints_b.dq & 4) > 0
    steps_a = rate_a.meta.cal_step.instance
    steps_b = rate_b.meta.cal_step.instance
    assert steps_a == steps_b
    ea, eb = rate_a.meta.exposure, rate_b.meta.exposure
    assert ea.primary_cosmic_rays == pytest.approx(eb.primary_cosmic_rays, rel=1e-12)
    for key in ("mask", "saturation", "superbias", "linearity", "dark", "gain", "readnoise"):
        assert getattr(rate_a.meta.ref_file, key).name == getattr(rate_b.meta.ref_file, key).name


def test_streaming_falls_back_for_saved_intermediate(nircam_case, tmp_path, caplog):
    """A saved calibrated ramp needs the step-by-step path; the run still succeeds."""
    caplog.set_level(logging.INFO, logger="webbcal")
    with nircam_case.crds():
        Detector1Pipeline.call(
            str(nircam_case.uncal), output_dir=str(tmp_path), save_results=True,
            progress=False, disable_crds_steppars=True, save_calibrated_ramp=True,
        )  # fmt: skip
    messages = [r.getMessage() for r in caplog.records]
    assert any("Step-by-step execution: the calibrated ramp is saved" in m for m in messages)
    assert list(tmp_path.glob("*_ramp.fits")) and list(tmp_path.glob("*_rate.fits"))


@pytest.mark.parametrize("after_jump", [False, True])
def test_blocks_share_the_whole_array_median_gain(nircam_case, tmp_path, monkeypatch,
                                                  after_jump):  # fmt: skip
    """After-jump thresholds use the median gain of the whole array in every block.

    Computed only when groups after jumps are flagged (a full frame's median takes
    ~40 ms); a block never takes the median of its own rows.
    """
    from stdatamodels.jwst import datamodels as dm

    from webbcal.jump import twopoint

    seen = []
    real = twopoint.detect_jumps

    def spy(*args, **kwargs):
        seen.append(kwargs["median_gain"])
        return real(*args, **kwargs)

    monkeypatch.setattr(twopoint, "detect_jumps", spy)
    jump = {"after_jump_flag_dn1": 10.0, "after_jump_flag_time1": 2.0} if after_jump else {}
    with nircam_case.crds():
        Detector1Pipeline.call(
            str(nircam_case.uncal), save_results=False, progress=False,
            disable_crds_steppars=True, memory_limit="1MB", steps={"jump": jump},
        )  # fmt: skip
    assert len(seen) > 1  # streamed: several blocks
    with dm.GainModel(nircam_case.refs["gain"]) as gain:
        expected = float(np.nanmedian(gain.data)) if after_jump else None
    assert set(seen) == {expected}


def test_streaming_falls_back_for_snowballs(nircam_case, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="webbcal")
    with nircam_case.crds():
        Detector1Pipeline.call(
            str(nircam_case.uncal), output_dir=str(tmp_path), save_results=False,
            progress=False, disable_crds_steppars=True,
            steps={"jump": {"expand_large_events": True}},
        )  # fmt: skip
    messages = [r.getMessage() for r in caplog.records]
    assert any("snowball or shower flagging needs whole frames" in m for m in messages)


@pytest.mark.parametrize(
    ("text", "nbytes"),
    [("2GB", 2 * 2**30), ("1500MB", 1500 * 2**20), ("1.5G", int(1.5 * 2**30)),
     ("512 MiB", 512 * 2**20), ("1000000", 1000000), (123456, 123456)],
)  # fmt: skip
def test_parse_memory(text, nbytes):
    assert parse_memory(text) == nbytes


@pytest.mark.parametrize("text", ["", "lots", "-1GB", "0", "2 parsecs"])
def test_parse_memory_rejects(text):
    with pytest.raises(ValueError, match="memory_limit"):
        parse_memory(text)


def test_bad_memory_limit_is_a_clear_error(nircam_case, tmp_path):
    from webbcal.stpipe import ParameterError

    with nircam_case.crds(), pytest.raises(ParameterError, match="memory_limit='lots'"):
        Detector1Pipeline.call(
            str(nircam_case.uncal), output_dir=str(tmp_path), progress=False,
            disable_crds_steppars=True, memory_limit="lots",
        )  # fmt: skip
    assert not list(tmp_path.glob("*.fits"))


def test_zero_frame_present_but_not_declared(case_builder, tmp_path, caplog):
    """ZEROFRAM=F with a ZEROFRAME extension: the steps before ramp fitting leave the
    zero frames alone (ramp fitting still reads them), on both paths alike."""
    case = case_builder(tmp_path / "case", **CASES["stripe_medium8_zf"])
    with fits.open(case.uncal, mode="update") as hdul:
        hdul[0].header["ZEROFRAM"] = False
        # Pixels saturated from the first group: their rates come from the zero frames.
        sci = hdul["SCI"].data
        sci[:, :, 20:23, 300:340] = 65000
        hdul["SCI"].data = sci
    res = _run_both(case, tmp_path, caplog, memory_limit="1.4GB",
                    steps={"ramp_fit": {"suppress_one_group": False}})  # fmt: skip
    (rate_a, ints_a), (rate_b, ints_b) = res["steps"], res["stream"]
    for attr in ARRAYS:
        for a, b in ((rate_a, rate_b), (ints_a, ints_b)):
            x, y = getattr(a, attr), getattr(b, attr)
            assert np.array_equal(x, y, equal_nan=True), (attr, np.count_nonzero(x != y))
    assert np.isfinite(rate_a.data[20:23, 300:340]).all()  # measured from the zero frames
