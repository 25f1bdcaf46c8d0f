"""Output (resample) grids: geometric truth and the stcal/jwst oracle."""

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord

from webbcal.wcs import (
    Pointing,
    PointingError,
    distortion_from_siaf,
    fiducial_from_footprints,
    footprint,
    imaging_wcs,
    output_wcs,
    pixel_scale_at,
    s_region_from_wcs,
)


@pytest.fixture(scope="module")
def dithers(nrca1, nrca1_pointing):
    """Two NRCA1 exposures 20" apart."""
    p2 = Pointing(
        nrca1.v2_ref,
        nrca1.v3_ref,
        37.3,
        150.1 + 20 / 3600,
        2.2 - 10 / 3600,
        v3i_yang=nrca1.v3_idl_yangle,
        vparity=nrca1.vidl_parity,
    )
    dist = distortion_from_siaf(nrca1)
    w1 = imaging_wcs(dist, nrca1_pointing, shape=(2048, 2048))
    w2 = imaging_wcs(dist, p2, shape=(2048, 2048))
    return w1, w2


def _sky(ra, dec):
    return SkyCoord(np.asarray(ra) * u.deg, np.asarray(dec) * u.deg)


def test_north_up_grid_covers_all_inputs(dithers, nrca1_pointing):
    w1, w2 = dithers
    scale = pixel_scale_at(w1, nrca1_pointing.ra_ref, nrca1_pointing.dec_ref)
    assert scale * 3600 == pytest.approx(0.0312, abs=0.0005)  # NIRCam SW, about 31 mas
    out = output_wcs([footprint(w1), s_region_from_wcs(w2)], nrca1_pointing,
                     pixel_scale=scale, rotation=0.0)  # fmt: skip
    nx, ny = out.pixel_shape
    (x0, x1), (y0, y1) = out.bounding_box.bounding_box(order="F")
    corners = np.vstack([footprint(w) for w in dithers])
    x, y = out.invert(*corners.T, with_bounding_box=False)
    # The lowest corner is at pixel 0; as in the official grid, the shape rounds the highest
    # corner to the nearest pixel centre, so it may lie up to one pixel beyond the last edge.
    # (the second footprint went through S_REGION: 9 decimals, 1e-4 pixel)
    assert x.min() == pytest.approx(0.0, abs=1e-3) and y.min() == pytest.approx(0.0, abs=1e-3)
    assert x.max() <= x1 + 1.0 and y.max() <= y1 + 1.0
    assert (x0, y0) == (-0.5, -0.5)
    # North up, east left; one pixel is `scale` degrees.
    cx, cy = nx / 2, ny / 2
    c, up, right = _sky(*out([cx, cx, cx + 1], [cy, cy + 1, cy]))
    assert c.position_angle(up).deg == pytest.approx(0.0, abs=1e-6)
    assert c.position_angle(right).deg == pytest.approx(270.0, abs=1e-6)
    assert c.separation(up).deg == pytest.approx(scale, rel=1e-6)


def test_default_orientation_follows_the_detector(dithers, nrca1_pointing):
    w1, _ = dithers
    out = output_wcs([footprint(w1)], nrca1_pointing, pixel_scale=3e-5 / 3.6)
    # The detector's +y axis points near PA = ROLL_REF - V3I_YANG (VPARITY = -1) on the sky.
    a, b = _sky(*w1([1024, 1024], [1024, 1034]))
    c, d = _sky(*out([500, 500], [500, 510]))
    pa_det, pa_out = a.position_angle(b).deg, c.position_angle(d).deg
    assert abs((pa_det - pa_out + 180) % 360 - 180) < 0.1


def test_fiducial_across_ra_zero():
    fps = [np.array([[359.99, -1.0], [359.99, 1.0], [0.03, 1.0], [0.03, -1.0]])]
    ra, dec = fiducial_from_footprints(fps)
    assert ra == pytest.approx(0.01, abs=1e-9) and dec == pytest.approx(0.0, abs=1e-12)


def test_output_grid_errors(nrca1_pointing):
    fp = [np.array([[1.0, 1.0], [1.0, 1.1], [1.1, 1.1]])]
    with pytest.raises(ValueError, match=r"pixel_scale=0: expected a positive number"):
        output_wcs(fp, nrca1_pointing, pixel_scale=0)
    with pytest.raises(ValueError, match="footprints is empty"):
        fiducial_from_footprints([])
    with pytest.raises(ValueError, match=r"expected \(n, 2\) finite"):
        output_wcs([np.array([[1.0, np.nan]])], nrca1_pointing, pixel_scale=1e-5)
    with pytest.raises(ValueError, match=r"computed output shape \(0, 0\) is smaller than 2 x 2"):
        output_wcs(fp, nrca1_pointing, pixel_scale=1.0)
    bare = Pointing(0, 0, 10.0, 1.0, 1.0)
    with pytest.raises(PointingError, match="rotation needs V3I_YANG and VPARITY"):
        output_wcs(fp, bare, pixel_scale=1e-3, rotation=0.0)


@pytest.mark.jwst_oracle
@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"rotation": 0.0},
        {"rotation": 33.0, "crpix": (100.0, 200.0), "shape": (1000, 1500)},
        {"crval": (150.11, 2.19)},
    ],  # fmt: skip
)
def test_output_grid_matches_stcal(dithers, nrca1_pointing, kwargs):
    pytest.importorskip("jwst")
    from stcal.alignment.util import compute_scale, wcs_from_sregions

    w1, w2 = dithers
    p = nrca1_pointing
    fps = [footprint(w1), s_region_from_wcs(w2)]
    info = {"v3yangle": p.v3i_yang, "vparity": p.vparity, "roll_ref": p.roll_ref,
            "ra_ref": p.ra_ref, "dec_ref": p.dec_ref}  # fmt: skip
    their_scale = compute_scale(w1, (p.ra_ref, p.dec_ref), pscale_ratio=0.7)
    our_scale = 0.7 * pixel_scale_at(w1, p.ra_ref, p.dec_ref)
    assert our_scale == pytest.approx(their_scale, rel=1e-12)
    theirs = wcs_from_sregions(fps, w1, info, pscale=their_scale, **kwargs)
    ours = output_wcs(fps, p, pixel_scale=our_scale, **kwargs)
    assert ours.pixel_shape == theirs.pixel_shape
    assert ours.bounding_box.bounding_box(order="F") == theirs.bounding_box.bounding_box(order="F")
    nx, ny = ours.pixel_shape
    y, x = np.mgrid[0:ny:97, 0:nx:97].astype(float)
    a, b = _sky(*ours(x, y)), _sky(*theirs(x, y))
    assert a.separation(b).to_value(u.mas).max() < 1e-3
