"""The moving-target frame: sky coordinates that follow a moving target.

Exposures of a solar-system target are pointed at the target's ephemeris position at each
exposure's time (``MT_RA``, ``MT_DEC``), so the stars move between exposures and the target
does not. To combine such exposures in the target's frame, each exposure's WCS gains a last
frame, ``moving_target``, in which sky coordinates are shifted by the difference between
the mean target position over the exposures (``MT_AVRA``, ``MT_AVDEC``) and the target's
position in that exposure: the target then has the same coordinates in every exposure.

References
----------
JWST pipeline documentation, ``assign_mtwcs`` step ("Description").
"""

from __future__ import annotations

from copy import deepcopy

import numpy as np

__all__ = ["MOVING_TARGET_FRAME", "add_moving_target_frame", "is_moving_target", "mean_position"]

#: Name of the added output frame (the official one).
MOVING_TARGET_FRAME = "moving_target"


def is_moving_target(model) -> bool:
    """Whether an exposure observes a moving target (``TARGTYPE`` = ``MOVING``)."""
    target_type = getattr(getattr(model.meta, "target", None), "type", None)
    return isinstance(target_type, str) and target_type.strip().lower() == "moving"


def mean_position(ra, dec) -> tuple[float, float]:
    """Mean of target positions, degrees, across the RA = 0/360 boundary.

    Parameters
    ----------
    ra, dec : array_like, shape (n,), float
        Target positions (``MT_RA``, ``MT_DEC``), degrees, n >= 1.

    Returns
    -------
    tuple of float
        ``(mean RA, mean Dec)``: RA in [0, 360). Away from RA = 0 this is the plain
        arithmetic mean (the official definition); across it, RAs are first taken
        within 180 degrees of the first one.

    Raises
    ------
    ValueError
        If there is no position or a value is not finite.
    """
    ra = np.asarray(ra, dtype=np.float64)
    dec = np.asarray(dec, dtype=np.float64)
    if ra.size == 0 or ra.shape != dec.shape or not np.all(np.isfinite(ra) & np.isfinite(dec)):
        raise ValueError(f"target positions: expected finite RA/Dec pairs, got {ra!r}, {dec!r}")
    unwrapped = ra[0] + (ra - ra[0] + 180.0) % 360.0 - 180.0
    if np.array_equal(unwrapped, ra):
        mean_ra = float(ra.mean())
    else:
        mean_ra = float(unwrapped.mean() % 360.0)
    return mean_ra, float(dec.mean())


def add_moving_target_frame(wcs, mean_ra: float, mean_dec: float, mt_ra: float, mt_dec: float):
    """A copy of ``wcs`` with a last ``moving_target`` frame.

    Parameters
    ----------
    wcs : gwcs.WCS
        WCS whose output frame is celestial (imaging) or celestial + spectral. Not
        modified.
    mean_ra, mean_dec : float
        Mean target position over the exposures, degrees.
    mt_ra, mt_dec : float
        Target position at this exposure, degrees.

    Returns
    -------
    gwcs.WCS
        Pipeline ``... -> world -> moving_target``: world coordinates shifted by
        (``mean_ra - mt_ra``, ``mean_dec - mt_dec``) degrees; a spectral axis passes
        unchanged.

    Raises
    ------
    TypeError
        If the output frame is neither celestial nor composite.
    """
    from astropy.modeling.models import Identity, Shift
    from gwcs import WCS
    from gwcs import coordinate_frames as cf

    world = wcs.output_frame
    target = deepcopy(world)
    target.name = MOVING_TARGET_FRAME
    shift = Shift(mean_ra - mt_ra) & Shift(mean_dec - mt_dec)
    if isinstance(world, cf.CompositeFrame):
        shift = shift & Identity(1)
    elif not isinstance(world, cf.CelestialFrame):
        raise TypeError(
            f"WCS output frame {world.name!r} is a {type(world).__name__}; expected a "
            "CelestialFrame or CompositeFrame"
        )
    steps = [(step.frame, step.transform) for step in wcs.pipeline[:-1]]
    steps += [(world, shift), (target, None)]
    return WCS(steps)
