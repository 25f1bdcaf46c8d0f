"""Fixtures of the clean_flicker_noise tests."""

import pytest
from _flicker_cases import make_case

from webbcal.lib.subarray import SubarrayGeometry


@pytest.fixture(scope="session")
def square_case():
    """512 x 512 NIRCam NRCA1 subarray (one output), 8 groups, 1/f noise of 5 DN/frame."""
    return make_case(SubarrayGeometry(1, 1, 512, 512), ngroups=8)


@pytest.fixture(scope="session")
def stripe_case():
    """2048 x 128 NIRCam stripe read by four outputs, 5 groups."""
    return make_case(SubarrayGeometry(1, 1, 2048, 128), ngroups=5, seed=21, nstars=10)
