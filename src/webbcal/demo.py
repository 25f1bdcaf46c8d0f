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
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    crds_path = out / "crds_cache"
    steps = {}
    if instrument == "miri":
        from .simulate import make_miri_detector, simulate_miri_exposure, write_miri_reference_files

        ngroups, nints = ngroups or 10, nints or 2
        detector = "MIRIMAGE"
        det = make_miri_detector(detector=detector, subarray=subarray, seed=seed)
        refs = write_miri_reference_files(det, out / "reference_build", ngroups=ngroups,
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
        refs = write_reference_files(det, out / "reference_build", ngroups=ngroups)
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
    )
