"""MIRI step tests run without CRDS parameter references (every reference is overridden)."""

import pytest


@pytest.fixture(autouse=True)
def _no_crds_steppars(monkeypatch):
    monkeypatch.setenv("WEBBCAL_DISABLE_CRDS_STEPPARS", "true")
