"""calwebb_image2 end to end: rate -> cal + i2d, rateints -> calints, level-2 associations
with background members; against jwst's Image2Pipeline on identical inputs and references."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest

from _shared_paths import REAL
from _stage2_inputs import _parity_module
from webbcal.associations import write_association
from webbcal.associations.asn import Association, Member, Product
from webbcal.pipeline.image2 import Image2Pipeline

SIAF_DIR = REAL / "pysiaf-siafxml"


@pytest.fixture(autouse=True)
def _no_crds_steppars(monkeypatch):
    monkeypatch.setenv("WEBBCAL_DISABLE_CRDS_STEPPARS", "1")


def _exposure(folder: Path, *, name: str, sky: float, seed: int, nints: int = 0, stars=()):
    from webbcal.simulate.imaging import imaging_setup, simulate_imaging_rate

    setup = imaging_setup("NRCA1_SUB160", SIAF_DIR)
    sim = simulate_imaging_rate(setup, sky=sky, noise=0.05, seed=seed, nints=nints, stars=stars)
    sim.model.meta.filename = name
    return sim, sim.save(folder)


@pytest.fixture
def case(tmp_path):
    """A NIRCam SUB160 rate with two stars, and its distortion, flat, photom, area refs."""
    from webbcal.simulate.imaging import SkyStar
    from webbcal.simulate.references_stage2 import write_area, write_flat, write_photom

    if not (SIAF_DIR / "NIRCam_SIAF.xml").is_file():
        pytest.skip("shared SIAF XML not found")
    stars = (SkyStar(150.1, 2.2, 500.0), SkyStar(150.1004, 2.2003, 200.0))
    sim, rate = _exposure(tmp_path / "data", name="jw01234001001_01101_00001_nrca1_rate.fits",
                          sky=2.0, seed=1, stars=stars)  # fmt: skip
    refs = {k: str(v) for k, v in sim.write_references(tmp_path / "refs").items()}
    refs["flat"] = str(write_flat(tmp_path / "refs/flat.fits", instrument="NIRCAM",
                                  detector="NRCA1", filter=sim.setup.filter,
                                  pupil=sim.setup.pupil))  # fmt: skip
    refs["photom"] = str(write_photom(tmp_path / "refs/photom.fits", instrument="NIRCAM",
                                      detector="NRCA1"))  # fmt: skip
    refs["area"] = str(write_area(tmp_path / "refs/area.fits", instrument="NIRCAM",
                                  detector="NRCA1"))  # fmt: skip
    refs.setdefault("filteroffset", "N/A")
    return tmp_path, sim, rate, refs


def _steps(refs: dict) -> dict:
    return {
        "assign_wcs": {"override_distortion": refs["distortion"],
                       "override_filteroffset": refs["filteroffset"]},
        "flat_field": {"override_flat": refs["flat"]},
        "photom": {"override_photom": refs["photom"], "override_area": refs["area"]},
    }  # fmt: skip


def test_rate_to_cal_and_i2d(case):
    folder, sim, rate, refs = case
    out = folder / "out"
    cal = Image2Pipeline.call(str(rate), steps=_steps(refs), save_results=True,
                              output_dir=str(out))  # fmt: skip
    assert sorted(os.listdir(out)) == [
        "jw01234001001_01101_00001_nrca1_cal.fits",
        "jw01234001001_01101_00001_nrca1_i2d.fits",
    ]
    status = cal.meta.cal_step
    assert (status.assign_wcs, status.flat_field, status.photom) == ("COMPLETE",) * 3
    assert cal.meta.bunit_data == "MJy/sr"
    assert cal.meta.ref_file.photom.name == refs["photom"]
    assert cal.meta.wcs is not None and cal.meta.wcsinfo.s_region.startswith("POLYGON ICRS")
    from stdatamodels.jwst import datamodels as dm

    with dm.open(str(out / "jw01234001001_01101_00001_nrca1_i2d.fits")) as i2d:
        assert i2d.meta.cal_step.resample == "COMPLETE"
        assert np.nanmedian(i2d.data) == pytest.approx(np.nanmedian(cal.data), rel=0.02)


def test_rateints_give_calints_without_resampling(case):
    folder, sim, rate, refs = case
    sim3, rate3 = _exposure(folder / "ints", name="jw01234001001_01101_00002_nrca1_rateints.fits",
                            sky=2.0, seed=2, nints=2)  # fmt: skip
    out = folder / "out3"
    cal = Image2Pipeline.call(str(rate3), steps=_steps(refs), save_results=True,
                              output_dir=str(out))  # fmt: skip
    assert cal.data.ndim == 3
    assert os.listdir(out) == ["jw01234001001_01101_00002_nrca1_calints.fits"]


def test_level2_association_with_background(case):
    folder, sim, rate, refs = case
    bkgs = [
        _exposure(
            folder / "data", name=f"jw01234001001_01101_0000{e}_nrca1_rate.fits", sky=1.5, seed=e
        )[1]  # fmt: skip
        for e in (3, 4)
    ]
    product = "jw01234001001_01101_00001_nrca1"
    asn = Association(
        products=[Product(product, [Member(rate.name, "science"),
                                    *[Member(b.name, "background") for b in bkgs]])],
        asn_type="image2", asn_rule="candidate_Asn_Lv2Image", asn_id="c1000",
        asn_pool="jw01234_pool",
    )  # fmt: skip
    path = write_association(asn, folder / "data" / "jw01234-c1000_image2_00001_asn.json")
    out = folder / "out_asn"
    steps = _steps(refs)
    steps["bkg_subtract"] = {"save_results": True}
    results = Image2Pipeline.call(str(path), steps=steps, save_results=True,
                                  output_dir=str(out))  # fmt: skip
    assert isinstance(results, tuple) and len(results) == 1
    assert sorted(os.listdir(out)) == [f"{product}_{s}.fits" for s in ("bsub", "cal", "i2d")]
    cal = results[0]
    assert cal.meta.cal_step.bkg_subtract == "COMPLETE"
    assert cal.meta.asn.pool_name == "jw01234_pool"
    no_bkg = Image2Pipeline.call(str(rate), steps=_steps(refs))
    # The backgrounds (sky 1.5 DN/s) were subtracted from a sky of 2 DN/s.
    ratio = np.nanmedian(cal.data) / np.nanmedian(no_bkg.data)
    assert ratio == pytest.approx(0.25, abs=0.05)


@pytest.mark.jwst_oracle
def test_matches_the_official_pipeline(case):
    pytest.importorskip("jwst")
    from jwst.pipeline import Image2Pipeline as Official
    from stdatamodels.jwst import datamodels as dm

    folder, sim, rate, refs = case
    ours_dir, theirs_dir = folder / "w", folder / "j"
    Image2Pipeline.call(str(rate), steps=_steps(refs), save_results=True,
                        output_dir=str(ours_dir))  # fmt: skip
    helpers = _parity_module()
    with tempfile.TemporaryDirectory(prefix="webbcal_oracle_") as root:
        with helpers.offline_environment(Path(root)):
            # Every reference is given: no CRDS prefetch (offline).
            official = type("OfflineImage2", (Official,), {"prefetch_references": False})
            steps = {
                alias: {f"override_{r}": "N/A" for r in cls.reference_file_types}
                for alias, cls in Official.step_defs.items()
            }
            for alias, values in _steps(refs).items():
                steps[alias].update(values)
            official.call(str(rate), steps=steps, save_results=True,
                          output_dir=str(theirs_dir))  # fmt: skip
    name = "jw01234001001_01101_00001_nrca1"
    with dm.open(str(ours_dir / f"{name}_cal.fits")) as a, \
            dm.open(str(theirs_dir / f"{name}_cal.fits")) as b:  # fmt: skip
        for arr in ("data", "err", "var_poisson", "var_rnoise", "var_flat"):
            np.testing.assert_allclose(getattr(a, arr), getattr(b, arr), rtol=1e-5, atol=1e-9,
                                       err_msg=arr)  # fmt: skip
        assert np.array_equal(a.dq, b.dq)
        assert a.meta.wcsinfo.s_region == b.meta.wcsinfo.s_region
    with dm.open(str(ours_dir / f"{name}_i2d.fits")) as a, \
            dm.open(str(theirs_dir / f"{name}_i2d.fits")) as b:  # fmt: skip
        assert a.data.shape == b.data.shape
        good = np.isfinite(a.data) & np.isfinite(b.data) & (b.data != 0)
        rel = np.abs(a.data[good] - b.data[good]) / np.abs(b.data[good])
        assert np.median(rel) < 1e-4


def test_batch_runs_image2_like_run(case):
    distributed = pytest.importorskip("distributed")
    from stdatamodels.jwst import datamodels as dm

    from webbcal.batch import run_batch

    folder, sim, rate, refs = case
    single = Image2Pipeline.call(str(rate), steps=_steps(refs))
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as client:  # fmt: skip
        result = run_batch([str(rate)], output_dir=folder / "batch", pipeline="calwebb_image2",
                           steps=_steps(refs), use_crds_pars=False, client=client)  # fmt: skip
    assert result.ok
    names = sorted(n for n in os.listdir(folder / "batch") if n.endswith(".fits"))
    assert names == ["jw01234001001_01101_00001_nrca1_cal.fits",
                     "jw01234001001_01101_00001_nrca1_i2d.fits"]  # fmt: skip
    with dm.open(str(folder / "batch" / names[0])) as cal:
        assert np.array_equal(cal.data, single.data, equal_nan=True)


def test_bad_associations_write_nothing(case):
    from webbcal.associations import AssociationError
    from webbcal.datamodels.io import InputError

    folder, sim, rate, refs = case
    before = rate.read_bytes()
    product = "jw01234001001_01101_00001_nrca1"
    missing = Association(
        products=[Product(product, [Member(rate.name, "science"),
                                    Member("jw_gone_rate.fits", "background")])],
        asn_type="image2", asn_id="c1000",
    )  # fmt: skip
    path = write_association(missing, folder / "data" / "missing_asn.json")
    out = folder / "bad_out"
    with pytest.raises(AssociationError, match=r"1 member\(s\) not found.*jw_gone_rate.fits"):
        Image2Pipeline.call(str(path), steps=_steps(refs), save_results=True, output_dir=str(out))
    # A background exposure through another filter.
    from webbcal.simulate.imaging import imaging_setup, simulate_imaging_rate

    other = simulate_imaging_rate(imaging_setup("NRCA1_SUB160", SIAF_DIR, filter="F150W"),
                                  sky=1.0, seed=9)  # fmt: skip
    other.model.meta.filename = "jw01234001001_01101_00009_nrca1_rate.fits"
    other_path = other.save(folder / "data")
    mixed = Association(
        products=[Product(product, [Member(rate.name, "science"),
                                    Member(other_path.name, "background")])],
        asn_type="image2", asn_id="c1000",
    )  # fmt: skip
    path = write_association(mixed, folder / "data" / "mixed_asn.json")
    with pytest.raises(InputError, match=r"_00009_nrca1_rate.fits: background FILTER='F150W'"):
        Image2Pipeline.call(str(path), steps=_steps(refs), save_results=True, output_dir=str(out))
    assert not out.exists() or os.listdir(out) == []
    assert rate.read_bytes() == before
