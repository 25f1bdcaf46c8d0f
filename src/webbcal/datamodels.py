"""Opening and saving JWST products through ``stdatamodels`` with clear errors.

Every failure to read an input is reported as :class:`InputError` naming the
file, the extension or keyword at fault, the value found and what was expected.
Products are written atomically: to a temporary file in the destination
directory that is renamed into place only when complete.
"""

from __future__ import annotations

import logging
import os
import tempfile
from typing import Any

import numpy as np

__all__ = [
    "InputError",
    "open_model",
    "open_ramp_input",
    "save_model",
    "to_ramp_model",
]

log = logging.getLogger(__name__)

#: DATAMODL values accepted as stage-1 input.
STAGE1_MODELS = ("Level1bModel", "RampModel")


class InputError(ValueError):
    """An input file or model is unreadable or not what a step expects."""


def _check_fits_file(path: str) -> None:
    if not os.path.exists(path):
        raise InputError(f"{path}: file not found")
    if os.path.isdir(path):
        raise InputError(f"{path}: is a directory, expected a FITS file")
    with open(path, "rb") as fh:
        head = fh.read(80)
    if not head.startswith(b"SIMPLE  ="):
        raise InputError(
            f"{path}: not a FITS file (first card is {head[:30]!r}, expected 'SIMPLE  =')"
        )
    size = os.path.getsize(path)
    if size % 2880 != 0:
        raise InputError(
            f"{path}: truncated FITS file ({size} bytes is not a multiple of the 2880-byte "
            "FITS block)"
        )


def open_model(source: Any, *, model_class: type | None = None) -> Any:
    """Open a JWST product as a stdatamodels model.

    Parameters
    ----------
    source : str, os.PathLike or DataModel
        File name, or an already open model (returned unchanged).
    model_class : type or None
        stdatamodels class to open as; the file's DATAMODL decides when None.

    Returns
    -------
    stdatamodels.jwst.datamodels.JwstDataModel

    Raises
    ------
    InputError
        If the file is missing, not FITS, truncated or cannot be read as a JWST product.
    """
    from stdatamodels.jwst import datamodels as dm

    if not isinstance(source, (str, os.PathLike)):
        return source
    path = os.fspath(source)
    if not path.endswith((".fits", ".fits.gz", ".fit")):
        raise InputError(f"{path}: expected a FITS product (.fits)")
    _check_fits_file(path)
    try:
        if model_class is not None:
            return model_class(path)
        return dm.open(path)
    except InputError:
        raise
    except Exception as exc:  # stdatamodels/astropy raise many types for bad files
        raise InputError(f"{path}: cannot be read as a JWST product: {exc}") from None


def _meta_name(model: Any) -> str:
    return getattr(model.meta, "filename", None) or "<in-memory model>"


def open_ramp_input(source: Any) -> Any:
    """Open stage-1 input and check it is a raw (Level 1b) or ramp product.

    Parameters
    ----------
    source : str, os.PathLike or DataModel
        An ``_uncal`` (Level1bModel) or ``_ramp`` (RampModel) product.

    Returns
    -------
    Level1bModel or RampModel

    Raises
    ------
    InputError
        If the product is of another kind (e.g. a rate image), its SCI array is
        not 4-D (nints, ngroups, ny, nx), has the wrong dtype, or required
        exposure keywords are missing or inconsistent with the data shape.
    """
    from stdatamodels.jwst import datamodels as dm

    model = open_model(source)
    name = os.fspath(source) if isinstance(source, (str, os.PathLike)) else _meta_name(model)
    if not isinstance(model, (dm.Level1bModel, dm.RampModel)):
        kind = type(model).__name__
        raise InputError(
            f"{name}: DATAMODL={kind}; calwebb_detector1 needs a Level 1b raw exposure "
            f"(_uncal.fits, DATAMODL=Level1bModel) or a RampModel"
        )
    data = model.data
    if data is None or np.ndim(data) != 4:
        shape = None if data is None else np.shape(data)
        raise InputError(
            f"{name}: SCI extension has shape {shape}; expected 4-D (nints, ngroups, ny, nx)"
        )
    if isinstance(model, dm.Level1bModel) and data.dtype.kind not in "ui":
        raise InputError(
            f"{name}: SCI dtype is {data.dtype}; a Level 1b exposure stores unsigned 16-bit DN"
        )
    exp = model.meta.exposure
    nints, ngroups, ny, nx = data.shape
    required = {
        "NGROUPS": exp.ngroups,
        "NINTS": exp.nints,
        "NFRAMES": exp.nframes,
        "GROUPGAP": exp.groupgap,
        "TFRAME": exp.frame_time,
        "TGROUP": exp.group_time,
        "INSTRUME": model.meta.instrument.name,
        "DETECTOR": model.meta.instrument.detector,
        "EXP_TYPE": exp.type,
        "READPATT": exp.readpatt,
    }
    missing = [k for k, v in required.items() if v is None]
    if missing:
        raise InputError(f"{name}: missing required keyword(s) {', '.join(missing)}")
    if exp.ngroups != ngroups:
        raise InputError(f"{name}: NGROUPS={exp.ngroups} but the SCI array has {ngroups} groups")
    seg_ints = _segment_nints(model)
    if exp.nints != nints and seg_ints != nints:
        raise InputError(f"{name}: NINTS={exp.nints} but the SCI array has {nints} integrations")
    sub = model.meta.subarray
    if sub.xsize is not None and sub.ysize is not None and (sub.ysize, sub.xsize) != (ny, nx):
        raise InputError(
            f"{name}: SUBSIZE2 x SUBSIZE1 = {sub.ysize} x {sub.xsize} but the SCI array is "
            f"{ny} x {nx}"
        )
    return model


def _segment_nints(model: Any) -> int | None:
    """Number of integrations in this segment of a split exposure, if declared."""
    exp = model.meta.exposure
    start = getattr(exp, "integration_start", None)
    end = getattr(exp, "integration_end", None)
    if start is None or end is None:
        return None
    return int(end) - int(start) + 1


def save_model(model: Any, path: str) -> str:
    """Write a model to ``path`` atomically and return the path.

    The product is written to a temporary file in the same directory and renamed
    into place, so a failure never leaves a partial product.
    """
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp_webbcal_", suffix=".fits", dir=directory)
    os.close(fd)
    try:
        model.meta.filename = os.path.basename(path)
        model.save(tmp, overwrite=True)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    log.info("Saved %s", path)
    return path


def to_ramp_model(model: Any) -> Any:
    """Return a RampModel for stage-1 processing of ``model``.

    A Level 1b exposure becomes a RampModel with SCI converted to float32 DN,
    zero PIXELDQ (ny, nx) uint32 and GROUPDQ (nints, ngroups, ny, nx) uint8, and
    its metadata, GROUP and INT_TIMES tables and ZEROFRAME carried over. A
    RampModel is returned unchanged.
    """
    from stdatamodels.jwst import datamodels as dm

    if isinstance(model, dm.RampModel):
        if model.pixeldq is None or np.shape(model.pixeldq) != np.shape(model.data)[-2:]:
            model.pixeldq = np.zeros(np.shape(model.data)[-2:], dtype=np.uint32)
        if model.groupdq is None or np.shape(model.groupdq) != np.shape(model.data):
            model.groupdq = np.zeros(np.shape(model.data), dtype=np.uint8)
        return model
    data = np.asarray(model.data, dtype=np.float32)
    ramp = dm.RampModel(
        data=data,
        pixeldq=np.zeros(data.shape[-2:], dtype=np.uint32),
        groupdq=np.zeros(data.shape, dtype=np.uint8),
    )
    ramp.update(model, extra_fits=True)
    ramp.meta.filename = model.meta.filename
    for table in ("group", "int_times"):
        value = getattr(model, table, None)
        if value is not None and np.size(value):
            setattr(ramp, table, value)
    zf = getattr(model, "zeroframe", None)
    if zf is not None and np.size(zf) > 1:
        ramp.zeroframe = np.asarray(zf, dtype=np.float32)
    refout = getattr(model, "refout", None)
    if refout is not None and np.size(refout) > 1:
        ramp.refout = np.asarray(refout, dtype=np.float32)
    return ramp
