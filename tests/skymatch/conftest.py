"""Simulated dithered ``_cal`` exposures with known sky levels, shared by the skymatch tests."""

from __future__ import annotations

import pytest
from _skymatch_files import SIAF_DIR, SKY


@pytest.fixture(scope="session")
def dithers(tmp_path_factory):
    """Four dithered NRCA1_SUB160 exposures (160x160) with stars and per-exposure sky."""
    if not (SIAF_DIR / "NIRCam_SIAF.xml").is_file():
        pytest.skip("shared SIAF XML not found")
    from webbcal.simulate.dithers import simulate_dithered_cals

    return simulate_dithered_cals(
        tmp_path_factory.mktemp("skymatch"), SIAF_DIR, sky=SKY, seed=3, noise=0.02
    )
