"""Shared NIRCam grism time-series test material (paths of the real references, the
simulated case and its overrides), importable by the test modules under a name no other
test folder uses."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

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


def _make(root: Path, inputs, **kwargs) -> TsgrismCase:
    from webbcal.simulate.tsgrism import simulate_tsgrism

    sim = simulate_tsgrism(*inputs, **kwargs)
    rateints = sim.save(root / "data")
    refs = sim.write_references(root / "refs")
    return TsgrismCase(sim=sim, rateints=rateints, refs=refs, root=root)
