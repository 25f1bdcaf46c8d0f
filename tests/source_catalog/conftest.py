"""A simulated ``_i2d`` mosaic with known stars, and APCORR/ABVEGAOFFSET references for it.

Four dithered NRCA1_SUB160 exposures (the default dither pattern of
``simulate_dithered_cals``: SIAF distortion, stage-2 calibration by webbcal) are drizzled
by webbcal's resample into one mosaic.
The scene: a 3x3 grid, 19 px apart, of isolated Gaussian stars (sigma 1.2 px, 5-80
microjansky: the truth) whose centre slot holds a close pair (0.2 arcsec apart: deblending,
only for the comparison with jwst).

The APCORR rows are exact for the Gaussian blurred by four one-pixel boxes: the
detector pixel, the drizzle kernel (pixfrac 1), the output pixel and the aperture
sums' uniform-pixel overlaps (see ``webbcal.simulate.references_stage3``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from _shared_paths import REAL

SIAF_DIR = REAL / "pysiaf-siafxml"
RA0, DEC0 = 150.1, 2.2
GRID_STEP = 0.6  # arcsec (19 px)
#: Grid centre from (RA0, DEC0), arcsec: the mean of the default dither offsets, so that
#: every star lies at least 10 px inside every exposure.
CENTRE = (0.3175, 0.2175)
#: Flux densities of the grid stars, microjansky, row by row (the centre slot holds the
#: close pair).
GRID_FLUX_UJY = (5.0, 10.0, 20.0, 40.0, 80.0, 15.0, 30.0, 60.0)
ABVEGA = 1.83
SIGMA = 1.2
N_BOXES = 4


@dataclass(frozen=True)
class Field:
    """The mosaic, its references and truth."""

    i2d: Path
    apcorr: Path
    abvegaoffset: Path
    filter: str
    pupil: str
    radec: np.ndarray  # (8, 2) degrees, grid stars only
    flux_mjy: np.ndarray  # (8,) MJy, grid stars only
    abvega_offset: float
    folder: Path


def _stars(rate_per_mjy):
    """Grid stars (truth) and the close pair at the grid centre."""
    from webbcal.simulate.imaging import SkyStar

    cos = np.cos(np.radians(DEC0))
    cx, cy = CENTRE

    def star(dx, dy, ujy, sigma=SIGMA):
        return SkyStar(RA0 + (cx + dx) / 3600 / cos, DEC0 + (cy + dy) / 3600,
                       ujy * 1e-12 * rate_per_mjy, sigma)  # fmt: skip

    slots = [(i, j) for j in (-1, 0, 1) for i in (-1, 0, 1) if (i, j) != (0, 0)]
    grid = [star(i * GRID_STEP, j * GRID_STEP, f)
            for (i, j), f in zip(slots, GRID_FLUX_UJY, strict=True)]  # fmt: skip
    pair = [star(-0.1, 0.0, 30.0), star(0.1, 0.0, 20.0)]
    return grid, pair


@pytest.fixture(scope="session")
def field(tmp_path_factory) -> Field:
    from stdatamodels.jwst import datamodels as dm

    from webbcal.resample import ResampleStep
    from webbcal.simulate.dithers import simulate_dithered_cals
    from webbcal.simulate.imaging import imaging_setup
    from webbcal.simulate.references_stage2 import default_photom_rows, pixel_area
    from webbcal.simulate.references_stage3 import (
        gaussian_apcorr_rows,
        write_abvegaoffset,
        write_apcorr,
    )

    if not (SIAF_DIR / "NIRCam_SIAF.xml").is_file():
        pytest.skip("shared SIAF XML not found")
    folder = tmp_path_factory.mktemp("source_catalog")
    setup = imaging_setup("NRCA1_SUB160", SIAF_DIR)
    row = next(r for r in default_photom_rows("NIRCAM")
               if r.filter == setup.filter and r.pupil == setup.pupil)  # fmt: skip
    rate_per_mjy = 1.0 / (row.photmjsr * pixel_area("NIRCAM", "NRCA1")[0])
    grid, pair = _stars(rate_per_mjy)
    ds = simulate_dithered_cals(
        folder, SIAF_DIR, stars=tuple(grid + pair),
        noise=0.02, ra0=RA0, dec0=DEC0, seed=11,
    )  # fmt: skip
    i2d = ResampleStep.call(str(ds.asn_path), disable_crds_steppars=True)
    path = folder / "jw01234-o001_t001_nircam_f200w-clear_i2d.fits"
    i2d.save(str(path))
    filt, pupil = i2d.meta.instrument.filter, i2d.meta.instrument.pupil
    assert isinstance(i2d, dm.ImageModel)
    rows = gaussian_apcorr_rows(sigma=SIGMA, n_boxes=N_BOXES, filter=filt, pupil=pupil)
    rows += gaussian_apcorr_rows(sigma=2.5, filter="F444W", pupil="CLEAR")
    apcorr = write_apcorr(folder / "apcorr.fits", instrument="NIRCAM", rows=rows)
    abvega = write_abvegaoffset(
        folder / "abvegaoffset.asdf", instrument="NIRCAM",
        rows=[{"filter": filt, "pupil": pupil, "abvega_offset": ABVEGA},
              {"filter": "F444W", "pupil": "CLEAR", "abvega_offset": 3.2}],
    )  # fmt: skip
    n = len(grid)
    return Field(
        i2d=path, apcorr=apcorr, abvegaoffset=abvega, filter=filt, pupil=pupil,
        radec=np.array([[s.ra, s.dec] for s in grid]), flux_mjy=ds.flux_mjy[:n],
        abvega_offset=ABVEGA,
        folder=folder,
    )  # fmt: skip


@pytest.fixture()
def refs(field) -> dict:
    """The ``override_*`` arguments of the field's references."""
    return {"override_apcorr": str(field.apcorr),
            "override_abvegaoffset": str(field.abvegaoffset)}  # fmt: skip
