"""Fixtures for the MIRI LRS slitless (time-series spec2) tests: simulated rateints with an
analytic truth, their references, and jwst 3.0.0 as an oracle on identical inputs."""

from __future__ import annotations

import pytest

from _lrs_cases import SIAF_DIR, LrsCase, make_case


@pytest.fixture(scope="session")
def siaf_dir():
    if not (SIAF_DIR / "MIRI_SIAF.xml").is_file():
        pytest.skip(f"shared SIAF XML not found: {SIAF_DIR}")
    return SIAF_DIR


@pytest.fixture(scope="session")
def lrs_case(tmp_path_factory, siaf_dir) -> LrsCase:
    """12 integrations, noise 0.5 DN/s, flat with 2 % structure, sky 4 DN/s."""
    return make_case(tmp_path_factory.mktemp("lrs_case"), siaf_dir, nints=12, noise=0.5)


@pytest.fixture(scope="session")
def lrs_clean(tmp_path_factory, siaf_dir) -> LrsCase:
    """Noise-free, 6 integrations: the truth tests."""
    return make_case(tmp_path_factory.mktemp("lrs_clean"), siaf_dir, nints=6, noise=0.0)


@pytest.fixture
def make_lrs(tmp_path, siaf_dir):
    """Function: (**simulate kwargs) -> LrsCase under tmp_path."""

    def make(name="case", **kwargs):
        return make_case(tmp_path / name, siaf_dir, **kwargs)

    return make


@pytest.fixture(scope="module", autouse=True)
def _no_crds_pars():
    """Every reference is given as an override: no CRDS ``pars-*`` lookups (module scope:
    the settings end with each module, not leaking into other test folders)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WEBBCAL_DISABLE_CRDS_STEPPARS", "true")
        mp.setenv("CRDS_SERVER_URL", "")
        yield


@pytest.fixture(scope="session")
def lrs_transit(tmp_path_factory, siaf_dir):
    """20 integrations, a 1 % transit in integrations 6..12 (0-based), noise 0.5 DN/s:
    (LrsCase, light curve)."""
    import numpy as np

    curve = np.ones(20)
    curve[6:13] = 0.99
    case = make_case(tmp_path_factory.mktemp("lrs_transit"), siaf_dir, nints=20, noise=0.5,
                     light_curve=curve, seed=3)  # fmt: skip
    return case, curve
