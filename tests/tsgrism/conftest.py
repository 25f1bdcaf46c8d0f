"""Fixtures for the NIRCam grism time-series tests (NRC_TSGRISM): simulated rateints placed
with the real ground ``specwcs``, their references, and jwst 3.0.0 as an oracle on
identical inputs."""

from __future__ import annotations

import pytest
from _tsgrism_cases import SIAF_DIR, SPECWCS, TsgrismCase, _make


@pytest.fixture(scope="session")
def tsgrism_inputs():
    for path in (SIAF_DIR / "NIRCam_SIAF.xml", SPECWCS):
        if not path.is_file():
            pytest.skip(f"shared real file not found: {path}")
    return SIAF_DIR, SPECWCS


@pytest.fixture(scope="session")
def tsgrism_case(tmp_path_factory, tsgrism_inputs) -> TsgrismCase:
    """8 integrations, noise 0.05 DN/s, flat with 2 % structure, sky 3 DN/s."""
    return _make(tmp_path_factory.mktemp("tsgrism_case"), tsgrism_inputs, nints=8,
                 noise=0.05, seed=5)  # fmt: skip


@pytest.fixture(scope="session")
def tsgrism_clean(tmp_path_factory, tsgrism_inputs) -> TsgrismCase:
    """Noise-free, 4 integrations: the truth tests."""
    return _make(tmp_path_factory.mktemp("tsgrism_clean"), tsgrism_inputs, nints=4, noise=0.0)


@pytest.fixture(scope="module", autouse=True)
def _no_crds_pars():
    """Every reference is given as an override: no CRDS ``pars-*`` lookups (module scope:
    the settings end with each module, not leaking into other test folders)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WEBBCAL_DISABLE_CRDS_STEPPARS", "true")
        mp.setenv("CRDS_SERVER_URL", "")
        yield
