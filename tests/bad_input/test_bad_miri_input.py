"""Bad MIRI input and references: one clear message or a logged skip, never a traceback.

As in ``test_bad_input.py``: every failure is checked through the Python API (exception
type and a message naming the file, keyword or extension, the value found and what was
expected) and through the command line (exit status 1, one ``webbcal: error:`` line, no
traceback); the output directory stays empty and the input keeps its bytes. Damaged
references are copies in the test's own directory. Where the official pipeline skips a
step (an EMICORR or RSCD reference without a row for the exposure's readout), we skip it
too, with a WARNING, and the product records ``SKIPPED``.
"""

from __future__ import annotations

import logging
import re

import asdf
import numpy as np
import pytest
from _bad_files import copy as _copy
from _bad_files import digest as _digest
from _bad_files import files_under as _files_under
from _bad_files import run_cli
from astropy.io import fits

from webbcal.crds_client import RmapEntry, crds_environment, write_local_context
from webbcal.datamodels import InputError
from webbcal.lib.reffiles import ReferenceFileError
from webbcal.pipeline import Detector1Pipeline

NGROUPS, NINTS = 5, 2
PARKEYS = ("META.INSTRUMENT.DETECTOR", "META.SUBARRAY.NAME")
#: Science region of MIRIMAGE SUB64 on the detector (1-based), as quoted in messages.
SUB64_REGION = "columns 1-72, rows 779-842"


@pytest.fixture(autouse=True)
def _no_crds_steppars(monkeypatch):
    monkeypatch.setenv("WEBBCAL_DISABLE_CRDS_STEPPARS", "true")


@pytest.fixture(scope="module")
def miri(tmp_path_factory):
    """A MIRIMAGE SUB64 FASTR1 exposure (5 groups, 2 integrations) and its local CRDS cache."""
    from webbcal.simulate import (
        make_miri_detector,
        simulate_miri_exposure,
        write_miri_reference_files,
    )

    root = tmp_path_factory.mktemp("bad_miri")
    det = make_miri_detector(subarray="SUB64", seed=1)
    refs = write_miri_reference_files(det, root / "refs", ngroups=NGROUPS, nints=NINTS)
    entries = [
        RmapEntry(
            "MIRI", reftype, PARKEYS, {("MIRIMAGE", "SUB64"): [("2020-01-01 00:00:00", str(p))]}
        )
        for reftype, p in sorted(refs.items())
    ]
    write_local_context(
        root / "crds", entries, not_applicable={"MIRI": ["superbias", "refpix", "sirskernel"]}
    )
    sim = simulate_miri_exposure(det, ngroups=NGROUPS, nints=NINTS, seed=2)
    uncal = sim.save(root / "data")["uncal"]
    return {"uncal": uncal, "refs": refs, "crds": root / "crds"}


# --------------------------------------------------------------------- helpers


def _fits_ref(miri, reftype, d, edit):
    path = _copy(miri["refs"][reftype], d, f"bad_{reftype}.fits")
    with fits.open(path, mode="update") as hdul:
        edit(hdul)
    return path


def _emicorr_ref(miri, d, edit):
    """A copy of the EMICORR (ASDF) reference with its tree edited."""
    with asdf.open(miri["refs"]["emicorr"], lazy_load=False, memmap=False) as af:
        tree = {k: af.tree[k] for k in ("meta", "frequencies", "subarray_cases")}
        tree = asdf.AsdfFile(tree).tree  # detached copy
        edit(tree)
        d.mkdir(parents=True, exist_ok=True)
        path = d / "bad_emicorr.asdf"
        asdf.AsdfFile(tree).write_to(path)
    return path


def _run_api(miri, uncal, out, steps):
    with crds_environment(miri["crds"]):
        return Detector1Pipeline.call(
            str(uncal), output_dir=str(out), save_results=True, progress=False, steps=steps
        )


def _run_cli(miri, args, capsys, monkeypatch):
    return run_cli(args, capsys, monkeypatch, crds_path=miri["crds"])


def _cli_args(uncal, out, steps):
    args = ["run", "calwebb_detector1", str(uncal), "--output-dir", str(out), "-q"]
    for alias, values in steps.items():
        args += [f"--steps.{alias}.{k}={v}" for k, v in values.items()]
    return args


# ------------------------------------------------------------ damaged references
def _dark_3d(h):
    for ext in ("SCI", "DQ", "ERR"):
        h[ext].data = h[ext].data[0].copy()


def _dark_dq_ints(h):
    h["DQ"].data = np.concatenate([h["DQ"].data] * 3)


def _dark_no_ints(h):
    for ext in ("SCI", "DQ", "ERR"):
        h[ext].data = h[ext].data[:0].copy()


def _frame_32(*exts):
    def edit(h):
        for ext in exts:
            h[ext].data = h[ext].data[..., :32, :32].copy()

    return edit


def _reset_nints(h):
    h[0].header["NINTS"] = NINTS + 1


def _reset_no_groups(h):
    h["SCI"].data = h["SCI"].data[:, :0].copy()


def _lin_one_coeff(h):
    h["COEFFS"].data = h["COEFFS"].data[:1].copy()


def _lin_dq_planes(h):
    h["DQ"].data = np.zeros((2, *h["DQ"].data.shape), np.uint32)


def _sat_dq_planes(h):
    h["DQ"].data = np.zeros((2, *h["DQ"].data.shape), np.uint32)


def _rscd_empty(h):
    h["RSCD_GROUP_SKIP"].data = h["RSCD_GROUP_SKIP"].data[:0]


DIMS = r"Array has wrong number of dimensions\.\s+Expected 4, got 3"
BAD_REFERENCES = {
    # kind: (reftype, step, edit, message)
    "dark-3d": ("dark", "dark_current", _dark_3d,
                rf"bad_dark\.fits: cannot be read as a DarkMIRIModel reference file: {DIMS}"),
    "dark-dq-integrations": ("dark", "dark_current", _dark_dq_ints,
                             r"bad_dark\.fits: DQ has 6 integration\(s\) but SCI has 2; "
                             r"expected the same number"),
    "dark-no-integrations": ("dark", "dark_current", _dark_no_ints,
                             r"bad_dark\.fits: extension SCI is missing or empty"),
    "dark-frame-shape": ("dark", "dark_current", _frame_32("SCI", "DQ", "ERR"),
                         r"bad_dark\.fits SCI: reference covers columns 1-32, rows 779-810 "
                         rf"\(1-based\), which does not contain the science subarray "
                         rf"{SUB64_REGION}"),
    "reset-nints": ("reset", "reset", _reset_nints,
                    r"bad_reset\.fits: NINTS=3 but SCI has 2 plane\(s\) on that axis; "
                    r"expected 1 <= NINTS <= 2"),
    "reset-no-groups": ("reset", "reset", _reset_no_groups,
                        r"bad_reset\.fits: extension SCI is missing or empty"),
    "linearity-one-coeff": ("linearity", "linearity", _lin_one_coeff,
                            r"bad_linearity\.fits: COEFFS has shape \(1, 64, 72\); expected "
                            r"\(ncoeffs >= 2, ny, nx\)"),
    "linearity-dq-planes": ("linearity", "linearity", _lin_dq_planes,
                            r"bad_linearity\.fits: DQ has shape \(2, 64, 72\); expected "
                            r"\(64, 72\) \(the COEFFS planes\)"),
    "linearity-frame-shape": ("linearity", "linearity", _frame_32("COEFFS", "DQ"),
                              r"bad_linearity\.fits COEFFS: reference covers columns 1-32, "
                              rf"rows 779-810 \(1-based\), which does not contain the science "
                              rf"subarray {SUB64_REGION}"),
    "saturation-dq-planes": ("saturation", "saturation", _sat_dq_planes,
                             r"bad_saturation\.fits: DQ has shape \(2, 64, 72\); expected "
                             r"\(64, 72\) \(one value per pixel\)"),
    "rscd-empty-table": ("rscd", "rscd", _rscd_empty,
                         r"bad_rscd\.fits: the RSCD_GROUP_SKIP table is missing or empty"),
}  # fmt: skip


def _emi_freqs_text(tree):
    tree["subarray_cases"]["SUB64"]["freqs"] = "FAST"


def _emi_rowclocks_text(tree):
    tree["subarray_cases"]["SUB64"]["rowclocks"] = "abc"


def _emi_short_waveform(tree):
    tree["frequencies"]["Hz390"]["phase_amplitudes"] = np.zeros(1, np.float32)


def _emi_unknown_frequency(tree):
    del tree["frequencies"]["Hz390"]


BAD_EMICORR = {
    "freqs-text": (_emi_freqs_text, r"bad_emicorr\.asdf: subarray case SUB64, freqs='FAST'; "
                   r"expected a mapping of readout speed \(FAST, SLOW\) to frequency names"),
    "rowclocks-text": (_emi_rowclocks_text, r"bad_emicorr\.asdf: subarray case SUB64, "
                       r"rowclocks='abc'; expected a number of clock ticks > 0"),
    "short-waveform": (_emi_short_waveform, r"bad_emicorr\.asdf: phase_amplitudes of frequency "
                       r"'Hz390' has shape \(1,\); expected a 1-D waveform of at least 2 "
                       r"finite values"),
    "unknown-frequency": (_emi_unknown_frequency, r"bad_emicorr\.asdf: frequency 'Hz390' "
                          r"\(subarray case SUB64, FAST\) is not defined in 'frequencies'"),
}  # fmt: skip


def _bad_case(miri, kind, d):
    """(step overrides, exception, message) of one damaged-reference case."""
    if kind in BAD_EMICORR:
        edit, match = BAD_EMICORR[kind]
        path = _emicorr_ref(miri, d, edit)
        return {"emicorr": {"skip": False, "override_emicorr": str(path)}}, match
    reftype, step, edit, match = BAD_REFERENCES[kind]
    path = _fits_ref(miri, reftype, d, edit)
    return {step: {f"override_{reftype}": str(path)}}, match


ALL_BAD = list(BAD_REFERENCES) + list(BAD_EMICORR)


@pytest.mark.parametrize("kind", ALL_BAD)
def test_bad_miri_reference_api(miri, kind, tmp_path):
    steps, match = _bad_case(miri, kind, tmp_path / "refs")
    uncal = _copy(miri["uncal"], tmp_path / "in")
    before = _digest(uncal)
    with pytest.raises(ReferenceFileError, match=match):
        _run_api(miri, uncal, tmp_path / "out", steps)
    assert _files_under(tmp_path / "out") == []
    assert _digest(uncal) == before


@pytest.mark.parametrize("kind", ["dark-dq-integrations", "short-waveform"])
def test_bad_miri_reference_cli(miri, kind, tmp_path, capsys, monkeypatch):
    steps, match = _bad_case(miri, kind, tmp_path / "refs")
    uncal = _copy(miri["uncal"], tmp_path / "in")
    before = _digest(uncal)
    out = tmp_path / "out"
    code, err = _run_cli(miri, _cli_args(uncal, out, steps), capsys, monkeypatch)
    assert code == 1, err
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("webbcal: error:")]
    assert len(errors) == 1, err
    assert re.search(match + r".*\[ReferenceFileError\]$", errors[0]), errors[0]
    assert _files_under(out) == []
    assert _digest(uncal) == before


# ------------------------------------------------------------------ logged skips
def _rscd_without_row(h):
    table = h["RSCD_GROUP_SKIP"].data
    h["RSCD_GROUP_SKIP"].data = table[np.char.strip(table["subarray"]) != "SUB64"]


def _emi_without_subarray(tree):
    del tree["subarray_cases"]["SUB64"]


def _emi_without_readout(tree):
    del tree["subarray_cases"]["SUB64"]["freqs"]["FAST"]


@pytest.mark.parametrize(
    ("kind", "step", "warning"),
    [
        ("rscd-without-row", "rscd", "RSCD step skipped: READPATT=FASTR1, SUBARRAY=SUB64 is "
         "not in the RSCD_GROUP_SKIP table of bad_rscd.fits"),
        ("emicorr-without-subarray", "emicorr", "EMICORR step skipped: no EMI correction for "
         "SUBARRAY=SUB64, READPATT=FASTR1, DETECTOR=MIRIMAGE in the reference"),
        ("emicorr-without-readout", "emicorr", "EMICORR step skipped: no EMI correction for "
         "SUBARRAY=SUB64, READPATT=FASTR1"),
    ],
)  # fmt: skip
def test_reference_without_the_readout_is_a_logged_skip(miri, kind, step, warning, tmp_path,
                                                        caplog):  # fmt: skip
    d = tmp_path / "refs"
    if step == "rscd":
        path = _fits_ref(miri, "rscd", d, _rscd_without_row)
        steps = {"rscd": {"override_rscd": str(path)}}
    else:
        edit = _emi_without_subarray if kind.endswith("subarray") else _emi_without_readout
        steps = {"emicorr": {"skip": False, "override_emicorr": str(_emicorr_ref(miri, d, edit))}}
    caplog.set_level(logging.WARNING, logger="webbcal")
    rate = _run_api(miri, _copy(miri["uncal"], tmp_path / "in"), tmp_path / "out", steps)
    assert any(warning in r.getMessage() for r in caplog.records), caplog.text
    cal_step = {"rscd": "rscd", "emicorr": "emicorr"}[step]
    assert getattr(rate.meta.cal_step, cal_step) == "SKIPPED"
    assert rate.meta.cal_step.dark_sub == "COMPLETE"


def test_reset_with_fewer_integrations_and_groups_is_applied(miri, tmp_path):
    """As in the official step: later integrations use the last reset plane; later groups none."""

    def edit(h):
        h["SCI"].data = h["SCI"].data[:1, :2].copy()
        h["ERR"].data = h["ERR"].data[:1].copy()
        h[0].header.update(NINTS=1, NGROUPS=2)

    path = _fits_ref(miri, "reset", tmp_path / "refs", edit)
    rate = _run_api(miri, _copy(miri["uncal"], tmp_path / "in"), tmp_path / "out",
                    {"reset": {"override_reset": str(path)}})  # fmt: skip
    assert rate.meta.cal_step.reset == "COMPLETE"
    assert np.isfinite(rate.data).mean() > 0.9


# ------------------------------------------------------------------- bad READPATT
def _readpatt_rapid(miri, d):
    path = _copy(miri["uncal"], d)
    with fits.open(path, mode="update") as hdul:
        hdul[0].header["READPATT"] = "RAPID"
    return path


READPATT_MESSAGE = (
    r"_mirimage_uncal\.fits: READPATT='RAPID' is not a MIRI readout pattern; expected one of "
    r"FAST, FASTR1, FASTR100, .*SLOW, SLOWR1"
)


def test_miri_exposure_with_near_infrared_readpatt_api(miri, tmp_path):
    uncal = _readpatt_rapid(miri, tmp_path / "in")
    before = _digest(uncal)
    with pytest.raises(InputError, match=READPATT_MESSAGE):
        _run_api(miri, uncal, tmp_path / "out", {})
    assert _files_under(tmp_path / "out") == []
    assert _digest(uncal) == before


def test_miri_exposure_with_near_infrared_readpatt_cli(miri, tmp_path, capsys, monkeypatch):
    uncal = _readpatt_rapid(miri, tmp_path / "in")
    before = _digest(uncal)
    out = tmp_path / "out"
    code, err = _run_cli(miri, _cli_args(uncal, out, {}), capsys, monkeypatch)
    assert code == 1, err
    errors = [line for line in err.splitlines() if line.startswith("webbcal: error:")]
    assert len(errors) == 1 and "Traceback" not in err, err
    assert re.search(READPATT_MESSAGE + r".*\[InputError\]$", errors[0]), errors[0]
    assert _files_under(out) == []
    assert _digest(uncal) == before
