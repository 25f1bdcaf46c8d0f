"""V2V3-to-sky rotation and velocity-aberration scale: spherical truth and the jwst oracle."""

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord

from webbcal.wcs import (
    Pointing,
    PointingError,
    pc_matrix,
    pointing_from_header,
    v2v3_to_sky,
    va_correction,
)

POINTINGS = [
    Pointing(v2_ref=120.576793, v3_ref=-527.501431, roll_ref=37.25, ra_ref=150.1, dec_ref=2.2),
    Pointing(v2_ref=-300.0, v3_ref=-700.0, roll_ref=291.0, ra_ref=359.995, dec_ref=-71.3),
    Pointing(v2_ref=0.0, v3_ref=0.0, roll_ref=0.0, ra_ref=0.002, dec_ref=89.99),
]


def _sky(ra, dec):
    return SkyCoord(ra * u.deg, dec * u.deg)


@pytest.mark.parametrize("p", POINTINGS)
def test_rotation_preserves_separations_and_turns_v3_to_roll(p):
    """Truth: a rotation keeps angular distances; V3 at the reference point has PA = ROLL_REF."""
    rng = np.random.default_rng(3)
    v2 = p.v2_ref + rng.uniform(-600, 600, 200)
    v3 = p.v3_ref + rng.uniform(-600, 600, 200)
    ra, dec = v2v3_to_sky(p)(v2, v3)
    ref_v = _sky(p.v2_ref / 3600, p.v3_ref / 3600)
    pts_v = _sky(v2 / 3600, v3 / 3600)
    ref_s, pts_s = _sky(p.ra_ref, p.dec_ref), _sky(ra, dec)
    np.testing.assert_allclose(
        ref_s.separation(pts_s).arcsec, ref_v.separation(pts_v).arcsec, rtol=0, atol=1e-7
    )
    pa_sky = ref_s.position_angle(pts_s).deg
    pa_expected = np.mod(p.roll_ref + ref_v.position_angle(pts_v).deg, 360)
    dpa = np.mod(pa_sky - pa_expected + 180, 360) - 180
    assert np.abs(dpa).max() < 1e-6
    assert np.all((ra >= 0) & (ra < 360))
    # The reference point itself.
    r0, d0 = v2v3_to_sky(p)(p.v2_ref, p.v3_ref)
    assert _sky(r0, d0).separation(ref_s).arcsec < 1e-9


@pytest.mark.parametrize("p", POINTINGS)
def test_sky_to_v2v3_round_trip(p):
    m = v2v3_to_sky(p)
    v2 = p.v2_ref + np.linspace(-300, 300, 41)
    v3 = p.v3_ref + np.linspace(300, -300, 41)
    v2b, v3b = m.inverse(*m(v2, v3))
    np.testing.assert_allclose(v2b, v2, rtol=0, atol=1e-7)
    np.testing.assert_allclose(v3b, v3, rtol=0, atol=1e-7)


@pytest.mark.parametrize("scale", [None, 1.0, 1.0000423, 0.99996])
def test_va_correction_scales_about_the_reference_point(scale):
    p = Pointing(v2_ref=120.0, v3_ref=-500.0, roll_ref=0, ra_ref=0, dec_ref=0, va_scale=scale)
    m = va_correction(p)
    v2 = np.array([120.0, 150.0, 60.0])
    v3 = np.array([-500.0, -530.0, -420.0])
    s = 1.0 if scale is None else scale
    a, b = m(v2, v3)
    np.testing.assert_allclose(a, 120.0 + s * (v2 - 120.0), rtol=0, atol=1e-10)
    np.testing.assert_allclose(b, -500.0 + s * (v3 + 500.0), rtol=0, atol=1e-10)
    np.testing.assert_allclose(m.inverse(a, b), (v2, v3), rtol=0, atol=1e-10)


@pytest.mark.jwst_oracle
@pytest.mark.parametrize("p", POINTINGS)
def test_v2v3_to_sky_matches_jwst(p):
    pytest.importorskip("jwst")
    from jwst.assign_wcs import pointing as jp
    from stdatamodels.jwst.datamodels import ImageModel

    model = ImageModel()
    info = model.meta.wcsinfo
    info.v2_ref, info.v3_ref, info.roll_ref = p.v2_ref, p.v3_ref, p.roll_ref
    info.ra_ref, info.dec_ref = p.ra_ref, p.dec_ref
    theirs = jp.v23tosky(model)
    ours = v2v3_to_sky(p)
    rng = np.random.default_rng(5)
    v2 = p.v2_ref + rng.uniform(-200, 200, 300)
    v3 = p.v3_ref + rng.uniform(-200, 200, 300)
    ra1, dec1 = ours(v2, v3)
    ra2, dec2 = theirs(v2, v3)
    assert _sky(ra1, dec1).separation(_sky(ra2, dec2)).to_value(u.mas).max() < 1e-3
    np.testing.assert_allclose(ours.inverse(ra2, dec2), theirs.inverse(ra2, dec2), atol=1e-8)


@pytest.mark.jwst_oracle
@pytest.mark.parametrize("scale", [None, 1.0, 1.0000423])
def test_va_correction_matches_jwst(scale):
    pytest.importorskip("jwst")
    from jwst.assign_wcs.pointing import dva_corr_model

    p = Pointing(v2_ref=50.2, v3_ref=-487.9, roll_ref=0, ra_ref=0, dec_ref=0, va_scale=scale)
    v2, v3 = np.array([0.0, 50.2, 80.0]), np.array([-400.0, -487.9, -520.0])
    theirs = dva_corr_model(scale, p.v2_ref, p.v3_ref)
    np.testing.assert_allclose(va_correction(p)(v2, v3), theirs(v2, v3), rtol=0, atol=1e-12)


def test_pointing_from_real_header(uncal_headers):
    _, sci = uncal_headers("nrca3")
    p = pointing_from_header(sci)
    assert p.v2_ref == 50.232913 and p.v3_ref == -487.942132
    assert p.roll_ref == pytest.approx(198.1658215153997, abs=0)
    assert p.vparity == -1 and p.v3i_yang == 0.30837949
    assert p.va_scale == 1.000004028727276
    # The level-1b PC matrix written by the ground system from the same keywords.
    pc = pc_matrix(p)
    expected = [[sci["PC1_1"], sci["PC1_2"]], [sci["PC2_1"], sci["PC2_2"]]]
    np.testing.assert_allclose(pc, expected, rtol=0, atol=1e-9)


@pytest.mark.jwst_oracle
def test_pc_matrix_matches_jwst():
    pytest.importorskip("jwst")
    from jwst.assign_wcs.util import calc_rotation_matrix

    for vparity in (1, -1):
        p = Pointing(1, 2, 33.3, 4, 5, v3i_yang=-1.25, vparity=vparity)
        theirs = calc_rotation_matrix(np.radians(33.3), np.radians(-1.25), vparity)
        np.testing.assert_allclose(pc_matrix(p).ravel(), theirs, rtol=0, atol=1e-15)


def test_pointing_errors():
    good = {"V2_REF": 1.0, "V3_REF": 2.0, "ROLL_REF": 3.0, "RA_REF": 4.0, "DEC_REF": 5.0}
    with pytest.raises(PointingError, match=r"^f.fits: pointing keyword ROLL_REF is missing$"):
        pointing_from_header({k: v for k, v in good.items() if k != "ROLL_REF"}, where="f.fits")
    with pytest.raises(PointingError, match=r"header: RA_REF='abc': expected a number"):
        pointing_from_header({**good, "RA_REF": "abc"})
    with pytest.raises(PointingError, match=r"DEC_REF=95.0: expected -90 <= DEC_REF <= 90"):
        pointing_from_header({**good, "DEC_REF": 95.0})
    with pytest.raises(PointingError, match=r"VPARITY=0: expected 1 or -1"):
        pointing_from_header({**good, "VPARITY": 0})
    with pytest.raises(PointingError, match=r"VA_SCALE=-1.0: expected a positive number"):
        pointing_from_header({**good, "VA_SCALE": -1})
    with pytest.raises(PointingError, match=r"V2_REF=nan: expected a finite number"):
        Pointing(float("nan"), 0, 0, 0, 0)
    with pytest.raises(PointingError, match=r"ROLL_REF='x': expected a finite number"):
        Pointing(0, 0, "x", 0, 0)
    with pytest.raises(PointingError, match="pc_matrix needs V3I_YANG and VPARITY"):
        pc_matrix(pointing_from_header(good))
    assert pointing_from_header({**good, "VA_SCALE": None}).va_scale is None
    assert pointing_from_header({**good, "VA_SCALE": " "}).va_scale is None


def test_pointing_from_model_names_the_missing_keyword():
    from stdatamodels.jwst.datamodels import ImageModel

    from webbcal.wcs import pointing_from_model

    model = ImageModel()
    model.meta.filename = "jw_test_rate.fits"
    info = model.meta.wcsinfo
    info.v2_ref, info.v3_ref, info.roll_ref, info.dec_ref = 1.0, 2.0, 3.0, 4.0
    with pytest.raises(
        PointingError, match=r"^jw_test_rate.fits meta.wcsinfo: pointing keyword RA_REF is missing$"
    ):
        pointing_from_model(model)
    info.ra_ref = 5.0
    info.v3yangle, info.vparity = 0.5, -1
    model.meta.velocity_aberration.scale_factor = 1.00001
    assert pointing_from_model(model) == Pointing(1.0, 2.0, 3.0, 5.0, 4.0, 0.5, -1, 1.00001)
