"""Benchmark calwebb_detector1: webbcal against the official jwst pipeline.

Generates the exposures with webbcal's simulator (once, cached in --workdir),
then runs webbcal and, when ``jwst`` is installed, the official
Detector1Pipeline on the identical files and references, alternating
(A B A B ...), each run in a fresh process measured with ``/usr/bin/time``.
Prints the median wall time, the peak resident memory and the ratios.

Cases (issue #3):
  1  full frame 2048x2048, RAPID, 10 groups, 1 integration
  2  full frame 2048x2048, RAPID, 20 groups, 4 integrations
  3  time series 2048x64 stripe (4 outputs), 5 groups, --nints integrations (default 2000)
  4  MIRI imager full array 1032x1024, FASTR1, 10 groups, 2 integrations (MIRI branch)

Both pipelines get every reference through ``override_<reftype>`` and run
offline (a CRDS cache holding only its server_config; CRDS step parameters
disabled), so they do the same work.

Usage::

    python benchmarks/bench_detector1.py --case 1 --runs 3
    python benchmarks/bench_detector1.py --case 3 --nints 500 --runs 1
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _fairness import compile_webbcal, flush_disk

REFTYPES = {
    "dq_init": ("mask",),
    "saturation": ("saturation", "superbias"),
    "ipc": ("ipc",),
    "superbias": ("superbias",),
    "linearity": ("linearity",),
    "dark_current": ("dark",),
    "jump": ("gain", "readnoise"),
    "ramp_fit": ("readnoise", "gain"),
    "gain_scale": ("gain",),
}
#: Reference types the official refpix step looks up that a simulated NIR exposure lacks.
OFFICIAL_NA = {"refpix": ("refpix", "sirskernel")}
#: The MIRI branch's own reference types (case 4).
MIRI_REFTYPES = {
    "dq_init": ("mask",),
    "saturation": ("saturation",),
    "ipc": ("ipc",),
    "reset": ("reset",),
    "linearity": ("linearity",),
    "rscd": ("rscd",),
    "dark_current": ("dark",),
    "jump": ("gain", "readnoise"),
    "ramp_fit": ("readnoise", "gain"),
    "gain_scale": ("gain",),
}


def make_case(case: int, workdir: Path, nints: int | None) -> tuple[Path, dict]:
    """Simulate (once) the exposure of ``case``; return the uncal path and references."""
    from webbcal.lib.subarray import SubarrayGeometry
    from webbcal.simulate import make_detector, simulate_exposure, write_reference_files

    if case == 4:
        return _make_miri_case(workdir)
    if case == 1:
        name, geom, sub, ngroups, n = "case1", None, "FULL", 10, 1
    elif case == 2:
        name, geom, sub, ngroups, n = "case2", None, "FULL", 20, 4
    else:
        n = nints or 2000
        name, geom, sub, ngroups = f"case3_{n}", SubarrayGeometry(1, 1, 2048, 64), "SUBGRISM64", 5
    root = workdir / name
    meta = root / "case.json"
    if meta.exists():
        info = json.loads(meta.read_text())
        return Path(info["uncal"]), info["refs"]
    root.mkdir(parents=True, exist_ok=True)
    det = make_detector(instrument="NIRCAM", detector="NRCA1", subarray=sub, geometry=geom,
                        seed=case)  # fmt: skip
    refs = write_reference_files(det, root / "refs", ngroups=ngroups)
    sim = simulate_exposure(det, readpatt="RAPID", ngroups=ngroups, nints=n, seed=case + 10,
                            cr_rate=5e-5)  # fmt: skip
    paths = sim.save(root / "data")
    info = {"uncal": str(paths["uncal"]), "refs": {k: str(v) for k, v in refs.items()}}
    meta.write_text(json.dumps(info))
    return Path(info["uncal"]), info["refs"]


def _make_miri_case(workdir: Path) -> tuple[Path, dict]:
    from webbcal.simulate import (
        make_miri_detector,
        simulate_miri_exposure,
        write_miri_reference_files,
    )

    root = workdir / "case4_miri"
    meta = root / "case.json"
    if meta.exists():
        info = json.loads(meta.read_text())
        return Path(info["uncal"]), info["refs"]
    root.mkdir(parents=True, exist_ok=True)
    det = make_miri_detector(detector="MIRIMAGE", subarray="FULL", seed=4)
    refs = write_miri_reference_files(det, root / "refs", ngroups=10, nints=2, readpatt="FASTR1")
    sim = simulate_miri_exposure(det, readpatt="FASTR1", ngroups=10, nints=2, seed=14)
    paths = sim.save(root / "data")
    info = {"uncal": str(paths["uncal"]), "refs": {k: str(v) for k, v in refs.items()}}
    meta.write_text(json.dumps(info))
    return Path(info["uncal"]), info["refs"]


def _steps(refs: dict, official: bool) -> dict:
    table = MIRI_REFTYPES if "reset" in refs else REFTYPES
    steps = {a: {f"override_{r}": refs[r] for r in rts} for a, rts in table.items()}
    if "reset" in refs:  # MIRI has no superbias (N/A in the flight rules)
        steps["saturation"]["override_superbias"] = "N/A"
    if official:
        na = dict(OFFICIAL_NA)
        if "reset" in refs:  # MIRI: no superbias; emicorr stays skipped on both sides
            na["saturation"] = ("superbias",)
            na["superbias"] = ("superbias",)
        for alias, rts in na.items():
            steps.setdefault(alias, {}).update({f"override_{r}": "N/A" for r in rts})
    return steps


def _script(which: str, uncal: Path, refs: dict, out: Path) -> str:
    steps = json.dumps(_steps(refs, which == "jwst"))
    if which == "jwst":
        return (
            "from jwst.pipeline import Detector1Pipeline\n"
            f"p = Detector1Pipeline(steps={steps}, output_dir={str(out)!r}, save_results=True)\n"
            "p.prefetch_references = False\n"
            f"p.run({str(uncal)!r})\n"
        )
    return (
        "from webbcal.pipeline import Detector1Pipeline\n"
        f"Detector1Pipeline.call({str(uncal)!r}, steps={steps}, output_dir={str(out)!r},\n"
        "                       save_results=True, progress=False, disable_crds_steppars=True)\n"
    )


def run_once(which: str, uncal: Path, refs: dict, workdir: Path) -> tuple[float, float, bool]:
    """Run one pipeline in a fresh process; return (wall s, peak RSS GB, succeeded)."""
    from webbcal.crds_client import crds_environment, write_server_config

    cache = workdir / "offline_crds"
    write_server_config(cache, "jwst_0001.pmap")
    with crds_environment(cache):
        env = dict(os.environ, STPIPE_DISABLE_CRDS_STEPPARS="true")
    with tempfile.TemporaryDirectory(dir=workdir) as out:
        cmd = ["/usr/bin/time", "-f", "%e %M", sys.executable, "-c",
               _script(which, uncal, refs, Path(out))]  # fmt: skip
        flush_disk()  # no earlier run's dirty pages to wait on
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall, kb = proc.stderr.strip().splitlines()[-1].split()[-2:]
    ok = proc.returncode == 0
    if not ok:
        tail = "\n".join(proc.stderr.strip().splitlines()[-4:-1])
        print(f"  {which} failed (exit {proc.returncode}): {tail}", file=sys.stderr)
    return float(wall), int(kb) / 1024**2, ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", type=int, choices=(1, 2, 3, 4), required=True)
    parser.add_argument("--runs", type=int, default=3, help="runs of each pipeline (A B A B)")
    parser.add_argument("--nints", type=int, default=None, help="integrations of case 3")
    parser.add_argument("--workdir", default="benchmarks/_work")
    parser.add_argument("--no-jwst", action="store_true", help="run webbcal only")
    args = parser.parse_args(argv)
    compile_webbcal()  # as installed: no module compiled in the timed processes
    workdir = Path(args.workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    uncal, refs = make_case(args.case, workdir, args.nints)
    which = ["webbcal"]
    if not args.no_jwst:
        try:
            import jwst  # noqa: F401
        except ImportError:
            print("jwst is not installed: running webbcal only")
        else:
            which.append("jwst")
    results: dict[str, list] = {w: [] for w in which}
    for _ in range(args.runs):
        for w in which:
            results[w].append(run_once(w, uncal, refs, workdir))
    print(f"case {args.case}: {uncal.name}")
    print(f"{'pipeline':<10s} {'median wall (s)':>16s} {'peak RSS (GB)':>14s}  runs")
    summary = {}
    for w, runs in results.items():
        good = [r for r in runs if r[2]]
        if not good:
            print(f"{w:<10s} {'failed':>16s} {max(r[1] for r in runs):14.2f}  {len(runs)}")
            continue
        wall = statistics.median(r[0] for r in good)
        rss = max(r[1] for r in good)
        summary[w] = (wall, rss)
        print(f"{w:<10s} {wall:16.2f} {rss:14.2f}  {len(good)}/{len(runs)}")
    if "webbcal" in summary and "jwst" in summary:
        (tw, mw), (tj, mj) = summary["webbcal"], summary["jwst"]
        print(f"speed-up {tj / tw:.1f}x, memory {100 * mw / mj:.0f}% of jwst")
    return 0


if __name__ == "__main__":
    sys.exit(main())
