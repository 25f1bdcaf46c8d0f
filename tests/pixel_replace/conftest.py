"""Fixtures for the pixel_replace tests: MIRI LRS slitless calints made by our calwebb_spec2
from simulated rateints (known smooth trace), and jwst 3.0.0 run offline as an oracle."""

from __future__ import annotations

import pytest
from _pixrep import calints_of

from _lrs_cases import SIAF_DIR, make_case


@pytest.fixture(scope="session")
def siaf_dir():
    if not (SIAF_DIR / "MIRI_SIAF.xml").is_file():
        pytest.skip(f"shared SIAF XML not found: {SIAF_DIR}")
    return SIAF_DIR


@pytest.fixture(scope="module", autouse=True)
def _no_crds_pars():
    """Every reference is given as an override: no CRDS ``pars-*`` lookups."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WEBBCAL_DISABLE_CRDS_STEPPARS", "true")
        mp.setenv("CRDS_SERVER_URL", "")
        yield


@pytest.fixture(scope="session")
def clean_calints(tmp_path_factory, siaf_dir):
    """Noise-free calints (3 integrations): (LrsCase, path). Its SCI is the truth."""
    root = tmp_path_factory.mktemp("pixrep_clean")
    case = make_case(root, siaf_dir, nints=3, noise=0.0)
    return case, calints_of(case, root / "cal")


@pytest.fixture(scope="session")
def noisy_calints(tmp_path_factory, siaf_dir):
    """Calints with noise 0.5 DN/s (3 integrations): (LrsCase, path)."""
    root = tmp_path_factory.mktemp("pixrep_noisy")
    case = make_case(root, siaf_dir, nints=3, noise=0.5, seed=5)
    return case, calints_of(case, root / "cal")
