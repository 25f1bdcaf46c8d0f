"""``webbcal asn make-pool`` against the official ``asn_make_pool`` on real NIRCam headers.

The three real coronagraphic uncal headers (PSF-reference exposures) plus
copies turned into science exposures (IS_PSF false, other exposure numbers and
one other target) make a small program; both tools must give the same pool,
and each generator on the other's pool the same associations.
"""

from __future__ import annotations

import json
import shutil

import pytest
from astropy.io import fits

from _shared_paths import REAL
from webbcal.associations import make_pool as mp
from webbcal.associations._constraints import EMPTY
from webbcal.associations.generate import generate
from webbcal.associations.pool import PoolError, read_pool, write_pool

HEADERS = REAL / "jwst-wheel" / "header_only_uncal"
ORIGINALS = sorted(HEADERS.glob("*_uncal.fits"))


def _exposures(folder):
    """Names (relative to ``folder``) of the real files and of modified copies."""
    names = []
    for path in ORIGINALS:
        shutil.copy(path, folder / path.name)
        names.append(path.name)
    changes = [
        ("jw01075001001_03105_00010_nrca2_uncal.fits", {"IS_PSF": False, "EXPOSURE": "10"}),
        ("jw01075001001_03105_00011_nrca2_uncal.fits", {"IS_PSF": False, "EXPOSURE": "11"}),
        (
            "jw01075001001_03106_00001_nrca3_uncal.fits",
            {"IS_PSF": False, "TARGNAME": "HD 1", "ACT_ID": "06", "FILTER": "F200W"},
        ),
    ]
    for name, keys in changes:
        with fits.open(ORIGINALS[0]) as hdul:
            for key, value in keys.items():
                hdul[0].header[key] = value
            hdul[0].header["FILENAME"] = name
            hdul.writeto(folder / name)
        names.append(name)
    return names


@pytest.fixture
def exposures(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return _exposures(tmp_path)


@pytest.mark.jwst_oracle
def test_same_pool_and_associations_as_jwst(exposures, tmp_path):
    pytest.importorskip("jwst")
    from jwst.associations import AssociationPool
    from jwst.associations.main import Main
    from jwst.associations.mkpool import mkpool

    (tmp_path / "jwst").mkdir()
    (tmp_path / "ours").mkdir()
    theirs_path = tmp_path / "jwst" / "pool.csv"
    ours_path = tmp_path / "ours" / "pool.csv"
    mkpool(exposures).write(str(theirs_path), overwrite=True)
    write_pool(mp.make_pool(exposures), ours_path)

    # same table, read by either reader (jwst's reader turns an empty DMS_NOTE into
    # "n" in its own pool, "null" in ours: both mean unset)
    for reader in (read_pool, AssociationPool.read):
        theirs, ours = _rows(reader(str(theirs_path))), _rows(reader(str(ours_path)))
        assert theirs == ours
    pool = read_pool(ours_path)
    assert len(pool) == 6
    assert {r["asn_candidate"] for r in pool.rows} == {"[('o001', 'observation')]"}
    assert [r["targetid"] for r in pool.rows] == ["1", "1", "1", "1", "1", "2"]

    # each generator on the other's pool
    main = Main(["--dry-run", str(ours_path)])
    main.generate()
    from_jwst = sorted(
        (a.dump()[0], json.dumps(_essentials(json.loads(a.dump()[1])), sort_keys=True))
        for a in main.associations
    )
    from_ours = sorted(
        (a.asn_name() + ".json", json.dumps(_essentials(a.to_dict()), sort_keys=True))
        for a in generate(read_pool(theirs_path), discover=True)
    )
    assert from_jwst == from_ours
    assert len(from_ours) >= 4


def _rows(table):
    rows = table.rows if hasattr(table, "rows") else table
    columns = list(table.columns)
    return sorted(columns), [
        {c: ("null" if str(r[c]) in EMPTY else str(r[c])) for c in columns} for r in rows
    ]


def _essentials(tree):
    return {
        "asn_type": tree["asn_type"],
        "asn_rule": tree["asn_rule"],
        "asn_id": tree["asn_id"],
        "target": str(tree["target"]),
        "program": tree["program"],
        "products": [
            {
                "name": p["name"],
                "members": sorted((m["expname"], m["exptype"]) for m in p["members"]),
            }
            for p in tree["products"]
        ],
    }


def test_pool_columns_and_values(exposures):
    pool = mp.make_pool(exposures, asn_candidate="[('c1000', 'background')]")
    for column in mp.NON_HEADER_COLUMNS:
        assert column in pool.columns
    assert pool.columns == sorted(pool.columns)
    first = pool.rows[0]
    assert first["filename"] == exposures[0].lower()
    assert first["exp_type"] == "nrc_coron"
    assert first["is_psf"] == "true"
    assert first["dms_note"] == "null"
    assert first["asn_candidate"] == "[('o001', 'observation'), ('c1000', 'background')]"


def test_cli_writes_pool_and_errors(exposures, tmp_path, capsys):
    assert mp.main([str(tmp_path / "p.csv"), *exposures]) == 0
    assert len(read_pool(tmp_path / "p.csv")) == len(exposures)
    assert mp.main([str(tmp_path / "q.csv"), "missing_uncal.fits"]) == 1
    assert "missing_uncal.fits: file not found" in capsys.readouterr().err
    assert not (tmp_path / "q.csv").exists()
    (tmp_path / "text.fits").write_text("not fits")
    with pytest.raises(PoolError, match="text.fits: not a readable FITS file"):
        mp.make_pool(["text.fits"])
