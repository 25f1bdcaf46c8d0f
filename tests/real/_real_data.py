"""Paths to the real JWST material in shared/data/real (read-only; never written)."""

from pathlib import Path

import pytest

from _shared_paths import REAL as _REAL

REAL = _REAL
CORON_HEADERS = REAL / "jwst-wheel" / "header_only_uncal"
CORON_FILES = tuple(
    f"jw01075001001_03105_00009_{det}_uncal.fits" for det in ("nrca2", "nrca3", "nrca4")
)
MAPPINGS_0567 = REAL / "crds-mappings" / "jwst_0567"
EUREKA_REFS = REAL / "crds-refs" / "from-eureka"
SUPERBIAS_0075 = EUREKA_REFS / "jwst_nirspec_superbias_0075.fits"
DARK_0046 = EUREKA_REFS / "jwst_nirspec_dark_0046.fits"

#: Stage-1 steps that must run on every near-infrared exposure here.
EXPECTED_COMPLETE = (
    "dq_init", "saturation", "ipc", "superbias", "refpix", "linearity", "dark_sub", "jump",
    "ramp_fit",
)  # fmt: skip
#: Steps the official pipeline skips for these exposures (FRMDIVSR == NFRAMES, skip=True
#: by default, no GAINFACT).
EXPECTED_SKIPPED = ("group_scale", "charge_migration", "gain_scale")


def need(*paths: Path):
    """A skip marker for tests whose real input files are missing."""
    missing = [str(p) for p in paths if not p.exists()]
    return pytest.mark.skipif(bool(missing), reason=f"real data not available: {missing}")
