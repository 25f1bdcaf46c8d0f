"""Flag the leading groups of MIRI integrations affected by the reset-switch charge decay.

References
----------
JWST pipeline documentation, "rscd" step: after the reset of integrations 2
and later, MIRI ramps show a transient (reset-switch charge decay, RSCD)
lasting a few groups; the RSCD reference gives, per SUBARRAY and READPATT, how
many leading groups to flag DO_NOT_USE in integration 1 (``group_skip1``) and
in later integrations (``group_skip``). At least three groups are left (two
for a slope after ``lastframe``); with five groups or fewer one group is
flagged. Where saturation would leave fewer than two usable groups, fewer are
flagged (down to none), and the pixel gets FLUX_ESTIMATED.
Morrison et al. 2023, PASP 135, 075004, section 4 (RSCD).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from ..dqflags import DO_NOT_USE, PIXEL, SATURATED

FLUX_ESTIMATED = PIXEL["FLUX_ESTIMATED"]

__all__ = ["RscdResult", "effective_skips", "flag_rscd_groups"]

log = logging.getLogger(__name__)

#: Groups that must remain after the flagged ones (two for a slope + the last frame).
MIN_REMAINING = 3
#: Exposures with at most this many groups flag exactly one leading group.
FEW_GROUPS = 5


@dataclass(frozen=True)
class RscdResult:
    """Output of :func:`flag_rscd_groups`.

    Attributes
    ----------
    groupdq : ndarray, shape (nints, ngroups, ny, nx), uint8
    pixeldq : ndarray, shape (ny, nx), uint32
    skip_int1, skip_int2p : int
        Leading groups flagged in integration 1 and in later integrations
        (before any per-pixel reduction for saturation).
    lowered_int1, lowered_int2p : int
        Pixels whose number of flagged groups was lowered for saturation.
    one_group_int1, one_group_int2p : int
        Pixels where no leading group is flagged any more.
    masks : dict or None
        With ``pixel_masks``: per label (``"int1"``, ``"int2p"``) of the
        integrations present, ``(lowered, no_group, saturated_next)``, (ny, nx)
        bool: pixels lowered in some integration, pixels with no leading group
        flagged in some integration (whether or not any pixel needed
        lowering), and pixels SATURATED in group ``skip + 2`` but not group 1
        in some integration (the whole-array test that decides whether
        ``no_group`` pixels are counted).
    """

    groupdq: np.ndarray
    pixeldq: np.ndarray
    skip_int1: int
    skip_int2p: int
    lowered_int1: int = 0
    lowered_int2p: int = 0
    one_group_int1: int = 0
    one_group_int2p: int = 0
    masks: dict | None = None


def effective_skips(ngroups: int, nints: int, skip_int1: int, skip_int2p: int) -> tuple[int, int]:
    """Numbers of leading groups to flag, limited so enough groups remain.

    Parameters
    ----------
    ngroups, nints : int
        Science NGROUPS (>= 3) and NINTS.
    skip_int1, skip_int2p : int
        Reference values for integration 1 (negative: not given, use 1) and
        for later integrations.

    Returns
    -------
    (int, int)
        Groups to flag in integration 1 and in integrations 2 and later.
    """
    if skip_int1 < 0:
        log.warning("The RSCD reference has no value for integration 1; flagging 1 group there")
        skip_int1 = 1
    if ngroups <= FEW_GROUPS:
        skip_int1 = skip_int2p = 1
    cap = max(0, ngroups - MIN_REMAINING)
    if ngroups < skip_int1 + MIN_REMAINING:
        skip_int1 = cap
    if nints > 1 and ngroups < skip_int2p + MIN_REMAINING:
        skip_int2p = cap
    return skip_int1, skip_int2p


def _per_pixel_skips(groupdq: np.ndarray, skip: int) -> tuple[np.ndarray, bool]:
    """Per integration and pixel, the leading groups to flag, lowered for saturation.

    The group right after the flagged ones should be usable: walking down from
    group ``skip + 1`` (0-based) to group 1, every pixel saturated in the group
    examined (but not in group 0, which cannot be recovered) has one group fewer
    flagged, until a group with no such pixel is reached.

    Returns
    -------
    skips : ndarray, shape (nints, ny, nx), int64
    any_saturated : bool
        Whether any pixel needed lowering.
    """
    sat = (groupdq & SATURATED) != 0
    usable_first = ~sat[:, 0]
    skips = np.full((groupdq.shape[0],) + groupdq.shape[2:], skip, dtype=np.int64)
    index = skip + 1
    problem = sat[:, index] & usable_first
    any_saturated = bool(problem.any())
    while index >= 1 and problem.any():
        skips[problem] = np.maximum(skips[problem] - 1, 0)
        index -= 1
        problem = sat[:, index] & usable_first
    return skips, any_saturated


def flag_rscd_groups(
    groupdq: np.ndarray,
    pixeldq: np.ndarray,
    *,
    skip_int1: int,
    skip_int2p: int,
    nints_total: int,
    first_integration: int = 1,
    pixel_masks: bool = False,
) -> RscdResult:
    """Flag the leading RSCD groups DO_NOT_USE.

    Parameters
    ----------
    groupdq : ndarray, shape (nints, ngroups, ny, nx), uint8
        Group DQ (SATURATED flags drive the per-pixel lowering).
    pixeldq : ndarray, shape (ny, nx), uint32
        Pixel DQ; pixels whose flagged groups were lowered get FLUX_ESTIMATED.
    skip_int1, skip_int2p : int
        Groups to flag in integration 1 and later ones, already limited with
        :func:`effective_skips`.
    nints_total : int
        NINTS of the whole exposure (a segment may hold fewer).
    first_integration : int
        1-based exposure index of the first integration in ``groupdq`` (INTSTART).
    pixel_masks : bool
        Also return the per-pixel masks behind the counts (``RscdResult.masks``),
        for callers that process the exposure in parts and count at the end; the
        per-label log lines are then left to the caller.

    Returns
    -------
    RscdResult

    Raises
    ------
    ValueError
        If a skip leaves no group after it, or the shapes disagree.
    """
    if groupdq.ndim != 4 or pixeldq.shape != groupdq.shape[2:]:
        raise ValueError(
            f"groupdq {groupdq.shape} / pixeldq {pixeldq.shape}: expected (nints, ngroups, ny, "
            "nx) and (ny, nx)"
        )
    ngroups = groupdq.shape[1]
    for name, value in (("skip_int1", skip_int1), ("skip_int2p", skip_int2p)):
        if not 0 <= value <= ngroups - 2:
            raise ValueError(f"{name}={value}; expected 0 <= {name} <= ngroups - 2 = {ngroups - 2}")
    gdq = groupdq.copy()
    pdq = pixeldq.copy()
    counts = {}
    masks = {} if pixel_masks else None
    blocks = []
    if first_integration == 1:
        blocks.append(("int1", slice(0, 1), skip_int1))
    if nints_total > 1:
        start = 1 if first_integration == 1 else 0
        blocks.append(("int2p", slice(start, gdq.shape[0]), skip_int2p))
    group_index = np.arange(ngroups)[None, :, None, None]
    for label, ints, skip in blocks:
        block = gdq[ints]
        if block.shape[0] == 0:
            counts[label] = (0, 0)
            continue
        skips, any_saturated = _per_pixel_skips(block, skip)
        lowered = np.any(skips < skip, axis=0)
        pdq[lowered] |= np.uint32(FLUX_ESTIMATED)
        # as recorded by the official step (INT1UGP1/INT2UGP1): counted only when some
        # pixel needed lowering
        one_group = np.any(skips == 0, axis=0) if any_saturated else np.zeros_like(lowered)
        counts[label] = (int(lowered.sum()), int(one_group.sum()))
        if masks is not None:
            sat = (block & SATURATED) != 0
            saturated_next = np.any(sat[:, skip + 1] & ~sat[:, 0], axis=0)
            masks[label] = (lowered, np.any(skips == 0, axis=0), saturated_next)
        mask = group_index < skips[:, None]
        block[mask] |= np.uint8(DO_NOT_USE)
        gdq[ints] = block
        if masks is None:
            log.info(
                "RSCD %s: flagged %d leading group(s); lowered for saturation in %d pixel(s)",
                label, skip, counts[label][0],
            )  # fmt: skip
    lo1, one1 = counts.get("int1", (0, 0))
    lo2, one2 = counts.get("int2p", (0, 0))
    return RscdResult(gdq, pdq, skip_int1, skip_int2p, lo1, lo2, one1, one2, masks)
