"""simulate_dithered_cals: the _cal files carry the injected stars, sky levels, cosmic rays
and pointing errors that the image3 steps must recover."""

from __future__ import annotations

import json

import numpy as np
import pytest
from stdatamodels.jwst import datamodels as dm

from _shared_paths import REAL
from webbcal.simulate.dithers import simulate_dithered_cals

SIAF_DIR = REAL / "pysiaf-siafxml"
ERRORS = ((0.0, 0.0), (0.06, -0.03), (0.02, 0.05), (-0.04, 0.01))
SKY = (0.1, 0.2, 0.15, 0.3)


@pytest.fixture(scope="module")
def dither_set(tmp_path_factory):
    if not (SIAF_DIR / "NIRCam_SIAF.xml").is_file():
        pytest.skip("shared SIAF XML not found")
    return simulate_dithered_cals(
        tmp_path_factory.mktemp("dithers"), SIAF_DIR, pointing_errors=ERRORS, sky=SKY,
        n_cosmic_rays=4, noise=0.0, seed=2,
    )  # fmt: skip


def test_association_lists_every_cal_as_science(dither_set):
    asn = json.loads(dither_set.asn_path.read_text())
    members = asn["products"][0]["members"]
    assert [m["expname"] for m in members] == [p.name for p in dither_set.cal_paths]
    assert {m["exptype"] for m in members} == {"science"}
    assert asn["products"][0]["name"] == dither_set.product_name


def test_header_wcs_is_shifted_by_the_pointing_error(dither_set):
    """A star's true pixel, seen through the header WCS, is off by the pointing error."""
    star = dither_set.stars[0]
    dec = np.radians(star.dec)
    for k, path in enumerate(dither_set.cal_paths):
        with dm.open(str(path)) as cal:
            x, y = dither_set.true_wcs[k].invert(star.ra, star.dec)
            ra, dec_deg = cal.meta.wcs(x, y)
        shift = np.array([(ra - star.ra) * np.cos(dec), dec_deg - star.dec]) * 3600.0
        np.testing.assert_allclose(shift, ERRORS[k], atol=2e-4)


def test_sky_cosmic_rays_and_units(dither_set):
    for k, path in enumerate(dither_set.cal_paths):
        with dm.open(str(path)) as cal:
            assert cal.meta.bunit_data == "MJy/sr"
            data = np.asarray(cal.data, float)
            assert np.nanmedian(data) == pytest.approx(SKY[k], rel=0.02)
            hits = dither_set.cosmic_rays[k]
            assert hits.shape == (4, 2)
            assert (data[hits[:, 0], hits[:, 1]] > 50 * SKY[k]).all()
            assert not (cal.dq[hits[:, 0], hits[:, 1]] & 1).any()
