"""Opening CRDS reference files for a science exposure.

Steps use :func:`load_reference` to open a reference through stdatamodels,
check that it belongs to the science detector, and cut its arrays to the science
subarray. Failures raise :class:`ReferenceFileError` naming the file, the keyword
or extension, the value found and what was expected.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np

from .subarray import SubarrayError, SubarrayGeometry, cut_to_subarray

__all__ = [
    "ReferenceFileError",
    "geometry_of",
    "load_reference",
    "reference_array",
]

log = logging.getLogger(__name__)


class ReferenceFileError(ValueError):
    """A reference file does not fit the science exposure or is unreadable."""


def geometry_of(model: Any, *, shape: tuple[int, int] | None = None) -> SubarrayGeometry:
    """Subarray geometry from a model's SUBSTRT/SUBSIZE keywords.

    Missing keywords fall back to a full-frame array of ``shape`` (ny, nx).
    MIRI frames are 1032 x 1024; near-infrared ones 2048 x 2048.
    """
    sub = model.meta.subarray
    if shape is None:
        data = getattr(model, "data", None)
        shape = tuple(np.shape(data)[-2:]) if data is not None else (2048, 2048)
    ny, nx = shape
    instrument = (getattr(model.meta.instrument, "name", "") or "").upper()
    full_nx, full_ny = (1032, 1024) if instrument == "MIRI" else (2048, 2048)
    return SubarrayGeometry(
        xstart=int(sub.xstart) if sub.xstart is not None else 1,
        ystart=int(sub.ystart) if sub.ystart is not None else 1,
        xsize=int(sub.xsize) if sub.xsize is not None else nx,
        ysize=int(sub.ysize) if sub.ysize is not None else ny,
        full_nx=full_nx,
        full_ny=full_ny,
    )


def load_reference(path: str, model_class: type, science: Any) -> Any:
    """Open a reference file and check that it belongs to the science exposure.

    Parameters
    ----------
    path : str
        Reference file path.
    model_class : type
        stdatamodels reference model class (e.g. ``SuperBiasModel``).
    science : DataModel
        The science exposure.

    Returns
    -------
    DataModel
        The open reference model.

    Raises
    ------
    ReferenceFileError
        If the file cannot be opened as ``model_class`` or its DETECTOR or
        INSTRUME differs from the science exposure's.
    """
    name = os.path.basename(path)
    try:
        ref = model_class(path)
    except Exception as exc:
        raise ReferenceFileError(
            f"{path}: cannot be read as a {model_class.__name__} reference file: {exc}"
        ) from None
    sci_inst = (science.meta.instrument.name or "").upper()
    ref_inst = (getattr(ref.meta.instrument, "name", None) or "").upper()
    if ref_inst and sci_inst and ref_inst != sci_inst:
        raise ReferenceFileError(
            f"{name}: INSTRUME={ref_inst!r} but the science exposure is {sci_inst!r}"
        )
    sci_det = (science.meta.instrument.detector or "").upper()
    ref_det = (getattr(ref.meta.instrument, "detector", None) or "").upper()
    if ref_det and sci_det and ref_det not in ("ANY", "N/A") and ref_det != sci_det:
        raise ReferenceFileError(
            f"{name}: DETECTOR={ref_det!r} but the science exposure's DETECTOR is "
            f"{sci_det!r}; a reference for another detector cannot be applied"
        )
    return ref


def reference_array(
    ref: Any,
    attribute: str,
    science_geometry: SubarrayGeometry,
    *,
    extname: str | None = None,
    allow_nan: bool = True,
) -> np.ndarray:
    """Return a reference array cut to the science subarray.

    Parameters
    ----------
    ref : DataModel
        Open reference model.
    attribute : str
        Array attribute (``data``, ``dq``, ``coeffs``).
    science_geometry : SubarrayGeometry
        Where the science data lie on the detector.
    extname : str or None
        Extension name used in messages (defaults to the upper-cased attribute).
    allow_nan : bool
        When False, NaN values raise :class:`ReferenceFileError`.

    Raises
    ------
    ReferenceFileError
        If the array is missing, does not cover the science subarray, or holds
        NaNs where they are not allowed.
    """
    name = os.path.basename(ref.meta.filename or "reference")
    ext = extname or attribute.upper()
    arr = getattr(ref, attribute, None)
    if arr is None or np.size(arr) == 0:
        raise ReferenceFileError(f"{name}: extension {ext} is missing or empty")
    arr = np.asarray(arr)
    try:
        ref_geom = geometry_of(ref, shape=arr.shape[-2:])
        ref_geom = SubarrayGeometry(
            ref_geom.xstart, ref_geom.ystart, arr.shape[-1], arr.shape[-2],
            science_geometry.full_nx, science_geometry.full_ny,
        )  # fmt: skip
        full = (science_geometry.full_nx, science_geometry.full_ny)
        if (ref_geom.xsize, ref_geom.ysize) == full:
            ref_geom = SubarrayGeometry(1, 1, ref_geom.xsize, ref_geom.ysize,
                                        ref_geom.full_nx, ref_geom.full_ny)  # fmt: skip
        out = cut_to_subarray(arr, ref_geom, science_geometry, name=f"{name} {ext}")
    except SubarrayError as exc:
        raise ReferenceFileError(str(exc)) from None
    if not allow_nan and out.dtype.kind == "f":
        nbad = int(np.count_nonzero(np.isnan(out)))
        if nbad:
            raise ReferenceFileError(
                f"{name}: extension {ext} holds {nbad} NaN value(s) in the science region; "
                "expected finite numbers"
            )
    return out
