"""Joint fit of MIRI electromagnetic-interference (EMI) noise to all groups at once.

MIRI ramps carry pickup from the spacecraft electronics at a few frequencies
(10 Hz, 390.625 Hz, ...). Every pixel is read at a known time: four amplifiers
read one column each in parallel, every ``nsamples`` clock ticks of 10 us, with
``rowclocks`` ticks per row, ``(1024 - ny) * 7`` extra ticks per frame for
subarrays and, for the *R1 patterns, ``frameclocks`` between integrations. The
EMI of one frequency is therefore a known periodic waveform (the reference
phase-amplitude table, interpolated by a cubic spline) of the read time, with an
unknown phase offset and amplitude. Pixels of equal read phase are summed; for a
grid of phase offsets the amplitude that minimises the chi-square of a
straight-line-plus-waveform model of the summed ramps is solved analytically,
the best offset is refined with a parabola through its neighbours, and the
fitted waveform is subtracted from every pixel of every group.

References
----------
JWST pipeline documentation, "emicorr" step (joint algorithm, jwst >= 1.18);
Morrison et al. 2023, PASP 135, 075004 (MIRI detector effects: EMI);
JWST MIRI known issues (JDox), "MIRI EMI 390 Hz noise".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy.interpolate import make_interp_spline

__all__ = ["EmiTiming", "correct_emi_joint", "waveform_function"]

log = logging.getLogger(__name__)

#: Pixel clock: one tick every 10 microseconds.
CLOCK_SECONDS = 10.0e-6
#: Extra clock ticks per missing row of a subarray frame.
EXTRA_TICKS_PER_ROW = 7.0
#: Phase offsets tried before the parabolic refinement.
N_PHASE_GRID = 500


@dataclass(frozen=True)
class EmiTiming:
    """Readout clocking of one exposure.

    Attributes
    ----------
    nsamples : int
        Clock ticks per pixel read (NSAMPLES).
    rowclocks : float
        Clock ticks per row.
    frameclocks : float
        Clock ticks between integrations (0 when the pattern resets without
        an extra frame, i.e. not FASTR1/SLOWR1).
    """

    nsamples: int
    rowclocks: float
    frameclocks: float


def waveform_function(amplitudes: np.ndarray):
    """Periodic EMI waveform of phase in [0, 1) from its sampled table.

    The ``n`` table values are taken at phases ``(j + 0.5) / n``; the table is
    extended by one wrapped value at each end and interpolated with a
    not-a-knot cubic spline.

    Parameters
    ----------
    amplitudes : ndarray, shape (n,), float
        Reference phase amplitudes (n >= 2).

    Returns
    -------
    callable
        ``f(phase) -> ndarray`` for phases in [0, 1).
    """
    amp = np.asarray(amplitudes, dtype=np.float64).ravel()
    if amp.size < 2 or not np.all(np.isfinite(amp)):
        raise ValueError(
            f"phase_amplitudes has {amp.size} value(s); expected at least 2 finite values"
        )
    n = amp.size
    y = np.concatenate([amp[-1:], amp, amp[:1]])
    x = (np.arange(n + 2) - 0.5) / n
    return make_interp_spline(x, y, k=3)


def _read_phases(ny, nx4, timing, period):
    """Phase of each (row, column group) in the first frame, and the per-frame advance."""
    t0 = np.arange(ny)[:, None] * timing.rowclocks + np.arange(nx4)[None, :] * timing.nsamples
    phase = (t0 / period) % 1
    frame_ticks = ny * timing.rowclocks + (1024.0 - ny) * EXTRA_TICKS_PER_ROW
    return phase, (frame_ticks / period) % 1


def _binned_sums(data, pixeldq, phase, nbins):
    """Sum, per integration, phase bin and group, of the well-behaved pixels."""
    nints, ngroups, ny, nx = data.shape
    nx4 = nx // 4
    std = np.std(data, axis=1)
    ok = (std < 2 * np.median(std)) & (pixeldq == 0)[None]
    bins = (phase * nbins).astype(np.int64)  # (ny, nx4)
    # column groups 1 and 2 (next to the left reference columns) take no part
    use = np.ones(nx4, dtype=bool)
    use[1:3] = False
    bins_used = bins[:, use].ravel()
    sums = np.zeros((nints, nbins, ngroups))
    counts = np.zeros((nints, nbins))
    for amp in range(4):
        cols = np.arange(nx4)[use] * 4 + amp
        good = ok[:, :, cols].reshape(nints, -1)
        vals = data[:, :, :, cols].astype(np.float64).reshape(nints, ngroups, -1)
        for i in range(nints):
            counts[i] += np.bincount(bins_used, weights=good[i], minlength=nbins)
            w = vals[i] * good[i][None]
            for g in range(ngroups):
                sums[i, :, g] += np.bincount(bins_used, weights=w[g], minlength=nbins)
    return sums, counts


class _ChiSquare:
    """Chi-square of ``line + c * waveform`` fits to the binned ramps, per phase offset."""

    def __init__(self, sums, counts, wave, template, frame_advance):
        self.sums, self.counts = sums, counts
        self.nints, _, ngroups = sums.shape
        t = np.arange(ngroups, dtype=np.float64)
        self.ng, self.st, self.stt = ngroups, t.sum(), (t**2).sum()
        self.delta = ngroups * self.stt - self.st**2
        self.sy = sums.sum(axis=2)
        self.sty = (sums * t).sum(axis=2)
        self.grid = np.arange(N_PHASE_GRID) / N_PHASE_GRID
        self.frame_advance = frame_advance
        z = [wave((template + off) % 1) for off in self.grid]
        self.z = np.stack(z)  # (grid, nbins, ngroups)
        self.sz = self.z.sum(axis=2)
        self.stz = (self.z * t).sum(axis=2)
        self.szz = (self.z**2).sum(axis=2)

    def _grid_index(self, phase):
        return int(np.argmin((self.grid - phase) % 1))

    def solve(self, phase, ints):
        """(chi-square relative to no EMI, amplitude) at one phase offset."""
        a = b = 0.0
        ng, st, stt, delta = self.ng, self.st, self.stt, self.delta
        for i in ints:
            k = self._grid_index(phase + self.frame_advance * i)
            sz, stz, szz = self.sz[k], self.stz[k], self.szz[k]
            sy, sty = self.sy[i], self.sty[i]
            a += np.sum(
                self.counts[i] / delta
                * (-stt * sz**2 + 2 * st * sz * stz - ng * stz**2 + szz * delta)
            )  # fmt: skip
            b += (2 / delta) * np.sum(stt * sz * sy - st * stz * sy - st * sz * sty
                                      + ng * stz * sty)  # fmt: skip
            b -= 2 * np.sum(self.z[k] * self.sums[i])
        if np.isclose(a, 0, atol=1e-8) or not (np.isfinite(a) and np.isfinite(b)):
            return np.nan, 0.0
        c = -b / (2 * a)
        return a * c**2 + b * c, c

    def best_phase(self, ints):
        """Grid minimum refined by a parabola through it and its two neighbours."""
        chisq = np.array([self.solve(p, ints)[0] for p in self.grid])
        if not np.any(np.isfinite(chisq)):
            log.warning("EMI fit: the chi-square is undefined at every phase offset")
            return self.grid[0]
        ib = int(np.nanargmin(chisq))
        n = chisq.size
        y0, y1, y2 = chisq[(ib - 1) % n], chisq[ib], chisq[(ib + 1) % n]
        if not np.all(np.isfinite([y0, y1, y2])):
            log.warning("EMI fit: undefined chi-square next to the best phase offset")
            return self.grid[ib]
        curvature = y0 - 2 * y1 + y2
        if np.nanstd([y0, y1, y2]) == 0 or curvature == 0:
            log.warning("EMI fit: the chi-square does not vary with the phase offset")
            return self.grid[ib]
        step = 1.0 / n
        return self.grid[ib] + 0.5 * step * (y0 - y2) / curvature


def correct_emi_joint(
    data: np.ndarray,
    pixeldq: np.ndarray,
    *,
    frequency: float,
    amplitudes: np.ndarray,
    timing: EmiTiming,
    fit_ints_separately: bool = False,
) -> np.ndarray:
    """Fit and subtract the EMI of one frequency, jointly over all groups.

    Parameters
    ----------
    data : ndarray, shape (nints, ngroups, ny, nx), float32, DN
        Ramps; ``nx`` is a multiple of 4 (four amplifiers), ``ngroups`` >= 3.
    pixeldq : ndarray, shape (ny, nx), uint32
        Only pixels with no flag take part in the fit.
    frequency : float
        EMI frequency, Hz.
    amplitudes : ndarray, shape (n,), float
        Reference waveform sampled at ``n`` equally spaced phases.
    timing : EmiTiming
        Readout clocking of the exposure.
    fit_ints_separately : bool
        Fit phase and amplitude for each integration; otherwise one fit to all
        integrations, with the phase advancing by the integration length.

    Returns
    -------
    ndarray, shape (nints, ngroups, ny, nx), float32
        Corrected ramps (a new array).

    Raises
    ------
    ValueError
        If the shapes, the frequency or the waveform are unusable.
    """
    if data.ndim != 4 or data.shape[-1] % 4 or pixeldq.shape != data.shape[-2:]:
        raise ValueError(
            f"data {data.shape} / pixeldq {pixeldq.shape}: expected (nints, ngroups, ny, nx) "
            "with nx a multiple of 4, and (ny, nx)"
        )
    if data.shape[1] < 3:
        raise ValueError(f"data has {data.shape[1]} group(s); expected at least 3")
    if not (np.isfinite(frequency) and frequency > 0):
        raise ValueError(f"frequency={frequency!r}; expected a positive number of Hz")
    wave = waveform_function(amplitudes)
    nbins = np.asarray(amplitudes).size
    nints, ngroups, ny, nx = data.shape
    period = (1.0 / frequency) / CLOCK_SECONDS
    phase, dphase = _read_phases(ny, nx // 4, timing, period)
    frame_advance = dphase * ngroups + timing.frameclocks / period
    template = ((np.arange(nbins) + 0.5)[:, None] / nbins + np.arange(ngroups) * dphase) % 1
    sums, counts = _binned_sums(data, pixeldq, phase, nbins)
    fit = _ChiSquare(sums, counts, wave, template, frame_advance)
    if fit_ints_separately:
        offsets, amps = [], []
        for i in range(nints):
            best = fit.best_phase([i])
            offsets.append(best + i * frame_advance)
            amps.append(fit.solve(best, [i])[1])
    else:
        best = fit.best_phase(range(nints))
        offsets = list((best + np.arange(nints) * frame_advance) % 1)
        amps = [fit.solve(best, range(nints))[1]] * nints
    log.info("EMI %.6g Hz: amplitude(s) %s", frequency, ", ".join(f"{a:.4g}" for a in amps))
    out = data.copy()
    for i in range(nints):
        for g in range(ngroups):
            emi = amps[i] * wave((phase + dphase * g + offsets[i]) % 1)
            for amp in range(4):
                out[i, g, :, amp::4] -= emi.astype(np.float32)
    return out
