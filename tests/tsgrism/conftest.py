"""Fixtures for the NIRCam grism time-series tests (NRC_TSGRISM): simulated rateints placed
with the real ground ``specwcs``, their references, and jwst 3.0.0 as an oracle on
identical inputs."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from _shared_paths import REAL

SIAF_DIR = REAL / "pysiaf-siafxml"
SPECWCS = REAL / "crds-refs" / "from-crds-tests" / "jwst_nircam_specwcs_0010.asdf"
REAL_PHOTOM = REAL / "crds-refs" / "from-eureka" / "jwst_nircam_photom_0064.fits"

#: Official reference types each jwst step asks for that this mode leaves N/A here.
_OFFICIAL_NA = {
    "assign_wcs": ("filteroffset", "regions", "wavelengthrange", "camera", "chromcorr",
                   "collimator", "disperser", "fore", "fpa", "msa", "ote", "ifupost",
                   "ifufore", "ifuslicer"),
    "flat_field": ("fflat", "sflat", "dflat"),
    "photom": ("area",),
    "extract_1d": ("apcorr", "psf", "pastasoss", "specprofile", "speckernel"),
}  # fmt: skip


@dataclass
class TsgrismCase:
    """A simulated NRC_TSGRISM rateints (saved), its truth and references."""

    sim: object
    rateints: Path
    refs: dict
    root: Path

    def overrides(self, step: str, extract1d: bool = True) -> dict:
        """``override_<reftype>`` of our step ``step`` (alias); without ``extract1d`` the
        extract1d reference is N/A (the official default aperture: the whole cut-out)."""
        r = {k: os.fspath(v) for k, v in self.refs.items()}
        return {
            "assign_wcs": {"override_distortion": r["distortion"],
                           "override_specwcs": r["specwcs"], "override_filteroffset": "N/A"},
            "flat_field": {"override_flat": r["flat"]},
            "extract_2d": {"override_wavelengthrange": r["wavelengthrange"]},
            "photom": {"override_photom": r["photom"], "override_area": "N/A"},
            "extract_1d": {"override_extract1d": r["extract1d"] if extract1d else "N/A",
                           "override_apcorr": "N/A"},
            "srctype": {},
        }[step]  # fmt: skip

    def official_overrides(self, step: str, extract1d: bool = True) -> dict:
        out = dict(self.overrides(step, extract1d))
        for reftype in _OFFICIAL_NA.get(step, ()):
            out.setdefault(f"override_{reftype}", "N/A")
        return out

    def pipeline_steps(self, official: bool = False, extract1d: bool = True) -> dict:
        steps = ("assign_wcs", "flat_field", "extract_2d", "photom", "extract_1d")
        get = self.official_overrides if official else self.overrides
        return {s: get(s, extract1d) for s in steps}


@pytest.fixture(scope="session")
def tsgrism_inputs():
    for path in (SIAF_DIR / "NIRCam_SIAF.xml", SPECWCS):
        if not path.is_file():
            pytest.skip(f"shared real file not found: {path}")
    return SIAF_DIR, SPECWCS


def _make(root: Path, inputs, **kwargs) -> TsgrismCase:
    from webbcal.simulate.tsgrism import simulate_tsgrism

    sim = simulate_tsgrism(*inputs, **kwargs)
    rateints = sim.save(root / "data")
    refs = sim.write_references(root / "refs")
    return TsgrismCase(sim=sim, rateints=rateints, refs=refs, root=root)


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
