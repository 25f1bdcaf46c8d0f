"""tso_photometry on a simulated imaging time series: truth (flat image, transit depth,
centroid) and jwst 3.0.0 parity."""

from __future__ import annotations

import numpy as np
import pytest

from webbcal.datamodels.io import InputError
from webbcal.stpipe.registry import get_step_class
from webbcal.tso_photometry import TSOPhotometryStep

PIXAR_SR = 2.0e-13
X0, Y0 = 31.3, 32.6  # true source position, 0-based


@pytest.fixture(autouse=True)
def _no_crds_pars(monkeypatch):
    monkeypatch.setenv("WEBBCAL_DISABLE_CRDS_STEPPARS", "true")


def _wcs():
    import gwcs
    from astropy import coordinates as coord
    from astropy import units as u
    from astropy.modeling import models as m
    from gwcs import coordinate_frames as cf

    transform = ((m.Shift(-32.0) & m.Shift(-32.0)) | (m.Scale(1.7e-5) & m.Scale(1.7e-5))
                 | m.Pix2Sky_TAN() | m.RotateNative2Celestial(80.0, -69.5, 180.0))  # fmt: skip
    det = cf.Frame2D(name="detector", axes_order=(0, 1), unit=(u.pix, u.pix))
    sky = cf.CelestialFrame(reference_frame=coord.ICRS(), name="world", unit=(u.deg, u.deg))
    return gwcs.WCS([(det, transform), (sky, None)])


def _series(nints=16, noise=0.0, flat=None, seed=0):
    """NRC_TSIMAGE calints (MJy/sr): a Gaussian source (sigma 1.5 px) with a 1 % transit
    in the middle third, background 2 MJy/sr; (CubeModel, light curve)."""
    from stdatamodels.jwst import datamodels as dm

    rng = np.random.default_rng(seed)
    ny = nx = 64
    yy, xx = np.mgrid[:ny, :nx]
    curve = np.ones(nints)
    curve[nints // 3 : 2 * nints // 3] = 0.99
    source = 500.0 * np.exp(-0.5 * ((xx - X0) ** 2 + (yy - Y0) ** 2) / 1.5**2)
    data = 2.0 + curve[:, None, None] * source
    if flat is not None:
        data = np.full((nints, ny, nx), flat)
    data = data + noise * rng.normal(size=data.shape)
    model = dm.CubeModel(data=data.astype(np.float32))
    model.err = np.full(data.shape, max(noise, 0.1), np.float32)
    model.dq = np.zeros(data.shape, np.uint32)
    meta = model.meta
    meta.bunit_data = meta.bunit_err = "MJy/sr"
    meta.photometry.pixelarea_steradians = PIXAR_SR
    meta.instrument.name, meta.instrument.detector = "NIRCAM", "NRCA3"
    meta.instrument.channel, meta.instrument.filter = "SHORT", "F210M"
    meta.instrument.pupil = "CLEAR"
    meta.subarray.name = "SUB64P"
    meta.subarray.xstart = meta.subarray.ystart = 1
    meta.subarray.xsize = meta.subarray.ysize = 64
    meta.exposure.type, meta.exposure.nints = "NRC_TSIMAGE", nints
    meta.exposure.integration_start, meta.exposure.integration_time = 1, 10.0
    meta.visit.tsovisit = True
    meta.target.catalog_name = "STAR"
    meta.wcsinfo.siaf_xref_sci, meta.wcsinfo.siaf_yref_sci = 33.0, 33.0  # planned, 1-based
    meta.wcs = _wcs()
    meta.filename = "jw01234001001_01101_00001_nrca3_calints.fits"
    names = ("int_start_MJD_UTC", "int_mid_MJD_UTC", "int_end_MJD_UTC",
             "int_start_BJD_TDB", "int_mid_BJD_TDB", "int_end_BJD_TDB")  # fmt: skip
    rows = np.zeros(nints, dtype=[("integration_number", "<i4")] + [(n, "<f8") for n in names])
    rows["integration_number"] = np.arange(1, nints + 1)
    rows["int_mid_MJD_UTC"] = 60000.0 + 1e-4 * np.arange(nints)
    rows["int_mid_BJD_TDB"] = 60000.001 + 1e-4 * np.arange(nints)
    model.int_times = rows
    return model, curve


def _gain(root):
    from stdatamodels.jwst import datamodels as dm

    gain = dm.GainModel(data=np.full((64, 64), 2.0, np.float32))
    gain.meta.instrument.name, gain.meta.instrument.detector = "NIRCAM", "NRCA3"
    gain.meta.subarray.name = "SUB64P"
    gain.meta.subarray.xstart = gain.meta.subarray.ystart = 1
    gain.meta.subarray.xsize = gain.meta.subarray.ysize = 64
    gain.meta.reftype, gain.meta.author, gain.meta.pedigree = "GAIN", "test", "DUMMY"
    gain.meta.description, gain.meta.useafter = "test", "2020-01-01T00:00:00"
    gain.save(root / "gain.fits")
    return str(root / "gain.fits")


def _segment_files(root, nints=16):
    """The series split into -seg001 (1..8) and -seg002 (9..16), saved; their asn."""
    import os

    from webbcal.associations.asn import write_association
    from webbcal.associations.from_list import asn_from_list

    model, curve = _series(nints=nints, noise=0.3, seed=7)
    # errors with a photon-noise-like share at the source, so the 1 % transit (5 MJy/sr
    # at the peak) is not an outlier at 5 sigma
    model.err = np.sqrt(0.3**2 + 0.02 * model.data).astype(np.float32)
    names = []
    for k, (a, b) in enumerate(((0, nints // 2), (nints // 2, nints)), start=1):
        seg = model.copy()
        seg.data, seg.err, seg.dq = model.data[a:b], model.err[a:b], model.dq[a:b]
        seg.meta.exposure.integration_start, seg.meta.exposure.integration_end = a + 1, b
        seg.meta.exposure.segment_number = k
        seg.int_times = model.int_times[a:b]
        name = f"jw01234001001_01101_00001-seg{k:03d}_nrca3_calints.fits"
        seg.meta.filename = name
        seg.save(root / name)
        names.append(name)
    asn = asn_from_list(names, product_name="jw01234-o001_t001_nircam_f210m-sub64p",
                        acid="o001")  # fmt: skip
    return write_association(asn, root / "asn.json"), curve, os


def test_tso3_imaging(tmp_path):
    """calwebb_tso3 on two imaging segments: crfints per member, one _phot.ecsv."""
    from astropy.table import QTable

    from webbcal.pipeline.tso3 import Tso3Pipeline

    asn, curve, os = _segment_files(tmp_path)
    out = tmp_path / "out"
    steps = {"tso_photometry": {"override_gain": _gain(tmp_path)}}
    table = Tso3Pipeline.call(os.fspath(asn), save_results=True, output_dir=os.fspath(out),
                              steps=steps)  # fmt: skip
    assert sorted(os.listdir(out)) == sorted([
        "jw01234001001_01101_00001-seg001_nrca3_o001_crfints.fits",
        "jw01234001001_01101_00001-seg002_nrca3_o001_crfints.fits",
        "jw01234-o001_t001_nircam_f210m-sub64p_phot.ecsv"])  # fmt: skip
    saved = QTable.read(out / "jw01234-o001_t001_nircam_f210m-sub64p_phot.ecsv")
    assert len(saved) == 16 and saved.meta["number_of_integrations"] == 16
    assert np.all(np.diff(saved["MJD"]) > 0)
    net = table["net_aperture_sum"].value
    inside, outside = net[curve < 1], net[curve == 1]
    depth = 1 - inside.mean() / outside.mean()
    sigma = np.hypot(inside.std(ddof=1) / np.sqrt(inside.size),
                     outside.std(ddof=1) / np.sqrt(outside.size)) / outside.mean()  # fmt: skip
    assert abs(depth - 0.01) < 3 * sigma and sigma < 2e-3, (depth, sigma)


@pytest.mark.jwst_oracle
def test_tso3_imaging_parity_with_jwst(tmp_path):
    pytest.importorskip("jwst")
    import tempfile
    from pathlib import Path

    from astropy.table import QTable
    from jwst.pipeline import Tso3Pipeline as Official

    from _stage2_inputs import _parity_module
    from webbcal.pipeline.tso3 import Tso3Pipeline

    asn, _, os = _segment_files(tmp_path)
    gain = _gain(tmp_path)
    name = "jw01234-o001_t001_nircam_f210m-sub64p_phot.ecsv"
    (tmp_path / "ours").mkdir()
    (tmp_path / "theirs").mkdir()
    Tso3Pipeline.call(os.fspath(asn), save_results=True, output_dir=str(tmp_path / "ours"),
                      steps={"tso_photometry": {"override_gain": gain}})  # fmt: skip
    offline = type("OfflineTso3", (Official,), {"prefetch_references": False})
    with tempfile.TemporaryDirectory() as root:
        with _parity_module().offline_environment(Path(root)):
            offline.call(os.fspath(asn), save_results=True, output_dir=str(tmp_path / "theirs"),
                         steps={"tso_photometry": {"override_gain": gain}})  # fmt: skip
    ours = QTable.read(tmp_path / "ours" / name)
    theirs = QTable.read(tmp_path / "theirs" / name)
    assert ours.colnames == theirs.colnames
    for col in ours.colnames:
        a = np.asarray(getattr(ours[col], "value", ours[col]), dtype=float)
        b = np.asarray(getattr(theirs[col], "value", theirs[col]), dtype=float)
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-12, err_msg=col)


def test_flat_image_sums_are_areas():
    model, _ = _series(flat=3.0)
    table = TSOPhotometryStep.call(model, centroid_source=False)
    assert get_step_class("tso_photometry") is TSOPhotometryStep
    jy = 3.0 * 1e6 * PIXAR_SR
    np.testing.assert_allclose(table["aperture_sum"].value, jy * np.pi * 9, rtol=1e-5)
    np.testing.assert_allclose(table["annulus_mean"].value, jy, rtol=1e-5)
    np.testing.assert_allclose(table["net_aperture_sum"].value, 0, atol=1e-5 * jy * 28)
    assert str(table["aperture_sum"].unit) == "Jy"
    np.testing.assert_allclose(table["aperture_x"].value, 32.0)
    np.testing.assert_array_equal(table["MJD"], model.int_times["int_mid_MJD_UTC"])


def test_transit_depth_and_centroid():
    model, curve = _series()
    table = TSOPhotometryStep.call(model)
    np.testing.assert_allclose(table["centroid_x"].value, X0, atol=0.05)
    np.testing.assert_allclose(table["centroid_y"].value, Y0, atol=0.05)
    np.testing.assert_allclose(table["psf_width_x"].value, 1.5, rtol=0.1)
    net = table["net_aperture_sum"].value
    depth = 1 - net[curve < 1].mean() / net[curve == 1].mean()
    assert abs(depth - 0.01) < 1e-6
    assert table.colnames[-5:] == ["centroid_x", "centroid_y", "psf_width_x", "psf_width_y",
                                   "psf_flux"]  # fmt: skip


def test_bad_input():
    model, _ = _series()
    model.meta.wcsinfo.siaf_xref_sci = None
    with pytest.raises(InputError, match="XREF_SCI"):
        TSOPhotometryStep.call(model)
    model, _ = _series()
    model.int_times = model.int_times[:3]
    with pytest.raises(InputError, match="INT_TIMES"):
        TSOPhotometryStep.call(model, centroid_source=False)


@pytest.mark.jwst_oracle
@pytest.mark.parametrize("params", [{}, {"centroid_source": False},
                                    {"moving_centroid": True, "radius": 4.5,
                                     "radius_inner": 6.0, "radius_outer": 9.0}])  # fmt: skip
def test_parity_with_jwst(params, tmp_path):
    pytest.importorskip("jwst")
    from jwst.tso_photometry import TSOPhotometryStep as Official

    from _stage2_inputs import official_call

    model, _ = _series(noise=0.3, seed=4)
    gain = _gain(tmp_path)
    ours = TSOPhotometryStep.call(model, **params)
    theirs = official_call(Official, model, override_gain=gain,
                           **params)  # fmt: skip
    assert ours.colnames == theirs.colnames
    assert dict(ours.meta) == dict(theirs.meta)
    for name in ours.colnames:
        a = np.asarray(getattr(ours[name], "value", ours[name]), dtype=float)
        b = np.asarray(getattr(theirs[name], "value", theirs[name]), dtype=float)
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-12, err_msg=name)
        assert getattr(ours[name], "unit", None) == getattr(theirs[name], "unit", None)
