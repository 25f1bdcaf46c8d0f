"""Synthetic FGS guider data and references, and the ``webbcal demo --instrument fgs`` run.

:func:`write_guider_references` writes MASK, GAIN, READNOISE and FLAT references that
cover a guider exposure's subarray (at its SUBSTRT), :func:`guider_context` serves them
from a local CRDS context, :func:`simulate_guider_exposure` writes a raw guider
exposure with one star, and :func:`run_guider_demo` runs calwebb_guider on it through
CRDS selection and checks that the star is recovered.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "DEMO_GUIDER_NAME",
    "GUIDER_PARKEYS",
    "guider_context",
    "run_guider_demo",
    "simulate_guider_exposure",
    "write_guider_references",
]

log = logging.getLogger(__name__)

#: Match keys of the guider context's rules.
GUIDER_PARKEYS = ("META.INSTRUMENT.DETECTOR", "META.SUBARRAY.NAME")
GUIDER_CONTEXT_NUMBER = 9002
USEAFTER = "2000-01-01 00:00:00"
#: File name of the demo's simulated exposure: program 99999 and an observation time of
#: 2000-01-01 (before launch) mark it as simulated; no flight file carries them.
DEMO_GUIDER_NAME = "jw99999001001_gs-acq1_2000001000000_uncal.fits"
#: DATE-OBS and TIME-OBS of the simulated exposure (before launch: clearly simulated).
DEMO_DATE, DEMO_TIME = "2000-01-01", "00:00:00.000"
#: Representative FGS values (JDox "FGS Detector Performance"): gain e-/DN, CDS noise DN.
FGS_GAIN = 2.0
FGS_READNOISE = 12.0


def _ref_meta(model: Any, science: Any, reftype: str) -> None:
    meta = model.meta
    meta.reftype = reftype.upper()
    meta.telescope = "JWST"
    meta.instrument.name = "FGS"
    meta.instrument.detector = science.meta.instrument.detector
    meta.useafter = USEAFTER
    meta.pedigree = "DUMMY"
    meta.author = "webbcal"
    meta.description = f"webbcal synthetic FGS {reftype.upper()} (not for science)"
    meta.exposure.type = science.meta.exposure.type
    sub, sci = meta.subarray, science.meta.subarray
    sub.name = sci.name
    sub.xstart, sub.ystart, sub.xsize, sub.ysize = sci.xstart, sci.ystart, sci.xsize, sci.ysize
    sub.fastaxis, sub.slowaxis = sci.fastaxis, sci.slowaxis


def write_guider_references(out_dir: str | Path, science: Any, *, seed: int = 1) -> dict[str, Path]:
    """Write synthetic MASK, GAIN, READNOISE and FLAT references for a guider exposure.

    Parameters
    ----------
    out_dir : path-like
        Directory of the reference files (created).
    science : DataModel or path-like
        The guider exposure whose detector and subarray the references cover.
    seed : int
        Seed of the pixel-to-pixel variations and the few bad pixels.

    Returns
    -------
    dict of str to Path
        Reftype -> reference file.
    """
    from stdatamodels.jwst import datamodels as dm

    from .dqflags import PIXEL

    if isinstance(science, (str, Path)):
        science = dm.GuiderRawModel(str(science))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    ny, nx = np.shape(science.data)[-2:]
    det = (science.meta.instrument.detector or "guider").lower()
    stem = f"webbcal_fgs_{det}_{(science.meta.subarray.name or 'sub').lower()}"
    mask = np.zeros((ny, nx), dtype=np.uint32)
    bad = rng.choice(ny * nx, size=max(2, ny * nx // 2000), replace=False)
    mask.flat[bad] = PIXEL["DO_NOT_USE"] | PIXEL["HOT"]
    flat = rng.normal(1.0, 0.02, (ny, nx)).astype(np.float32)
    flat_dq = np.zeros((ny, nx), dtype=np.uint32)
    flat[0, 0] = np.nan
    flat[-1, -1] = 0.0
    flat_dq[0, -1] = PIXEL["NO_FLAT_FIELD"]
    models = {
        "mask": dm.MaskModel(dq=mask),
        "gain": dm.GainModel(data=rng.normal(FGS_GAIN, 0.05, (ny, nx)).astype(np.float32)),
        "readnoise": dm.ReadnoiseModel(
            data=rng.normal(FGS_READNOISE, 0.5, (ny, nx)).astype(np.float32)
        ),
        "flat": dm.FlatModel(data=flat, dq=flat_dq, err=np.full((ny, nx), 0.005, dtype=np.float32)),
    }
    paths = {}
    for reftype, model in models.items():
        _ref_meta(model, science, reftype)
        path = out / f"{stem}_{reftype}.fits"
        model.save(path)
        paths[reftype] = path
    return paths


def guider_context(crds_path: str | Path, refs: dict[str, Path], science: Any) -> str:
    """Write a local CRDS context selecting ``refs`` for the guider exposure's detector.

    The NIRSpec-only flat types (fflat, sflat, dflat) are N/A for FGS, as in flight.

    Returns
    -------
    str
        The context name (``jwst_9002.pmap``).
    """
    from .crds_client import RmapEntry, write_local_context

    key = (science.meta.instrument.detector, science.meta.subarray.name)
    entries = [
        RmapEntry("FGS", reftype, GUIDER_PARKEYS, {key: [(USEAFTER, str(path))]},
                  comment="webbcal synthetic guider reference")
        for reftype, path in sorted(refs.items())
    ]  # fmt: skip
    return write_local_context(
        crds_path, entries, context_number=GUIDER_CONTEXT_NUMBER,
        not_applicable={"FGS": ["fflat", "sflat", "dflat"]},
    )  # fmt: skip


def simulate_guider_exposure(
    path: str | Path,
    *,
    exp_type: str = "FGS_ACQ1",
    nints: int = 6,
    ngroups: int = 2,
    star_xy: tuple[float, float] = (65.0, 97.0),
    star_rate: float = 1.0e5,
    seed: int = 1,
) -> Path:
    """Write a raw 128 x 128 GUIDER2 exposure with one star (Gaussian PSF) and read noise.

    Parameters
    ----------
    path : path-like
        The ``_uncal.fits`` file to write.
    exp_type : str
        A guider EXP_TYPE.
    nints, ngroups : int
        Shape of the ramps.
    star_xy : (float, float)
        Star position (x, y), 0-based pixels of the subarray.
    star_rate : float, DN/s
        Total count rate of the star.
    seed : int
        Seed of the noise.

    Returns
    -------
    Path
        ``path``.
    """
    from stdatamodels.jwst import datamodels as dm

    rng = np.random.default_rng(seed)
    ny = nx = 128
    tgroup = 0.364
    y, x = np.mgrid[0:ny, 0:nx]
    sigma = 1.2
    psf = np.exp(-((x - star_xy[0]) ** 2 + (y - star_xy[1]) ** 2) / (2 * sigma**2))
    rate = 50.0 + star_rate * psf / psf.sum()
    bias = rng.normal(12000.0, 300.0, (ny, nx))
    t = tgroup * np.arange(1, ngroups + 1)
    signal = rate[None, None] * t[None, :, None, None]
    noise = rng.normal(0, np.sqrt(signal / FGS_GAIN + (FGS_READNOISE / np.sqrt(2)) ** 2))
    ramp = np.clip(np.rint(bias + signal + noise), 0, 65535).astype(np.uint16)
    m = dm.GuiderRawModel(data=ramp.astype(np.float32))
    meta = m.meta
    meta.filename = Path(path).name
    meta.telescope = "JWST"
    meta.instrument.name, meta.instrument.detector = "FGS", "GUIDER2"
    meta.exposure.type = exp_type
    meta.exposure.readpatt = exp_type.split("_", 1)[1].split("-")[0]
    meta.exposure.nints, meta.exposure.ngroups = nints, ngroups
    meta.exposure.nframes, meta.exposure.groupgap = 1, 0
    meta.exposure.frame_time, meta.exposure.group_time = tgroup / 2, tgroup
    meta.observation.date, meta.observation.time = DEMO_DATE, DEMO_TIME
    sub = meta.subarray
    sub.name, sub.xstart, sub.ystart, sub.xsize, sub.ysize = "128X128", 887, 1022, nx, ny
    sub.fastaxis, sub.slowaxis = 2, -1
    m.save(path)
    return Path(path)


def run_guider_demo(out: str | Path, *, seed: int = 1) -> str:
    """Simulate a guider exposure, serve synthetic references from CRDS, run calwebb_guider.

    Parameters
    ----------
    out : path-like
        Directory of the demo's files (exposure, references, CRDS cache, ``_cal``).
    seed : int
        Seed of the simulation.

    Returns
    -------
    str
        A summary: the files written and where the brightest pixel of the ``_cal``
        product lies compared with the simulated star.

    Raises
    ------
    RuntimeError
        If the star is not recovered within 1 pixel of its simulated position.
    """
    from stdatamodels.jwst import datamodels as dm

    from .crds_client import crds_environment
    from .pipeline.guider import GuiderPipeline

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    star = (65.0, 97.0)
    uncal = simulate_guider_exposure(out / DEMO_GUIDER_NAME, star_xy=star, seed=seed)
    science = dm.GuiderRawModel(str(uncal))
    refs = write_guider_references(out / "refs", science, seed=seed)
    crds_path = out / "crds"
    context = guider_context(crds_path, refs, science)
    with crds_environment(crds_path, context=context):
        cal = GuiderPipeline.call(str(uncal), output_dir=str(out), save_results=True,
                                  disable_crds_steppars=True)  # fmt: skip
    mean = np.nanmean(cal.data, axis=0)
    yx = np.unravel_index(np.nanargmax(mean), mean.shape)
    offset = float(np.hypot(yx[1] - star[0], yx[0] - star[1]))
    if offset > 1.0:
        raise RuntimeError(
            f"the star was simulated at x={star[0]:g}, y={star[1]:g} but the _cal peak is at "
            f"x={yx[1]}, y={yx[0]}"
        )
    cal_path = out / uncal.name.replace("_uncal", "_cal")
    return "\n".join([
        f"webbcal guider demo finished (CRDS context {context}, cache {crds_path})",
        f"  raw exposure : {uncal}",
        f"  cal          : {cal_path}",
        f"  calwebb_guider steps: dq_init={cal.meta.cal_step.dq_init}, "
        f"guider_cds={cal.meta.cal_step.guider_cds}, flat_field={cal.meta.cal_step.flat_field}",
        f"  star simulated at x={star[0]:g}, y={star[1]:g}; _cal peak at x={yx[1]}, y={yx[0]} "
        f"({float(mean[yx]):.4g} DN/s)",
        "  calwebb_image2: not run (guider products end at calwebb_guider; the demo's "
        "stage 2 is NIRCam only)",
    ])  # fmt: skip
