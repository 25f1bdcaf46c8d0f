"""Fixtures for the assign_wcs tests: simulated imaging rates, their references, jwst."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from _shared_paths import REAL

SIAF_DIR = REAL / "pysiaf-siafxml"


@dataclass
class ImagingCase:
    """A simulated rate file, its truth and its WCS references."""

    sim: object
    rate: Path | None
    refs: dict

    def overrides(self) -> dict:
        """``override_<reftype>`` for our step (filteroffset N/A when none was written)."""
        return {
            "override_distortion": os.fspath(self.refs["distortion"]),
            "override_filteroffset": os.fspath(self.refs.get("filteroffset", "N/A")),
        }


@pytest.fixture(scope="session")
def siaf_dir():
    if not (SIAF_DIR / "NIRCam_SIAF.xml").is_file():
        pytest.skip(f"shared SIAF XML not found: {SIAF_DIR}")
    return SIAF_DIR


@pytest.fixture
def make_case(siaf_dir, tmp_path):
    """Function: (aperture, **simulate kwargs) -> ImagingCase written under tmp_path
    (``save=False``: the rate product stays in memory, ``rate`` is None)."""
    from webbcal.simulate.imaging import imaging_setup, simulate_imaging_rate

    def make(aperture, *, exp_type=None, filter=None, pupil=None, name="case", save=True,
             **kwargs):  # fmt: skip
        setup = imaging_setup(aperture, siaf_dir, exp_type=exp_type, filter=filter, pupil=pupil)
        sim = simulate_imaging_rate(setup, **kwargs)
        root = tmp_path / name
        rate = sim.save(root / "data") if save else None
        refs = sim.write_references(root / "refs")
        return ImagingCase(sim, rate, refs)

    return make


@pytest.fixture
def jwst_env(tmp_path):
    """Offline CRDS cache holding only a server configuration: every reference is overridden."""
    pytest.importorskip("jwst")
    from webbcal.crds_client import crds_environment

    crds_path = tmp_path / "crds"
    config = crds_path / "config" / "jwst"
    config.mkdir(parents=True)
    context = "jwst_0567.pmap"
    (config / "server_config").write_text(
        repr(
            {
                "observatory": "jwst",
                "operational_context": context,
                "edit_context": context,
                "latest_context": context,
                "versions_context": context,
                "last_synced": "2024-01-01 00:00:00",
                "bad_files_list": [],
                "bad_files": "",
                "force_remote_mode": False,
                "mappings": [],
                "crds_version": {"str": "offline"},
            }
        )
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STPIPE_DISABLE_CRDS_STEPPARS", "True")
        with crds_environment(crds_path):
            yield


@pytest.fixture(autouse=True)
def _no_crds_steppars(monkeypatch):
    monkeypatch.setenv("WEBBCAL_DISABLE_CRDS_STEPPARS", "1")
