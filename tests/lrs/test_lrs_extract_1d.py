"""extract_1d for MIRI LRS slitless time series: truth, jwst 3.0.0 parity, chunking, bad input."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from _shared_paths import REAL
from webbcal.extract_1d import Extract1dStep
from webbcal.extract_1d.box import box_weights, extract_box
from webbcal.pipeline.spec2 import Spec2Pipeline
from webbcal.simulate.lrs import true_relative_response, true_wavelength

_C = 299792458.0
REAL_CRFINTS = (REAL / "jwst-wheel" / "miri_ground_test"
                / "jw00623026001_03106_00005_mirimage_a3001_crfints.fits")  # fmt: skip


def _calints(case):
    return Spec2Pipeline.call(case.sim.model.copy(), steps=dict(
        case.pipeline_steps(), extract_1d={"skip": True}))  # fmt: skip


@pytest.fixture(scope="module")
def clean_calints(lrs_clean):
    return _calints(lrs_clean)


@pytest.fixture(scope="module")
def noisy_calints(lrs_case):
    return _calints(lrs_case)


def _extract(calints, case, apcorr=False, **kw):
    return Extract1dStep.call(calints, **case.overrides("extract_1d", apcorr), **kw)


def test_box_weights_partial_pixels():
    w, lo, hi = box_weights((3, 10), disp_limits=(0, 2), cross_limits=(2.3, 5.6))
    np.testing.assert_allclose(w[0], [0, 0, 0.7, 1, 1, 1, 0.6, 0, 0, 0])
    assert (lo, hi) == (2.3, 5.6)
    # Coefficients: 0 at pixel centres, so [[2.5], [5.5]] covers pixels 3..5 whole.
    w, lo, hi = box_weights((2, 10), disp_limits=(0, 1), cross_limits=(0, 9),
                            coefficients=((2.5,), (5.5,)))  # fmt: skip
    np.testing.assert_allclose(w[1], [0, 0, 0, 1, 1, 1, 0, 0, 0, 0])
    w, *_ = box_weights((4, 10), disp_limits=(1.2, 2), cross_limits=(0, 9))
    assert w[0].sum() == 0 and w[1].sum() == 0 and w[3].sum() == 0 and w[2].sum() == 10


def test_box_kernel_known_values():
    """Linear background + a source of known sum: poly order 1 recovers both exactly."""
    ndisp, ncross = 5, 20
    c = np.arange(ncross)
    bkg = 2.0 + 0.1 * c
    img = np.broadcast_to(bkg, (3, ndisp, ncross)).copy()
    img[:, :, 9:12] += np.array([1.0, 3.0, 1.0])  # source sum 5 per element
    img[1, 2, 10] = np.nan  # one missing source pixel
    prof, *_ = box_weights((ndisp, ncross), disp_limits=(0, 4), cross_limits=(8, 12))
    bgp, *_ = box_weights((ndisp, ncross), disp_limits=(0, 4), cross_limits=(0, 19),
                          coefficients=((-0.5,), (5.5,), (14.5,), (19.5,)))  # fmt: skip
    var = np.ones_like(img)
    res = extract_box(img, prof, var_rnoise=var, bg_profile=bgp, bkg_fit="poly", bkg_order=1)
    np.testing.assert_allclose(res.flux[0], 5.0, rtol=1e-12)
    np.testing.assert_allclose(res.background[0], np.sum(bkg[8:13]), rtol=1e-12)
    np.testing.assert_allclose(res.npixels[0], 5.0)
    assert res.npixels[1, 2] == 4.0 and res.flux[1, 2] == pytest.approx(2.0)
    assert np.all(res.var_rnoise > 5.0)  # aperture pixels plus the background fit's share
    med = extract_box(img, prof, var_rnoise=var, bg_profile=bgp, bkg_fit="median")
    assert np.all(np.isfinite(med.flux))


def test_truth_noise_free(clean_calints, lrs_clean):
    sim = lrs_clean.sim
    x1d = _extract(clean_calints, lrs_clean)
    table = x1d.spec[0].spec_table
    assert table["FLUX"].shape == (6, sim.rows.size)
    factor = 1.0 / (1.0 + sim.model.meta.wcsinfo.velosys / _C)
    # Rows run down the table from the first extracted row (10) to the last (390).
    np.testing.assert_allclose(
        table["WAVELENGTH"][0], true_wavelength(sim.rows) * factor, rtol=0, atol=1e-6
    )  # float32 WAVELENGTH array
    # Flux density (Jy): the photom conversion used the barycentric wavelength, the
    # simulation the instrument one; correct for that tiny difference.
    wl = table["WAVELENGTH"][0]
    response = true_relative_response(wl) / true_relative_response(sim.wavelength)
    expected = sim.flux * response
    rel = np.abs(table["FLUX"] - expected) / expected
    assert np.median(rel) < 2e-5 and np.max(rel) < 2e-4
    # Background (MJy/sr per pixel) is what the simulation put there, in every row.
    assert np.all(table["BACKGROUND"] > 0)
    assert np.all(table["DQ"] == 0)
    np.testing.assert_array_equal(table["NPIXELS"], 10.0)
    assert table.columns["FLUX"].unit == "Jy"


def test_light_curve_truth_with_noise(noisy_calints, lrs_case):
    sim = lrs_case.sim
    x1d = _extract(noisy_calints, lrs_case)
    table = x1d.spec[0].spec_table
    white = np.nansum(table["FLUX"], axis=1)
    truth = sim.flux.sum(axis=1)
    err = np.sqrt(np.nansum(table["FLUX_ERROR"] ** 2, axis=1))
    # Every integration within 5 sigma, the transit depth within 3 sigma.
    assert np.all(np.abs(white - truth) < 5 * err)
    intransit = sim.light_curve < 1
    depth = 1 - white[intransit].mean() / white[~intransit].mean()
    depth_err = np.sqrt(2) * err.mean() / white.mean() / np.sqrt(intransit.sum())
    assert abs(depth - 0.01) < 3 * depth_err
    # Integration times come from INT_TIMES.
    np.testing.assert_array_equal(table["INT_NUM"], np.arange(1, 13))
    np.testing.assert_allclose(table["MJD-AVG"], sim.model.int_times["int_mid_MJD_UTC"])
    np.testing.assert_allclose(table["TDB-MID"], sim.model.int_times["int_mid_BJD_TDB"])
    assert x1d.spec[0].time_scale == "UTC"
    assert len(x1d.int_times) == 12


def test_aperture_correction(noisy_calints, lrs_case):
    """Fluxes times the APCORR table at (NPIXELS=10, wavelength); background unchanged."""
    plain = _extract(noisy_calints, lrs_case).spec[0].spec_table
    corrected = _extract(noisy_calints, lrs_case, apcorr=True).spec[0].spec_table
    wl = plain["WAVELENGTH"][0]
    expected = 1.0 + 0.3 * (wl / 10.0) * np.exp(-10.0 / 2.5)  # linear in wavelength: exact
    ratio = corrected["FLUX"] / plain["FLUX"]
    np.testing.assert_allclose(ratio, np.broadcast_to(expected, ratio.shape), rtol=1e-6)
    np.testing.assert_allclose(corrected["FLUX_VAR_POISSON"] / plain["FLUX_VAR_POISSON"],
                               np.broadcast_to(expected**2, ratio.shape), rtol=1e-6)  # fmt: skip
    np.testing.assert_array_equal(corrected["BACKGROUND"], plain["BACKGROUND"])


def test_chunks_give_the_same_spectra(noisy_calints, lrs_case, monkeypatch):
    from webbcal.extract_1d import extract

    whole = _extract(noisy_calints, lrs_case).spec[0].spec_table
    monkeypatch.setattr(extract, "CHUNK_BYTES", 1)  # one integration per chunk
    assert len(extract.integration_chunks(12, 416 * 72, extract.CHUNK_BYTES)) == 12
    chunked = _extract(noisy_calints, lrs_case).spec[0].spec_table
    for name in ("FLUX", "FLUX_ERROR", "BACKGROUND", "BKGD_ERROR", "SURF_BRIGHT"):
        np.testing.assert_array_equal(chunked[name], whole[name])


@pytest.mark.jwst_oracle
@pytest.mark.filterwarnings("ignore::astropy.utils.exceptions.AstropyUserWarning")
@pytest.mark.parametrize(
    "kw",
    [{}, {"bkg_fit": "median"}, {"bkg_order": 1, "smoothing_length": 3},
     {"subtract_background": False, "position_offset": 0.4}, {"apcorr": True}],
)  # fmt: skip
def test_parity_with_jwst(noisy_calints, lrs_case, kw):
    pytest.importorskip("jwst")
    from _lrs_oracle import official_call
    from jwst.extract_1d import Extract1dStep as Official

    kw = dict(kw)
    apcorr = kw.pop("apcorr", False)
    ours = _extract(noisy_calints, lrs_case, apcorr, **kw).spec[0]
    over = lrs_case.official_overrides("extract_1d", apcorr)
    theirs = official_call(Official, noisy_calints, **over, **kw).spec[0]
    a, b = ours.spec_table, theirs.spec_table
    assert a.dtype.names == b.dtype.names
    assert np.max(np.abs(a["WAVELENGTH"] - b["WAVELENGTH"])) < 1e-6
    for name in ("FLUX", "FLUX_ERROR", "SURF_BRIGHT", "BACKGROUND", "BKGD_ERROR",
                 "FLUX_VAR_POISSON", "FLUX_VAR_RNOISE", "NPIXELS"):  # fmt: skip
        x, y = a[name], b[name]
        np.testing.assert_array_equal(np.isnan(x), np.isnan(y))
        ok = np.isfinite(y) & (y != 0)
        if not ok.any():  # e.g. no background subtracted: zeros on both sides
            np.testing.assert_array_equal(x, y)
            continue
        rel = np.abs(x[ok] - y[ok]) / np.abs(y[ok])
        assert np.median(rel) < 1e-4 and np.max(rel) < 1e-6, name
    for name in ("DQ", "INT_NUM", "N_ALONGDISP", "SEGMENT", "MJD-AVG", "TDB-MID"):
        np.testing.assert_array_equal(a[name], b[name])
    for key in ("name", "source_type", "spectral_order", "dispersion_direction",
                "extraction_xstart", "extraction_xstop", "extraction_ystart",
                "extraction_ystop"):  # fmt: skip
        assert getattr(ours, key) == getattr(theirs, key), key
    assert ours.slit_ra == pytest.approx(theirs.slit_ra, abs=1e-10)
    assert [c.unit for c in a.columns] == [c.unit for c in b.columns]


@pytest.mark.jwst_oracle
def test_real_ground_test_crfints_parity(lrs_case):
    """The real MIRI LRS slitless crfints (2019 ground test): same spectra as jwst."""
    pytest.importorskip("jwst")
    if not REAL_CRFINTS.is_file():
        pytest.skip(f"real data not found: {REAL_CRFINTS}")
    from _lrs_oracle import official_call
    from jwst.extract_1d import Extract1dStep as Official
    from stdatamodels.jwst import datamodels as dm

    over = lrs_case.overrides("extract_1d")
    with dm.open(REAL_CRFINTS) as model:
        ours = Extract1dStep.call(model, **over).spec[0].spec_table
        theirs = official_call(Official, model, **lrs_case.official_overrides("extract_1d"))
    theirs = theirs.spec[0].spec_table
    assert ours["FLUX"].shape == theirs["FLUX"].shape == (10, 381)
    np.testing.assert_array_equal(ours["WAVELENGTH"], theirs["WAVELENGTH"])
    for name in ("FLUX", "FLUX_ERROR", "BACKGROUND", "SURF_BRIGHT"):
        np.testing.assert_allclose(ours[name], theirs[name], rtol=1e-10, atol=0)


def test_reference_without_lrs_aperture(noisy_calints, lrs_case, tmp_path):
    from webbcal.extract_1d.reference import ExtractReferenceError

    doc = json.loads(lrs_case.refs["extract1d"].read_text())
    doc["apertures"] = [a for a in doc["apertures"] if a["id"] != "MIR_LRS-SLITLESS"]
    path = tmp_path / "other_mode_extract1d.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ExtractReferenceError, match="no aperture for slit 'MIR_LRS-SLITLESS'"):
        Extract1dStep.call(noisy_calints, override_extract1d=os.fspath(path),
                           override_apcorr="N/A")  # fmt: skip


def test_aperture_off_the_trace(noisy_calints, lrs_case, tmp_path):
    from webbcal.extract_1d.extract import ExtractionError

    doc = json.loads(lrs_case.refs["extract1d"].read_text())
    for a in doc["apertures"]:
        if a["id"] == "MIR_LRS-SLITLESS":
            a.update(ystart=395, ystop=415)  # rows without wavelengths
    path = tmp_path / "off_trace.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ExtractionError, match="no pixel with a wavelength"):
        Extract1dStep.call(noisy_calints, override_extract1d=os.fspath(path),
                           override_apcorr="N/A")  # fmt: skip


def test_not_json_reference(noisy_calints, tmp_path):
    from webbcal.extract_1d.reference import ExtractReferenceError

    path = tmp_path / "extract1d.asdf"
    path.write_text("#ASDF")
    with pytest.raises(ExtractReferenceError, match="JSON"):
        Extract1dStep.call(noisy_calints, override_extract1d=os.fspath(path),
                           override_apcorr="N/A")  # fmt: skip


def test_other_modes_are_skipped(noisy_calints, lrs_case):
    model = noisy_calints.copy()
    model.meta.exposure.type = "NIS_SOSS"
    out = Extract1dStep.call(model, **lrs_case.overrides("extract_1d"))
    assert out.meta.cal_step.extract_1d == "SKIPPED"


def _tiled(calints, nints):
    from stdatamodels.jwst import datamodels as dm

    reps = nints // calints.data.shape[0] + 1
    big = dm.SlitModel(calints)
    for attr in ("data", "err", "dq", "var_poisson", "var_rnoise", "var_flat"):
        setattr(big, attr, np.concatenate([getattr(calints, attr)] * reps)[:nints])
    times = np.concatenate([calints.int_times] * reps)[:nints].copy()
    times["integration_number"] = np.arange(1, nints + 1)
    big.int_times = times
    big.meta.exposure.nints = big.meta.exposure.integration_end = nints
    big.source_type = calints.source_type
    return big


def test_memory_does_not_grow_with_integrations(noisy_calints, lrs_case):
    """Extra memory of the extraction: chunks of integrations, not the whole cube."""
    from _memory import peak_since_reset, reset_peak
    from webbcal.extract_1d import extract

    step = Extract1dStep(**lrs_case.overrides("extract_1d"))
    extra = {}
    for nints in (24, 144):
        big = _tiled(noisy_calints, nints)
        base = reset_peak()
        out = step.run(big, _owned=True)  # no defensive copy: measure the extraction
        extra[nints] = peak_since_reset(base)
        assert out.spec[0].spec_table["FLUX"].shape == (nints, 381)
        del out, big
    cube = 144 * 416 * 72 * 8  # one float64 plane of the 144-integration cube: 34 MB
    assert extra[144] < 2 * extract.CHUNK_BYTES + cube // 2
    assert extra[144] - extra[24] < cube


@pytest.mark.parametrize("strided", [False, True])
@pytest.mark.parametrize(
    "kw, match",
    [({"bkg_fit": "mean"}, "bkg_fit='mean'"), ({"bkg_order": -1}, "bkg_order=-1"),
     ({"bkg_order": 1.5}, "bkg_order=1.5"), ({"smoothing_length": 4}, "smoothing_length=4"),
     ({"profile_shape": (10, 7)}, r"profile \(10, 7\)")],
)  # fmt: skip
def test_bad_box_parameters_are_refused_on_both_paths(strided, kw, match):
    """Contiguous and strided (transposed) inputs are checked alike."""
    kw = dict(kw)
    img = np.ones((2, 8, 10)).transpose(0, 2, 1) if strided else np.ones((2, 10, 8))
    assert img.flags.c_contiguous is not strided
    prof = np.zeros(kw.pop("profile_shape", (10, 8)))
    bgp = np.zeros((10, 8))
    bgp[:, :2] = 1.0
    with pytest.raises(ValueError, match=match):
        extract_box(img, prof, bg_profile=bgp, **kw)
