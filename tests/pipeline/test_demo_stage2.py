"""``webbcal demo`` through calwebb_image2: stars injected at known RA/Dec come back on the
_cal at those positions and fluxes; the i2d quick look has RA/Dec axes."""

from __future__ import annotations

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import fits

from webbcal.cli import main

ROOT = "jw01234001001_01101_00001_nrca1"


def _fits_wcs(path):
    """The SCI header's FITS WCS (astropy's DATE-* fix-up notices silenced)."""
    import warnings

    from astropy.wcs import WCS, FITSFixedWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        return WCS(fits.getheader(path, "SCI"))


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from webbcal.demo import run_demo

    return run_demo(tmp_path_factory.mktemp("demo2"), subarray="SUB160P", progress=False)


def test_products_and_summary(demo):
    s2 = demo.stage2
    assert s2 is not None
    assert s2.cal.name == f"{ROOT}_cal.fits" and s2.i2d.name == f"{ROOT}_i2d.fits"
    assert s2.quicklook.name == f"{ROOT}_i2d.png"
    assert s2.quicklook.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    primary = fits.getheader(s2.cal)
    assert (primary["S_WCS"], primary["S_FLAT"], primary["S_PHOTOM"]) == ("COMPLETE",) * 3
    # Every stage-2 reference came from the demo's own context, none overridden.
    for key in ("R_DISTOR", "R_FILOFF", "R_FLAT", "R_PHOTOM", "R_AREA"):
        assert primary[key].startswith("crds://webbcal_nrca1_"), key
    assert fits.getheader(s2.i2d)["S_RESAMP"] == "COMPLETE"
    text = str(demo)
    assert "9 stars at known RA/Dec" in text and "i2d picture" in text


def test_pointing_keywords_follow_the_siaf_aperture(demo):
    from webbcal.wcs.siaf import packaged_siaf_aperture

    ap = packaged_siaf_aperture("NRCA1_FULL")
    sci = fits.getheader(demo.rate, "SCI")
    primary = fits.getheader(demo.uncal)
    assert primary["APERNAME"] == "NRCA1_FULL"
    assert (sci["V2_REF"], sci["V3_REF"]) == (ap.v2_ref, ap.v3_ref)
    assert (sci["V3I_YANG"], sci["VPARITY"]) == (ap.v3_idl_yangle, ap.vidl_parity)
    assert (sci["RA_REF"], sci["DEC_REF"], sci["ROLL_REF"]) == (150.1, 2.2, 37.25)
    assert sci["VA_SCALE"] == pytest.approx(1.00003)
    # NRCA1_FULL in PRD-075: reference point near (V2, V3) = (120.6, -527.5) arcsec.
    assert ap.v2_ref == pytest.approx(120.6, abs=0.5) and ap.v3_ref == pytest.approx(-527.5, abs=1)


def test_stars_recovered_at_their_injected_positions_and_fluxes(demo):
    s2 = demo.stage2
    offsets = np.asarray(s2.offsets_mas)
    assert offsets.size == 9 and np.all(np.isfinite(offsets))
    assert offsets.max() < 2.0  # mas; a 0.1-pixel error of the WCS would be 3 mas
    ratio = s2.flux_ratios
    assert np.all(np.abs(ratio - 1) < 0.01)
    assert abs(np.median(ratio) - 1) < 0.003
    # Injected flux in MJy/sr: e-/s over the gain, times PHOTMJSR of F200W/CLEAR.
    assert np.median(s2.injected_mjysr) > 1000


def test_stars_lie_where_the_i2d_fits_wcs_says(demo):
    """Independent of the pipeline's measurement: the brightest i2d pixel near each star."""
    s2 = demo.stage2
    data, wcs = fits.getdata(s2.i2d, "SCI"), _fits_wcs(s2.i2d)
    x, y = wcs.world_to_pixel(SkyCoord(np.array(s2.ra) * u.deg, np.array(s2.dec) * u.deg))
    for xi, yi in zip(x, y, strict=True):
        ix, iy = round(float(xi)), round(float(yi))
        box = data[iy - 3 : iy + 4, ix - 3 : ix + 4]
        py, px = np.unravel_index(np.nanargmax(box), box.shape)
        assert abs(px - 3 + ix - xi) <= 1.0 and abs(py - 3 + iy - yi) <= 1.0


def test_quicklook_draws_ra_dec_axes_on_the_i2d(demo, tmp_path):
    from astropy.visualization.wcsaxes import WCSAxes

    from webbcal.tools.quicklook import image_figure

    s2 = demo.stage2
    fig = image_figure(str(s2.i2d), markers=list(zip(s2.ra, s2.dec, strict=True)))
    ax = fig.axes[0]
    assert isinstance(ax, WCSAxes)
    assert ax.coords[0].get_axislabel() == "RA (ICRS)"
    assert ax.coords[1].get_axislabel() == "Dec (ICRS)"
    assert ax.coords[0].coord_type == "longitude" and ax.coords[1].coord_type == "latitude"
    # The markers sit at the pixels the i2d's WCS gives for the stars.
    wcs = _fits_wcs(s2.i2d)
    x, y = wcs.world_to_pixel(SkyCoord(s2.ra[0] * u.deg, s2.dec[0] * u.deg))
    (points,) = [c for c in ax.collections if c.get_offsets().shape == (9, 2)]
    disp = points.get_offset_transform().transform(points.get_offsets()[:1])
    assert np.allclose(ax.transData.inverted().transform(disp)[0], [x, y], atol=1e-6)
    # The command line: RA/Dec by default, pixel axes with --no-wcs and on the rate.
    out = tmp_path / "i2d.png"
    assert main(["quicklook", str(s2.i2d), "-o", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["quicklook", str(s2.cal), "--no-wcs", "-o", str(tmp_path / "c.png")]) == 0
    plain = image_figure(str(s2.cal), wcs=False).axes[0]
    assert not isinstance(plain, WCSAxes) and plain.get_xlabel() == "x (pixel)"
    cal_axes = image_figure(str(s2.cal)).axes[0]
    assert isinstance(cal_axes, WCSAxes) and "RA" in cal_axes.coords[0].get_axislabel()
    # A rate carries the pointing's linear FITS WCS but no assigned WCS: pixel axes.
    rate_axes = image_figure(str(demo.rate)).axes[0]
    assert not isinstance(rate_axes, WCSAxes) and rate_axes.get_ylabel() == "y (pixel)"


def test_packaged_siaf_matches_the_prd_xml():
    from _shared_paths import REAL
    from webbcal.wcs.siaf import SiafError, packaged_siaf_aperture, read_siaf_aperture

    xml = REAL / "pysiaf-siafxml" / "NIRCam_SIAF.xml"
    if not xml.is_file():
        pytest.skip("shared SIAF XML not found")
    assert packaged_siaf_aperture("NRCA1_FULL") == read_siaf_aperture(xml, "NRCA1_FULL")
    # imaging_setup without a SIAF folder uses the packaged aperture.
    from webbcal.simulate.imaging import imaging_setup

    assert imaging_setup("NRCA1_FULL", None) == imaging_setup("NRCA1_FULL", xml.parent)
    with pytest.raises(SiafError, match="no aperture named 'NRCB5_FULL'.*NRCA1_FULL"):
        packaged_siaf_aperture("NRCB5_FULL")
