"""ModelLibrary: lazy members, borrow/shelve discipline, exposure groups, on-disk memory bound."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from _rate_files import make_rate, rate_name
from webbcal.associations import AssociationError, write_association
from webbcal.associations.from_list import asn_from_list
from webbcal.datamodels import BorrowError, ModelLibrary
from webbcal.datamodels.library import ClosedLibraryError, group_id


@pytest.fixture
def four_members(tmp_path):
    """Exposures 1 and 2, each on NRCA1 and NRCA2, plus a background exposure 3."""
    items = []
    for exp in (1, 2):
        for det in ("NRCA1", "NRCA2"):
            name = rate_name(exp, det)
            make_rate(tmp_path / name, exposure=exp, detector=det, level=10.0 * exp)
            items.append(name)
    bkg = rate_name(3)
    make_rate(tmp_path / bkg, exposure=3, level=0.5)
    asn = asn_from_list([*items, (bkg, "background")], product_name="p", acid="c1000")
    return write_association(asn, tmp_path / "jw01234-c1000_image3_00001_asn.json")


def test_group_ids_join_the_detectors_of_one_exposure(four_members):
    lib = ModelLibrary(four_members)
    assert len(lib) == 5
    # Read from the headers without opening the models.
    assert lib.group_indices == {
        "jw01234001001_01101_00001": [0, 1],
        "jw01234001001_01101_00002": [2, 3],
        "jw01234001001_01101_00003": [4],
    }
    assert lib.indices("background") == [4]
    with lib:
        model = lib.borrow(3)
        assert model.meta.group_id == "jw01234001001_01101_00002"
        assert model.meta.asn.exptype == "science"
        assert model.meta.asn.table_name == "jw01234-c1000_image3_00001_asn.json"
        lib.shelve(model, 3, modify=False)


def test_group_id_rule():
    obs = dict(program_number="01234", observation_number="002", visit_number="003",
               visit_group="04", sequence_id="2", activity_id="05",
               exposure_number="00006")  # fmt: skip
    assert group_id(obs) == "jw01234002003_04205_00006"
    with pytest.raises(AssociationError, match="missing keyword.*VISITGRP"):
        group_id({**obs, "visit_group": None}, source="x.fits")


def test_role_and_count_selection(four_members):
    assert len(ModelLibrary(four_members, asn_exptypes="science")) == 4
    assert len(ModelLibrary(four_members, asn_exptypes=["background"])) == 1
    assert len(ModelLibrary(four_members, asn_n_members=2)) == 2
    with pytest.raises(AssociationError, match="no member left"):
        ModelLibrary(four_members, asn_exptypes="psf")


def test_borrowing_rules(four_members):
    lib = ModelLibrary(four_members)
    with pytest.raises(ClosedLibraryError):
        lib.borrow(0)
    with pytest.raises(TypeError, match="borrowed, not indexed"):
        lib[0]
    with lib:
        model = lib.borrow(0)
        with pytest.raises(BorrowError, match="already lent"):
            lib.borrow(0)
        with pytest.raises(BorrowError, match="was not borrowed"):
            lib.shelve(model, 1)
        lib.shelve(model)
        with pytest.raises(IndexError):
            lib.borrow(5)
    with pytest.raises(
        BorrowError, match=r"1 model\(s\) were not shelved: jw01234001001_01101_00001"
    ):
        with lib:
            lib.borrow(1)


@pytest.mark.parametrize("on_disk", [False, True])
def test_shelved_changes_persist_and_inputs_stay_untouched(four_members, tmp_path, on_disk):
    before = (tmp_path / rate_name(1)).read_bytes()
    lib = ModelLibrary(four_members, on_disk=on_disk)
    with lib:
        for index, model in enumerate(lib):
            model.data = model.data + 100.0
            lib.shelve(model, index, modify=index != 1)
    with lib:
        levels = []
        for index, model in enumerate(lib):
            levels.append(float(np.median(model.data)))
            lib.shelve(model, index, modify=False)
    # Member 1 was shelved unmodified: on disk its change is dropped; in memory the
    # borrowed object itself was changed (the official behaviour).
    expected1 = 10.0 + (100.0 if not on_disk else 0.0)
    assert levels == pytest.approx([110.0, expected1, 120.0, 120.0, 100.5], abs=0.3)
    assert (tmp_path / rate_name(1)).read_bytes() == before
    lib.close()


def test_missing_member_named_relative_to_the_association(four_members, tmp_path):
    (tmp_path / rate_name(2, "NRCA2")).unlink()
    with pytest.raises(AssociationError, match=r"1 member\(s\) not found.*_00002_nrca2_rate.fits"):
        ModelLibrary(four_members)


def test_library_from_models_and_files(tmp_path):
    from stdatamodels.jwst import datamodels as dm

    path = make_rate(tmp_path / rate_name(1), exposure=1)
    lib = ModelLibrary([path, dm.open(path)])
    assert len(lib) == 2 and lib.group_names == ["jw01234001001_01101_00001"]
    with pytest.raises(TypeError, match="already a library"):
        ModelLibrary(lib)


def _peak_rss(folder, n: int, mode: str) -> int:
    script = os.path.join(os.path.dirname(__file__), "_library_memory.py")
    out = subprocess.run(
        [sys.executable, script, str(folder), str(n), mode],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return int(out.stdout.split()[-1])


def test_on_disk_memory_does_not_grow_with_members(tmp_path):
    shape = (512, 512)
    member_bytes = shape[0] * shape[1] * (4 * 4 + 4)  # SCI, ERR, 2 VAR (float32), DQ (uint32)
    for exp in range(1, 21):
        make_rate(tmp_path / rate_name(exp), exposure=exp, shape=shape, seed=exp)
    # Peak RSS of fresh processes over 5 and 20 members: in memory it grows by the 15
    # extra members (which shows the measurement sees them); on disk it does not.
    grow_in_memory = _peak_rss(tmp_path, 20, "in_memory") - _peak_rss(tmp_path, 5, "in_memory")
    grow_on_disk = _peak_rss(tmp_path, 20, "on_disk") - _peak_rss(tmp_path, 5, "on_disk")
    # Measured (bytes above the memory before the run): in memory +86 MB, on disk
    # +3.9 MB (asdf's schema cache grows by about 0.3 MB per file opened).
    assert grow_in_memory > 12 * member_bytes
    assert grow_on_disk < 2 * member_bytes
