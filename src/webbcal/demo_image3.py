"""``webbcal demo --stage 3``: four dithered NIRCam exposures to a mosaic and a catalog.

Four NRCA1_SUB640 exposures of one star field are simulated and calibrated to ``_cal``
by webbcal's stage-2 steps (:func:`webbcal.simulate.dithers.simulate_dithered_cals`):
their header pointings are off the truth by 40-90 mas, their skies differ and each
carries unflagged cosmic-ray hits. calwebb_image3 then aligns them (tweakreg), matches
their skies (skymatch), flags the hits (outlier_detection), drizzles the ``_i2d`` mosaic
(resample) and measures the stars (source_catalog); the demo compares what it found with
what was injected and draws the mosaic with the catalog's sources circled.

Everything runs offline: the references (SIAF distortion, flat, photom, area, APCORR,
ABVEGAOFFSET) are the simulator's own and are given to the steps as overrides.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["Image3DemoResult", "run_image3_demo"]

RA0, DEC0 = 80.49, -69.5
#: Header minus true pointing of each exposure, arcsec (RA*cos(Dec), Dec).
POINTING_ERRORS = ((0.05, -0.03), (-0.04, 0.08), (0.02, 0.06), (-0.07, -0.01))
SKY = (0.10, 0.18, 0.14, 0.25)
DITHERS = ((0.0, 0.0), (2.13, 1.21), (-1.57, 2.39), (1.81, -1.93))
SIGMA = 1.2


@dataclass(frozen=True)
class Image3DemoResult:
    """What the stage-3 demo wrote and measured.

    Attributes
    ----------
    cal : tuple of Path
        The simulated ``_cal`` exposures.
    asn, i2d, catalog, segm, quicklook : Path
        The association, the mosaic, its ``_cat.ecsv``, its ``_segm.fits`` and a PNG
        of the mosaic with the catalog's sources circled.
    crf : tuple of Path
        The exposures with outliers flagged.
    n_injected, n_found : int
        Stars inside the mosaic, and those the catalog found within 0.1 arcsec.
    shift_mas : tuple of float
        Common offset of the found stars from the truth (RA*cos(Dec), Dec), mas: the
        pointing error of the exposure tweakreg aligned the others to.
    residual_mas : tuple of float
        Median and largest offset of the found stars after that common shift, mas.
    flux_ratio : tuple of float
        Median, smallest and largest catalog ``aper_total_flux`` over injected flux.
    cosmic_rays_flagged : float
        Fraction of the injected cosmic-ray hits flagged OUTLIER in the ``_crf`` files.
    """

    cal: tuple[Path, ...]
    asn: Path
    crf: tuple[Path, ...]
    i2d: Path
    catalog: Path
    segm: Path
    quicklook: Path
    n_injected: int
    n_found: int
    shift_mas: tuple[float, float]
    residual_mas: tuple[float, float]
    flux_ratio: tuple[float, float, float]
    cosmic_rays_flagged: float

    def __str__(self) -> str:
        return "\n".join([
            "webbcal demo, stage 3: calwebb_image3 on 4 dithered NIRCam exposures "
            "(NRCA1_SUB640)",
            f"  association  : {self.asn}",
            f"  mosaic       : {self.i2d}",
            f"  catalog      : {self.catalog} (segmentation map {self.segm.name})",
            f"  picture      : {self.quicklook}",
            f"  outliers     : {len(self.crf)} _crf files; "
            f"{100 * self.cosmic_rays_flagged:.1f} % of the injected cosmic rays flagged",
            f"  stars        : {self.n_found} of {self.n_injected} injected stars found",
            f"  alignment    : mosaic offset ({self.shift_mas[0]:+.1f}, {self.shift_mas[1]:+.1f})"
            " mas = the reference exposure's pointing error (relative alignment); "
            f"stars within {self.residual_mas[0]:.2f} mas (median), "
            f"{self.residual_mas[1]:.2f} mas (max) of it",
            f"  photometry   : catalog / injected flux median {self.flux_ratio[0]:.4f} "
            f"(range {self.flux_ratio[1]:.4f}-{self.flux_ratio[2]:.4f})",
        ])  # fmt: skip


def _stars(rate_per_ujy: float, seed: int):
    """Stars on a jittered 8 x 8 grid 2.2 arcsec apart, 15-150 microjansky."""
    from .simulate.imaging import SkyStar

    rng = np.random.default_rng(seed)
    stars, fluxes = [], []
    for gx in (np.arange(8) - 3.5) * 2.2:
        for gy in (np.arange(8) - 3.5) * 2.2:
            dx, dy = gx + rng.uniform(-0.3, 0.3), gy + rng.uniform(-0.3, 0.3)
            ujy = 15 * 10 ** rng.uniform(0, 1)
            stars.append(SkyStar(RA0 + dx / 3600 / np.cos(np.radians(DEC0)), DEC0 + dy / 3600,
                                 ujy * rate_per_ujy, SIGMA))  # fmt: skip
            fluxes.append(ujy)
    return tuple(stars), np.array(fluxes)


def run_image3_demo(out: str | os.PathLike = "webbcal_demo", *, seed: int = 1) -> Image3DemoResult:
    """Simulate four dithered exposures, run calwebb_image3 and compare with the truth.

    Parameters
    ----------
    out : path
        Output folder (created): ``stage3/data`` (simulated ``_rate``, ``_cal``, the
        association), ``stage3/refs``, and the products in ``stage3/``.
    seed : int
        Seed of the star field, noise and cosmic rays.

    Returns
    -------
    Image3DemoResult
    """
    from astropy import units as u
    from astropy.coordinates import SkyCoord
    from astropy.table import QTable
    from stdatamodels.jwst import datamodels as dm

    from .dqflags import PIXEL
    from .pipeline.image3 import Image3Pipeline
    from .simulate.dithers import simulate_dithered_cals
    from .simulate.imaging import imaging_setup
    from .simulate.references_stage2 import default_photom_rows, pixel_area
    from .simulate.references_stage3 import (
        gaussian_apcorr_rows,
        write_abvegaoffset,
        write_apcorr,
    )
    from .tools.quicklook import render_image

    root = Path(out).resolve() / "stage3"
    setup = imaging_setup("NRCA1_SUB640", None)
    row = next(r for r in default_photom_rows("NIRCAM")
               if (r.filter, r.pupil) == (setup.filter, setup.pupil))  # fmt: skip
    rate_per_ujy = 1e-12 / (row.photmjsr * pixel_area("NIRCAM", "NRCA1")[0])
    stars, fluxes = _stars(rate_per_ujy, seed)
    sim = simulate_dithered_cals(
        root, None, aperture="NRCA1_SUB640", dithers=DITHERS, stars=stars,
        pointing_errors=POINTING_ERRORS, sky=SKY, n_cosmic_rays=200, noise=0.02, seed=seed,
        ra0=RA0, dec0=DEC0,
    )  # fmt: skip
    refs = root / "refs"
    # The mosaic's point-spread function: the simulated Gaussian blurred by the detector
    # pixel, the drizzle kernel, the output pixel and the apertures' pixel sampling.
    apcorr = write_apcorr(refs / "webbcal_nrca1_apcorr.fits", instrument="NIRCAM",
                          rows=gaussian_apcorr_rows(sigma=SIGMA, n_boxes=4, filter=setup.filter,
                                                    pupil=setup.pupil))  # fmt: skip
    abvega = write_abvegaoffset(refs / "webbcal_nircam_abvegaoffset.asdf", instrument="NIRCAM",
                                rows=[{"filter": setup.filter, "pupil": setup.pupil,
                                       "abvega_offset": 1.75}])  # fmt: skip
    steps = {"source_catalog": {"override_apcorr": str(apcorr),
                                "override_abvegaoffset": str(abvega)}}  # fmt: skip
    Image3Pipeline.call(str(sim.asn_path), output_dir=str(root), save_results=True, steps=steps,
                        disable_crds_steppars=True)  # fmt: skip
    product = sim.product_name
    i2d, cat_path, segm = (root / f"{product}_i2d.fits", root / f"{product}_cat.ecsv",
                           root / f"{product}_segm.fits")  # fmt: skip
    crf = tuple(sorted(root.glob("*_crf.fits")))
    cat = QTable.read(cat_path)
    truth = SkyCoord([s.ra for s in stars] * u.deg, [s.dec for s in stars] * u.deg)
    with dm.ImageModel(str(i2d)) as mosaic:
        x, y = mosaic.meta.wcs.invert(truth.ra.deg, truth.dec.deg)
        ny, nx = mosaic.data.shape
    inside = (x > 10) & (x < nx - 10) & (y > 10) & (y < ny - 10)
    idx, sep, _ = truth.match_to_catalog_sky(cat["sky_centroid"])
    found = inside & (sep < 100 * u.mas)
    sky = cat["sky_centroid"][idx[found]]
    cos_dec = np.cos(truth.dec[found].radian)
    offset = np.column_stack([((sky.ra - truth.ra[found]) * cos_dec).to_value(u.mas),
                              (sky.dec - truth.dec[found]).to_value(u.mas)])  # fmt: skip
    shift = np.median(offset, axis=0)
    residual = np.hypot(*(offset - shift).T)
    ratio = cat["aper_total_flux"][idx[found]].to_value(u.uJy) / fluxes[found]
    flagged, total = 0, 0
    for cal, hits in zip(sim.cal_paths, sim.cosmic_rays, strict=True):
        (path,) = [p for p in crf if p.name.startswith(cal.name.removesuffix("_cal.fits") + "_")]
        with dm.ImageModel(str(path)) as model:
            flagged += int(np.count_nonzero(model.dq[hits[:, 0], hits[:, 1]] & PIXEL["OUTLIER"]))
            total += len(hits)
    png = root / f"{product}_i2d.png"
    render_image(str(i2d), str(png), stretch="asinh",
                 markers=[(c.ra.deg, c.dec.deg) for c in cat["sky_centroid"]])  # fmt: skip
    return Image3DemoResult(
        cal=sim.cal_paths, asn=sim.asn_path, crf=crf, i2d=i2d, catalog=cat_path, segm=segm,
        quicklook=png, n_injected=int(inside.sum()), n_found=int(found.sum()),
        shift_mas=(float(shift[0]), float(shift[1])),
        residual_mas=(float(np.median(residual)), float(residual.max())),
        flux_ratio=(float(np.median(ratio)), float(ratio.min()), float(ratio.max())),
        cosmic_rays_flagged=flagged / max(total, 1),
    )  # fmt: skip
