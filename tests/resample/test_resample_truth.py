"""The resample step against truth: surface brightness and flux kept, bad input refused."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
from _cal_files import DEC0, RA0, Source, cal_name, make_cal, write_asn

from webbcal.datamodels import ModelLibrary
from webbcal.datamodels.io import InputError
from webbcal.dqflags import DO_NOT_USE
from webbcal.resample import (
    Coadd,
    CoaddParams,
    Exposure,
    ResampleStep,
    drizzle_weight,
    mark_invalid,
)

DITHERS = [(0.0, 0.0), (0.8, 0.5), (-0.6, 1.1)]
SR_PER_ARCSEC2 = (math.pi / 180 / 3600) ** 2


def _call(source, **pars):
    return ResampleStep.call(source, disable_crds_steppars=True, **pars)


SIGMA, PEAK, SKY = 0.09, 40.0, 3.5  # arcsec, MJy/sr, MJy/sr
SOURCE = Source(RA0 + 0.2 / 3600, DEC0 - 0.1 / 3600, SIGMA, PEAK)
#: Total flux of the source, MJy: 2 pi sigma^2 times the peak.
TRUE_FLUX = PEAK * 2 * math.pi * SIGMA**2 * SR_PER_ARCSEC2


@pytest.fixture(scope="module")
def scene(tmp_path_factory, nrca1, distortion):
    """Three dithered noiseless exposures of a flat sky and one Gaussian source."""
    folder = tmp_path_factory.mktemp("resample_truth")
    paths = [
        make_cal(
            folder / cal_name(k),
            nrca1,
            distortion,
            dra=dra,
            ddec=ddec,
            exposure=k,
            sources=[SOURCE],
            background=SKY,
            noise=0.0,
            flags=False,
        )  # fmt: skip
        for k, (dra, ddec) in enumerate(DITHERS, start=1)
    ]
    return folder, paths, write_asn(str(folder), paths)


def _far_from_source(out, radius=8 * SIGMA):
    y, x = np.indices(out.data.shape)
    x0, y0 = out.meta.wcs.invert(SOURCE.ra, SOURCE.dec)
    scale = math.sqrt(out.meta.photometry.pixelarea_arcsecsq)
    return np.hypot(x - x0, y - y0) * scale > radius


def _flux(out):
    return np.nansum(out.data - SKY) * out.meta.photometry.pixelarea_steradians


def test_flat_sky_stays_flat_and_flux_is_conserved(scene):
    """Mosaic of three dithers on a finer grid: sky exact, source flux = 2 pi sigma^2 peak."""
    _, _, asn = scene
    out = _call(asn, pixfrac=0.8, pixel_scale_ratio=0.8)
    good = out.wht > 0
    assert good.sum() > 0.8 * out.data.size
    assert np.all(np.isnan(out.data[~good]))  # fillval NAN where nothing landed
    sky = good & _far_from_source(out)
    assert sky.sum() > 0.5 * out.data.size
    np.testing.assert_allclose(out.data[sky], SKY, rtol=2e-6)
    assert _flux(out) == pytest.approx(TRUE_FLUX, rel=5e-3)
    assert out.meta.bunit_data == "MJy/sr"
    assert out.meta.resample.pixel_scale_ratio == 0.8


def test_one_exposure_flux_and_position(scene):
    """One exposure, north up: flux conserved, centroid at the source's sky position."""
    _, paths, _ = scene
    out = _call(paths[1], rotation=0.0)
    assert _flux(out) == pytest.approx(TRUE_FLUX, rel=5e-3)
    y, x = np.indices(out.data.shape)
    d = np.nan_to_num(out.data - SKY)
    cx, cy = (d * x).sum() / d.sum(), (d * y).sum() / d.sum()
    x0, y0 = out.meta.wcs.invert(SOURCE.ra, SOURCE.dec)
    assert math.hypot(cx - x0, cy - y0) < 0.02  # output pixels
    assert out.meta.wcsinfo.pc1_1 == pytest.approx(-1.0) and out.meta.wcsinfo.pc2_2 == 1.0


def test_user_grid_parameters_and_fillval(scene):
    _, paths, _ = scene
    out = _call(paths[0], output_shape=[200, 150], crpix=[99.5, 74.5], crval=[RA0, DEC0],
                pixel_scale=0.02, rotation=45.0, fillval="-7", enable_err=False)  # fmt: skip
    assert out.data.shape == (150, 200)
    ra, dec = out.meta.wcs(99.5, 74.5)
    assert (ra, dec) == pytest.approx((RA0, DEC0), abs=1e-10)
    w = out.meta.wcsinfo
    assert (w.crpix1, w.crpix2, w.crval1, w.crval2) == pytest.approx((100.5, 75.5, RA0, DEC0))
    assert w.cdelt1 * 3600 == pytest.approx(0.02)
    ra2, dec2 = out.meta.wcs(99.5, 75.5)  # one pixel up: +y is 45 deg east of north
    pa = math.degrees(math.atan2((ra2 - RA0) * math.cos(math.radians(DEC0)), dec2 - DEC0))
    assert pa == pytest.approx(45.0, abs=1e-6)
    assert out.meta.resample.pixel_scale_ratio == pytest.approx(0.02 / 0.0311, rel=0.02)
    empty = out.wht == 0
    assert empty.sum() > 100 and np.all(out.data[empty] == -7.0)
    assert not out.hasattr("err") and not out.hasattr("var_rnoise")


def test_context_planes_are_compact():
    """34 exposures: two int32 planes, bit k % 32 of plane k // 32 marks exposure k."""
    from astropy.modeling import models
    from gwcs import WCS
    from gwcs import coordinate_frames as cf

    shape = (20, 30)
    transform = models.Shift(-10) & models.Shift(-5) | models.Scale(1e-5) & models.Scale(1e-5)
    grid = WCS([(cf.Frame2D(name="detector"), transform), (cf.Frame2D(name="world"), None)])
    grid.array_shape = shape
    y, x = np.indices((16, 16), dtype=float)
    pixmap = np.dstack([x + 3.0, y + 2.0])
    coadd = Coadd(grid, CoaddParams(enable_var=False), n_inputs=34, pixel_scale_ratio=1.0,
                  pixel_map_function=lambda *_: pixmap)  # fmt: skip
    for k in range(34):
        dq = np.zeros((16, 16), np.uint32)
        dq[k % 16, 0] = DO_NOT_USE  # exposure k misses one pixel
        coadd.add(Exposure(np.full((16, 16), 2.0, np.float32), dq, None, exposure_time=10.0,
                           group_id=str(k), name=f"e{k}"))  # fmt: skip
    out = coadd.finalize()
    assert out.con.shape == (2, *shape) and out.con.dtype == np.int32
    assert np.all(out.con[:, :2, :] == 0) and np.all(out.con[:, :, :3] == 0)
    assert np.all(out.con[0, 3:18, 4:19] == -1)  # all 32 bits of plane 0
    assert np.all(out.con[1, 3:18, 4:19] == 3)  # exposures 32 and 33
    missed = [k for k in range(34) if k % 16 == 5]  # input row 5, column 0 -> output (7, 3)
    bits = sum(1 << k for k in range(32) if k not in missed)
    assert out.con[0, 7, 3] == np.array(bits, np.uint32).view(np.int32)
    assert out.con[1, 7, 3] == sum(1 << (k - 32) for k in (32, 33) if k not in missed)
    assert out.pointings == 34 and out.exposure_time == 340.0
    np.testing.assert_allclose(out.data[2:18, 3:19], 2.0)


def test_bad_pixels_get_no_weight():
    dq = np.zeros((4, 4), np.uint32)
    dq[0, 0] = DO_NOT_USE
    dq[1, 1] = 4  # JUMP_DET: still used
    var = np.full((4, 4), 0.25, np.float32)
    var[2, 2] = 0.0
    w = drizzle_weight(dq, weight_type="ivm", var_rnoise=var)
    assert w[0, 0] == 0 and w[1, 1] == 4 and w[2, 2] == 0 and w[3, 3] == 4
    assert np.all(drizzle_weight(dq, weight_type="exptime", time=50.0)[1:, 1:] == 50.0)
    data = np.ones((4, 4), np.float32)
    err = np.ones((4, 4), np.float32)
    err[3, 0] = np.nan
    d, q, e, v = mark_invalid(data, dq, err, {"var_rnoise": var})
    assert np.isnan(d[3, 0]) and np.isnan(v["var_rnoise"][0, 0]) and q[3, 0] & DO_NOT_USE
    assert not np.isnan(data[3, 0])  # inputs untouched
    # Planes already consistent are passed through without a full-frame copy.
    d2, q2, e2, v2 = mark_invalid(d, q, e, v)
    assert d2 is d and q2 is q and e2 is e and v2["var_rnoise"] is v["var_rnoise"]
    assert e is not err and np.isnan(e[0, 0]) and not np.isnan(err[0, 0])
    with pytest.raises(ValueError, match="weight_type='bad'"):
        CoaddParams(weight_type="bad")


def test_missing_wcs_is_refused(scene):
    from stdatamodels.jwst import datamodels as dm

    _, paths, _ = scene
    models = [dm.ImageModel(p) for p in paths[:2]]
    del models[1].meta.wcs
    with pytest.raises(InputError, match=r"_00002_nrca1_cal\.fits: stage 2 not run \(no WCS\)"):
        _call(models[1])
    with pytest.raises(InputError, match="stage 2 not run"):
        _call(ModelLibrary(models))


def test_input_model_is_not_modified(tmp_path, nrca1, distortion):
    from stdatamodels.jwst import datamodels as dm

    path = make_cal(tmp_path / cal_name(1), nrca1, distortion)  # with NaN and flagged pixels
    model = dm.ImageModel(path)
    before = {n: getattr(model, n).copy() for n in ("data", "dq", "err", "var_poisson")}
    out = _call(model)
    assert out is not model and out.meta.cal_step.resample == "COMPLETE"
    assert model.meta.cal_step.resample is None
    for name, array in before.items():
        assert np.array_equal(getattr(model, name), array, equal_nan=True), name
    skipped = _call(model, skip=True)
    assert skipped.meta.cal_step.resample == "SKIPPED" and model.meta.cal_step.resample is None


def test_missing_pointing_is_refused_for_the_default_grid(scene):
    from stdatamodels.jwst import datamodels as dm

    _, paths, _ = scene
    model = dm.ImageModel(paths[0])
    model.meta.wcsinfo.roll_ref = None
    with pytest.raises(
        InputError, match=r"grid: jw\S+_cal.fits meta.wcsinfo: pointing keyword ROLL_REF is missing"
    ):
        _call(model)


def test_mixed_filters_are_refused(scene):
    from stdatamodels.jwst import datamodels as dm

    _, paths, _ = scene
    models = [dm.ImageModel(p) for p in paths[:2]]
    models[1].meta.instrument.filter = "F150W"
    with pytest.raises(InputError, match=r"FILTER='F150W' differs from .*FILTER='F200W'"):
        _call(ModelLibrary(models))


def test_bad_parameters_are_refused(scene):
    _, paths, _ = scene
    with pytest.raises(ValueError, match="pixmap_order=2"):
        _call(paths[0], pixmap_order=2)
    with pytest.raises(InputError, match="output_wcs='nope.asdf'.*cannot read"):
        _call(paths[0], output_wcs="nope.asdf")


def test_command_line_on_a_file_and_an_association(scene, tmp_path):
    from webbcal.cli import main

    _, paths, asn = scene
    out = tmp_path / "out"
    assert main(["run", "resample", paths[0], f"--output-dir={out}", "--disable-crds-steppars",
                 "--pixfrac=0.9"]) == 0  # fmt: skip
    assert main(["run", "resample", asn, f"--output-dir={out}", "--disable-crds-steppars",
                 "--suffix=i2d", "--output_shape=160,150"]) == 0  # fmt: skip
    names = sorted(os.listdir(out))
    assert names == sorted(
        [cal_name(1).replace("_cal", "_resample"), "jw01234-o001_t001_nircam_clear-f200w_i2d.fits"]
    )
    from stdatamodels.jwst import datamodels as dm

    with dm.open(str(out / "jw01234-o001_t001_nircam_clear-f200w_i2d.fits")) as m:
        assert m.data.shape == (150, 160) and m.meta.resample.pointings == 3
        assert m.meta.cal_step.resample == "COMPLETE"
        assert m.con.shape == (1, 150, 160)


def test_members_are_read_one_at_a_time_on_disk(scene, monkeypatch):
    """in_memory=False: never two members borrowed at once; same product as in memory."""
    _, _, asn = scene
    in_memory = _call(asn)
    held, peak = set(), [0]
    borrow, shelve = ModelLibrary.borrow, ModelLibrary.shelve

    def counting_borrow(self, index):
        held.add(index)
        peak[0] = max(peak[0], len(held))
        return borrow(self, index)

    def counting_shelve(self, model, index=None, **kwargs):
        held.discard(index)
        return shelve(self, model, index, **kwargs)

    monkeypatch.setattr(ModelLibrary, "borrow", counting_borrow)
    monkeypatch.setattr(ModelLibrary, "shelve", counting_shelve)
    on_disk = _call(asn, in_memory=False)
    assert peak[0] == 1 and not held
    for name in ("data", "wht", "con", "err", "var_rnoise"):
        assert np.array_equal(getattr(on_disk, name), getattr(in_memory, name), equal_nan=True)
