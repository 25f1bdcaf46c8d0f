"""SIAF-derived distortion transforms against the SIAF formulas evaluated by hand."""

import numpy as np
import pytest

from webbcal.wcs import SiafError, distortion_from_siaf, read_distortion, read_siaf_aperture


def _slow_sci_to_v2v3(ap, x_det, y_det):
    """Cox & Lallo 2017 formulas, term by term (independent of astropy.modeling)."""
    dx = x_det + 1.0 - ap.xsci_ref
    dy = y_det + 1.0 - ap.ysci_ref
    x_idl = np.zeros_like(dx)
    y_idl = np.zeros_like(dx)
    for i in range(ap.degree + 1):
        for j in range(i + 1):
            term = dx ** (i - j) * dy**j
            x_idl += ap.sci2idl_x[f"c{i - j}_{j}"] * term
            y_idl += ap.sci2idl_y[f"c{i - j}_{j}"] * term
    a = np.radians(ap.v3_idl_yangle)
    p = ap.vidl_parity
    v2 = ap.v2_ref + p * x_idl * np.cos(a) + y_idl * np.sin(a)
    v3 = ap.v3_ref - p * x_idl * np.sin(a) + y_idl * np.cos(a)
    return v2, v3


@pytest.mark.parametrize("name", ["NRCA1_FULL", "NRCB5_FULL", "NRCA2_FULL_MASK210R"])
def test_distortion_matches_siaf_formulas(nircam_siaf, name):
    ap = read_siaf_aperture(nircam_siaf, name)
    rng = np.random.default_rng(11)
    x, y = rng.uniform(-0.5, 2047.5, (2, 500))
    v2, v3 = distortion_from_siaf(ap)(x, y)
    v2_ref, v3_ref = _slow_sci_to_v2v3(ap, x, y)
    np.testing.assert_allclose(v2, v2_ref, rtol=0, atol=1e-9)
    np.testing.assert_allclose(v3, v3_ref, rtol=0, atol=1e-9)
    # The reference pixel lands on (V2Ref, V3Ref).
    assert distortion_from_siaf(ap)(ap.xsci_ref - 1, ap.ysci_ref - 1) == pytest.approx(
        (ap.v2_ref, ap.v3_ref), abs=1e-10
    )


def test_nrca1_values_and_inverse(nrca1):
    assert nrca1.degree == 5
    assert nrca1.v2_ref == 120.576793 and nrca1.v3_ref == -527.501431
    assert nrca1.vidl_parity == -1
    assert nrca1.sci2idl_x["c1_0"] == pytest.approx(3.1132678529e-02, rel=1e-12)
    m = distortion_from_siaf(nrca1)
    y, x = np.mgrid[-0.5:2048:31.0, -0.5:2048:31.0]
    xb, yb = m.inverse(*m(x, y))
    # The SIAF Idl2Sci polynomials invert Sci2Idl to 6e-4 pixel for NRCA1.
    assert np.hypot(xb - x, yb - y).max() < 1e-3


def test_corner_shifts_to_full_frame(nrca1):
    m0 = distortion_from_siaf(nrca1)
    m1 = distortion_from_siaf(nrca1, corner=(10, 20))
    np.testing.assert_allclose(m1(110.0, 220.0), m0(100.0, 200.0), rtol=0, atol=1e-12)


def test_transform_survives_a_distortion_reference(tmp_path, nrca1, write_distortion_reference):
    model = distortion_from_siaf(nrca1)
    path = write_distortion_reference(model, tmp_path / "distortion.asdf")
    back = read_distortion(path)
    x, y = np.array([0.0, 1000.0, 2047.0]), np.array([5.0, 1500.0, 2047.0])
    np.testing.assert_array_equal(back(x, y), model(x, y))
    np.testing.assert_array_equal(back.inverse(*model(x, y)), model.inverse(*model(x, y)))


def test_siaf_errors(tmp_path, nircam_siaf):
    with pytest.raises(SiafError, match="no aperture named 'NRCZ9_FULL'"):
        read_siaf_aperture(nircam_siaf, "NRCZ9_FULL")
    bad = tmp_path / "bad.xml"
    bad.write_text("<SiafEntries><SiafEntry>")
    with pytest.raises(SiafError, match="bad.xml: cannot read SIAF XML"):
        read_siaf_aperture(bad, "X")
    entry = (
        "<SiafEntries><SiafEntry><AperName>X</AperName><XSciRef>1</XSciRef><YSciRef>1</YSciRef>"
        "<XSciSize>4</XSciSize><YSciSize>4</YSciSize><V2Ref>0</V2Ref><V3Ref>0</V3Ref>"
        "<V3IdlYAngle>0</V3IdlYAngle><VIdlParity>{parity}</VIdlParity><Sci2IdlDeg>1</Sci2IdlDeg>"
        "<Sci2IdlX00>0</Sci2IdlX00><Sci2IdlX10>1</Sci2IdlX10></SiafEntry></SiafEntries>"
    )
    bad.write_text(entry.format(parity=-1))
    with pytest.raises(SiafError, match="aperture X: coefficient Sci2IdlX11 is missing"):
        read_siaf_aperture(bad, "X")
    bad.write_text(entry.format(parity=0))
    with pytest.raises(SiafError, match="VIdlParity=0, expected 1 or -1"):
        read_siaf_aperture(bad, "X")
    bad.write_text(entry.format(parity="minus"))
    with pytest.raises(SiafError, match="VIdlParity='minus' is not a number"):
        read_siaf_aperture(bad, "X")
