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
    missing = [k for k in ("rowclocks", "frameclocks", "freqs") if k not in case]
    if missing:
        raise EmiReferenceError(f"{name}: subarray case {key} lacks {', '.join(missing)}")
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
    names = tuple(str(n) for n in names)
    freqs, amps = [], []
    for fname in names:
        entry = (frequencies or {}).get(fname)
        if entry is None or "frequency" not in entry or "phase_amplitudes" not in entry:
            raise EmiReferenceError(
                f"{name}: frequency {fname!r} (subarray case {key}, {speed}) is not defined in "
                "'frequencies' with 'frequency' and 'phase_amplitudes'"
            )
        freqs.append(float(entry["frequency"]))
        amps.append(np.asarray(entry["phase_amplitudes"], dtype=np.float64))
    return EmiCase(key, float(case["rowclocks"]), float(case["frameclocks"]), names,
                   tuple(freqs), tuple(amps))  # fmt: skip
