"""Parameters and result container of the jump-detection kernel.

Every algorithm parameter of the JWST ``jump`` step is declared once here, with
the same name, type and default as the official step (jwst 3.0). The runtime
option ``maximum_cores`` is not an algorithm parameter and is not declared.

References
----------
JWST Science Calibration Pipeline documentation, "Jump Detection" step
description (jwst-pipeline.readthedocs.io, ``jump`` package).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

__all__ = ["JumpParameters", "JumpResult"]

_NON_NEGATIVE = (
    "rejection_threshold",
    "three_group_rejection_threshold",
    "four_group_rejection_threshold",
    "max_jump_to_flag_neighbors",
    "min_jump_to_flag_neighbors",
    "after_jump_flag_dn1",
    "after_jump_flag_time1",
    "after_jump_flag_dn2",
    "after_jump_flag_time2",
    "min_sat_area",
    "min_jump_area",
    "expand_factor",
    "min_sat_radius_extend",
    "sat_expand",
    "edge_size",
    "snowball_time_masked_next_int",
    "max_shower_amplitude",
    "extend_snr_threshold",
    "extend_min_area",
    "extend_inner_radius",
    "extend_outer_radius",
    "extend_ellipse_expand_ratio",
    "time_masked_after_shower",
    "min_diffs_single_pass",
    "max_extended_radius",
    "minimum_groups",
    "minimum_sigclip_groups",
)


@dataclass(frozen=True)
class JumpParameters:
    """Algorithm parameters of the jump step (names and defaults of jwst 3.0).

    Attributes
    ----------
    rejection_threshold : float
        Detection threshold in sigma for ramps with 4 or more usable
        differences (5 or more groups).
    three_group_rejection_threshold : float
        Threshold in sigma when a pixel has 2 usable differences (3 groups).
    four_group_rejection_threshold : float
        Threshold in sigma when a pixel has 3 usable differences (4 groups).
    flag_4_neighbors : bool
        Also flag the four edge-sharing neighbours of each jump whose
        significance lies between ``min_jump_to_flag_neighbors`` and
        ``max_jump_to_flag_neighbors``.
    max_jump_to_flag_neighbors, min_jump_to_flag_neighbors : float
        Significance range (sigma, exclusive) that triggers neighbour flagging.
    after_jump_flag_dn1, after_jump_flag_dn2 : float
        Jump amplitude (DN) above which later groups are flagged too.
    after_jump_flag_time1, after_jump_flag_time2 : float
        Time (s) after such a jump during which groups are flagged.
    expand_large_events : bool
        Flag snowballs (near-IR large events).
    min_sat_area : float
        Minimum area (pixels) of a newly saturated core.
    min_jump_area : float
        Minimum area (pixels) of a jump region to be a snowball candidate.
    expand_factor : float
        Factor by which snowball ellipses are enlarged.
    use_ellipses : bool
        Deprecated in the official pipeline; accepted and ignored.
    sat_required_snowball : bool
        Require a saturated core inside the jump region.
    min_sat_radius_extend : float
        Minimum core axis length (pixels) for the saturated core to be grown.
    sat_expand : int
        Pixels added to the radius of grown saturated cores.
    edge_size : int
        Distance (pixels) from the edge within which no saturated core is
        required.
    mask_snowball_core_next_int : bool
        Flag the snowball cores in the following integration.
    snowball_time_masked_next_int : int
        Time (s) over which the cores are flagged in the next integration.
    find_showers : bool
        Flag MIRI cosmic-ray showers (faint extended emission).
    max_shower_amplitude : float
        Maximum change of a pixel's mean rate (DN/s) that shower flagging may
        cause; pixels changing more get their flags reverted.
    extend_snr_threshold : float
        Smoothed signal-to-noise threshold of shower detection.
    extend_min_area : int
        Minimum area (pixels) of a shower.
    extend_inner_radius, extend_outer_radius : float
        Inner radius and width (pixels) of the ring smoothing kernel.
    extend_ellipse_expand_ratio : float
        Factor by which shower ellipses are enlarged.
    time_masked_after_shower : float
        Time (s) after a shower during which its ellipse stays flagged.
    min_diffs_single_pass : int
        Minimum usable differences to flag all outliers in one pass instead
        of iteratively.
    max_extended_radius : int
        Maximum radius (pixels) of an enlarged snowball or shower.
    minimum_groups : int
        Minimum usable groups for the two-point method.
    minimum_sigclip_groups : int
        Minimum integrations (or groups, see ``only_use_ints``) to switch to
        sigma clipping across integrations.
    only_use_ints : bool
        In sigma clipping, compare a difference only with the same difference
        in the other integrations.
    """

    rejection_threshold: float = 4.0
    three_group_rejection_threshold: float = 6.0
    four_group_rejection_threshold: float = 5.0
    flag_4_neighbors: bool = True
    max_jump_to_flag_neighbors: float = 1000.0
    min_jump_to_flag_neighbors: float = 10.0
    after_jump_flag_dn1: float = 0.0
    after_jump_flag_time1: float = 0.0
    after_jump_flag_dn2: float = 0.0
    after_jump_flag_time2: float = 0.0
    expand_large_events: bool = False
    min_sat_area: float = 1.0
    min_jump_area: float = 5.0
    expand_factor: float = 2.0
    use_ellipses: bool = False
    sat_required_snowball: bool = True
    min_sat_radius_extend: float = 2.5
    sat_expand: int = 2
    edge_size: int = 25
    mask_snowball_core_next_int: bool = True
    snowball_time_masked_next_int: int = 4000
    find_showers: bool = False
    max_shower_amplitude: float = 4.0
    extend_snr_threshold: float = 1.2
    extend_min_area: int = 90
    extend_inner_radius: float = 1.0
    extend_outer_radius: float = 2.6
    extend_ellipse_expand_ratio: float = 1.1
    time_masked_after_shower: float = 15.0
    min_diffs_single_pass: int = 10
    max_extended_radius: int = 200
    minimum_groups: int = 3
    minimum_sigclip_groups: int = 100
    only_use_ints: bool = True

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type == "float":
                ok = isinstance(value, int | float | np.integer | np.floating) and not isinstance(
                    value, bool
                )
            elif f.type == "int":
                ok = isinstance(value, int | np.integer) and not isinstance(value, bool)
            else:
                ok = isinstance(value, bool | np.bool_)
            if not ok:
                raise ValueError(f"{f.name}={value!r}: expected a {f.type}")
            if f.name in _NON_NEGATIVE and not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{f.name}={value!r}: expected a finite value >= 0")
        if self.min_jump_to_flag_neighbors > self.max_jump_to_flag_neighbors:
            raise ValueError(
                f"min_jump_to_flag_neighbors={self.min_jump_to_flag_neighbors!r}: expected "
                f"<= max_jump_to_flag_neighbors={self.max_jump_to_flag_neighbors!r}"
            )


@dataclass(frozen=True)
class JumpResult:
    """Output of :func:`webbcal.jump.twopoint.detect_jumps`.

    Attributes
    ----------
    groupdq : ndarray, shape (nints, ngroups, ny, nx), uint8
        New group DQ array with ``JUMP_DET`` (and for snowball cores
        ``SATURATED``) set.
    pixeldq : ndarray, shape (ny, nx), uint32
        New pixel DQ array; pixels with a non-positive or NaN gain get
        ``NO_GAIN_VALUE | DO_NOT_USE``.
    n_jumps : int
        Number of primary jump detections (group-pixels flagged by the
        two-point method before neighbour and after-jump flagging).
    n_extended : int
        Number of snowballs, or of showers when shower flagging ran.
    skipped : bool
        True when the two-point detection was skipped because too few
        usable groups were available (the caller should log this).
    """

    groupdq: np.ndarray
    pixeldq: np.ndarray
    n_jumps: int
    n_extended: int
    skipped: bool = False
