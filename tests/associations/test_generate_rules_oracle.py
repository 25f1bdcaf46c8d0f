"""Rules that no shipped pool exercises, checked against jwst's ``asn_generate`` on edited pools.

Each case takes a real pool (MIRI imaging + WFSS of program 9505, NIRISS WFSS
of program 87800), edits a few columns so that the rule applies, and requires
jwst and webbcal to make the same associations, among them one of the rule.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from _shared_paths import REAL
from webbcal.associations.generate import generate
from webbcal.associations.pool import read_pool, write_pool

pytestmark = pytest.mark.jwst_oracle

jwst = pytest.importorskip("jwst")

MIRI = REAL / "jwst-wheel" / "association_pools" / "jw09505_20251216t202003_pool.csv"
NIRISS = (
    Path(jwst.__file__).parent
    / "associations"
    / "tests"
    / "data"
    / "jw87800_20180412T163456_pool.csv"
)


def _nircam_wfss(row, i):
    row.update(instrume="nircam", detector="nrcalong", channel="long")
    if row["exp_type"] == "nis_wfss":
        row.update(exp_type="nrc_wfss", pupil="grismr", filter="f356w")
    else:
        row.update(exp_type="nrc_image", pupil="clear", filter="f356w")


def _wfss_parallel(row, i):
    row["asn_candidate"] = "[('o017', 'observation'), ('c1000', 'direct_image')]"


def _image_background(row, i):
    if row["exp_type"] == "mir_image" and i > 4:
        row["bkgdtarg"] = "t"


def _soss(row, i):
    row.update(
        exp_type="nis_soss", instrume="niriss", detector="nis", filter="clear",
        pupil="gr700xd", patttype="null", tsovisit="f", subarray="substrip256",
    )  # fmt: skip


def _lrs_nod(row, i):
    row.update(
        exp_type="mir_lrs-fixedslit" if i != 0 else "mir_taconfirm",
        filter="p750l", patttype="along-slit-nod", patt_num=str(1 + i % 2),
        subarray="full",
    )  # fmt: skip


def _nrs_lamp(row, i):
    row.update(instrume="nirspec", detector="nrs1", pntgtype="engineering", subarray="full")
    if i < 3:
        row.update(exp_type="nrs_lamp", grating="mirror", opmode="image", filter="opaque",
                   lamp="flat1")  # fmt: skip
    else:
        row.update(exp_type="nrs_autowave", grating="g140h", opmode="fixedslit",
                   filter="opaque", lamp=("line1", "flat1", "ref")[i % 3])  # fmt: skip


CASES = {
    "Asn_Lv2WFSSNRC": (NIRISS, _nircam_wfss),
    "Asn_Lv3WFSSNRC": (NIRISS, _nircam_wfss),
    "Asn_Lv2WFSSParallel": (NIRISS, _wfss_parallel),
    "Asn_Lv3ImageBackground": (MIRI, _image_background),
    "Asn_Lv3SlitlessSpectral": (MIRI, _soss),
    "Asn_Lv2MIRLRSFixedSlitNod": (MIRI, _lrs_nod),
    "Asn_Lv2NRSLAMPImage": (MIRI, _nrs_lamp),
    "Asn_Lv2NRSLAMPSpectral": (MIRI, _nrs_lamp),
}


def _edited_pool(source: Path, edit, folder: Path) -> Path:
    pool = read_pool(source)
    for column in ("opmode", "lamp"):
        if column not in pool.columns:
            pool.columns.append(column)
            for row in pool.rows:
                row[column] = "null"
    for i, row in enumerate(pool.rows):
        edit(row, i)
    path = folder / f"jw{pool.rows[0]['program']:0>5s}_{edit.__name__.strip('_')}_pool.csv"
    write_pool(pool, path)
    return path


def _essentials(fname, tree):
    return (
        fname,
        tree["asn_rule"].split("_", 1)[1],
        tree["asn_type"],
        tree["asn_id"],
        str(tree["target"]),
        tree["program"],
        json.dumps(
            [
                [p["name"], sorted([m["expname"], m["exptype"]] for m in p["members"])]
                for p in tree["products"]
            ]
        ),
    )


@pytest.mark.parametrize("rule", sorted(CASES))
def test_rule_matches_jwst(rule, tmp_path):
    from jwst.associations.main import Main

    source, edit = CASES[rule]
    path = _edited_pool(source, edit, tmp_path)
    main = Main(["--dry-run", str(path)])
    main.generate()
    theirs = [_essentials(*a.dump()[:1], json.loads(a.dump()[1])) for a in main.associations]
    ours = [
        _essentials(a.asn_name() + ".json", a.to_dict())
        for a in generate(read_pool(path), discover=True)
    ]
    assert rule in {t[1] for t in theirs}
    assert ours == theirs
