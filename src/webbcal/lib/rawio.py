"""Lazy access to the raw ramps of a Level 1b (``_uncal``) exposure.

Opening an ``_uncal`` file through stdatamodels reads every extension into
memory, including the SCI cube ``(nints, ngroups, ny, nx)`` of unsigned 16-bit
DN, which for a full-frame exposure is hundreds of MB and seconds of I/O. A
streaming executor only needs the metadata up front and then reads the ramps
block by block. This module provides:

- :func:`open_raw`: locate the SCI data in the file without reading it and
  return a :class:`RawRamp`, which reads any integration, group range and row
  range with plain seek-and-read calls into a fresh buffer (never a memory
  map, whose pages would count in the resident set size);
- :func:`open_lazy_ramp_input`: the metadata-only equivalent of
  :func:`webbcal.datamodels.open_ramp_input`, a Level1bModel whose metadata,
  tables and other extensions are exactly as an eager open gives them but whose
  SCI array is a tiny placeholder;
- :func:`materialize`: read the full SCI cube into such a model.

The on-disk layout follows the FITS standard: image data are stored
big-endian, with the axis of NAXIS1 varying fastest, and unsigned 16-bit
integers are stored as signed 16-bit integers (BITPIX = 16) with BZERO = 32768
and BSCALE = 1; the physical value is ``BZERO + BSCALE * stored``.

References
----------
.. [1] IAU FITS Working Group, "Definition of the Flexible Image Transport
   System (FITS), version 4.0" (2018), sections 4.4.2.5 (BSCALE, BZERO), 5.2
   (integer data, unsigned 16-bit convention) and 5.4 (array order).
.. [2] JWST User Documentation, "Understanding JWST Data Files: Level 1b uncal
   products" (jwst-docs.stsci.edu).
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np

from webbcal.datamodels.io import InputError, _check_fits_file, _check_stage1_headers

__all__ = [
    "NotStreamableError",
    "RawRamp",
    "attach_raw",
    "materialize",
    "open_lazy_ramp_input",
    "open_raw",
    "raw_of",
]

log = logging.getLogger(__name__)

#: BZERO that, with BITPIX = 16 and BSCALE = 1, stores unsigned 16-bit integers.
UINT16_BZERO = 32768

#: Output types the compiled unsigned 16-bit conversion writes (all hold every
#: uint16 value exactly, as ``astype`` gives it).
_FAST_DTYPES = (np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.uint16))

#: Extension names whose presence makes a file a ramp product rather than raw input.
_RAMP_ONLY_EXTENSIONS = ("GROUPDQ",)


class NotStreamableError(InputError):
    """A valid stage-1 input that cannot be opened lazily; open it eagerly instead."""


@dataclass(frozen=True)
class RawRamp:
    """Where and how the raw ramps of an ``_uncal`` file are stored.

    Attributes
    ----------
    path : str
        The FITS file.
    shape : tuple of int
        ``(nints, ngroups, ny, nx)`` of the SCI extension.
    offset : int
        Byte offset of the first SCI data byte in the file.
    disk_dtype : numpy.dtype
        Stored element type, big-endian (``>i2`` for BITPIX = 16).
    bzero, bscale : float
        FITS scaling: physical value = ``bzero + bscale * stored``.
    """

    path: str
    shape: tuple[int, int, int, int]
    offset: int
    disk_dtype: np.dtype
    bzero: float
    bscale: float

    @property
    def nbytes(self) -> int:
        """Bytes of SCI data in the file."""
        return int(np.prod(self.shape, dtype=np.int64)) * self.disk_dtype.itemsize

    def read(
        self,
        integration: int,
        rows: slice = slice(None),
        groups: slice = slice(None),
        dtype: Any = np.float32,
        *,
        out: np.ndarray | None = None,
        cols: np.ndarray | None = None,
    ) -> np.ndarray:
        """Read a block of one integration as physical values.

        Parameters
        ----------
        integration : int
            Integration index, ``0 <= integration < nints`` (negative counts from the end).
        rows : slice
            Rows (y) to read; the step must be 1.
        groups : slice
            Groups to read (any step).
        dtype : numpy dtype
            Output type; float32 reproduces exactly ``float32(model.data)`` of an eager open.
        out : ndarray, shape (ngroups_sel, nrows, nx), optional
            Array to fill instead of a new one (e.g. a slice of a larger block);
            its dtype must be ``dtype`` and its rows contiguous.
        cols : int ndarray, optional
            Only these columns (the last axis of the result has ``len(cols)``
            entries instead of ``nx``): whole rows are read, only these converted.

        Returns
        -------
        ndarray, shape (ngroups_sel, nrows, nx), ``dtype``, DN
            A new C-contiguous array (or ``out``): one contiguous read per selected group.

        Raises
        ------
        IndexError
            If ``integration`` is out of range.
        ValueError
            If ``rows`` has a step other than 1, or ``out`` has the wrong shape,
            dtype or layout.
        InputError
            If the file is shorter than its header announces.

        Notes
        -----
        Unsigned 16-bit data (BZERO = 32768) read as float32, float64 or uint16
        are converted in one compiled pass per group (byte swap, sign-bit flip,
        conversion), straight from the read buffer into the output; other
        layouts and types go through numpy (:meth:`_physical`). Both give the
        same values.
        """
        nints, ngroups, ny, nx = self.shape
        if not -nints <= integration < nints:
            raise IndexError(
                f"integration={integration} is out of range; expected 0 <= integration < {nints}"
            )
        integration %= nints
        r0, r1, rstep = rows.indices(ny)
        if rstep != 1:
            raise ValueError(f"rows={rows!r} has step {rstep}; expected a contiguous row slice")
        nrows = max(r1 - r0, 0)
        group_index = range(*groups.indices(ngroups))
        if cols is not None:
            cols = np.asarray(cols, dtype=np.intp)
            if cols.ndim != 1 or (cols.size and not (0 <= cols.min() <= cols.max() < nx)):
                raise ValueError(f"cols must be a 1-D array of column indices in [0, {nx})")
        shape = (len(group_index), nrows, nx if cols is None else cols.size)
        out = _output_array(out, shape, dtype)
        if nrows == 0 or not group_index:
            return out
        itemsize = self.disk_dtype.itemsize
        count = nrows * nx
        fast = self._is_uint16 and out.dtype in _FAST_DTYPES and sys.byteorder == "little"
        buf = np.empty(count, dtype=np.uint16) if fast else None
        with open(self.path, "rb", buffering=0) as fh:
            for k, g in enumerate(group_index):
                start = self.offset + ((integration * ngroups + g) * ny + r0) * nx * itemsize
                if fast and cols is not None:
                    self._read_into(fh, start, memoryview(buf).cast("B"))
                    _unsigned_columns(buf.reshape(nrows, nx), cols, out[k])
                elif fast:
                    self._read_into(fh, start, memoryview(buf).cast("B"))
                    _unsigned_from_big_endian(buf, out[k].reshape(count))
                else:
                    stored = self._read_at(fh, start, count).reshape(nrows, nx)
                    if cols is not None:
                        stored = stored[:, cols]
                    out[k] = self._physical(stored, out.dtype)
        return out

    def read_all(self) -> np.ndarray:
        """Read the whole SCI cube.

        Returns
        -------
        ndarray, shape (nints, ngroups, ny, nx), uint16, DN
            Identical to the ``data`` of an eager stdatamodels open.

        Raises
        ------
        ValueError
            If the file does not store unsigned 16-bit integers (BITPIX = 16,
            BZERO = 32768, BSCALE = 1).
        """
        if not self._is_uint16:
            raise ValueError(
                f"{self.path}: SCI is stored as {self.disk_dtype} with BZERO={self.bzero:g}, "
                f"BSCALE={self.bscale:g}; read_all needs unsigned 16-bit integers "
                f"(BITPIX=16, BZERO={UINT16_BZERO}, BSCALE=1)"
            )
        count = int(np.prod(self.shape, dtype=np.int64))
        with open(self.path, "rb", buffering=0) as fh:
            if sys.byteorder != "little":
                stored = self._read_at(fh, self.offset, count)
                return self._physical(stored, np.uint16).reshape(self.shape)
            out = np.empty(count, dtype=np.uint16)
            self._read_into(fh, self.offset, memoryview(out).cast("B"))
        _unsigned_from_big_endian(out, out)  # in place: each element read before written
        return out.reshape(self.shape)

    def _read_at(self, fh: Any, start: int, count: int) -> np.ndarray:
        """``count`` stored elements from byte ``start`` of an unbuffered file (disk order)."""
        buf = bytearray(count * self.disk_dtype.itemsize)
        self._read_into(fh, start, memoryview(buf))
        return np.frombuffer(buf, dtype=self.disk_dtype)

    def _read_into(self, fh: Any, start: int, view: memoryview) -> None:
        """Fill the byte buffer ``view`` from byte ``start`` of an unbuffered file."""
        nbytes = len(view)
        fh.seek(start)
        done = 0
        while done < nbytes:  # a raw read may return fewer bytes than asked
            got = fh.readinto(view[done:])
            if not got:
                raise InputError(
                    f"{self.path}: truncated FITS file: SCI data needs bytes up to "
                    f"{start + nbytes} but the file ends at byte {start + done}"
                )
            done += got

    @property
    def _is_uint16(self) -> bool:
        return (
            self.disk_dtype.kind == "i"
            and self.disk_dtype.itemsize == 2
            and self.bscale == 1
            and self.bzero == UINT16_BZERO
        )

    def _physical(self, stored: np.ndarray, dtype: Any) -> np.ndarray:
        """Apply BZERO/BSCALE to stored values and return them as ``dtype``."""
        if self._is_uint16:
            # Adding 32768 to a signed 16-bit value is flipping its sign bit: exact.
            unsigned = stored.view(stored.dtype.str.replace("i", "u")).astype(np.uint16)
            unsigned ^= np.uint16(0x8000)
            return unsigned if np.dtype(dtype) == np.uint16 else unsigned.astype(dtype)
        values = stored.astype(np.float64)
        if self.bscale != 1:
            values *= self.bscale
        if self.bzero != 0:
            values += self.bzero
        return values.astype(dtype)


def _output_array(out: np.ndarray | None, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """``out`` checked against the block shape and type, or a new C-contiguous array."""
    if out is None:
        return np.empty(shape, dtype=dtype)
    if out.shape != shape or out.dtype != np.dtype(dtype):
        raise ValueError(
            f"out has shape {out.shape} and dtype {out.dtype}; expected shape {shape} and "
            f"dtype {np.dtype(dtype)}"
        )
    if out.ndim == 3 and out.size and (out.strides[2] != out.itemsize or
                                       out.strides[1] != shape[2] * out.itemsize):  # fmt: skip
        raise ValueError("out must hold each group's rows contiguously (C order within a group)")
    return out


@numba.njit(cache=True, nogil=True)
def _unsigned_from_big_endian(stored, out):  # pragma: no cover - compiled
    """Physical unsigned 16-bit values of big-endian FITS integers with BZERO = 32768.

    ``stored`` holds the file's bytes viewed as native (little-endian) uint16;
    swapping the two bytes gives the signed 16-bit stored value's bits, and
    adding 32768 to it is flipping the sign bit. ``out`` (any type holding
    uint16 exactly) receives the result.
    """
    for k in range(stored.shape[0]):
        v = stored[k]
        u = ((v >> np.uint16(8)) | (v << np.uint16(8))) ^ np.uint16(0x8000)
        out[k] = np.uint16(u)


@numba.njit(cache=True, nogil=True)
def _unsigned_columns(stored, cols, out):  # pragma: no cover - compiled
    """:func:`_unsigned_from_big_endian` of the columns ``cols`` of (nrows, nx) ``stored``."""
    for r in range(stored.shape[0]):
        for j in range(cols.shape[0]):
            v = stored[r, cols[j]]
            u = ((v >> np.uint16(8)) | (v << np.uint16(8))) ^ np.uint16(0x8000)
            out[r, j] = np.uint16(u)


def open_raw(path: str | os.PathLike) -> RawRamp:
    """Locate the SCI ramps of an ``_uncal`` file without reading them.

    Only the headers up to SCI are parsed; the pixel data are not touched.

    Parameters
    ----------
    path : str or os.PathLike
        An uncompressed FITS file with a 4-D SCI image extension.

    Returns
    -------
    RawRamp

    Raises
    ------
    InputError
        If the file is missing, not FITS, truncated (SCI or any other HDU
        shorter than its header announces), has no SCI extension, or SCI is not
        4-D (NAXIS = 4).
    NotStreamableError
        (an :class:`InputError`) If SCI is tile-compressed, the file is gzipped,
        or SCI is not stored as unsigned 16-bit integers (BITPIX = 16,
        BZERO = 32768, BSCALE = 1), which an eager open may still read.
    """

    path = os.fspath(path)
    _check_fits_file(path)
    with _open_headers(path) as hdul:
        return _locate_sci(hdul, path)


def _open_headers(path: str) -> Any:
    """Open ``path`` with astropy, lazily: HDUs are parsed only when reached."""
    from astropy.io import fits

    try:
        return fits.open(path, memmap=False, lazy_load_hdus=True)
    except Exception as exc:  # astropy raises many types for damaged files
        raise InputError(f"{path}: cannot read the FITS headers: {exc}") from None


def _find_sci(hdul: Any, path: str) -> Any:
    try:
        return hdul["SCI"]
    except KeyError:
        raise InputError(
            f"{path}: no SCI extension; expected the raw ramps in extension SCI"
        ) from None
    except Exception as exc:  # a damaged header before or at SCI
        raise InputError(f"{path}: cannot read the FITS headers: {exc}") from None


def _locate_sci(hdul: Any, path: str) -> RawRamp:
    """Byte layout of the SCI extension of an open (lazy) HDUList."""
    from astropy.io import fits

    if path.endswith(".gz"):
        raise NotStreamableError(
            f"{path}: gzip-compressed file; raw ramps cannot be streamed from it "
            "(expected an uncompressed .fits file)"
        )
    hdu = _find_sci(hdul, path)
    if isinstance(hdu, fits.CompImageHDU) or hdu.header.get("ZIMAGE") is True:
        raise NotStreamableError(
            f"{path}: SCI is a tile-compressed image HDU ({hdu.header.get('ZCMPTYPE', '?')}); "
            "compressed ramps cannot be streamed (expected an uncompressed IMAGE extension)"
        )
    header = hdu.header
    naxis = int(header.get("NAXIS", 0))
    if naxis != 4:
        shape = tuple(int(header.get(f"NAXIS{n}", 0)) for n in range(naxis, 0, -1))
        raise InputError(
            f"{path}: SCI extension has NAXIS={naxis} (shape {shape}); expected 4-D "
            "(nints, ngroups, ny, nx)"
        )
    shape = tuple(int(header[f"NAXIS{n}"]) for n in (4, 3, 2, 1))
    bitpix = int(header.get("BITPIX", 0))
    bzero = float(header.get("BZERO", 0))
    bscale = float(header.get("BSCALE", 1))
    if bitpix != 16 or bzero != UINT16_BZERO or bscale != 1:
        raise NotStreamableError(
            f"{path}: SCI has BITPIX={bitpix}, BZERO={bzero:g}, BSCALE={bscale:g}; raw ramps "
            f"are streamed only as unsigned 16-bit integers (BITPIX=16, BZERO={UINT16_BZERO}, "
            "BSCALE=1)"
        )
    offset = int(hdu.fileinfo()["datLoc"]) if hdu.fileinfo() else -1
    raw = RawRamp(path, shape, offset, np.dtype(">i2"), bzero, bscale)  # type: ignore[arg-type]
    size = os.path.getsize(path)
    if offset < 0 or offset + raw.nbytes > size:
        raise InputError(
            f"{path}: truncated FITS file: SCI data of shape {shape} needs bytes up to "
            f"{offset + raw.nbytes} but the file has {size} bytes"
        )
    return raw


def open_lazy_ramp_input(path: str | os.PathLike) -> tuple[Any, RawRamp]:
    """Open an ``_uncal`` exposure's metadata, leaving its raw ramps on disk.

    The file gets the same header checks as
    :func:`webbcal.datamodels.open_ramp_input`. The returned model's metadata,
    ZEROFRAME, GROUP and INT_TIMES tables and any other extension are exactly
    those of an eager open; only its ``data`` is a placeholder of shape
    ``(nints, ngroups, 0, 0)`` uint16. Read the ramps with the returned
    :class:`RawRamp`, or put them into the model with :func:`materialize`.

    Parameters
    ----------
    path : str or os.PathLike
        A Level 1b (``DATAMODL='Level1bModel'``) FITS file.

    Returns
    -------
    model : stdatamodels.jwst.datamodels.Level1bModel
    raw : RawRamp

    Raises
    ------
    NotStreamableError
        (an :class:`InputError`) If the file is a valid stage-1 input that
        cannot be opened lazily: not a Level1bModel (e.g. a RampModel), has a
        GROUPDQ extension, is compressed or does not store SCI as unsigned
        16-bit integers. Open it with ``open_ramp_input`` instead.
    InputError
        For every bad input ``open_ramp_input`` rejects from the file's headers
        (missing, not FITS, truncated, no 4-D SCI, missing or inconsistent
        exposure keywords).
    """
    from stdatamodels.jwst import datamodels as dm

    path = os.fspath(path)
    if not path.endswith((".fits", ".fits.gz", ".fit")):
        raise InputError(f"{path}: expected a FITS product (.fits)")
    _check_fits_file(path)
    _check_stage1_headers(path)
    with _open_headers(path) as hdul:
        kind = hdul[0].header.get("DATAMODL")
        if kind != "Level1bModel":
            raise NotStreamableError(
                f"{path}: DATAMODL={kind!r}; only Level 1b raw exposures "
                "(DATAMODL='Level1bModel') are opened lazily"
            )
        raw = _locate_sci(hdul, path)
        names = [hdu.name for hdu in hdul]  # parses the remaining headers, not their data
        for name in _RAMP_ONLY_EXTENSIONS:
            if name in names:
                raise NotStreamableError(
                    f"{path}: has a {name} extension; a file with {name} is a ramp product "
                    "and is not opened lazily (expected a Level 1b exposure without it)"
                )
        _stub_sci(hdul["SCI"], raw)
        try:
            model = dm.Level1bModel(hdul)
        except Exception as exc:  # stdatamodels/astropy raise many types for bad files
            raise InputError(f"{path}: cannot be read as a JWST product: {exc}") from None
    model.meta.filename = os.path.basename(path)
    log.debug("Opened %s lazily: SCI %s at byte %d", path, raw.shape, raw.offset)
    return model, raw


def _stub_sci(hdu: Any, raw: RawRamp) -> None:
    """Give a lazily loaded SCI HDU an empty placeholder as its data.

    The placeholder is stored where astropy caches loaded data, so the header
    (and with it the model's metadata and the FITS hash stdatamodels compares
    with the ASDF tree) stays exactly as in the file.
    """
    nints, ngroups = raw.shape[:2]
    hdu.__dict__["data"] = np.zeros((nints, ngroups, 0, 0), dtype=np.uint16)


def attach_raw(model: Any, raw: RawRamp) -> None:
    """Keep ``raw`` with the lazily opened ``model`` it belongs to (see :func:`raw_of`).

    The reader travels with the model object itself (a copy of the model does
    not carry it: attach it to the copy when the copy keeps the placeholder).
    """
    model.__dict__["_webbcal_raw"] = raw


def raw_of(model: Any) -> RawRamp | None:
    """The :class:`RawRamp` attached to ``model`` by :func:`attach_raw`, or None."""
    return getattr(model, "__dict__", {}).get("_webbcal_raw")


def materialize(model: Any, raw: RawRamp) -> Any:
    """Read the full raw ramps into a model from :func:`open_lazy_ramp_input`.

    Parameters
    ----------
    model : Level1bModel
        The lazily opened model; its ``data`` is replaced (the model is modified).
    raw : RawRamp
        The ramps returned with it.

    Returns
    -------
    Level1bModel
        ``model``, whose ``data`` is now the (nints, ngroups, ny, nx) uint16 cube,
        equal to that of ``open_ramp_input(raw.path)``.

    Raises
    ------
    ValueError
        If the model's integrations and groups do not match ``raw``.
    """
    have = tuple(np.shape(model.data)[:2])
    if have != tuple(raw.shape[:2]):
        raise ValueError(
            f"model data has (nints, ngroups) = {have} but raw ramps {raw.path} have "
            f"{tuple(raw.shape[:2])}; expected the model opened with these ramps"
        )
    model.data = raw.read_all()
    return model
