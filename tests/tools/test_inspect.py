"""``webbcal inspect`` on real products, constructed headers and bad files."""

from __future__ import annotations

import json

import pytest
from _tools_data import CORON, FGS, MIRI, MSA, need, write_product

from webbcal.cli import main
from webbcal.tools.inspect import inspect_product
from webbcal.tools.product import read_product


def _ids(report):
    return [i["id"] for i in report["known_issues"]]


@need(MIRI)
def test_miri_ground_test_needs_reprocessing(capsys):
    report = inspect_product(str(MIRI))
    assert report["product"]["mode"] == "MIRI Low resolution spectroscopy"
    assert report["versions"]["CAL_VER"] == "1.3.3.dev12+g2f778122"
    assert report["versions"]["CRDS_CTX"] == "jwst_0766.pmap"
    assert report["versions"]["SDP_VER"] == "2019_3"
    check = report["context_check"]
    assert (check["status"], check["minimum"]) == ("older", "jwst_0927.pmap")
    assert "jwst_0766.pmap is older than jwst_0927.pmap" in check["message"]
    assert {"GI-TS01", "B9.2-RAMPFIT", "B9.2-DQINIT", "GI03", "B9.2-VELOSYS"} <= set(_ids(report))
    gi03 = next(i for i in report["known_issues"] if i["id"] == "GI03")
    assert gi03["command"].endswith("--steps.jump.find_showers=True")
    r = report["reprocess"]
    assert r["advised"]
    assert r["command"] == (
        "CRDS_CONTEXT=jwst-operational webbcal run calwebb_detector1 "
        "jw00623026001_03106_00005_mirimage_uncal.fits --output-dir reprocessed"
    )
    assert main(["inspect", str(MIRI), "--context", "jwst_0927.pmap"]) == 0
    text = capsys.readouterr().out
    assert "Reprocessing advised" in text
    assert "CRDS_CONTEXT=jwst_0927.pmap webbcal run calwebb_detector1" in text


@need(*MSA)
@pytest.mark.parametrize("path", MSA, ids=lambda p: p.name[:30])
def test_nirspec_msa_cutouts(path, capsys):
    assert main(["inspect", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["product"]["exp_type"] == "NRS_MSASPEC"
    assert report["product"]["mode"] == "NIRSPEC Multi-object spectroscopy"
    assert report["product"]["stage"] == 2
    assert report["versions"]["CAL_VER"] == "1.14.0"
    assert report["versions"]["CRDS_CTX"] == "jwst_1225.pmap"
    assert report["context_check"]["status"] == "ok"
    # IRS2 readout mitigates 1/f noise; CAL_VER 1.14 has the build 9.2/9.3 fixes.
    assert _ids(report) == ["GI02", "GI03"]
    assert report["reprocess"]["advised"] is False
    assert report["references"]["recorded"] == 16


@need(FGS, CORON)
def test_raw_products():
    fgs = inspect_product(str(FGS))
    assert fgs["product"]["stage"] == 0 and fgs["versions"]["CAL_VER"] is None
    assert fgs["context_check"]["status"] == "not_listed"
    assert fgs["known_issues"] == []
    coron = inspect_product(str(CORON))
    assert coron["context_check"]["status"] == "in_progress"
    assert _ids(coron) == ["GI01", "GI04"]  # real proper motion, NIRCam 1/f


def test_webbcal_rate_product(webbcal_products):
    product = read_product(webbcal_products["rate"])
    assert product.made_by_webbcal and product.stage == 1
    report = inspect_product(str(webbcal_products["rate"]))
    ids = _ids(report)
    # webbcal's version number is not compared with the official pipeline's fixes.
    assert not any(i.startswith("B9.2-") and i != "B9.2-NRC-SUBARRAY-BIAS" for i in ids)
    assert "GI04" in ids and "B9.2-NRC-SUBARRAY-BIAS" in ids
    assert report["versions"]["CRDS_CTX"] == "jwst_9001.pmap"
    # No cache at hand (CRDS_PATH is empty here): the context number says it is local.
    check = report["context_check"]
    assert check["status"] == "simulated"
    assert check["message"] == (
        "CRDS_CTX jwst_9001.pmap is a local context with simulated references (not a CRDS "
        "server context (numbers from 9000 are local)): the product is a simulation, not "
        "calibrated with in-flight references; calibrate real data with a CRDS server context"
    )


def test_simulated_references_shown(webbcal_products, nircam_case, monkeypatch, capsys):
    monkeypatch.setenv("CRDS_PATH", str(nircam_case.crds_path))
    report = inspect_product(str(webbcal_products["rate"]))
    refs = report["references"]
    n = refs["recorded"]
    assert n >= 8 and len(refs["simulated"]) == n
    assert {e["pedigree"] for e in refs["simulated"]} == {"SIMULATION"}
    assert report["context_check"]["message"] == (
        "CRDS_CTX jwst_9001.pmap is a local context with simulated references (not a CRDS "
        f"server context (numbers from 9000 are local); {n} of {n} references have PEDIGREE "
        "SIMULATION): the product is a simulation, not calibrated with in-flight references; "
        "calibrate real data with a CRDS server context"
    )
    assert main(["inspect", str(webbcal_products["rate"])]) == 0
    text = capsys.readouterr().out.splitlines()
    assert f"Context check (simulated): {report['context_check']['message']}" in text
    dark = next(e["file"] for e in refs["simulated"] if e["reftype"] == "dark")
    assert f"  simulated:  dark        {dark}  (SIMULATION)" in text


def test_miri_is_reprocessed_by_webbcal(tmp_path):
    path = write_product(tmp_path / "jw01234001001_01101_00001_mirimage_rate.fits", {
        "INSTRUME": "MIRI", "EXP_TYPE": "MIR_IMAGE", "READPATT": "FASTR1", "SUBARRAY": "FULL",
        "CAL_VER": "1.8.2", "CRDS_CTX": "jwst_0800.pmap", "S_RAMP": "COMPLETE",
    })  # fmt: skip
    r = inspect_product(str(path))["reprocess"]
    assert r["advised"]
    assert r["command"] == (
        "CRDS_CONTEXT=jwst-operational webbcal run calwebb_detector1 "
        "jw01234001001_01101_00001_mirimage_uncal.fits --output-dir reprocessed"
    )
    assert r["notes"] == ["use jwst_0913.pmap or a later context"]


def test_preflight_references_from_cache(tmp_path, monkeypatch):
    from astropy.io import fits

    refdir = tmp_path / "crds" / "references" / "jwst" / "nircam"
    refdir.mkdir(parents=True)
    for name, pedigree in [
        ("jwst_nircam_gain_0001.fits", "GROUND"),
        ("jwst_nircam_dark_0002.fits", "INFLIGHT 2022-06-01 2022-07-01"),
    ]:
        hdu = fits.PrimaryHDU()
        hdu.header.update(PEDIGREE=pedigree, USEAFTER="2022-01-01T00:00:00", DESCRIP="test")
        hdu.writeto(refdir / name)  # fmt: skip
    monkeypatch.setenv("CRDS_PATH", str(tmp_path / "crds"))
    path = write_product(tmp_path / "jw01234001001_01101_00001_nrca1_rate.fits", {
        "INSTRUME": "NIRCAM", "EXP_TYPE": "NRC_IMAGE", "CAL_VER": "1.8.2",
        "CRDS_CTX": "jwst_0990.pmap", "R_GAIN": "crds://jwst_nircam_gain_0001.fits",
        "R_DARK": "crds://jwst_nircam_dark_0002.fits", "R_LINEAR": "crds://jwst_nircam_linearity_0009.fits",
        "R_IPC": "N/A", "S_RAMP": "COMPLETE", "S_DQINIT": "COMPLETE", "SUBARRAY": "FULL",
    })  # fmt: skip
    report = inspect_product(str(path))
    refs = report["references"]
    assert refs["preflight"] == [
        {"reftype": "gain", "file": "jwst_nircam_gain_0001.fits", "pedigree": "GROUND"}
    ]
    assert refs["pedigree_unknown"] == ["jwst_nircam_linearity_0009.fits"]
    assert report["context_check"]["status"] == "older"
    assert {"B9.2-DQINIT", "B9.2-RAMPFIT"} <= set(_ids(report))
    assert report["reprocess"]["command"].startswith(
        "CRDS_CONTEXT=jwst-operational webbcal run calwebb_detector1 "
        "jw01234001001_01101_00001_nrca1_uncal.fits"
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "file not found"),
        (b"hello, not fits", "not a readable FITS file"),
        ({"TELESCOP": "HST", "INSTRUME": "WFC3"}, "not a JWST product (TELESCOP='HST')"),
        ({"EXP_TYPE": "NRC_IMAGE"}, "no INSTRUME keyword"),
    ],
)
def test_bad_files_give_one_line(tmp_path, capsys, content, message):
    path = tmp_path / "bad.fits"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, dict):
        from astropy.io import fits

        hdu = fits.PrimaryHDU()
        hdu.header.update(content)
        hdu.writeto(path)
    assert main(["inspect", str(path)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("webbcal: error: ") and message in err
    assert "Traceback" not in err and len(err.splitlines()) == 1


def test_usage_error(capsys):
    assert main(["inspect"]) == 2
    assert "the following arguments are required: file" in capsys.readouterr().err
