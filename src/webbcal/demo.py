"""``webbcal demo``: a complete offline stage-1 run on a simulated exposure.

The demo writes a simulated NIRCam exposure and a matching reference set, puts
the references into a local CRDS cache with its own context (pmap, imap, rmaps
with valid checksums, and the cache's ``server_config``), then runs
calwebb_detector1 through the ordinary CRDS selection path (no overrides) and
compares the rate with the simulation's truth.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "DemoResult",
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

    def __str__(self) -> str:
        if self.n_cosmic_rays == 0:
            crs = "  cosmic rays: none simulated"
        else:
            crs = f"  cosmic rays above 5 sigma flagged: {100 * self.cr_flagged_fraction:.1f} %"
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
    """Simulate, build a CRDS context, run calwebb_detector1 and compare with truth.

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
        context = _demo_context(crds_path, refs, detector, det.subarray)
        sim = simulate_exposure(det, readpatt="RAPID", ngroups=ngroups, nints=nints,
                                seed=seed + 1)  # fmt: skip
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
    return DemoResult(
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
