"""The rule tables: every entry is evaluated on its own constructed examples."""

from __future__ import annotations

import pytest

from webbcal.tools.rules import (
    RuleError,
    check_context,
    evaluate,
    known_issues,
    load_table,
    observing_mode,
    observing_modes,
)

ISSUES = load_table("known_issues")["entries"]
MODES = load_table("min_context")["entries"]


def test_tables_name_their_sources():
    assert "000_62677b34dc1a9d9e" in load_table("min_context")["source"]
    for entry in ISSUES:
        assert "jdox/00" in entry["source"], entry["id"]
        assert entry["workaround"]
    assert {e["id"] for e in ISSUES} >= {"GI01", "GI02", "GI03", "GI04", "GI05", "GI06", "GI-TS01"}
    assert any("004_" in e["source"] for e in ISSUES)


@pytest.mark.parametrize("entry", ISSUES, ids=[e["id"] for e in ISSUES])
def test_known_issue_examples(entry):
    assert entry["examples"]["applies"] and entry["examples"]["does_not_apply"]
    for facts in entry["examples"]["applies"]:
        assert evaluate(entry["when"], facts), facts
    for facts in entry["examples"]["does_not_apply"]:
        assert not evaluate(entry["when"], facts), facts


@pytest.mark.parametrize("entry", MODES, ids=[f"{e['instrument']}:{e['mode']}" for e in MODES])
def test_mode_examples_select_their_row(entry):
    for facts in entry["examples"]["applies"]:
        mode = observing_mode(facts)
        assert mode is not None and (mode.instrument, mode.mode) == (
            entry["instrument"],
            entry["mode"],
        ), facts
    for facts in entry["examples"]["does_not_apply"]:
        mode = observing_mode(facts)
        assert mode is None or mode.mode != entry["mode"] or mode.instrument != entry["instrument"]


def test_table1_values():
    """Spot-check the transcription of JDox Table 1."""
    got = {(m.instrument, m.mode): m.min_context for m in observing_modes()}
    assert got[("MIRI", "Low resolution spectroscopy")] == "jwst_0927.pmap"
    assert got[("MIRI", "Coronagraphic imaging")] == "jwst_1058.pmap"
    assert got[("NIRCAM", "Imaging")] == "jwst_0995.pmap"
    assert got[("NIRCAM", "Wide field slitless spectroscopy")] is None
    assert got[("NIRISS", "Single object slitless spectroscopy")] == "jwst_0923.pmap"
    assert got[("NIRSPEC", "Multi-object spectroscopy")] == "jwst_0977.pmap"
    assert len(got) == 19


@pytest.mark.parametrize(
    ("facts", "status"),
    [
        ({"INSTRUME": "MIRI", "EXP_TYPE": "MIR_LRS-SLITLESS", "CRDS_CTX": "jwst_0766.pmap"},
         "older"),
        ({"INSTRUME": "MIRI", "EXP_TYPE": "MIR_LRS-SLITLESS", "CRDS_CTX": "jwst_0927.pmap"}, "ok"),
        ({"INSTRUME": "NIRCAM", "EXP_TYPE": "NRC_WFSS", "CRDS_CTX": "jwst_0500.pmap"},
         "in_progress"),
        ({"INSTRUME": "FGS", "EXP_TYPE": "FGS_IMAGE", "CRDS_CTX": "jwst_0500.pmap"}, "not_listed"),
        ({"INSTRUME": "NIRISS", "EXP_TYPE": "NIS_IMAGE"}, "unknown"),
    ],
)  # fmt: skip
def test_check_context(facts, status):
    assert check_context(facts).status == status


def test_operators():
    facts = {"CAL_VER": "1.3.3.dev12+g2f778122", "DATE": "2021-09-08T16:37:07", "N": 5,
             "CRDS_CTX": "jwst_0766.pmap", "TSOVISIT": "T", "EMPTY": ""}  # fmt: skip
    assert evaluate({"key": "CAL_VER", "version_lt": "1.10"}, facts)
    assert not evaluate({"key": "CAL_VER", "version_ge": "1.3.4"}, facts)
    assert evaluate({"key": "DATE", "date_lt": "2023-08-24"}, facts)
    assert evaluate({"key": "CRDS_CTX", "context_lt": "jwst_0927.pmap"}, facts)
    assert evaluate({"key": "TSOVISIT", "equals": True}, facts)
    assert evaluate({"key": "EMPTY", "present": False}, facts)
    assert not evaluate({"key": "MISSING", "number_ge": 1}, facts)
    assert evaluate({"not": {"key": "N", "number_lt": 5}}, facts)


def test_bad_condition_is_reported():
    from webbcal.tools.rules import _validate

    with pytest.raises(RuleError, match="needs 'key' and one operator"):
        _validate({"key": "X", "bigger": 3}, "TEST")
    assert all(i.workaround for i in known_issues())
