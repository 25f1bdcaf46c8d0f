"""Inputs of the tweakreg tests: dithered NIRCam _cal exposures with known pointing errors.

The stars lie on a jittered 5 x 5 grid 0.75 arcsec apart (well separated on the 160 x 160
NRCA1_SUB160 subarray), so every exposure sees 16-25 of them; the header pointing of each
exposure is off the truth by 10-100 mas.
"""

from __future__ import annotations

import numpy as np
import pytest

from _shared_paths import REAL
from webbcal.simulate.dithers import simulate_dithered_cals
from webbcal.simulate.imaging import SkyStar

SIAF_DIR = REAL / "pysiaf-siafxml"
RA0, DEC0 = 150.1, 2.2
#: Header minus true pointing of each exposure, arcsec (RA*cos(Dec), Dec).
POINTING_ERRORS = ((0.05, -0.03), (-0.04, 0.08), (0.02, 0.06), (-0.07, -0.01))
#: Matching options suited to pointing errors below 0.1 arcsec and stars 0.45" apart or more.
MATCH = {"tolerance": 0.2, "separation": 0.5, "searchrad": 0.5, "minobj": 8}


def grid_stars(seed: int, *, spacing: float = 0.75, rate: float = 20.0) -> tuple:
    """Stars on a jittered 5 x 5 grid around (RA0, DEC0); total count rates 20-200 DN/s."""
    rng = np.random.default_rng(seed)
    offsets = np.arange(-2, 3) * spacing
    stars = []
    for gx in offsets:
        for gy in offsets:
            dx, dy = gx + rng.uniform(-0.15, 0.15), gy + rng.uniform(-0.15, 0.15)
            stars.append(SkyStar(RA0 + dx / 3600 / np.cos(np.radians(DEC0)), DEC0 + dy / 3600,
                                 rate * 10 ** rng.uniform(0, 1), 1.2))  # fmt: skip
    return tuple(stars)


def simulate(folder, seed: int = 1, **kwargs):
    if not (SIAF_DIR / "NIRCam_SIAF.xml").is_file():
        pytest.skip(f"shared SIAF XML not found: {SIAF_DIR}")
    kwargs.setdefault("pointing_errors", POINTING_ERRORS)
    kwargs.setdefault("stars", grid_stars(seed))
    return simulate_dithered_cals(folder, SIAF_DIR, seed=seed, ra0=RA0, dec0=DEC0, **kwargs)


def sky_errors_mas(dither_set, index: int, wcs) -> np.ndarray:
    """(RA*cos(Dec), Dec) errors of ``wcs`` at the true pixels of the stars on the array, mas.

    Returns
    -------
    ndarray, shape (n, 2)
        ``wcs(x_true, y_true) - star`` for each star whose true position lies on exposure
        ``index``.
    """
    true = dither_set.true_wcs[index]
    ny, nx = 160, 160
    out = []
    for star in dither_set.stars:
        x, y = true.invert(star.ra, star.dec)
        if np.isfinite(x) and np.isfinite(y) and 0 <= x < nx and 0 <= y < ny:
            ra, dec = wcs(x, y)
            out.append(((ra - star.ra) * np.cos(np.radians(star.dec)), dec - star.dec))
    return np.array(out) * 3.6e6
