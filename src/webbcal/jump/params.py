"""Parameters and result container of the jump-detection kernel.

Every algorithm parameter of the JWST ``jump`` step is declared once here, with
the same name, type and default as the official step (jwst 3.0), its help text,
bounds and unit: the step's parameters are generated from these fields
(:func:`webbcal.stpipe.params.dataclass_params`). The runtime option
``maximum_cores`` is not an algorithm parameter and is declared by the step.

References
----------
JWST Science Calibration Pipeline documentation, "Jump Detection" step
description (jwst-pipeline.readthedocs.io, ``jump`` package).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..stpipe.params import dataclass_params, param_field

__all__ = ["JumpParameters", "JumpResult"]


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

    rejection_threshold: float = param_field(4.0, "Jump sigma threshold", minimum=0, unit="sigma")
    three_group_rejection_threshold: float = param_field(
        6.0, "Threshold for 3-group ramps", minimum=0, unit="sigma"
    )
    four_group_rejection_threshold: float = param_field(
        5.0, "Threshold for 4-group ramps", minimum=0, unit="sigma"
    )
    flag_4_neighbors: bool = param_field(
        True, "Flag the four perpendicular neighbours of each jump"
    )
    max_jump_to_flag_neighbors: float = param_field(
        1000.0,
        "Largest jump significance that triggers neighbour flagging",
        minimum=0,
        unit="sigma",
    )
    min_jump_to_flag_neighbors: float = param_field(
        10.0, "Smallest jump significance that triggers neighbour flagging", minimum=0, unit="sigma"
    )
    after_jump_flag_dn1: float = param_field(
        0.0, "1st: jumps above this flag later groups", minimum=0, unit="DN"
    )
    after_jump_flag_time1: float = param_field(
        0.0, "1st: time after a jump that is flagged", minimum=0, unit="s"
    )
    after_jump_flag_dn2: float = param_field(
        0.0, "2nd: jumps above this flag later groups", minimum=0, unit="DN"
    )
    after_jump_flag_time2: float = param_field(
        0.0, "2nd: time after a jump that is flagged", minimum=0, unit="s"
    )
    expand_large_events: bool = param_field(False, "Flag snowballs (near-infrared large events)")
    min_sat_area: float = param_field(
        1.0, "Minimum area of a snowball's saturated core", minimum=0, unit="pixels"
    )
    min_jump_area: float = param_field(
        5.0, "Minimum jump area that starts large-event processing", minimum=0, unit="pixels"
    )
    expand_factor: float = param_field(
        2.0, "Expansion factor of the enclosing circle or ellipse", minimum=0
    )
    use_ellipses: bool = param_field(False, "Deprecated; kept for parameter-file compatibility")
    sat_required_snowball: bool = param_field(True, "Require a saturated core for snowballs")
    min_sat_radius_extend: float = param_field(
        2.5, "Minimum core radius to extend the core", minimum=0, unit="pixels"
    )
    sat_expand: int = param_field(
        2, "Pixels added to the radius of a snowball core", minimum=0, unit="pixels"
    )
    edge_size: int = param_field(
        25, "Distance from the edge where no saturated core is required", minimum=0, unit="pixels"
    )
    mask_snowball_core_next_int: bool = param_field(
        True, "Flag snowball cores in the next integration"
    )
    snowball_time_masked_next_int: int = param_field(
        4000,
        "Time after a snowball over which its core is flagged in the next integration",
        minimum=0,
        unit="s",
    )
    find_showers: bool = param_field(False, "Flag MIRI cosmic-ray showers")
    max_shower_amplitude: float = param_field(
        4.0, "Largest MIRI shower amplitude", minimum=0, unit="DN/s"
    )
    extend_snr_threshold: float = param_field(
        1.2, "Minimum SNR of extended shower emission", minimum=0
    )
    extend_min_area: int = param_field(
        90, "Minimum area of shower emission after convolution", minimum=0, unit="pixels"
    )
    extend_inner_radius: float = param_field(
        1.0, "Inner radius of the ring convolution kernel", minimum=0, unit="pixels"
    )
    extend_outer_radius: float = param_field(
        2.6, "Outer radius of the ring convolution kernel", minimum=0, unit="pixels"
    )
    extend_ellipse_expand_ratio: float = param_field(
        1.1, "Expansion of the ellipse fit to showers", minimum=0
    )
    time_masked_after_shower: float = param_field(
        15.0, "Time flagged as jump after a shower", minimum=0, unit="s"
    )
    min_diffs_single_pass: int = param_field(
        10, "Minimum number of differences to flag all jumps in one pass", minimum=0
    )
    max_extended_radius: int = param_field(
        200, "Largest radius of a snowball or shower", minimum=0, unit="pixels"
    )
    minimum_groups: int = param_field(3, "Fewest groups needed for jump detection", minimum=1)
    minimum_sigclip_groups: int = param_field(
        100,
        "Number of differences from which sigma clipping across integrations is used",
        minimum=1,
    )
    only_use_ints: bool = param_field(
        True, "In sigma clipping compare each group only across integrations"
    )

    def __post_init__(self) -> None:
        for p in dataclass_params(type(self)):
            value = getattr(self, p.name)
            if p.type is float:
                ok = isinstance(value, int | float | np.integer | np.floating) and not isinstance(
                    value, bool
                )
            elif p.type is int:
                ok = isinstance(value, int | np.integer) and not isinstance(value, bool)
            else:
                ok = isinstance(value, bool | np.bool_)
            if not ok:
                raise ValueError(f"{p.name}={value!r}: expected a {p.type.__name__}")
            if p.minimum is not None and not (math.isfinite(value) and value >= p.minimum):
                raise ValueError(f"{p.name}={value!r}: expected a finite value >= {p.minimum:g}")
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
