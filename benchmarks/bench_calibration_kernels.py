"""Time the stage-1 kernels before jump: former numpy versions against the compiled ones.

Usage::

    python benchmarks/bench_calibration_kernels.py [--case 2 3] [--repeat 5] [--nints3 500]

Builds synthetic blocks shaped like the streaming pipeline's blocks:

- case 2: a 2048 x 2048 full frame, 4 integrations x 20 groups, blocks of 128 rows,
  i.e. ``(4, 20, 128, 2048)``;
- case 3: a 2048 x 64 stripe, 500 integrations x 5 groups, blocks of 13 rows,
  i.e. ``(500, 5, 13, 2048)``.

For each kernel it runs the former implementation ("before", numpy, or for
linearity the former per-pixel numba loop) and the current one ("after")
alternately, ``--repeat`` times each, checks that both give the same bits, and
prints the best time of each in nanoseconds per ramp sample (nints * ngroups *
ny * nx). The machine may be shared: compare the two columns of one run, and
expect noise between runs. ``--threads`` sets numba's thread count.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numba
import numpy as np

from webbcal.dark_current.subtract import average_dark_frames, subtract_dark
from webbcal.dq_init.init import initialize_dq
from webbcal.dqflags import DO_NOT_USE, SATURATED
from webbcal.ipc.kernel import _apply_ipc_numpy, apply_ipc, reference_border
from webbcal.lib.rawio import RawRamp
from webbcal.lib.subarray import SubarrayGeometry
from webbcal.linearity.correct import correct_linearity, prepare_coefficients
from webbcal.refpix.nir import RefPixTerms, apply_refpix_terms
from webbcal.saturation import flagging
from webbcal.saturation.flagging import flag_saturation, saturation_read_pattern
from webbcal.superbias.subtract import subtract_superbias

CASES = {"2": (4, 20, 128, 2048), "3": (500, 5, 13, 2048)}


# ----------------------------------------------------------------------------- former kernels
def ipc_before(data, kernel, geometry):
    """Plane-by-plane numpy deconvolution (the former ``apply_ipc``)."""
    return _apply_ipc_numpy(data, kernel.astype(np.float32), reference_border(geometry))


def saturation_before(*args, **kwargs):
    """The whole-plane numpy passes (still the path for non-float32 inputs)."""
    applies = flagging._compiled_applies
    flagging._compiled_applies = lambda *a: False
    try:
        return flag_saturation(*args, **kwargs)
    finally:
        flagging._compiled_applies = applies


@numba.njit(parallel=True, cache=True, nogil=True)
def _polynomial_per_pixel(data, groupdq, c, out):  # pragma: no cover - compiled
    """The former linearity loop: scalar Horner per pixel, parallel over (integration, row)."""
    nints, ngroups, ny, nx = data.shape
    ncoeffs = c.shape[0]
    for iy in numba.prange(nints * ny):
        i = iy // ny
        y = iy % ny
        for g in range(ngroups):
            for x in range(nx):
                d = data[i, g, y, x]
                if groupdq[i, g, y, x] & SATURATED:
                    out[i, g, y, x] = d
                    continue
                r = c[ncoeffs - 1, y, x] * d
                for k in range(ncoeffs - 2, 0, -1):
                    r = r + c[k, y, x]
                    r = r * d
                out[i, g, y, x] = r + c[0, y, x]


def linearity_before(data, groupdq, pixeldq, coeffs, lin_dq, zeroframe):
    c, new_dq = prepare_coefficients(coeffs, lin_dq, pixeldq)
    out = np.empty(data.shape, dtype=np.float32)
    _polynomial_per_pixel(data, groupdq, c, out)
    zf = np.empty_like(zeroframe)
    for i in range(zeroframe.shape[0]):
        z = zeroframe[i]
        r = c[-1] * z
        for k in range(c.shape[0] - 2, 0, -1):
            r += c[k]
            r *= z
        r += c[0]
        zf[i] = np.where(z == 0.0, 0.0, r)
    return out, new_dq, zf


def raw_before(raw, integration, rows):
    """The former read: one bytearray per group, then numpy byte swap, flip and cast."""
    nints, ngroups, ny, nx = raw.shape
    r0, r1, _ = rows.indices(ny)
    out = np.empty((ngroups, r1 - r0, nx), dtype=np.float32)
    with open(raw.path, "rb", buffering=0) as fh:
        for g in range(ngroups):
            start = raw.offset + ((integration * ngroups + g) * ny + r0) * nx * 2
            stored = raw._read_at(fh, start, (r1 - r0) * nx)
            unsigned = stored.view(">u2").astype(np.uint16)
            unsigned ^= np.uint16(0x8000)
            out[g] = unsigned.astype(np.float32).reshape(r1 - r0, nx)
    return out


def refpix_before(block, terms):
    out = np.array(block, dtype=np.float32, copy=True)
    out -= terms.first[:, None, :]
    out -= terms.second[:, :, None]
    return out


def superbias_before(data, pixeldq, bias, bias_dq, zeroframe):
    b = np.nan_to_num(bias.astype(np.float32), nan=0.0)
    out = (data - b[None, None]).astype(np.float32, copy=False)
    zf = np.where(zeroframe == 0.0, 0.0, zeroframe - b[None]).astype(np.float32)
    return out, pixeldq | bias_dq.astype(np.uint32), zf


def dark_before(data, pixeldq, dark, dark_dq):
    avg = np.nan_to_num(dark.astype(np.float32), nan=0.0)
    return (data - avg[None]).astype(np.float32, copy=False), pixeldq | dark_dq


def dark_after(data, pixeldq, dark, dark_dq):
    avg = average_dark_frames(dark, ngroups=dark.shape[0], nframes=1, groupgap=0)
    return subtract_dark(data, pixeldq, avg, dark_dq)


def dq_init_before(pixeldq, groupdq, mask):
    return pixeldq | mask, groupdq | (mask & DO_NOT_USE).astype(np.uint8)[None, None]


# ----------------------------------------------------------------------------- inputs
def make_block(shape, seed=0):
    """A ramp block with realistic levels, 0.5 % saturating pixels and some DQ flags."""
    rng = np.random.default_rng(seed)
    nints, ngroups, ny, nx = shape
    bias = rng.uniform(9000, 14000, (ny, nx)).astype(np.float32)
    rate = rng.exponential(100, (ny, nx)).astype(np.float32)
    rate[rng.random((ny, nx)) < 0.005] = 20000.0
    ramp = np.arange(1, ngroups + 1, dtype=np.float32)[:, None, None] * rate
    data = np.empty(shape, np.float32)
    data[:] = bias + ramp
    data[:, :, :, :4] = bias[:, :4]  # reference columns
    gdq = np.zeros(shape, np.uint8)
    gdq[:, :, 7, 100:140] = SATURATED
    return data, gdq, bias, rng


def _best(func, repeat):
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - start)
    return best, result


def _same(a, b):
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind == "f":
        return np.array_equal(a, b, equal_nan=True) and np.array_equal(
            np.signbit(a[~np.isnan(a)]), np.signbit(b[~np.isnan(b)])
        )
    return np.array_equal(a, b)


def _flatten(result):
    if isinstance(result, flagging.SaturationResult):
        return [result.groupdq, result.pixeldq, result.zeroframe]
    return list(result) if isinstance(result, tuple) else [result]


def bench_case(name, shape, repeat):
    data, gdq, bias, rng = make_block(shape)
    nints, ngroups, ny, nx = shape
    geom = SubarrayGeometry(1, 200, nx, ny)
    nsamples = data.size
    pdq = np.zeros((ny, nx), np.uint32)
    zf = data[:, 0].copy()
    kernel = rng.normal(0, 0.01, (3, 3)).astype(np.float32)
    kernel[1, 1] += 1.0
    thresh = np.full((ny, nx), 60000.0, np.float32)
    sat_dq = np.zeros((ny, nx), np.uint32)
    pattern = saturation_read_pattern(ngroups, 1)
    coeffs = np.zeros((5, ny, nx), np.float32)
    coeffs[1], coeffs[2], coeffs[3], coeffs[4] = 1.0, 1e-6, 1e-11, 1e-16
    lin_dq = np.zeros((ny, nx), np.uint32)
    dark = rng.normal(0, 1, (ngroups, ny, nx)).astype(np.float32)
    terms = RefPixTerms(
        "COMPLETE", "", rng.normal(0, 5, (ngroups, nx)), -1, rng.normal(0, 1, (ngroups, ny)), -2
    )
    mask = (rng.random((ny, nx)) < 0.01).astype(np.uint32) * np.uint32(DO_NOT_USE | 1024)
    sat_kw = {"n_pix_grow_sat": 1, "zeroframe": zf, "read_pattern": pattern, "bias": bias}

    fd, path = tempfile.mkstemp(suffix=".raw")
    os.close(fd)
    stored = (data.astype(np.int32) - 32768).astype(">i2")
    stored.tofile(path)
    del stored
    raw = RawRamp(path, shape, 0, np.dtype(">i2"), 32768.0, 1.0)
    rows = slice(0, ny)

    def read_all_after():
        out = np.empty(shape, np.float32)
        for i in range(nints):
            raw.read(i, rows, out=out[i])
        return out

    def read_all_before():
        return np.stack([raw_before(raw, i, rows) for i in range(nints)])

    # As the streaming executor does: each integration's result replaces its slot in the block.
    out_after, out_before = np.empty_like(data), np.empty_like(data)

    def refpix_after_all():
        for i in range(nints):
            out_after[i] = apply_refpix_terms(data[i], terms, slice(None), rows)
        return out_after

    def refpix_before_all():
        for i in range(nints):
            out_before[i] = refpix_before(data[i], terms)
        return out_before

    # fmt: off
    kernels = [
        ("raw read+convert", read_all_before, read_all_after),
        ("dq_init", lambda: dq_init_before(pdq, gdq, mask),
         lambda: initialize_dq(pdq, gdq, mask)),
        ("saturation", lambda: saturation_before(data, gdq, pdq, thresh, sat_dq, **sat_kw),
         lambda: flag_saturation(data, gdq, pdq, thresh, sat_dq, **sat_kw)),
        ("ipc", lambda: ipc_before(data, kernel, geom),
         lambda: apply_ipc(data, kernel, geometry=geom)),
        ("superbias", lambda: superbias_before(data, pdq, bias, lin_dq, zf),
         lambda: subtract_superbias(data, pdq, bias, lin_dq, zeroframe=zf)),
        ("refpix apply", refpix_before_all, refpix_after_all),
        ("linearity", lambda: linearity_before(data, gdq, pdq, coeffs, lin_dq, zf),
         lambda: correct_linearity(data, gdq, pdq, coeffs, lin_dq, zeroframe=zf)),
        ("dark_current", lambda: dark_before(data, pdq, dark, lin_dq),
         lambda: dark_after(data, pdq, dark, lin_dq)),
    ]
    # fmt: on
    print(
        f"\ncase {name}: block {shape}, {nsamples / 1e6:.1f} M samples, "
        f"{numba.get_num_threads()} numba threads"
    )  # fmt: skip
    print(f"{'kernel':<18} {'before ns/sample':>17} {'after ns/sample':>16} {'speed-up':>9}  same")
    try:
        for label, before, after in kernels:
            before(), after()  # compile / warm caches
            t_before = t_after = np.inf
            for _ in range(repeat):  # alternate, so both see the same machine load
                tb, rb = _best(before, 1)
                ta, ra = _best(after, 1)
                t_before, t_after = min(t_before, tb), min(t_after, ta)
            same = all(_same(a, b) for a, b in zip(_flatten(ra), _flatten(rb), strict=True))
            print(f"{label:<18} {t_before / nsamples * 1e9:17.2f} {t_after / nsamples * 1e9:16.2f} "
                  f"{t_before / t_after:8.1f}x  {'yes' if same else 'NO'}")  # fmt: skip
    finally:
        os.remove(path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", nargs="+", choices=sorted(CASES), default=sorted(CASES))
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--nints3", type=int, default=500, help="integrations of case 3")
    parser.add_argument("--threads", type=int, default=None, help="numba threads")
    args = parser.parse_args(argv)
    if args.threads:
        numba.set_num_threads(args.threads)
    for name in args.case:
        shape = CASES[name]
        if name == "3":
            shape = (args.nints3,) + shape[1:]
        bench_case(name, shape, args.repeat)


if __name__ == "__main__":
    main()
