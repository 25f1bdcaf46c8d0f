"""Benchmark extract_1d on a MIRI LRS slitless time series: webbcal against jwst.

Simulates a 12-integration LRS slitless rateints with its references
(:mod:`webbcal.simulate.lrs`), calibrates it with webbcal's calwebb_spec2 (extract_1d
skipped), tiles the calints to ``--nints`` integrations, and times ``extract_1d`` of
webbcal and of jwst (same extract1d reference, apcorr N/A) in fresh processes, reporting
wall and CPU seconds and the child's peak RSS.

Results (shared 2-core machine, load ~3; CPU seconds are the fair comparison; jwst 3.0.0)::

    nints   webbcal CPU (s)   jwst CPU (s)   webbcal RSS (MB)   jwst RSS (MB)
      200        1.29             17.1             483               737
     1000        4.89               -             1743                 -

i.e. about 4 ms of CPU per integration for webbcal (0.6 s fixed: imports, product
metadata) against about 85 ms for jwst. The RSS of the standalone step includes the input
cube and the copy the step works on (inside calwebb_spec2 no copy is made); the
extraction itself works on chunks of integrations (48 MB of float64 work arrays).

Usage::

    python benchmarks/bench_lrs_extract.py --nints 200
    python benchmarks/bench_lrs_extract.py --nints 2000 --no-jwst
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SIAF = Path(os.environ.get("WEBBCAL_SHARED", "/work/shared")) / "data/real/pysiaf-siafxml"

_CHILD = r"""
import os, resource, sys, time
os.environ["CRDS_SERVER_URL"] = ""
os.environ["WEBBCAL_DISABLE_CRDS_STEPPARS"] = os.environ["STPIPE_DISABLE_CRDS_STEPPARS"] = "1"
from stdatamodels.jwst import datamodels as dm
which, path, ref = sys.argv[1:4]
model = dm.open(path)
t, c = time.time(), time.process_time()
if which == "webbcal":
    from webbcal.extract_1d import Extract1dStep
    Extract1dStep.call(model, override_extract1d=ref, override_apcorr="N/A")
else:
    import tempfile
    from pathlib import Path
    sys.path.insert(0, os.path.join(os.environ["WEBBCAL_ROOT"], "tests", "parity"))
    from _parity import offline_environment
    from jwst.extract_1d import Extract1dStep
    with tempfile.TemporaryDirectory() as root, offline_environment(Path(root)):
        Extract1dStep.call(model, override_extract1d=ref, override_apcorr="N/A",
                           override_psf="N/A")
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"RESULT {which} wall={time.time() - t:.2f} cpu={time.process_time() - c:.2f} rss={rss:.0f}")
"""


def _make(workdir: Path, nints: int) -> tuple[Path, Path]:
    import numpy as np
    from stdatamodels.jwst import datamodels as dm

    from webbcal.pipeline.spec2 import Spec2Pipeline
    from webbcal.simulate.lrs import simulate_lrs_slitless

    os.environ["WEBBCAL_DISABLE_CRDS_STEPPARS"] = "1"
    sim = simulate_lrs_slitless(SIAF, nints=12, noise=0.5)
    refs = sim.write_references(workdir / "refs")
    steps = {
        "assign_wcs": {"override_distortion": str(refs["distortion"]),
                       "override_specwcs": str(refs["specwcs"])},
        "flat_field": {"override_flat": str(refs["flat"])},
        "photom": {"override_photom": str(refs["photom"]), "override_area": "N/A"},
        "extract_1d": {"skip": True},
    }  # fmt: skip
    cal = Spec2Pipeline.call(sim.model, steps=steps)
    reps = nints // 12 + 1
    big = dm.SlitModel(cal)
    for attr in ("data", "err", "dq", "var_poisson", "var_rnoise", "var_flat"):
        setattr(big, attr, np.concatenate([getattr(cal, attr)] * reps)[:nints])
    times = np.concatenate([cal.int_times] * reps)[:nints].copy()
    times["integration_number"] = np.arange(1, nints + 1)
    big.int_times = times
    big.meta.exposure.nints = big.meta.exposure.integration_end = nints
    for attr in ("xstart", "ystart", "xsize", "ysize", "source_type"):
        setattr(big, attr, getattr(cal, attr))
    path = workdir / f"lrs_{nints}_calints.fits"
    big.save(str(path))
    return path, refs["extract1d"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nints", type=int, default=200)
    parser.add_argument("--no-jwst", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_lrs_") as tmp:
        path, ref = _make(Path(tmp), args.nints)
        env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), WEBBCAL_ROOT=str(ROOT))
        for which in ("webbcal",) + (() if args.no_jwst else ("jwst",)):
            out = subprocess.run([sys.executable, "-c", _CHILD, which, str(path), str(ref)],
                                 env=env, capture_output=True, text=True, check=True)  # fmt: skip
            print(next(line for line in out.stdout.splitlines() if line.startswith("RESULT")))


if __name__ == "__main__":
    main()
