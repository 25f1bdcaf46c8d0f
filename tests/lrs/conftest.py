"""Fixtures for the MIRI LRS slitless (time-series spec2) tests: simulated rateints with an
analytic truth, their references, and jwst 3.0.0 as an oracle on identical inputs."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from _shared_paths import REAL

SIAF_DIR = REAL / "pysiaf-siafxml"

#: Official reference types each jwst step asks for that the LRS slitless mode leaves N/A.
_OFFICIAL_NA = {
    "assign_wcs": ("filteroffset", "regions", "wavelengthrange", "camera", "chromcorr",
                   "collimator", "disperser", "fore", "fpa", "msa", "ote", "ifupost",
                   "ifufore", "ifuslicer"),
    "flat_field": ("fflat", "sflat", "dflat"),
    "photom": ("area",),
    "extract_1d": ("apcorr", "psf", "pastasoss", "specprofile", "speckernel"),
}  # fmt: skip


@dataclass
class LrsCase:
    """A simulated LRS slitless rateints (saved), its truth and references."""

    sim: object
    rateints: Path
    refs: dict
    root: Path

    def overrides(self, step: str, apcorr: bool = False) -> dict:
        """``override_<reftype>`` of our step ``step`` (alias); the APCORR reference only
        with ``apcorr`` (else N/A: no aperture correction, for the truth tests)."""
        r = {k: os.fspath(v) for k, v in self.refs.items()}
        return {
            "assign_wcs": {"override_distortion": r["distortion"],
                           "override_specwcs": r["specwcs"]},
            "flat_field": {"override_flat": r["flat"]},
            "photom": {"override_photom": r["photom"], "override_area": "N/A"},
            "extract_1d": {"override_extract1d": r["extract1d"],
                           "override_apcorr": r["apcorr"] if apcorr else "N/A"},
            "srctype": {},
        }[step]  # fmt: skip

    def official_overrides(self, step: str, apcorr: bool = False) -> dict:
        out = dict(self.overrides(step, apcorr))
        for reftype in _OFFICIAL_NA.get(step, ()):
            out.setdefault(f"override_{reftype}", "N/A")
        return out

    def pipeline_steps(self, official: bool = False, apcorr: bool = False) -> dict:
        steps = ("assign_wcs", "flat_field", "photom", "extract_1d")
        get = self.official_overrides if official else self.overrides
        out = {s: get(s, apcorr) for s in steps}
        if official:
            out["pathloss"] = {"skip": True}
            out["targ_centroid"] = {"skip": True}
        return out


@pytest.fixture(scope="session")
def siaf_dir():
    if not (SIAF_DIR / "MIRI_SIAF.xml").is_file():
        pytest.skip(f"shared SIAF XML not found: {SIAF_DIR}")
    return SIAF_DIR


def _make(root: Path, siaf_dir: Path, **kwargs) -> LrsCase:
    from webbcal.simulate.lrs import simulate_lrs_slitless

    sim = simulate_lrs_slitless(siaf_dir, **kwargs)
    rateints = sim.save(root / "data")
    refs = sim.write_references(root / "refs")
    return LrsCase(sim=sim, rateints=rateints, refs=refs, root=root)


@pytest.fixture(scope="session")
def lrs_case(tmp_path_factory, siaf_dir) -> LrsCase:
    """12 integrations, noise 0.5 DN/s, flat with 2 % structure, sky 4 DN/s."""
    return _make(tmp_path_factory.mktemp("lrs_case"), siaf_dir, nints=12, noise=0.5)


@pytest.fixture(scope="session")
def lrs_clean(tmp_path_factory, siaf_dir) -> LrsCase:
    """Noise-free, 6 integrations: the truth tests."""
    return _make(tmp_path_factory.mktemp("lrs_clean"), siaf_dir, nints=6, noise=0.0)


@pytest.fixture
def make_lrs(tmp_path, siaf_dir):
    """Function: (**simulate kwargs) -> LrsCase under tmp_path."""

    def make(name="case", **kwargs):
        return _make(tmp_path / name, siaf_dir, **kwargs)

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
    case = _make(tmp_path_factory.mktemp("lrs_transit"), siaf_dir, nints=20, noise=0.5,
                 light_curve=curve, seed=3)  # fmt: skip
    return case, curve
