"""FITS SIP approximation: accuracy checked against the gwcs it approximates, and jwst."""

import logging

import numpy as np
import pytest
from astropy.wcs import WCS

from webbcal.wcs import STALE_WCSINFO_KEYS, SipFitError, SipParams, sip_header, sip_wcsinfo


def _pixel_errors(gw, header, n=40):
    """Forward (pixel -> sky) error of the FITS WCS, expressed in pixels through gwcs's inverse."""
    fits_wcs = WCS(header)
    rng = np.random.default_rng(2)
    x, y = rng.uniform(-0.5, 2047.5, (2, n * n))
    ra, dec = fits_wcs.all_pix2world(x, y, 0)
    xb, yb = gw.invert(ra, dec)
    return np.hypot(xb - x, yb - y)


def test_default_sip_meets_the_official_accuracy(nrca1_wcs):
    header = sip_header(nrca1_wcs)
    assert header["CTYPE1"] == "RA---TAN-SIP" and header["CTYPE2"] == "DEC--TAN-SIP"
    assert 1 <= header["A_ORDER"] <= 5 and 1 <= header["AP_ORDER"] <= 5
    assert header["SIPMXERR"] <= 0.01 and header["SIPIVERR"] <= 0.01
    # Independent check: the FITS WCS, evaluated by astropy/wcslib, against the gwcs.
    # The gwcs inverse (SIAF polynomials) adds up to 6e-4 pixel to the SIP error.
    assert _pixel_errors(nrca1_wcs, header).max() < 0.01 + 1e-3


def test_crpix_is_honoured(nrca1_wcs):
    header = sip_header(nrca1_wcs, crpix=(700.0, 1500.0))
    assert (header["CRPIX1"], header["CRPIX2"]) == (700.0, 1500.0)
    ra, dec = nrca1_wcs(699.0, 1499.0)
    assert header["CRVAL1"] == pytest.approx(ra, abs=1e-10)
    assert header["CRVAL2"] == pytest.approx(dec, abs=1e-10)


def test_fixed_degree_logs_instead_of_raising(nrca1_wcs, caplog):
    with caplog.at_level(logging.WARNING, logger="webbcal.wcs.sip"):
        header = sip_header(nrca1_wcs, SipParams(degree=1, inv_degree=1))
    assert "A_ORDER" not in header  # degree 1: the linear part only
    assert "SIP approximation: Failed to achieve requested SIP approximation accuracy." in (
        caplog.messages
    )
    assert header["SIPMXERR"] > 1.0  # degree 1 cannot follow the NIRCam distortion
    assert np.nanmax(_pixel_errors(nrca1_wcs, header)) > 1.0


def test_unreachable_accuracy_raises(nrca1_wcs):
    with pytest.raises(
        SipFitError,
        match=r"^SIP approximation failed \(sip_max_inv_pix_error=1e-06, degrees 1..5 tried, "
        r"sip_npoints=12\): best SIPIVERR=0.000\d+ pixel$",
    ):
        sip_header(nrca1_wcs, SipParams(max_inv_pix_error=1e-6))


def test_sip_params_validation(nrca1_wcs):
    with pytest.raises(SipFitError, match=r"sip_max_pix_error=0: expected a positive number"):
        SipParams(max_pix_error=0)
    with pytest.raises(SipFitError, match=r"sip_degree=7: expected None or 1..6"):
        SipParams(degree=7)
    with pytest.raises(SipFitError, match=r"sip_npoints=4: expected >= 8"):
        SipParams(npoints=4)
    defaults = SipParams()
    assert (defaults.approx, defaults.max_pix_error, defaults.max_inv_pix_error) == (
        True,
        0.01,
        0.01,
    )
    assert (defaults.degree, defaults.inv_degree, defaults.npoints) == (None, None, 12)


@pytest.mark.jwst_oracle
def test_same_header_as_jwst_update_fits_wcsinfo(nrca1_wcs):
    pytest.importorskip("jwst")
    from jwst.assign_wcs.util import update_fits_wcsinfo
    from stdatamodels.jwst.datamodels import ImageModel

    model = ImageModel((2048, 2048))
    model.meta.wcs = nrca1_wcs
    theirs = update_fits_wcsinfo(model)
    ours = sip_header(nrca1_wcs)
    keys = [k for k in theirs if k not in ("NAXIS", "NAXIS1", "NAXIS2")]
    assert keys and set(keys) <= set(ours)
    for key in keys:
        assert ours[key] == theirs[key], key
    # The wcsinfo entries the official writes from it.
    info = model.meta.wcsinfo.instance
    wcsinfo = sip_wcsinfo(ours)
    assert "naxis1" not in wcsinfo and wcsinfo["ctype1"] == "RA---TAN-SIP"
    for key, value in wcsinfo.items():
        assert info[key] == value, key
    assert {"a_2_0", "cdelt1", "pc1_1"} <= set(STALE_WCSINFO_KEYS)
