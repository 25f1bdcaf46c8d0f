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
    "gain_and_readnoise",
    "zeroframe_of",
    "NAN_MEANING",
    "ReferenceFileError",
    "check_reference_belongs",
    "check_reference_values",
    "file_stamp",
    "geometry_of",
    "load_reference",
    "reference_array",
]

log = logging.getLogger(__name__)


class ReferenceFileError(ValueError):
    """A reference file does not fit the science exposure or is unreadable."""


#: What the calibration does with NaN (or, for gain and read noise, non-positive)
#: values of each reference type; logged with the number of such pixels.
NAN_MEANING: dict[str, str] = {
    "superbias": "NaN is treated as 0 DN (no bias is subtracted there)",
    "dark": "NaN is treated as 0 DN (no dark is subtracted there)",
    "saturation": "those pixels are not checked for saturation (flagged NO_SAT_CHECK)",
    "linearity": "those pixels are not corrected (flagged NO_LIN_CORR)",
    "gain": "those pixels are flagged NO_GAIN_VALUE and DO_NOT_USE",
    "readnoise": "their ramps cannot be weighted: those pixels are flagged DO_NOT_USE",
}


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


def file_stamp(path: str | None) -> tuple | None:
    """What identifies the contents of a reference file for reuse between runs of a step:
    ``(absolute path, size, modification time in ns)``; None when ``path`` is None or
    cannot be read (then nothing read from it is reused)."""
    if path is None:
        return None
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (os.path.abspath(path), stat.st_size, stat.st_mtime_ns)


def load_reference(path: str, model_class: type, science: Any, *, fast: bool = False) -> Any:
    """Open a reference file and check that it belongs to the science exposure.

    Parameters
    ----------
    path : str
        Reference file path.
    model_class : type
        stdatamodels reference model class (e.g. ``SuperBiasModel``).
    science : DataModel
        The science exposure.
    fast : bool
        Read the file with astropy alone when it has the plain layout
        :func:`webbcal.lib.reffits.open_fits_reference` handles (the same
        metadata and arrays, without the model's schema walk and validation);
        other files, and every error, go through the model as without ``fast``.
        Arrays read directly come in native byte order (the model's are the
        file's, big-endian); values and types are the same.

    Returns
    -------
    DataModel or FitsReference
        The open reference (a :class:`~webbcal.lib.reffits.FitsReference` only
        with ``fast``); use :func:`reference_array` to read its arrays.

    Raises
    ------
    ReferenceFileError
        If the file cannot be opened as ``model_class`` or its DETECTOR or
        INSTRUME differs from the science exposure's.
    """
    name = os.path.basename(path)
    ref = None
    if fast:
        from .reffits import open_fits_reference

        ref = open_fits_reference(path, model_class, native=True)
    if ref is None:
        try:
            ref = model_class(path)
        except Exception as exc:
            raise ReferenceFileError(
                f"{path}: cannot be read as a {model_class.__name__} reference file: {exc}"
            ) from None
    check_reference_belongs(
        name,
        getattr(ref.meta.instrument, "name", None),
        getattr(ref.meta.instrument, "detector", None),
        science,
    )
    return ref


def check_reference_belongs(
    name: str, ref_instrument: str | None, ref_detector: str | None, science: Any
) -> None:
    """Check a reference's INSTRUME and DETECTOR against the science exposure's.

    An empty value on either side, and DETECTOR ``ANY`` or ``N/A``, match anything.

    Raises
    ------
    ReferenceFileError
        Naming the file ``name``, the keyword, its value and the expected one.
    """
    sci_inst = (science.meta.instrument.name or "").upper()
    ref_inst = (ref_instrument or "").upper()
    if ref_inst and sci_inst and ref_inst != sci_inst:
        raise ReferenceFileError(
            f"{name}: INSTRUME={ref_inst!r} but the science exposure's INSTRUME is "
            f"{sci_inst!r}; expected a reference for INSTRUME={sci_inst!r}"
        )
    sci_det = (science.meta.instrument.detector or "").upper()
    ref_det = (ref_detector or "").upper()
    if ref_det and sci_det and ref_det not in ("ANY", "N/A") and ref_det != sci_det:
        raise ReferenceFileError(
            f"{name}: DETECTOR={ref_det!r} but the science exposure's DETECTOR is "
            f"{sci_det!r}; expected a reference for DETECTOR={sci_det!r} (or ANY)"
        )


def reference_array(
    ref: Any,
    attribute: str,
    science_geometry: SubarrayGeometry,
    *,
    extname: str | None = None,
    allow_nan: bool = True,
    nan_meaning: str | None = None,
    require_positive: bool = False,
) -> np.ndarray:
    """Return a reference array cut to the science subarray.

    Parameters
    ----------
    ref : DataModel or FitsReference
        Open reference model (from :func:`load_reference`); of a
        ``FitsReference`` only the science region is read from the file.
    attribute : str
        Array attribute (``data``, ``dq``, ``coeffs``).
    science_geometry : SubarrayGeometry
        Where the science data lie on the detector.
    extname : str or None
        Extension name used in messages (defaults to the upper-cased attribute).
    allow_nan, nan_meaning, require_positive
        How NaN (and non-positive) values in the science region are treated;
        see :func:`check_reference_values`.

    Returns
    -------
    ndarray, shape (..., science ysize, science xsize)
        The array (a view when no cut is needed).

    Raises
    ------
    ReferenceFileError
        If the array is missing, does not cover the science subarray, holds NaNs
        where they are not allowed, or has no usable value in the science region.
    """
    from .reffits import FitsReference

    name = os.path.basename(ref.meta.filename or "reference")
    ext = extname or attribute.upper()
    if isinstance(ref, FitsReference):
        out = _read_science_region(ref, attribute, science_geometry, name, ext)
    else:
        arr = getattr(ref, attribute, None)
        if arr is None or np.size(arr) == 0:
            raise ReferenceFileError(f"{name}: extension {ext} is missing or empty")
        arr = np.asarray(arr)
        try:
            ref_geom = _reference_geometry(ref, arr.shape, science_geometry)
            out = cut_to_subarray(arr, ref_geom, science_geometry, name=f"{name} {ext}")
        except SubarrayError as exc:
            raise ReferenceFileError(str(exc)) from None
    check_reference_values(
        out, name, ext, allow_nan=allow_nan, nan_meaning=nan_meaning,
        require_positive=require_positive,
    )  # fmt: skip
    return out


def _reference_geometry(
    ref: Any, shape: tuple[int, ...], science_geometry: SubarrayGeometry
) -> SubarrayGeometry:
    """Where a reference array of ``shape`` lies: SUBSTRT from the header, the size
    from the array; an array of full-frame size starts at (1, 1)."""
    ref_geom = geometry_of(ref, shape=shape[-2:])
    ref_geom = SubarrayGeometry(
        ref_geom.xstart, ref_geom.ystart, shape[-1], shape[-2],
        science_geometry.full_nx, science_geometry.full_ny,
    )  # fmt: skip
    if (ref_geom.xsize, ref_geom.ysize) == (science_geometry.full_nx, science_geometry.full_ny):
        ref_geom = SubarrayGeometry(1, 1, ref_geom.xsize, ref_geom.ysize,
                                    ref_geom.full_nx, ref_geom.full_ny)  # fmt: skip
    return ref_geom


def _read_science_region(
    ref: Any, attribute: str, science: SubarrayGeometry, name: str, ext: str
) -> np.ndarray:
    """The science region of a :class:`~webbcal.lib.reffits.FitsReference` array, read
    from the file alone: the same values, dtype and errors as cutting the whole array."""
    shape = ref.shape(attribute)
    if int(np.prod(shape)) == 0:
        raise ReferenceFileError(f"{name}: extension {ext} is missing or empty")
    ref_geom = _reference_geometry(ref, shape, science)
    x0, y0 = science.xstart - ref_geom.xstart, science.ystart - ref_geom.ystart
    if x0 < 0 or y0 < 0 or x0 + science.xsize > shape[-1] or y0 + science.ysize > shape[-2]:
        # Not covered: the cut reports it (on a stand-in of the same shape).
        stand_in = np.broadcast_to(np.zeros((), dtype=np.uint8), shape[-2:])
        try:
            cut_to_subarray(stand_in, ref_geom, science, name=f"{name} {ext}")
        except SubarrayError as exc:
            raise ReferenceFileError(str(exc)) from None
    if (x0, y0, science.xsize, science.ysize) == (0, 0, shape[-1], shape[-2]):
        return ref.read(attribute)
    rows, cols = slice(y0, y0 + science.ysize), slice(x0, x0 + science.xsize)
    return ref.read(attribute, rows=rows, cols=cols)


def check_reference_values(
    values: np.ndarray,
    name: str,
    extname: str,
    *,
    allow_nan: bool = True,
    nan_meaning: str | None = None,
    require_positive: bool = False,
) -> int:
    """Check the science region of a floating-point reference array for unusable values.

    A pixel is *bad* when any of its values along the leading axes (groups,
    coefficients) is NaN, or, with ``require_positive``, not greater than 0.
    Integer arrays (DQ) are not checked.

    Parameters
    ----------
    values : ndarray, shape (..., ny, nx)
        Reference values already cut to the science subarray.
    name : str
        Reference file name used in messages.
    extname : str
        Extension name used in messages (``SCI``, ``COEFFS``).
    allow_nan : bool
        When False, any bad pixel is an error.
    nan_meaning : str or None
        What the calibration does with bad pixels (the official meaning of NaN
        for this reference type); bad pixels are then logged as a WARNING that
        names the file, extension, count and this meaning.
    require_positive : bool
        Count values <= 0 as bad too (gain, read noise).

    Returns
    -------
    int
        Number of bad pixels.

    Raises
    ------
    ReferenceFileError
        If every pixel of the science region is bad, or any is when ``allow_nan``
        is False.

    References
    ----------
    JWST pipeline documentation: "superbias" and "dark_current" (NaN treated as
    zero), "saturation" (NaN threshold: NO_SAT_CHECK), "linearity" (NaN
    coefficients: NO_LIN_CORR), "jump" and "ramp_fitting" (NaN or non-positive
    gain: NO_GAIN_VALUE).
    """
    arr = np.asarray(values)
    if arr.dtype.kind != "f" or arr.size == 0:
        return 0
    bad = np.isnan(arr) if not require_positive else ~(arr > 0)
    if bad.ndim > 2:
        bad = np.any(bad.reshape(-1, *bad.shape[-2:]), axis=0)
    nbad, npix = int(np.count_nonzero(bad)), int(bad.size)
    what = "NaN or <= 0" if require_positive else "NaN"
    expected = "finite values > 0" if require_positive else "finite numbers"
    if nbad == npix:
        raise ReferenceFileError(
            f"{name}: extension {extname} is {what} in all {npix} pixel(s) of the science "
            f"region; expected {expected}"
        )
    if nbad and not allow_nan:
        raise ReferenceFileError(
            f"{name}: extension {extname} holds {nbad} {what} pixel(s) in the science region; "
            f"expected {expected}"
        )
    if nbad:
        log.warning(
            "%s: extension %s has %d %s pixel(s) of %d in the science region; %s",
            name, extname, nbad, what, npix, nan_meaning or "they have no defined meaning",
        )  # fmt: skip
    return nbad


def zeroframe_of(model: Any, *, require_keyword: bool = True) -> np.ndarray | None:
    """The ZEROFRAME array (nints, ny, nx) of a ramp when it has one, else None.

    With ``require_keyword`` the array is used only when ZEROFRAM is true, as the
    official saturation, superbias and linearity steps do; ramp fitting uses any
    ZEROFRAME present.
    """
    if require_keyword and not model.meta.exposure.zero_frame:
        return None
    if not model.hasattr("zeroframe"):
        return None
    zf = model.zeroframe
    return zf if zf is not None and np.ndim(zf) == 3 else None


def gain_and_readnoise(
    step: Any, model: Any, *, fast: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """GAIN (e-/DN) and READNOISE (DN) arrays of a step's references, cut to the subarray.

    Both must be positive somewhere in the science region; NaN or non-positive
    pixels are reported and handled as the official pipeline does. ``fast``:
    see :meth:`webbcal.stpipe.Step.open_reference`.

    Returns
    -------
    gain, readnoise : ndarray, shape (ny, nx), float32
    """
    from stdatamodels.jwst.datamodels import GainModel, ReadnoiseModel

    geom = geometry_of(model)
    out = []
    for reftype, cls in (("gain", GainModel), ("readnoise", ReadnoiseModel)):
        ref = step.open_reference(model, reftype, cls, fast=fast)
        arr = reference_array(
            ref, "data", geom, extname="SCI", require_positive=True,
            nan_meaning=NAN_MEANING[reftype],
        )  # fmt: skip
        out.append(np.asarray(arr, dtype=np.float32))
    return out[0], out[1]
