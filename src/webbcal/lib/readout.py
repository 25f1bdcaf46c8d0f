"""Near-infrared readout patterns and frame timing.

Values follow the JWST User Documentation (JDox) pages on the NIRCam, NIRISS,
NIRSpec and FGS detector readout patterns: each pattern averages ``nframes``
frames into a group and skips ``groupgap`` frames between groups.

References
----------
JDox, "NIRCam Detector Readout Patterns"; "NIRISS Detector Readout Patterns";
"NIRSpec Detector Readout Modes and Patterns"; "FGS Detector Readout".
Rauscher et al. 2007, PASP 119, 768 (detector readout of the JWST NIR arrays).
"""

from dataclasses import dataclass

__all__ = ["READ_PATTERNS", "ReadPattern", "frame_time", "read_pattern"]


@dataclass(frozen=True)
class ReadPattern:
    """A MULTIACCUM readout pattern.

    Attributes
    ----------
    name : str
        READPATT keyword value, e.g. ``"RAPID"``.
    nframes : int
        Frames averaged per group (NFRAMES).
    groupgap : int
        Frames dropped between groups (GROUPGAP).
    """

    name: str
    nframes: int
    groupgap: int


READ_PATTERNS: dict[str, ReadPattern] = {
    p.name: p
    for p in (
        # NIRCam
        ReadPattern("RAPID", 1, 0),
        ReadPattern("BRIGHT1", 1, 1),
        ReadPattern("BRIGHT2", 2, 0),
        ReadPattern("SHALLOW2", 2, 3),
        ReadPattern("SHALLOW4", 4, 1),
        ReadPattern("MEDIUM2", 2, 8),
        ReadPattern("MEDIUM8", 8, 2),
        ReadPattern("DEEP2", 2, 18),
        ReadPattern("DEEP8", 8, 12),
        # NIRISS
        ReadPattern("NISRAPID", 1, 0),
        ReadPattern("NIS", 4, 0),
        # NIRSpec (traditional readout)
        ReadPattern("NRSRAPID", 1, 0),
        ReadPattern("NRS", 4, 0),
        # FGS
        ReadPattern("FGSRAPID", 1, 0),
        ReadPattern("FGS", 4, 0),
    )
}


def read_pattern(name: str) -> ReadPattern:
    """Return the readout pattern called ``name``.

    Raises
    ------
    ValueError
        If ``name`` is not a known near-infrared MULTIACCUM pattern.
    """
    try:
        return READ_PATTERNS[name.upper()]
    except KeyError:
        raise ValueError(
            f"READPATT={name!r} is not a known readout pattern; expected one of "
            f"{sorted(READ_PATTERNS)}"
        ) from None


def frame_time(xsize: int, ysize: int, namps: int = 1) -> float:
    """Frame time in seconds of a near-infrared SIDECAR readout.

    Parameters
    ----------
    xsize, ysize : int
        Size of the read-out region in pixels (along the fast and slow axes of
        the detector as stored, 2048 x 2048 for full frame).
    namps : int
        Number of output amplifiers used (4 for full frame, 1 for most
        subarrays).

    Returns
    -------
    float
        Frame time in s: ``(xsize / namps + 12) * (ysize + nrow) * 10 us`` with
        ``nrow = 1`` for 4-amplifier reads and 2 for 1-amplifier subarrays. This
        gives 10.73676 s for the full frame, 0.34061 s for a 2048 x 64 4-amplifier
        stripe and 0.05016 s for a 64 x 64 subarray, as tabulated in JDox.
    """
    nrow = 1 if namps > 1 else 2
    return (xsize / namps + 12) * (ysize + nrow) * 1.0e-5
