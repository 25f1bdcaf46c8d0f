"""Fixtures of the resample tests: the NRCA1 SIAF aperture and its distortion."""

from __future__ import annotations

import pytest
from _cal_files import NIRCAM_SIAF

from webbcal.wcs import distortion_from_siaf, read_siaf_aperture


@pytest.fixture(scope="session")
def nrca1():
    if not NIRCAM_SIAF.is_file():
        pytest.skip(f"shared SIAF XML not found: {NIRCAM_SIAF}")
    return read_siaf_aperture(NIRCAM_SIAF, "NRCA1_FULL")


@pytest.fixture(scope="session")
def distortion(nrca1):
    return distortion_from_siaf(nrca1)
