"""Dithered NIRCam ``_cal`` exposures with known cosmic-ray hits and stars."""

from __future__ import annotations

import pytest

from _shared_paths import REAL

SIAF_DIR = REAL / "pysiaf-siafxml"
#: Cosmic-ray hits per exposure (single pixels, DQ clean).
N_COSMIC_RAYS = 40


@pytest.fixture(scope="session")
def dithered(tmp_path_factory):
    """Four dithered NRCA1_SUB160 exposures, 40 cosmic rays each, and their truth."""
    from webbcal.simulate.dithers import simulate_dithered_cals

    if not (SIAF_DIR / "NIRCam_SIAF.xml").is_file():
        pytest.skip("shared SIAF XML not found")
    return simulate_dithered_cals(tmp_path_factory.mktemp("outlier_dithers"), SIAF_DIR,
                                  n_cosmic_rays=N_COSMIC_RAYS, seed=3)  # fmt: skip
