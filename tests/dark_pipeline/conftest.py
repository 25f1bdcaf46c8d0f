"""Simulated near-infrared and MIRI dark exposures for the calwebb_dark tests."""

import pytest


@pytest.fixture(scope="session")
def miri_dark_case(tmp_path_factory):
    """MIRIMAGE SUB64 FASTR1, 5 groups x 2 integrations, served by a local CRDS context."""
    from _dark_cases import build_miri_dark_case

    return build_miri_dark_case(tmp_path_factory.mktemp("miri_dark_case"))
