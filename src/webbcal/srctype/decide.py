"""The source-type decision of the ``srctype`` step, from keywords only.

References
----------
JWST pipeline documentation, ``srctype`` step ("Description": the order in which the
user's choice, background targets, time-series observations, SRCTYAPT and the dither
pattern decide SRCTYPE).
"""

from __future__ import annotations

__all__ = ["SINGLE_SOURCE_EXP_TYPES", "USER_SETTABLE_EXP_TYPES", "decide_source_type"]

#: Exposure types with a single source whose type the keywords decide.
SINGLE_SOURCE_EXP_TYPES = frozenset({
    "MIR_LRS-FIXEDSLIT", "MIR_LRS-SLITLESS", "MIR_MRS", "NRC_TSGRISM", "NIS_SOSS",
    "NRS_FIXEDSLIT", "NRS_BRIGHTOBJ", "NRS_IFU",
})  # fmt: skip

#: Of those, the ones where the step's ``source_type`` parameter overrides the decision
#: (NIRISS SOSS is always decided by the keywords).
USER_SETTABLE_EXP_TYPES = SINGLE_SOURCE_EXP_TYPES - {"NIS_SOSS"}

_EXTENDED_BY_DEFAULT = ("MIR_MRS", "NRS_IFU")


def decide_source_type(
    exp_type: str,
    *,
    user_choice: str | None,
    apt_type: str | None,
    background_target: bool,
    tso: bool,
    pattern_type: str | None,
) -> tuple[str, str]:
    """SRCTYPE of a single-source spectroscopic exposure, and why.

    Parameters
    ----------
    exp_type : str
        EXP_TYPE, one of :data:`SINGLE_SOURCE_EXP_TYPES` (upper case).
    user_choice : {"POINT", "EXTENDED"} or None
        The step's ``source_type`` parameter.
    apt_type : str or None
        SRCTYAPT (the proposer's choice in APT), else the input SRCTYPE.
    background_target : bool
        BKGDTARG: the exposure is a dedicated background observation.
    tso : bool
        Time-series observation (TSOVISIT, or a time-series EXP_TYPE with several
        integrations).
    pattern_type : str or None
        PATTTYPE (MIRI MRS: the dither's optimisation, PATT_OPT... as the official step).

    Returns
    -------
    tuple of str
        ``(source_type, reason)``, source type ``"POINT"`` or ``"EXTENDED"``.

    Raises
    ------
    ValueError
        If ``exp_type`` is not a single-source type or ``user_choice`` is not POINT or
        EXTENDED.
    """
    exp = exp_type.upper()
    if exp not in SINGLE_SOURCE_EXP_TYPES:
        raise ValueError(
            f"exp_type={exp_type!r}: expected one of {sorted(SINGLE_SOURCE_EXP_TYPES)}"
        )
    if user_choice is not None and exp in USER_SETTABLE_EXP_TYPES:
        choice = str(user_choice).upper()
        if choice not in ("POINT", "EXTENDED"):
            raise ValueError(f"source_type={user_choice!r}: expected 'POINT' or 'EXTENDED'")
        return choice, "user input"
    if background_target:
        return "EXTENDED", "background target"
    if tso:
        return "POINT", "time-series exposure"
    if apt_type in ("POINT", "EXTENDED"):
        return apt_type, "SRCTYAPT"
    if pattern_type is not None and ("NOD" in pattern_type or "POINT-SOURCE" in pattern_type):
        return "POINT", "nodded exposure"
    default = "EXTENDED" if exp in _EXTENDED_BY_DEFAULT else "POINT"
    return default, "default for the exposure type"
