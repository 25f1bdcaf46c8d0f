"""assign_wcs against truth: injected stars, SIAF reference points and the saved product."""

from __future__ import annotations

import os

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.wcs import WCS

from webbcal.assign_wcs import AssignWcsStep
from webbcal.simulate.imaging import SkyStar


def _sep_mas(ra1, dec1, ra2, dec2):
    a = SkyCoord(np.ravel(ra1) * u.deg, np.ravel(dec1) * u.deg)
    return a.separation(SkyCoord(np.ravel(ra2) * u.deg, np.ravel(dec2) * u.deg)).to_value(u.mas)


def _centroid(image, x, y, half=8):
    """Centre of mass in a (2 half + 1)^2 window: exact for a noise-free, sky-free
    pixel-integrated Gaussian of sigma ~1 pixel well inside the window."""
    xc, yc = int(round(x)), int(round(y))
    win = image[yc - half : yc + half + 1, xc - half : xc + half + 1].astype(np.float64)
    yy, xx = np.mgrid[yc - half : yc + half + 1, xc - half : xc + half + 1]
    return float((win * xx).sum() / win.sum()), float((win * yy).sum() / win.sum())


def _stars_around(ra, dec, roll, offsets_arcsec):
    centre = SkyCoord(ra * u.deg, dec * u.deg)
    stars = []
    for pa, dist in offsets_arcsec:
        s = centre.directional_offset_by((roll + pa) * u.deg, dist * u.arcsec)
        stars.append(SkyStar(float(s.ra.deg), float(s.dec.deg), 1000.0, sigma=1.0))
    return [SkyStar(ra, dec, 1000.0, sigma=1.0), *stars]


@pytest.mark.parametrize(
    ("aperture", "kwargs", "max_sep", "inverse_tol"),
    [
        ("NRCA1_FULL", dict(), [(0, 25.0), (90, 20.0), (200, 28.0), (315, 12.0)], 1e-3),
        ("NRCA1_SUB640", dict(filter_offset=(0.6, -0.4)), [(45, 6.0), (160, 8.0)], 1e-3),
        # The MIRIM_FULL Idl2Sci polynomials invert Sci2Idl to about 5e-3 pixel.
        ("MIRIM_FULL", dict(filter_offset=(2.0, -3.0)), [(30, 40.0), (180, 45.0)], 1e-2),
    ],
)
def test_injected_stars_are_found_at_their_sky_positions(
    make_case, aperture, kwargs, max_sep, inverse_tol
):
    ra0, dec0, roll = 150.1, 2.2, 37.25
    stars = _stars_around(ra0, dec0, roll, max_sep)
    case = make_case(aperture, ra_ref=ra0, dec_ref=dec0, roll_ref=roll, stars=stars, **kwargs)
    assert np.all(np.isfinite(case.sim.star_xy))  # every star on the array
    result = AssignWcsStep.call(os.fspath(case.rate), **case.overrides())
    wcs = result.meta.wcs
    ap = case.sim.setup.aperture
    # Independent truth (SIAF definition): the sky position RA_REF, DEC_REF is seen at
    # the aperture's reference pixel, moved by the filter offset that the WCS applies
    # before the distortion.
    col, row = kwargs.get("filter_offset", (0.0, 0.0))
    x_ref, y_ref = _centroid(result.data, *case.sim.star_xy[0])
    expected = (ap.xsci_ref - 1 - col, ap.ysci_ref - 1 - row)
    tol = 1e-3 if not case.sim.setup.is_subarray else 2e-3  # sub vs full SIAF polynomials
    assert np.hypot(x_ref - expected[0], y_ref - expected[1]) < tol
    for star, (x, y) in zip(stars, case.sim.star_xy, strict=True):
        xc, yc = _centroid(result.data, x, y)
        ra, dec = wcs(xc, yc)
        assert _sep_mas(ra, dec, star.ra, star.dec)[0] < 0.1
        xi, yi = wcs.invert(star.ra, star.dec)
        assert np.hypot(xi - xc, yi - yc) < inverse_tol


def test_saved_product_reads_back_with_stdatamodels_and_astropy(make_case, tmp_path):
    from stdatamodels.jwst.datamodels import ImageModel

    case = make_case("NRCA1_SUB640", filter_offset=(0.25, 0.5))
    out = tmp_path / "out"
    result = AssignWcsStep.call(
        os.fspath(case.rate), **case.overrides(), save_results=True, output_dir=os.fspath(out)
    )
    path = out / case.rate.name.replace("_rate.fits", "_assign_wcs.fits")
    assert path.is_file()
    w = result.meta.wcs
    y, x = np.mgrid[-0.5:640:31.9, -0.5:640:31.9]
    with ImageModel(os.fspath(path)) as back:
        assert back.meta.cal_step.assign_wcs == "COMPLETE"
        assert back.meta.ref_file.distortion.name == case.overrides()["override_distortion"]
        wb = back.meta.wcs
        assert wb.available_frames == ["detector", "v2v3", "v2v3vacorr", "world"]
        np.testing.assert_array_equal(wb(x, y), w(x, y))
        assert wb.bounding_box.bounding_box(order="F") == w.bounding_box.bounding_box(order="F")
        assert back.meta.wcsinfo.s_region == result.meta.wcsinfo.s_region
        max_err = back.meta.wcsinfo.sipmxerr
        max_inv = back.meta.wcsinfo.sipiverr
    # As jdaviz reads it: the ASDF tree embedded in the FITS file, without a data model.
    from stdatamodels import asdf_in_fits

    with fits.open(path) as hdul, asdf_in_fits.open(hdul) as af:
        wj = af.tree["meta"]["wcs"]
        np.testing.assert_array_equal(wj(x, y), w(x, y))
        assert wj.output_frame.name == "world"
    # The FITS SIP header of SCI, read by astropy alone, agrees within its stated errors.
    header = fits.getheader(path, "SCI")
    assert header["CTYPE1"] == "RA---TAN-SIP" and header["A_ORDER"] >= 2
    fw = WCS(header)
    ra_g, dec_g = w(x, y)
    ra_f, dec_f = fw.all_pix2world(x, y, 0)
    scale_mas = 31.0  # NIRCam short-wavelength pixel, mas
    assert _sep_mas(ra_f, dec_f, ra_g, dec_g).max() < max_err * scale_mas * 1.05
    xf, yf = fw.all_world2pix(ra_g, dec_g, 0)
    assert np.hypot(xf - x, yf - y).max() < max(max_err, max_inv) * 2
    assert max_err <= 0.01 and max_inv <= 0.01


def test_timeseries_cube_gets_the_wcs_of_its_frames(make_case):
    case = make_case("MIRIM_BRIGHTSKY", filter_offset=(0.1, 0.2), nints=2,
                     stars=[SkyStar(150.1, 2.2, 500.0)])  # fmt: skip
    result = AssignWcsStep.call(os.fspath(case.rate), **case.overrides())
    assert result.data.shape == (2, 512, 512)
    assert result.meta.cal_step.assign_wcs == "COMPLETE"
    ra, dec = result.meta.wcs(*case.sim.star_xy[0])
    assert _sep_mas(ra, dec, 150.1, 2.2)[0] < 1e-3
    assert result.meta.wcsinfo.s_region.startswith("POLYGON ICRS  ")


@pytest.mark.parametrize(
    ("aperture", "subarray", "start", "shape"),
    [
        # SUBSTRT of real MIRI SUB64 and NIRISS SUB80 products; NRCA1 SUB160: the SIAF
        # detector corner (XDetRef 80.5, YDetRef 1968.5, DetSciParity -1) in DMS orientation.
        ("MIRIM_SUB64", "SUB64", (1, 779), (64, 72)),
        ("NIS_AMI1", "SUB80", (1045, 1), (80, 80)),
        ("NRCA1_SUB160", "SUB160", (1889, 1889), (160, 160)),
        ("NRCA1_FULL", "FULL", (1, 1), (2048, 2048)),
        ("MIRIM_FULL", "FULL", (1, 1), (1024, 1032)),
    ],
)
def test_simulated_subarray_geometry(siaf_dir, aperture, subarray, start, shape):
    from webbcal.simulate.imaging import imaging_setup

    setup = imaging_setup(aperture, siaf_dir)
    assert (setup.subarray, (setup.xstart, setup.ystart), setup.shape) == (subarray, start, shape)


def test_simulator_rejects_unknown_apertures(siaf_dir):
    from webbcal.simulate.imaging import imaging_setup

    with pytest.raises(ValueError, match=r"aperture='NRS1_FULL': expected a NIRCam"):
        imaging_setup("NRS1_FULL", siaf_dir)
