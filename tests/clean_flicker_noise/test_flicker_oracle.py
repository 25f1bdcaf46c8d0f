"""Parity of the ``median`` method with the official jwst clean_flicker_noise code.

Both implementations take the same sigma-clipped statistics (astropy), the same background
median and the same masked row medians, so outputs agree to float32 rounding. The ramp
comparison uses a user mask because the official draft rate needs CRDS gain/readnoise.
"""

import logging

import numpy as np
import pytest
from _flicker_cases import rate_model
from stdatamodels.jwst.datamodels import ImageModel

from webbcal.clean_flicker_noise import CleanFlickerNoiseStep

cfn = pytest.importorskip("jwst.clean_flicker_noise.clean_flicker_noise")

pytestmark = pytest.mark.jwst_oracle


def _ours(model, **kwargs):
    return CleanFlickerNoiseStep.call(model, skip=False, disable_crds_steppars=True, **kwargs)


def _official(model, **kwargs):
    logging.getLogger("jwst").setLevel(logging.WARNING)
    out, _, _, _, status = cfn.do_correction(model.copy(), fit_method="median", **kwargs)
    assert status == "COMPLETE"
    return out


def test_rate_image_median_matches_official(square_case):
    rate = rate_model(square_case.ramp, square_case.det)
    ours = _ours(rate)
    official = _official(rate)
    # Same mask and row medians: differences are float32 rounding (1 ulp on star pixels).
    np.testing.assert_allclose(ours.data, official.data, rtol=1e-6, atol=2e-5, equal_nan=True)
    # The correction itself (what differs from the input) agrees to 1e-4 of its size.
    corr = rate.data - official.data
    np.testing.assert_allclose(rate.data - ours.data, corr, atol=1e-4 * np.nanmax(abs(corr)),
                               equal_nan=True)  # fmt: skip


def test_ramp_median_with_user_mask_matches_official(square_case, tmp_path):
    rate = rate_model(square_case.ramp, square_case.det)
    rng = np.random.default_rng(0)
    mask = (rng.random(rate.data.shape) > 0.1) & np.isfinite(rate.data)
    path = str(tmp_path / "mask.fits")
    ImageModel(data=mask.astype(np.float32)).save(path)
    ramp = square_case.ramp
    ours = _ours(ramp, user_mask=path)
    official = _official(ramp, user_mask=path)
    # Ramp values reach ~3e4 DN; each group adds one float32 rounding (~1e-3 DN).
    np.testing.assert_allclose(ours.data, official.data, rtol=0, atol=1e-2, equal_nan=True)
    corr = ramp.data - official.data
    assert np.nanmax(abs(corr)) > 5.0  # the comparison is not trivial
