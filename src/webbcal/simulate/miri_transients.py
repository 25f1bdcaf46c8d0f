"""MIRI detector transients and electronic pick-up used by the MIRI simulator.

* **Reset anomaly**: after a reset the output level relaxes over the first frames; the
  offset ``A_i exp(-g / tau)`` (raw DN) depends on the pixel and on whether the integration
  is the first one. The RESET reference holds it (``nints`` = 2: integration 1, then all
  later ones), and the official ``reset`` step subtracts it before linearity.
* **RSCD** (reset switch charge decay): the first frames of integrations >= 2 are low by a
  fraction of the previous integration's last-frame signal, decaying over the frames. The
  simulator confines the deficit to the groups that the RSCD reference tells the official
  ``rscd`` step to flag (:data:`RSCD_GROUP_SKIP`).
* **First and last frame**: the first frame of every integration and the last frame (read
  during the read-reset) carry offsets; ``lastframe`` flags the last group, and the first
  group is flagged through the RSCD reference (``group_skip1``, ``group_skip``).
* **EMI**: sinusoid-like pick-up at known frequencies, phased by each pixel's read time in
  10 us pixel clocks (row clocks per row, frame clocks per frame, an extra frame for the
  ``R1`` patterns between integrations; the four outputs are read simultaneously). The EMI
  reference (EmiModel) lists the waveform samples per frequency and the frequencies to
  correct per subarray and readout speed.

References
----------
Morrison et al. 2023, PASP 135, 075004, "JWST MIRI flight performance: Detector Effects and
Data Reduction Algorithms" (reset anomaly, RSCD, first/last frame, EMI).
JWST pipeline documentation, "Reset Correction", "RSCD Correction", "Last Frame
Correction", "EMI Correction" (and their reference-file pages).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from webbcal.simulate.miri_detector import MIRI_SUBARRAYS, MiriReadout

__all__ = [
    "EMI_FREQUENCIES",
    "EMI_SUBARRAY_FREQS",
    "RSCD_GROUP_SKIP",
    "EmiTone",
    "emi_pattern",
    "emi_waveform",
    "pixel_read_clocks",
    "reset_anomaly",
    "rscd_skip",
]

#: Known MIRI EMI frequencies, Hz (names as in the EMICORR reference).
EMI_FREQUENCIES: dict[str, float] = {
    "Hz390": 390.625,
    "Hz218a": 218.52055,
    "Hz164": 164.9305,
    "Hz10": 10.039216,
}

#: Frequencies present (and corrected) per subarray for FAST readout. Subarrays see the
#: 390.625 and 218.5 Hz pick-up; the full array only the 10 Hz one (SLOW full frames use
#: the detector-specific 10 Hz entries). Within a subarray frame a 10 Hz wave hardly changes
#: phase, so it cannot be told apart from frame-wide offsets (reset anomaly, drifts) there.
EMI_SUBARRAY_FREQS: dict[str, tuple[str, ...]] = {
    name: (("Hz10",) if name == "FULL" else ("Hz390", "Hz218a")) for name in MIRI_SUBARRAYS
}

#: Default EMI amplitudes (DN, peak of the unit waveform).
DEFAULT_EMI_AMPLITUDES: dict[str, float] = {"Hz390": 4.0, "Hz218a": 2.0, "Hz164": 1.0, "Hz10": 2.5}

#: Groups flagged by the RSCD reference, ``(group_skip1, group_skip)`` for integration 1 and
#: integrations >= 2, per readout speed and subarray.
RSCD_GROUP_SKIP: dict[tuple[str, str], tuple[int, int]] = {
    **{(name, "FAST"): (1, 3 if name == "FULL" else 2) for name in MIRI_SUBARRAYS},
    ("FULL", "SLOW"): (1, 1),
}


@dataclass(frozen=True)
class EmiTone:
    """One EMI frequency as simulated.

    Attributes
    ----------
    name : str
        Key in the EMICORR reference (e.g. ``"Hz390"``).
    frequency : float
        Hz.
    amplitude : float
        DN scale of the unit waveform.
    phase : float
        Phase (cycles, 0-1) at the first pixel read of the exposure.
    """

    name: str
    frequency: float
    amplitude: float
    phase: float


def emi_waveform(phase: np.ndarray) -> np.ndarray:
    """Unit EMI waveform (fundamental plus a weaker second harmonic) at ``phase`` (cycles)."""
    p = 2.0 * np.pi * np.asarray(phase, np.float64)
    return np.sin(p) + 0.3 * np.sin(2.0 * p + 0.7)


def rscd_skip(subarray: str, readpatt: str) -> tuple[int, int]:
    """``(group_skip1, group_skip)`` of :data:`RSCD_GROUP_SKIP` for a configuration."""
    speed = "SLOW" if readpatt.upper().startswith("SLOW") else "FAST"
    return RSCD_GROUP_SKIP.get((subarray, speed), (1, 1))


def pixel_read_clocks(
    readout: MiriReadout, shape: tuple[int, int], *, ngroups: int, integ: int, group: int
) -> np.ndarray:
    """Read time of every pixel in 10 us pixel clocks from the first read of the exposure.

    The four outputs read the columns ``4k .. 4k+3`` together; row ``j`` starts
    ``rowclocks`` after row ``j - 1``; frames start ``frameclocks`` apart; the ``R1``
    patterns add one reset frame between integrations.

    Returns
    -------
    ndarray, shape (ny, nx), float64
    """
    ny, nx = shape
    per_int = ngroups + (1 if readout.extra_reset else 0)
    start = (integ * per_int + group) * readout.frameclocks
    rows = np.arange(ny, dtype=np.float64)[:, None] * readout.rowclocks
    cols = (np.arange(nx) // 4).astype(np.float64)[None, :] * readout.nsamples
    return start + rows + cols


def emi_pattern(
    tones: tuple[EmiTone, ...],
    readout: MiriReadout,
    shape: tuple[int, int],
    *,
    ngroups: int,
    integ: int,
    group: int,
) -> np.ndarray:
    """EMI signal (DN) of one frame, shape (ny, nx), float32."""
    out = np.zeros(shape, np.float64)
    if not tones:
        return out.astype(np.float32)
    t = pixel_read_clocks(readout, shape, ngroups=ngroups, integ=integ, group=group)
    for tone in tones:
        period = 1.0 / (tone.frequency * 1.0e-5)  # in pixel clocks
        out += tone.amplitude * emi_waveform(t / period + tone.phase)
    return out.astype(np.float32)


def reset_anomaly(amplitude: np.ndarray, tau: float, *, integ: int, group: int) -> np.ndarray:
    """Reset-anomaly offset (raw DN) of one group, shape (ny, nx), float32.

    ``amplitude[0]`` applies to integration 1, ``amplitude[1]`` to all later ones.
    """
    which = 0 if integ == 0 else 1
    return (amplitude[which] * np.exp(-group / tau)).astype(np.float32)
