"""The resample step against jwst 3.0.0's ResampleStep on identical cal files."""

from __future__ import annotations

import numpy as np
import pytest
from _cal_files import DEC0, RA0, Source, cal_name, make_cal, write_asn

from webbcal.resample import ResampleStep

pytestmark = pytest.mark.jwst_oracle

VARIANCES = ("var_rnoise", "var_poisson", "var_flat")
DITHERS = [(0.0, 0.0), (0.8, 0.5), (-0.6, 1.1)]  # arcsec on the sky
SOURCES = (Source(RA0, DEC0, 0.1, 5.0), Source(RA0 + 0.4 / 3600, DEC0 - 0.3 / 3600, 0.06, 20.0))


@pytest.fixture(autouse=True)
def _official_offline(monkeypatch):
    monkeypatch.setenv("STPIPE_DISABLE_CRDS_STEPPARS", "True")


@pytest.fixture(scope="module")
def dithered(tmp_path_factory, nrca1, distortion):
    folder = tmp_path_factory.mktemp("resample_oracle")
    paths = [
        make_cal(
            folder / cal_name(k),
            nrca1,
            distortion,
            dra=dra,
            ddec=ddec,
            exposure=k,
            seed=k,
            sources=SOURCES,
        )  # fmt: skip
        for k, (dra, ddec) in enumerate(DITHERS, start=1)
    ]
    return folder, paths, write_asn(str(folder), paths)


def _run_both(source, **pars):
    jwst_resample = pytest.importorskip("jwst.resample")
    ours = ResampleStep.call(source, disable_crds_steppars=True, **pars)
    theirs = jwst_resample.ResampleStep.call(source, **pars)
    return ours, theirs


def _relative(a, b):
    ok = np.isfinite(a) & np.isfinite(b) & (b != 0)
    return np.abs(a[ok] - b[ok]) / np.abs(b[ok])


#: Width of the output grid's outer frame (output pixels) where webbcal deliberately
#: differs: the official drizzle call drops the input pixels that straddle the grid's
#: edge, webbcal drizzles a margin around the grid so they are kept (Coadd ``pad``).
FRAME = 3


def _inside(shape):
    inner = np.zeros(shape, bool)
    inner[FRAME:-FRAME, FRAME:-FRAME] = True
    return inner


def assert_same_coverage(ours, theirs, name):
    """NaN pattern identical away from the outer frame; on it, webbcal covers every pixel
    the official one covers (and possibly more: the input pixels straddling the edge)."""
    a, b = getattr(ours, name), getattr(theirs, name)
    inner = _inside(a.shape)
    assert np.array_equal(np.isnan(a[inner]), np.isnan(b[inner])), name
    assert not np.any(np.isnan(a) & ~np.isnan(b)), f"{name}: pixels lost on the frame"


def assert_same_context(ours, theirs):
    """Context bits identical away from the frame; on it, a superset of the official's."""
    a, b = ours.con, theirs.con
    assert a.dtype == b.dtype == np.int32 and a.shape == b.shape
    inner = _inside(a.shape[1:])
    assert np.array_equal(a[:, inner], b[:, inner])
    assert np.array_equal(a & b, b)


def assert_same_product(ours, theirs, *, median=1e-5, worst=1e-4):
    """Same grid, same NaN pattern, planes within tolerances, same context bits, away from
    the grid's outer frame (see :data:`FRAME`; there webbcal covers a superset).

    ``median`` bounds the median relative difference over all valid pixels;
    ``worst`` the largest one over pixels inside the frame with at least half the
    median weight (at the edges of the footprints a weight is a sliver of a pixel,
    whose relative size moves with the 0.001-pixel pixel-map tolerance).
    """
    assert ours.data.shape == theirs.data.shape
    assert np.allclose(ours.meta.wcs.bounding_box.bounding_box(order="F"),
                       theirs.meta.wcs.bounding_box.bounding_box(order="F"))  # fmt: skip
    ny, nx = ours.data.shape
    y, x = np.mgrid[0:ny:7, 0:nx:7].astype(float)
    ra1, dec1 = ours.meta.wcs(x, y)
    ra2, dec2 = theirs.meta.wcs(x, y)
    assert np.max(np.hypot((ra1 - ra2) * np.cos(np.radians(dec2)), dec1 - dec2)) * 3.6e6 < 1e-3
    covered = theirs.wht > 0.5 * np.median(theirs.wht[theirs.wht > 0])
    covered &= _inside(covered.shape)
    for name in ("data", "wht", "err", *VARIANCES):
        a, b = getattr(ours, name), getattr(theirs, name)
        assert_same_coverage(ours, theirs, name)
        rel = _relative(a, b)
        assert rel.size > 0.5 * a.size, name
        assert np.median(rel) < median, name
        assert _relative(a[covered], b[covered]).max() < worst, name
    assert_same_context(ours, theirs)
    for key in ("crpix1", "crpix2", "crval1", "crval2", "cdelt1", "pc1_1", "pc1_2", "pc2_1"):
        assert getattr(ours.meta.wcsinfo, key) == pytest.approx(
            getattr(theirs.meta.wcsinfo, key), rel=1e-9, abs=1e-9
        ), key
    for key in ("ra_ref", "v2_ref", "roll_ref"):
        assert getattr(ours.meta.wcsinfo, key, None) is None
    for key in ("exposure_time", "effective_exposure_time", "measurement_time", "duration",
                "elapsed_exposure_time", "start_time", "end_time"):  # fmt: skip
        assert getattr(ours.meta.exposure, key) == getattr(theirs.meta.exposure, key), key
    assert ours.meta.resample.instance == theirs.meta.resample.instance
    assert ours.meta.photometry.pixelarea_steradians == pytest.approx(
        theirs.meta.photometry.pixelarea_steradians, rel=1e-12
    )
    assert ours.meta.bunit_data == theirs.meta.bunit_data == "MJy/sr"
    assert ours.meta.cal_step.resample == "COMPLETE"


def test_one_exposure_matches_official(dithered):
    _, paths, _ = dithered
    ours, theirs = _run_both(paths[0])
    assert_same_product(ours, theirs)
    assert ours.meta.wcsinfo.s_region == theirs.meta.wcsinfo.s_region
    assert ours.con.shape[0] == 1 and set(np.unique(ours.con)) <= {0, 1}
    assert np.array_equal(ours.con[0] == 1, ours.wht > 0)


def test_three_dithers_match_official(dithered):
    _, _, asn = dithered
    ours, theirs = _run_both(asn)
    assert_same_product(ours, theirs)
    assert ours.meta.resample.pointings == 3
    assert ours.meta.asn.pool_name == theirs.meta.asn.pool_name
    assert ours.meta.asn.table_name == theirs.meta.asn.table_name == "asn.json"
    assert ours.meta.wcsinfo.s_region == theirs.meta.wcsinfo.s_region  # union of 3 footprints
    assert ours.meta.exposure.exposure_time == pytest.approx(101.0 + 102.0 + 103.0)
    assert set(np.unique(ours.con)) >= {1, 2, 4, 7}  # each exposure's bit, and all three


@pytest.mark.parametrize(
    "pars",
    [
        {"rotation": 0.0, "pixel_scale": 0.02, "crval": [RA0, DEC0], "crpix": [60.0, 70.0],
         "output_shape": [150, 130], "propagate_dq": True},
        {"pixel_scale_ratio": 0.7, "weight_type": "exptime", "pixfrac": 0.6, "kernel": "turbo",
         "fillval": "0", "enable_ctx": False, "report_var": False},
    ],
    ids=["grid", "ratio-exptime-pixfrac-turbo-fill0"],
)  # fmt: skip
def test_parameters_match_official(dithered, pars):
    _, _, asn = dithered
    ours, theirs = _run_both(asn, **pars)
    assert ours.data.shape == theirs.data.shape
    if "output_shape" in pars:
        assert ours.data.shape == tuple(pars["output_shape"][::-1])
    for name in ("data", "wht", "err"):
        a, b = getattr(ours, name), getattr(theirs, name)
        assert_same_coverage(ours, theirs, name)
        rel = _relative(a, b)
        assert np.median(rel) < 1e-5, name
    if pars.get("report_var", True):
        for name in VARIANCES:
            rel = _relative(getattr(ours, name), getattr(theirs, name))
            assert np.median(rel) < 1e-5, name
    else:
        assert not ours.hasattr("var_rnoise") and not theirs.hasattr("var_rnoise")
    if pars.get("enable_ctx", True):
        assert_same_context(ours, theirs)
    else:
        assert not ours.hasattr("con")
    if pars.get("propagate_dq"):
        inner = _inside(ours.dq.shape)
        assert ours.dq.any() and np.array_equal(ours.dq[inner], theirs.dq[inner])
    if pars.get("fillval") == "0":
        empty = ours.wht == 0
        assert empty.any() and np.all(ours.data[empty] == 0.0)
    assert ours.meta.resample.pixel_scale_ratio == pytest.approx(
        theirs.meta.resample.pixel_scale_ratio, rel=1e-9
    )


def test_custom_output_wcs_file_matches_official(dithered, tmp_path):
    import asdf

    from webbcal.wcs import output_wcs, pixel_scale_at, pointing_from_model

    _, paths, asn = dithered
    from stdatamodels.jwst import datamodels as dm

    with dm.open(paths[1]) as m:
        region, pointing = m.meta.wcsinfo.s_region, pointing_from_model(m)
        scale = 0.9 * pixel_scale_at(m.meta.wcs, pointing.ra_ref, pointing.dec_ref)
    grid = output_wcs([region], pointing, pixel_scale=scale, rotation=30.0)
    path = str(tmp_path / "grid.asdf")
    asdf.AsdfFile({"wcs": grid}).write_to(path)
    ours, theirs = _run_both(asn, output_wcs=path)
    assert ours.data.shape == theirs.data.shape == grid.array_shape
    assert_same_product(ours, theirs)
    shaped = ResampleStep.call(asn, output_wcs=path, output_shape=[90, 80],
                               disable_crds_steppars=True)  # fmt: skip
    assert shaped.data.shape == (80, 90)


def test_single_mode_matches_official(dithered):
    """single=True: one product per exposure group on the common grid, ERR drizzled."""
    _, _, asn = dithered
    ours, theirs = _run_both(asn, single=True, pixel_scale_ratio=0.9)
    with ours, theirs:
        assert len(ours) == len(theirs) == 3
        for k in range(3):
            a, b = ours.borrow(k), theirs.borrow(k)
            assert (
                a.meta.filename
                == b.meta.filename
                == cal_name(k + 1).replace("_cal", "_outlier_i2d")
            )
            for name in ("data", "wht", "err"):
                x, y = getattr(a, name), getattr(b, name)
                assert np.array_equal(np.isnan(x), np.isnan(y)), name
                assert np.median(_relative(x, y)) < 1e-5, name
            assert np.array_equal(a.con, b.con)
            assert not a.hasattr("var_rnoise") and not b.hasattr("var_rnoise")
            assert a.meta.exposure.exposure_time == b.meta.exposure.exposure_time
            # The official count keeps the groups of the earlier products (1, 2, 3): a slip.
            assert a.meta.resample.pointings == 1 and b.meta.resample.pointings == k + 1
            ours.shelve(a, k, modify=False)
            theirs.shelve(b, k, modify=False)
