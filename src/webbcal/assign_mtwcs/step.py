"""The ``assign_mtwcs`` step adapter: a common moving-target frame for the exposures."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from ..stpipe import Param, Step
from .moving_target import add_moving_target_frame, mean_position

__all__ = ["AssignMTWcsStep"]

log = logging.getLogger(__name__)


def _name(model: Any) -> str:
    return getattr(model.meta, "filename", None) or "<model>"


def _target_position(model: Any) -> tuple[float | None, float | None]:
    """MT_RA/MT_DEC of an exposure (of its first slit for a multi-slit product)."""
    slits = getattr(model, "slits", None)
    info = slits[0].meta.wcsinfo if slits is not None and len(slits) else model.meta.wcsinfo
    return getattr(info, "mt_ra", None), getattr(info, "mt_dec", None)


def _has_all_positions(model: Any) -> bool:
    slits = getattr(model, "slits", None)
    infos = [s.meta.wcsinfo for s in slits] if slits is not None and len(slits) else [
        model.meta.wcsinfo]  # fmt: skip
    return all(getattr(i, "mt_ra", None) is not None and getattr(i, "mt_dec", None) is not None
               for i in infos)  # fmt: skip


class AssignMTWcsStep(Step):
    """Give moving-target exposures a common target frame (official alias ``assign_mtwcs``).

    The input is a library of calibrated exposures of a moving target (or one exposure).
    The mean of the science exposures' target positions (``MT_RA``, ``MT_DEC``) is
    recorded as ``MT_AVRA``/``MT_AVDEC``, and each science exposure's WCS (of each slit
    of a multi-slit product) gains a ``moving_target`` output frame
    (:func:`~webbcal.assign_mtwcs.moving_target.add_moving_target_frame`); S_REGION of
    imaging exposures is recomputed from the new WCS. When an exposure lacks
    ``MT_RA``/``MT_DEC`` the step is skipped with a warning.

    Differences from the official step, by design: a skipped run records
    ``S_MTWCS = SKIPPED`` (officially COMPLETE is written over it); the mean RA is taken
    across RA = 0/360 when the positions straddle it (elsewhere it is the same plain mean).

    References
    ----------
    JWST pipeline documentation, ``assign_mtwcs`` step.
    """

    class_alias = "assign_mtwcs"
    cal_step_name = "assign_mtwcs"
    library_mode = "library"
    records_member_status = True  # SKIPPED members without MT_RA/MT_DEC
    spec = (
        Param("suffix", str, "assign_mtwcs", "Suffix of the saved result"),
    )  # fmt: skip

    def required_reference_types(self) -> tuple[str, ...]:
        return ()

    def process(self, model: Any) -> Any:
        """Add the moving-target frame to the science exposures; return a new library."""
        from ..datamodels import ModelLibrary

        library = model if isinstance(model, ModelLibrary) else ModelLibrary([model])
        science = library.indices("science")
        positions = []
        with library:
            for index in science:
                member = library.borrow(index)
                try:
                    if not _has_all_positions(member):
                        positions = None
                        break
                    positions.append(_target_position(member))
                finally:
                    library.shelve(member, index, modify=False)
        results = library.derived()
        if not positions:
            log.warning("One or more MT RA/Dec values missing in input images.")
            log.warning("Step will be skipped, resulting in target misalignment.")
            for index in range(len(library)):
                copy = library.copy_of(index)
                copy.meta.cal_step.assign_mtwcs = "SKIPPED"
                results.add_result(index, copy)
            return results
        ra, dec = np.array(positions, dtype=np.float64).T
        mean_ra, mean_dec = mean_position(ra, dec)
        log.info("Mean moving-target position: RA=%.9f Dec=%.9f (%d exposures)", mean_ra,
                 mean_dec, len(science))  # fmt: skip
        for index in range(len(library)):
            copy = library.copy_of(index)
            if index in science:
                _retarget(copy, mean_ra, mean_dec)
            copy.meta.cal_step.assign_mtwcs = "COMPLETE"
            results.add_result(index, copy)
        return results


def _retarget(model: Any, mean_ra: float, mean_dec: float) -> None:
    from ..assign_wcs.imaging import IMAGING_EXP_TYPES
    from ..wcs import s_region_from_wcs

    slits = getattr(model, "slits", None)
    holders = list(slits) if slits is not None and len(slits) else [model]
    for holder in holders:
        info = holder.meta.wcsinfo
        holder.meta.wcs = add_moving_target_frame(
            holder.meta.wcs, mean_ra, mean_dec, float(info.mt_ra), float(info.mt_dec)
        )
        info.mt_avra = mean_ra
        info.mt_avdec = mean_dec
    exp_type = (model.meta.exposure.type or "").lower()
    if exp_type in IMAGING_EXP_TYPES:
        model.meta.wcsinfo.s_region = s_region_from_wcs(model.meta.wcs)
        log.info("Updated S_REGION of %s to %s", _name(model), model.meta.wcsinfo.s_region)
