"""Parity of PictureFrameStep with jwst 3.0.0's on identical NIRSpec full-frame inputs.

Both build the background mask with the same sigma clipping (``n_sigma``) of a draft rate
(ramps) or of the rate itself, and subtract the same scaled reference. For a one-difference
ramp (2 groups, 1 integration) every ramp fit gives the same draft rate, (g1 - g0) / TGROUP,
so the masks agree pixel for pixel; the official draft rate takes the gain and read noise of
the local CRDS context.
"""

import logging

import numpy as np
import pytest
from _cases import make_rate

from webbcal.picture_frame import PictureFrameStep

pytest.importorskip("jwst")

pytestmark = pytest.mark.jwst_oracle


@pytest.fixture(autouse=True)
def _quiet_official(monkeypatch):
    monkeypatch.setenv("STPIPE_DISABLE_CRDS_STEPPARS", "True")
    logging.getLogger("jwst").setLevel(logging.WARNING)
    logging.getLogger("stpipe").setLevel(logging.WARNING)


def _official(model, **kwargs):
    from jwst.picture_frame import PictureFrameStep as OfficialStep

    return OfficialStep(skip=False, mask_science_regions=False, **kwargs).run(model.copy())


def test_ramp_matches_official(pf_ramp, pf_refs, pf_ours):
    with pf_refs.crds():
        official = _official(pf_ramp.model)
    assert official.meta.cal_step.picture_frame == "COMPLETE"
    assert pf_ours.meta.cal_step.picture_frame == "COMPLETE"
    # Values up to ~4e3 DN; the medians are taken in float64 here, float32 there.
    np.testing.assert_allclose(pf_ours.data, official.data, rtol=1e-5, atol=1e-3)
    np.testing.assert_array_equal(pf_ours.groupdq, official.groupdq)
    np.testing.assert_array_equal(pf_ours.pixeldq, official.pixeldq)
    change = pf_ramp.model.data - official.data
    assert np.abs(change[0, 1]).mean() > 3.0  # the comparison is not trivial
    np.testing.assert_array_equal(pf_ours.data[0, 0], pf_ramp.model.data[0, 0])
    # The official schema has no R_ keyword for PICTUREFRAME: neither product records one.
    assert "pictureframe" not in official.meta.ref_file.instance
    assert "pictureframe" not in pf_ours.meta.ref_file.instance


def test_rateints_matches_official(pf_refs):
    """A rateints cube: one mask for all integrations, each plane scaled on its own."""
    case = make_rate(nints=2, seed=5)
    override = pf_refs.paths["pictureframe"]
    ours = PictureFrameStep.call(case.model, skip=False, mask_science_regions=False,
                                 override_pictureframe=override,
                                 disable_crds_steppars=True)  # fmt: skip
    with pf_refs.crds():
        official = _official(case.model, override_pictureframe=override)
    assert ours.meta.cal_step.picture_frame == official.meta.cal_step.picture_frame == "COMPLETE"
    np.testing.assert_allclose(ours.data, official.data, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(ours.dq, official.dq)
    assert np.abs(case.model.data - official.data).mean() > 0.4
