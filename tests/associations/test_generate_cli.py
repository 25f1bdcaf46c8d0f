"""``webbcal asn generate`` command: files written, summary, and bad inputs."""

from __future__ import annotations

import json
import shutil

import pytest

from _shared_paths import REAL
from webbcal.associations import load_association
from webbcal.associations.cli import main as asn_main
from webbcal.associations.generate import GenerateError, generate, main
from webbcal.associations.pool import PoolError, read_pool

POOL = REAL / "jwst-wheel" / "association_pools" / "jw09505_20251216t202003_pool.csv"

#: What jwst 3.0.0 asn_generate writes for this pool (file names).
EXPECTED_FILES = sorted(
    [f"jw09505-o001_image2_{n:05d}_asn.json" for n in range(1, 5)]
    + [f"jw09505-o001_spec2_{n:05d}_asn.json" for n in range(1, 5)]
    + ["jw09505-o001_image3_00001_asn.json", "jw09505-o001_spec3_00001_asn.json"]
)


def test_writes_files_and_summary(tmp_path, capsys):
    assert asn_main(["generate", str(POOL), "-p", str(tmp_path)]) == 0
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == EXPECTED_FILES
    out = capsys.readouterr().out
    assert f"10 associations from {POOL.name} written to {tmp_path}" in out
    assert "image2        4" in out
    asn = load_association(tmp_path / "jw09505-o001_image3_00001_asn.json")
    assert asn.asn_type == "image3"
    assert asn.asn_rule == "candidate_Asn_Lv3Image"
    assert asn.program == "09505"
    assert asn.target == "t001"
    assert asn.asn_pool == POOL.name
    assert asn.products[0].name == "jw09505-o001_t001_miri_f560w"
    assert [m.exptype for m in asn.products[0].members] == ["science"] * 4
    assert all(m.expname.endswith("_mirimage_cal.fits") for m in asn.products[0].members)
    # no temporary files left behind
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp")]


def test_dry_run_and_version_id(tmp_path, capsys):
    assert main([str(POOL), "-p", str(tmp_path), "--dry-run"]) == 0
    assert list(tmp_path.iterdir()) == []
    assert "not written (dry run)" in capsys.readouterr().out
    assert main([str(POOL), "-p", str(tmp_path), "--version-id", "v7", "-i", "o001"]) == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert "jw09505-o001_v7_image3_00001_asn.json" in names
    assert not any("a3001" in n for n in names)
    tree = json.loads((tmp_path / "jw09505-o001_v7_image3_00001_asn.json").read_text())
    assert tree["version_id"] == "v7"


def _fails(argv, capsys, tmp_path, match):
    assert main([*argv, "-p", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert match in err, err
    assert not (tmp_path / "out").exists()


def test_missing_pool(tmp_path, capsys):
    _fails([str(tmp_path / "nope.csv")], capsys, tmp_path, "nope.csv: association pool not found")


def test_pool_missing_columns(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("FILENAME|EXP_TYPE\njw1_uncal.fits|nrc_image\n")
    _fails([str(bad)], capsys, tmp_path, "lacks required column(s) PROGRAM, ASN_CANDIDATE")


def test_pool_malformed_row(tmp_path, capsys):
    lines = POOL.read_text().splitlines()
    lines[3] = lines[3] + "|extra"
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(lines) + "\n")
    _fails([str(bad)], capsys, tmp_path, "line 4 has 65 fields; expected 64")


def test_empty_pool(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("# only a comment\n")
    with pytest.raises(PoolError, match="empty association pool"):
        read_pool(empty)


def test_unknown_candidate(tmp_path, capsys):
    _fails([str(POOL), "-i", "o999"], capsys, tmp_path, "candidate id(s) o999 not found")


def test_rule_files(tmp_path, capsys):
    _fails([str(POOL), "-r", str(tmp_path / "none.py")], capsys, tmp_path, "rule file not found")
    empty = tmp_path / "empty_rules.py"
    empty.write_text("X = 1\n")
    _fails([str(POOL), "-r", str(empty)], capsys, tmp_path, "defines no association rule")
    broken = tmp_path / "broken_rules.py"
    broken.write_text("def (:\n")
    _fails([str(POOL), "-r", str(broken)], capsys, tmp_path, "cannot load rule definitions")
    _fails([str(POOL), "--ignore-default"], capsys, tmp_path, "no association rules")


def test_user_rule_file(tmp_path, capsys):
    rules = tmp_path / "my_rules.py"
    rules.write_text(
        "from webbcal.associations.rules import Asn_Lv3Image\n\n\n"
        "class Asn_MyImage(Asn_Lv3Image):\n"
        "    asn_type = 'myimage3'\n"
    )
    out = tmp_path / "out"
    assert main([str(POOL), "-p", str(out), "--ignore-default", "-r", str(rules)]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["jw09505-o001_myimage3_00001_asn.json"]
    asn = load_association(out / names[0])
    assert asn.asn_rule == "candidate_Asn_MyImage"


def test_nothing_written_when_an_association_is_invalid(tmp_path, monkeypatch):
    asns = generate(read_pool(POOL))
    asns[-1].data["products"][0]["members"][0]["expname"] = ""
    from webbcal.associations import AssociationError
    from webbcal.associations.generate import write_associations

    with pytest.raises(AssociationError, match="expname"):
        write_associations(asns, str(tmp_path / "out"))
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_generate_api_errors():
    with pytest.raises(GenerateError, match="no association rules"):
        generate(read_pool(POOL), rules={})


def test_pool_copy_keeps_name(tmp_path):
    copy = tmp_path / "jw09505_copy_pool.csv"
    shutil.copy(POOL, copy)
    asns = generate(read_pool(copy))
    assert {a.data["asn_pool"] for a in asns} == {copy.name}


def test_pool_without_a_column_the_rules_read(tmp_path, capsys):
    pool = read_pool(POOL)
    pool.columns.remove("pntgtype")
    for row in pool.rows:
        del row["pntgtype"]
    from webbcal.associations.pool import write_pool

    path = write_pool(pool, tmp_path / "no_pntgtype_pool.csv")
    _fails([path], capsys, tmp_path, "the pool has no column PNTGTYPE")


def test_pool_with_crlf_and_byte_order_mark(tmp_path):
    text = POOL.read_text()
    path = tmp_path / "crlf_pool.csv"
    path.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
    assert read_pool(path).rows == read_pool(POOL).rows
