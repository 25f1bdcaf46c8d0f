"""Benchmark calwebb_spec2 + calwebb_tso3 on a MIRI LRS slitless time series: webbcal vs jwst.

Simulates a 50-integration LRS slitless ``_rateints`` with its references
(:mod:`webbcal.simulate.lrs`), tiles it to ``--nints`` integrations (INT_TIMES renumbered),
and runs, each in a fresh process and on identical inputs and references (overrides; the
official pipeline offline, its reference prefetch off):

1. ``calwebb_spec2`` on the rateints (assign_wcs, srctype, flat_field, photom, extract_1d
   with the extract1d and apcorr references), saving ``_calints`` and ``_x1dints``;
2. ``calwebb_tso3`` on a level-3 TSO association of that calints (outlier_detection tso,
   extract_1d, white_light), saving ``_crfints``, ``_x1dints`` and ``_whtlt``.

It reports wall and CPU seconds and the child's peak RSS (VmHWM of the whole process,
imports included; wall and CPU include the pipeline's imports, "process" is the
child's lifetime seen from the parent), the
ratios, and the median relative difference of the x1dints fluxes (spec2 and tso3) and
of the white-light fluxes between the two pipelines, so that like is compared with like.

Results (shared 2-core machine, load ~2 from other users during the runs: compare the
CPU seconds; jwst 3.0.0; webbcal memory_limit at its default 1.4GB; apcorr N/A)::

    nints  stage   webbcal s (CPU)  jwst s (CPU)  ratio  webbcal RSS MB  jwst RSS MB
      200  spec2        6.0 (6.0)    20.9 (20.7)    3.5        635            831
      200  tso3         8.7 (8.7)    21.4 (21.1)    2.5        546            740
      200  both        14.7         42.3            2.9
    with the compiled rolling median (same machine, load ~1, one run):
      200  spec2        5.3 (5.5)    18.7 (18.9)    3.5        635            832
      200  tso3         5.8 (6.1)    19.5 (19.8)    3.4        655            741
      200  both        11.1         38.2            3.4
     2000  spec2       23.4 (23.2)  136.2 (134.4)   5.8        761           5675
     2000  tso3        48.0 (47.0)  171.4 (170.2)   3.6        747           4653
     2000  both        71.4         307.5           4.3
    end of session 8, all of today's changes (same machine, one run each; at 2000 the
    machine also ran the test suite on one core):
      200  spec2        5.3 (5.5)    22.5 (22.7)    4.3        623            832
      200  tso3         4.9 (5.2)    22.8 (23.0)    4.6        447            741
      200  both        10.2         45.2            4.4
     2000  spec2       14.1 (13.7)  145.8 (140.9)  10.3        859           5676
     2000  tso3        12.4 (12.1)  186.9 (178.2)  15.1        885           4653
     2000  both        26.5         332.6          12.6

    after the overhead cuts below (webbcal only, CPU seconds of 4 interleaved runs of the
    old and new code on the same inputs, median (min); load ~3 from other users):
      200  spec2  before 6.29 (6.08)  after 4.96 (4.15)   peak RSS 646 -> 421 MB
      200  tso3   before 6.86 (5.95)  after 4.97 (4.38)   peak RSS 655 -> 432 MB
      best wall (both stages): 13.5 s -> 9.0 s
     2000  spec2  before 21.3 (wall 22.2)  after 14.1 (wall 14.5)  peak RSS 784 -> 701 MB
     2000  tso3   before 24.9 (wall 33.6)  after 15.3 (wall 15.8)  peak RSS 840 -> 794 MB
      (2000: one run each, same load)

x1dints fluxes (spec2 and tso3) agree to a median relative difference of 2e-16, the
white-light curves exactly. At 200 integrations each exposure was processed in two
chunks (107 + 93 integrations at the default memory_limit; whole since the memory
estimate below); at 2000 webbcal reads, calibrates/flags, extracts and writes in
chunks of integrations (:mod:`webbcal.pipeline.chunked`) and its peak RSS no longer
grows with the number of integrations (4.8 GB before, spec2 at 2000; tso3 2.2 GB).

Where the time goes (cProfile): each process spends about 3 s importing and loading the
asdf extensions and schemas (both pipelines; the floor of one stage), and opening and
validating stdatamodels models; in tso3 most of the rest was the rolling median of
outlier detection (``numpy.median`` over 25-integration windows, ~60 % of tso3 at 2000;
now a compiled sliding sorted window, :func:`webbcal.outlier_detection.tso.rolling_median`,
bit-identical: tso3 at 2000 runs in 21.0 s wall, 20.1 s CPU, peak RSS 844 MB, numba
loaded);
in spec2 chunks, writing the calints twice (spill then product, ~7 s of ``pwrite`` at
2000), the metadata copy of each chunk and box extraction's background fit. The 10x
target is not reached: see the report of issue 17.

Since then (CPU seconds at 200 integrations, before -> after): box extraction sums only
the window of columns and rows that the aperture and background regions weigh (cut at
multiples of 8 columns so that numpy's sums give the same bits), with fewer float64
temporaries, fed in small sub-chunks (cleaning and extraction of the chunks: spec2 1.1
-> 0.11, tso3 1.8 -> 0.13); the calibrated chunks go straight into their product, laid
out from the first chunk's metadata and its headers rewritten at the end
(:class:`webbcal.lib.cubeio.ProductSpill`: the raw spill, its read-back and second write
are gone; about even at 200 integrations, where the headers are built twice, a saving
that grows with the number of integrations); numba is no longer imported by
calwebb_spec2 (flat_field's compiled kernel serves 2-D images only; ~0.3); calwebb_tso3
opens its member once (prefetch and processing; ~0.2); the FLAT is read once, not once
per chunk; the per-assignment schema check is skipped for the WCS, wavelengths and
outlier flags (checked when saved). What remains per process: ~0.25 s imports, ~1.6-1.9
s opening the first product (stdatamodels/asdf start-up, accepted), assign_wcs ~0.27,
flat_field and photom ~0.25 each, building the FITS/ASDF headers of each product twice
(~0.1 each), writing the arrays (~0.2); in tso3 the rolling median ~0.65, of which ~0.5
is numba's import and first call (the kernel itself 0.1), and reading the member twice
(mask, then chunks).

Then (the remaining overheads at 200 integrations; shared 2-core machine, load 4-6 from
other users: CPU seconds, median (min) of interleaved runs of the old code, main's
``src`` and child, and the new one on the same inputs)::

      200  spec2  before 4.83 (4.60)  after 4.67 (4.34)   peak RSS 421 -> 623 MiB
      200  tso3   before 5.21 (5.05)  after 4.48 (3.58)   peak RSS 432 -> 447 MiB
      best wall (load-dominated): spec2 10.9 -> 7.5 s, tso3 14.8 -> 3.5 s
     2000  spec2  before 12.1  after 12.2 (chunks of 221, not 107)  peak RSS 721 -> 832 MiB
     2000  tso3   before 13.7  after 13.6                          peak RSS 796 -> 884 MiB
      (7 runs each at 200, one at 2000; products: arrays and FITS headers identical,
      metadata equal but for dates; the cal_logs tell the whole path from the chunked;
      the "after" runs parsed asdf's manifests with libyaml, since removed: add
      ~0.3-0.45 s CPU to each "after" figure)

- memory estimate (:func:`webbcal.lib.cubeio.chunk_integrations`): it charged 320 bytes
  per pixel of each integration of a chunk (160, halved budget) above 450 MiB; measured
  peaks (VmHWM): calwebb_spec2 whole 623 MiB at 200 integrations and 1074 at 400 (79
  bytes per pixel per integration above ~172 MiB), in chunks 54-98 depending on the
  chunk length; calwebb_tso3 whole 35; what grows with the series whatever the chunk
  (spectra, outlier mask) 0.2-0.25 MiB per integration at 2000. Now 256 MiB + 10 B/px
  per integration of the series + 96 B/px per integration of a chunk: up to ~388 LRS
  integrations run whole at 1.4GB, 2000 in chunks of 221 (peak 832/884 MiB, under
  the limit). Whole against two chunks at 200 (same code): calwebb_tso3 ~0.5 s CPU
  less (the member read once, no second header build), calwebb_spec2 even within the
  noise (4.6-5.1 s either way) for 200 MiB more;
- numba in calwebb_tso3 (measured in the pipeline's context): ``import numba`` 0.15-0.2 s,
  the first call 0.26-0.35 s although the compiled kernel does come from the cache
  (``cache_hits`` 1): loading it builds numba's target context, which imports all its
  typing and lowering registries; the kernel itself 0.06-0.12 s. Serial and parallel
  kernels load alike, and an explicit signature only moves the load to import time.
  numpy cannot match it bit for bit at this cost: partitioning the 176 x 29952 sliding
  windows of 25 takes ~0.7 s, ``scipy.ndimage.median_filter`` along time 2.8 s. Kept;
- imports: the tso mode of outlier_detection no longer imports drizzle, webbcal.wcs and
  scipy.interpolate (``good_bits`` parsing moved to ``outlier_detection.bits``); this
  benchmark's child imports only its stage's pipeline (tso3 imported spec2's modules
  too). Not ours: stpipe and crds (~0.3 s), imported by asdf through the
  resource-mapping entry point of the installed stpipe (the oracle's environment), and
  scipy.optimize/sparse/linalg with numpy.f2py (~0.35 s), imported by gwcs for
  stdatamodels;
- asdf start-up: asdf parses its 44 extension manifests with PyYAML's pure-Python
  loader (1.78-1.87 s CPU per process); making it use libyaml would mean patching a
  private asdf module, which this project does not do (the start-up cost is accepted);
- writing: no checksums are computed (no CHECKSUM/DATASUM), each product is validated
  and its headers built once on the whole path (twice on the chunked one: layout, then
  final headers, ~0.1-0.15 s each), the x1dints built once.

Session 9 (quiet machine, load ~1, same run each, jwst 3.0.0; products as above)::

    nints  stage          webbcal s (CPU)  jwst s (CPU)    ratio  webbcal RSS MB  jwst RSS MB
      200  spec2           4.2 (4.4)       20.7 (21.0)      4.9        579            831
      200  tso3            4.8 (5.1)       22.7 (23.0)      4.7        446            741
     2000  spec2          11.5 (11.7)     137.6 (137.8)    11.9        753           5675
     2000  tso3           13.3 (14.4)     163.8 (164.0)    12.3        814           4653
    --one-process, 200 integrations (spec2 then tso3 in one process, twice):
           first pass      6.3 (6.6)       42.3 (42.5)      6.7        705            831
           second pass     2.5             39.6            16.2

What changed for it: the chunks of a long series share the WCS object instead of
deep-copying it (~0.1 s per chunk, most of each chunk's metadata copy); photom's
per-pixel conversion scales float32 planes in one buffered float64 pass (no full-size
float64 temporaries); NaN/DO_NOT_USE matching without boolean fancy indexing; the
x1dints and the materialized cubes are built without stdatamodels' per-assignment
schema checks (validated when saved); every top-level run allocates without numpy's
huge-page advice (see :mod:`webbcal.lib.hugepages`). At 200 integrations a fresh
process still cannot be 10x faster: its ~2.3 s of start-up alone is more than a tenth
of jwst's ~21 s; once started, the work of both stages is ~2.5 s against ~40 s.

Usage::

    python benchmarks/bench_tso.py --nints 200
    python benchmarks/bench_tso.py --nints 2000 --no-jwst
    python benchmarks/bench_tso.py --nints 200 --one-process
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _fairness import compile_webbcal, flush_disk

ROOT = Path(__file__).resolve().parents[1]
SIAF = Path(os.environ.get("WEBBCAL_SHARED", "/work/shared")) / "data/real/pysiaf-siafxml"
EXPO = "jw01234001001_01101_00001_mirimage"
PRODUCT = "jw01234-o001_t001_miri_p750l-slitlessprism"

#: Official reference types each jwst step asks for that LRS slitless leaves N/A.
_OFFICIAL_NA = {
    "assign_wcs": ("filteroffset", "regions", "wavelengthrange", "camera", "chromcorr",
                   "collimator", "disperser", "fore", "fpa", "msa", "ote", "ifupost",
                   "ifufore", "ifuslicer"),
    "flat_field": ("fflat", "sflat", "dflat"),
    "photom": ("area",),
    "extract_1d": ("psf", "pastasoss", "specprofile", "speckernel"),
}  # fmt: skip

_CHILD = r"""
import json, os, resource, sys, time
os.environ["CRDS_SERVER_URL"] = ""
os.environ["WEBBCAL_DISABLE_CRDS_STEPPARS"] = os.environ["STPIPE_DISABLE_CRDS_STEPPARS"] = "1"
which, stage, path, out, steps = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
steps = json.loads(steps)
extra = json.loads(sys.argv[6]) if len(sys.argv) > 6 else {}
extra = extra or {}


def run(stage, path, out):
    if which == "webbcal":
        # Only the stage's own pipeline, as a command-line run imports it.
        if stage == "spec2":
            from webbcal.pipeline.spec2 import Spec2Pipeline as cls
        else:
            from webbcal.pipeline.tso3 import Tso3Pipeline as cls
        cls.call(path, steps=steps[stage], save_results=True, output_dir=out, **extra)
    else:
        import tempfile
        from pathlib import Path
        sys.path.insert(0, os.path.join(os.environ["WEBBCAL_ROOT"], "tests", "parity"))
        from _parity import offline_environment
        from jwst.pipeline import Spec2Pipeline, Tso3Pipeline
        base = Spec2Pipeline if stage == "spec2" else Tso3Pipeline
        cls = type("Offline", (base,), {"prefetch_references": False})
        with tempfile.TemporaryDirectory() as root, offline_environment(Path(root)):
            cls.call(path, steps=steps[stage], save_results=True, output_dir=out)


def both(path, out):
    # calwebb_spec2 then calwebb_tso3 in this one process, as a script or notebook does.
    t0 = time.time()
    run("spec2", path, out)
    t1 = time.time()
    asn = {"asn_type": "tso3", "asn_rule": "bench", "asn_pool": "bench",
           "program": "01234", "asn_id": "o001",
           "products": [{"name": os.environ["BENCH_PRODUCT"], "members": [
               {"expname": os.path.basename(path).replace("_rateints", "_calints"),
                "exptype": "science"}]}]}
    asn_path = os.path.join(out, "tso3_asn.json")
    with open(asn_path, "w") as f:
        json.dump(asn, f)
    run("tso3", asn_path, out)
    return t1 - t0, time.time() - t1


t, c = time.time(), time.process_time()
if stage == "both":
    s2, t3 = both(path, out)
    first, first_cpu = time.time() - t, time.process_time() - c
    warm = os.path.join(out, "warm")
    os.mkdir(warm)
    w = time.time()
    w2, w3 = both(path, warm)
    w = time.time() - w
    steps_times = (f" first={first:.2f} first_cpu={first_cpu:.2f} spec2={s2:.2f} "
                   f"tso3={t3:.2f} warm={w:.2f} warm_spec2={w2:.2f} warm_tso3={w3:.2f}")
else:
    run(stage, path, out)
    steps_times = ""
ru = resource.getrusage(resource.RUSAGE_SELF)
# VmHWM, not ru_maxrss: the latter keeps the parent's RSS at fork time when larger.
hwm = next(int(x.split()[1]) for x in open("/proc/self/status") if x.startswith("VmHWM:"))
print(f"RESULT wall={time.time() - t:.2f} cpu={ru.ru_utime + ru.ru_stime:.2f} "
      f"rss={hwm / 1024:.0f}" + steps_times)
"""


def _tile(model, nints: int):
    """``model`` (a rateints CubeModel) repeated along the integrations to ``nints``."""
    import numpy as np
    from stdatamodels.jwst import datamodels as dm

    n = model.data.shape[0]
    reps = -(-nints // n)
    big = dm.CubeModel()
    big.update(model)
    for attr in ("data", "err", "dq", "var_poisson", "var_rnoise"):
        setattr(big, attr, np.concatenate([getattr(model, attr)] * reps)[:nints])
    times = np.concatenate([np.asarray(model.int_times)] * reps)[:nints].copy()
    period = times[0]["int_end_MJD_UTC"] - times[0]["int_start_MJD_UTC"]
    if n > 1:
        period = times[1]["int_start_MJD_UTC"] - times[0]["int_start_MJD_UTC"]
    for k in range(1, reps):
        for col in times.dtype.names:
            if col != "integration_number":
                times[col][k * n : (k + 1) * n] += k * n * period
    times["integration_number"] = np.arange(1, nints + 1)
    big.int_times = times
    exp = big.meta.exposure
    exp.nints = exp.integration_end = nints
    exp.integration_start = 1
    big.meta.filename = model.meta.filename
    return big


def make_inputs(workdir: Path, nints: int) -> tuple[Path, dict]:
    """Write the tiled rateints and the references under ``workdir``."""
    from webbcal.datamodels import save_model
    from webbcal.simulate.lrs import simulate_lrs_slitless

    sim = simulate_lrs_slitless(SIAF, nints=min(50, nints), noise=0.5)
    refs = {k: os.fspath(v) for k, v in sim.write_references(workdir / "refs").items()}
    path = workdir / f"{EXPO}_rateints.fits"
    save_model(_tile(sim.model, nints), os.fspath(path))
    return path, refs


def spec2_steps(refs: dict, official: bool, apcorr: bool = False) -> dict:
    steps = {
        "assign_wcs": {"override_distortion": refs["distortion"],
                       "override_specwcs": refs["specwcs"]},
        "flat_field": {"override_flat": refs["flat"]},
        "photom": {"override_photom": refs["photom"], "override_area": "N/A"},
        "extract_1d": {"override_extract1d": refs["extract1d"],
                       "override_apcorr": refs["apcorr"] if apcorr else "N/A"},
    }  # fmt: skip
    if official:
        for step, types in _OFFICIAL_NA.items():
            for reftype in types:
                steps[step].setdefault(f"override_{reftype}", "N/A")
        steps["pathloss"] = {"skip": True}
        steps["targ_centroid"] = {"skip": True}
    return steps


def tso3_steps(refs: dict, official: bool, apcorr: bool = False) -> dict:
    steps = spec2_steps(refs, official, apcorr)
    return {"extract_1d": steps["extract_1d"]}


def _write_asn(out: Path) -> Path:
    from webbcal.associations.asn import write_association
    from webbcal.associations.from_list import asn_from_list

    asn = asn_from_list([f"{EXPO}_calints.fits"], product_name=PRODUCT, acid="o001")
    return Path(write_association(asn, out / "tso3_asn.json"))


def run_child(which: str, stage: str, path: Path, out: Path, steps: dict,
              extra: dict | None = None) -> dict:  # fmt: skip
    env = dict(
        os.environ, PYTHONPATH=str(ROOT / "src"), WEBBCAL_ROOT=str(ROOT), BENCH_PRODUCT=PRODUCT
    )
    # A file, not ``-c``: stpipe locates the source of the (offline) pipeline class.
    script = out / "_bench_child.py"
    script.write_text(_CHILD)
    argv = [sys.executable, str(script), which, stage, str(path), str(out), json.dumps(steps)]
    if extra:
        argv.append(json.dumps(extra))
    t = time.time()
    flush_disk()  # no earlier run's dirty pages to wait on
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, cwd=out)
    if proc.returncode:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-5000:])
        raise RuntimeError(f"{which} {stage} failed (exit {proc.returncode})")
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT"))
    res = {k: float(v) for k, v in (p.split("=") for p in line.split()[1:])}
    res["process"] = time.time() - t
    return res


def compare(a: Path, b: Path) -> dict:
    """Median relative differences of the x1dints and white-light fluxes of two runs."""
    import numpy as np
    from astropy.table import Table
    from stdatamodels.jwst import datamodels as dm

    out = {}
    for key, name in (("spec2", f"{EXPO}_x1dints.fits"), ("tso3", f"{PRODUCT}_x1dints.fits")):
        with dm.open(a / name) as x, dm.open(b / name) as y:
            fx = np.concatenate([s.spec_table["FLUX"] for s in x.spec])
            fy = np.concatenate([s.spec_table["FLUX"] for s in y.spec])
            out[key] = float(np.nanmedian(np.abs(fx / fy - 1)))
    wx = Table.read(a / f"{PRODUCT}_whtlt.ecsv", format="ascii.ecsv")["whitelight_flux"]
    wy = Table.read(b / f"{PRODUCT}_whtlt.ecsv", format="ascii.ecsv")["whitelight_flux"]
    out["whtlt"] = float(np.nanmedian(np.abs(np.asarray(wx) / np.asarray(wy) - 1)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nints", type=int, default=200)
    parser.add_argument("--no-jwst", action="store_true")
    parser.add_argument("--memory-limit", default=None, help="webbcal memory_limit")
    parser.add_argument(
        "--apcorr",
        action="store_true",
        help="apply the LRS aperture correction (default: apcorr N/A)",
    )
    parser.add_argument(
        "--one-process",
        action="store_true",
        help="run calwebb_spec2 then calwebb_tso3 in one process per pipeline (as a script "
        "or notebook does), twice: the first pass pays the imports, the second is warm",
    )
    parser.add_argument("--keep", default=None, help="keep the products in this folder")
    args = parser.parse_args()
    compile_webbcal()  # as installed: no module compiled in the timed processes
    os.environ["WEBBCAL_DISABLE_CRDS_STEPPARS"] = "1"
    with tempfile.TemporaryDirectory(prefix="bench_tso_", dir=args.keep) as tmp:
        tmp = Path(tmp)
        path, refs = make_inputs(tmp, args.nints)
        sides = ("webbcal",) + (() if args.no_jwst else ("jwst",))
        extra = {"memory_limit": args.memory_limit} if args.memory_limit else None
        rows = {}
        for which in sides:
            out = tmp / which
            out.mkdir()
            official = which == "jwst"
            steps = {"spec2": spec2_steps(refs, official, args.apcorr),
                     "tso3": tso3_steps(refs, official, args.apcorr)}  # fmt: skip
            kw = None if official else extra
            if args.one_process:
                r = run_child(which, "both", path, out, steps, kw)
                rows[which] = r
                print(f"{which:8s} spec2+tso3 nints={args.nints}, one process: first pass "
                      f"{r['first']:6.2f} s (spec2 {r['spec2']:.2f}, tso3 {r['tso3']:.2f}; "
                      f"CPU {r['first_cpu']:.2f})  second pass {r['warm']:6.2f} s (spec2 "
                      f"{r['warm_spec2']:.2f}, tso3 {r['warm_tso3']:.2f})  peak RSS "
                      f"{r['rss']:6.0f} MB", flush=True)  # fmt: skip
                continue
            s2 = run_child(which, "spec2", path, out, steps, kw)
            asn = _write_asn(out)
            t3 = run_child(which, "tso3", asn, out, steps, kw)
            rows[which] = (s2, t3)
            for stage, r in (("spec2", s2), ("tso3", t3)):
                print(f"{which:8s} {stage:6s} nints={args.nints}: wall {r['wall']:7.2f} s  "
                      f"cpu {r['cpu']:7.2f} s  process {r['process']:7.2f} s  "
                      f"peak RSS {r['rss']:6.0f} MB", flush=True)  # fmt: skip
        if "jwst" in rows and args.one_process:
            w, j = rows["webbcal"], rows["jwst"]
            print(f"ratio jwst/webbcal, one process: first pass {j['first'] / w['first']:6.1f} "
                  f"(CPU {j['first_cpu'] / w['first_cpu']:.1f})  second pass "
                  f"{j['warm'] / w['warm']:6.1f}")  # fmt: skip
        elif "jwst" in rows:
            (ws, wt), (js, jt) = rows["webbcal"], rows["jwst"]
            for key in ("wall", "cpu", "process"):
                print(f"ratio jwst/webbcal {key:8s}: spec2 {js[key] / ws[key]:6.1f}  "
                      f"tso3 {jt[key] / wt[key]:6.1f}  combined "
                      f"{(js[key] + jt[key]) / (ws[key] + wt[key]):6.1f}")  # fmt: skip
        if "jwst" in rows:
            diff = compare(tmp / "webbcal", tmp / "jwst")
            print(
                "median |webbcal/jwst - 1|: " + ", ".join(f"{k} {v:.2e}" for k, v in diff.items())
            )


if __name__ == "__main__":
    main()
