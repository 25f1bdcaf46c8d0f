"""numba kernel for likelihood (generalised least-squares) ramp fitting.

Private module behind :func:`webbcal.ramp_fitting.likely.fit_ramps_likely`;
see that function for the public contract and the references (Brandt 2024a,b).

Each integration ramp of one pixel is reduced to the differences of its usable
resultants divided by the differences of their mean read times. The
covariance of those differences is tri-diagonal (read noise of the shared
resultant and the Poisson noise accumulated inside it), so the generalised
least-squares slope, its variance, the diagonal and first off-diagonal of the
inverse covariance, and the chi-square improvement from leaving out one
difference (or two adjacent ones) all come from O(n) recursions. Everything is
float64 on one pixel at a time; :func:`fit_rows` is parallel over image rows.

Work arrays
-----------
``work`` has shape (_NWORK, ngroups) float64; the row names below index it.
Differences are numbered ``k = 0 .. nd - 1``; difference ``k`` runs from usable
resultant ``idx[k]`` to ``idx[k + 1]``; ``beta[k]`` couples differences ``k``
and ``k + 1``.
"""

import math

import numba
import numpy as np

from webbcal import dqflags
from webbcal.lib._insertion_kernel import insert_sorted
from webbcal.ramp_fitting._ols_kernel import store_pixel

__all__ = ["fit_rows", "solve_differences"]

_DNU = np.uint32(dqflags.DO_NOT_USE)
_SAT = np.uint32(dqflags.SATURATED)
_JUMP = np.uint32(dqflags.JUMP_DET)
_NO_GAIN = np.uint32(dqflags.NO_GAIN_VALUE)
_INVALID = np.uint32(dqflags.DO_NOT_USE | dqflags.SATURATED)
_NOT_DNU = np.uint32(~np.uint32(dqflags.DO_NOT_USE))
# A group is usable unless it carries a flag other than JUMP_DET and PERSISTENCE.
_UNUSABLE = np.uint32(0xFF & ~(dqflags.JUMP_DET | dqflags.PERSISTENCE))
_JUMP_U8 = np.uint8(dqflags.JUMP_DET)

_JIT = {"cache": True, "nogil": True, "error_model": "numpy"}

# rows of the work array
_D, _MASK, _AR, _AP, _BR, _BP, _AL, _BE, _PIV, _QIV, _U, _Z, _GD, _GO, _SCR = range(15)
_NWORK = 15

#: Result slots of one integration fit (``res`` argument of ``_fit_integration``).
_R_SLOPE, _R_VPUNIT, _R_VR, _R_C, _R_NJUMP = range(5)


@numba.njit(**_JIT)
def _geometry(y, gdq, ngroups, tbar, tau, nread, idx, work):
    """Differences, their covariance shapes and the DQ mask of one integration.

    Fills rows ``_D`` (DN/s), ``_MASK`` (1 = use), ``_AR``/``_BR`` (read-noise
    covariance per unit single-read variance) and ``_AP``/``_BP`` (Poisson
    covariance per unit rate / gain) and returns the number of differences.
    An upstream JUMP_DET on resultant ``g`` masks both differences that touch
    ``g``: the jump may lie inside a resultant of several reads, and a flag
    on a single read is as often an outlier read as a step (the upstream jump
    test cannot tell them apart), whose effect only dropping both removes.
    """
    m = 0
    for g in range(ngroups):
        if (np.uint32(gdq[g]) & _UNUSABLE) == 0 and math.isfinite(y[g]):
            idx[m] = g
            m += 1
    nd = m - 1
    for k in range(nd):
        a = idx[k]
        b = idx[k + 1]
        dt = tbar[b] - tbar[a]
        work[_D, k] = (y[b] - y[a]) / dt
        work[_AR, k] = (1.0 / nread[a] + 1.0 / nread[b]) / (dt * dt)
        work[_AP, k] = (tau[a] + tau[b] - 2.0 * tbar[a]) / (dt * dt)
        use = 1.0
        for g in range(a + 1, b + 1):
            if gdq[g] & _JUMP_U8:
                use = 0.0
        if gdq[a] & _JUMP_U8:
            use = 0.0
        work[_MASK, k] = use
        if k < nd - 1:
            c = idx[k + 2]
            dt2 = tbar[c] - tbar[b]
            work[_BR, k] = -1.0 / (nread[b] * dt * dt2)
            work[_BP, k] = (tbar[b] - tau[b]) / (dt * dt2)
    return nd


@numba.njit(**_JIT)
def solve_differences(nd, work, sig2, cg):
    """Generalised least-squares fit of a constant to the unmasked differences.

    The covariance is ``sig2 * R + cg * P`` (read-noise and Poisson shapes from
    :func:`_geometry`); masked differences are decoupled (unit variance, no
    covariance, zero design). Leaves the pivots and ``u = C^-1 m``,
    ``z = C^-1 (m d)`` in ``work`` and returns ``(B, Cc)`` = ``(m^T z, m^T u)``;
    the slope is ``B / Cc`` and its variance ``1 / Cc``. ``Cc`` is 0 when the
    covariance is not positive definite.
    """
    for k in range(nd):
        if work[_MASK, k] > 0.0:
            work[_AL, k] = sig2 * work[_AR, k] + cg * work[_AP, k]
        else:
            work[_AL, k] = 1.0
    for k in range(nd - 1):
        if work[_MASK, k] > 0.0 and work[_MASK, k + 1] > 0.0:
            work[_BE, k] = sig2 * work[_BR, k] + cg * work[_BP, k]
        else:
            work[_BE, k] = 0.0
    # LDL^T of the tri-diagonal matrix (Thomas algorithm), forward pass.
    piv = work[_AL, 0]
    if not piv > 0.0:
        return 0.0, 0.0
    work[_PIV, 0] = piv
    work[_U, 0] = work[_MASK, 0]
    work[_Z, 0] = work[_MASK, 0] * work[_D, 0]
    for k in range(1, nd):
        el = work[_BE, k - 1] / work[_PIV, k - 1]
        piv = work[_AL, k] - el * work[_BE, k - 1]
        if not piv > 0.0:
            return 0.0, 0.0
        work[_PIV, k] = piv
        work[_U, k] = work[_MASK, k] - el * work[_U, k - 1]
        work[_Z, k] = work[_MASK, k] * work[_D, k] - el * work[_Z, k - 1]
    # backward pass
    k = nd - 1
    work[_U, k] /= work[_PIV, k]
    work[_Z, k] /= work[_PIV, k]
    for k in range(nd - 2, -1, -1):
        work[_U, k] = (work[_U, k] - work[_BE, k] * work[_U, k + 1]) / work[_PIV, k]
        work[_Z, k] = (work[_Z, k] - work[_BE, k] * work[_Z, k + 1]) / work[_PIV, k]
    bb = 0.0
    cc = 0.0
    for k in range(nd):
        bb += work[_MASK, k] * work[_Z, k]
        cc += work[_MASK, k] * work[_U, k]
    if not cc > 0.0:
        return 0.0, 0.0
    return bb, cc


@numba.njit(**_JIT)
def _inverse_bands(nd, work):
    """Diagonal (``_GD``) and first off-diagonal (``_GO``) of the inverse covariance.

    Uses the forward pivots of :func:`solve_differences` and backward pivots
    (``_QIV``): ``(C^-1)_kk = 1 / (alpha_k - beta_{k-1}^2 / p_{k-1} -
    beta_k^2 / q_{k+1})`` and ``(C^-1)_{k,k+1} = -beta_k (C^-1)_{k+1,k+1} / p_k``.
    """
    work[_QIV, nd - 1] = work[_AL, nd - 1]
    for k in range(nd - 2, -1, -1):
        work[_QIV, k] = work[_AL, k] - work[_BE, k] ** 2 / work[_QIV, k + 1]
    for k in range(nd):
        s = work[_AL, k]
        if k > 0:
            s -= work[_BE, k - 1] ** 2 / work[_PIV, k - 1]
        if k < nd - 1:
            s -= work[_BE, k] ** 2 / work[_QIV, k + 1]
        work[_GD, k] = 1.0 / s
    for k in range(nd - 1):
        work[_GO, k] = -work[_BE, k] * work[_GD, k + 1] / work[_PIV, k]


@numba.njit(**_JIT)
def _best_omission(nd, nuse, work, bb, cc, two_ok, thr1, thr2):
    """The most significant jump candidate of a fitted ramp.

    Computes the chi-square improvement from a free offset in one difference
    (equivalently leaving it out) and in two adjacent differences (a jump
    inside a resultant of several reads), Brandt (2024b) sections 3.1-3.2.
    Returns ``(kind, k, rate)``: kind 0 (nothing above threshold), 1 (leave
    out difference ``k``) or 2 (leave out ``k`` and ``k + 1``), and the slope
    fitted without them.
    """
    _inverse_bands(nd, work)
    best1 = 0.0
    k1 = -1
    if nuse >= 3:
        for k in range(nd):
            if work[_MASK, k] == 0.0:
                continue
            uk = work[_U, k]
            det = cc * work[_GD, k] - uk * uk
            if det <= 0.0:
                continue
            num = cc * work[_Z, k] - uk * bb
            dchi = num * num / (cc * det)
            if dchi > best1:
                best1 = dchi
                k1 = k
    best2 = 0.0
    k2 = -1
    if nuse >= 4:
        for k in range(nd - 1):
            if work[_MASK, k] == 0.0 or work[_MASK, k + 1] == 0.0 or not two_ok[k]:
                continue
            u0 = work[_U, k]
            u1 = work[_U, k + 1]
            s00 = work[_GD, k] - u0 * u0 / cc
            s11 = work[_GD, k + 1] - u1 * u1 / cc
            s01 = work[_GO, k] - u0 * u1 / cc
            det = s00 * s11 - s01 * s01
            if det <= 0.0:
                continue
            v0 = work[_Z, k] - u0 * bb / cc
            v1 = work[_Z, k + 1] - u1 * bb / cc
            dchi = (s11 * v0 * v0 - 2.0 * s01 * v0 * v1 + s00 * v1 * v1) / det
            if dchi > best2:
                best2 = dchi
                k2 = k
    # Two omissions always improve chi-square more than one: compare each
    # with its own threshold (equal false-alarm probability).
    if k1 >= 0 and best1 > thr1 and best1 - thr1 > best2 - thr2:
        uk = work[_U, k1]
        det = cc * work[_GD, k1] - uk * uk
        jump = (cc * work[_Z, k1] - uk * bb) / det
        return 1, k1, (bb - uk * jump) / cc
    if k2 >= 0 and best2 > thr2:
        u0 = work[_U, k2]
        u1 = work[_U, k2 + 1]
        s00 = work[_GD, k2] - u0 * u0 / cc
        s11 = work[_GD, k2 + 1] - u1 * u1 / cc
        s01 = work[_GO, k2] - u0 * u1 / cc
        det = s00 * s11 - s01 * s01
        v0 = work[_Z, k2] - u0 * bb / cc
        v1 = work[_Z, k2 + 1] - u1 * bb / cc
        j0 = (s11 * v0 - s01 * v1) / det
        j1 = (s00 * v1 - s01 * v0) / det
        return 2, k2, (bb - u0 * j0 - u1 * j1) / cc
    return 0, -1, math.nan


@numba.njit(**_JIT)
def _median_difference(nd, work):
    """Median of the unmasked differences (insertion sort: ramps are short)."""
    n = 0
    for k in range(nd):
        if work[_MASK, k] == 0.0:
            continue
        v = work[_D, k]
        j = n
        while j > 0 and work[_SCR, j - 1] > v:
            work[_SCR, j] = work[_SCR, j - 1]
            j -= 1
        work[_SCR, j] = v
        n += 1
    if n == 0:
        return math.nan
    h = n // 2
    if n % 2:
        return work[_SCR, h]
    return 0.5 * (work[_SCR, h - 1] + work[_SCR, h])


@numba.njit(**_JIT)
def _variance_split(nd, work, sig2, gain, cc):
    """Read-noise variance and Poisson variance per unit rate of the GLS slope.

    The slope is ``sum_k w_k d_k`` with ``w = C^-1 m / Cc``; its variance
    ``w^T C w`` splits into the read-noise and Poisson parts of ``C``.
    """
    vr = 0.0
    vp = 0.0
    for k in range(nd):
        w = work[_U, k] / cc
        vr += w * w * work[_AR, k]
        vp += w * w * work[_AP, k]
        if k < nd - 1 and work[_MASK, k] > 0.0 and work[_MASK, k + 1] > 0.0:
            ww = 2.0 * w * work[_U, k + 1] / cc
            vr += ww * work[_BR, k]
            vp += ww * work[_BP, k]
    return vr * sig2, vp / gain


@numba.njit(**_JIT)
def _fit_integration(y, gdq, ngroups, geo, sig2, gain, dark, detect, thr, idx, work, two_ok, res):
    """Fit one integration ramp of one pixel; ORs found jumps into ``gdq``.

    Fills ``res`` (slope DN/s, Poisson variance per unit rate, read-noise
    variance, rate used in the covariance, jumps found) and returns the number
    of differences fitted (0: no slope).
    """
    tbar, tau, nread = geo[0], geo[1], geo[2]
    nd = _geometry(y, gdq, ngroups, tbar, tau, nread, idx, work)
    res[_R_NJUMP] = 0.0
    nuse = 0
    for k in range(nd):
        if work[_MASK, k] > 0.0:
            nuse += 1
    if nuse == 0:
        return 0
    for k in range(nd - 1):
        two_ok[k] = nread[idx[k + 1]] > 1
    guess = max(_median_difference(nd, work), 0.0) + dark
    bb, cc = solve_differences(nd, work, sig2, guess / gain)
    if cc == 0.0:
        return 0
    rate = bb / cc
    while detect:
        kind, k, new_rate = _best_omission(nd, nuse, work, bb, cc, two_ok, thr[0], thr[1])
        if kind == 0:
            break
        work[_MASK, k] = 0.0
        gdq[idx[k + 1]] |= _JUMP_U8
        nuse -= 1
        if kind == 2:
            # The jump is in one of the two differences (usually inside the
            # shared resultant): flag both resultants that end them.
            work[_MASK, k + 1] = 0.0
            gdq[idx[k + 2]] |= _JUMP_U8
            nuse -= 1
        res[_R_NJUMP] += 1.0
        rate = new_rate
        bb, cc = solve_differences(nd, work, sig2, guess / gain)
        if cc == 0.0:
            return 0
        rate = bb / cc
    # Final fit with the covariance evaluated at the measured rate.
    crate = max(rate, 0.0) + dark
    bb, cc = solve_differences(nd, work, sig2, crate / gain)
    if cc == 0.0:
        return 0
    vr, vpu = _variance_split(nd, work, sig2, gain, cc)
    res[_R_SLOPE] = bb / cc
    res[_R_VPUNIT] = vpu
    res[_R_VR] = vr
    res[_R_C] = crate
    return nuse


@numba.njit(**_JIT)
def _combine(nints, out_i, vpu, dark, scratch):
    """Combine integration rates into the exposure rate of one pixel.

    Each integration's Poisson variance is re-evaluated at the common rate
    (it is proportional to the rate), starting from the median of the
    integration rates, and the rates are averaged with inverse total-variance
    weights (two iterations). Returns (slope, var_poisson, var_rnoise).
    """
    n = 0
    for i in range(nints):
        s = out_i[i, 0]
        if math.isnan(s):
            continue
        n = insert_sorted(scratch, n, s)
    if n == 0:
        return math.nan, 0.0, 0.0
    h = n // 2
    rate = scratch[h] if n % 2 else 0.5 * (scratch[h - 1] + scratch[h])
    crate = sw = 0.0
    for _ in range(2):
        crate = max(rate, 0.0) + dark
        sw = swr = 0.0
        for i in range(nints):
            if math.isnan(out_i[i, 0]):
                continue
            w = 1.0 / (crate * vpu[i] + out_i[i, 3])
            sw += w
            swr += w * out_i[i, 0]
        rate = swr / sw
    vp = vr = 0.0
    for i in range(nints):
        if math.isnan(out_i[i, 0]):
            continue
        w = 1.0 / (crate * vpu[i] + out_i[i, 3]) / sw
        vp += w * w * crate * vpu[i]
        vr += w * w * out_i[i, 3]
    return rate, vp, vr


@numba.njit(**_JIT)
def _fit_pixel(data, gdq, r, c, pdq, gain, sig2, dark, geo, detect, thr, buf, out_i):
    """Fit every integration of one pixel and combine them.

    ``out_i[i]`` receives (slope, dq, var_poisson, var_rnoise, err); returns
    the rate products (slope, dq, var_poisson, var_rnoise, err).
    """
    nints, ngroups = data.shape[0], data.shape[1]
    y, idx, work, two_ok, res, vpu, scratch = buf
    if not (gain > 0.0):
        pdq |= _DNU | _NO_GAIN
    if not (sig2 > 0.0):
        pdq |= _DNU
    skip = (pdq & _INVALID) != 0
    n_dnu = 0
    rate_dq = pdq
    for i in range(nints):
        dq = pdq
        has_sat = False
        for g in range(ngroups):
            f = gdq[i, g, r, c]
            if f & _JUMP_U8:
                dq |= _JUMP
            if f & _SAT:
                has_sat = True
            y[g] = data[i, g, r, c]
        if has_sat:
            dq |= _SAT
        slope = math.nan
        vp = vr = 0.0
        vpu[i] = 0.0
        if not skip:
            nfit = _fit_integration(
                y, gdq[i, :, r, c], ngroups, geo, sig2, gain, dark, detect, thr,
                idx, work, two_ok, res,
            )  # fmt: skip
            if nfit > 0:
                slope = res[_R_SLOPE]
                vpu[i] = res[_R_VPUNIT]
                vp = res[_R_C] * res[_R_VPUNIT]
                vr = res[_R_VR]
                if res[_R_NJUMP] > 0.0:
                    dq |= _JUMP
        if math.isnan(slope):
            dq |= _DNU
            n_dnu += 1
        out_i[i, 0] = slope
        out_i[i, 1] = dq
        out_i[i, 2] = vp
        out_i[i, 3] = vr
        out_i[i, 4] = math.sqrt(vp + vr)
        rate_dq |= dq & _NOT_DNU
    if n_dnu == nints:
        rate_dq |= _DNU
    if nints == 1:
        return out_i[0, 0], rate_dq, out_i[0, 2], out_i[0, 3], out_i[0, 4]
    slope, vp, vr = _combine(nints, out_i, vpu, dark, scratch)
    return slope, rate_dq, vp, vr, math.sqrt(vp + vr)


@numba.njit(parallel=True, **_JIT)
def fit_rows(
    data, gdq, pixeldq, gain, sig2, dark, geo, detect, thr, rate_f, rate_dq, ints_f, ints_dq
):
    """Fit every pixel of the ramp cube; parallel over rows.

    Parameters
    ----------
    data : ndarray, shape (nints, ngroups, ny, nx), float32, DN
    gdq : ndarray, shape (nints, ngroups, ny, nx), uint8
        Group DQ; JUMP_DET is OR-ed in where the likelihood test finds a jump.
    pixeldq : ndarray, shape (ny, nx), uint32
    gain : ndarray, shape (ny, nx), float32, e-/DN
    sig2 : ndarray, shape (ny, nx), float64, DN**2
        Variance of the read noise of one read.
    dark : ndarray, shape (ny, nx), float32, DN/s
        Added to the rate in the Poisson covariance.
    geo : ndarray, shape (3, ngroups), float64
        Mean read time (s), variance-weighted read time tau (s) and number of
        reads of each resultant.
    detect : bool
        Run the likelihood jump test.
    thr : ndarray, shape (2,), float64
        Chi-square thresholds for one and two omitted differences.
    rate_f, rate_dq, ints_f, ints_dq : ndarray
        Outputs: (4, ny, nx) float32 slope/var_poisson/var_rnoise/err,
        (ny, nx) uint32, (4, nints, ny, nx) float32, (nints, ny, nx) uint32.
    """
    nints, ngroups, ny, nx = data.shape
    for r in numba.prange(ny):
        buf = (
            np.empty(ngroups),
            np.empty(ngroups, dtype=np.int64),
            np.zeros((_NWORK, ngroups)),
            np.zeros(ngroups, dtype=np.bool_),
            np.zeros(5),
            np.zeros(nints),
            np.empty(nints),
        )
        out_i = np.empty((nints, 5))
        for c in range(nx):
            slope, dq, vp, vr, err = _fit_pixel(
                data, gdq, r, c, np.uint32(pixeldq[r, c]), float(gain[r, c]),
                float(sig2[r, c]), float(dark[r, c]), geo, detect, thr, buf, out_i,
            )  # fmt: skip
            store_pixel(rate_f, rate_dq, ints_f, ints_dq, r, c, slope, dq, vp, vr, err, out_i)
