"""Full-frame AREA references shared by the photom tests (written once per session)."""

from __future__ import annotations

import pytest

from webbcal.simulate.references_stage2 import write_area


@pytest.fixture(scope="session")
def area_reference(tmp_path_factory):
    """``get(instrument, detector) -> Path`` of a simulated full-frame AREA reference."""
    root = tmp_path_factory.mktemp("area_refs")
    cache = {}

    def get(instrument, detector):
        if detector not in cache:
            path = root / f"jwst_{instrument.lower()}_area_{detector.lower()}.fits"
            cache[detector] = write_area(path, instrument=instrument, detector=detector)
        return cache[detector]

    return get
