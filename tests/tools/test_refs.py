"""``webbcal refs`` with the real rules of jwst_0567, offline."""

from __future__ import annotations

import json

import pytest
from _tools_data import EUREKA, FGS, MAPPINGS_0567, MIRI, MSA, need

from webbcal.cli import main
from webbcal.crds_client import install_mappings
from webbcal.tools.refs import mode_reftypes, reference_report

pytestmark = need(MAPPINGS_0567, EUREKA, *MSA)


@pytest.fixture(scope="module")
def cache_0567(tmp_path_factory):
    root = tmp_path_factory.mktemp("crds_0567")
    refs = sorted(EUREKA.glob("jwst_nirspec_*"))
    assert install_mappings(root, MAPPINGS_0567, refs) == "jwst_0567.pmap"
    return root


@pytest.fixture()
def offline_0567(cache_0567, monkeypatch):
    monkeypatch.setenv("CRDS_PATH", str(cache_0567))
    monkeypatch.setenv("CRDS_SERVER_URL", "")
    return cache_0567


def test_mode_reftypes_from_crds_system_config():
    pairs = mode_reftypes("NRS_MSASPEC")
    assert ("superbias", "superbias") in pairs and ("msa_flagging", "msaoper") in pairs
    assert ("assign_wcs", "msa") in pairs
    assert ("dq_init", "mask") == pairs[[s for s, _ in pairs].index("dq_init")]
    with pytest.raises(ValueError, match="EXP_TYPE 'NRC_BOGUS' is not in the CRDS"):
        mode_reftypes("NRC_BOGUS")


def test_msa_product_under_jwst_0567(offline_0567):
    report = reference_report(str(MSA[0]))
    assert report["context"] == "jwst_0567.pmap"
    assert report["product_context"] == "jwst_1225.pmap"
    rows = {(r["step"], r["reftype"]): r for r in report["references"]}
    fpa = rows[("assign_wcs", "fpa")]
    assert fpa["file"] == "jwst_nirspec_fpa_0005.asdf" and fpa["cached"]
    assert fpa["pedigree"] == "GROUND" and fpa["useafter"].startswith("2016-02-03")
    assert fpa["descrip"] == "FPA model, fitted with FM2 CAL phase data"
    assert fpa["recorded"] == "jwst_nirspec_fpa_0009.asdf" and fpa["change"] == "changed"
    dark = rows[("dark_current", "dark")]
    assert dark["cached"] is False and dark["pedigree"] is None
    assert dark["recorded"] == "jwst_nirspec_dark_0413.fits" and dark["change"] == "changed"
    assert rows[("gain_scale", "gain")]["change"] == "same"  # gain_0020 in both contexts
    assert rows[("persistence", "trapdensity")]["status"] == "not_applicable"


def test_cli_text_and_json(offline_0567, capsys):
    assert main(["refs", str(MSA[0]), "--context", "jwst_0567.pmap"]) == 0
    out = capsys.readouterr().out
    assert "NRS_MSASPEC under jwst_0567.pmap (product made with jwst_1225.pmap)" in out
    assert "jwst_nirspec_superbias_0256.fits -> jwst_nirspec_superbias_0118.fits" in out
    assert main(["refs", str(FGS), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    files = {r["reftype"]: r["file"] for r in report["references"]}
    assert files["mask"] == "jwst_fgs_mask_0026.fits" and files["flat"] == "jwst_fgs_flat_0011.fits"


@need(MIRI)
def test_missing_context_is_one_clear_line(offline_0567, capsys):
    assert main(["refs", str(MIRI), "--context", "jwst_1225.pmap"]) == 1
    err = capsys.readouterr().err
    assert "CRDS context 'jwst_1225.pmap' is not in the cache" in err
    assert len(err.strip().splitlines()) == 1
    assert main(["refs", str(MIRI), "--context", "latest-please"]) == 2
    assert "is not a CRDS context" in capsys.readouterr().err
