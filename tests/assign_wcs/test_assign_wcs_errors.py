"""Bad inputs of assign_wcs: clear errors naming file, keyword and value; nothing written;
inputs untouched. Unsupported modes are skipped with a message."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os

import pytest

from _shared_paths import REAL
from webbcal.assign_wcs import AssignWcsError, AssignWcsStep
from webbcal.cli import main
from webbcal.lib.reffiles import ReferenceFileError
from webbcal.simulate.imaging import write_distortion_reference


def _sha(path) -> str:
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


@pytest.fixture
def nircam(make_case):
    return make_case("NRCA1_SUB160", name="nircam")


def _variant(case, tmp_path, change):
    """Copy of the case's rate file with ``change(model)`` applied."""
    from stdatamodels.jwst.datamodels import ImageModel

    with ImageModel(os.fspath(case.rate)) as model:
        change(model)
        path = tmp_path / "bad" / case.rate.name
        path.parent.mkdir(exist_ok=True)
        model.save(os.fspath(path))
    return path


def _fails(rate, overrides, error, match, tmp_path):
    """Run the step on a file, expecting ``error``; check nothing was written or changed."""
    before = _sha(rate)
    out = tmp_path / "out"
    with pytest.raises(error, match=match):
        AssignWcsStep.call(os.fspath(rate), **overrides, save_results=True,
                           output_dir=os.fspath(out))  # fmt: skip
    assert _sha(rate) == before
    assert not out.exists() or not any(out.iterdir())


def _set(section, key, value):
    def change(model):
        setattr(getattr(model.meta, section), key, value)

    return change


@pytest.mark.parametrize(
    ("section", "key", "value", "match"),
    [
        ("wcsinfo", "ra_ref", None,
         r"_rate\.fits meta\.wcsinfo: pointing keyword RA_REF is missing"),
        ("wcsinfo", "roll_ref", None, r"pointing keyword ROLL_REF is missing"),
        ("wcsinfo", "dec_ref", 95.0, r"DEC_REF=95\.0: expected -90 <= DEC_REF <= 90"),
        ("wcsinfo", "vparity", 3, r"VPARITY=3: expected 1 or -1"),
        # The reference point of NRCB1_FULL: another module, 2.5 arcmin away.
        ("wcsinfo", "v2_ref", -120.9, r"V2_REF=-120\.9, V3_REF=-498\.2\d* are \d+\.\d arcsec "
         r"from the centre .* of detector NRCA1 described by webbcal_nrca1_distortion\.asdf"),
        ("exposure", "type", None, r"keyword EXP_TYPE=None: expected EXP_TYPE of a stage-1"),
        ("instrument", "detector", None, r"keyword DETECTOR=None"),
        ("subarray", "xsize", 100, r"SUBSIZE1=100 disagrees with the SCI array shape "
         r"\(160, 160\) \(expected SUBSIZE1=160\)"),
    ],
)  # fmt: skip
def test_bad_keywords(nircam, tmp_path, section, key, value, match):
    rate = _variant(nircam, tmp_path, _set(section, key, value))
    _fails(rate, nircam.overrides(), AssignWcsError, match, tmp_path)


def test_distortion_reference_of_another_detector(nircam, tmp_path):
    s = nircam.sim.setup
    other = dataclasses.replace(s, detector="NRCA2")
    ref = write_distortion_reference(other, nircam.sim.distortion, tmp_path / "a2.asdf")
    over = {**nircam.overrides(), "override_distortion": os.fspath(ref)}
    match = r"a2\.asdf: DETECTOR='NRCA2' but the science exposure's DETECTOR is 'NRCA1'"
    _fails(nircam.rate, over, ReferenceFileError, match, tmp_path)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(filters=("F150W", "F182M")), r"FILTER in \['F150W', 'F182M'\], but .*_rate\.fits "
         r"has FILTER='F200W'"),
        (dict(pupils=("MASKRND",)), r"PUPIL in \['MASKRND'\], but .* has PUPIL='CLEAR'"),
        (dict(exp_types=("NRC_CORON", "NRC_TACQ")), r"EXP_TYPE in \['NRC_CORON', 'NRC_TACQ'\]"),
    ],
)  # fmt: skip
def test_distortion_reference_for_another_selection(nircam, tmp_path, kwargs, match):
    s = nircam.sim.setup
    ref = write_distortion_reference(s, nircam.sim.distortion, tmp_path / "other.asdf", **kwargs)
    over = {**nircam.overrides(), "override_distortion": os.fspath(ref)}
    _fails(nircam.rate, over, AssignWcsError, r"other\.asdf: distortion reference for " + match,
           tmp_path)  # fmt: skip


def test_unreadable_and_wrong_mode_distortion_references(make_case, tmp_path):
    miri = make_case("MIRIM_SUB64", filter_offset=(0.1, 0.1), name="miri")
    junk = tmp_path / "junk.asdf"
    junk.write_text("not an ASDF file")
    over = {**miri.overrides(), "override_distortion": os.fspath(junk)}
    _fails(miri.rate, over, ReferenceFileError, r"junk\.asdf: cannot be read as a "
           r"DistortionModel reference file", tmp_path)  # fmt: skip
    mrs = REAL / "crds-refs" / "from-crds-tests" / "jwst_miri_distortion_0022.asdf"
    if mrs.is_file():  # a real MIRI MRS distortion reference: another detector and mode
        over = {**miri.overrides(), "override_distortion": os.fspath(mrs)}
        _fails(miri.rate, over, ReferenceFileError, r"jwst_miri_distortion_0022\.asdf", tmp_path)


def test_miri_needs_a_filteroffset_reference(make_case, tmp_path):
    miri = make_case("MIRIM_SUB64", filter_offset=(0.1, 0.1), name="miri")
    over = {**miri.overrides(), "override_filteroffset": "N/A"}
    _fails(miri.rate, over, AssignWcsError, r"_rate\.fits: EXP_TYPE=MIR_IMAGE of MIRI needs a "
           r"filteroffset reference", tmp_path)  # fmt: skip
    over = {**miri.overrides(), "override_distortion": "N/A"}
    _fails(miri.rate, over, AssignWcsError, r"no distortion reference applies \(N/A\) to "
           r"EXP_TYPE=MIR_IMAGE, DETECTOR=MIRIMAGE", tmp_path)  # fmt: skip


def test_spectroscopic_modes_are_skipped(nircam, tmp_path, caplog):
    rate = _variant(nircam, tmp_path, _set("exposure", "type", "NRC_WFSS"))
    with caplog.at_level(logging.INFO, logger="webbcal"):
        result = AssignWcsStep.call(os.fspath(rate), **nircam.overrides())
    assert result.meta.cal_step.assign_wcs == "SKIPPED"
    assert "spectroscopic WCS not implemented for EXP_TYPE=NRC_WFSS" in caplog.text
    assert result.meta.wcs is None


def test_command_line(nircam, tmp_path, capsys):
    out = tmp_path / "out"
    before = _sha(nircam.rate)
    args = ["run", "assign_wcs", os.fspath(nircam.rate), "--output-dir", os.fspath(out), "-q",
            *(f"--{k}={v}" for k, v in nircam.overrides().items())]  # fmt: skip
    assert main(args) == 0
    product = out / nircam.rate.name.replace("_rate.fits", "_assign_wcs.fits")
    from stdatamodels.jwst.datamodels import ImageModel

    with ImageModel(os.fspath(product)) as model:
        assert model.meta.cal_step.assign_wcs == "COMPLETE"
        ra, dec = model.meta.wcs(79.5, 79.5)
        assert ra == pytest.approx(150.1, abs=1e-5) and dec == pytest.approx(2.2, abs=1e-5)
    # A distortion reference of another detector: exit status 1, one clear line, no output.
    bad = write_distortion_reference(
        dataclasses.replace(nircam.sim.setup, detector="NRCB1"), nircam.sim.distortion,
        tmp_path / "b1.asdf",
    )  # fmt: skip
    out2 = tmp_path / "out2"
    args = ["run", "assign_wcs", os.fspath(nircam.rate), "--output-dir", os.fspath(out2), "-q",
            f"--override_distortion={bad}", "--override_filteroffset=N/A"]  # fmt: skip
    capsys.readouterr()
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "b1.asdf: DETECTOR='NRCB1' but the science exposure's DETECTOR is 'NRCA1'" in err
    assert not out2.exists() or not any(out2.iterdir())
    assert _sha(nircam.rate) == before


def test_bad_sip_parameters(nircam, tmp_path):
    _fails(nircam.rate, {**nircam.overrides(), "sip_npoints": 4}, AssignWcsError,
           r"assign_wcs: sip_npoints=4: expected >= 8", tmp_path)  # fmt: skip
    from webbcal.stpipe.params import ParameterError

    with pytest.raises(ParameterError, match="sip_degree"):
        AssignWcsStep(sip_degree=7)


def test_required_reference_types():
    assert AssignWcsStep().required_reference_types() == ("distortion", "filteroffset")
    step = AssignWcsStep(override_filteroffset="N/A")
    assert step.required_reference_types() == ("distortion",)
    assert AssignWcsStep(skip=True).required_reference_types() == ()
