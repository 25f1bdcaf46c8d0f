"""Rows of a large reference array read from disk on demand (darks, MIRI resets).

The streaming execution reads only the rows (and planes) of the DARK and
RESET references that a block of rows needs; the checks are those of
:func:`webbcal.lib.reffiles.load_reference` (INSTRUME, DETECTOR), and the DQ is
translated through DQ_DEF as stdatamodels does for reference files.
"""

from __future__ import annotations

import itertools
import logging
import os
from typing import Any

import numpy as np

from .reffiles import ReferenceFileError, check_reference_belongs

__all__ = [
    "ReferenceSection",
    "SectionUnsupported",
    "count_nan_rows",
    "refused_section_error",
    "report_nan_count",
]

log = logging.getLogger(__name__)


class SectionUnsupported(Exception):
    """The reference cannot be read by sections (its step reads it whole instead)."""


class ReferenceSection:
    """Rows of the arrays of a reference file, read on demand.

    Parameters
    ----------
    path : str
        The reference file.
    science : DataModel
        The science exposure (INSTRUME and DETECTOR are checked against it).
    geometry : SubarrayGeometry
        Where the science (sub)array lies on the detector.
    ndim : int
        Dimensions SCI must have: 3 (planes, rows, columns) or 4 (MIRI:
        integrations, groups, rows, columns).
    what : str
        What the reference is, for messages ("dark", "reset").

    Raises
    ------
    ReferenceFileError
        If the file cannot be read or belongs to another instrument or detector.
    SectionUnsupported
        If SCI has other dimensions, is empty or does not cover the science
        (sub)array (the step reports those in its own words).
    """

    def __init__(self, path: str, science: Any, geometry: Any, ndim: int = 3,
                 what: str = "dark") -> None:  # fmt: skip
        from astropy.io import fits

        self.path = path
        self.name = os.path.basename(path)
        try:
            self._hdul = fits.open(path, memmap=False, lazy_load_hdus=True)
        except Exception as exc:
            raise ReferenceFileError(
                f"{path}: cannot be read as a {what} reference: {exc}"
            ) from None
        try:
            self._check(science, geometry, ndim, what)
        except BaseException:
            self._hdul.close()  # nothing else will: the caller never gets the section
            raise

    def _check(self, science: Any, geom: Any, ndim: int, what: str) -> None:
        path = self.path
        try:
            self.header = self._hdul[0].header
            sci = self._hdul["SCI"]
        except Exception as exc:
            raise ReferenceFileError(
                f"{path}: cannot be read as a {what} reference: {exc}"
            ) from None
        check_reference_belongs(
            self.name, self.header.get("INSTRUME"), self.header.get("DETECTOR"), science
        )
        shape = sci.shape
        if len(shape) != ndim:
            raise SectionUnsupported(f"a {what} reference SCI of shape {shape}")
        if 0 in shape:
            raise SectionUnsupported(f"an empty {what} reference SCI {shape}")
        self.shape = shape
        self.nplanes = shape[0]
        self._dq_def = None
        if "DQ_DEF" in self._hdul and self._hdul["DQ_DEF"].data is not None:
            from ..dqflags import PIXEL

            table = self._hdul["DQ_DEF"].data
            if len(table):
                # Rows naming no standard flag translate to nothing (as stdatamodels).
                rows = [(int(r["VALUE"]), PIXEL.get(str(r["NAME"]).strip())) for r in table]
                self._dq_def = [(v, int(f)) for v, f in rows if f is not None]
        ny, nx = shape[-2:]
        if (nx, ny) == (geom.full_nx, geom.full_ny):
            x0, y0 = 1, 1
        else:
            x0 = int(self.header.get("SUBSTRT1") or 1)
            y0 = int(self.header.get("SUBSTRT2") or 1)
        self.dy = geom.ystart - y0
        self.dx = geom.xstart - x0
        if self.dy < 0 or self.dx < 0 or self.dy + geom.ysize > ny or self.dx + geom.xsize > nx:
            raise SectionUnsupported(f"a {what} reference that does not cover the science subarray")
        self.xsize = geom.xsize
        self.shape2 = (geom.ysize, geom.xsize)

    def has_extension(self, extname: str) -> bool:
        """Whether the file has the extension ``extname``."""
        return extname in self._hdul

    def extension_shape(self, extname: str) -> tuple[int, ...]:
        """Shape of the array of extension ``extname`` (not read)."""
        return tuple(self._hdul[extname].shape)

    def close(self) -> None:
        """Close the file."""
        self._hdul.close()

    def read(self, extname: str, rows: slice, planes: Any = None, cols: Any = None) -> np.ndarray:
        """Rows (and the columns ``cols`` of a block, all by default) of an extension.

        ``planes`` selects along the leading axes of a 3-D (a slice) or 4-D (a
        tuple of two slices) array; a 2-D array has none. Values come in native
        byte order.
        """
        hdu = self._hdul[extname]
        r = slice(rows.start + self.dy, rows.stop + self.dy)
        c = slice(self.dx, self.dx + self.xsize)
        naxis = hdu.header.get("NAXIS")
        if naxis == 2:
            lead = ()
        elif planes is None:
            lead = (slice(None),) * (naxis - 2)
        else:
            lead = planes if isinstance(planes, tuple) else (planes,)
        out = self._read_direct(hdu, lead, r)
        if out is None:
            out = np.asarray(hdu.section[(*lead, r, slice(None))])
        out = out[..., c]
        if cols is not None and not isinstance(cols, slice):
            out = out[..., np.asarray(cols)]
        return out if out.dtype.isnative else out.astype(out.dtype.newbyteorder("="))

    def _read_direct(self, hdu, lead: tuple, r: slice) -> np.ndarray | None:
        """Whole-width rows ``r`` of the planes ``lead`` of an unscaled float32 image,
        one read per plane (astropy's section reads row by row); None otherwise."""
        from astropy.io import fits

        hdr = hdu.header
        info = hdu.fileinfo()
        if (
            isinstance(hdu, fits.CompImageHDU)
            or info is None
            or getattr(info.get("file"), "compression", None)
            or hdr.get("BITPIX") != -32
            or hdr.get("BSCALE", 1) != 1
            or hdr.get("BZERO", 0) != 0
            or not all(isinstance(x, slice) for x in lead)
        ):
            return None
        shape = hdu.shape
        ny, nx = shape[-2:]
        ranges = [range(*sl.indices(n)) for sl, n in zip(lead, shape[:-2])]
        nrows = len(range(*r.indices(ny)))
        out = np.empty((*(len(x) for x in ranges), nrows, nx), dtype=">f4")
        flat = out.reshape(-1, nrows, nx)
        base = info["datLoc"]
        with open(self.path, "rb") as f:
            for k, idx in enumerate(itertools.product(*ranges)):
                plane = int(np.ravel_multi_index(idx, shape[:-2])) if idx else 0
                view = memoryview(flat[k]).cast("B")
                offset = base + (plane * ny + r.start) * nx * 4
                if os.preadv(f.fileno(), [view], offset) != len(view):
                    return None
        return out

    def read_dq(self, rows: slice, planes: Any = None, cols: Any = None) -> np.ndarray:
        """DQ rows as uint32 in standard JWST flags (translated through DQ_DEF, as
        stdatamodels does for reference files)."""
        from .reffits import translate_dq

        raw = self.read("DQ", rows, planes, cols).astype(np.uint32)
        if self._dq_def is None:
            return raw
        return translate_dq(raw, self._dq_def)

    def average_dark_current(self, user_value: float | None) -> np.ndarray:
        """The (ny, nx) average dark current (e-/s) ramp fitting uses, as the dark
        step sets it: ``user_value``, else the AVDRKCUR array when it is non-zero,
        else the AVGDRKCR keyword (0 when absent)."""
        if user_value is not None:
            return np.full(self.shape2, user_value, dtype=np.float32)
        if "AVDRKCUR" in self._hdul:
            arr = np.asarray(self._hdul["AVDRKCUR"].data)
            if arr.shape == self.shape2 and np.sum(arr) != 0:
                return arr.astype(np.float32)
        scalar = self.header.get("AVGDRKCR") or 0.0
        return np.full(self.shape2, scalar, dtype=np.float32)


def count_nan_rows(nan_count: list, planes: np.ndarray, r0: int, r1: int) -> None:
    """Count the pixels of rows ``r0:r1`` not counted yet that are NaN in some plane.

    ``nan_count`` is ``[count, first row not counted]``, updated in place;
    ``planes`` (..., r1 - r0, nx) holds rows ``r0:r1`` (overlapping halo rows
    are counted once).
    """
    first = max(r0, nan_count[1]) - r0
    rows = planes[..., first:, :]
    if rows.shape[-2] > 0:
        bad = np.isnan(rows).reshape(-1, *rows.shape[-2:]).any(axis=0)
        nan_count[0] += int(np.count_nonzero(bad))
    nan_count[1] = max(nan_count[1], r1)


def report_nan_count(name: str, nbad: int, npix: int, meaning: str | None) -> None:
    """Report ``nbad`` NaN pixels of ``npix`` of a reference read by sections, as
    :func:`webbcal.lib.reffiles.check_reference_values` reports a whole array
    (a warning; an error when every pixel is NaN)."""
    from .reffiles import check_reference_values

    counts = np.zeros((1, npix), dtype=np.float32)
    counts[0, :nbad] = np.nan
    check_reference_values(counts, name, "SCI", nan_meaning=meaning)


def refused_section_error(
    path: str, model_class: type, science: Any, geometry: Any, ndim: int, expected: str,
    why: SectionUnsupported,
) -> ReferenceFileError:  # fmt: skip
    """The error of a reference that :class:`ReferenceSection` refused, read whole.

    A section refuses a SCI array of other dimensions, an empty one, or one
    that does not cover the science (sub)array: each is a damaged reference.
    The file is opened as ``model_class`` and its SCI and DQ cut to the
    science subarray, so that the error names the problem as for any other
    reference (a schema error, "missing or empty", the regions).

    Parameters
    ----------
    path : str
        The reference file.
    model_class : type
        Its stdatamodels class (``DarkModel``, ``ResetModel``...).
    science : DataModel
        The science exposure.
    geometry : SubarrayGeometry
        Where the science (sub)array lies on the detector.
    ndim : int
        Dimensions SCI must have.
    expected : str
        What SCI should be, for the message (``"a 4-D reset anomaly (nints, ngroups,
        ny, nx)"``).
    why : SectionUnsupported
        Why the section refused the file (the message when nothing else is wrong).

    Returns
    -------
    ReferenceFileError
        The error to raise (opening the file may raise it instead).
    """
    from .reffiles import load_reference, reference_array

    ref = load_reference(path, model_class, science)
    name = os.path.basename(path)
    try:
        sci = reference_array(ref, "data", geometry, extname="SCI")
        if sci.ndim != ndim:
            return ReferenceFileError(f"{name}: SCI has shape {sci.shape}; expected {expected}")
        reference_array(ref, "dq", geometry)
    finally:
        ref.close()
    return ReferenceFileError(f"{name}: {why}")
