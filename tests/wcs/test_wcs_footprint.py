"""Footprints and S_REGION: the official string, a real ground-system S_REGION, overlaps."""

import copy
import dataclasses

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord

from webbcal.wcs import (
    FootprintError,
    Pointing,
    distortion_from_siaf,
    footprint,
    footprint_polygon,
    footprints_overlap,
    imaging_wcs,
    overlap_fraction,
    parse_s_region,
    pointing_from_header,
    read_siaf_aperture,
    s_region,
    s_region_from_wcs,
)


def test_footprint_corners_are_the_pixel_edges(nrca1_wcs):
    corners = footprint(nrca1_wcs)
    expected = np.array(
        nrca1_wcs(
            [-0.5, -0.5, 2047.5, 2047.5], [-0.5, 2047.5, 2047.5, -0.5], with_bounding_box=False
        )
    ).T
    np.testing.assert_array_equal(corners, expected)
    centres = footprint(nrca1_wcs, center=True)
    np.testing.assert_allclose(
        centres, np.array(nrca1_wcs([0, 0, 2047, 2047], [0, 2047, 2047, 0])).T
    )
    text = s_region_from_wcs(nrca1_wcs)
    assert text.startswith("POLYGON ICRS  ")
    np.testing.assert_allclose(parse_s_region(text), corners, rtol=0, atol=1e-9)


@pytest.mark.jwst_oracle
@pytest.mark.parametrize("ra_ref", [150.1, 0.004, 359.996])
def test_s_region_matches_the_official(nrca1, ra_ref):
    pytest.importorskip("jwst")
    from stcal.alignment.util import compute_s_region_imaging

    p = Pointing(nrca1.v2_ref, nrca1.v3_ref, 12.5, ra_ref, -30.0, va_scale=0.99997)
    for shape, start in [((2048, 2048), (1, 1)), ((160, 320), (1025, 513))]:
        w = imaging_wcs(distortion_from_siaf(nrca1), p, shape=shape, subarray_start=start)
        assert s_region_from_wcs(w) == compute_s_region_imaging(w, center=False)


def test_footprint_matches_real_ground_system_s_region(nircam_siaf, uncal_headers):
    """The ground system wrote S_REGION of this real exposure from the SIAF vertices of
    NRCA3_FULL_WEDGE_RND. With the reference point and angle of the header (its PRD),
    our footprint of the full detector agrees to a few mas (newer PRD polynomials)."""
    primary, sci = uncal_headers("nrca3")
    ap = read_siaf_aperture(nircam_siaf, primary["APERNAME"])
    ap = dataclasses.replace(
        ap, v2_ref=sci["V2_REF"], v3_ref=sci["V3_REF"], v3_idl_yangle=sci["V3I_YANG"]
    )
    w = imaging_wcs(distortion_from_siaf(ap), pointing_from_header(sci), shape=(2048, 2048))
    ours = footprint(w)
    theirs = parse_s_region(sci["S_REGION"])
    c_ours = SkyCoord(ours[:, 0] * u.deg, ours[:, 1] * u.deg)
    for ra, dec in theirs:
        nearest = SkyCoord(ra * u.deg, dec * u.deg).separation(c_ours).min()
        assert nearest.to_value(u.mas) < 5.0
    assert overlap_fraction(ours, sci["S_REGION"]) > 0.999


def _square(ra, dec, half):
    """Corners of a small square (degrees) centred on (ra, dec), RA steps scaled by cos(dec)."""
    dra = half / np.cos(np.radians(dec))
    return np.array(
        [
            [ra - dra, dec - half],
            [ra - dra, dec + half],
            [ra + dra, dec + half],
            [ra + dra, dec - half],
        ]
    ) % [360, 360]


@pytest.mark.parametrize("ra", [150.0, 0.0, 359.99])
def test_overlaps_on_the_sphere(ra):
    a = _square(ra, 10.0, 0.01)
    shifted = _square(ra + 0.01 / np.cos(np.radians(10.0)), 10.0, 0.01)  # half a width east
    far = _square(ra + 1.0, 10.0, 0.01)
    assert footprints_overlap(a, shifted) and not footprints_overlap(a, far)
    assert overlap_fraction(a, a) == pytest.approx(1.0, abs=1e-9)
    assert overlap_fraction(a, shifted) == pytest.approx(0.5, abs=1e-3)
    assert overlap_fraction(a, far) == 0.0
    area_deg2 = footprint_polygon(a).area() * (180 / np.pi) ** 2
    assert area_deg2 == pytest.approx(0.02**2, rel=1e-3)
    assert footprints_overlap(s_region(a), footprint_polygon(shifted))


def test_nircam_footprint_area_and_self_overlap(nrca1_wcs):
    poly = footprint_polygon(footprint(nrca1_wcs))
    area_arcsec2 = poly.area() * (180 / np.pi * 3600) ** 2
    # About 63.7" x 64.2" (SIAF ideal vertices of NRCA1_FULL), scaled by VA_SCALE.
    assert area_arcsec2 == pytest.approx(64.25 * 64.2, rel=0.01)
    # S_REGION keeps 9 decimals (4 micro-arcsec): the overlap with itself is 1 to 1e-7.
    assert overlap_fraction(footprint(nrca1_wcs), s_region_from_wcs(nrca1_wcs)) == pytest.approx(
        1.0, abs=1e-7
    )


def test_footprint_errors(nrca1_wcs):
    with pytest.raises(FootprintError, match=r"corners have shape \(2, 2\), expected"):
        s_region([[1, 2], [3, 4]])
    with pytest.raises(FootprintError, match="corners are not all finite"):
        s_region([[1, 2], [3, np.nan], [4, 5]])
    with pytest.raises(FootprintError, match="S_REGION='CIRCLE 1 2 3': expected 'POLYGON"):
        parse_s_region("CIRCLE 1 2 3")
    with pytest.raises(FootprintError, match="vertices are not all numbers"):
        parse_s_region("POLYGON ICRS 1 2 3 x 5 6")
    with pytest.raises(FootprintError, match="expected at least 3"):
        parse_s_region("POLYGON ICRS 1 2 3 4 5")
    no_bbox = copy.deepcopy(nrca1_wcs)
    no_bbox.bounding_box = None
    with pytest.raises(FootprintError, match="no bounding_box and no shape"):
        footprint(no_bbox)
    assert footprint(no_bbox, shape=(2048, 2048)) == pytest.approx(footprint(nrca1_wcs))
