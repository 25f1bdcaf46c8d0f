"""Time webbcal's two-point jump detection on blocks shaped like the streaming pipeline's.

Usage::

    python benchmarks/bench_jump.py [--repeat 3] [--cases 1,2,3] [--baseline DIR]

Three synthetic blocks of rows (float32 ramps with Poisson-like slopes, read
noise, cosmic rays, saturation and DO_NOT_USE groups) exercise the three
regimes of :func:`webbcal.jump.differences.two_point_jumps`:

1. ``(1, 10, 256, 2048)``: 9 differences per pixel, ``"iterative"``;
2. ``(4, 20, 128, 2048)``: 76 differences per pixel, ``"single_pass"``;
3. ``(500, 5, 8, 2048)``: many integrations, ``"sigma_clip"``.

Each case is warmed up (numba compilation) on a small block, then the best of
``--repeat`` wall-clock times is printed, with the time per pixel-group
(``nints * ngroups * ny * nx``). ``--baseline DIR`` imports a frozen copy of
the ``webbcal.jump`` package saved as ``DIR/jump_baseline`` and times it in the
same run, alternating with the current code (the machine is shared, so
compare A/B within one run), and checks that both give the same group DQ and
primary-jump count.
"""

import argparse
import importlib
import sys
import time

import numpy as np

from webbcal import dqflags
from webbcal.jump.params import JumpParameters

CASES = {
    1: ((1, 10, 256, 2048), "iterative"),
    2: ((4, 20, 128, 2048), "single_pass"),
    3: ((500, 5, 8, 2048), "sigma_clip"),
}


def make_block(shape, seed=0):
    """Synthetic ramps (float32 DN), group DQ, gain and read noise of ``shape``."""
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
        sat = rng.random((ny, nx)) < 0.01
        gdq[i] |= np.where(sat & (groups >= g), dqflags.SATURATED, 0).astype(np.uint8)
    gdq[rng.random(shape) < 0.001] |= dqflags.DO_NOT_USE
    gain = rng.uniform(1.8, 2.2, (ny, nx)).astype(np.float32)
    gain[0, :3] = np.nan
    readnoise = rng.uniform(8.0, 14.0, (ny, nx)).astype(np.float32)
    return data, gdq, gain, readnoise


def _run(module, block, mode):
    data, gdq, gain, readnoise = block
    return module.two_point_jumps(
        data,
        gdq,
        gain,
        readnoise,
        nframes=1,
        params=JumpParameters(),
        mode=mode,
        median_gain=2.0,
        clear_planes=False,
        count_rows=slice(1, -1),
    )


def main(argv=None):
    """Run the benchmark and print the timings."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cases", default="1,2,3")
    parser.add_argument("--baseline", default=None, help="folder holding jump_baseline/")
    args = parser.parse_args(argv)

    modules = {"current": importlib.import_module("webbcal.jump.differences")}
    if args.baseline:
        sys.path.insert(0, args.baseline)
        modules["baseline"] = importlib.import_module("jump_baseline.differences")

    for case in (int(c) for c in args.cases.split(",")):
        shape, mode = CASES[case]
        small = make_block((shape[0], shape[1], 3, 64), seed=1)
        for module in modules.values():
            _run(module, small, mode)
        block = make_block(shape)
        best = dict.fromkeys(modules, np.inf)
        results = {}
        for _ in range(args.repeat):
            for name, module in modules.items():
                start = time.perf_counter()
                results[name] = _run(module, block, mode)
                best[name] = min(best[name], time.perf_counter() - start)
        npg = np.prod(shape)
        for name, seconds in best.items():
            print(
                f"case {case} {shape} {mode:>11s} {name:>8s}: {seconds:7.3f} s "
                f"{seconds / npg * 1e9:6.2f} ns/pixel-group"
            )
        if "baseline" in results:
            same = np.array_equal(results["current"].groupdq, results["baseline"].groupdq)
            same &= results["current"].n_primary == results["baseline"].n_primary
            ratio = best["baseline"] / best["current"]
            print(f"case {case}: speed-up x{ratio:.2f}, identical: {same}")


if __name__ == "__main__":
    main()
