"""Dithered imaging exposures calibrated to ``_cal`` with a level-3 association: the input
of calwebb_image3 and its steps (tweakreg, skymatch, outlier_detection, resample,
source_catalog), with the truth each of them should recover.

Every exposure sees the same stars (fixed RA/Dec, fixed flux densities) through its own
true WCS (SIAF distortion + pointing); the pointing written to the headers may differ from
the true one by chosen shifts (what tweakreg must measure), each exposure may carry its own
sky level (what skymatch must measure) and a set of cosmic-ray hits (what
outlier_detection must flag). The rates go through webbcal's calwebb_image2 steps
(assign_wcs, flat_field with a unit flat, photom) with the simulator's own references, so
the ``_cal`` files are what stage 2 writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .imaging import SkyStar, imaging_setup, set_pointing_keywords, simulate_imaging_rate

__all__ = ["DitherSet", "simulate_dithered_cals"]

#: Small dither pattern (arcsec in RA*cos(Dec), Dec), exposure by exposure.
DEFAULT_DITHERS = ((0.0, 0.0), (1.03, 0.61), (-0.57, 1.19), (0.81, -0.93))
ARCSEC = 1.0 / 3600.0


@dataclass(frozen=True)
class DitherSet:
    """The simulated exposures and their truth.

    Attributes
    ----------
    cal_paths : tuple of Path
        The ``_cal`` files (ImageModel, MJy/sr, with a gwcs WCS from the header pointing).
    rate_paths : tuple of Path
        The ``_rate`` files they were calibrated from (DN/s).
    asn_path : Path
        Level-3 association (``DMS_Level3_Base``) with every ``_cal`` as ``science``.
    product_name : str
        The association's product name.
    references : dict
        ``{reftype: path}`` of the references used (distortion, filteroffset, flat,
        photom, area), as ``override_<reftype>`` values.
    stars : tuple of SkyStar
        Injected stars (true RA/Dec, degrees; ``flux`` is the peak-normalised count-rate
        scale of the simulator, DN/s).
    flux_mjy : ndarray, shape (n_stars,), float64
        The stars' flux densities, MJy (integrated over the PSF).
    true_wcs : tuple of gwcs.WCS
        Each exposure's true WCS (its stars are rendered through it).
    header_wcs : tuple of gwcs.WCS
        Each exposure's WCS as written to its headers (true WCS shifted by the pointing
        error).
    pointing_errors : ndarray, shape (n_exposures, 2), float64
        Header minus true pointing, arcsec, (RA*cos(Dec), Dec).
    sky : ndarray, shape (n_exposures,), float64
        Sky level added to each exposure, MJy/sr.
    cosmic_rays : tuple of ndarray
        Per exposure, an (n, 2) int array of the 0-based (y, x) pixels hit by a cosmic
        ray (left unflagged in DQ).
    """

    cal_paths: tuple[Path, ...]
    rate_paths: tuple[Path, ...]
    asn_path: Path
    product_name: str
    references: dict
    stars: tuple[SkyStar, ...]
    flux_mjy: np.ndarray
    true_wcs: tuple = ()
    header_wcs: tuple = ()
    pointing_errors: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    sky: np.ndarray = field(default_factory=lambda: np.zeros(0))
    cosmic_rays: tuple = ()


def _random_stars(rng, ra0, dec0, radius_arcsec, n, photmjsr, pixar_sr, sigma):
    """Stars uniformly within ``radius_arcsec`` of (ra0, dec0), log-uniform fluxes."""
    r = radius_arcsec * np.sqrt(rng.uniform(0, 1, n)) * ARCSEC
    theta = rng.uniform(0, 2 * np.pi, n)
    ra = ra0 + r * np.cos(theta) / np.cos(np.radians(dec0))
    dec = dec0 + r * np.sin(theta)
    flux_mjy = 10 ** rng.uniform(-11.5, -10.0, n)  # 3-100 microjansky
    # the simulator's ``flux`` is the star's total count rate (DN/s):
    # F [MJy] = rate * PHOTMJSR * PIXAR_SR.
    rates = flux_mjy / (photmjsr * pixar_sr)
    stars = tuple(
        SkyStar(float(a), float(d), float(f), sigma) for a, d, f in zip(ra, dec, rates, strict=True)
    )
    return stars, flux_mjy


def simulate_dithered_cals(
    directory: str | Path,
    siaf_dir: str | Path | None = None,
    *,
    aperture: str = "NRCA1_SUB160",
    dithers: tuple[tuple[float, float], ...] = DEFAULT_DITHERS,
    pointing_errors: tuple[tuple[float, float], ...] | None = None,
    sky: tuple[float, ...] | None = None,
    n_stars: int = 25,
    star_radius: float | None = None,
    stars: tuple[SkyStar, ...] | None = None,
    sigma: float = 1.2,
    noise: float = 0.02,
    n_cosmic_rays: int = 0,
    cosmic_ray_rate: float = 500.0,
    ra0: float = 150.1,
    dec0: float = 2.2,
    roll: float = 37.25,
    seed: int = 0,
    program: str = "01234",
) -> DitherSet:
    """Simulate dithered imaging exposures and calibrate them to ``_cal`` files.

    Parameters
    ----------
    directory : str or Path
        Output folder: ``data/`` (rate, cal, association) and ``refs/`` are written there.
    siaf_dir : str, Path or None
        Folder of the SIAF XML files (None: the packaged NRCA1 apertures only).
    aperture : str, optional
        SIAF aperture of every exposure (sets detector, subarray and shape).
    dithers : tuple of (float, float), optional
        Offsets of each exposure's reference point from (ra0, dec0), arcsec in
        (RA*cos(Dec), Dec). Their number is the number of exposures.
    pointing_errors : tuple of (float, float) or None, optional
        Header minus true pointing of each exposure, arcsec (RA*cos(Dec), Dec);
        None: no error.
    sky : tuple of float or None, optional
        Sky level of each exposure, MJy/sr (None: 0.1 MJy/sr for all).
    n_stars : int, optional
        Number of random stars (ignored when ``stars`` is given).
    star_radius : float or None, optional
        Radius of the random star field, arcsec (None: about half the aperture).
    stars : tuple of SkyStar or None, optional
        Explicit stars (``flux``: total count rate, DN/s).
    sigma : float, optional
        Gaussian PSF sigma, pixels.
    noise : float, optional
        Gaussian noise per pixel, DN/s.
    n_cosmic_rays : int, optional
        Cosmic-ray hits per exposure (single pixels, ``cosmic_ray_rate`` DN/s, DQ clean).
    cosmic_ray_rate : float, optional
        Count rate of a hit, DN/s.
    ra0, dec0, roll : float, optional
        Field centre and ROLL_REF, degrees.
    seed : int, optional
        Seed of stars, noise and cosmic rays.
    program : str, optional
        Program number in the file names.

    Returns
    -------
    DitherSet

    Raises
    ------
    ValueError
        If ``pointing_errors`` or ``sky`` do not have one entry per dither.
    """
    from stdatamodels.jwst import datamodels as dm

    from webbcal.assign_wcs import AssignWcsStep
    from webbcal.associations.asn import write_association
    from webbcal.associations.from_list import asn_from_list
    from webbcal.datamodels import save_model
    from webbcal.flat_field import FlatFieldStep
    from webbcal.photom import PhotomStep
    from webbcal.wcs import Pointing, imaging_wcs

    from .references_stage2 import (
        default_photom_rows,
        pixel_area,
        write_area,
        write_flat,
        write_photom,
    )

    n = len(dithers)
    errors = np.zeros((n, 2)) if pointing_errors is None else np.asarray(pointing_errors, float)
    skies = np.full(n, 0.1) if sky is None else np.asarray(sky, float)
    if errors.shape != (n, 2):
        raise ValueError(f"pointing_errors: expected {n} (dx, dy) pairs, got {errors.shape}")
    if skies.shape != (n,):
        raise ValueError(f"sky: expected {n} values, got shape {skies.shape}")
    directory = Path(directory)
    data_dir, ref_dir = directory / "data", directory / "refs"
    rng = np.random.default_rng(seed)
    setup = imaging_setup(aperture, siaf_dir)
    inst, det = setup.instrument, setup.detector
    rows = default_photom_rows(inst)
    row = next(r for r in rows if r.filter == setup.filter and r.pupil == setup.pupil)
    pixar_sr = pixel_area(inst, det)[0]
    if stars is None:
        radius = star_radius
        if radius is None:
            ny, nx = setup.shape
            radius = 0.3 * min(ny, nx) * (abs(setup.aperture.sci2idl_x.get("c1_0", 0.031)))
        stars, flux_mjy = _random_stars(
            rng, ra0, dec0, radius, n_stars, row.photmjsr, pixar_sr, sigma
        )
    else:
        stars = tuple(stars)
        flux_mjy = np.array([s.flux for s in stars]) * row.photmjsr * pixar_sr
    refs: dict[str, str] = {}
    cos_dec = np.cos(np.radians(dec0))
    rate_paths, cal_paths, true_wcs, header_wcs, hits = [], [], [], [], []
    for i, ((dx, dy), (ex, ey), level) in enumerate(zip(dithers, errors, skies, strict=True)):
        ra_ref = ra0 + dx * ARCSEC / cos_dec
        dec_ref = dec0 + dy * ARCSEC
        sim = simulate_imaging_rate(
            setup, ra_ref=ra_ref, dec_ref=dec_ref, roll_ref=roll, stars=stars,
            sky=float(level / row.photmjsr), noise=noise, seed=seed * 1000 + i,
        )  # fmt: skip
        model = sim.model
        cr = np.zeros((0, 2), int)
        if n_cosmic_rays:
            ny, nx = setup.shape
            flat = rng.choice(ny * nx, n_cosmic_rays, replace=False)
            cr = np.column_stack(np.unravel_index(flat, (ny, nx)))
            model.data[cr[:, 0], cr[:, 1]] += np.float32(cosmic_ray_rate)
        hits.append(cr)
        wrong = Pointing(
            v2_ref=sim.pointing.v2_ref, v3_ref=sim.pointing.v3_ref,
            roll_ref=sim.pointing.roll_ref,
            ra_ref=ra_ref + ex * ARCSEC / np.cos(np.radians(dec_ref)),
            dec_ref=dec_ref + ey * ARCSEC, v3i_yang=sim.pointing.v3i_yang,
            vparity=sim.pointing.vparity, va_scale=sim.pointing.va_scale,
        )  # fmt: skip
        wcs = imaging_wcs(
            sim.distortion, wrong, shape=setup.shape,
            subarray_start=(setup.xstart, setup.ystart), filter_offset=sim.filter_offset,
        )  # fmt: skip
        set_pointing_keywords(model, setup, wrong, wcs)
        model.meta.observation.exposure_number = str(i + 1)
        model.meta.filename = f"jw{program}001001_01101_{i + 1:05d}_{det.lower()}_rate.fits"
        true_wcs.append(sim.wcs)
        header_wcs.append(wcs)
        if not refs:
            refs = {k: str(v) for k, v in sim.write_references(ref_dir).items()}
            refs.setdefault("filteroffset", "N/A")
            refs["flat"] = str(
                write_flat(
                    ref_dir / "flat.fits",
                    instrument=inst,
                    detector=det,
                    filter=setup.filter,
                    pupil=setup.pupil,
                    nan_fraction=0,
                    zero_fraction=0,
                    no_flat_fraction=0,
                    unreliable_fraction=0,
                    do_not_use_fraction=0,
                    spread=0.0,
                )  # fmt: skip
            )
            refs["photom"] = str(write_photom(ref_dir / "photom.fits", instrument=inst,
                                              detector=det))  # fmt: skip
            refs["area"] = str(write_area(ref_dir / "area.fits", instrument=inst, detector=det))
        rate_paths.append(sim.save(data_dir))
        common = {"disable_crds_steppars": True}
        model = AssignWcsStep.call(
            model, override_distortion=refs["distortion"],
            override_filteroffset=refs["filteroffset"], **common,
        )  # fmt: skip
        model = FlatFieldStep.call(model, override_flat=refs["flat"], **common)
        model = PhotomStep.call(
            model, override_photom=refs["photom"], override_area=refs["area"], **common
        )
        model.meta.filename = model.meta.filename.replace("_rate.fits", "_cal.fits")
        path = data_dir / model.meta.filename
        save_model(model, str(path))
        cal_paths.append(path)
        if isinstance(model, dm.JwstDataModel):
            model.close()
    product = f"jw{program}-o001_t001_{inst.lower()}_{(setup.filter or 'clear').lower()}"
    if setup.pupil:
        product += f"-{setup.pupil.lower()}"
    asn = asn_from_list([p.name for p in cal_paths], product_name=product, acid="o001",
                        program=program)  # fmt: skip
    asn_path = data_dir / f"jw{program}-o001_image3_00001_asn.json"
    write_association(asn, asn_path)
    return DitherSet(
        cal_paths=tuple(cal_paths), rate_paths=tuple(rate_paths), asn_path=asn_path,
        product_name=product, references=refs, stars=tuple(stars),
        flux_mjy=np.asarray(flux_mjy, float), true_wcs=tuple(true_wcs),
        header_wcs=tuple(header_wcs), pointing_errors=errors, sky=skies,
        cosmic_rays=tuple(hits),
    )  # fmt: skip
