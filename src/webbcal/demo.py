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

__all__ = ["DemoResult", "detectable_cosmic_rays", "run_demo"]

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

    def __str__(self) -> str:
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
                f"  cosmic rays above 5 sigma flagged: {100 * self.cr_flagged_fraction:.1f} %",
            ]
        )


def _demo_context(crds_path: Path, refs: dict[str, Path], detector: str, subarray: str) -> str:
    from .crds_client import RmapEntry, write_local_context

    entries = [
        RmapEntry(
            instrument="NIRCAM",
            reftype=reftype,
            parkeys=DEMO_PARKEYS,
            selections={(detector, subarray): [("2022-01-01 00:00:00", str(path))]},
            comment="webbcal demo reference (simulated detector)",
        )
        for reftype, path in sorted(refs.items())
    ]
    return write_local_context(crds_path, entries, context_number=DEMO_CONTEXT_NUMBER)


def detectable_cosmic_rays(sim, nsigma: float = 5.0) -> np.ndarray:
    """Boolean mask of a simulation's cosmic rays that a jump detector should find.

    A hit counts when its amplitude exceeds ``nsigma`` times the noise of a
    two-group difference at its pixel (read noise of two groups plus the
    Poisson noise of one group), it arrives after the first group, and its pixel
    is neither saturated nor bad.

    Parameters
    ----------
    sim : webbcal.simulate.SimulatedExposure
    nsigma : float

    Returns
    -------
    ndarray of bool, shape (ncosmic_rays,)
    """
    truth, det = sim.truth, sim.detector
    crs = truth.cosmic_rays
    y, x = crs["y"], crs["x"]
    exp = sim.model.meta.exposure
    sigma_group = det.readnoise[y, x] / np.sqrt(2 * exp.nframes)
    poisson = np.maximum(truth.rate[y, x], 0) * exp.group_time / det.gain[y, x]
    sigma_diff = np.sqrt(2 * sigma_group**2 + poisson)
    return (
        (crs["amplitude_dn"] > nsigma * sigma_diff)
        & (crs["group"] > 0)
        & ~truth.saturated[y, x]
        & ~truth.bad[y, x]
    )


def _robust_sigma(x: np.ndarray) -> float:
    q75, q25 = np.percentile(x, [75, 25])
    return float((q75 - q25) / 1.349)


def run_demo(
    out: str | os.PathLike = "webbcal_demo",
    *,
    seed: int = 1,
    subarray: str = "FULL",
    ngroups: int = 6,
    nints: int = 1,
    progress: bool = True,
) -> DemoResult:
    """Simulate, build a CRDS context, run calwebb_detector1 and compare with truth.

    Parameters
    ----------
    out : path
        Output directory (created).
    seed : int
        Seed of the simulated detector and exposure.
    subarray : str
        ``"FULL"`` (2048 x 2048, four amplifiers) or a corner subarray such as
        ``"SUB160P"``.
    ngroups, nints : int
        Readout of the simulated RAPID exposure.
    progress : bool
        Show the pipeline progress on a terminal.

    Returns
    -------
    DemoResult
    """
    from .crds_client import crds_environment
    from .pipeline import Detector1Pipeline
    from .simulate import make_detector, simulate_exposure, write_reference_files

    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    crds_path = out / "crds_cache"
    detector = "NRCA1"
    det = make_detector(instrument="NIRCAM", detector=detector, subarray=subarray, seed=seed)
    refs = write_reference_files(det, out / "reference_build", ngroups=ngroups)
    context = _demo_context(crds_path, refs, detector, det.subarray)
    sim = simulate_exposure(det, readpatt="RAPID", ngroups=ngroups, nints=nints, seed=seed + 1)
    paths = sim.save(out)
    with crds_environment(crds_path):
        rate = Detector1Pipeline.call(
            str(paths["uncal"]), output_dir=str(out), save_results=True, progress=progress
        )
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
    )
