"""Every MIRI observing mode goes through the MIRI branch of calwebb_detector1.

Simulated raw exposures of the imager (full frame and SUB256), the coronagraphs (MASK1065,
MASKLYOT), the LRS slitless prism (SLITLESSPRISM, with the primary-header metadata of the
real 2019 ground-test product) and the MRS (MIRIFULONG and MIRIFUSHORT, full 1032 x 1024
frames), each with simulated references served by a local CRDS context, run end to end:
the MIRI step order is selected, every MIRI correction runs (refpix only where the frame
has reference columns), superbias does not, and the rates agree with the simulation.

The three full frames share one simulated MIRIFULONG exposure: the MIRIFUSHORT and imager
cases are relabelled copies (DETECTOR, EXP_TYPE, FILTER/BAND/CHANNEL in the raw file and
DETECTOR in the references; :func:`_relabel`), which keeps the test short while the branch
selection still sees each mode's own metadata.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import asdf
import numpy as np
import pytest
from astropy.io import fits

from _shared_paths import REAL
from webbcal.crds_client import RmapEntry, crds_environment, write_local_context
from webbcal.pipeline import Detector1Pipeline
from webbcal.pipeline.detector1 import MIRI_RAMP_STEPS, RATE_STEPS

PARKEYS = ("META.INSTRUMENT.DETECTOR", "META.SUBARRAY.NAME")
GROUND_TEST = REAL / "jwst-wheel" / "miri_ground_test"
#: Primary-header keywords copied from the real ground-test product into the LRS case.
REAL_KEYWORDS = (
    "TELESCOP", "INSTRUME", "DETECTOR", "EXP_TYPE", "FILTER", "SUBARRAY", "SUBSTRT1",
    "SUBSTRT2", "SUBSIZE1", "SUBSIZE2", "FASTAXIS", "SLOWAXIS", "READPATT", "NFRAMES",
    "GROUPGAP", "NGROUPS", "TFRAME", "TGROUP", "DATE-OBS", "TIME-OBS",
)  # fmt: skip
#: cal_step values every MIRI product must record (refpix depends on the frame).
MIRI_DONE = ("dq_init", "emicorr", "saturation", "ipc", "lastframe", "reset", "linearity",
             "rscd", "dark_sub", "jump", "ramp_fit")  # fmt: skip
OFF_BY_DEFAULT = ("firstframe", "clean_flicker_noise")
NOT_FOR_MIRI = ("charge_migration", "persistence")


@pytest.fixture(autouse=True)
def _quiet_crds_steppars(monkeypatch):
    monkeypatch.setenv("WEBBCAL_DISABLE_CRDS_STEPPARS", "true")


def _simulate(root: Path, detector, subarray, *, ngroups=4, nints=1, readpatt="FASTR1"):
    """Simulate an exposure, write its references and a local CRDS context; return paths."""
    from webbcal.simulate import (
        make_miri_detector,
        simulate_miri_exposure,
        write_miri_reference_files,
    )

    det = make_miri_detector(detector=detector, subarray=subarray, seed=1)
    refs = write_miri_reference_files(det, root / "refs", ngroups=ngroups, nints=max(nints, 1),
                                      readpatt=readpatt)  # fmt: skip
    sim = simulate_miri_exposure(det, readpatt=readpatt, ngroups=ngroups, nints=nints, seed=2)
    uncal = sim.save(root / "data")["uncal"]
    return {"uncal": uncal, "refs": refs, "crds": _context(root / "crds", refs, detector,
            subarray), "truth": sim.truth}  # fmt: skip


def _context(crds_path, refs, detector, subarray):
    entries = [
        RmapEntry(
            "MIRI", reftype, PARKEYS, {(detector, subarray): [("1900-01-01 00:00:00", str(path))]}
        )  # fmt: skip
        for reftype, path in sorted(refs.items())
    ]
    write_local_context(crds_path, entries,
                        not_applicable={"MIRI": ["superbias", "refpix", "sirskernel"]})  # fmt: skip
    return crds_path


def _relabel(case, root: Path, detector: str, keywords: dict) -> dict:
    """Copies of a case's raw file and references for another MIRI detector / mode.

    ``keywords`` are set in the raw file's primary header (None deletes one); the
    references get ``DETECTOR`` (the EMICORR ASDF tree its meta.instrument.detector).
    """
    (root / "data").mkdir(parents=True)
    uncal = (
        root
        / "data"
        / case["uncal"].name.replace(case["uncal"].name.split("_")[-2], detector.lower())
    )
    shutil.copy(case["uncal"], uncal)
    with fits.open(uncal, mode="update") as hdul:
        hdr = hdul[0].header
        hdr["DETECTOR"] = detector
        for key, value in keywords.items():
            if value is None:
                hdr.remove(key, ignore_missing=True)
            else:
                hdr[key] = value
    refs = {}
    (root / "refs").mkdir()
    for reftype, src in case["refs"].items():
        dest = root / "refs" / src.name.replace("mirifulong", detector.lower())
        if src.suffix == ".asdf":
            with asdf.open(src, lazy_load=False, memmap=False) as af:
                tree = {k: af.tree[k] for k in ("meta", "frequencies", "subarray_cases")}
                tree = asdf.AsdfFile(tree).tree
            tree["meta"]["instrument"]["detector"] = detector
            asdf.AsdfFile(tree).write_to(dest)
        else:
            shutil.copy(src, dest)
            with fits.open(dest, mode="update") as hdul:
                hdul[0].header["DETECTOR"] = detector
        refs[reftype] = dest
    return {"uncal": uncal, "refs": refs, "crds": _context(root / "crds", refs, detector, "FULL"),
            "truth": case["truth"]}  # fmt: skip


def _run(case, out: Path, caplog):
    caplog.set_level(logging.INFO, logger="webbcal.pipeline")
    with crds_environment(case["crds"]):
        return Detector1Pipeline.call(
            str(case["uncal"]), output_dir=str(out), save_results=True, progress=False,
            steps={"emicorr": {"skip": False}},
        )  # fmt: skip


def _check_miri_branch(rate, caplog, *, detector, exp_type, shape, full_frame):
    assert rate.meta.instrument.detector == detector
    assert rate.meta.exposure.type == exp_type
    assert rate.data.shape == shape
    assert "MIRI exposure: running the MIRI branch of calwebb_detector1" in caplog.text
    assert Detector1Pipeline().active_steps(rate) == [*MIRI_RAMP_STEPS, *RATE_STEPS]
    steps = rate.meta.cal_step.instance
    assert "superbias" not in steps
    for name in MIRI_DONE:
        assert steps[name] == "COMPLETE", (name, steps)
    for name in OFF_BY_DEFAULT + NOT_FOR_MIRI:
        assert steps[name] == "SKIPPED", (name, steps)
    # MIRI reference columns (1-4, 1029-1032) exist only in full frames and left-edge subarrays.
    assert steps["refpix"] == ("COMPLETE" if full_frame else "SKIPPED")
    assert rate.meta.ref_file.rscd.name.startswith("crds://")
    assert rate.meta.ref_file.reset.name.startswith("crds://")


def _check_rates(rate, truth):
    good = (rate.dq == 0) & ~truth.saturated & ~truth.bad & (rate.err > 0)
    good &= np.isfinite(rate.data)
    assert good.mean() > 0.8
    pull = (rate.data[good] - truth.rate[good]) / rate.err[good]
    assert abs(np.median(pull)) < 0.25


# ------------------------------------------------------------------ full frames
@pytest.fixture(scope="module")
def mrs_long(tmp_path_factory):
    return _simulate(tmp_path_factory.mktemp("mrs_long"), "MIRIFULONG", "FULL")


FULL_FRAME_MODES = {
    "MIRIFULONG": ("MIRIFULONG", "MIR_MRS", None),
    "MIRIFUSHORT": ("MIRIFUSHORT", "MIR_MRS", {"CHANNEL": "12"}),
    "MIRIMAGE-FULL": ("MIRIMAGE", "MIR_IMAGE",
                      {"EXP_TYPE": "MIR_IMAGE", "FILTER": "F770W", "BAND": None,
                       "CHANNEL": None}),
}  # fmt: skip


@pytest.mark.parametrize("mode", list(FULL_FRAME_MODES))
def test_full_frame_modes_run_the_miri_branch(mrs_long, mode, tmp_path, caplog):
    detector, exp_type, keywords = FULL_FRAME_MODES[mode]
    case = mrs_long if keywords is None else _relabel(mrs_long, tmp_path, detector, keywords)
    rate = _run(case, tmp_path / "out", caplog)
    _check_miri_branch(rate, caplog, detector=detector, exp_type=exp_type, shape=(1024, 1032),
                       full_frame=True)  # fmt: skip
    _check_rates(rate, case["truth"])


# -------------------------------------------------------------------- subarrays
SUBARRAY_MODES = {
    # subarray: (EXP_TYPE chosen by the simulator, shape)
    "SUB256": ("MIR_IMAGE", (256, 256)),
    "MASK1065": ("MIR_4QPM", (224, 288)),
    "MASKLYOT": ("MIR_LYOT", (304, 320)),
}


@pytest.mark.parametrize("subarray", list(SUBARRAY_MODES))
def test_subarray_modes_run_the_miri_branch(subarray, tmp_path, caplog):
    exp_type, shape = SUBARRAY_MODES[subarray]
    case = _simulate(tmp_path / "case", "MIRIMAGE", subarray, ngroups=5, nints=2)
    rate = _run(case, tmp_path / "out", caplog)
    _check_miri_branch(rate, caplog, detector="MIRIMAGE", exp_type=exp_type, shape=shape,
                       full_frame=False)  # fmt: skip
    _check_rates(rate, case["truth"])


def test_lrs_slitless_with_the_real_ground_test_header(tmp_path, caplog):
    """SLITLESSPRISM read FAST, 6 groups: the keywords of the real ground-test product."""
    files = sorted(GROUND_TEST.glob("*.fits"))
    if not files:
        pytest.skip("shared real data not available")
    real = fits.getheader(files[0])
    assert (real["SUBARRAY"], real["READPATT"], real["NGROUPS"]) == ("SLITLESSPRISM", "FAST", 6)
    case = _simulate(tmp_path / "case", "MIRIMAGE", "SLITLESSPRISM", ngroups=6, nints=2,
                     readpatt="FAST")  # fmt: skip
    with fits.open(case["uncal"], mode="update") as hdul:
        for key in REAL_KEYWORDS:
            hdul[0].header[key] = real[key]
    rate = _run(case, tmp_path / "out", caplog)
    _check_miri_branch(rate, caplog, detector="MIRIMAGE", exp_type="MIR_LRS-SLITLESS",
                       shape=(416, 72), full_frame=False)  # fmt: skip
    assert rate.meta.observation.date == real["DATE-OBS"]
    assert rate.meta.exposure.readpatt == "FAST"
    # RSCD row of SLITLESSPRISM FAST: the first group of every integration is not used.
    assert rate.meta.rscd.ngroups_skip_int1 >= 1
    _check_rates(rate, case["truth"])
