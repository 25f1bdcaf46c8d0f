"""A small simulated program: several exposures served by one local CRDS context."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from webbcal.crds_client import RmapEntry, crds_environment, write_local_context
from webbcal.simulate import make_detector, simulate_exposure, write_reference_files

PARKEYS = ("META.INSTRUMENT.DETECTOR", "META.SUBARRAY.NAME")


@dataclass
class Program:
    """Simulated exposures (``uncal``), their CRDS cache and context."""

    uncal: list[Path]
    crds_path: Path
    context: str

    def crds(self):
        """Point CRDS at this program's cache (offline)."""
        return crds_environment(self.crds_path)


def make_program(
    root: Path, subarrays: dict[str, int], *, ngroups: int = 4, geometry=None
) -> Program:
    """Simulate ``{subarray: n_exposures}`` NIRCam NRCA1 exposures with one CRDS context."""
    root.mkdir(parents=True, exist_ok=True)
    selections: dict[str, dict] = {}
    uncal, number = [], 1
    for k, (subarray, count) in enumerate(subarrays.items()):
        det = make_detector(subarray=subarray, geometry=geometry, seed=10 + k)
        refs = write_reference_files(det, root / "refs" / subarray, ngroups=ngroups)
        for reftype, path in refs.items():
            rules = selections.setdefault(reftype, {})
            rules[("NRCA1", det.subarray)] = [("2020-01-01 00:00:00", str(path))]
        for _ in range(count):
            sim = simulate_exposure(det, ngroups=ngroups, cr_rate=1e-3, seed=100 + number,
                                    exposure=number)  # fmt: skip
            uncal.append(sim.save(root / "data")["uncal"])
            number += 1
    entries = [RmapEntry("NIRCAM", r, PARKEYS, sel) for r, sel in sorted(selections.items())]
    context = write_local_context(root / "crds", entries)
    return Program(uncal, root / "crds", context)


@pytest.fixture(scope="session")
def program_builder():
    """The :func:`make_program` factory."""
    return make_program
