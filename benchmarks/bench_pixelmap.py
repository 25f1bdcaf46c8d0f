"""Benchmark pixel-to-pixel maps on a 2048 x 2048 NIRCam detector with its real distortion.

The input WCS is NRCA1_FULL (or ``--aperture``) with the degree-5 SIAF distortion
polynomials from the PRD's NIRCam SIAF XML, a pointing and a velocity-aberration
scale. Two output grids:

* ``tan``: a resample-like TAN grid (0.02"/pix, rotated by 20 degrees);
* ``blot``: another exposure of the same detector, dithered by 5" and rolled by 0.05 deg
  (the output inverse then runs the SIAF Idl2Sci polynomials too).

For each, it times the exact map (every pixel through both WCSs), the interpolated map at
several tolerances (with its stated bound and the true maximum error against the exact
map), and, when ``stcal`` is installed, the official ``calc_pixmap`` with ``stepsize=1``
(exact) and ``stepsize=10, order=3`` (interpolated, no error bound).

Usage::

    python benchmarks/bench_pixelmap.py [--aperture NRCA1_FULL] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from astropy.wcs import WCS

from webbcal.wcs import (
    Pointing,
    distortion_from_siaf,
    exact_pixel_map,
    imaging_wcs,
    pixel_map,
    read_siaf_aperture,
)

SIAF = Path("/work/shared/data/real/pysiaf-siafxml/NIRCam_SIAF.xml")


def _timed(fn, repeat):
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def _inputs(aperture: str, siaf: Path):
    ap = read_siaf_aperture(siaf, aperture)
    p = Pointing(ap.v2_ref, ap.v3_ref, 37.25, 150.1, 2.2, va_scale=1.00004)
    w_in = imaging_wcs(distortion_from_siaf(ap), p, shape=(ap.ysci_size, ap.xsci_size))
    ra, dec = w_in((ap.xsci_size - 1) / 2, (ap.ysci_size - 1) / 2)
    tan = WCS(naxis=2)
    tan.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    tan.wcs.crval = [ra, dec]
    tan.wcs.crpix = [1600.0, 1500.0]
    th, s = np.radians(20.0), 0.02 / 3600
    tan.wcs.cd = s * np.array([[-np.cos(th), np.sin(th)], [np.sin(th), np.cos(th)]])
    p2 = Pointing(ap.v2_ref, ap.v3_ref, 37.30, 150.1 + 4 / 3600, 2.2 - 3 / 3600, va_scale=0.99996)
    blot = imaging_wcs(distortion_from_siaf(ap), p2, shape=(ap.ysci_size, ap.xsci_size))
    return w_in, {"tan": tan, "blot": blot}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--aperture", default="NRCA1_FULL")
    parser.add_argument("--siaf", type=Path, default=SIAF)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    w_in, outputs = _inputs(args.aperture, args.siaf)
    try:
        from stcal.resample.utils import calc_pixmap
    except ImportError:
        calc_pixmap = None

    print(f"input: {args.aperture}, array {w_in.array_shape}, repeat {args.repeat} (median)")
    header = f"{'output':6} {'method':30} {'time s':>8} {'bound pix':>10} {'true max pix':>13}"
    print(header)
    print("-" * len(header))
    for name, w_out in outputs.items():
        t_exact, exact = _timed(lambda w=w_out: exact_pixel_map(w_in, w), args.repeat)
        print(f"{name:6} {'exact (webbcal)':30} {t_exact:8.3f} {0.0:10.2e} {0.0:13.2e}")
        for tol in (1e-3, 1e-4, 1e-6):
            t, pm = _timed(lambda w=w_out, t=tol: pixel_map(w_in, w, tolerance=t), args.repeat)
            err = np.nanmax(np.hypot(pm.x - exact.x, pm.y - exact.y))
            label = f"grid tol={tol:g} (step {pm.step})"
            print(f"{name:6} {label:30} {t:8.3f} {pm.max_error:10.2e} {err:13.2e}")
        if calc_pixmap is not None:
            t, ref = _timed(lambda w=w_out: calc_pixmap(w_in, w), args.repeat)
            err = np.nanmax(np.hypot(ref[..., 0] - exact.x, ref[..., 1] - exact.y))
            print(f"{name:6} {'stcal calc_pixmap step 1':30} {t:8.3f} {'-':>10} {err:13.2e}")
            t, ref = _timed(lambda w=w_out: calc_pixmap(w_in, w, stepsize=10, order=3), args.repeat)
            err = np.nanmax(np.hypot(ref[..., 0] - exact.x, ref[..., 1] - exact.y))
            print(f"{name:6} {'stcal calc_pixmap step 10 o3':30} {t:8.3f} {'-':>10} {err:13.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
