"""calwebb_tso3 and calwebb_spec2 with ``steps.pixel_replace.skip=False`` on a simulated
MIRI LRS slitless series with cosmic-ray-like outliers: white-light scatter with and without
replacement, products, and parity with jwst 3.0.0 ``Tso3Pipeline`` / ``Spec2Pipeline``."""

from __future__ import annotations

import os

import numpy as np
import pytest
from _pixrep import FLUX_ESTIMATED, OUTLIER, calints_of, official_call

from _lrs_cases import make_case
from webbcal.associations.asn import write_association
from webbcal.associations.from_list import asn_from_list
from webbcal.dqflags import DO_NOT_USE
from webbcal.pipeline.tso3 import Tso3Pipeline
from webbcal.white_light.step import white_light_table

NINTS = 16
_PRODUCT = "jw01234-o001_t001_miri_p750l-slitlessprism"


@pytest.fixture(scope="module")
def series(tmp_path_factory, siaf_dir):
    """A flat light curve (noise 0.5 DN/s) whose calints get 0-5 outliers per integration
    on the trace: (case, association path, member calints path)."""
    from stdatamodels.jwst import datamodels as dm

    root = tmp_path_factory.mktemp("pixrep_tso3")
    case = make_case(root, siaf_dir, nints=NINTS, noise=0.5, light_curve=np.ones(NINTS),
                     seed=8)  # fmt: skip
    calints = calints_of(case, root / "cal")
    rng = np.random.default_rng(4)
    member = root / "asn" / calints.name
    member.parent.mkdir()
    with dm.open(calints) as model:
        for i in range(NINTS):
            for _ in range(rng.integers(0, 6)):
                y, x = rng.integers(30, 380), rng.integers(36, 41)
                model.data[i, y, x] += 30 * model.err[i, y, x] + 0.3 * model.data[i, y, x]
        model.save(member)
    asn = asn_from_list([member.name], product_name=_PRODUCT, acid="o001")
    return case, write_association(asn, member.parent / "tso3_asn.json"), member


def _steps(case, official=False, **pixel_replace):
    ext = case.official_overrides("extract_1d") if official else case.overrides("extract_1d")
    return {"extract_1d": ext, "pixel_replace": pixel_replace}


def _scatter(flux):
    return np.std(flux, ddof=1) / np.mean(flux)


@pytest.fixture(scope="module")
def runs(series):
    """Our tso3 x1dints without and with each replacement algorithm."""
    case, asn, _ = series
    return {
        label: Tso3Pipeline.call(os.fspath(asn), steps=_steps(case, **kw))
        for label, kw in (("off", {}), ("mingrad", {"skip": False}),
                          ("fit_profile", {"skip": False, "algorithm": "fit_profile"}))
    }  # fmt: skip


def test_white_light_scatter(runs):
    """Outlier detection leaves NaN holes in the trace, which lower some integrations'
    white light; replaced pixels fill them: the relative scatter of a flat light curve
    drops from ~1.5e-3 to the noise level (~6e-8)."""
    scatter = {k: _scatter(white_light_table(x1d)["whitelight_flux"].value)
               for k, x1d in runs.items()}  # fmt: skip
    assert scatter["off"] > 5e-4, scatter
    for algorithm in ("mingrad", "fit_profile"):
        assert scatter[algorithm] < 1e-6 and scatter[algorithm] < scatter["off"] / 1000, scatter
        assert runs[algorithm].meta.cal_step.pixel_replace == "COMPLETE"
    assert runs["off"].meta.cal_step.pixel_replace == "SKIPPED"


def test_products(series, tmp_path):
    """With the step's save_results: ``<member>_<asn_id>_pixel_replace.fits`` (official
    name), pixels flagged OUTLIER now FLUX_ESTIMATED; without, no such product."""
    from stdatamodels.jwst import datamodels as dm

    case, asn, member = series
    root = member.name.replace("_calints.fits", "")
    for save, out in ((True, tmp_path / "a"), (False, tmp_path / "b")):
        Tso3Pipeline.call(os.fspath(asn), steps=_steps(case, skip=False, save_results=save),
                          save_results=True, output_dir=os.fspath(out))  # fmt: skip
        want = [f"{root}_o001_crfints.fits", f"{_PRODUCT}_whtlt.ecsv", f"{_PRODUCT}_x1dints.fits"]
        if save:
            want.append(f"{root}_o001_pixel_replace.fits")
        assert sorted(p.name for p in out.iterdir()) == sorted(want)
    with dm.open(tmp_path / "a" / f"{root}_o001_pixel_replace.fits") as model:
        flagged = (model.dq & OUTLIER) != 0
        assert flagged.sum() > 10 and np.all(model.dq[flagged] & FLUX_ESTIMATED)
        assert np.all(np.isfinite(model.data[flagged]))
        assert model.meta.cal_step.pixel_replace == "COMPLETE"


@pytest.mark.jwst_oracle
@pytest.mark.parametrize("algorithm", ["mingrad", "fit_profile"])
def test_tso3_parity_with_jwst(series, runs, algorithm, tmp_path):
    pytest.importorskip("jwst")
    from jwst.pipeline import Tso3Pipeline as Official
    from stdatamodels.jwst import datamodels as dm

    case, asn, _ = series
    offline = type("OfflineTso3", (Official,), {"prefetch_references": False})
    steps = _steps(case, official=True, skip=False, algorithm=algorithm)
    official_call(offline, os.fspath(asn), steps=steps, save_results=True,
                  output_dir=os.fspath(tmp_path))  # fmt: skip
    mine = runs[algorithm]
    with dm.open(tmp_path / f"{_PRODUCT}_x1dints.fits") as theirs:
        assert theirs.meta.cal_step.pixel_replace == "COMPLETE"
        a, b = mine.spec[0].spec_table["FLUX"], theirs.spec[0].spec_table["FLUX"]
        np.testing.assert_allclose(a, b, rtol=1e-5)
    from astropy.table import QTable

    flux = QTable.read(tmp_path / f"{_PRODUCT}_whtlt.ecsv", format="ascii.ecsv")
    ours = white_light_table(mine)["whitelight_flux"].value
    np.testing.assert_allclose(ours, flux["whitelight_flux"].value, rtol=1e-6)


@pytest.mark.jwst_oracle
def test_spec2_parity_with_jwst(series, tmp_path):
    """calwebb_spec2 with pixel_replace (mingrad) on a rateints with bad pixels (NaN,
    DO_NOT_USE) in the trace: the calints keeps them, the x1dints is extracted from the
    replaced copy, as officially."""
    pytest.importorskip("jwst")
    from jwst.pipeline import Spec2Pipeline as Official
    from stdatamodels.jwst import datamodels as dm

    from webbcal.pipeline.spec2 import Spec2Pipeline

    case, _, _ = series
    rateints = tmp_path / case.rateints.name
    rng = np.random.default_rng(9)
    with dm.open(case.rateints) as model:
        k, y, x = rng.integers(0, NINTS, 60), rng.integers(30, 380, 60), rng.integers(36, 41, 60)
        model.data[k, y, x] = np.nan
        model.dq[k, y, x] |= np.uint32(DO_NOT_USE)
        model.save(rateints)
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    steps = {**case.pipeline_steps(), "pixel_replace": {"skip": False}}
    with Spec2Pipeline.call(os.fspath(rateints), steps=steps, save_results=True,
                            output_dir=os.fspath(ours)) as cal:  # fmt: skip
        assert np.all(np.isnan(cal.data[k, y, x])) and not np.any(cal.dq & FLUX_ESTIMATED)
    steps = {**case.pipeline_steps(official=True), "pixel_replace": {"skip": False}}
    offline = type("OfflineSpec2", (Official,), {"prefetch_references": False})
    official_call(offline, os.fspath(rateints), steps=steps, save_results=True,
                  output_dir=os.fspath(theirs))  # fmt: skip
    (x1d_ours,) = ours.glob("*_x1dints.fits")
    with dm.open(x1d_ours) as a, dm.open(theirs / x1d_ours.name) as b:
        assert a.meta.cal_step.pixel_replace == b.meta.cal_step.pixel_replace == "COMPLETE"
        fa, fb = a.spec[0].spec_table["FLUX"], b.spec[0].spec_table["FLUX"]
        assert np.all(np.isfinite(fa[:, 30:380]))
        np.testing.assert_allclose(fa, fb, rtol=1e-5)
