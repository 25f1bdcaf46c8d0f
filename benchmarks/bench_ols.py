"""Time webbcal's OLS ramp fit on blocks shaped like the streaming pipeline's.

Usage::

    NUMBA_NUM_THREADS=1 python benchmarks/bench_ols.py [--repeat 3] [--cases 1,2,3]
        [--baseline DIR]

Three synthetic blocks of rows (float32 ramps with Poisson-like slopes, read
noise, a few cosmic rays with their JUMP_DET flags, saturated and DO_NOT_USE
groups) cover the shapes the pipeline fits:

1. ``(4, 20, 128, 2048)``: a few long integrations;
2. ``(500, 5, 9, 2048)``: many short integrations (TSO);
3. ``(1, 10, 128, 2048)``: one integration.

Each case is warmed up (numba compilation) on a small block, then
:func:`webbcal.ramp_fitting.ols.fit_ramps` is timed ``--repeat`` times; the best
wall-clock and process CPU times are printed, with the CPU time per
pixel-group (``nints * ngroups * ny * nx``). ``--baseline DIR`` imports a frozen
copy of the module saved as ``DIR/ols_baseline/ols.py`` (with its kernel beside
it, imported relatively) and times it in the same run, alternating with the
current code (the machine is shared, so compare A/B within one run), and checks
that both give bit-identical products. Set ``NUMBA_NUM_THREADS`` to choose the
number of threads.

Session 14, ``NUMBA_NUM_THREADS=1``, against session 13's kernel (444ca3f) in the
same run (rows whose pixels mostly have no flag fitted in one vectorized pass per
row, ``_fit_clean_row``), bit-identical in every case::

    case  shape                current s  baseline s  speed-up
    1     (4, 20, 128, 2048)       0.168       0.242     x1.44
    2     (500, 5, 9, 2048)        0.839       0.841     x1.00
    3     (1, 10, 128, 2048)       0.022       0.040     x1.80

Case 3 is a full frame's fit in 16 blocks: 0.35 s against 0.64 s of CPU.
"""

import argparse
import importlib
import sys
import time

import numpy as np

from webbcal import dqflags

CASES = {
    1: (4, 20, 128, 2048),
    2: (500, 5, 9, 2048),
    3: (1, 10, 128, 2048),
}
FIELDS = (
    "slope",
    "dq",
    "var_poisson",
    "var_rnoise",
    "err",
    "slope_ints",
    "dq_ints",
    "var_poisson_ints",
    "var_rnoise_ints",
    "err_ints",
)


def make_block(shape, seed=0):
    """Synthetic ramps (DN), group DQ, pixel DQ, read noise and gain of ``shape``."""
    rng = np.random.default_rng(seed)
    nints, ngroups, ny, nx = shape
    rate = rng.uniform(0.0, 300.0, (ny, nx)).astype(np.float32)
    data = np.empty(shape, np.float32)
    gdq = np.zeros(shape, np.uint8)
    groups = np.arange(ngroups)[:, None, None]
    for i in range(nints):
        steps = rate + rng.standard_normal((ngroups, ny, nx), dtype=np.float32) * 9.0
        hit = rng.random((ny, nx)) < 0.02
        g = rng.integers(1, ngroups, (ny, nx))
        steps += np.where(hit & (groups == g), np.float32(800.0), np.float32(0.0))
        data[i] = np.cumsum(steps, axis=0)
        gdq[i] |= np.where(hit & (groups == g), dqflags.JUMP_DET, 0).astype(np.uint8)
        sat = rng.random((ny, nx)) < 0.01
        gdq[i] |= np.where(sat & (groups >= g), dqflags.SATURATED, 0).astype(np.uint8)
    gdq[rng.random(shape) < 0.001] |= dqflags.DO_NOT_USE
    pixeldq = np.zeros((ny, nx), np.uint32)
    gain = rng.uniform(1.8, 2.2, (ny, nx)).astype(np.float32)
    gain[0, :3] = np.nan
    readnoise = rng.uniform(8.0, 14.0, (ny, nx)).astype(np.float32)
    return data, gdq, pixeldq, readnoise, gain


def _run(module, block):
    return module.fit_ramps(
        *block, frame_time=10.7, group_time=10.7, nframes=1, groupgap=0, suppress_one_group=True
    )


def _timed(module, block):
    wall, cpu = time.perf_counter(), time.process_time()
    result = _run(module, block)
    return result, time.perf_counter() - wall, time.process_time() - cpu


def _identical(a, b):
    return all(
        np.array_equal(getattr(a, name), getattr(b, name), equal_nan=name[:2] != "dq")
        for name in FIELDS
    )


def main(argv=None):
    """Run the benchmark and print the timings."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cases", default="1,2,3")
    parser.add_argument("--baseline", default=None, help="folder holding ols_baseline/")
    args = parser.parse_args(argv)

    modules = {"current": importlib.import_module("webbcal.ramp_fitting.ols")}
    if args.baseline:
        sys.path.insert(0, args.baseline)
        modules["baseline"] = importlib.import_module("ols_baseline.ols")

    for case in (int(c) for c in args.cases.split(",")):
        shape = CASES[case]
        small = make_block((shape[0], shape[1], 2, 64), seed=1)
        for module in modules.values():
            _run(module, small)
        block = make_block(shape)
        wall = dict.fromkeys(modules, np.inf)
        cpu = dict.fromkeys(modules, np.inf)
        results = {}
        for rep in range(args.repeat):
            # Alternate the order so that neither version always runs first.
            names = list(modules)[:: 1 if rep % 2 == 0 else -1]
            for name in names:
                results[name], w, c = _timed(modules[name], block)
                wall[name] = min(wall[name], w)
                cpu[name] = min(cpu[name], c)
        npg = np.prod(shape)
        for name in modules:
            print(
                f"case {case} {str(shape):>20s} {name:>8s}: wall {wall[name]:7.3f} s, "
                f"cpu {cpu[name]:7.3f} s, {cpu[name] / npg * 1e9:6.2f} cpu-ns/pixel-group"
            )
        if "baseline" in results:
            same = _identical(results["current"], results["baseline"])
            print(
                f"case {case}: speed-up wall x{wall['baseline'] / wall['current']:.2f}, "
                f"cpu x{cpu['baseline'] / cpu['current']:.2f}, bit-identical: {same}"
            )


if __name__ == "__main__":
    main()
