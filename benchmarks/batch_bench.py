"""Benchmark: ``webbcal batch`` on a local dask cluster vs a serial loop.

Simulates N NIRCam NRCA1 SUB256 exposures (256 x 256, RAPID, 10 groups) with a
local CRDS context, then processes them with calwebb_detector1 twice, each in
a fresh Python process: a serial loop of ``Detector1Pipeline.call`` and
:func:`webbcal.batch.run_batch` on a default local cluster (one worker per core).
Prints wall time, peak RSS and the speedup.

Usage::

    python benchmarks/batch_bench.py [--n 16] [--ngroups 10] [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from _fairness import compile_webbcal, flush_disk

PARKEYS = ("META.INSTRUMENT.DETECTOR", "META.SUBARRAY.NAME")


def simulate(work: Path, n: int, ngroups: int) -> tuple[list[str], str]:
    """Write ``n`` SUB256 exposures and a CRDS cache serving their references."""
    from webbcal.crds_client import RmapEntry, write_local_context
    from webbcal.lib.subarray import SubarrayGeometry
    from webbcal.simulate import make_detector, simulate_exposure, write_reference_files

    det = make_detector(geometry=SubarrayGeometry(1, 1, 256, 256), subarray="SUB256", seed=1)
    refs = write_reference_files(det, work / "refs", ngroups=ngroups)
    entries = [RmapEntry("NIRCAM", r, PARKEYS, {("NRCA1", "SUB256"): [("2020-01-01 00:00:00",
               str(p))]}) for r, p in sorted(refs.items())]  # fmt: skip
    write_local_context(work / "crds", entries)
    paths = []
    for k in range(n):
        sim = simulate_exposure(det, ngroups=ngroups, cr_rate=1e-4, seed=100 + k, exposure=k + 1)
        paths.append(str(sim.save(work / "data")["uncal"]))
    return paths, str(work / "crds")


def _tree_rss() -> int:
    import psutil

    total = 0
    for proc in psutil.Process().children(recursive=True):
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            pass
    return total


def run_mode(mode: str, paths: list[str], out: str) -> dict:
    """Run one mode in this process and return timings and memory."""
    import logging

    logging.getLogger("webbcal").setLevel(logging.WARNING)
    peak_children = [0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak_children[0] = max(peak_children[0], _tree_rss())
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    t0 = time.perf_counter()
    if mode == "serial":
        from webbcal.pipeline import Detector1Pipeline

        for path in paths:
            Detector1Pipeline.call(path, output_dir=out, save_results=True, progress=False)
        ok, workers = True, 1
    else:
        from webbcal.batch import run_batch

        result = run_batch(paths, output_dir=out, progress=False)
        ok, workers = result.ok, result.n_workers
    wall = time.perf_counter() - t0
    stop.set()
    sampler.join()
    self_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    child_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    return {"mode": mode, "wall_s": wall, "ok": ok, "workers": workers,
            "driver_peak_rss": self_peak, "largest_worker_peak_rss": child_peak,
            "workers_total_peak_rss": peak_children[0]}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=16, help="exposures")
    parser.add_argument("--ngroups", type=int, default=10, help="groups per integration")
    parser.add_argument("--work", default=None, help="working directory (default: temporary)")
    parser.add_argument("--mode", choices=["serial", "batch"], help=argparse.SUPPRESS)
    parser.add_argument("--inputs", help=argparse.SUPPRESS)
    args = parser.parse_args()
    compile_webbcal()  # as installed: no module compiled in the timed processes
    if args.mode:
        paths = json.loads(Path(args.inputs).read_text())
        out = str(Path(args.work) / f"out_{args.mode}")
        print(json.dumps(run_mode(args.mode, paths, out)))
        return 0
    work = Path(args.work or tempfile.mkdtemp(prefix="webbcal_batch_bench_"))
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    paths, crds_path = simulate(work, args.n, args.ngroups)
    print(f"simulated {args.n} SUB256 exposures ({args.ngroups} groups) in "
          f"{time.perf_counter() - t0:.1f} s under {work}")  # fmt: skip
    inputs = work / "inputs.json"
    inputs.write_text(json.dumps(paths))
    env = {**os.environ, "CRDS_PATH": crds_path, "CRDS_SERVER_URL": ""}
    rows = []
    for mode in ("serial", "batch"):
        flush_disk()  # no earlier run's dirty pages to wait on
        proc = subprocess.run(
            [sys.executable, __file__, "--mode", mode, "--inputs", str(inputs), "--work",
             str(work)], env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    gib = 2**30
    print(f"{'mode':<8s} {'workers':>7s} {'wall [s]':>9s} {'per exp [s]':>11s} "
          f"{'driver peak RSS':>16s} {'worker peak RSS':>16s} {'all workers':>12s}")  # fmt: skip
    for r in rows:
        print(
            f"{r['mode']:<8s} {r['workers']:>7d} {r['wall_s']:>9.1f} {r['wall_s'] / args.n:>11.2f}"
            f" {r['driver_peak_rss'] / gib:>12.2f} GiB {r['largest_worker_peak_rss'] / gib:>12.2f}"
            f" GiB {r['workers_total_peak_rss'] / gib:>8.2f} GiB"
        )
    speedup = rows[0]["wall_s"] / rows[1]["wall_s"]
    print(f"speedup batch vs serial: {speedup:.2f}x on {os.cpu_count()} cores "
          f"(all ok: {all(r['ok'] for r in rows)})")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
