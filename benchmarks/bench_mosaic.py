"""Benchmark mosaics of N full-frame NIRCam exposures: tiled against all-in-memory (and jwst).

The inputs are ``cal`` products of NRCA1_FULL (2048 x 2048, degree-5 SIAF distortion from
the PRD's NIRCam SIAF XML) with flat noise, VAR_* planes and a few flagged pixels (as in
``bench_resample.py``), pointed on a square grid of dithers 10 arcsec apart, listed in a
level-3 association. Each run is its own Python process (its peak RSS, ``ru_maxrss``, is
its own):

* ``memory``: webbcal ``ResampleStep`` on the association with the whole grid in memory
  (``memory_limit`` large);
* ``tiled``: webbcal with ``in_memory=False`` (members on disk, tiles sized from
  ``memory_limit``, default 2GB);
* ``dask``: as ``tiled`` with ``scheduler='local'`` (a local cluster; RSS of the driver
  only);
* ``jwst``: jwst's ``ResampleStep`` with ``in_memory=False`` when installed.

Reported: wall time of the step, peak RSS, and the pixels where the tiled products
differ from the in-memory ones (SCI, WHT, CON, ERR, VAR_*: inside, with the largest
difference in float32 ulps, and on the mosaic's 3-pixel outer frame); jwst: SCI median
relative difference from webbcal's in-memory product.

Usage::

    python benchmarks/bench_mosaic.py --n 4 16 [--runs memory tiled dask jwst]

Measured 2026-12-06 on the shared 2-core, 24 GB machine (other work ran beside it, load
average 2-10, so wall times are only indicative; each configuration run once):

====  ===========  =================  ==================  ===============
N     grid         webbcal in memory  webbcal tiled       jwst 3.0.0 (c)
====  ===========  =================  ==================  ===============
4     2506x2506    126 s   1.02 GB    126 s   0.44 GB (a)  209 s  1.15 GB
16    3403x3402    591 s   2.50 GB    592 s   0.71 GB      392 s  1.53 GB
64    5195x5195    399 s   8.24 GB    432 s   1.33 GB      not run
====  ===========  =================  ==================  ===============

(a) ``--memory-limit 1GB`` (9 tiles); the others 2GB. N=64 ran at load ~2 (in memory
and tiled alike); N=4 and 16 at load 7-10. (c) ``in_memory=False``.

Tiled against in memory, inside the mosaic's outer 3-pixel frame: 11-288 pixels of 6-27
million differ (SCI at most 7 float32 ulps, WHT 2); the context planes are identical. On
the frame 4-7 % of the pixels differ (drizzle's clipping at the output border, see
:mod:`webbcal.resample.tiles`). jwst SCI against webbcal in memory on the same grid:
median relative difference 3.1e-7 (N=4), 3.6e-7 (N=16).
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
from _fairness import compile_webbcal, flush_disk

SIAF = Path("/work/shared/data/real/pysiaf-siafxml/NIRCam_SIAF.xml")
SHAPE = (2048, 2048)
STEP_ARCSEC = 10.0
PLANES = ("data", "wht", "con", "err", "var_rnoise", "var_poisson", "var_flat")


def make_member(path: Path, dra: float, ddec: float, exposure: int, seed: int) -> None:
    """Write one full-frame NRCA1 cal product pointed at (dra, ddec) arcsec from the centre."""
    import math

    from stdatamodels.jwst import datamodels as dm

    from webbcal.wcs import (
        Pointing,
        distortion_from_siaf,
        imaging_wcs,
        read_siaf_aperture,
        s_region_from_wcs,
    )

    ap = read_siaf_aperture(SIAF, "NRCA1_FULL")
    ra = 150.1 + dra / 3600.0 / math.cos(math.radians(2.2))
    dec = 2.2 + ddec / 3600.0
    p = Pointing(ap.v2_ref, ap.v3_ref, 37.25, ra, dec, v3i_yang=ap.v3_idl_yangle,
                 vparity=ap.vidl_parity)  # fmt: skip
    wcs = imaging_wcs(distortion_from_siaf(ap), p, shape=SHAPE)
    rng = np.random.default_rng(seed)
    m = dm.ImageModel(SHAPE)
    m.data = (1.0 + 0.05 * rng.standard_normal(SHAPE)).astype(np.float32)
    m.dq = np.zeros(SHAPE, np.uint32)
    m.dq[100 + seed, 100:200] = 1
    m.data[500, 500 + seed] = np.nan
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
    meta.exposure.start_time = 60000.0 + 0.01 * exposure
    meta.exposure.end_time = meta.exposure.start_time + 0.001
    meta.observation.date, meta.observation.time = "2023-01-01", "00:00:00"
    obs = meta.observation
    obs.program_number, obs.observation_number, obs.visit_number = "01234", "001", "001"
    obs.visit_group, obs.sequence_id, obs.activity_id = "01", "1", "01"
    obs.exposure_number = str(exposure)
    meta.bunit_data = meta.bunit_err = "MJy/sr"
    w = meta.wcsinfo
    w.v2_ref, w.v3_ref, w.roll_ref, w.ra_ref, w.dec_ref = p.v2_ref, p.v3_ref, 37.25, ra, dec
    w.v3yangle, w.vparity = p.v3i_yang, p.vparity
    w.s_region = s_region_from_wcs(wcs)
    meta.cal_step.assign_wcs = "COMPLETE"
    meta.wcs = wcs
    meta.filename = path.name
    m.save(str(path))


def make_inputs(folder: Path, n: int) -> Path:
    """N members on a square dither grid and their association; return its path."""
    from webbcal.associations import write_association
    from webbcal.associations.from_list import asn_from_list

    folder.mkdir(parents=True, exist_ok=True)
    side = int(np.ceil(np.sqrt(n)))
    names = []
    for k in range(n):
        name = f"jw01234001001_01101_{k + 1:05d}_nrca1_cal.fits"
        path = folder / name
        if not path.exists():
            dra = (k % side - (side - 1) / 2) * STEP_ARCSEC
            ddec = (k // side - (side - 1) / 2) * STEP_ARCSEC
            make_member(path, dra, ddec, k + 1, seed=k)
        names.append(name)
    asn = asn_from_list(names, product_name="jw01234-o001_t001_nircam_clear-f200w",
                        rule="DMS_Level3_Base")  # fmt: skip
    asn_path = folder / "asn.json"
    write_association(asn, str(asn_path))
    return asn_path


def run_one(which: str, asn: str, out: str, memory_limit: str) -> dict:
    """Run one configuration in this process; save its planes; return timings."""
    if which == "jwst":
        os.environ["STPIPE_DISABLE_CRDS_STEPPARS"] = "True"
        from jwst.resample import ResampleStep

        kwargs = {"in_memory": False}
    else:
        from webbcal.resample import ResampleStep

        kwargs = {"disable_crds_steppars": True}
        if which == "memory":
            kwargs["memory_limit"] = "1000GB"
        else:
            kwargs.update(in_memory=False, memory_limit=memory_limit)
        if which == "dask":
            kwargs["scheduler"] = "local"
    t0 = time.perf_counter()
    result = ResampleStep.call(asn, **kwargs)
    seconds = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # GB (kB units)
    shape = tuple(result.data.shape)
    for name in PLANES:
        if result.hasattr(name):
            np.save(f"{out}_{name}.npy", getattr(result, name))
    return {"which": which, "step_s": seconds, "peak_rss_gb": rss, "shape": shape}


def _identical(folder: Path, a: str, b: str, frame: int = 3) -> str:
    """Pixels that differ between two runs' planes: inside, and on the outer frame."""
    parts = []
    for name in PLANES:
        pa, pb = folder / f"{a}_{name}.npy", folder / f"{b}_{name}.npy"
        if not (pa.exists() and pb.exists()):
            continue
        x, y = np.load(pa), np.load(pb)
        if x.shape != y.shape:
            parts.append(f"{name}: shapes {x.shape} {y.shape}")
            continue
        same = (x == y) | (np.isnan(x) & np.isnan(y)) if x.dtype.kind == "f" else x == y
        if same.ndim == 3:
            same = same.all(axis=0)
        inner = np.zeros(same.shape, bool)
        inner[frame:-frame, frame:-frame] = True
        ulp = 0
        if x.dtype.kind == "f":
            ok = inner & np.isfinite(x) & np.isfinite(y)
            if ok.any():
                ulp = int(np.max(np.abs(x[ok].view(np.int32).astype(np.int64)
                                        - y[ok].view(np.int32).astype(np.int64))))  # fmt: skip
        parts.append(f"{name}: {np.count_nonzero(~same & inner)}/{inner.sum()} inside "
                     f"(max {ulp} ulp), {np.count_nonzero(~same & ~inner)}/"
                     f"{np.count_nonzero(~inner)} on the {frame}-px frame")  # fmt: skip
    return "differing pixels: " + "; ".join(parts)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", default="/tmp/bench_mosaic")
    parser.add_argument("--n", type=int, nargs="+", default=[4, 16])
    parser.add_argument("--runs", nargs="+", default=["memory", "tiled", "dask", "jwst"])
    parser.add_argument("--memory-limit", default="2GB")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    compile_webbcal()  # as installed: no module compiled in the timed processes
    if args.child:
        which, asn, out = args.child
        print(json.dumps(run_one(which, asn, out, args.memory_limit)))
        return 0
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    for n in args.n:
        folder = Path(args.folder) / f"n{n}"
        t0 = time.perf_counter()
        asn = make_inputs(folder, n)
        print(f"N={n}: inputs ready ({time.perf_counter() - t0:.0f} s)", flush=True)
        for which in args.runs:
            if which == "jwst":
                try:
                    import jwst  # noqa: F401
                except ImportError:
                    continue
            cmd = [sys.executable, __file__, "--memory-limit", args.memory_limit, "--child",
                   which, str(asn), str(folder / which)]  # fmt: skip
            flush_disk()  # no earlier run's dirty pages to wait on
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
            if proc.returncode != 0:
                print(f"  {which}: failed\n{proc.stderr[-2000:]}")
                continue
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            detail = ""
            same = ""
            have_memory = (folder / "memory_data.npy").exists()  # this run or an earlier one
            if which in ("tiled", "dask") and have_memory:
                same = "  (vs memory below)"
                detail = "    " + _identical(folder, "memory", which)
            if which == "jwst" and have_memory:
                x, y = np.load(folder / "memory_data.npy"), np.load(folder / "jwst_data.npy")
                if x.shape == y.shape:
                    ok = np.isfinite(x) & np.isfinite(y) & (y != 0)
                    rel = np.abs(x[ok] - y[ok]) / np.abs(y[ok])
                    same = f"  SCI vs webbcal: median rel diff {np.median(rel):.1e}"
                else:
                    same = f"  (grid {y.shape} vs webbcal {x.shape})"
            print(f"  {which:7s} {r['step_s']:7.1f} s   peak RSS {r['peak_rss_gb']:5.2f} GB   "
                  f"output {tuple(r['shape'])}{same}", flush=True)  # fmt: skip
            if detail:
                print(detail, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
