"""Slow references and simulations for the likelihood ramp fit tests.

``explicit_fit`` solves the generalised least-squares problem with the full
covariance matrix of the resultants, built read by read and inverted with
``numpy.linalg``: it knows nothing of differences or tri-diagonal algebra.
"""

import numpy as np

from webbcal import dqflags

#: Read patterns (1-based frame numbers per resultant) used across the tests.
PATTERNS = {
    "rapid10": [[g] for g in range(1, 11)],
    "even_n4_gap2_6": [list(range(6 * g + 1, 6 * g + 5)) for g in range(6)],
    # uneven: single reads first, then longer and longer averages (Roman-like)
    "uneven_log7": [[1], [2], [3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16, 17, 18],
                    [30]],
    "uneven_4": [[1], [2, 3], [4, 5, 6, 7, 8, 9, 10, 11], [12]],
    "uneven_12": [[1], [2], [3], [5, 6], [8, 9, 10], [12], [14, 15, 16, 17], [20], [21],
                  [25, 26, 27, 28, 29, 30], [35], [36, 37]],
}  # fmt: skip


def pattern_times(pattern, frame_time):
    """Read times (s) of each resultant."""
    return [np.asarray(p, dtype=np.float64) * frame_time for p in pattern]


def resultant_covariance(times, sig2, crate_over_gain):
    """Read-noise and Poisson covariance matrices of the resultants (DN**2).

    ``Cov(R_i, R_j) = sig2 delta_ij / N_i + (rate / gain) mean_{a in i, b in j} min(t_a, t_b)``.
    """
    n = len(times)
    cr = np.zeros((n, n))
    cp = np.zeros((n, n))
    for i in range(n):
        cr[i, i] = sig2 / times[i].size
        for j in range(n):
            cp[i, j] = np.minimum.outer(times[i], times[j]).mean() * crate_over_gain
    return cr, cp


def gls(times, values, use, masked_diffs, sig2, gain, crate):
    """Explicit GLS slope of resultants ``values[use]`` with free jump offsets.

    ``masked_diffs`` lists positions ``k`` (in the usable sequence) whose
    difference ``k -> k + 1`` gets a free offset (a step column). Returns
    (slope, var_poisson, var_rnoise, chisq).
    """
    idx = np.flatnonzero(use)
    t = [times[i] for i in idx]
    tbar = np.array([x.mean() for x in t])
    cr, cp = resultant_covariance(t, sig2, crate / gain)
    cov = cr + cp
    cols = [np.ones(idx.size), tbar]
    for k in masked_diffs:
        cols.append((np.arange(idx.size) > k).astype(float))
    x = np.column_stack(cols)
    cinv = np.linalg.inv(cov)
    fisher = x.T @ cinv @ x
    weights = np.linalg.solve(fisher, x.T @ cinv)[1]
    y = np.asarray(values, dtype=np.float64)[idx]
    resid = y - x @ np.linalg.solve(fisher, x.T @ cinv @ y)
    return weights @ y, weights @ cp @ weights, weights @ cr @ weights, resid @ cinv @ resid


def explicit_fit(times, values, gdq, sig2, gain, dark=0.0, thresholds=None):
    """The documented two-pass likelihood fit of one ramp, by brute force.

    Usable resultants have no flag other than JUMP_DET/PERSISTENCE; a JUMP_DET
    resultant frees both differences that touch it. With ``thresholds`` = (one, two), jumps are
    searched by refitting with every candidate offset (one difference, or two
    adjacent ones around a multi-read resultant) and keeping the best one
    above threshold, repeatedly. Returns (slope, var_poisson, var_rnoise,
    jump resultant indices).
    """
    ignore = dqflags.JUMP_DET | dqflags.PERSISTENCE
    use = (np.asarray(gdq, dtype=np.int64) & (0xFF & ~ignore)) == 0
    idx = np.flatnonzero(use)
    tbar = np.array([times[i].mean() for i in idx])
    diffs = np.diff(np.asarray(values, dtype=np.float64)[idx]) / np.diff(tbar)
    masked = []
    for k in range(idx.size - 1):
        a, b = idx[k], idx[k + 1]
        jumped = any(gdq[g] & dqflags.JUMP_DET for g in range(a + 1, b + 1))
        if jumped or gdq[a] & dqflags.JUMP_DET:
            masked.append(k)
    free = np.delete(diffs, masked)
    guess = max(np.median(free), 0.0) + dark
    rate, _, _, chisq = gls(times, values, use, masked, sig2, gain, guess)
    jumps = []
    while thresholds is not None:
        nfree = idx.size - 1 - len(masked)
        best = [(0.0, None), (0.0, None)]
        for k in range(idx.size - 1):
            if k in masked:
                continue
            if nfree >= 3:
                d = chisq - gls(times, values, use, masked + [k], sig2, gain, guess)[3]
                best[0] = max(best[0], (d, k), key=lambda b: b[0])
            if nfree >= 4 and k + 1 < idx.size - 1 and k + 1 not in masked:
                if times[idx[k + 1]].size > 1:
                    d = chisq - gls(times, values, use, masked + [k, k + 1], sig2, gain, guess)[3]
                    best[1] = max(best[1], (d, k), key=lambda b: b[0])
        (d1, k1), (d2, k2) = best
        t1, t2 = thresholds
        if k1 is not None and d1 > t1 and d1 - t1 > d2 - t2:
            masked.append(k1)
        elif k2 is not None and d2 > t2:
            masked.extend([k2, k2 + 1])
            jumps.append(int(idx[k2 + 2]))
            k1 = k2
        else:
            break
        jumps.append(int(idx[k1 + 1]))
        rate, _, _, chisq = gls(times, values, use, masked, sig2, gain, guess)
    slope, vp, vr, _ = gls(times, values, use, masked, sig2, gain, max(rate, 0.0) + dark)
    return slope, vp, vr, sorted(set(jumps))


def simulate(
    rng, rate, pattern, *, frame_time, readnoise, gain, nints=1, bias=1000.0, cr_frame=None,
    cr_amp=None,
):  # fmt: skip
    """Frame-by-frame ramps: Poisson charge, read noise on every read, averaged per resultant.

    Parameters
    ----------
    rate : ndarray, shape (ny, nx), DN/s
    readnoise : float, DN
        CDS read noise (one read has ``readnoise / sqrt(2)``).
    cr_frame, cr_amp : ndarray, shape (ny, nx), optional
        A cosmic ray of ``cr_amp`` DN arriving just before frame ``cr_frame``
        (1-based) of every integration.

    Returns
    -------
    ndarray, shape (nints, nresultants, ny, nx), float32, DN
    """
    ny, nx = rate.shape
    last = max(max(p) for p in pattern)
    frame_of = {f: g for g, p in enumerate(pattern) for f in p}
    e_per_frame = np.clip(rate * gain * frame_time, 0, None)
    data = np.zeros((nints, len(pattern), ny, nx))
    for i in range(nints):
        charge = np.zeros((ny, nx))
        for f in range(1, last + 1):
            charge += rng.poisson(e_per_frame)
            if cr_frame is not None:
                charge += np.where(cr_frame == f, cr_amp * gain, 0.0)
            if f in frame_of:
                g = frame_of[f]
                read = charge / gain + rng.normal(0.0, readnoise / np.sqrt(2.0), (ny, nx))
                data[i, g] += read / len(pattern[g])
    return (data + bias).astype(np.float32)


def robust_std(x):
    """1.4826 times the median absolute deviation."""
    x = np.asarray(x, dtype=np.float64)
    x = x[np.isfinite(x)]
    return 1.4826 * np.median(np.abs(x - np.median(x)))


def ols_on_mean_times(data, pattern, frame_time):
    """Unweighted least-squares slope against resultant mean times (DN/s), per pixel."""
    tbar = np.array([np.mean(p) for p in pattern]) * frame_time
    tc = tbar - tbar.mean()
    y = data.astype(np.float64)
    return np.tensordot(tc, y - y.mean(axis=1, keepdims=True), axes=([0], [1]))[0] / (tc @ tc)


def difference_sigma(pattern, frame_time, a, b, readnoise, gain, rate):
    """Standard deviation (DN) of resultant ``b`` minus resultant ``a`` (``a < b``)."""
    t = pattern_times(pattern, frame_time)
    cr, cp = resultant_covariance([t[a], t[b]], readnoise**2 / 2, 1.0)
    var_r = cr[0, 0] + cr[1, 1]
    var_p = (cp[0, 0] + cp[1, 1] - 2 * cp[0, 1]) * np.asarray(rate) / gain
    return np.sqrt(var_r + var_p)
