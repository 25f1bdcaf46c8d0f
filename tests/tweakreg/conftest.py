"""Fixtures of the tweakreg tests."""

from __future__ import annotations

import pytest
from _tweak_inputs import simulate


@pytest.fixture(scope="session")
def dithers(tmp_path_factory):
    """Four dithered exposures of the star grid (seed 1), header pointing 58-106 mas off."""
    return simulate(tmp_path_factory.mktemp("tweakreg_dithers"))
