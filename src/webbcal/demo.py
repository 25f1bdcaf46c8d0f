"""``webbcal demo``: a complete offline run, uncal -> rate -> cal -> i2d, on a simulated exposure.

The demo writes a simulated NIRCam exposure and a matching reference set, puts
the references into a local CRDS cache with its own context (pmap, imap, rmaps
with valid checksums, and the cache's ``server_config``), then runs
calwebb_detector1 through the ordinary CRDS selection path (no overrides) and
compares the rate with the simulation's truth.

For NIRCam it goes on through calwebb_image2. The exposure carries the pointing
keywords of the SIAF aperture NRCA1_FULL (PRD PRDOPSSOC-075, shipped in
``webbcal/data/siaf_demo.json``), and nine stars are rendered where the exposure's true
WCS puts chosen sky positions; the context also serves the distortion (from the same
SIAF parameters), filteroffset, flat (the simulated detector's response), photom and
area references. The stars are measured on the ``_cal`` (centroid through its WCS, and
aperture flux) against the injected RA/Dec and flux, and the ``_i2d`` is drawn with
RA/Dec axes. The MIRI and FGS demos stop after stage 1 (calwebb_guider for FGS).

References
----------
Cox, C. & Lallo, M. 2017, "Description and Use of the JWST Science Instrument Aperture
File", JWST-STScI-001550 (pointing keywords of an aperture).

JWST pipeline documentation, "calwebb_image2" and the ``assign_wcs``, ``flat_field`` and
``photom`` steps (reference types and how they are applied).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "DemoResult",
    "Stage2Result",
    "demo_subarrays",
    "detectable_cosmic_rays",
    "miri_unusable_groups",
    "run_demo",
]

log = logging.getLogger(__name__)

#: Match keys of the demo context's rules (detector and subarray, then USEAFTER).
DEMO_PARKEYS = ("META.INSTRUMENT.DETECTOR", "META.SUBARRAY.NAME")
DEMO_CONTEXT_NUMBER = 9001


@dataclass(frozen=True)
class Stage2Result:
    """calwebb_image2 products of the demo and the stars measured on the ``_cal``.

    Attributes
    ----------
    cal, i2d, quicklook : Path
        The ``_cal`` and ``_i2d`` products and the PNG quick look of the i2d.
    ra, dec : tuple of float
        Injected star positions, ICRS degrees.
    offsets_mas : tuple of float
        Angular distance between each star's centroid on the ``_cal`` (through the
        product's WCS) and its injected position, milliarcseconds.
    flux_mjysr : tuple of float
        Background-subtracted sum of each star's surface brightness over a
        :data:`_R_FLUX`-pixel aperture, MJy/sr (times pixels).
    injected_mjysr : tuple of float
        The same sum expected from the injected flux (e-/s over the reference gain,
        times PHOTMJSR).
    """

    cal: Path
    i2d: Path
    quicklook: Path
    ra: tuple[float, ...]
    dec: tuple[float, ...]
    offsets_mas: tuple[float, ...]
    flux_mjysr: tuple[float, ...]
    injected_mjysr: tuple[float, ...]

    @property
    def flux_ratios(self) -> np.ndarray:
        """Measured over injected flux of each star."""
        return np.asarray(self.flux_mjysr) / np.asarray(self.injected_mjysr)

    def lines(self) -> list[str]:
        """Summary lines."""
        off = np.asarray(self.offsets_mas)
        ratio = self.flux_ratios
        ok = np.isfinite(off) & np.isfinite(ratio)
        lines = [
            f"  cal          : {self.cal}",
            f"  i2d          : {self.i2d}",
            f"  i2d picture  : {self.quicklook}",
        ]
        stars = f"{off.size} stars" if off.size != 1 else "1 star"
        if not ok.any():
            return [*lines, f"  {stars} at known RA/Dec: none measurable on the cal"]
        off, ratio = off[ok], ratio[ok]
        skipped = f" ({int((~ok).sum())} with flagged pixels skipped)" if not ok.all() else ""
        return [
            *lines,
            f"  {stars} at known RA/Dec, centroids on the cal through its WCS{skipped}: "
            f"offsets median {np.median(off):.2f} mas, max {off.max():.2f} mas",
            f"  star fluxes on the cal (MJy/sr summed over {_R_FLUX:g} px) / injected: "
            f"median {np.median(ratio):.4f}, range {ratio.min():.4f}..{ratio.max():.4f}",
        ]


@dataclass(frozen=True)
class DemoResult:
    """Where the demo wrote its products and how well the rate matches the truth."""

    out: Path
    uncal: Path
    rate: Path
    rateints: Path
    truth: Path
    crds_path: Path
    context: str
    n_good: int
    median_pull: float
    robust_sigma_pull: float
    cr_flagged_fraction: float
    n_cosmic_rays: int = -1
    stage2: Stage2Result | None = None

    def __str__(self) -> str:
        if self.n_cosmic_rays == 0:
            crs = "  cosmic rays: none simulated"
        else:
            crs = f"  cosmic rays above 5 sigma flagged: {100 * self.cr_flagged_fraction:.1f} %"
        if self.stage2 is None:
            stage2 = ["  calwebb_image2: not run (the demo's stage 2 is NIRCam only)"]
        else:
            stage2 = self.stage2.lines()
        return "\n".join(
            [
                f"webbcal demo finished (CRDS context {self.context}, cache {self.crds_path})",
                f"  raw exposure : {self.uncal}",
                f"  rate         : {self.rate}",
                f"  rateints     : {self.rateints}",
                f"  truth        : {self.truth}",
                f"  good pixels compared with truth: {self.n_good}",
                f"  median (rate - true)/ERR      : {self.median_pull:+.3f}  (ideal 0)",
                f"  robust sigma of (rate-true)/ERR: {self.robust_sigma_pull:.3f}  (ideal 1)",
                crs,
                *stage2,
                "To run webbcal on the demo's files (simulated references only; for real "
                "data see README, 'CRDS'):",
                f"  export CRDS_PATH={self.crds_path}",
                "  export CRDS_SERVER_URL=https://jwst-serverless-mode.stsci.edu",
            ]
        )


def _demo_context(
    crds_path: Path, refs: dict[str, Path], detector: str, subarray: str, instrument: str = "NIRCAM"
) -> str:
    from .crds_client import RmapEntry, write_local_context

    entries = [
        RmapEntry(
            instrument=instrument,
            reftype=reftype,
            parkeys=DEMO_PARKEYS,
            selections={(detector, subarray): [("2022-01-01 00:00:00", str(path))]},
            comment="webbcal demo reference (simulated detector)",
        )
        for reftype, path in sorted(refs.items())
    ]
    # As in the flight rules, reference types that do not apply to MIRI are N/A.
    not_applicable = {"MIRI": ["superbias", "refpix", "sirskernel"]} if instrument == "MIRI" else {}
    return write_local_context(
        crds_path, entries, context_number=DEMO_CONTEXT_NUMBER, not_applicable=not_applicable
    )


#: Usable groups an integration needs at a pixel for a jump to be detectable.
MIN_JUMP_GROUPS = 3


def detectable_cosmic_rays(
    sim, nsigma: float = 5.0, *, groupdq: np.ndarray | None = None
) -> np.ndarray:
    """Boolean mask of a simulation's cosmic rays that a jump detector should find.

    A hit in group ``g`` shows as a jump between groups ``g - 1`` and ``g``; it counts
    when

    * its amplitude exceeds ``nsigma`` times the noise of that two-group difference at its
      pixel (read noise of two groups plus the Poisson noise of one group),
    * both groups are usable: not DO_NOT_USE and not SATURATED,
    * its integration keeps at least :data:`MIN_JUMP_GROUPS` usable groups at the pixel
      (with a single difference there is nothing to compare a jump with),
    * its pixel is not bad.

    Usable groups come from ``groupdq`` when it is given (the calibrated ramp's GROUPDQ,
    as the jump step saw it). Otherwise they are derived from the simulation: a group is
    saturated where the raw level of the pixel or of one of its 8 neighbours reached the
    SATURATION level in this or an earlier group (the saturation step flags neighbours,
    ``n_pix_grow_sat = 1``); for MIRI the leading groups named by the RSCD reference and the
    last group (lastframe) are DO_NOT_USE, see :func:`miri_unusable_groups`.

    Parameters
    ----------
    sim : webbcal.simulate.SimulatedExposure
        NIR or MIRI simulation.
    nsigma : float
        Detection threshold in units of the difference noise.
    groupdq : ndarray of uint8, shape (nints, ngroups, ny, nx), optional
        Group DQ of the ramp before jump detection (JUMP_DET flags are ignored).

    Returns
    -------
    ndarray of bool, shape (ncosmic_rays,)

    Raises
    ------
    ValueError
        If ``groupdq`` does not have the shape of the raw data.

    References
    ----------
    JWST pipeline documentation, "jump", "saturation", "rscd" and "lastframe" steps.
    """
    from .dqflags import DO_NOT_USE, SATURATED

    truth, det, model = sim.truth, sim.detector, sim.model
    crs = truth.cosmic_rays
    integ, group, y, x = crs["integ"], crs["group"], crs["y"], crs["x"]
    exp = model.meta.exposure
    readnoise = (
        det.frame_readnoise(exp.readpatt) if hasattr(det, "frame_readnoise") else det.readnoise
    )
    sigma_group = readnoise[y, x] / np.sqrt(2 * exp.nframes)
    poisson = np.maximum(truth.rate[y, x], 0) * exp.group_time / det.gain[y, x]
    sigma_diff = np.sqrt(2 * sigma_group**2 + poisson)
    if groupdq is not None:
        if groupdq.shape != model.data.shape:
            raise ValueError(
                f"groupdq has shape {groupdq.shape}; expected {model.data.shape} (the raw data)"
            )
        bad_groups = (groupdq[integ, :, y, x] & (DO_NOT_USE | SATURATED)) != 0
    else:
        bad_groups = _saturated_groups(model.data, det.saturation, integ, y, x)
        if model.meta.instrument.name == "MIRI":
            bad_groups |= miri_unusable_groups(sim)[integ]
    usable = ~bad_groups
    ok_group = group >= 1
    prev = np.maximum(group - 1, 0)
    rows = np.arange(crs.size)
    both = usable[rows, prev] & usable[rows, np.minimum(group, usable.shape[1] - 1)]
    return (
        (crs["amplitude_dn"] > nsigma * sigma_diff)
        & ok_group
        & both
        & (usable.sum(axis=1) >= MIN_JUMP_GROUPS)
        & ~truth.bad[y, x]
    )


def _saturated_groups(
    data: np.ndarray, saturation: np.ndarray, integ: np.ndarray, y: np.ndarray, x: np.ndarray
) -> np.ndarray:
    """(npix, ngroups) bool: a group at or after the first saturated one in the 3 x 3 box."""
    ny, nx = saturation.shape
    dy, dx = np.meshgrid([-1, 0, 1], [-1, 0, 1], indexing="ij")
    yy = np.clip(y[:, None] + dy.ravel(), 0, ny - 1)
    xx = np.clip(x[:, None] + dx.ravel(), 0, nx - 1)
    raw = data[integ[:, None], :, yy, xx]  # (npix, 9, ngroups)
    hit = (raw >= saturation[yy, xx][..., None]).any(axis=1)
    return np.logical_or.accumulate(hit, axis=1)


def miri_unusable_groups(sim) -> np.ndarray:
    """Groups the MIRI branch flags DO_NOT_USE in every pixel, bool (nints, ngroups).

    The leading groups given by the simulation's RSCD reference (``group_skip1`` in
    integration 1, ``group_skip`` later; one group when ``ngroups <= 5``, and at least
    three groups left) and the last group when ``ngroups > 2`` (lastframe). The per-pixel
    reduction of the RSCD flags on saturating pixels is left out: it only makes more
    groups usable, so the mask errs on the side of fewer detectable hits.

    References
    ----------
    JWST pipeline documentation, "rscd" and "lastframe" steps.
    """
    from .simulate.miri_transients import rscd_skip

    exp = sim.model.meta.exposure
    nints, ngroups = sim.model.data.shape[:2]
    skip1, skip = rscd_skip(sim.detector.subarray, exp.readpatt)
    if ngroups <= 5:
        skip1 = skip = 1
    out = np.zeros((nints, ngroups), bool)
    for i in range(nints):
        out[i, : min(skip1 if i == 0 else skip, max(ngroups - 3, 0))] = True
    if ngroups > 2:
        out[:, -1] = True
    return out


#: Pointing of the demo's NIRCam exposure (the reference point of NRCA1_FULL).
DEMO_POINTING = {"ra_ref": 150.1, "dec_ref": 2.2, "roll_ref": 37.25, "va_scale": 1.00003}
#: Aperture whose SIAF parameters give the demo's distortion and pointing keywords
#: (shipped in ``webbcal/data/siaf_demo.json``).
DEMO_APERTURE = "NRCA1_FULL"
#: Fraction of the full well the astrometric stars' peak pixels collect in an integration.
_STAR_FILL = 0.25
_STAR_SIGMA = 1.2
#: Radii (pixels) of the flux aperture and of the background annulus on the _cal.
_R_FLUX, _R_IN, _R_OUT = 6.0, 9.0, 13.0


@dataclass
class _SkyTruth:
    """The demo exposure's true WCS and the stars placed at known (RA, Dec)."""

    setup: object
    pointing: object
    wcs: object
    ra: np.ndarray
    dec: np.ndarray
    x: np.ndarray
    y: np.ndarray
    flux_e: np.ndarray
    gain_ref: float

    def write_keywords(self, model) -> None:
        from .simulate.imaging import set_pointing_keywords

        set_pointing_keywords(model, self.setup, self.pointing, self.wcs)
        model.meta.aperture.name = model.meta.aperture.pps_name = self.setup.aperture.name


def _sky_truth(det, ngroups: int) -> _SkyTruth:
    """Pointing, true WCS and astrometric stars of the demo's NRCA1 exposure.

    The stars sit on a 3 x 3 grid (sub-pixel offsets) at least 20 pixels from the edges
    (one star on arrays under 100 pixels),
    moved where needed so that no bad pixel falls within the flux aperture; their
    (RA, Dec) are where the true WCS puts those pixels.
    """
    from dataclasses import replace
    from math import erf, sqrt

    from .simulate.exposure import detector_frame_time
    from .simulate.imaging import imaging_setup
    from .wcs import Pointing, distortion_from_siaf, imaging_wcs

    setup = imaging_setup(DEMO_APERTURE, None)
    g = det.geometry
    setup = replace(setup, subarray=det.subarray, xstart=g.xstart, ystart=g.ystart,
                    shape=tuple(det.shape))  # fmt: skip
    ap = setup.aperture
    pointing = Pointing(v2_ref=ap.v2_ref, v3_ref=ap.v3_ref, v3i_yang=ap.v3_idl_yangle,
                        vparity=ap.vidl_parity, **DEMO_POINTING)  # fmt: skip
    wcs = imaging_wcs(distortion_from_siaf(setup.full_aperture), pointing, shape=setup.shape,
                      subarray_start=(setup.xstart, setup.ystart))  # fmt: skip
    ny, nx = det.shape
    margin = min(20, min(ny, nx) // 4)
    bad = det.response <= 0
    xs, ys = [], []
    # Nine stars; a 64 x 64 subarray holds one (the background annulus stays clear).
    for fy in (0.25, 0.5, 0.75) if ny >= 100 else (0.5,):
        for fx in (0.25, 0.5, 0.75) if nx >= 100 else (0.5,):
            x = margin + fx * (nx - 1 - 2 * margin) + 0.3
            y = margin + fy * (ny - 1 - 2 * margin) - 0.2
            for _ in range(50):  # step along x until the flux aperture has no bad pixel
                box = bad[max(int(y) - 7, 0) : int(y) + 8, max(int(x) - 7, 0) : int(x) + 8]
                if not box.any():
                    break
                x += 3.0
            xs.append(x)
            ys.append(y)
    x, y = np.array(xs), np.array(ys)
    ra, dec = wcs(x, y)
    gain = det.gain[det.response > 0]
    full_well_e = float(np.median(det.full_well * det.gain))
    t_int = detector_frame_time(det) * ngroups
    peak_frac = erf(0.5 / (sqrt(2.0) * _STAR_SIGMA)) ** 2
    flux = _STAR_FILL * full_well_e / (t_int * peak_frac) * np.linspace(0.6, 1.0, x.size)
    return _SkyTruth(setup, pointing, wcs, np.asarray(ra), np.asarray(dec), x, y, flux,
                     float(np.median(gain)))  # fmt: skip


def _demo_scene(det, sky_truth: _SkyTruth, ngroups: int, seed: int):
    """The usual stage-1 scene plus the astrometric stars (clear of the other stars)."""
    from .simulate.exposure import detector_frame_time
    from .simulate.scene import Scene, Star, default_scene

    scene_seed = np.random.SeedSequence(seed).spawn(4)[0]
    base = default_scene(det.shape, full_well_e=float(np.median(det.full_well * det.gain)),
                         integration_time=detector_frame_time(det) * ngroups,
                         seed=int(scene_seed.generate_state(1)[0]))  # fmt: skip
    clear = [
        s for s in base.stars
        if np.all(np.hypot(s.x - sky_truth.x, s.y - sky_truth.y) > 2 * _R_OUT)
    ]  # fmt: skip
    ours = [
        Star(float(x), float(y), float(f), _STAR_SIGMA)
        for x, y, f in zip(sky_truth.x, sky_truth.y, sky_truth.flux_e, strict=True)
    ]
    return Scene(sky=base.sky, stars=(*clear, *ours))


def _stage2_references(det, sky_truth: _SkyTruth, refdir: Path) -> dict[str, Path]:
    """distortion, filteroffset, flat, photom and area references of the demo exposure.

    The flat is the simulated detector's response with its pixel-to-pixel gain
    variations (``response * median(gain) / gain``), so that the flat-fielded rate is
    the scene in electrons divided by one gain: the truth the demo compares with.
    """
    from dataclasses import replace

    from stdatamodels.jwst import datamodels as dm

    from .simulate.imaging import SimulatedImaging, write_filteroffset_reference
    from .simulate.references_stage2 import write_area, write_flat, write_photom
    from .wcs import distortion_from_siaf

    setup = sky_truth.setup
    full = replace(setup, subarray="FULL", xstart=1, ystart=1, shape=setup.full_shape)
    sim = SimulatedImaging(model=None, setup=full, pointing=sky_truth.pointing,
                           distortion=distortion_from_siaf(setup.full_aperture),
                           filter_offset=None, wcs=sky_truth.wcs)  # fmt: skip
    refs = sim.write_references(refdir)
    refs["filteroffset"] = write_filteroffset_reference(
        full, [{"filter": setup.filter, "pupil": setup.pupil, "column_offset": 0.0,
                "row_offset": 0.0}], refdir / "webbcal_nrca1_filteroffset.asdf",
    )  # fmt: skip
    inst, detector = setup.instrument, setup.detector
    flat_path = refdir / "webbcal_nrca1_flat.fits"
    write_flat(flat_path, instrument=inst, detector=detector, filter=setup.filter,
               pupil=setup.pupil, spread=0.0, nan_fraction=0.0, zero_fraction=0.0,
               no_flat_fraction=0.0, unreliable_fraction=0.0,
               do_not_use_fraction=0.0)  # fmt: skip
    with dm.FlatModel(str(flat_path)) as flat:
        g = det.geometry
        window = (slice(g.ystart - 1, g.ystart - 1 + g.ysize),
                  slice(g.xstart - 1, g.xstart - 1 + g.xsize))  # fmt: skip
        sensitive = det.response > 0
        values = np.where(sensitive, det.response * sky_truth.gain_ref / det.gain, 1.0)
        values[det.refpix] = 1.0
        flat.data[window] = values.astype(np.float32)
        flat.err[window] = (0.005 * flat.data[window]).astype(np.float32)
        from .datamodels import save_model

        save_model(flat, str(flat_path))
    refs["flat"] = flat_path
    refs["photom"] = write_photom(refdir / "webbcal_nrca1_photom.fits", instrument=inst,
                                  detector=detector)  # fmt: skip
    refs["area"] = write_area(refdir / "webbcal_nrca1_area.fits", instrument=inst,
                              detector=detector)  # fmt: skip
    return refs


def _run_stage2(rate_path: Path, out: Path, crds_path: Path, sky_truth: _SkyTruth) -> Stage2Result:
    """calwebb_image2 on the demo's rate; stars measured on the _cal; i2d picture."""
    from .crds_client import crds_environment
    from .pipeline.image2 import Image2Pipeline
    from .simulate.references_stage2 import default_photom_rows
    from .tools.quicklook import render_image

    with crds_environment(crds_path):
        # calwebb_image2 has no progress display (its steps are quick).
        cal = Image2Pipeline.call(str(rate_path), output_dir=str(out), save_results=True)
    root = rate_path.name.removesuffix("_rate.fits")
    cal_path, i2d_path = out / f"{root}_cal.fits", out / f"{root}_i2d.fits"
    setup = sky_truth.setup
    (photmjsr,) = [r.photmjsr for r in default_photom_rows(setup.instrument)
                   if (r.filter, r.pupil) == (setup.filter, setup.pupil)]  # fmt: skip
    offsets, fluxes = _measure_stars(cal, sky_truth)
    injected = sky_truth.flux_e / sky_truth.gain_ref * photmjsr
    png = out / f"{root}_i2d.png"
    render_image(str(i2d_path), str(png), stretch="asinh",
                 markers=list(zip(sky_truth.ra, sky_truth.dec, strict=True)))  # fmt: skip
    return Stage2Result(
        cal=cal_path, i2d=i2d_path, quicklook=png,
        ra=tuple(float(v) for v in sky_truth.ra), dec=tuple(float(v) for v in sky_truth.dec),
        offsets_mas=tuple(float(v) for v in offsets), flux_mjysr=tuple(float(v) for v in fluxes),
        injected_mjysr=tuple(float(v) for v in injected),
    )  # fmt: skip


def _measure_stars(cal, sky_truth: _SkyTruth) -> tuple[np.ndarray, np.ndarray]:
    """Centroid offsets (mas, through the cal's WCS) and aperture sums (MJy/sr) of the stars.

    Each star's background is the median of an annulus; the centroid is a 2-D Gaussian
    fit (photutils ``centroid_2dg``) to the background-subtracted 15 x 15 cutout.
    """
    from astropy import units as u
    from astropy.coordinates import SkyCoord
    from photutils.centroids import centroid_2dg

    from .dqflags import DO_NOT_USE

    data = np.asarray(cal.data, dtype=np.float64)
    usable = np.isfinite(data) & ((np.asarray(cal.dq) & DO_NOT_USE) == 0)
    ny, nx = data.shape
    yy, xx = np.mgrid[0:ny, 0:nx]
    offsets, fluxes = [], []
    for x, y, ra, dec in zip(sky_truth.x, sky_truth.y, sky_truth.ra, sky_truth.dec,
                             strict=True):  # fmt: skip
        ix, iy = round(x), round(y)
        win = (slice(max(iy - 14, 0), iy + 15), slice(max(ix - 14, 0), ix + 15))
        r = np.hypot(xx[win] - x, yy[win] - y)
        ring = (r >= _R_IN) & (r <= _R_OUT) & usable[win]
        sub = data[win] - np.median(data[win][ring])
        inner = r <= _R_FLUX
        if not usable[win][inner].all():
            offsets.append(np.nan)
            fluxes.append(np.nan)
            continue
        fluxes.append(sub[inner].sum())
        cut = (slice(iy - 7, iy + 8), slice(ix - 7, ix + 8))
        good = usable[cut]
        stamp = np.where(good, data[cut] - np.median(data[win][ring]), 0.0)
        cx, cy = centroid_2dg(stamp, mask=~good)
        ra_m, dec_m = cal.meta.wcs(ix - 7 + cx, iy - 7 + cy)
        sep = SkyCoord(ra * u.deg, dec * u.deg).separation(SkyCoord(ra_m * u.deg, dec_m * u.deg))
        offsets.append(sep.to_value(u.mas))
    return np.asarray(offsets), np.asarray(fluxes)


def demo_subarrays(instrument: str) -> list[str]:
    """Subarrays the demo can simulate for ``instrument`` (``"nircam"`` or ``"miri"``)."""
    if instrument.lower() == "miri":
        from .simulate import MIRI_SUBARRAYS

        return list(MIRI_SUBARRAYS)
    from .simulate import KNOWN_SUBARRAYS

    return ["FULL", *sorted(n for i, n in KNOWN_SUBARRAYS if i == "NIRCAM")]


def _robust_sigma(x: np.ndarray) -> float:
    q75, q25 = np.percentile(x, [75, 25])
    return float((q75 - q25) / 1.349)


def run_demo(
    out: str | os.PathLike = "webbcal_demo",
    *,
    instrument: str = "nircam",
    seed: int = 1,
    subarray: str = "FULL",
    ngroups: int | None = None,
    nints: int | None = None,
    progress: bool = True,
) -> DemoResult:
    """Simulate, build a CRDS context, run calwebb_detector1 (and, for NIRCam,
    calwebb_image2) and compare with truth.

    For NIRCam the output directory also receives ``<root>_cal.fits``,
    ``<root>_i2d.fits`` and ``<root>_i2d.png`` (the i2d with RA/Dec axes and the
    injected stars circled); :attr:`DemoResult.stage2` holds the stars' centroid
    offsets (mas) and flux ratios measured on the cal.

    Parameters
    ----------
    out : path
        Output directory (created).
    instrument : {"nircam", "miri"}
        NIRCam NRCA1 (RAPID) or the MIRI imager MIRIMAGE (FASTR1).
    seed : int
        Seed of the simulated detector and exposure.
    subarray : str
        ``"FULL"`` (NIRCam 2048 x 2048 with four amplifiers; MIRI 1032 x 1024) or a
        subarray such as NIRCam ``"SUB160P"`` or MIRI ``"SUB64"``/``"BRIGHTSKY"``.
    ngroups, nints : int or None
        Readout of the simulated exposure (default NIRCam 6 x 1, MIRI 10 x 2).
    progress : bool
        Show the pipeline progress on a terminal.

    Returns
    -------
    DemoResult

    Raises
    ------
    ValueError
        For an unknown instrument or subarray.
    """
    from .crds_client import crds_environment
    from .pipeline import Detector1Pipeline

    instrument = instrument.lower()
    if instrument not in ("nircam", "miri"):
        raise ValueError(f"instrument={instrument!r} is not available; expected nircam or miri")
    valid = demo_subarrays(instrument)
    if subarray not in valid:
        raise ValueError(
            f"subarray={subarray!r} is not available for the {instrument} demo; expected one "
            f"of {', '.join(valid)}"
        )
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    crds_path = out / "crds_cache"
    # The references are written once, straight into the cache the context serves.
    refdir = crds_path / "references" / "jwst" / instrument
    steps = {}
    if instrument == "miri":
        from .simulate import make_miri_detector, simulate_miri_exposure, write_miri_reference_files

        ngroups, nints = ngroups or 10, nints or 2
        detector = "MIRIMAGE"
        det = make_miri_detector(detector=detector, subarray=subarray, seed=seed)
        refs = write_miri_reference_files(det, refdir, ngroups=ngroups,
                                          nints=nints, readpatt="FASTR1")  # fmt: skip
        context = _demo_context(crds_path, refs, detector, det.subarray, "MIRI")
        sim = simulate_miri_exposure(det, readpatt="FASTR1", ngroups=ngroups, nints=nints,
                                     seed=seed + 1)  # fmt: skip
        # emicorr is off in the code defaults (CRDS parameter files turn it on in operations).
        steps = {"emicorr": {"skip": False}}
    else:
        from .simulate import make_detector, simulate_exposure, write_reference_files

        ngroups, nints = ngroups or 6, nints or 1
        detector = "NRCA1"
        det = make_detector(instrument="NIRCAM", detector=detector, subarray=subarray, seed=seed)
        refs = write_reference_files(det, refdir, ngroups=ngroups)
        sky_truth = _sky_truth(det, ngroups)
        refs.update(_stage2_references(det, sky_truth, refdir))
        context = _demo_context(crds_path, refs, detector, det.subarray)
        sim = simulate_exposure(det, readpatt="RAPID", ngroups=ngroups, nints=nints,
                                scene=_demo_scene(det, sky_truth, ngroups, seed + 1),
                                seed=seed + 1)  # fmt: skip
        sky_truth.write_keywords(sim.model)
    paths = sim.save(out)
    with crds_environment(crds_path):
        rate = Detector1Pipeline.call(
            str(paths["uncal"]), output_dir=str(out), save_results=True, progress=progress,
            steps=steps,
        )  # fmt: skip
    root = sim.name
    rate_path = out / f"{root}_rate.fits"
    rateints_path = out / f"{root}_rateints.fits"
    truth = sim.truth
    good = (rate.dq == 0) & ~truth.saturated & ~truth.bad & np.isfinite(rate.data)
    good &= rate.err > 0
    pull = (rate.data[good] - truth.rate[good]) / rate.err[good]
    crs = truth.cosmic_rays
    flagged = 0.0
    if crs.size:
        from .dqflags import JUMP_DET

        hit = (rate.dq[crs["y"], crs["x"]] & JUMP_DET) != 0
        usable = detectable_cosmic_rays(sim)
        flagged = float(np.mean(hit[usable])) if usable.any() else float("nan")
    stage2 = None
    if instrument == "nircam":
        stage2 = _run_stage2(rate_path, out, crds_path, sky_truth)
    return DemoResult(
        stage2=stage2,
        out=out,
        uncal=paths["uncal"],
        rate=rate_path,
        rateints=rateints_path,
        truth=paths["truth"],
        crds_path=crds_path,
        context=context,
        n_good=int(good.sum()),
        median_pull=float(np.median(pull)) if pull.size else float("nan"),
        robust_sigma_pull=_robust_sigma(pull) if pull.size else float("nan"),
        cr_flagged_fraction=flagged,
        n_cosmic_rays=int(crs.size),
    )
