"""Reading the EMICORR reference: which frequencies to correct for a readout configuration.

References
----------
JWST pipeline documentation, "emicorr" step, "Reference File" section: the
EMICORR reference (an ASDF EmiModel) holds ``frequencies`` (name -> frequency in
Hz and a sampled phase-amplitude waveform) and ``subarray_cases`` (subarray, or
``FULL_FAST``/``FULL_SLOW`` -> rowclocks, frameclocks and, per readout speed
and, for SLOW, per detector, the frequency names to correct).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["EmiCase", "EmiReferenceError", "ON_THE_FLY_CLOCKS", "select_case"]


class EmiReferenceError(ValueError):
    """The EMICORR reference lacks what the exposure needs, or is malformed."""


@dataclass(frozen=True)
class EmiCase:
    """Frequencies and clocking for one subarray / read pattern / detector.

    Attributes
    ----------
    case : str
        Name of the subarray case (``SUB64``, ``FULL_FAST``).
    rowclocks, frameclocks : float
        Clock ticks per row and per frame reset.
    names : tuple of str
        Frequency names, in the order they are corrected.
    frequencies : tuple of float
        Frequencies, Hz.
    amplitudes : tuple of ndarray
        Reference waveforms (empty when built on the fly).
    """

    case: str
    rowclocks: float
    frameclocks: float
    names: tuple[str, ...]
    frequencies: tuple[float, ...]
    amplitudes: tuple[np.ndarray, ...] = ()


#: Row and frame clock ticks of MIRI readouts, for corrections without a reference
#: (JWST pipeline documentation, "emicorr" step).
ON_THE_FLY_CLOCKS = {
    "SLITLESSPRISM": (28, 15904),
    "MASKLYOT": (90, 32400),
    "SUB64": (28, 8512),
    "SUB128": (44, 11904),
    "MASK1140": (82, 23968),
    "MASK1550": (82, 23968),
    "MASK1065": (82, 23968),
    "FULL_FAST": (271, 277504),
    "FULL_SLOW": (2333, 2388992),
    "BRIGHTSKY": (162, 86528),
    "SUB256": (96, 29952),
}


def readout_speed(readpatt: str) -> str:
    """``"FAST"`` or ``"SLOW"`` from a MIRI READPATT.

    Raises
    ------
    EmiReferenceError
        If the pattern names neither speed.
    """
    rp = (readpatt or "").upper()
    if "SLOW" in rp:
        return "SLOW"
    if "FAST" in rp:
        return "FAST"
    raise EmiReferenceError(f"READPATT={readpatt!r} is neither a FAST nor a SLOW MIRI pattern")


def case_name(subarray: str, readpatt: str) -> str:
    """Subarray case name: full frames are split by readout speed (``FULL_FAST``)."""
    sub = (subarray or "").upper()
    return f"{sub}_{readout_speed(readpatt)}" if "FULL" in sub else sub


def select_case(
    cases: dict, frequencies: dict, *, subarray: str, readpatt: str, detector: str, name: str
) -> EmiCase | None:
    """The frequencies to correct for an exposure, from the reference's tables.

    Parameters
    ----------
    cases, frequencies : dict
        ``subarray_cases`` and ``frequencies`` of the reference, as plain dicts.
    subarray, readpatt, detector : str
        SUBARRAY, READPATT and DETECTOR of the exposure.
    name : str
        Reference file name, for messages.

    Returns
    -------
    EmiCase or None
        None when the reference has no entry for this configuration (the
        correction does not apply).

    Raises
    ------
    EmiReferenceError
        If an entry exists but is incomplete, or names an unknown frequency.
    """
    speed = readout_speed(readpatt)
    key = case_name(subarray, readpatt)
    case = (cases or {}).get(key)
    if case is None:
        return None
    if not isinstance(case, dict):
        raise EmiReferenceError(f"{name}: subarray case {key} is {case!r}; expected a mapping")
    missing = [k for k in ("rowclocks", "frameclocks", "freqs") if k not in case]
    if missing:
        raise EmiReferenceError(f"{name}: subarray case {key} lacks {', '.join(missing)}")
    clocks = [_clock(case, k, key, name) for k in ("rowclocks", "frameclocks")]
    if not isinstance(case["freqs"], dict):
        raise EmiReferenceError(
            f"{name}: subarray case {key}, freqs={case['freqs']!r}; expected a mapping of "
            "readout speed (FAST, SLOW) to frequency names"
        )
    names = case["freqs"].get(speed)
    if names is None:
        return None
    if speed == "SLOW":
        if not isinstance(names, dict):
            raise EmiReferenceError(
                f"{name}: subarray case {key}, SLOW frequencies must be listed per detector"
            )
        names = names.get((detector or "").upper())
        if names is None:
            return None
    if isinstance(names, str) or not isinstance(names, list | tuple | np.ndarray):
        raise EmiReferenceError(
            f"{name}: subarray case {key}, {speed} frequencies are {names!r}; expected a list "
            "of frequency names"
        )
    names = tuple(str(n) for n in names)
    freqs, amps = [], []
    for fname in names:
        entry = (frequencies or {}).get(fname)
        if (
            not isinstance(entry, dict)
            or "frequency" not in entry
            or ("phase_amplitudes" not in entry)
        ):
            raise EmiReferenceError(
                f"{name}: frequency {fname!r} (subarray case {key}, {speed}) is not defined in "
                "'frequencies' with 'frequency' and 'phase_amplitudes'"
            )
        freqs.append(_frequency(entry["frequency"], fname, name))
        amps.append(_waveform(entry["phase_amplitudes"], fname, name))
    return EmiCase(key, *clocks, names, tuple(freqs), tuple(amps))


def _clock(case: dict, field: str, key: str, name: str) -> float:
    try:
        value = float(case[field])
    except (TypeError, ValueError):
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise EmiReferenceError(
            f"{name}: subarray case {key}, {field}={case[field]!r}; expected a number of "
            "clock ticks > 0"
        )
    return value


def _frequency(value, fname: str, name: str) -> float:
    try:
        freq = float(value)
    except (TypeError, ValueError):
        freq = math.nan
    if not (math.isfinite(freq) and freq > 0):
        raise EmiReferenceError(
            f"{name}: frequency {fname!r} is {value!r}; expected a frequency in Hz > 0"
        )
    return freq


def _waveform(value, fname: str, name: str) -> np.ndarray:
    try:
        amp = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        amp = np.zeros(0)
    if amp.ndim != 1 or amp.size < 2 or not np.all(np.isfinite(amp)):
        raise EmiReferenceError(
            f"{name}: phase_amplitudes of frequency {fname!r} has shape {amp.shape}"
            f"{' with non-finite values' if amp.size and not np.all(np.isfinite(amp)) else ''}"
            "; expected a 1-D waveform of at least 2 finite values"
        )
    return amp
