"""Precision of webbcal's LIKELY ramp fit against the official one on simulated exposures.

Usage::

    python benchmarks/compare_likely_precision.py --case rapid20 [--size 256] [--jump]
        [--workdir /tmp/likely_precision]

Simulates a ``size x size`` exposure with 2 integrations and a faint scene (sky
0.3 e-/s for NIRCam, 1 e-/s for MIRI, plus 60 stars of 1-300 e-/s) through a
local CRDS context, runs webbcal's calwebb_detector1 up to the ramp (the jump
step only with ``--jump``), then fits that same ramp with webbcal's LIKELY,
the official LIKELY and the official OLS_C, with the same GAIN and READNOISE
references. Prints, on pixels without cosmic rays, saturation or bad flags:
the residual scatter against the true rate of the fainter half, the median
relative residual at true rates below 0.3 DN/s, and webbcal's difference from
the official LIKELY in units of its ERR (median and 99th percentile).

Cases: ``rapid20`` (NIRCam RAPID, 20 groups), ``medium8`` (NIRCam MEDIUM8,
10 groups), ``miri`` (MIRIMAGE SUB256 FASTR1, 20 groups). Needs the official
``jwst`` package (a test oracle; webbcal never imports it).
"""

import argparse
import os
import sys
from pathlib import Path

import numpy as np

from webbcal.crds_client import RmapEntry, crds_environment, write_local_context
from webbcal.lib.subarray import SubarrayGeometry
from webbcal.simulate.scene import Scene, Star

PARKEYS = ("META.INSTRUMENT.DETECTOR", "META.SUBARRAY.NAME")
CASES = {
    "rapid20": ("RAPID", 20),
    "medium8": ("MEDIUM8", 10),
    "miri": ("FASTR1", 20),
}


def _scene(size, sky):
    rng = np.random.default_rng(7)
    xs, ys = rng.uniform(5, size - 5, 60), rng.uniform(5, size - 5, 60)
    fluxes = 10 ** rng.uniform(0, 2.5, 60)
    return Scene(sky=sky, stars=tuple(Star(float(x), float(y), float(f), 1.2)
                                      for x, y, f in zip(xs, ys, fluxes)))  # fmt: skip


def _simulate(case, size, root):
    """Exposure, references and a local CRDS context; returns (uncal, truth, refs, crds)."""
    from webbcal.lib.readout import read_pattern
    from webbcal.simulate import (
        make_detector,
        make_miri_detector,
        simulate_exposure,
        simulate_miri_exposure,
        write_miri_reference_files,
        write_reference_files,
    )

    readpatt, ngroups = CASES[case]
    if case == "miri":
        instrument, detector, subarray = "MIRI", "MIRIMAGE", "SUB256"
        det = make_miri_detector(detector=detector, subarray=subarray, seed=1)
        refs = write_miri_reference_files(det, root / "refs", ngroups=ngroups, nints=2)
        sim = simulate_miri_exposure(det, readpatt=readpatt, ngroups=ngroups, nints=2, seed=2,
                                     scene=_scene(256, 1.0))  # fmt: skip
        na = {"MIRI": ["superbias", "refpix", "sirskernel"]}
    else:
        instrument, detector = "NIRCAM", "NRCA1"
        det = make_detector(instrument=instrument, detector=detector, subarray="GENERIC",
                            geometry=SubarrayGeometry(1, 1, size, size), seed=3)  # fmt: skip
        subarray = det.subarray
        sim = simulate_exposure(det, readpatt=readpatt, ngroups=ngroups, nints=2, seed=4,
                                scene=_scene(size, 0.3))  # fmt: skip
        p = read_pattern(readpatt)
        refs = write_reference_files(det, root / "refs", ngroups=ngroups * (p.nframes + p.groupgap))
        na = None
    entries = [
        RmapEntry(instrument, reftype, PARKEYS,
                  {(detector, subarray): [("1900-01-01 00:00:00", str(path))]})
        for reftype, path in sorted(refs.items())
    ]  # fmt: skip
    write_local_context(root / "crds", entries, not_applicable=na)
    paths = sim.save(root / "data")
    return paths["uncal"], paths["truth"], refs, root / "crds"


def _fits(ramp_path, refs, crds_path):
    from stdatamodels.jwst import datamodels as dm

    from webbcal.ramp_fitting import RampFitStep

    overrides = {f"override_{r}": str(refs[r]) for r in ("gain", "readnoise")}
    out = {}
    with dm.RampModel(str(ramp_path)) as ramp:
        out["webbcal LIKELY"] = RampFitStep.call(ramp, algorithm="LIKELY", **overrides)[0]
    with crds_environment(crds_path):
        from jwst.ramp_fitting import RampFitStep as OfficialRampFitStep

        for alg in ("LIKELY", "OLS_C"):
            with dm.RampModel(str(ramp_path)) as ramp:
                out[f"jwst {alg}"] = OfficialRampFitStep.call(ramp, algorithm=alg, **overrides)[0]
    return {k: (np.array(v.data, np.float64), np.array(v.err, np.float64)) for k, v in out.items()}


def main(argv=None):
    """Simulate, fit and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=sorted(CASES), default="rapid20")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--jump", action="store_true", help="run the jump step before the fit")
    parser.add_argument("--workdir", default="/tmp/likely_precision")
    args = parser.parse_args(argv)
    os.environ["WEBBCAL_DISABLE_CRDS_STEPPARS"] = "true"
    os.environ["STPIPE_DISABLE_CRDS_STEPPARS"] = "true"
    root = Path(args.workdir) / f"{args.case}_{args.size}{'_jump' if args.jump else ''}"
    root.mkdir(parents=True, exist_ok=True)
    uncal, truth_path, refs, crds_path = _simulate(args.case, args.size, root)

    from webbcal.pipeline import Detector1Pipeline
    from webbcal.simulate import Truth
    from webbcal.simulate.miri_exposure import MiriTruth

    skip = {"ramp_fit": {"skip": True}, "jump": {"skip": not args.jump}}
    with crds_environment(crds_path):
        ramp = Detector1Pipeline.call(str(uncal), progress=False, steps=skip)
    ramp.save(str(root / "ramp.fits"))
    fits = _fits(root / "ramp.fits", refs, crds_path)
    truth = (MiriTruth if args.case == "miri" else Truth).load(truth_path)
    hit = np.zeros(truth.rate.shape, bool)
    hit[truth.cosmic_rays["y"], truth.cosmic_rays["x"]] = True
    good = ~truth.bad & ~truth.saturated & ~hit
    for slope, _ in fits.values():
        good &= np.isfinite(slope)
    rate = truth.rate.astype(np.float64)
    faint = good & (rate < np.median(rate[good]))
    low = good & (rate < 0.3)
    print(f"{args.case} {args.size}x{args.size}, 2 integrations, jump step {args.jump}: "
          f"{good.sum()} pixels, {faint.sum()} faint (true rate < {np.median(rate[good]):.3f} "
          f"DN/s), {low.sum()} below 0.3 DN/s")  # fmt: skip
    for name, (slope, _) in fits.items():
        resid = slope - rate
        bias = np.median(resid[low] / rate[low]) if low.any() else np.nan
        print(f"  {name:15s} faint scatter {np.std(resid[faint]):.5f} DN/s   "
              f"median relative residual (< 0.3 DN/s) {bias:+.4f}")  # fmt: skip
    ours, (official, official_err) = fits["webbcal LIKELY"][0], fits["jwst LIKELY"]
    d = np.abs(ours - official)[good] / official_err[good]
    print(
        f"  |webbcal - jwst LIKELY| / ERR: median {np.median(d):.4f}, "
        f"99th percentile {np.percentile(d, 99):.4f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
