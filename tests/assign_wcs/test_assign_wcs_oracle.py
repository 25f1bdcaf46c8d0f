"""assign_wcs against jwst 3.0.0's AssignWcsStep on identical simulated inputs and references.

Parity targets: pixel -> sky within 0.1 mas over the whole bounding box, sky -> pixel within
1e-3 pixel, identical frames, bounding box and S_REGION, and the same SIP header.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord

pytestmark = pytest.mark.jwst_oracle

MIRI_BBOX = ((3.5, 1027.5), (-0.5, 1023.5))

CASES = {
    "nircam_full": dict(aperture="NRCA1_FULL"),
    "nircam_sub640_offset": dict(aperture="NRCA1_SUB640", filter_offset=(0.75, -1.25)),
    "nircam_long_coron": dict(aperture="NRCA5_FULL_MASK335R", exp_type="NRC_CORON", pupil="MASKRND",
                              filter_offset=(-0.4, 0.6), va_scale=None),
    "nircam_tsimage": dict(aperture="NRCA3_SUB64P", exp_type="NRC_TSIMAGE",
                           filter="F150W2", nints=2),
    "niriss_image": dict(aperture="NIS_CEN", filter_offset=(1.5, 0.5), roll_ref=301.0,
                         dec_ref=-62.5),
    "niriss_ami": dict(aperture="NIS_AMI1", exp_type="NIS_AMI", filter="F480M", pupil="NRM",
                       filter_offset=(-0.5, 0.25)),
    "miri_image": dict(aperture="MIRIM_FULL", filter_offset=(0.3, -0.2), ra_ref=359.99,
                       distortion_bounding_box=MIRI_BBOX),
    "miri_lyot": dict(aperture="MIRIM_MASKLYOT", exp_type="MIR_LYOT", filter="F2300C",
                      filter_offset=(0.05, -0.1), dec_ref=-30.0),
    "miri_4qpm_ta": dict(aperture="MIRIM_MASK1065", exp_type="MIR_TACQ", filter="FND",
                         filter_offset=(0.0, 0.0)),
    "miri_timeseries": dict(aperture="MIRIM_SUB64", filter_offset=(-0.1, 0.2), nints=3),
    "fgs_image": dict(aperture="FGS1_SUB128CNTR", dec_ref=71.0),
}  # fmt: skip


def _sep_mas(ra1, dec1, ra2, dec2):
    a = SkyCoord(np.ravel(ra1) * u.deg, np.ravel(dec1) * u.deg)
    return a.separation(SkyCoord(np.ravel(ra2) * u.deg, np.ravel(dec2) * u.deg)).to_value(u.mas)


def _run_both(case):
    from jwst.assign_wcs import AssignWcsStep as Official

    from webbcal.assign_wcs import AssignWcsStep

    ours = AssignWcsStep.call(case.sim.model.copy(), **case.overrides())
    over = {f"override_{r}": "N/A" for r in Official.reference_file_types}
    over.update(case.overrides())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the official pipeline's deprecation warnings
        theirs = Official.call(case.sim.model.copy(), **over)
    return ours, theirs


@pytest.mark.parametrize("name", list(CASES))
def test_wcs_matches_official(jwst_env, make_case, name):
    kwargs = dict(CASES[name])
    case = make_case(kwargs.pop("aperture"), name=name, save=False, **kwargs)
    ours, theirs = _run_both(case)
    assert ours.meta.cal_step.assign_wcs == theirs.meta.cal_step.assign_wcs == "COMPLETE"
    w1, w2 = ours.meta.wcs, theirs.meta.wcs
    assert w1.available_frames == w2.available_frames == [
        "detector", "v2v3", "v2v3vacorr", "world"
    ]  # fmt: skip
    bbox = w1.bounding_box.bounding_box(order="F")
    assert bbox == w2.bounding_box.bounding_box(order="F")
    (x0, x1), (y0, y1) = bbox
    x, y = np.meshgrid(np.linspace(x0, x1, 41), np.linspace(y0, y1, 41))
    ra1, dec1 = w1(x, y)
    ra2, dec2 = w2(x, y)
    assert np.all(np.isfinite(ra1)) and np.all(np.isfinite(ra2))
    assert _sep_mas(ra1, dec1, ra2, dec2).max() < 0.1
    # sky -> pixel at the official sky positions of the grid (edges included: points on
    # the bounding box may invert a hair outside it, so the box is not applied here)
    xi, yi = w1.invert(ra2, dec2, with_bounding_box=False)
    xj, yj = w2.invert(ra2, dec2, with_bounding_box=False)
    assert np.all(np.isfinite(xi)) and np.all(np.isfinite(xj))
    assert np.hypot(xi - xj, yi - yj).max() < 1e-3
    for frame in ("v2v3", "v2v3vacorr"):
        np.testing.assert_allclose(
            w1.get_transform("detector", frame)(x, y),
            w2.get_transform("detector", frame)(x, y), rtol=0, atol=1e-9,
        )  # fmt: skip
    assert ours.meta.wcsinfo.s_region == theirs.meta.wcsinfo.s_region
    _assert_same_sip(ours.meta.wcsinfo.instance, theirs.meta.wcsinfo.instance)


def _assert_same_sip(ours: dict, theirs: dict) -> None:
    # Small subarrays are linear to the accuracy asked: plain TAN, no SIP terms.
    assert ours["ctype1"] == theirs["ctype1"]
    assert ours["ctype1"] in ("RA---TAN-SIP", "RA---TAN")
    assert sorted(ours) == sorted(theirs)
    for key, value in theirs.items():
        if isinstance(value, float):
            assert ours[key] == pytest.approx(value, rel=1e-7, abs=1e-12), key
        else:
            assert ours[key] == value, key


def test_sip_parameters_match_official(jwst_env, make_case):
    """A fixed SIP degree, a coarser sample and another crpix source give the same header."""
    from jwst.assign_wcs import AssignWcsStep as Official

    from webbcal.assign_wcs import AssignWcsStep

    case = make_case("NRCA1_SUB640", name="sip", save=False)
    params = dict(sip_degree=3, sip_inv_degree=4, sip_npoints=16, sip_max_pix_error=0.05)
    ours = AssignWcsStep.call(case.sim.model.copy(), **case.overrides(), **params)
    over = {f"override_{r}": "N/A" for r in Official.reference_file_types}
    over.update(case.overrides(), **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = Official.call(case.sim.model.copy(), **over)
    assert ours.meta.wcsinfo.instance["a_order"] == 3
    assert ours.meta.wcsinfo.instance["ap_order"] == 4
    _assert_same_sip(ours.meta.wcsinfo.instance, theirs.meta.wcsinfo.instance)
    # sip_approx=False: no SIP keywords, the input FITS WCS stays.
    plain = AssignWcsStep.call(case.sim.model.copy(), **case.overrides(), sip_approx=False)
    assert plain.meta.wcsinfo.ctype1 == "RA---TAN"
    assert "a_order" not in plain.meta.wcsinfo.instance


def test_imaging_exposure_types_are_the_official_ones():
    pytest.importorskip("jwst")
    from jwst.lib.exposure_types import IMAGING_TYPES

    from webbcal.assign_wcs import IMAGING_EXP_TYPES

    assert IMAGING_EXP_TYPES == frozenset(IMAGING_TYPES)
