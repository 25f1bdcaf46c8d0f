"""Shared small simulated detectors and exposures."""

import pytest

from webbcal.lib.subarray import SubarrayGeometry
from webbcal.simulate import make_detector, simulate_exposure, write_reference_files

#: A 64x64 NIRCam corner subarray (reference pixels on two edges).
SUB64 = SubarrayGeometry(1, 1, 64, 64)


@pytest.fixture(scope="session")
def det64():
    return make_detector(instrument="NIRCAM", detector="NRCA1", geometry=SUB64, seed=11)


@pytest.fixture(scope="session")
def sim64(det64):
    return simulate_exposure(det64, readpatt="RAPID", ngroups=8, nints=2, seed=5, cr_rate=5e-3)


@pytest.fixture(scope="session")
def refs64(det64, tmp_path_factory):
    return write_reference_files(
        det64, tmp_path_factory.mktemp("refs64"), readpatt="RAPID", ngroups=8
    )
