"""Imaging gwcs: frames, truth (known stars, round trips) and the jwst assign_wcs oracle."""

import asdf
import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.modeling import models

from webbcal.wcs import (
    ImagingWcsError,
    distortion_from_siaf,
    filter_offset,
    imaging_wcs,
    imaging_wcs_from_model,
    pointing_from_header,
    read_distortion,
    read_siaf_aperture,
)


def _sep_mas(ra1, dec1, ra2, dec2):
    a = SkyCoord(ra1 * u.deg, dec1 * u.deg)
    return a.separation(SkyCoord(ra2 * u.deg, dec2 * u.deg)).to_value(u.mas)


def test_frames_are_the_official_ones(nrca1_wcs):
    w = nrca1_wcs
    assert w.available_frames == ["detector", "v2v3", "v2v3vacorr", "world"]
    assert w.input_frame.unit == (u.pix, u.pix)
    v2v3 = w.v2v3
    assert v2v3.axes_names == ("v2", "v3") and v2v3.unit == (u.arcsec, u.arcsec)
    assert w.v2v3vacorr.unit == (u.arcsec, u.arcsec)
    assert w.output_frame.reference_frame.name == "icrs"
    assert w.output_frame.unit == (u.deg, u.deg)
    assert w.bounding_box.bounding_box(order="F") == ((-0.5, 2047.5), (-0.5, 2047.5))


def test_known_stars_land_on_expected_pixels(nrca1, nrca1_pointing, nrca1_wcs):
    """Truth from spherical offsets: a star d arcsec from the reference point along PA roll
    (the +V3 direction) is at V2V3 (V2_REF, V3_REF + d / VA_SCALE) before the DVA scale."""
    p, w = nrca1_pointing, nrca1_wcs
    dist = distortion_from_siaf(nrca1)
    ref = SkyCoord(p.ra_ref * u.deg, p.dec_ref * u.deg)
    # The reference star sits on the SIAF reference pixel.
    x0, y0 = w.invert(p.ra_ref, p.dec_ref)
    assert (x0, y0) == pytest.approx((nrca1.xsci_ref - 1, nrca1.ysci_ref - 1), abs=1e-6)
    # Along V3 the offset follows the meridian V2 = V2_REF, a great circle: exact.
    for d in (20.0, -25.0, 31.0):
        star = ref.directional_offset_by(p.roll_ref * u.deg, d * u.arcsec)
        x, y = w.invert(star.ra.deg, star.dec.deg)
        xe, ye = dist.inverse(p.v2_ref, p.v3_ref + d / p.va_scale)
        assert np.hypot(x - xe, y - ye) < 1e-6
        ra, dec = w(x, y)
        assert _sep_mas(ra, dec, star.ra.deg, star.dec.deg) < 0.1


def test_round_trip_pixel_sky_pixel(nrca1_wcs):
    y, x = np.mgrid[-0.5:2048:47.0, -0.5:2048:47.0]
    xb, yb = nrca1_wcs.invert(*nrca1_wcs(x, y))
    # Limited by the SIAF Idl2Sci inverse polynomials (6e-4 pixel for NRCA1).
    assert np.nanmax(np.hypot(xb - x, yb - y)) < 1e-3


def test_subarray_and_filter_offset_compose_before_the_distortion(nrca1, nrca1_pointing):
    dist = distortion_from_siaf(nrca1)
    full = imaging_wcs(dist, nrca1_pointing, shape=(2048, 2048))
    sub = imaging_wcs(
        dist,
        nrca1_pointing,
        shape=(160, 320),
        subarray_start=(1025, 513),
        filter_offset=(0.5, -1.25),
    )
    assert sub.bounding_box.bounding_box(order="F") == ((-0.5, 319.5), (-0.5, 159.5))
    x, y = np.array([0.0, 100.0, 319.0]), np.array([0.0, 80.0, 159.0])
    ra1, dec1 = sub(x, y)
    ra2, dec2 = full(x + 1024 + 0.5, y + 512 - 1.25)
    assert _sep_mas(ra1, dec1, ra2, dec2).max() < 1e-6
    assert np.isnan(sub(400.0, 10.0)[0])  # outside the subarray's bounding box


def test_full_frame_keeps_the_distortion_bounding_box(nrca1, nrca1_pointing):
    dist = distortion_from_siaf(nrca1)
    dist.bounding_box = ((4.5, 2043.5), (3.5, 2044.5))  # C order: (y, x)
    w = imaging_wcs(dist, nrca1_pointing, shape=(2048, 2048))
    assert w.bounding_box.bounding_box(order="F") == ((3.5, 2044.5), (4.5, 2043.5))


def test_wcs_survives_asdf(tmp_path, nrca1_wcs):
    path = tmp_path / "wcs.asdf"
    asdf.AsdfFile({"wcs": nrca1_wcs}).write_to(path)
    with asdf.open(path) as af:
        back = af["wcs"]
        x, y = np.array([0.0, 1024.0]), np.array([2047.0, 3.0])
        np.testing.assert_array_equal(back(x, y), nrca1_wcs(x, y))
        assert back.available_frames == nrca1_wcs.available_frames


def test_imaging_errors(tmp_path, nrca1, nrca1_pointing):
    dist = distortion_from_siaf(nrca1)
    with pytest.raises(ImagingWcsError, match="expected an astropy model with 2 inputs"):
        imaging_wcs(models.Shift(1), nrca1_pointing, shape=(10, 10))
    with pytest.raises(ImagingWcsError, match=r"shape=\(0, 10\): expected \(ny, nx\)"):
        imaging_wcs(dist, nrca1_pointing, shape=(0, 10))
    with pytest.raises(ImagingWcsError, match=r"subarray_start=\(0, 1\): expected 1-based"):
        imaging_wcs(dist, nrca1_pointing, shape=(10, 10), subarray_start=(0, 1))
    bad = tmp_path / "bad.asdf"
    bad.write_text("not asdf")
    with pytest.raises(ImagingWcsError, match="bad.asdf: cannot read distortion reference"):
        read_distortion(bad)
    asdf.AsdfFile({"model": models.Shift(1)}).write_to(bad)
    with pytest.raises(ImagingWcsError, match="expected a 2-in/2-out transform"):
        read_distortion(bad)


def test_filter_offset_lookup(tmp_path):
    path = tmp_path / "filteroffset.asdf"
    rows = [
        {"filter": "F444W", "pupil": "CLEAR", "column_offset": 1.5, "row_offset": -2.0},
        {"filter": "F444W", "pupil": "F405N", "column_offset": 0.5, "row_offset": 0.25},
        {"filter": "F200W", "pupil": "CLEAR", "column_offset": 0.1, "row_offset": 0.2},
        {"filter": "F200W", "pupil": "CLEAR", "column_offset": 0.3, "row_offset": 0.4},
    ]
    asdf.AsdfFile({"filters": rows}).write_to(path)
    assert filter_offset(path, "F444W", "F405N") == (0.5, 0.25)
    assert filter_offset(path, "F444W", "CLEAR") == (1.5, -2.0)
    assert filter_offset(path, "F090W", "CLEAR") is None
    with pytest.raises(ImagingWcsError, match="2 rows match filter='F200W' pupil='CLEAR'"):
        filter_offset(path, "F200W", "CLEAR")
    asdf.AsdfFile({"other": 1}).write_to(path)
    with pytest.raises(ImagingWcsError, match="no 'filters' list"):
        filter_offset(path, "F200W", "CLEAR")


def _image_model(primary, sci, shape, start=(1, 1)):
    from stdatamodels.jwst.datamodels import ImageModel

    model = ImageModel(shape)
    model.meta.instrument.name = "NIRCAM"
    model.meta.instrument.detector = primary["DETECTOR"]
    model.meta.instrument.filter = primary["FILTER"]
    model.meta.instrument.pupil = primary["PUPIL"]
    model.meta.exposure.type = "NRC_IMAGE"
    sub = model.meta.subarray
    sub.xstart, sub.ystart = start
    sub.ysize, sub.xsize = shape
    info = model.meta.wcsinfo
    p = pointing_from_header(sci)
    info.v2_ref, info.v3_ref, info.roll_ref = p.v2_ref, p.v3_ref, p.roll_ref
    info.ra_ref, info.dec_ref = p.ra_ref, p.dec_ref
    info.v3yangle, info.vparity = p.v3i_yang, p.vparity
    model.meta.velocity_aberration.scale_factor = p.va_scale
    return model


@pytest.mark.jwst_oracle
@pytest.mark.parametrize(
    ("shape", "start", "with_offset"),
    [((2048, 2048), (1, 1), False), ((320, 640), (1025, 1537), True)],
)
def test_real_pointing_matches_jwst_assign_wcs(
    tmp_path, nircam_siaf, uncal_headers, write_distortion_reference, shape, start, with_offset
):
    """A real NRCA3 pointing with the SIAF distortion of its aperture, as a CRDS-style
    distortion reference read by jwst's NIRCam imaging pipeline and by ours."""
    pytest.importorskip("jwst")
    import gwcs
    from jwst.assign_wcs import nircam

    primary, sci = uncal_headers("nrca3")
    ap = read_siaf_aperture(nircam_siaf, primary["APERNAME"])
    dist_path = write_distortion_reference(
        distortion_from_siaf(ap), tmp_path / "dist.asdf", detector="NRCA3"
    )
    offset_path = None
    if with_offset:
        offset_path = tmp_path / "filteroffset.asdf"
        rows = [{"filter": "F210M", "pupil": "MASKRND", "column_offset": 0.7, "row_offset": -1.3}]
        asdf.AsdfFile({"filters": rows}).write_to(offset_path)
    model = _image_model(primary, sci, shape, start)
    refs = {"distortion": str(dist_path), "filteroffset": offset_path and str(offset_path)}
    theirs = gwcs.WCS(nircam.imaging(model, refs))
    ours = imaging_wcs_from_model(model, dist_path, offset_path)

    assert ours.available_frames == theirs.available_frames
    assert ours.bounding_box.bounding_box(order="F") == theirs.bounding_box.bounding_box(order="F")
    rng = np.random.default_rng(7)
    x = rng.uniform(-0.5, shape[1] - 0.5, 2000)
    y = rng.uniform(-0.5, shape[0] - 0.5, 2000)
    ra1, dec1 = ours(x, y)
    ra2, dec2 = theirs(x, y)
    assert _sep_mas(ra1, dec1, ra2, dec2).max() < 0.1
    xi, yi = ours.invert(ra2, dec2)
    xj, yj = theirs.invert(ra2, dec2)
    assert np.hypot(xi - xj, yi - yj).max() < 1e-3
    for frame in ("v2v3", "v2v3vacorr"):
        np.testing.assert_allclose(
            ours.get_transform("detector", frame)(x, y),
            theirs.get_transform("detector", frame)(x, y),
            rtol=0,
            atol=1e-9,
        )


def test_model_adapter_reads_pointing_subarray_and_offset(
    tmp_path, nrca1, uncal_headers, write_distortion_reference
):
    primary, sci = uncal_headers("nrca3")
    dist = distortion_from_siaf(nrca1)
    dist_path = write_distortion_reference(dist, tmp_path / "dist.asdf")
    offset_path = tmp_path / "filteroffset.asdf"
    rows = [{"filter": "F210M", "pupil": "MASKRND", "column_offset": 2.0, "row_offset": -3.0}]
    asdf.AsdfFile({"filters": rows}).write_to(offset_path)
    model = _image_model(primary, sci, (64, 96), start=(101, 201))
    from_model = imaging_wcs_from_model(model, dist_path, offset_path)
    direct = imaging_wcs(
        dist,
        pointing_from_header(sci),
        shape=(64, 96),
        subarray_start=(101, 201),
        filter_offset=(2.0, -3.0),
    )
    x, y = np.array([0.0, 50.0, 95.0]), np.array([0.0, 30.0, 63.0])
    np.testing.assert_array_equal(from_model(x, y), direct(x, y))
    # The offset and subarray really are applied: pixel (0, 0) is full-frame (102, 197).
    np.testing.assert_allclose(
        from_model.get_transform("detector", "v2v3")(0.0, 0.0), dist(102.0, 197.0), atol=1e-12
    )


def test_wcs_reads_back_from_a_datamodel_product(tmp_path, nrca1, nrca1_pointing):
    from stdatamodels.jwst.datamodels import ImageModel

    w = imaging_wcs(distortion_from_siaf(nrca1), nrca1_pointing, shape=(32, 48))
    model = ImageModel((32, 48))
    model.meta.wcs = w
    path = tmp_path / "x_cal.fits"
    model.save(path)
    with ImageModel(path) as back:
        wb = back.meta.wcs
        assert wb.available_frames == ["detector", "v2v3", "v2v3vacorr", "world"]
        x, y = np.array([0.0, 47.0]), np.array([31.0, 0.0])
        np.testing.assert_array_equal(wb(x, y), w(x, y))
        np.testing.assert_array_equal(wb.invert(*w(x, y)), w.invert(*w(x, y)))
        assert wb.bounding_box.bounding_box(order="F") == ((-0.5, 47.5), (-0.5, 31.5))
