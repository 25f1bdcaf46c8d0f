"""Simulated MIRI LRS slitless cases shared by the LRS and pixel_replace tests: a saved
rateints with an analytic truth and its references (overrides for our steps and jwst's)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from _shared_paths import REAL

__all__ = ["SIAF_DIR", "LrsCase", "make_case"]

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


def make_case(root: Path, siaf_dir: Path, **kwargs) -> LrsCase:
    """Simulate (``simulate_lrs_slitless(**kwargs)``) and save a case under ``root``."""
    from webbcal.simulate.lrs import simulate_lrs_slitless

    sim = simulate_lrs_slitless(siaf_dir, **kwargs)
    rateints = sim.save(root / "data")
    refs = sim.write_references(root / "refs")
    return LrsCase(sim=sim, rateints=rateints, refs=refs, root=root)
