"""Slow, per-pixel reference ramp fit written from the documented formulas (tests only).

Every pixel and integration is fitted on its own in plain Python: segments are
found from the flags, the weighted least-squares slope comes from
``numpy.polyfit`` and the variances from the formulas of the JWST ramp_fitting
documentation (Fixsen et al. 2000 weights). It covers the standard cases: jumps,
saturation, DO_NOT_USE, PERSISTENCE, bad gain, one-/two-group segments and
``suppress_one_group`` (no ZEROFRAME, no CHARGELOSS, zero dark current).
"""

import math

import numpy as np

from webbcal import dqflags

DNU = dqflags.DO_NOT_USE
SAT = dqflags.SATURATED
JUMP = dqflags.JUMP_DET
PERS = dqflags.PERSISTENCE


def weight_power(snr):
    """Fixsen et al. (2000) exponent for a segment signal-to-noise ratio."""
    for limit, power in ((5, 0.0), (10, 0.4), (20, 1.0), (50, 3.0), (100, 6.0)):
        if snr < limit:
            return power
    return 10.0


def segments(flags):
    """Half-open [start, end) runs of usable groups, as the docs define them."""
    usable = [(f & ~PERS) == 0 for f in flags]
    runs = []
    g = 0
    while g < len(flags):
        if not usable[g]:
            g += 1
            continue
        start = g
        while g < len(flags) and usable[g]:
            g += 1
        # The group holding a jump is the first read of the following segment.
        if start > 0 and (flags[start - 1] & ~PERS) == JUMP:
            start -= 1
        runs.append((start, g))
    long_runs = [r for r in runs if r[1] - r[0] > 1]
    return long_runs if long_runs else runs[:1]


def median_rate(values, flags, tg, t_one, lone_first):
    """Mean over integrations of the median first difference rate (DN/s)."""
    nints, ngroups = values.shape
    if ngroups == 1:
        return float(np.mean(values[:, 0] / t_one))
    rates = []
    for i in range(nints):
        if lone_first[i]:
            rates.append(values[i, 0] / t_one)
            continue
        r = np.where(flags[i] & DNU, np.nan, values[i] / tg)
        diffs = np.diff(r)
        diffs[(flags[i, 1:] & JUMP) != 0] = np.nan
        m = r[0] if np.all(np.isnan(diffs)) else np.nanmedian(diffs)
        rates.append(0.0 if np.isnan(m) else m)
    return float(np.mean(rates))


def fit_segment(y, start, end, mrate, rn, gain, tg, t1):
    """Slope, Poisson variance and read-noise variance of one segment."""
    n = end - start
    mr = max(mrate, 0.0)
    if n == 1:
        return y[start] / t1, mr / (t1 * gain), 2.0 * rn**2 / (t1**2 * gain**2)
    if n == 2:
        slope = (y[start + 1] - y[start]) / tg
        return slope, mr / (tg * gain), 2.0 * rn**2 / (tg**2 * gain**2)
    signal = y[end - 1] - y[start]
    noise2 = rn**2 + signal * gain
    snr = max(signal * gain / math.sqrt(noise2), 0.0) if noise2 > 0 else 0.0
    mid = (n - 1) / 2.0
    k = np.arange(n)
    w = np.abs((k - mid) / mid) ** weight_power(snr)
    slope = np.polyfit(k + start, y[start:end], 1, w=np.sqrt(w))[0] / tg
    var_p = mr / (tg * gain * (n - 1))
    var_r = 12.0 * rn**2 / (tg**2 * gain**2 * (n**3 - n))
    return slope, var_p, var_r


def reference_fit_pixel(
    values, flags, pdq, readnoise, gain, *, frame_time, group_time, nframes, suppress_one_group
):
    """Fit one pixel: ``values``/``flags`` shape (nints, ngroups). Returns (rate, ints)."""
    nints, ngroups = values.shape
    values = values.astype(np.float64).copy()
    flags = flags.astype(np.int64).copy()
    tg = group_time
    t_one = (nframes + 1) * float(np.float32(frame_time)) / 2.0
    suppress = suppress_one_group and ngroups > 1
    if not gain > 0:
        pdq |= DNU | dqflags.NO_GAIN_VALUE
    rn = readnoise * gain / math.sqrt(2.0 * nframes)
    if suppress:
        for i in range(nints):
            if np.sum((flags[i] & ~PERS) == 0) == 1:
                flags[i] |= DNU
    values[(flags & SAT) != 0] = np.nan
    lone_first = [
        not suppress and np.sum(flags[i] == 0) == 1 and flags[i, 0] == 0 for i in range(nints)
    ]
    mrate = median_rate(values, flags, tg, t_one, lone_first)

    ints = []
    rate_sums = np.zeros(3)  # 1/var_p, 1/var_r, slope/var_r
    rate_dq = pdq
    n_dnu = n_sat = 0
    for i in range(nints):
        dq = pdq
        f = flags[i]
        if np.any(f & JUMP):
            dq |= JUMP
        if np.any(f & PERS):
            dq |= PERS
        first_sat = bool(f[0] & SAT)
        if first_sat:
            dq |= DNU | SAT
        elif np.all(f & (DNU | SAT)):
            dq |= DNU
        invalid = bool(dq & (DNU | SAT))
        t1 = t_one if lone_first[i] else tg
        fits = (
            []
            if invalid
            else [fit_segment(values[i], s, e, mrate, rn, gain, tg, t1) for s, e in segments(f)]
        )
        slope = var_p = var_r = err = 0.0
        if fits:
            inv_p = sum(1 / vp for _, vp, _ in fits if vp > 0)
            inv_r = sum(1 / vr for _, _, vr in fits)
            num = sum(s / vr for s, _, vr in fits)
            var_p = 1 / inv_p if inv_p > 0 else 0.0
            var_r = 1 / inv_r
            slope = num * var_r
            err = math.sqrt(1 / sum(1 / (vp + vr) for _, vp, vr in fits))
            rate_sums += (inv_p, inv_r, num)
        if invalid:
            slope, var_p, var_r, err = math.nan, 0.0, 0.0, 0.0
        n_dnu += bool(dq & DNU)
        n_sat += bool(dq & SAT)
        if np.any(f & SAT):
            dq |= SAT
        ints.append((slope, dq, var_p, var_r, err))
        rate_dq |= dq & (JUMP | PERS | SAT)

    if n_dnu == nints:
        rate_dq |= DNU
    var_p = 1 / rate_sums[0] if rate_sums[0] > 0 else 0.0
    var_r = 1 / rate_sums[1] if rate_sums[1] > 0 else 0.0
    rate = (rate_sums[2] * var_r, rate_dq, var_p, var_r, math.sqrt(var_p + var_r))
    if (pdq & (DNU | SAT)) or n_dnu == nints or n_sat == nints:
        rate = (math.nan, rate_dq, 0.0, 0.0, 0.0)
    return rate, ints


def reference_fit(data, groupdq, pixeldq, readnoise, gain, **kwargs):
    """Apply :func:`reference_fit_pixel` to every pixel of a small cube.

    Returns a dict with the same names as ``RampFitResult`` fields.
    """
    nints, _, ny, nx = data.shape
    names = ["slope", "dq", "var_poisson", "var_rnoise", "err"]
    out = {n: np.zeros((ny, nx)) for n in names}
    out.update({n + "_ints": np.zeros((nints, ny, nx)) for n in names})
    for r in range(ny):
        for c in range(nx):
            rate, ints = reference_fit_pixel(
                data[:, :, r, c],
                groupdq[:, :, r, c],
                int(pixeldq[r, c]),
                float(readnoise[r, c]),
                float(gain[r, c]),
                **kwargs,
            )
            for n, v in zip(names, rate):
                out[n][r, c] = v
            for i, vals in enumerate(ints):
                for n, v in zip(names, vals):
                    out[n + "_ints"][i, r, c] = v
    return out
