"""``webbcal asn generate`` against the official ``asn_generate`` (jwst 3.0.0) on the same pools.

Every association must agree: rule, product names, members (expname, exptype),
asn_type, asn_id, target, program and file name. The pools are the real DMS
pools of the shared data and the test pools shipped with jwst (templates
expanded by jwst's own test helper). The jwst pools outside ``FAST_POOLS`` run
only with ``WEBBCAL_RUN_SLOW=1``; ``mega_pool.csv`` (jwst: about 500 s) is left
to ``benchmarks/bench_asn_generate.py``.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

import pytest

from _shared_paths import REAL
from webbcal.associations.generate import generate
from webbcal.associations.pool import PoolError, read_pool
from webbcal.associations.rules import DEFAULT_RULES

pytestmark = pytest.mark.jwst_oracle

jwst = pytest.importorskip("jwst")

JWST_DATA = Path(jwst.__file__).parent / "associations" / "tests" / "data"
REAL_POOLS = REAL / "jwst-wheel" / "association_pools"
RUN_SLOW = os.environ.get("WEBBCAL_RUN_SLOW") == "1"

#: jwst test pools run by default: together they make associations of 31 of the
#: default rules in a few seconds. The others (jwst takes 1-12 s on each) need
#: WEBBCAL_RUN_SLOW=1.
FAST_POOLS = {
    "jw87800_20180412T163456_pool.csv",
    "pool_002_image_miri.csv",
    "pool_005_spec_niriss.csv",
    "pool_008_exposerr.csv",
    "pool_010_spec_nirspec_lv2bkg.csv",
    "pool_017_spec_nirspec_lv2imprint.csv",
    "pool_020_00009_image_miri.csv",
    "pool_021_tso.csv",
    "pool_023_nirspec_msa_3nod.csv",
    "pool_024b_nirspec_fss_nods.csv",
    "pool_025_nirspec_fss_nod_chop.csv",
    "pool_duplicate.csv",
}


def _pool_params():
    params = [pytest.param(("real", p.name), id=p.name) for p in sorted(REAL_POOLS.glob("*.csv"))]
    names = sorted(p.name for p in JWST_DATA.glob("pool_*.csv")) + [
        "jw87800_20180412T163456_pool.csv"
    ]
    for name in names:
        marks = []
        if name not in FAST_POOLS:
            marks = [
                pytest.mark.slow,
                pytest.mark.skipif(not RUN_SLOW, reason="slow pool (WEBBCAL_RUN_SLOW=1)"),
            ]
        params.append(pytest.param(("jwst", name), id=name, marks=marks))
    return params


@pytest.fixture(scope="module")
def pool_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("pools")


def _pool_file(source: str, name: str, folder: Path) -> Path:
    """The pool as a file: real pools as they are, jwst templates expanded by jwst."""
    if source == "real":
        return REAL_POOLS / name
    path = folder / name
    if not path.exists():
        from jwst.associations.tests.helpers import combine_pools

        combine_pools(str(JWST_DATA / name)).write(
            str(path), format="ascii", delimiter="|", overwrite=True
        )
    return path


@functools.cache
def _jwst_associations(path: str, options: tuple[str, ...] = ()) -> list:
    """(file name, JSON tree) of each association the official generator makes."""
    from jwst.associations.main import Main

    main = Main(["--dry-run", path, *options])
    main.generate()
    out = []
    for asn in main.associations:
        fname, serialized = asn.dump(format="json")
        out.append((fname, json.loads(serialized)))
    return out


def _ours(path, **kwargs):
    return [(a.asn_name() + ".json", a.to_dict()) for a in generate(read_pool(path), **kwargs)]


def _key(tree):
    rule = tree["asn_rule"].split("_", 1)[1]
    products = tuple(p["name"] for p in tree["products"])
    members = tuple(
        sorted((m["expname"], m["exptype"]) for p in tree["products"] for m in p["members"])
    )
    return rule, products, members


def _fields(fname, tree):
    return {
        "file": fname,
        "asn_type": tree["asn_type"],
        "asn_id": tree["asn_id"],
        "target": str(tree["target"]),
        "program": tree["program"],
        "asn_pool": tree["asn_pool"],
    }


def _compare(ours, theirs):
    mine = {_key(t): _fields(f, t) for f, t in ours}
    ref = {_key(t): _fields(f, t) for f, t in theirs}
    assert len(ours) == len(theirs)
    assert sorted(set(ref) - set(mine)) == []
    assert sorted(set(mine) - set(ref)) == []
    for key, fields in ref.items():
        assert mine[key] == fields, key
    # same order of associations (it decides sequence numbers)
    assert [f for f, _ in ours] == [f for f, _ in theirs]


@pytest.mark.parametrize("pool", _pool_params())
def test_default_generation_matches_jwst(pool, pool_dir):
    path = _pool_file(*pool, pool_dir)
    theirs = _jwst_associations(str(path))
    ours = _ours(path, discover=True, all_candidates=True)
    _compare(ours, theirs)


JW09505 = REAL_POOLS / "jw09505_20251216t202003_pool.csv"


@pytest.mark.parametrize(
    ("options", "kwargs"),
    [
        (("--all-candidates",), {"all_candidates": True, "discover": False}),
        (("--discover",), {"all_candidates": False, "discover": True}),
        (("-i", "o001"), {"candidate_ids": ["o001"], "all_candidates": False}),
        (("-i", "o001", "--DMS"), {"candidate_ids": ["o001"], "dms": True}),
        (("--merge",), {"discover": True, "merge": True}),
        (("--version-id", "test01"), {"discover": True, "version_id": "test01"}),
    ],
    ids=["all-candidates", "discover", "ids", "ids-dms", "merge", "version-id"],
)
def test_options_match_jwst(options, kwargs):
    theirs = _jwst_associations(str(JW09505), options)
    assert theirs
    ours = _ours(JW09505, **kwargs)
    _compare(ours, theirs)


def test_all_default_rules_are_implemented():
    from jwst.associations import AssociationRegistry

    registry = AssociationRegistry()
    theirs = sorted(name for name in registry)
    assert sorted(DEFAULT_RULES) == theirs
    # tried in the same order
    assert list(DEFAULT_RULES) == list(registry)


def test_pool_without_candidates_fails_like_jwst(tmp_path):
    path = JWST_DATA / "jw93060_20150312T160130_pool.csv"
    with pytest.raises(KeyError):
        _jwst_associations(str(path))
    with pytest.raises(PoolError, match=r"lacks required column\(s\) ASN_CANDIDATE"):
        read_pool(path)


@pytest.mark.parametrize(
    ("options", "kwargs"),
    [
        (("-i", "c1000", "c1001", "--DMS"), {"candidate_ids": ["c1000", "c1001"], "dms": True}),
        (("--merge",), {"discover": True, "merge": True}),
    ],
    ids=["candidates-dms", "merge"],
)
def test_candidate_options_match_jwst(options, kwargs, pool_dir):
    """Background candidates (c1000...) of a NIRSpec pool, selected or merged."""
    path = _pool_file("jwst", "pool_010_spec_nirspec_lv2bkg.csv", pool_dir)
    theirs = _jwst_associations(str(path), options)
    assert theirs
    _compare(_ours(path, **kwargs), theirs)
