"""white_light on MIRI LRS slitless x1dints: injected transit, wavelength range, jwst parity."""

from __future__ import annotations

import os

import numpy as np
import pytest

from webbcal.datamodels.io import InputError
from webbcal.pipeline.spec2 import Spec2Pipeline
from webbcal.stpipe.registry import get_step_class
from webbcal.white_light import WhiteLightStep

_ROOT = "jw01234001001_01101_00001_mirimage"


def _x1dints(case, out):
    from stdatamodels.jwst import datamodels as dm

    Spec2Pipeline.call(os.fspath(case.rateints), steps=case.pipeline_steps(),
                       save_results=True, output_dir=os.fspath(out))  # fmt: skip
    return dm.open(out / f"{_ROOT}_x1dints.fits")


@pytest.fixture(scope="module")
def transit(lrs_transit, tmp_path_factory):
    """The 20-integration transit series through calwebb_spec2: (case, curve, x1dints)."""
    case, curve = lrs_transit
    return case, curve, _x1dints(case, tmp_path_factory.mktemp("whtlt"))


def test_transit_depth_recovered(transit, tmp_path):
    case, curve, x1d = transit
    assert get_step_class("white_light") is WhiteLightStep
    table = WhiteLightStep.call(x1d, save_results=True, output_dir=os.fspath(tmp_path))
    assert table.colnames == ["MJD_UTC", "BJD_TDB", "whitelight_flux"]
    assert len(table) == 20 and str(table["whitelight_flux"].unit) == "Jy"
    times = x1d.spec[0].spec_table
    np.testing.assert_array_equal(table["MJD_UTC"], times["MJD-AVG"])
    np.testing.assert_array_equal(table["BJD_TDB"], times["TDB-MID"])
    assert table.meta["instrument"] == "MIRI" and table.meta["exp_type"] == "MIR_LRS-SLITLESS"
    flux = table["whitelight_flux"].value
    inside, outside = flux[curve < 1], flux[curve == 1]
    depth = 1 - inside.mean() / outside.mean()
    sigma = np.hypot(inside.std(ddof=1) / np.sqrt(inside.size),
                     outside.std(ddof=1) / np.sqrt(outside.size)) / outside.mean()  # fmt: skip
    assert 0 < sigma < 2e-3
    assert abs(depth - 0.01) < 3 * sigma, (depth, sigma)
    # the noise-free truth: the summed true flux density per integration, same ratio
    true = case.sim.flux.sum(axis=1)
    assert abs(1 - true[curve < 1].mean() / true[curve == 1].mean() - 0.01) < 1e-12
    saved = tmp_path / f"{_ROOT}_whtlt.ecsv"
    from astropy.table import QTable

    back = QTable.read(saved, format="ascii.ecsv")
    np.testing.assert_array_equal(back["whitelight_flux"].value, flux)


def test_wavelength_range(transit):
    _, _, x1d = transit
    table = WhiteLightStep.call(x1d, min_wavelength=7.0, max_wavelength=9.5)
    wave = x1d.spec[0].spec_table["WAVELENGTH"]
    flux = x1d.spec[0].spec_table["FLUX"]
    inside = (wave >= 7.0) & (wave <= 9.5)
    assert 0 < inside.sum() < wave.size
    expected = np.nansum(np.where(inside, flux, 0.0), axis=1)
    np.testing.assert_allclose(table["whitelight_flux"].value, expected, rtol=1e-12)
    whole = WhiteLightStep.call(x1d)["whitelight_flux"].value
    assert np.all(table["whitelight_flux"].value < whole)


def test_bad_input(transit):
    from stdatamodels.jwst import datamodels as dm

    with pytest.raises(InputError, match="no spectra"):
        WhiteLightStep.call(dm.TSOMultiSpecModel())


@pytest.mark.jwst_oracle
@pytest.mark.parametrize("limits", [{}, {"min_wavelength": 6.5, "max_wavelength": 10.0}])
def test_parity_with_jwst(transit, limits):
    pytest.importorskip("jwst")
    from _lrs_oracle import official_call
    from jwst.white_light import WhiteLightStep as Official

    _, _, x1d = transit
    ours = WhiteLightStep.call(x1d, **limits)
    theirs = official_call(Official, x1d, **limits)
    assert ours.colnames == theirs.colnames
    assert dict(ours.meta) == dict(theirs.meta)
    for name in ours.colnames:
        a, b = (
            np.asarray(ours[name].value if hasattr(ours[name], "value") else ours[name]),
            np.asarray(theirs[name].value if hasattr(theirs[name], "value") else theirs[name]),
        )
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=0)
    assert ours["whitelight_flux"].unit == theirs["whitelight_flux"].unit


@pytest.mark.jwst_oracle
def test_real_ground_test_crfints_parity(lrs_case):
    """The real MIRI LRS slitless crfints (2019 ground test, 10 integrations): our
    extract_1d + white_light against jwst's on the same file and parameters."""
    pytest.importorskip("jwst")
    from _shared_paths import REAL

    real = REAL / "jwst-wheel" / "miri_ground_test"
    real = real / "jw00623026001_03106_00005_mirimage_a3001_crfints.fits"
    if not real.is_file():
        pytest.skip(f"real data not found: {real}")
    from _lrs_oracle import official_call
    from jwst.extract_1d import Extract1dStep as OfficialExtract
    from jwst.white_light import WhiteLightStep as Official
    from stdatamodels.jwst import datamodels as dm

    from webbcal.extract_1d import Extract1dStep

    with dm.open(real) as model:
        x1d = Extract1dStep.call(model, **lrs_case.overrides("extract_1d"))
        their_x1d = official_call(OfficialExtract, model,
                                  **lrs_case.official_overrides("extract_1d"))  # fmt: skip
    # its INT_TIMES has 3 rows for 10 integrations: no times in either x1dints (both
    # white-light tables would be empty); give both the same times
    for product in (x1d, their_x1d):
        table = product.spec[0].spec_table
        table["MJD-AVG"] = 58627.488 + 1e-4 * np.arange(10)
        table["TDB-MID"] = 58627.489 + 1e-4 * np.arange(10)
    ours = WhiteLightStep.call(x1d, min_wavelength=5.0, max_wavelength=12.0)
    theirs = official_call(Official, their_x1d, min_wavelength=5.0, max_wavelength=12.0)
    assert ours.colnames == theirs.colnames and len(ours) == len(theirs) == 10
    assert np.all(np.isfinite(ours["whitelight_flux"].value))
    for name in ours.colnames:
        a = getattr(ours[name], "value", ours[name])
        b = getattr(theirs[name], "value", theirs[name])
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=0)
