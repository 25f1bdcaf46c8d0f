"""Opening and saving JWST products through ``stdatamodels`` with clear errors.

Every failure to read an input is reported as :class:`InputError` naming the
file, the extension or keyword at fault, the value found and what was expected.
Products are written atomically: to a temporary file in the destination
directory that is renamed into place only when complete.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Iterator
from typing import Any

import numpy as np

__all__ = [
    "InputError",
    "assigning_checked_values",
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


#: Size of a FITS block (bytes); headers and data are padded to whole blocks.
FITS_BLOCK = 2880

#: Primary-header keywords a stage-1 input must carry, with what each must hold:
#: (description, kind, minimum) where kind is "int", "float" or "str".
REQUIRED_KEYWORDS: dict[str, tuple[str, str, float | None]] = {
    "INSTRUME": ("the instrument name", "str", None),
    "DETECTOR": ("the detector name", "str", None),
    "EXP_TYPE": ("the exposure type", "str", None),
    "READPATT": ("the readout pattern", "str", None),
    "NINTS": ("the number of integrations", "int", 1),
    "NGROUPS": ("the number of groups per integration", "int", 1),
    "NFRAMES": ("the number of frames averaged per group", "int", 1),
    "GROUPGAP": ("the number of frames dropped between groups", "int", 0),
    "TFRAME": ("the frame time in seconds", "float", 0),
    "TGROUP": ("the group time in seconds", "float", 0),
}


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
    _check_fits_length(path)


def _check_fits_length(path: str) -> None:
    """Walk the HDU headers and check the file holds every byte they announce."""
    size = os.path.getsize(path)
    offset, index = 0, 0
    with open(path, "rb") as fh:
        while offset < size:
            header, nbytes = _read_header(fh, offset, size, path, index)
            end = offset + nbytes + _padded(_data_size(header))
            if end > size:
                extname = header.get("EXTNAME", "PRIMARY" if index == 0 else f"#{index}")
                raise InputError(
                    f"{path}: truncated FITS file: HDU {index} ({extname}) needs bytes up to "
                    f"{end} but the file has {size} bytes"
                )
            offset, index = end, index + 1


def _read_header(fh: Any, offset: int, size: int, path: str, index: int) -> tuple[dict, int]:
    """Parse the header at ``offset``: (keyword -> raw value text, header length in bytes)."""
    fh.seek(offset)
    cards: dict[str, str] = {}
    nbytes = 0
    while True:
        block = fh.read(FITS_BLOCK)
        nbytes += len(block)
        if len(block) < FITS_BLOCK:
            raise InputError(
                f"{path}: truncated FITS file: the header of HDU {index} ends at byte "
                f"{offset + nbytes} without an END card (file size {size} bytes, expected a "
                f"multiple of the {FITS_BLOCK}-byte FITS block)"
            )
        for i in range(0, FITS_BLOCK, 80):
            card = block[i : i + 80].decode("ascii", errors="replace")
            key = card[:8].strip()
            if key == "END":
                return cards, nbytes
            if card[8:10] == "= ":
                cards[key] = card[10:].split("/", 1)[0].strip().strip("'").strip()


def _data_size(header: dict) -> int:
    """Bytes of data announced by a header (BITPIX, NAXISn, PCOUNT, GCOUNT)."""
    try:
        naxis = int(header.get("NAXIS", "0"))
        if naxis == 0:
            return 0
        count = 1
        for n in range(1, naxis + 1):
            count *= int(header.get(f"NAXIS{n}", "0"))
        pcount = int(header.get("PCOUNT", "0"))
        gcount = int(header.get("GCOUNT", "1"))
        return abs(int(header.get("BITPIX", "8"))) // 8 * gcount * (pcount + count)
    except ValueError:
        return 0  # an unparseable header is reported by astropy when the file is opened


def _padded(nbytes: int) -> int:
    return -(-nbytes // FITS_BLOCK) * FITS_BLOCK


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

    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if path.endswith((".fits", ".fits.gz", ".fit")):
            _check_fits_file(path)
            _check_stage1_headers(path)
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
        raise InputError(
            f"{name}: missing required keyword(s) {', '.join(missing)}; expected every one of "
            f"{', '.join(required)}"
        )
    if exp.ngroups != ngroups:
        raise InputError(
            f"{name}: NGROUPS={exp.ngroups} but the SCI array has {ngroups} groups; "
            f"expected NGROUPS={ngroups}"
        )
    seg_ints = _segment_nints(model)
    if exp.nints != nints and seg_ints != nints:
        raise InputError(
            f"{name}: NINTS={exp.nints} but the SCI array has {nints} integrations; "
            f"expected NINTS={nints}"
        )
    sub = model.meta.subarray
    if sub.xsize is not None and sub.ysize is not None and (sub.ysize, sub.xsize) != (ny, nx):
        raise InputError(
            f"{name}: SUBSIZE2 x SUBSIZE1 = {sub.ysize} x {sub.xsize} but the SCI array is "
            f"{ny} x {nx}; expected SUBSIZE2 x SUBSIZE1 = {ny} x {nx}"
        )
    return model


def _check_stage1_headers(path: str) -> None:
    """Check a stage-1 input file's headers before stdatamodels reads it.

    stdatamodels fills keywords missing from the FITS headers from the ASDF
    extension and casts SCI to the schema dtype, which would hide a damaged
    header or a float SCI array; the file itself is therefore checked.
    """
    from astropy.io import fits

    try:
        with fits.open(path, memmap=False, lazy_load_hdus=True) as hdul:
            primary = hdul[0].header.copy()
            sci = hdul["SCI"].header.copy() if "SCI" in hdul else None
    except Exception as exc:  # astropy raises many types for damaged headers
        raise InputError(f"{path}: cannot read the FITS headers: {exc}") from None
    kind = primary.get("DATAMODL")
    if kind is not None and kind not in STAGE1_MODELS:
        raise InputError(
            f"{path}: DATAMODL={kind!r}; calwebb_detector1 needs a Level 1b raw exposure "
            "(_uncal.fits, DATAMODL='Level1bModel') or a RampModel"
        )
    if sci is None:
        raise InputError(f"{path}: no SCI extension; expected the raw ramps in extension SCI")
    naxis = int(sci.get("NAXIS", 0))
    if naxis != 4:
        shape = tuple(int(sci.get(f"NAXIS{n}", 0)) for n in range(naxis, 0, -1))
        raise InputError(
            f"{path}: SCI extension has NAXIS={naxis} (shape {shape}); expected 4-D "
            "(nints, ngroups, ny, nx)"
        )
    bitpix = int(sci.get("BITPIX", 0))
    if kind == "Level1bModel" and bitpix < 0:
        raise InputError(
            f"{path}: SCI has BITPIX={bitpix} (float{-bitpix}); a Level 1b exposure stores "
            "unsigned 16-bit integer DN (BITPIX=16, BZERO=32768)"
        )
    for key, (what, vtype, minimum) in REQUIRED_KEYWORDS.items():
        _check_keyword(path, primary, key, what, vtype, minimum)
    nx, ny, ngroups, nints = (int(sci.get(f"NAXIS{n}", 0)) for n in range(1, 5))
    _check_shape_keywords(path, primary, nints=nints, ngroups=ngroups, ny=ny, nx=nx)


def _check_shape_keywords(
    path: str, header: Any, *, nints: int, ngroups: int, ny: int, nx: int
) -> None:
    """NGROUPS, NINTS and SUBSIZE1/2 must agree with the SCI array (nints, ngroups, ny, nx)."""
    if header["NGROUPS"] != ngroups:
        raise InputError(
            f"{path}: NGROUPS={header['NGROUPS']} but the SCI array has {ngroups} groups "
            f"(shape {(nints, ngroups, ny, nx)}); expected NGROUPS={ngroups}"
        )
    start, end = header.get("INTSTART"), header.get("INTEND")
    segment = int(end) - int(start) + 1 if start is not None and end is not None else None
    if nints not in (header["NINTS"], segment):
        raise InputError(
            f"{path}: NINTS={header['NINTS']} but the SCI array has {nints} integrations "
            f"(shape {(nints, ngroups, ny, nx)}); expected NINTS={nints} (or INTSTART/INTEND "
            "spanning them in a segmented exposure)"
        )
    for key, size in (("SUBSIZE1", nx), ("SUBSIZE2", ny)):
        value = header.get(key)
        if value is not None and value != size:
            raise InputError(
                f"{path}: {key}={value} but the SCI array is {ny} rows x {nx} columns; "
                f"expected {key}={size}"
            )


def _check_keyword(
    path: str, header: Any, key: str, what: str, vtype: str, minimum: float | None
) -> None:
    if key not in header or header[key] is None or header[key] == "":
        raise InputError(
            f"{path}: missing required keyword {key} in the primary header; expected {what}"
        )
    value = header[key]
    if vtype == "str":
        if not isinstance(value, str):
            raise InputError(f"{path}: {key}={value!r}; expected {what} (a string)")
        return
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if vtype == "int":
        ok = ok and float(value).is_integer()
    noun = "an integer" if vtype == "int" else "a number"
    if vtype == "float" and ok and minimum is not None and not value > minimum:
        ok = False
    elif vtype == "int" and ok and minimum is not None and not value >= minimum:
        ok = False
    if not ok:
        bound = "" if minimum is None else f" {'>' if vtype == 'float' else '>='} {minimum:g}"
        raise InputError(f"{path}: {key}={value!r}; expected {what} ({noun}{bound})")


def _segment_nints(model: Any) -> int | None:
    """Number of integrations in this segment of a split exposure, if declared."""
    exp = model.meta.exposure
    start = getattr(exp, "integration_start", None)
    end = getattr(exp, "integration_end", None)
    if start is None or end is None:
        return None
    return int(end) - int(start) + 1


@contextlib.contextmanager
def assigning_checked_values(model: Any) -> Iterator[Any]:
    """Within the block, assignments to ``model`` skip the per-assignment schema check.

    stdatamodels checks every assignment against the model's schema, resolving and
    parsing the YAML schemas it refers to each time (tens of milliseconds for an
    array or a WCS, a tenth of a second and more per step). Use this only for
    values whose types the caller guarantees (arrays from our kernels, a gwcs
    object): the whole model is still validated when it is saved. The model's
    own setting is restored on exit; a model without that setting (another
    datamodels version) is left as it is, checks included.

    Parameters
    ----------
    model : stdatamodels DataModel

    Yields
    ------
    The same model.
    """
    previous = getattr(model, "_validate_on_assignment", None)
    if not isinstance(previous, bool):
        yield model
        return
    model._validate_on_assignment = False
    try:
        yield model
    finally:
        model._validate_on_assignment = previous


def save_model(model: Any, path: str) -> str:
    """Write a model to ``path`` atomically and return the path.

    The product is written to a temporary file in the same directory and renamed
    into place, so a failure never leaves a partial product.
    """
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    # A private directory beside the product: the file is written under its final
    # name (stdatamodels records that name as FILENAME), then renamed into place.
    tmpdir = tempfile.mkdtemp(prefix=".tmp_webbcal_", dir=directory)
    tmp = os.path.join(tmpdir, os.path.basename(path))
    try:
        model.save(tmp, overwrite=True)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    finally:
        os.rmdir(tmpdir)
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
    ramp = dm.RampModel()
    with assigning_checked_values(ramp):  # arrays of the schema's types; checked when saved
        ramp.data = data
        ramp.pixeldq = np.zeros(data.shape[-2:], dtype=np.uint32)
        ramp.groupdq = np.zeros(data.shape, dtype=np.uint8)
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
