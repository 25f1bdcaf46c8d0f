"""Per-integration cubes of a stage-2/3 product read and written in chunks of integrations.

A time series of N integrations stores each of SCI, ERR, DQ and the VAR_* arrays as a
(N, ny, nx) cube; opened whole through stdatamodels a 2000-integration MIRI LRS
``_calints`` takes 1.4 GB. This module lets a pipeline hold a chunk of integrations at
a time:

- :func:`open_lazy_cube`: the product's model with its metadata, tables and small
  arrays exactly as an eager open gives them, but every (N, ny, nx) array replaced by
  a (1, ny, nx) zero placeholder; the integrations are read with the attached
  :class:`LazyCube` (plain positioned reads, never a memory map, whose pages would
  count in the resident set size);
- :class:`IntegrationSpill`: raw files beside the products where calibrated chunks
  wait until the product's metadata is final, then copied into a
  :class:`~webbcal.lib.fitsstream.StreamedProduct` chunk by chunk
  (:meth:`IntegrationSpill.write_product`);
- :func:`chunk_integrations`: how many integrations fit in a memory limit.

References
----------
IAU FITS Working Group, "Definition of the Flexible Image Transport System (FITS),
version 4.0" (2018): sections 4.4.2.5 (BZERO), 5.2 (unsigned integers), 5.4 (array order).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..datamodels.io import InputError, _check_fits_file

__all__ = [
    "CUBE_ATTRIBUTES",
    "IntegrationSpill",
    "LazyArray",
    "LazyCube",
    "ProductSpill",
    "chunk_integrations",
    "lazy_cube_of",
    "open_lazy_cube",
]

log = logging.getLogger(__name__)

#: Extension name -> model attribute of the per-integration arrays read lazily.
CUBE_ATTRIBUTES = {"SCI": "data", "ERR": "err", "DQ": "dq", "VAR_POISSON": "var_poisson",
                   "VAR_RNOISE": "var_rnoise", "VAR_FLAT": "var_flat"}  # fmt: skip
#: Memory taken by the interpreter, libraries, references and small arrays, bytes
#: (measured: 170-250 MiB peak RSS with 20 integrations per chunk; margin included).
BASELINE_BYTES = 256 * 2**20
#: Working bytes per pixel of each integration of a chunk while it is calibrated and
#: extracted (its arrays, the copies the steps make, extraction's work arrays), also
#: what the whole-array path takes per integration. Measured on MIRI LRS (416 x 72):
#: calwebb_spec2 whole 79 (peak RSS 623 MiB at 200 integrations, 1074 at 400), in
#: chunks 54-98 depending on the chunk length; calwebb_tso3 whole 35.
BYTES_PER_PIXEL = 96
#: Bytes per pixel of each integration of the exposure held whatever the chunk length
#: (x1dints spectra, the outlier mask, INT_TIMES): measured 7-9 (+0.2-0.25 MiB per
#: integration at 2000 LRS integrations).
SERIES_BYTES_PER_PIXEL = 10


def chunk_integrations(nints: int, frame_pixels: int, memory_limit: int) -> int:
    """Integrations per chunk so that a chunk's work fits in ``memory_limit`` bytes.

    ``memory_limit`` less :data:`BASELINE_BYTES` and the series' own
    :data:`SERIES_BYTES_PER_PIXEL`, over :data:`BYTES_PER_PIXEL` per pixel of an
    integration; at least one, at most ``nints`` (then the exposure is processed whole).
    """
    budget = max(memory_limit - BASELINE_BYTES - nints * frame_pixels * SERIES_BYTES_PER_PIXEL, 0)
    return int(max(1, min(nints, budget // max(frame_pixels * BYTES_PER_PIXEL, 1))))


@dataclass(frozen=True)
class _Array:
    offset: int
    disk_dtype: np.dtype
    dtype: np.dtype
    sign_flip: bool


class LazyCube:
    """Reads integrations ``a:b`` of the per-integration arrays of one FITS product.

    Attributes
    ----------
    path : str
    shape : tuple of int
        (nints, ny, nx) of every array.
    attributes : tuple of str
        The model attributes available (``data``, ``err``, ``dq``, ...).
    """

    def __init__(self, path: str, shape: tuple[int, int, int], arrays: dict[str, _Array]):
        self.path = path
        self.shape = shape
        self._arrays = arrays
        self.attributes = tuple(arrays)

    @property
    def nints(self) -> int:
        return self.shape[0]

    def array(self, attribute: str) -> LazyArray:
        """``attribute`` as an array-like read on demand (see :class:`LazyArray`)."""
        return LazyArray(self, attribute)

    def read(self, attribute: str, start: int, stop: int) -> np.ndarray:
        """Integrations ``start:stop`` of ``attribute`` as a new native array.

        Returns
        -------
        ndarray, shape (stop - start, ny, nx)
            float32 (SCI, ERR, VAR_*) or uint32 (DQ), equal to the eager open's values.
        """
        array = self._arrays[attribute]
        _, ny, nx = self.shape
        frame = ny * nx * array.disk_dtype.itemsize
        nbytes = (stop - start) * frame
        with open(self.path, "rb", buffering=0) as fh:
            buf = os.pread(fh.fileno(), nbytes, array.offset + start * frame)
        if len(buf) != nbytes:
            raise InputError(f"{self.path}: truncated {attribute} data (integrations "
                             f"{start}:{stop} of {self.shape[0]})")  # fmt: skip
        stored = np.frombuffer(buf, dtype=array.disk_dtype).reshape(stop - start, ny, nx)
        if array.sign_flip:
            return (stored.view(">u4") ^ np.uint32(0x80000000)).astype(np.uint32)
        return stored.astype(array.dtype)


class LazyArray:
    """One per-integration array of a :class:`LazyCube`, read when sliced.

    ``a[i0:i1]`` reads integrations ``i0:i1``; ``a[:, r0:r1]`` reads rows ``r0:r1`` of
    every integration (``chunk_bytes`` of whole frames at a time). Other indices
    apply to what was read.
    """

    def __init__(self, cube: LazyCube, attribute: str, chunk_bytes: int = 64 * 2**20):
        self.cube, self.attribute, self.chunk_bytes = cube, attribute, chunk_bytes
        self.shape = cube.shape
        self.ndim = 3
        self.dtype = cube._arrays[attribute].dtype

    def __getitem__(self, key: Any) -> np.ndarray:
        key = key if isinstance(key, tuple) else (key,)
        first, rest = key[0], key[1:]
        if isinstance(first, slice) and first == slice(None) and rest:
            nints, ny, nx = self.shape
            rows = np.arange(ny)[rest[0]]
            out = np.empty((nints, rows.size, nx), dtype=self.dtype)
            step = max(1, self.chunk_bytes // (ny * nx * 4))
            for a in range(0, nints, step):
                b = min(nints, a + step)
                out[a:b] = self.cube.read(self.attribute, a, b)[:, rest[0]]
            return out[(slice(None), slice(None)) + rest[1:]]
        if not isinstance(first, slice) or first.step not in (None, 1):
            raise IndexError(f"{self.attribute}: index {key!r}; expected a slice of "
                             "integrations (step 1), optionally with rows")  # fmt: skip
        a, b, _ = first.indices(self.shape[0])
        return self.cube.read(self.attribute, a, max(a, b))[(slice(None),) + rest]

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        raise TypeError(f"{self.attribute}: a lazily read array is not converted whole; "
                        "slice it by integrations")  # fmt: skip


def lazy_cube_of(model: Any) -> LazyCube | None:
    """The :class:`LazyCube` of a model opened by :func:`open_lazy_cube`, else None."""
    return getattr(model, "__dict__", {}).get("_webbcal_lazy_cube")


def attach_lazy_cube(model: Any, cube: LazyCube | None) -> None:
    """Keep ``cube`` with ``model`` (a model from :func:`open_lazy_cube`, or its copy)."""
    model.__dict__["_webbcal_lazy_cube"] = cube


def _layout(hdu: Any, path: str) -> _Array | None:
    header = hdu.header
    bitpix, bzero = int(header.get("BITPIX", 0)), float(header.get("BZERO", 0))
    if float(header.get("BSCALE", 1)) != 1:
        return None
    info = hdu.fileinfo()
    offset = int(info["datLoc"]) if info else -1
    if bitpix == -32 and bzero == 0:
        return _Array(offset, np.dtype(">f4"), np.dtype(np.float32), False)
    if bitpix == 32 and bzero == 2**31:
        return _Array(offset, np.dtype(">i4"), np.dtype(np.uint32), True)
    return None


def open_lazy_cube(path: str | os.PathLike) -> Any | None:
    """Open a multi-integration product leaving its (nints, ny, nx) arrays on disk.

    Parameters
    ----------
    path : str or os.PathLike
        An uncompressed FITS ``_rateints`` or ``_calints`` product (CubeModel or
        SlitModel with a 3-D SCI).

    Returns
    -------
    DataModel or None
        The model with (1, ny, nx) zero placeholders for the per-integration arrays
        and a :class:`LazyCube` attached (:func:`lazy_cube_of`); None when the file
        cannot be read lazily (compressed, not a cube, other data types): open it
        eagerly then.

    Raises
    ------
    InputError
        If the file is missing, not FITS or cannot be read as a JWST product.
    """
    from astropy.io import fits
    from stdatamodels.jwst import datamodels as dm

    path = os.fspath(path)
    if not path.endswith(".fits"):
        return None
    _check_fits_file(path)
    try:
        hdul = fits.open(path, memmap=False, lazy_load_hdus=True)
    except Exception as exc:  # astropy raises many types for damaged files
        raise InputError(f"{path}: cannot read the FITS headers: {exc}") from None
    with hdul:
        kind = hdul[0].header.get("DATAMODL")
        names = [hdu.name for hdu in hdul]
        if kind not in ("CubeModel", "SlitModel") or "SCI" not in names:
            return None
        sci = hdul["SCI"].header
        if int(sci.get("NAXIS", 0)) != 3 or isinstance(hdul["SCI"], fits.CompImageHDU):
            return None
        shape = tuple(int(sci[f"NAXIS{n}"]) for n in (3, 2, 1))
        arrays = {}
        size = os.path.getsize(path)
        for ext, attribute in CUBE_ATTRIBUTES.items():
            if ext not in names:
                continue
            hdu = hdul[ext]
            dims = tuple(int(hdu.header.get(f"NAXIS{n}", 0)) for n in (3, 2, 1))
            if int(hdu.header.get("NAXIS", 0)) != 3 or dims != shape:
                return None
            layout = _layout(hdu, path)
            if layout is None:
                return None
            if layout.offset < 0 or layout.offset + np.prod(shape) * 4 > size:
                raise InputError(f"{path}: truncated FITS file: {ext} data of shape {shape} "
                                 f"extends past the end of the file ({size} bytes)")  # fmt: skip
            arrays[attribute] = layout
            hdu.__dict__["data"] = np.zeros((1,) + shape[1:], dtype=layout.dtype)
        try:
            model = getattr(dm, kind)(hdul)
        except Exception as exc:  # stdatamodels/astropy raise many types for bad files
            raise InputError(f"{path}: cannot be read as a JWST product: {exc}") from None
    model.meta.filename = os.path.basename(path)
    attach_lazy_cube(model, LazyCube(path, shape, arrays))  # type: ignore[arg-type]
    log.debug("Opened %s lazily: %d integrations of %s", path, shape[0], shape[1:])
    return model


class IntegrationSpill:
    """Chunks of per-integration arrays kept in raw files until their product is written.

    Parameters
    ----------
    directory : str
        Folder of the product (the spill folder is made inside it and removed by
        :meth:`close`).
    shape : tuple of int
        (nints, ny, nx).
    dtypes : dict of str to numpy dtype
        Attribute -> element type.
    """

    def __init__(self, directory: str, shape: tuple[int, int, int], dtypes: dict[str, Any]):
        from .spill import make_spill_dir

        os.makedirs(directory, exist_ok=True)
        self.dir = make_spill_dir(directory, "spill")
        self.shape = shape
        self._files: dict[str, tuple[int, np.dtype]] = {}
        for attribute, dtype in dtypes.items():
            fd = os.open(os.path.join(self.dir, attribute), os.O_RDWR | os.O_CREAT, 0o600)
            self._files[attribute] = (fd, np.dtype(dtype))

    def write(self, attribute: str, start: int, values: np.ndarray) -> None:
        """Store integrations ``start:start + len(values)`` of ``attribute``."""
        fd, dtype = self._files[attribute]
        values = np.ascontiguousarray(values, dtype=dtype)
        frame = self.shape[1] * self.shape[2] * dtype.itemsize
        data = memoryview(values.reshape(-1)).cast("B")
        done, offset = 0, start * frame
        while done < len(data):
            done += os.pwrite(fd, data[done:], offset + done)

    def read(self, attribute: str, start: int, stop: int) -> np.ndarray:
        fd, dtype = self._files[attribute]
        _, ny, nx = self.shape
        frame = ny * nx * dtype.itemsize
        buf = os.pread(fd, (stop - start) * frame, start * frame)
        return np.frombuffer(buf, dtype=dtype).reshape(stop - start, ny, nx)

    def write_product(self, template: Any, path: str, chunk: int) -> str:
        """Write ``template`` (final metadata, (1, ny, nx) placeholders) with the spilled
        arrays as the product at ``path``, ``chunk`` integrations at a time."""
        from .fitsstream import StreamedProduct

        nints = self.shape[0]
        shapes = {attribute: self.shape for attribute in self._files}
        with StreamedProduct(template, path, shapes) as out:
            for a in range(0, nints, chunk):
                b = min(nints, a + chunk)
                for attribute in self._files:
                    out.write(attribute, (slice(a, b),), self.read(attribute, a, b))
            out.commit()
        return path

    def close(self) -> None:
        import shutil

        for fd, _ in self._files.values():
            try:
                os.close(fd)
            except OSError:
                pass
        self._files = {}
        shutil.rmtree(self.dir, ignore_errors=True)


class ProductSpill:
    """Calibrated chunks written straight into their product, before its metadata is final.

    The interface of :class:`IntegrationSpill`, without the second copy: the product
    is laid out from the metadata of the first calibrated chunk (a
    :class:`~webbcal.lib.fitsstream.StreamedProduct` under a temporary name beside
    ``path``) and each chunk stored at its place; :meth:`write_product` then rewrites
    the headers and small HDUs from the final metadata
    (:meth:`~webbcal.lib.fitsstream.StreamedProduct.relayout`) and renames the file
    into place. Only when the final headers would move the arrays (a header grown
    past a 2880-byte block), or the product goes elsewhere, are the arrays copied
    into a new file, as the raw spill's are.

    Parameters
    ----------
    template : DataModel
        A calibrated chunk: its metadata lays the product out (its per-integration
        arrays are swapped for placeholders meanwhile and restored).
    path : str
        The product's final path.
    shape : tuple of int
        (nints, ny, nx).
    attributes : list of str
        The per-integration arrays (``data``, ``dq``, ...), as in ``template``.
    """

    def __init__(self, template: Any, path: str, shape: tuple[int, int, int],
                 attributes: list[str]) -> None:  # fmt: skip
        from ..datamodels.io import assigning_checked_values
        from .fitsstream import StreamedProduct

        self.path = os.path.abspath(path)
        self.shape = shape
        saved = {attribute: getattr(template, attribute) for attribute in attributes}
        with assigning_checked_values(template):
            try:
                for attribute, value in saved.items():
                    setattr(template, attribute,
                            np.zeros((1,) + value.shape[1:], dtype=value.dtype))  # fmt: skip
                self._product = StreamedProduct(
                    template, self.path, {attribute: shape for attribute in attributes}
                )
            finally:
                for attribute, value in saved.items():
                    setattr(template, attribute, value)

    def write(self, attribute: str, start: int, values: np.ndarray) -> None:
        """Store integrations ``start:start + len(values)`` of ``attribute``."""
        self._product.write(attribute, (slice(start, start + len(values)),), values)

    def write_product(self, template: Any, path: str, chunk: int) -> str:
        """The product at ``path`` with the metadata of ``template`` (final metadata,
        (1, ny, nx) placeholders), renamed into place. ``chunk`` is not used (the
        arrays are already in the file)."""
        from .fitsstream import StreamedProduct

        product = self._product
        if os.path.abspath(path) == self.path and product.relayout(template):
            return product.commit()
        log.debug("%s: final headers move the arrays; copying them into a new file", path)
        shapes = {attribute: self.shape for attribute in product._arrays}
        with StreamedProduct(template, path, shapes) as out:
            out.copy_arrays_from(product)
            out.commit()
        return path

    def close(self) -> None:
        """Remove the temporary product if it was not written (no-op after)."""
        self._product.abort()
