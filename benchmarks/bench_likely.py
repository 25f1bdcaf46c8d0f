"""Time webbcal's likelihood ramp fit (LIKELY) against its OLS fit on one exposure.

Usage::

    python benchmarks/bench_likely.py [--size 2048] [--ngroups 10] [--nints 1] [--repeat 3]

Simulates ``nints x ngroups x size x size`` RAPID ramps (rates 0-500 DN/s, read
noise, Poisson noise and a few cosmic rays), warms up both numba kernels on a
small cube, then prints the best of ``--repeat`` wall-clock times of
``fit_ramps`` (OLS) and ``fit_ramps_likely`` (with and without the jump test),
and the LIKELY / OLS ratio.

Measured on the shared 2-CPU development machine (2 numba threads, load ~5 from
other work, best of 3; 2026-12-06): 1 x 10 x 2048 x 2048 full frame, OLS 1.90 s,
LIKELY 7.18 s (3.8 x OLS), LIKELY without the jump test 5.97 s (3.1 x). Under
heavier load a single run gave OLS 4.07 s, LIKELY 20.5 s: compare ratios from
one run only.
"""

import argparse
import os
import time

import numpy as np

from webbcal.ramp_fitting.likely import fit_ramps_likely
from webbcal.ramp_fitting.ols import fit_ramps

FRAME_TIME = 10.73676


def make_cube(size, ngroups, nints, seed=0):
    """Simulated ramps (float32 DN) built without per-frame Poisson draws (fast)."""
    rng = np.random.default_rng(seed)
    rate = rng.uniform(0.0, 500.0, (size, size)).astype(np.float32)
    t = (np.arange(1, ngroups + 1) * FRAME_TIME).astype(np.float32)
    data = np.empty((nints, ngroups, size, size), np.float32)
    for i in range(nints):
        data[i] = rate * t[:, None, None]
        data[i] += rng.standard_normal((ngroups, size, size), dtype=np.float32) * 8.0
        hit = rng.random((size, size)) < 0.01
        g = rng.integers(1, ngroups, (size, size))
        data[i] += np.where(hit & (np.arange(ngroups)[:, None, None] >= g), 500.0, 0.0).astype(
            np.float32
        )
    gdq = np.zeros(data.shape, np.uint8)
    pdq = np.zeros((size, size), np.uint32)
    rn = np.full((size, size), 12.0, np.float32)
    gain = np.full((size, size), 2.0, np.float32)
    return data, gdq, pdq, rn, gain


def _time(func, repeat):
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return best


def main(argv=None):
    """Run the benchmark and print the timings."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--ngroups", type=int, default=10)
    parser.add_argument("--nints", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    kw = {"frame_time": FRAME_TIME, "group_time": FRAME_TIME, "nframes": 1, "groupgap": 0}

    small = make_cube(8, args.ngroups, args.nints)
    fit_ramps(*small, **kw)
    fit_ramps_likely(*small, **kw)

    cube = make_cube(args.size, args.ngroups, args.nints)
    t_ols = _time(lambda: fit_ramps(*cube, **kw), args.repeat)
    t_lik = _time(lambda: fit_ramps_likely(*cube, **kw), args.repeat)
    t_nojump = _time(lambda: fit_ramps_likely(*cube, detect_jumps=False, **kw), args.repeat)
    import numba

    print(
        f"{args.nints} x {args.ngroups} x {args.size} x {args.size}, "
        f"{numba.get_num_threads()} numba threads ({os.cpu_count()} CPUs)"
    )
    print(f"OLS (fit_ramps)                 {t_ols:8.3f} s")
    print(f"LIKELY (fit_ramps_likely)       {t_lik:8.3f} s   ratio {t_lik / t_ols:.2f}")
    print(f"LIKELY, detect_jumps=False      {t_nojump:8.3f} s   ratio {t_nojump / t_ols:.2f}")


if __name__ == "__main__":
    main()
