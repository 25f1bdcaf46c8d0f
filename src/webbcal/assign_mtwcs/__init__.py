"""Moving-target WCS of stage 3: the ``assign_mtwcs`` step.

Modules
-------
moving_target
    The ``moving_target`` output frame that follows the target's ephemeris.
step
    The step adapter.
"""

from .moving_target import add_moving_target_frame, is_moving_target, mean_position
from .step import AssignMTWcsStep

__all__ = ["AssignMTWcsStep", "add_moving_target_frame", "is_moving_target", "mean_position"]
