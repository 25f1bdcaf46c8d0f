"""Bad input gets one clear message, never a traceback.

Every case is run through the Python API (the right exception type, with a
message naming the file, keyword or extension, the value found and what was
expected) and through the command line (exit status 1, or 2 for usage, one
``webbcal: error:`` line on stderr, no traceback). In both, the output
directory must stay empty (no product, no ``.tmp_webbcal_*`` file) and the
input file must keep its bytes and modification time.

The shared ``nircam_case`` files are never modified: every damaged input or
reference is a copy in the test's own directory.
"""

from __future__ import annotations

import logging
import os
import re
import time
from pathlib import Path

import numpy as np
import pytest
from _bad_files import copy as _copy
from _bad_files import digest as _digest
from _bad_files import files_under as _files_under
from _bad_files import run_cli
from astropy.io import fits

from webbcal.crds_client import CrdsUnavailableError, RmapEntry, write_local_context
from webbcal.datamodels import InputError
from webbcal.dqflags import DO_NOT_USE, NO_GAIN_VALUE, NO_LIN_CORR, NO_SAT_CHECK
from webbcal.jump import JumpStep
from webbcal.lib.reffiles import ReferenceFileError
from webbcal.pipeline import Detector1Pipeline
from webbcal.stpipe import ParameterError

NPIX = 160 * 160  # pixels of the SUB160P science region
ROOT = "jw01234001001_01101_00001_nrca1"


# --------------------------------------------------------------------- helpers


def _edit_fits(path: Path, edit) -> Path:
    with fits.open(path, mode="update") as hdul:
        edit(hdul)
    return path


def _run_api(case, path: Path, out: Path, **kwargs):
    with case.crds():
        return Detector1Pipeline.call(
            str(path), output_dir=str(out), save_results=True, progress=False, **kwargs
        )


def _run_cli(case, args: list[str], capsys, monkeypatch, *, crds_path=None, server_url=""):
    """Run ``webbcal`` in-process; return (exit status, stderr)."""
    return run_cli(
        args, capsys, monkeypatch, crds_path=crds_path or case.crds_path, server_url=server_url
    )


def _assert_clean_cli_failure(code, err, match, out: Path, *, codes=(1,)):
    assert code in codes, err
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("webbcal: error:")]
    assert len(errors) == 1, err
    assert re.search(match, errors[0]), errors[0]
    assert _files_under(out) == []


# ----------------------------------------------------------------- bad inputs
def _truncated(case, d):
    data = case.uncal.read_bytes()
    path = d / f"{ROOT}_uncal.fits"
    path.write_bytes(data[: len(data) // 2 - 100])
    return path


def _truncated_on_block(case, d):
    path = d / f"{ROOT}_uncal.fits"
    path.write_bytes(case.uncal.read_bytes()[: 5 * 2880])
    return path


def _text(case, d):
    path = d / f"{ROOT}_uncal.fits"
    path.write_text("this is not a FITS file\n")
    return path


def _missing(case, d):
    return d / "nosuch_uncal.fits"


def _directory(case, d):
    path = d / "adirectory_uncal.fits"
    path.mkdir()
    return path


def _without(key):
    def make(case, d):
        return _edit_fits(_copy(case.uncal, d), lambda h: h[0].header.remove(key))

    return make


def _with_keyword(key, value):
    def make(case, d):
        return _edit_fits(_copy(case.uncal, d), lambda h: h[0].header.__setitem__(key, value))

    return make


def _nints_vs_shape(case, d):
    def edit(hdul):
        hdul[0].header.update(NINTS=3, INTSTART=1, INTEND=3)

    return _edit_fits(_copy(case.uncal, d), edit)


def _float_sci(case, d):
    def edit(hdul):
        hdul["SCI"].data = hdul["SCI"].data.astype(np.float32)

    return _edit_fits(_copy(case.uncal, d), edit)


def _three_d_sci(case, d):
    def edit(hdul):
        hdul["SCI"].data = hdul["SCI"].data[0].copy()

    return _edit_fits(_copy(case.uncal, d), edit)


def _rate_file(case, d):
    return _copy(case.rate_file, d)


BAD_INPUTS = {
    "truncated": (_truncated, r"_uncal\.fits: truncated FITS file: HDU 1 \(SCI\) needs bytes "
                  r"up to 319680 but the file has \d+ bytes"),
    "truncated-on-block": (_truncated_on_block, r"_uncal\.fits: truncated FITS file: HDU 1 "
                           r"\(SCI\) needs bytes up to 319680 but the file has 14400 bytes"),
    "not-fits": (_text, r"_uncal\.fits: not a FITS file \(first card is b'this is not a FITS "
                 r"file\\n', expected 'SIMPLE  ='\)"),
    "missing": (_missing, r"nosuch_uncal\.fits: file not found"),
    "directory": (_directory, r"adirectory_uncal\.fits: is a directory, expected a FITS file"),
    "rate-file": (_rate_file, r"_rate\.fits: DATAMODL='ImageModel'; calwebb_detector1 needs a "
                  r"Level 1b raw exposure"),
    "no-NGROUPS": (_without("NGROUPS"), r"_uncal\.fits: missing required keyword NGROUPS in "
                   r"the primary header; expected the number of groups per integration"),
    "no-READPATT": (_without("READPATT"), r"_uncal\.fits: missing required keyword READPATT "
                    r"in the primary header; expected the readout pattern"),
    "no-DETECTOR": (_without("DETECTOR"), r"_uncal\.fits: missing required keyword DETECTOR "
                    r"in the primary header; expected the detector name"),
    "NGROUPS-text": (_with_keyword("NGROUPS", "six"), r"_uncal\.fits: NGROUPS='six'; expected "
                     r"the number of groups per integration \(an integer >= 1\)"),
    "NGROUPS-vs-shape": (_with_keyword("NGROUPS", 5), r"_uncal\.fits: NGROUPS=5 but the SCI "
                         r"array has 6 groups \(shape \(1, 6, 160, 160\)\); expected NGROUPS=6"),
    "NINTS-vs-shape": (_nints_vs_shape, r"_uncal\.fits: NINTS=3 but the SCI array has 1 "
                       r"integrations .*expected NINTS=1 \(or INTSTART/INTEND spanning them"),
    "SUBSIZE1-vs-shape": (_with_keyword("SUBSIZE1", 100), r"_uncal\.fits: SUBSIZE1=100 but the "
                          r"SCI array is 160 rows x 160 columns; expected SUBSIZE1=160"),
    "float-SCI": (_float_sci, r"_uncal\.fits: SCI has BITPIX=-32 \(float32\); a Level 1b "
                  r"exposure stores unsigned 16-bit integer DN \(BITPIX=16, BZERO=32768\)"),
    "3d-SCI": (_three_d_sci, r"_uncal\.fits: SCI extension has NAXIS=3 \(shape \(6, 160, 160\)\);"
               r" expected 4-D \(nints, ngroups, ny, nx\)"),
}  # fmt: skip


@pytest.fixture(scope="module")
def case(nircam_case, tmp_path_factory):
    """The shared case plus a rate product made from it (for the 'not Level 1b' case)."""
    out = tmp_path_factory.mktemp("bad_input_rate")
    _run_api(nircam_case, nircam_case.uncal, out)
    nircam_case.rate_file = out / f"{ROOT}_rate.fits"
    return nircam_case


@pytest.mark.parametrize("kind", list(BAD_INPUTS))
def test_bad_input_file_api(case, kind, tmp_path):
    make, match = BAD_INPUTS[kind]
    (tmp_path / "in").mkdir()
    path = make(case, tmp_path / "in")
    before = _digest(path)
    out = tmp_path / "out"
    with pytest.raises(InputError, match=match):
        _run_api(case, path, out)
    assert _files_under(out) == []
    assert _digest(path) == before


@pytest.mark.parametrize("kind", list(BAD_INPUTS))
def test_bad_input_file_cli(case, kind, tmp_path, capsys, monkeypatch):
    make, match = BAD_INPUTS[kind]
    (tmp_path / "in").mkdir()
    path = make(case, tmp_path / "in")
    before = _digest(path)
    out = tmp_path / "out"
    code, err = _run_cli(
        case, ["run", "calwebb_detector1", str(path), "--output-dir", str(out), "-q"],
        capsys, monkeypatch,
    )  # fmt: skip
    _assert_clean_cli_failure(code, err, match + r".*\[InputError\]$", out)
    assert _digest(path) == before


def test_input_model_missing_keyword_api(case, tmp_path):
    """An in-memory model with no NGROUPS is refused before any work is done."""
    from stdatamodels.jwst import datamodels as dm

    with dm.open(case.uncal) as model:
        model.meta.exposure.ngroups = None
        with case.crds(), pytest.raises(
            InputError, match=r"missing required keyword\(s\) NGROUPS; expected every one of"
        ):  # fmt: skip
            Detector1Pipeline.call(model, output_dir=str(tmp_path / "out"), save_results=True)
    assert _files_under(tmp_path / "out") == []


# ------------------------------------------------------------- bad references
def _ref_copy(case, reftype, d, name=None, edit=None):
    path = _copy(case.refs[reftype], d, name)
    return _edit_fits(path, edit) if edit else path


def _set_detector(value):
    def edit(hdul):
        hdul[0].header["DETECTOR"] = value

    return edit


def _small_geometry(hdul):
    hdul["SCI"].data = hdul["SCI"].data[:80, :80].copy()
    for ext in ("DQ", "ERR"):
        if ext in hdul and hdul[ext].data is not None:
            hdul[ext].data = hdul[ext].data[:80, :80].copy()
    hdul[0].header.update(SUBSIZE1=80, SUBSIZE2=80, SUBARRAY="GENERIC")


def _fill(value, extname="SCI"):
    def edit(hdul):
        hdul[extname].data[...] = value

    return edit


BAD_REFERENCES = {
    # kind: (reftype, steps that get the override, edit, exception, message)
    "other-detector": ("gain", ("jump", "ramp_fit"), _set_detector("NRCB1"), ReferenceFileError,
                       r"nrcb1_gain\.fits: DETECTOR='NRCB1' but the science exposure's DETECTOR "
                       r"is 'NRCA1'; expected a reference for DETECTOR='NRCA1'"),
    "not-covering": ("gain", ("jump", "ramp_fit"), _small_geometry, ReferenceFileError,
                     r"small_gain\.fits SCI: reference covers columns 1-80, rows 1-80 \(1-based\)"
                     r", which does not contain the science subarray columns 1-160, rows 1-160"),
    "superbias-all-nan": ("superbias", ("saturation", "superbias"), _fill(np.nan),
                          ReferenceFileError, rf"allnan_superbias\.fits: extension SCI is NaN "
                          rf"in all {NPIX} pixel\(s\) of the science region; expected finite"),
    "saturation-all-nan": ("saturation", ("saturation",), _fill(np.nan), ReferenceFileError,
                           rf"allnan_saturation\.fits: extension SCI is NaN in all {NPIX} "
                           r"pixel\(s\)"),
    "dark-all-nan": ("dark", ("dark_current",), _fill(np.nan), ReferenceFileError,
                     rf"allnan_dark\.fits: extension SCI is NaN in all {NPIX} pixel\(s\)"),
    "linearity-all-nan": ("linearity", ("linearity",), _fill(np.nan, "COEFFS"),
                          ReferenceFileError, rf"allnan_linearity\.fits: extension COEFFS is "
                          rf"NaN in all {NPIX} pixel\(s\)"),
    "gain-all-zero": ("gain", ("jump", "ramp_fit"), _fill(0.0), ReferenceFileError,
                      rf"allnan_gain\.fits: extension SCI is NaN or <= 0 in all {NPIX} "
                      r"pixel\(s\) of the science region; expected finite values > 0"),
    "readnoise-all-nan": ("readnoise", ("jump", "ramp_fit"), _fill(np.nan), ReferenceFileError,
                          rf"allnan_readnoise\.fits: extension SCI is NaN or <= 0 in all "
                          rf"{NPIX} pixel\(s\)"),
    "ipc-nan": ("ipc", ("ipc",), lambda h: h["SCI"].data.__setitem__((0, 0), np.nan),
                ReferenceFileError, r"allnan_ipc\.fits: extension SCI holds 1 NaN pixel\(s\) "
                r"in the science region; expected finite numbers"),
    "missing-override": ("gain", ("jump",), None, FileNotFoundError,
                         r"jump: override_gain='.*nosuch_gain\.fits': file not found"),
}  # fmt: skip


def _bad_reference(case, kind, d):
    """(steps overrides, exception, message) for one bad-reference case."""
    reftype, steps, edit, exc, match = BAD_REFERENCES[kind]
    if kind == "missing-override":
        path = d / "nosuch_gain.fits"
    else:
        prefix = {"other-detector": "nrcb1", "not-covering": "small"}.get(kind, "allnan")
        path = _ref_copy(case, reftype, d, f"{prefix}_{reftype}.fits", edit)
    overrides = {alias: {f"override_{reftype}": str(path)} for alias in steps}
    return overrides, exc, match


@pytest.mark.parametrize("kind", list(BAD_REFERENCES))
def test_bad_reference_api(case, kind, tmp_path):
    overrides, exc, match = _bad_reference(case, kind, tmp_path / "refs")
    uncal = _copy(case.uncal, tmp_path / "in")
    before = _digest(uncal)
    with pytest.raises(exc, match=match):
        _run_api(case, uncal, tmp_path / "out", steps=overrides)
    assert _files_under(tmp_path / "out") == []
    assert _digest(uncal) == before


@pytest.mark.parametrize("kind", ["other-detector", "not-covering", "gain-all-zero",
                                  "missing-override"])  # fmt: skip
def test_bad_reference_cli(case, kind, tmp_path, capsys, monkeypatch):
    overrides, exc, match = _bad_reference(case, kind, tmp_path / "refs")
    uncal = _copy(case.uncal, tmp_path / "in")
    before = _digest(uncal)
    out = tmp_path / "out"
    args = ["run", "calwebb_detector1", str(uncal), "--output-dir", str(out), "-q"]
    for alias, values in overrides.items():
        args += [f"--steps.{alias}.{k}={v}" for k, v in values.items()]
    code, err = _run_cli(case, args, capsys, monkeypatch)
    _assert_clean_cli_failure(code, err, match + rf".*\[{exc.__name__}\]$", out)
    assert _digest(uncal) == before


@pytest.fixture
def other_detector_context(case, tmp_path):
    """A CRDS cache whose gain rule maps NRCA1 SUB160P to a reference with DETECTOR=NRCB1."""
    gain = _ref_copy(case, "gain", tmp_path / "refs", "jwst_nircam_nrcb1_gain.fits",
                     _set_detector("NRCB1"))  # fmt: skip
    refs = dict(case.refs, gain=gain)
    entries = [
        RmapEntry("NIRCAM", reftype, ("META.INSTRUMENT.DETECTOR", "META.SUBARRAY.NAME"),
                  {("NRCA1", "SUB160P"): [("2020-01-01 00:00:00", str(path))]})
        for reftype, path in sorted(refs.items())
    ]  # fmt: skip
    crds_path = tmp_path / "crds"
    write_local_context(crds_path, entries)
    return crds_path


CRDS_OTHER_DETECTOR = (
    r"jwst_nircam_nrcb1_gain\.fits: DETECTOR='NRCB1' but the science exposure's DETECTOR is "
    r"'NRCA1'; expected a reference for DETECTOR='NRCA1'"
)


def test_crds_selects_reference_for_other_detector_api(case, other_detector_context, tmp_path):
    from webbcal.crds_client import crds_environment

    uncal = _copy(case.uncal, tmp_path / "in")
    before = _digest(uncal)
    out = tmp_path / "out"
    with crds_environment(other_detector_context), pytest.raises(
        ReferenceFileError, match=CRDS_OTHER_DETECTOR
    ):  # fmt: skip
        Detector1Pipeline.call(str(uncal), output_dir=str(out), save_results=True)
    assert _files_under(out) == []
    assert _digest(uncal) == before


def test_crds_selects_reference_for_other_detector_cli(
    case, other_detector_context, tmp_path, capsys, monkeypatch
):
    uncal = _copy(case.uncal, tmp_path / "in")
    before = _digest(uncal)
    out = tmp_path / "out"
    code, err = _run_cli(
        case, ["run", "calwebb_detector1", str(uncal), "--output-dir", str(out), "-q"],
        capsys, monkeypatch, crds_path=other_detector_context,
    )  # fmt: skip
    _assert_clean_cli_failure(code, err, CRDS_OTHER_DETECTOR, out)
    assert _digest(uncal) == before


# ---------------------------------------------------------- NaNs with meaning
def test_partial_nans_in_references_warn_and_keep_official_meaning(case, tmp_path, caplog):
    """NaN pixels with an official meaning are applied, with one WARNING per reference."""
    d = tmp_path / "refs"

    def nan_at(extname, index):
        def edit(hdul):
            hdul[extname].data[index] = np.nan

        return edit

    sat = _ref_copy(case, "saturation", d, "partnan_saturation.fits", nan_at("SCI", (40, 41)))
    bias = _ref_copy(case, "superbias", d, "partnan_superbias.fits", nan_at("SCI", (42, 43)))
    lin = _ref_copy(case, "linearity", d, "partnan_linearity.fits",
                    nan_at("COEFFS", (2, 44, 45)))  # fmt: skip
    dark = _ref_copy(case, "dark", d, "partnan_dark.fits", nan_at("SCI", (slice(None), 46, 47)))
    gain = _ref_copy(case, "gain", d, "partnan_gain.fits", nan_at("SCI", (48, 49)))
    rnoise = _ref_copy(case, "readnoise", d, "partnan_readnoise.fits", nan_at("SCI", (50, 51)))
    steps = {
        "saturation": {"override_saturation": str(sat), "override_superbias": str(bias)},
        "superbias": {"override_superbias": str(bias)},
        "linearity": {"override_linearity": str(lin)},
        "dark_current": {"override_dark": str(dark)},
        "jump": {"override_gain": str(gain), "override_readnoise": str(rnoise)},
        "ramp_fit": {"override_gain": str(gain), "override_readnoise": str(rnoise)},
    }
    caplog.set_level(logging.WARNING, logger="webbcal")
    rate = _run_api(case, _copy(case.uncal, tmp_path / "in"), tmp_path / "out", steps=steps)
    text = "\n".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    of = f"of {NPIX} in the science region"
    for expected in (
        f"partnan_saturation.fits: extension SCI has 1 NaN pixel(s) {of}; those pixels are "
        "not checked for saturation (flagged NO_SAT_CHECK)",
        f"partnan_superbias.fits: extension SCI has 1 NaN pixel(s) {of}; NaN is treated as 0 DN",
        f"partnan_linearity.fits: extension COEFFS has 1 NaN pixel(s) {of}; those pixels are "
        "not corrected (flagged NO_LIN_CORR)",
        f"partnan_dark.fits: extension SCI has 1 NaN pixel(s) {of}; NaN is treated as 0 DN",
        f"partnan_gain.fits: extension SCI has 1 NaN or <= 0 pixel(s) {of}; those pixels are "
        "flagged NO_GAIN_VALUE and DO_NOT_USE",
        f"partnan_readnoise.fits: extension SCI has 1 NaN or <= 0 pixel(s) {of}; their ramps "
        "cannot be weighted: those pixels are flagged DO_NOT_USE",
    ):
        assert expected in text
    assert rate.dq[40, 41] & NO_SAT_CHECK
    assert rate.dq[44, 45] & NO_LIN_CORR
    assert rate.dq[48, 49] & (NO_GAIN_VALUE | DO_NOT_USE) == NO_GAIN_VALUE | DO_NOT_USE
    assert rate.dq[50, 51] & DO_NOT_USE
    # NaN bias and dark are zero: those pixels still get a finite rate.
    assert np.isfinite(rate.data[42, 43]) and np.isfinite(rate.data[46, 47])


# ------------------------------------------------------------ CRDS unavailable
@pytest.mark.parametrize("server_url", ["", "https://127.0.0.1:9"])
def test_crds_unreachable_with_empty_cache_api(case, server_url, tmp_path, monkeypatch):
    empty = tmp_path / "empty_cache"
    empty.mkdir()
    monkeypatch.setenv("CRDS_PATH", str(empty))
    monkeypatch.setenv("CRDS_SERVER_URL", server_url)
    uncal = _copy(case.uncal, tmp_path / "in")
    before = _digest(uncal)
    start = time.monotonic()
    with pytest.raises(CrdsUnavailableError, match=rf"CRDS is unavailable: .*CRDS_PATH='{empty}'"):
        Detector1Pipeline.call(str(uncal), output_dir=str(tmp_path / "out"), save_results=True)
    assert time.monotonic() - start < 15
    assert _files_under(tmp_path / "out") == []
    assert _digest(uncal) == before


@pytest.mark.parametrize("server_url", ["", "https://127.0.0.1:9"])
def test_crds_unreachable_with_empty_cache_cli(case, server_url, tmp_path, capsys, monkeypatch):
    empty = tmp_path / "empty_cache"
    empty.mkdir()
    uncal = _copy(case.uncal, tmp_path / "in")
    out = tmp_path / "out"
    start = time.monotonic()
    code, err = _run_cli(
        case, ["run", "calwebb_detector1", str(uncal), "--output-dir", str(out), "-q"],
        capsys, monkeypatch, crds_path=empty, server_url=server_url,
    )  # fmt: skip
    assert time.monotonic() - start < 15
    _assert_clean_cli_failure(
        code, err, rf"CRDS is unavailable: .*CRDS_PATH='{empty}'.*\[CrdsUnavailableError\]$", out
    )


# ------------------------------------------------------- steps and parameters
def test_unknown_step_api(case, tmp_path):
    uncal = _copy(case.uncal, tmp_path / "in")
    with pytest.raises(ParameterError, match=r"calwebb_detector1 has no step 'jmp'; steps are "
                       r"group_scale, dq_init, .*jump"):  # fmt: skip
        _run_api(case, uncal, tmp_path / "out", steps={"jmp": {}})
    with pytest.raises(ParameterError, match=r"unknown step 'jmp'; steps are"):
        Detector1Pipeline(steps={"jmp": {}})
    assert _files_under(tmp_path / "out") == []


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: JumpStep(rejection_thresh=1),
         r"jump: unknown parameter 'rejection_thresh'; known parameters: .*rejection_threshold"),
        (lambda: JumpStep(rejection_threshold="abc"),
         r"jump\.rejection_threshold='abc' is not a valid float"),
        (lambda: JumpStep(rejection_threshold=-1), r"jump\.rejection_threshold=-1\.0 is below "
         r"the minimum 0"),
        (lambda: Detector1Pipeline(steps={"jump": {"rejection_thresh": 1}}),
         r"jump: unknown parameter 'rejection_thresh'"),
        (lambda: setattr(Detector1Pipeline().jump, "rejection_thresh", 1),
         r"jump: unknown parameter 'rejection_thresh'"),
        (lambda: Detector1Pipeline(save_calibrated_ramp="maybe"),
         r"save_calibrated_ramp='maybe' is not a boolean; expected true or false"),
    ],
)  # fmt: skip
def test_bad_parameters_api(make, match):
    with pytest.raises(ParameterError, match=match):
        make()


def test_bad_parameter_in_pipeline_call_api(case, tmp_path):
    uncal = _copy(case.uncal, tmp_path / "in")
    with pytest.raises(ParameterError, match=r"calwebb_detector1\.jump has no parameter "
                       r"'rejection_thresh'; known parameters: .*rejection_threshold"):  # fmt: skip
        _run_api(case, uncal, tmp_path / "out", steps={"jump": {"rejection_thresh": 1}})
    assert _files_under(tmp_path / "out") == []


def test_bad_parameter_value_cli(case, tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    code, err = _run_cli(
        case, ["run", "calwebb_detector1", str(case.uncal), "--output-dir", str(out), "-q",
               "--steps.jump.rejection_threshold=-1"],
        capsys, monkeypatch,
    )  # fmt: skip
    _assert_clean_cli_failure(code, err, r"jump\.rejection_threshold=-1\.0 is below the minimum 0",
                              out)  # fmt: skip


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["run"], r"webbcal run needs a pipeline or step name and an input file"),
        (["run", "calwebb_detector1"], r"needs exactly one input file, got 0"),
        (["run", "jump", "a_ramp.fits", "b_ramp.fits"],
         r"needs exactly one input file, got 2"),
        (["run", "calwebb_detector1", "IN", "--config"], r"--config needs a value"),
    ],
)  # fmt: skip
def test_usage_errors_cli(case, args, match, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = [str(case.uncal) if a == "IN" else a for a in args]
    code, err = _run_cli(case, args, capsys, monkeypatch)
    _assert_clean_cli_failure(code, err, match, tmp_path, codes=(1, 2))


def test_unknown_command_cli(case, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, err = _run_cli(case, ["frobnicate", str(case.uncal)], capsys, monkeypatch)
    assert code == 2
    assert "Traceback" not in err
    assert "unknown command 'frobnicate'" in err
    assert _files_under(tmp_path) == []


# ------------------------------------------------ failures leave no products
def test_failure_after_saving_ramp_and_step_products_removes_them(case, tmp_path):
    """save_calibrated_ramp and a sub-step's save_results are undone by a later failure."""
    bad_gain = _ref_copy(case, "gain", tmp_path / "refs", "nrcb1_gain.fits", _set_detector("NRCB1"))
    uncal = _copy(case.uncal, tmp_path / "in")
    before = _digest(uncal)
    out = tmp_path / "out"
    steps = {
        "dq_init": {"save_results": True},
        "linearity": {"save_results": True},
        "jump": {"skip": True},
        "ramp_fit": {"override_gain": str(bad_gain)},
    }
    with pytest.raises(ReferenceFileError, match=r"nrcb1_gain\.fits: DETECTOR='NRCB1'"):
        _run_api(case, uncal, out, steps=steps, save_calibrated_ramp=True)
    assert _files_under(out) == []
    assert _digest(uncal) == before


def test_failure_after_saving_ramp_cli(case, tmp_path, capsys, monkeypatch):
    bad_gain = _ref_copy(case, "gain", tmp_path / "refs", "nrcb1_gain.fits", _set_detector("NRCB1"))
    out = tmp_path / "out"
    code, err = _run_cli(
        case, ["run", "calwebb_detector1", str(case.uncal), "--output-dir", str(out), "-q",
               "--save-calibrated-ramp", "--steps.dq_init.save_results=true",
               "--steps.jump.skip=true", f"--steps.ramp_fit.override_gain={bad_gain}"],
        capsys, monkeypatch,
    )  # fmt: skip
    _assert_clean_cli_failure(code, err, r"nrcb1_gain\.fits: DETECTOR='NRCB1'", out)


def test_failure_after_dark_output_removes_it(case, tmp_path):
    bad_gain = _ref_copy(case, "gain", tmp_path / "refs", "nrcb1_gain.fits", _set_detector("NRCB1"))
    out = tmp_path / "out"
    steps = {
        "dark_current": {"dark_output": str(out / "dark_used.fits")},
        "jump": {"override_gain": str(bad_gain)},
    }
    with pytest.raises(ReferenceFileError):
        _run_api(case, _copy(case.uncal, tmp_path / "in"), out, steps=steps)
    assert _files_under(out) == []


def test_failed_run_leaves_no_parameter_file_cli(case, tmp_path, capsys, monkeypatch):
    bad_gain = _ref_copy(case, "gain", tmp_path / "refs", "nrcb1_gain.fits", _set_detector("NRCB1"))
    out = tmp_path / "out"
    out.mkdir()
    code, err = _run_cli(
        case, ["run", "calwebb_detector1", str(case.uncal), "--output-dir", str(out), "-q",
               "--save-parameters", str(out / "pars.asdf"),
               f"--steps.jump.override_gain={bad_gain}"],
        capsys, monkeypatch,
    )  # fmt: skip
    _assert_clean_cli_failure(code, err, r"nrcb1_gain\.fits: DETECTOR='NRCB1'", out)


def test_crds_unreachable_stderr_is_one_line_subprocess(case, tmp_path):
    """In a fresh process (crds' log handler writes to the real stderr) only one line shows."""
    import subprocess
    import sys

    empty = tmp_path / "empty_cache"
    empty.mkdir()
    env = dict(os.environ, CRDS_PATH=str(empty), CRDS_SERVER_URL="https://127.0.0.1:9")
    env.pop("WEBBCAL_DEBUG", None)
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "webbcal.cli", "run", "calwebb_detector1", str(case.uncal),
         "--output-dir", str(out), "-q"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 1
    assert _files_under(out) == []
    assert proc.stderr.strip().splitlines() == [
        line for line in proc.stderr.splitlines() if line.startswith("webbcal: error: CRDS is")
    ]
