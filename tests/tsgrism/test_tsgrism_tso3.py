"""calwebb_tso3 on a simulated NIRCam grism transit: spec2 -> tso3, products, white-light
depth against the truth, jwst 3.0.0 parity (crfints, x1dints, whtlt)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from webbcal.associations.asn import write_association
from webbcal.associations.from_list import asn_from_list
from webbcal.pipeline.spec2 import Spec2Pipeline
from webbcal.pipeline.tso3 import Tso3Pipeline

_EXPO = "jw01366002001_04103_00001-seg001_nrcalong"
_PRODUCT = "jw01366-o002_t001_nircam_f444w-grismr-subgrism64"
_NINTS = 16


@pytest.fixture(scope="module")
def series(tsgrism_inputs, tmp_path_factory):
    """A 16-integration transit (1 % deep in integrations 5..10), its calints and a
    one-member association."""
    from _tsgrism_cases import _make

    curve = np.ones(_NINTS)
    curve[5:11] = 0.99
    root = tmp_path_factory.mktemp("tsgrism_tso3")
    case = _make(root / "sim", tsgrism_inputs, nints=_NINTS, noise=0.05, light_curve=curve,
                 seed=11)  # fmt: skip
    Spec2Pipeline.call(os.fspath(case.rateints), steps=case.pipeline_steps(),
                       save_results=True, output_dir=os.fspath(root))  # fmt: skip
    calints = root / f"{_EXPO}_calints.fits"
    asn = asn_from_list([calints.name], product_name=_PRODUCT, acid="o002")
    return case, curve, calints, write_association(asn, root / "tso3_asn.json")


@pytest.fixture(scope="module")
def ours(series, tmp_path_factory):
    case, _, _, asn = series
    out = tmp_path_factory.mktemp("tsgrism_tso3_ours")
    x1d = Tso3Pipeline.call(os.fspath(asn), steps={"extract_1d": case.overrides("extract_1d")},
                            save_results=True, output_dir=os.fspath(out))  # fmt: skip
    return x1d, out


def test_products_and_depth(ours, series):
    from astropy.table import QTable
    from stdatamodels.jwst import datamodels as dm

    _, curve, _, _ = series
    x1d, out = ours
    assert sorted(os.listdir(out)) == sorted([f"{_EXPO}_o002_crfints.fits",
                                              f"{_PRODUCT}_x1dints.fits",
                                              f"{_PRODUCT}_whtlt.ecsv"])  # fmt: skip
    with dm.open(out / f"{_EXPO}_o002_crfints.fits") as crf:
        assert isinstance(crf, dm.SlitModel) and crf.meta.cal_step.outlier_detection == "COMPLETE"
    assert x1d.spec[0].spec_table["FLUX"].shape == (_NINTS, 2048)
    table = QTable.read(out / f"{_PRODUCT}_whtlt.ecsv", format="ascii.ecsv")
    assert table.colnames == ["MJD_UTC", "BJD_TDB", "whitelight_flux"]
    assert len(table) == _NINTS and table.meta["number_of_integrations"] == _NINTS
    assert table.meta["exp_type"] == "NRC_TSGRISM"
    flux = table["whitelight_flux"].value
    inside, outside = flux[curve < 1], flux[curve == 1]
    depth = 1 - inside.mean() / outside.mean()
    sigma = np.hypot(inside.std(ddof=1) / np.sqrt(inside.size),
                     outside.std(ddof=1) / np.sqrt(outside.size)) / outside.mean()  # fmt: skip
    assert 0 < sigma < 1e-3 and abs(depth - 0.01) < 3 * sigma, (depth, sigma)


def test_white_light_range(ours, series):
    """min/max_wavelength restrict the sum to the band (official: the whole range for
    NRC_TSGRISM unless given)."""
    from webbcal.white_light import WhiteLightStep

    x1d, _ = ours
    full = WhiteLightStep.call(x1d)["whitelight_flux"].value
    band = WhiteLightStep.call(x1d, min_wavelength=3.9, max_wavelength=4.95)
    table = x1d.spec[0].spec_table
    keep = (table["WAVELENGTH"] >= 3.9) & (table["WAVELENGTH"] <= 4.95)
    expected = np.nansum(np.where(keep, table["FLUX"], 0.0), axis=1)
    np.testing.assert_allclose(band["whitelight_flux"].value, expected, rtol=1e-12)
    np.testing.assert_allclose(full, np.nansum(table["FLUX"], axis=1), rtol=1e-12)


@pytest.mark.jwst_oracle
def test_parity_with_jwst(ours, series, tmp_path):
    pytest.importorskip("jwst")
    from _tsgrism_oracle import official_call
    from astropy.table import QTable
    from jwst.pipeline import Tso3Pipeline as Official
    from stdatamodels.jwst import datamodels as dm

    case, _, _, asn = series
    x1d, out = ours
    offline = type("OfflineTso3", (Official,), {"prefetch_references": False})
    steps = {"extract_1d": case.official_overrides("extract_1d")}
    official_call(offline, os.fspath(asn), steps=steps, save_results=True,
                  output_dir=os.fspath(tmp_path))  # fmt: skip
    assert sorted(p for p in os.listdir(tmp_path) if not p.endswith(".json")) == sorted(
        os.listdir(out))  # fmt: skip
    theirs = QTable.read(tmp_path / f"{_PRODUCT}_whtlt.ecsv", format="ascii.ecsv")
    mine = QTable.read(out / f"{_PRODUCT}_whtlt.ecsv", format="ascii.ecsv")
    assert mine.colnames == theirs.colnames
    np.testing.assert_allclose(mine["MJD_UTC"], theirs["MJD_UTC"], rtol=1e-12)
    np.testing.assert_allclose(mine["whitelight_flux"].value, theirs["whitelight_flux"].value,
                               rtol=1e-5)  # fmt: skip
    name = f"{_EXPO}_o002_crfints.fits"
    with dm.open(out / name) as a, dm.open(tmp_path / name) as b:
        assert np.mean(a.dq == b.dq) >= 0.999
    with dm.open(tmp_path / f"{_PRODUCT}_x1dints.fits") as b:
        fa, fb = x1d.spec[0].spec_table["FLUX"], b.spec[0].spec_table["FLUX"]
        assert np.nanmedian(np.abs(fa / fb - 1)) < 1e-4
        np.testing.assert_array_equal(x1d.spec[0].spec_table["INT_NUM"],
                                      b.spec[0].spec_table["INT_NUM"])  # fmt: skip
