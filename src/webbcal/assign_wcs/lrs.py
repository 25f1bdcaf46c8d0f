"""Assign the WCS of a MIRI LRS slitless exposure (``MIR_LRS-SLITLESS``).

:func:`assign_lrs_slitless_wcs` is the model-level work of the ``assign_wcs`` step for
LRS slitless data: it reads the ``specwcs`` (LRS trace table) and ``distortion``
references, checks that they belong to the exposure, builds the gwcs object with
:func:`webbcal.wcs.lrs.lrs_slitless_wcs`, and records ``meta.wcs``, the wavelength of
every pixel (``wavelength``, as the official step does for this mode), S_REGION (from the
bounding box), SPECSYS=BARYCENT and DISPAXIS=2.

References
----------
JWST pipeline documentation, ``assign_wcs`` ("MIRI LRS"); reference files ``specwcs``
(MIRI LRS) and ``distortion``.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np

from ..lib.reffiles import ReferenceFileError, load_reference
from ..wcs import s_region_from_wcs
from ..wcs.lrs import LrsTraceTable, LrsWcsError, lrs_slitless_wcs, lrs_wavelength_map
from .imaging import (
    AssignWcsError,
    check_exposure_keywords,
    pointing_and_distortion,
)

__all__ = ["LRS_EXP_TYPES", "assign_lrs_slitless_wcs", "read_lrs_specwcs"]

log = logging.getLogger(__name__)

#: EXP_TYPEs whose WCS this module builds.
LRS_EXP_TYPES = frozenset({"MIR_LRS-SLITLESS"})

_TABLE_COLUMNS = ("x_center", "y_center", "wavelength", "y0", "y2")


def _name(model: Any) -> str:
    return getattr(model.meta, "filename", None) or "<in-memory model>"


def read_lrs_specwcs(path: str, model: Any) -> LrsTraceTable:
    """Read and check a MIRI LRS ``specwcs`` reference for a slitless exposure.

    Parameters
    ----------
    path : str
        The reference (FITS ``MiriLRSSpecwcsModel``: WAVETABLE extension, IMXSLTL/IMYSLTL).
    model : DataModel
        The exposure (for INSTRUME/DETECTOR checks and messages). Not modified.

    Returns
    -------
    LrsTraceTable

    Raises
    ------
    AssignWcsError
        If the reference declares another EXP_TYPE, lacks the WAVETABLE columns or the
        slitless reference position, or its table is unusable.
    ReferenceFileError
        If the file cannot be opened or belongs to another instrument or detector.
    """
    from stdatamodels.jwst.datamodels import MiriLRSSpecwcsModel

    fname = os.path.basename(path)
    exp_type = (model.meta.exposure.type or "").upper()
    try:
        ref = load_reference(path, MiriLRSSpecwcsModel, model)
    except ReferenceFileError:
        raise
    except Exception as exc:  # stdatamodels raises several types for a wrong file
        raise AssignWcsError(
            f"{fname}: cannot be read as a MIRI LRS specwcs reference ({exc}); expected a FITS "
            "file with a WAVETABLE extension"
        ) from None
    try:
        declared = {v.strip().upper() for v in str(ref.meta.exposure.p_exptype or "").split("|")}
        declared |= {str(ref.meta.exposure.type or "").strip().upper()}
        declared -= {"", "NONE", "N/A", "ANY"}
        if declared and exp_type not in declared:
            raise AssignWcsError(
                f"{fname}: specwcs reference for EXP_TYPE in {sorted(declared)}, but "
                f"{_name(model)} has EXP_TYPE={exp_type!r}; expected the MIRI LRS specwcs "
                "(a reference of another mode was given)"
            )
        table = ref.wavetable if ref.hasattr("wavetable") else None
        names = set(n.lower() for n in table.dtype.names) if table is not None else set()
        missing = [c for c in _TABLE_COLUMNS if c not in names]
        if table is None or missing:
            raise AssignWcsError(
                f"{fname}: WAVETABLE is missing or lacks columns {missing}; expected the "
                "MIRI LRS trace table (x_center, y_center, wavelength, x0..y3)"
            )
        cols = {n.lower(): np.asarray(table[n], dtype=np.float64) for n in table.dtype.names}
        x_ref, y_ref = ref.meta.x_ref_slitless, ref.meta.y_ref_slitless
        if x_ref is None or y_ref is None:
            raise AssignWcsError(
                f"{fname}: keywords IMXSLTL={x_ref!r}, IMYSLTL={y_ref!r}; expected the slitless "
                "reference position (1-based full-frame pixels)"
            )
        try:
            return LrsTraceTable(
                x_center=cols["x_center"], y_center=cols["y_center"],
                wavelength=cols["wavelength"], y0=cols["y0"], y2=cols["y2"],
                x_ref=x_ref, y_ref=y_ref,
            )  # fmt: skip
        except LrsWcsError as exc:
            raise AssignWcsError(f"{fname}: {exc}") from None
    finally:
        ref.close()


def assign_lrs_slitless_wcs(model: Any, distortion_path: str, specwcs_path: str) -> Any:
    """Give a MIRI LRS slitless exposure its spectral WCS, in place.

    Parameters
    ----------
    model : stdatamodels.jwst.datamodels.CubeModel or ImageModel
        ``_rateints`` / ``_rate`` of EXP_TYPE ``MIR_LRS-SLITLESS`` with pointing keywords.
        Modified: ``meta.wcs``, ``wavelength`` (float32, (ny, nx), micron, NaN outside
        the trace), ``meta.wcsinfo.s_region``, ``specsys``, ``dispersion_direction``.
    distortion_path : str
        MIRI imager ``distortion`` reference (ASDF).
    specwcs_path : str
        MIRI LRS ``specwcs`` reference (FITS).

    Returns
    -------
    DataModel
        ``model``.

    Raises
    ------
    AssignWcsError
        On missing keywords, references of another mode, or a reference position
        outside the subarray.
    ReferenceFileError
        If a reference cannot be read.

    References
    ----------
    JWST pipeline documentation, ``assign_wcs`` ("MIRI LRS").
    """

    instrument, exp_type = check_exposure_keywords(model)
    if exp_type not in LRS_EXP_TYPES:
        raise AssignWcsError(f"{_name(model)}: EXP_TYPE={exp_type!r}; expected MIR_LRS-SLITLESS")
    pointing, distortion = pointing_and_distortion(model, distortion_path)
    table = read_lrs_specwcs(specwcs_path, model)
    sub = model.meta.subarray
    shape = tuple(np.shape(model.data)[-2:])
    velosys = getattr(model.meta.wcsinfo, "velosys", None)
    try:
        wcs = lrs_slitless_wcs(
            distortion, table, pointing, shape=shape,
            subarray_start=(sub.xstart or 1, sub.ystart or 1), velosys=velosys,
        )  # fmt: skip
    except LrsWcsError as exc:
        raise AssignWcsError(f"{_name(model)}: {exc}") from None
    if velosys is not None:
        log.info("Applied barycentric velocity correction for VELOSYS=%s m/s", velosys)
    log.info("Created a MIRI mir_lrs-slitless WCS with references distortion=%s, specwcs=%s",
             os.path.basename(distortion_path), os.path.basename(specwcs_path))  # fmt: skip
    from ..datamodels.io import assigning_checked_values

    info = model.meta.wcsinfo
    info.specsys = "BARYCENT"
    info.dispersion_direction = 2
    with assigning_checked_values(model):  # a gwcs.WCS: checked when the model is saved
        model.meta.wcs = wcs
    wavelength = lrs_wavelength_map(wcs, shape)
    if not np.any(np.isfinite(wavelength)):
        raise AssignWcsError(
            f"{_name(model)}: the trace of {os.path.basename(specwcs_path)} falls off the "
            f"{shape[1]}x{shape[0]} subarray (no pixel has a wavelength); expected a specwcs "
            "for this subarray"
        )
    with assigning_checked_values(model):  # float32 of the image's shape
        model.wavelength = wavelength.astype(np.float32)
    try:
        info.s_region = s_region_from_wcs(wcs)
    except Exception as exc:  # a footprint is informative only
        log.error("Unable to update S_REGION for type %s: %s", exp_type, exc)
    else:
        log.info("assign_wcs updated S_REGION to %s", info.s_region)
    log.info("COMPLETED assign_wcs")
    return model
