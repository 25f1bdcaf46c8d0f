"""Benchmark ``outlier_detection`` (imaging) on N full-frame NIRCam exposures: time, memory.

The inputs are copies of one full-frame NRCA1 ``cal`` product (the one of
``bench_resample.py``), each its own exposure group (EXPOSURE = 1..N), each with 200
cosmic-ray hits of its own. Each run is its own Python process (its peak RSS,
``ru_maxrss``, is its own): webbcal's step and, unless ``--no-jwst``, jwst's on the same
association, both with ``in_memory=False``. Reported per N: wall time of the step,
peak RSS, cosmic rays found, and (with jwst) the fraction of pixels whose OUTLIER flag
agrees. webbcal's median is computed by row blocks from a temporary file, so its peak
memory should not grow with N.

Measured on the shared 2-core development machine (loaded; timings are indicative)::

    N=4  webbcal  99 s  0.53 GB   jwst 143 s  1.05 GB   flags identical, 800/800 found
    N=8  webbcal 206 s  0.54 GB   jwst 426 s  1.01 GB   flags identical, 1599/1600 found

Usage::

    python benchmarks/bench_outlier.py --members 4 8 [--folder /tmp/bench_outlier] [--no-jwst]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
N_HITS = 200
OUTLIER = 16


def make_inputs(folder: Path, n: int) -> Path:
    """N cal copies with their own cosmic rays, and their level-3 association."""
    sys.path.insert(0, str(HERE))
    from bench_resample import make_input
    from stdatamodels.jwst import datamodels as dm

    from webbcal.associations.asn import write_association
    from webbcal.associations.from_list import asn_from_list

    base = folder / "base_cal.fits"
    if not base.exists():
        make_input(base)
    names = []
    for k in range(n):
        name = f"jw01234001001_01101_{k + 1:05d}_nrca1_cal.fits"
        names.append(name)
        if (folder / name).exists():
            continue
        rng = np.random.default_rng(100 + k)
        with dm.open(str(base)) as model:
            hits = rng.choice(model.data.size, N_HITS, replace=False)
            model.data.reshape(-1)[hits] += 50.0
            model.meta.observation.exposure_number = str(k + 1)
            model.meta.filename = name
            model.save(str(folder / name))
        np.save(folder / f"hits_{k + 1}.npy", hits)
    asn = asn_from_list(names, product_name=f"bench_{n}", acid="o001", program="01234")
    path = folder / f"bench_{n}_asn.json"
    write_association(asn, path)
    return path


def run_one(which: str, asn: str, n: int) -> dict:
    """Run one implementation in this process; return timing, memory and flags found."""
    if which == "webbcal":
        from webbcal.outlier_detection import OutlierDetectionStep

        kwargs = {"disable_crds_steppars": True}
    else:
        os.environ["STPIPE_DISABLE_CRDS_STEPPARS"] = "True"
        from jwst.outlier_detection import OutlierDetectionStep

        kwargs = {}
    t0 = time.perf_counter()
    result = OutlierDetectionStep.call(asn, in_memory=False, **kwargs)
    seconds = time.perf_counter() - t0
    folder = Path(asn).parent
    found, flags = 0, []
    with result:
        for k in range(n):
            model = result.borrow(k)
            flagged = (model.dq & OUTLIER) > 0
            found += int(flagged.reshape(-1)[np.load(folder / f"hits_{k + 1}.npy")].sum())
            np.save(folder / f"{which}_{n}_{k}.npy", np.packbits(flagged))
            flags.append(int(flagged.sum()))
            result.shelve(model, k, modify=False)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # GB (kB units)
    return {"which": which, "step_s": seconds, "peak_rss_gb": rss, "found": found,
            "flags": flags}  # fmt: skip


def _flags(path: Path) -> np.ndarray:
    return np.unpackbits(np.load(path))


def main(argv=None) -> int:
    """Build the inputs, run each implementation in a subprocess, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", default="/tmp/bench_outlier")
    parser.add_argument("--members", type=int, nargs="+", default=[4, 8])
    parser.add_argument("--no-jwst", action="store_true")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        which, asn, n = args.child
        print(json.dumps(run_one(which, asn, int(n))))
        return 0
    folder = Path(args.folder)
    folder.mkdir(parents=True, exist_ok=True)
    which = ["webbcal"] + ([] if args.no_jwst else ["jwst"])
    env = {**os.environ, "PYTHONPATH": str(HERE.parent / "src")}
    for n in args.members:
        asn = make_inputs(folder, n)
        for name in which:
            proc = subprocess.run([sys.executable, __file__, "--child", name, str(asn), str(n)],
                                  capture_output=True, text=True, env=env, cwd=folder)  # fmt: skip
            if proc.returncode != 0:
                print(proc.stderr[-3000:])
                return 1
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            print(f"N={n:3d} {name:8s} step {r['step_s']:7.1f} s  peak RSS "
                  f"{r['peak_rss_gb']:.2f} GB  cosmic rays found {r['found']}/{n * N_HITS}  "
                  f"flags {sum(r['flags'])}", flush=True)  # fmt: skip
        if len(which) == 2:
            agree = [
                np.mean(
                    _flags(folder / f"webbcal_{n}_{k}.npy") == _flags(folder / f"jwst_{n}_{k}.npy")
                )
                for k in range(n)
            ]
            print(f"N={n:3d} OUTLIER flags agreement (pixels) min {min(agree):.6f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
