"""MIRI exposures stream through calwebb_detector1 with the step-by-step products exactly.

Each case simulates a MIRI exposure (:mod:`webbcal.simulate.miri`) with its references
served by a local CRDS context, runs the pipeline once step by step (``streaming=False``)
and once or more streaming with memory limits that force many blocks of rows, integration
chunks, the halo path or the two-pass path. ``_rate`` and ``_rateints`` must agree in every
array (SCI, ERR, DQ, VAR_POISSON, VAR_RNOISE) and in all metadata but the file date: step
statuses (S_*), references (R_*), the RSCD counts (meta.rscd), the jump statistics.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from webbcal.crds_client import RmapEntry, crds_environment, write_local_context
from webbcal.pipeline import Detector1Pipeline

ARRAYS = ("data", "err", "dq", "var_poisson", "var_rnoise")
PARKEYS = ("META.INSTRUMENT.DETECTOR", "META.SUBARRAY.NAME")


@pytest.fixture(autouse=True)
def _no_crds_steppars(monkeypatch):
    monkeypatch.setenv("WEBBCAL_DISABLE_CRDS_STEPPARS", "true")


def _simulate(root: Path, subarray: str, *, ngroups: int, nints: int, cr_rate: float, seed=2):
    from webbcal.simulate import (
        make_miri_detector,
        simulate_miri_exposure,
        write_miri_reference_files,
    )

    det = make_miri_detector(detector="MIRIMAGE", subarray=subarray, seed=1)
    refs = write_miri_reference_files(det, root / "refs", ngroups=ngroups, nints=min(nints, 2))
    sim = simulate_miri_exposure(det, ngroups=ngroups, nints=nints, seed=seed, cr_rate=cr_rate)
    uncal = sim.save(root / "data")["uncal"]
    entries = [
        RmapEntry("MIRI", reftype, PARKEYS,
                  {("MIRIMAGE", subarray): [("1900-01-01 00:00:00", str(path))]})
        for reftype, path in sorted(refs.items())
    ]  # fmt: skip
    write_local_context(root / "crds", entries,
                        not_applicable={"MIRI": ["superbias", "refpix", "sirskernel"]})  # fmt: skip
    return {"uncal": uncal, "crds": root / "crds"}


def _run(case, out: Path, caplog, *, streaming: bool, **kwargs):
    from stdatamodels.jwst import datamodels as dm

    caplog.set_level(logging.INFO, logger="webbcal")
    caplog.clear()
    out.mkdir()
    with crds_environment(case["crds"]):
        Detector1Pipeline.call(
            str(case["uncal"]), output_dir=str(out), save_results=True, progress=False,
            disable_crds_steppars=True, streaming=streaming, **kwargs,
        )  # fmt: skip
    messages = [r.getMessage() for r in caplog.records]
    streamed = any(m.startswith("Streaming ") for m in messages)
    assert streamed == streaming, messages[-8:]
    # No late fallback either (a failed check at the end reruns the steps one by one).
    assert not any(m.startswith("Step-by-step execution") for m in messages), messages[-8:]
    assert sorted(p.name.rsplit("_", 1)[-1] for p in out.iterdir()) == [
        "rate.fits",
        "rateints.fits",
    ]
    rate = dm.open(next(out.glob("*_rate.fits")))
    rateints = dm.open(next(out.glob("*_rateints.fits")))
    return rate, rateints, messages


def _flat(tree: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


def _assert_identical(steps, stream):
    for a, b in zip(steps[:2], stream[:2]):
        for attr in ARRAYS:
            x, y = getattr(a, attr), getattr(b, attr)
            assert x.shape == y.shape
            assert np.array_equal(x, y, equal_nan=True), (attr, np.count_nonzero(x != y))
        meta_a, meta_b = _flat(a.meta.instance), _flat(b.meta.instance)
        meta_a.pop("date"), meta_b.pop("date")
        assert meta_a == meta_b


# ------------------------------------------------------------------ full frame
@pytest.fixture(scope="module")
def full_frame(tmp_path_factory):
    """FASTR1 full frame, 5 groups, 3 integrations, cosmic rays and saturated stars."""
    root = tmp_path_factory.mktemp("miri_full")
    return _simulate(root, "FULL", ngroups=5, nints=3, cr_rate=3e-4)


@pytest.fixture(scope="module")
def full_frame_steps(full_frame, tmp_path_factory):
    """The step-by-step products of the full frame (shared by the streaming variants)."""
    return _run_quiet(full_frame, tmp_path_factory.mktemp("steps") / "out")


def _run_quiet(case, out: Path):
    from stdatamodels.jwst import datamodels as dm

    out.mkdir()
    with crds_environment(case["crds"]):
        Detector1Pipeline.call(
            str(case["uncal"]), output_dir=str(out), save_results=True, progress=False,
            disable_crds_steppars=True, streaming=False,
        )  # fmt: skip
    return dm.open(next(out.glob("*_rate.fits"))), dm.open(next(out.glob("*_rateints.fits")))


@pytest.mark.parametrize("path", ["halo", "two_pass"])
def test_full_frame_streams_identically(
    path, full_frame, full_frame_steps, tmp_path, caplog, monkeypatch
):
    from webbcal.pipeline import streaming

    # "1MB": no room for more than one integration at a time; blocks of 64 rows keep
    # the run short (16 blocks); "two_pass": the steps before jump over whole
    # integrations, results waiting on disk.
    monkeypatch.setattr(streaming, "_MIN_ROWS", 64)
    if path == "two_pass":
        monkeypatch.setattr(streaming, "_HALO_FRACTION", 0.0)
    rate, ints, messages = _run(full_frame, tmp_path / "out", caplog, streaming=True,
                                memory_limit="1MB")  # fmt: skip
    plan = next(m for m in messages if m.startswith("Streaming "))
    assert "blocks of 64 rows" in plan and "and 1 of 3 integrations" in plan, plan
    assert (path == "two_pass") == any("wait on disk for jump" in m for m in messages)
    _assert_identical(full_frame_steps, (rate, ints))
    steps = rate.meta.cal_step.instance
    for name in ("dq_init", "saturation", "ipc", "lastframe", "reset", "linearity", "rscd",
                 "dark_sub", "refpix", "jump", "ramp_fit"):  # fmt: skip
        assert steps[name] == "COMPLETE", (name, steps)
    # The RSCD saturation branch was taken and cosmic rays were flagged.
    assert rate.meta.rscd.keep_groups_saturation_int1 > 0
    assert rate.meta.rscd.keep_groups_saturation_int2p > 0
    assert np.count_nonzero(ints.dq & 4) > 0
    assert np.isfinite(rate.data).mean() > 0.9


# ------------------------------------------------------------------ subarrays
@pytest.mark.parametrize(
    ("subarray", "limit", "steps"),
    [
        # Several integrations in 2-row blocks (two passes), refpix skipped (subarray).
        ("SUB256", "1MB", {}),
        # firstframe on (bright pixels keep group 1), the halo path in one chunk.
        ("BRIGHTSKY", "200MB", {"firstframe": {"skip": False}}),
    ],
)
def test_subarray_streams_identically(subarray, limit, steps, tmp_path, caplog):
    case = _simulate(tmp_path / "case", subarray, ngroups=5, nints=3, cr_rate=5e-4, seed=4)
    ref = _run(case, tmp_path / "steps", caplog, streaming=False, steps=steps)
    got = _run(case, tmp_path / "stream", caplog, streaming=True, memory_limit=limit,
               steps=steps)  # fmt: skip
    _assert_identical(ref, got)
    rate = got[0]
    assert rate.meta.cal_step.refpix == "SKIPPED"
    assert rate.meta.cal_step.rscd == "COMPLETE"
    if "firstframe" in steps:
        assert rate.meta.cal_step.firstframe == "COMPLETE"
        kept = [m for m in got[2] if m.startswith("Usable bright pixels whose first group")]
        want = [m for m in ref[2] if m.startswith("Usable bright pixels whose first group")]
        assert kept == want and int(kept[0].rsplit(" ", 1)[-1]) > 0


def test_active_emicorr_falls_back(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="webbcal")
    case = _simulate(tmp_path / "case", "SUB64", ngroups=5, nints=1, cr_rate=0.0)
    with crds_environment(case["crds"]):
        Detector1Pipeline.call(
            str(case["uncal"]), output_dir=str(tmp_path / "out2"), save_results=True,
            progress=False, disable_crds_steppars=True, steps={"emicorr": {"skip": False}},
        )  # fmt: skip
    messages = [r.getMessage() for r in caplog.records]
    assert any("Step-by-step execution: step emicorr is not covered" in m for m in messages)
    assert not any(m.startswith("Streaming ") for m in messages)
    assert sorted(p.name.rsplit("_", 1)[-1] for p in (tmp_path / "out2").iterdir()) == [
        "rate.fits",
        "rateints.fits",
    ]
