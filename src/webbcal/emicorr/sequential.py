"""Sequential EMI correction: measure the phased EMI waveform from the data, then subtract it.

For one frequency: every integration is flattened (its per-pixel slope over
the inner groups and a per-pixel floor are removed), the four amplifier columns
of each column group are averaged, and every value is assigned the EMI phase
of its read time. Averaging (sigma-clipped) the values of the first integrations
in phase bins gives the waveform; optionally the reference waveform is aligned
to it by cross-correlation and scaled by a linear fit. The waveform, evaluated at
every pixel's read phase, is subtracted.

References
----------
JWST pipeline documentation, "emicorr" step (sequential algorithm, after the
IDL prototype by J. Morrison); Morrison et al. 2023, PASP 135, 075004.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np

from .joint import CLOCK_SECONDS, EXTRA_TICKS_PER_ROW

__all__ = ["SequentialOptions", "correct_emi_sequential"]

log = logging.getLogger(__name__)

#: Most phase bins used for one period.
MAX_BINS = 500
#: Read-time offset of the last column group of full-width (258-group) readouts,
#: applied as the official pipeline does (3 ticks, plus 2**32 ticks from its
#: unsigned 64-bit arithmetic).
_LAST_COLUMN_OFFSET = 3 + 2**32


@dataclass(frozen=True)
class SequentialOptions:
    """Options of :func:`correct_emi_sequential` (official parameter names)."""

    nints_to_phase: int | None = None
    nbins: int | None = None
    scale_reference: bool = True
    use_n_cycles: int | None = 3


def _flattened(ramp):
    """A ramp minus its inner-group slope and per-pixel floor, averaged over amplifiers."""
    ngroups = ramp.shape[0]
    inner = ramp[1 : ngroups - 1].astype(np.float64)
    t = np.arange(inner.shape[0], dtype=np.float64)
    n = t.size
    slope = (n * np.tensordot(t, inner, axes=1) - t.sum() * inner.sum(axis=0)) / (
        n * (t**2).sum() - t.sum() ** 2
    )
    flat = ramp - slope[None] * np.arange(ngroups)[:, None, None]
    inner = flat[1 : ngroups - 1]
    floor = np.nanmin(inner, axis=0) if inner.shape[0] <= 2 else np.nanmedian(inner, axis=0)
    flat = flat - floor
    dd = (flat[..., 0::4] + flat[..., 1::4] + flat[..., 2::4] + flat[..., 3::4]) / 4.0
    dd[..., 1] = dd[..., 2] = (dd[..., 0] + dd[..., 3]) / 2
    return dd - np.median(dd, axis=(1, 2), keepdims=True)


def _phases(shape, *, nsamples, rowclocks, frameclocks, reset_frame, full_width, period):
    """Read phase (0..1) of every (integration, group, row, column group)."""
    nints, ngroups, ny, nx4 = shape
    extra = (1024.0 - ny) * EXTRA_TICKS_PER_ROW
    per_int = ngroups * (ny * rowclocks + extra) + (frameclocks if reset_frame else 0)
    col = np.arange(nx4, dtype=np.float64) * nsamples
    if full_width:
        col[-1] += _LAST_COLUMN_OFFSET
    out = np.empty(shape)
    for i in range(nints):
        for g in range(ngroups):
            start = i * per_int + g * (ny * rowclocks + extra)
            t = (start + np.arange(ny)[:, None] * rowclocks + col[None]).astype(np.uint64)
            ph = t / period
            out[i, g] = ph - np.floor(ph)
    return out


def _rebin(values, n):
    """Nearest-lower resampling of ``values`` to about ``n`` points."""
    idx = np.arange(0, values.size, values.size / n).astype(int)
    return values[idx]


def correct_emi_sequential(
    data: np.ndarray,
    *,
    frequency: float,
    reference: np.ndarray | None,
    nsamples: int,
    rowclocks: float,
    frameclocks: float,
    reset_frame: bool,
    xstart: int,
    xsize: int,
    options: SequentialOptions = SequentialOptions(),
) -> np.ndarray:
    """Measure and subtract the EMI of one frequency.

    Parameters
    ----------
    data : ndarray, shape (nints, ngroups, ny, nx), float32, DN
        Ramps (``nx`` a multiple of 4, ``ngroups`` >= 3).
    frequency : float
        EMI frequency, Hz.
    reference : ndarray, shape (n,), or None
        Reference waveform to align and (optionally) scale; None uses the
        measured waveform itself.
    nsamples : int
        Clock ticks per pixel read.
    rowclocks, frameclocks : float
        Clock ticks per row and per reset frame.
    reset_frame : bool
        Whether a reset frame separates integrations (FASTR1, SLOWR1).
    xstart, xsize : int
        SUBSTRT1 and SUBSIZE1 (full-width readouts shift the last column group).
    options : SequentialOptions
        ``nints_to_phase``, ``nbins``, ``scale_reference``, ``use_n_cycles``.

    Returns
    -------
    ndarray, shape (nints, ngroups, ny, nx), float32
        Corrected ramps (a new array).
    """
    from astropy.stats import sigma_clipped_stats

    if data.ndim != 4 or data.shape[-1] % 4 or data.shape[1] < 3:
        raise ValueError(
            f"data has shape {data.shape}; expected (nints, ngroups >= 3, ny, nx) with nx a "
            "multiple of 4"
        )
    if not (np.isfinite(frequency) and frequency > 0):
        raise ValueError(f"frequency={frequency!r}; expected a positive number of Hz")
    nints, ngroups, ny, nx = data.shape
    period = (1.0 / frequency) / CLOCK_SECONDS
    nphase = options.nints_to_phase
    if nphase is None:
        if options.use_n_cycles is None:
            nphase = nints
        else:
            nphase = int(np.ceil(options.use_n_cycles * period / (frameclocks * ngroups)))
    elif options.use_n_cycles == 3:
        nphase = min(nphase, nints)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        dd = np.stack([_flattened(data[i]) for i in range(nints)])
    phase = _phases(
        dd.shape, nsamples=nsamples, rowclocks=rowclocks, frameclocks=frameclocks,
        reset_frame=reset_frame, full_width=int(xsize / 4 + xstart - 1) == 258, period=period,
    )  # fmt: skip
    nbins = options.nbins if options.nbins is not None else int(period / 2.0)
    if nbins > MAX_BINS + 1:
        nbins = MAX_BINS
    ph, vals = phase[:nphase].ravel(), dd[:nphase].ravel()
    pa = np.empty(nbins)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for b in range(nbins):
            sel = (ph > b / nbins) & (ph <= (b + 1) / nbins)
            pa[b] = sigma_clipped_stats(vals[sel])[0]
    pa -= np.median(pa)
    lut = _rebin(pa, period)
    if reference is not None:
        ref = np.asarray(reference, dtype=np.float64)
        measured = _rebin(pa, ref.size)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cc = [np.corrcoef(np.roll(ref, i), measured)[0, 1] for i in range(ref.size)]
            aligned = _rebin(np.roll(ref, int(np.argmax(cc))), period)
            scale = np.polyfit(aligned, lut, 1)[0]
        lut = aligned * scale if options.scale_reference else aligned
    log.info("EMI %.6g Hz: waveform from %d integration(s), %d bins", frequency, nphase, nbins)
    noise = lut[(phase * period).astype(int)]
    noise[~np.isfinite(noise)] = 0.0
    out = data.copy()
    for amp in range(4):
        out[..., amp::4] = (out[..., amp::4] - noise).astype(np.float32)
    return out
