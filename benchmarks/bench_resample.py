"""Benchmark the ``resample`` step on one full-frame 2048 x 2048 NIRCam exposure.

The input is a ``cal`` product (MJy/sr) of NRCA1_FULL with the degree-5 SIAF distortion
from the PRD's NIRCam SIAF XML, VAR_RNOISE/VAR_POISSON/VAR_FLAT, a few flagged pixels.
Each implementation runs in its own Python process (so its peak RSS is its own): webbcal's
``ResampleStep`` and, when ``jwst`` is installed, the official ``ResampleStep`` on the same
file with the same (default) parameters. Reported: wall time of the step on the opened
model and of the opening, peak RSS of the process (``ru_maxrss``), and the agreement of
the two products (median and 99.9th percentile relative difference of SCI, identical
context).

Usage::

    python benchmarks/bench_resample.py [--folder /tmp/bench_resample] [--no-jwst]
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

SIAF = Path("/work/shared/data/real/pysiaf-siafxml/NIRCam_SIAF.xml")
SHAPE = (2048, 2048)


def make_input(path: Path) -> None:
    """Write a full-frame NRCA1 cal product with a SIAF WCS."""
    from stdatamodels.jwst import datamodels as dm

    from webbcal.wcs import (
        Pointing,
        distortion_from_siaf,
        imaging_wcs,
        read_siaf_aperture,
        s_region_from_wcs,
    )

    ap = read_siaf_aperture(SIAF, "NRCA1_FULL")
    p = Pointing(ap.v2_ref, ap.v3_ref, 37.25, 150.1, 2.2, v3i_yang=ap.v3_idl_yangle,
                 vparity=ap.vidl_parity)  # fmt: skip
    wcs = imaging_wcs(distortion_from_siaf(ap), p, shape=SHAPE)
    rng = np.random.default_rng(1)
    m = dm.ImageModel(SHAPE)
    m.data = (1.0 + 0.05 * rng.standard_normal(SHAPE)).astype(np.float32)
    m.dq = np.zeros(SHAPE, np.uint32)
    m.dq[100, 100:200] = 1
    m.var_rnoise = np.full(SHAPE, 1e-4, np.float32)
    m.var_poisson = (2e-4 * np.abs(m.data)).astype(np.float32)
    m.var_flat = (1e-6 * m.data**2).astype(np.float32)
    m.err = np.sqrt(m.var_rnoise + m.var_poisson + m.var_flat)
    meta = m.meta
    meta.instrument.name, meta.instrument.detector = "NIRCAM", "NRCA1"
    meta.instrument.filter, meta.instrument.pupil = "F200W", "CLEAR"
    meta.instrument.channel, meta.instrument.module = "SHORT", "A"
    meta.exposure.type = "NRC_IMAGE"
    meta.exposure.exposure_time = meta.exposure.effective_exposure_time = 100.0
    meta.exposure.measurement_time, meta.exposure.duration = 90.0, 110.0
    meta.exposure.start_time, meta.exposure.end_time = 60000.0, 60000.001
    meta.observation.date, meta.observation.time = "2023-01-01", "00:00:00"
    obs = meta.observation
    obs.program_number, obs.observation_number, obs.visit_number = "01234", "001", "001"
    obs.visit_group, obs.sequence_id, obs.activity_id, obs.exposure_number = "01", "1", "01", "1"
    meta.bunit_data = meta.bunit_err = "MJy/sr"
    w = meta.wcsinfo
    w.v2_ref, w.v3_ref, w.roll_ref, w.ra_ref, w.dec_ref = p.v2_ref, p.v3_ref, 37.25, 150.1, 2.2
    w.v3yangle, w.vparity = p.v3i_yang, p.vparity
    w.s_region = s_region_from_wcs(wcs)
    meta.wcs = wcs
    meta.filename = path.name
    m.save(str(path))


def run_one(which: str, path: str, out: str) -> dict:
    """Run one implementation in this process; return its timings.

    ``open_s`` is the first opening of the file (stdatamodels' cold start: schemas,
    ASDF tree with the gwcs); ``step_s`` the step on the opened model.
    """
    from stdatamodels.jwst import datamodels as dm

    if which == "webbcal":
        from webbcal.resample import ResampleStep

        kwargs = {"disable_crds_steppars": True}
    else:
        os.environ["STPIPE_DISABLE_CRDS_STEPPARS"] = "True"
        from jwst.resample import ResampleStep

        kwargs = {}
    t0 = time.perf_counter()
    model = dm.ImageModel(path)
    t1 = time.perf_counter()
    result = ResampleStep.call(model, **kwargs)
    t2 = time.perf_counter()
    np.save(out + "_data.npy", result.data)
    np.save(out + "_con.npy", result.con)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # GB (ru_maxrss in kB)
    return {"which": which, "open_s": t1 - t0, "step_s": t2 - t1, "peak_rss_gb": rss,
            "shape": result.data.shape}  # fmt: skip


def main(argv=None) -> int:
    """Build the input, run each implementation in a subprocess, print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", default="/tmp/bench_resample")
    parser.add_argument("--no-jwst", action="store_true")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    folder = Path(args.folder)
    path = folder / "jw01234001001_01101_00001_nrca1_cal.fits"
    if args.child:
        print(json.dumps(run_one(args.child[0], str(path), str(folder / args.child[1]))))
        return 0
    folder.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        make_input(path)
    which = ["webbcal"]
    if not args.no_jwst:
        try:
            import jwst  # noqa: F401

            which.append("jwst")
        except ImportError:
            print("jwst not installed: webbcal only")
    results = {}
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    for name in which:
        proc = subprocess.run([sys.executable, __file__, "--folder", str(folder), "--child",
                               name, name], capture_output=True, text=True, env=env)  # fmt: skip
        if proc.returncode != 0:
            print(proc.stderr[-3000:])
            return 1
        results[name] = json.loads(proc.stdout.strip().splitlines()[-1])
        r = results[name]
        print(f"{name:8s} step {r['step_s']:6.2f} s (open {r['open_s']:5.2f} s)   "
              f"peak RSS {r['peak_rss_gb']:.2f} GB   output {tuple(r['shape'])}")  # fmt: skip
    if len(results) == 2:
        a, b = (np.load(folder / f"{n}_data.npy") for n in which)
        ok = np.isfinite(a) & np.isfinite(b) & (b != 0)
        rel = np.abs(a[ok] - b[ok]) / np.abs(b[ok])
        same_con = np.array_equal(*(np.load(folder / f"{n}_con.npy") for n in which))
        print(f"SCI relative difference: median {np.median(rel):.2e}, 99.9% "
              f"{np.percentile(rel, 99.9):.2e}; NaN pattern equal "
              f"{np.array_equal(np.isnan(a), np.isnan(b))}; context equal {same_con}")  # fmt: skip
        speed = results["jwst"]["step_s"] / results["webbcal"]["step_s"]
        print(f"step speed-up x{speed:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
