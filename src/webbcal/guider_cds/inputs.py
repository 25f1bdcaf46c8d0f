"""Opening FGS guider exposures (GuiderRawModel) with clear errors."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..datamodels import InputError, open_model

__all__ = ["GUIDER_EXP_TYPES", "is_guider", "open_guider_input"]

#: EXP_TYPE values of guider exposures (processed by calwebb_guider).
GUIDER_EXP_TYPES = (
    "FGS_ACQ1", "FGS_ACQ2", "FGS_TRACK", "FGS_FINEGUIDE", "FGS_ID-IMAGE", "FGS_ID-STACK",
)  # fmt: skip


def is_guider(model: Any) -> bool:
    """Whether ``model``'s EXP_TYPE is a guider exposure type."""
    return (getattr(model.meta.exposure, "type", None) or "").upper() in GUIDER_EXP_TYPES


def open_guider_input(source: Any, *, calibrated: bool = False) -> Any:
    """Open a guider exposure and check it can be calibrated.

    Parameters
    ----------
    source : str, os.PathLike or DataModel
        A raw guider exposure (``_uncal``, opened as GuiderRawModel), or with
        ``calibrated`` a GuiderCalModel.
    calibrated : bool
        Open as GuiderCalModel (input of flat_field alone).

    Returns
    -------
    GuiderRawModel or GuiderCalModel

    Raises
    ------
    InputError
        If EXP_TYPE is not a guider type, or the raw SCI array is not 4-D with at
        least 2 groups (and 2 integrations for ID exposures), or TGROUP is missing.
    """
    from stdatamodels.jwst import datamodels as dm

    cls = dm.GuiderCalModel if calibrated else dm.GuiderRawModel
    if isinstance(source, (str, os.PathLike)):
        model = open_model(source, model_class=cls)
        name = os.fspath(source)
    else:
        model = source if isinstance(source, cls) else _convert(source, cls)
        name = getattr(model.meta, "filename", None) or "<in-memory model>"
    exp_type = (model.meta.exposure.type or "").upper()
    if exp_type not in GUIDER_EXP_TYPES:
        raise InputError(
            f"{name}: EXP_TYPE={model.meta.exposure.type!r}; calwebb_guider needs a guider "
            f"exposure ({', '.join(GUIDER_EXP_TYPES)})"
        )
    if calibrated:
        return model
    shape = np.shape(model.data)
    if len(shape) != 4:
        raise InputError(f"{name}: SCI has shape {shape}; expected 4-D (nints, ngroups, ny, nx)")
    nints, ngroups = shape[:2]
    if ngroups < 2:
        raise InputError(
            f"{name}: {exp_type} exposure has NGROUPS={ngroups}; guider_cds needs at least 2 "
            "groups (a count rate is a difference of groups)"
        )
    if exp_type.startswith("FGS_ID") and nints < 2:
        raise InputError(
            f"{name}: {exp_type} exposure has {nints} integration(s); expected 2 (the rate is "
            "the smaller of the two integrations' differences)"
        )
    tgroup = model.meta.exposure.group_time
    if tgroup is None or not tgroup > 0:
        raise InputError(f"{name}: TGROUP={tgroup!r}; expected the group time in seconds (> 0)")
    return model


def _convert(model: Any, cls: type) -> Any:
    try:
        out = cls(model)
    except Exception as exc:  # stdatamodels raises many types for unconvertible models
        raise InputError(f"cannot use a {type(model).__name__} as {cls.__name__}: {exc}") from None
    return out
