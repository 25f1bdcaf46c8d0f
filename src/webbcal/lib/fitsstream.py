"""Write a JWST FITS product whose big arrays arrive block by block.

A time-series ``_rateints`` product of a 2048 x 64 subarray with 2000
integrations holds five (2000, 64, 2048) cubes, about 5 GB, which a streaming
executor produces a block of rows at a time and must never hold in memory at
once. :class:`StreamedProduct` lays the whole file out up front and lets each
block be stored at its place:

1. the HDUs, headers and ASDF extension are built by stdatamodels from a
   *template* model that holds all metadata and small arrays (tables) and
   placeholders for the big arrays, exactly as ``model.save`` builds them;
2. the headers of the big HDUs get their full NAXISn, the ASDF tree lists the
   full shapes, and the FITS hash stored in the tree is recomputed over those
   final headers, so that stdatamodels opens the product without re-reading
   the headers (its hash check passes);
3. headers and small HDUs are written, the big data regions are left as
   zero-filled holes, and :meth:`StreamedProduct.write` stores each block with
   positioned writes (``os.pwrite``) in the FITS on-disk encoding: big-endian,
   NAXIS1 varying fastest, unsigned integers offset by BZERO. Memory maps are
   deliberately not used: their dirty pages count in the resident set size.

The file is built under a temporary name in the destination directory and
renamed into place by :meth:`StreamedProduct.commit`, which refuses a product
in which any element of a big array was never written.

References
----------
.. [1] IAU FITS Working Group, "Definition of the Flexible Image Transport
   System (FITS), version 4.0" (2018): sections 3.3 (2880-byte blocks and
   zero fill of data), 4.4.2.5 (BSCALE, BZERO), 5.2 (integers, unsigned
   convention), 5.4 (array order).
.. [2] JWST User Documentation, "Understanding JWST Data Files"
   (jwst-docs.stsci.edu): the ASDF extension of JWST FITS products.
"""

from __future__ import annotations

import io
import logging
import os
import secrets
import warnings
import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["StreamedProduct"]

log = logging.getLogger(__name__)

#: Size of a FITS block (bytes); headers and data are padded to whole blocks.
FITS_BLOCK = 2880

#: BITPIX -> stored element type (big-endian).
_DISK_DTYPES = {
    8: np.dtype("u1"),
    16: np.dtype(">i2"),
    32: np.dtype(">i4"),
    64: np.dtype(">i8"),
    -32: np.dtype(">f4"),
    -64: np.dtype(">f8"),
}

#: Pending write intervals per array before they are merged (bounds the bookkeeping memory).
_COMPACT_AFTER = 1 << 16


def _padded(nbytes: int) -> int:
    return -(-nbytes // FITS_BLOCK) * FITS_BLOCK


class _Coverage:
    """The union of written element intervals ``[start, stop)`` of a flattened array."""

    def __init__(self, total: int):
        self.total = total
        self._starts = np.zeros(0, dtype=np.int64)
        self._stops = np.zeros(0, dtype=np.int64)
        self._pending: list[tuple[np.ndarray, int]] = []
        self._npending = 0

    def add(self, starts: np.ndarray, length: int) -> None:
        self._pending.append((starts, length))
        self._npending += starts.size
        if self._npending > _COMPACT_AFTER:
            self._compact()

    def _compact(self) -> None:
        if not self._pending:
            return
        starts = np.concatenate([self._starts] + [s for s, _ in self._pending])
        stops = np.concatenate([self._stops] + [s + n for s, n in self._pending])
        self._pending, self._npending = [], 0
        order = np.argsort(starts, kind="stable")
        starts, stops = starts[order], stops[order]
        reach = np.maximum.accumulate(stops)
        new = np.ones(starts.size, dtype=bool)
        new[1:] = starts[1:] > reach[:-1]
        first = np.flatnonzero(new)
        self._starts = starts[first]
        self._stops = np.maximum.reduceat(stops, first)

    def written(self) -> int:
        """Number of distinct elements written so far."""
        self._compact()
        return int(np.sum(self._stops - self._starts))

    def first_missing(self) -> int | None:
        """Flat index of the first element never written, or None when all were."""
        self._compact()
        if self._starts.size == 0:
            return 0 if self.total else None
        if self._starts[0] > 0:
            return 0
        end = int(self._stops[0])
        return None if end >= self.total else end


@dataclass
class _BigArray:
    """Where one big array lives in the file and how it is encoded."""

    attribute: str
    hdu_index: int
    shape: tuple[int, ...]
    dtype: np.dtype  # in-memory (physical) element type
    disk_dtype: np.dtype  # stored element type, big-endian
    sign_flip: int  # 0, or the sign bit XOR-ed into integers stored with BZERO offset
    header: Any  # final astropy Header (full NAXISn)
    offset: int = 0  # byte offset of the first data byte
    coverage: _Coverage | None = None

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))


class StreamedProduct:
    """A FITS product written incrementally, block by block.

    Parameters
    ----------
    template : stdatamodels.DataModel
        Holds ALL metadata and every small array or table (e.g. INT_TIMES). The
        big arrays named in ``shapes`` are placeholders with the dtype of the
        product and as many dimensions as the full shape, e.g. shape
        ``(1, ny, nx)``. The template is not modified (a copy is saved).
    path : str or os.PathLike
        Final file name. The file is built as a hidden temporary file in the
        same directory and renamed to ``path`` by :meth:`commit`.
    shapes : dict of str to tuple of int
        Full shape of each big array by model attribute, e.g.
        ``{"data": (nints, ny, nx), "err": (nints, ny, nx), "dq": (nints, ny, nx)}``.

    Raises
    ------
    ValueError
        If ``shapes`` is empty, a shape is not a tuple of positive integers, an
        attribute has no array in the template, or a placeholder has the wrong
        number of dimensions or lives in the primary HDU.

    Notes
    -----
    The metadata is finalised as ``model.save`` does (``on_save``: FILENAME is
    the final base name, DATE the time of construction). The product is
    opened as soon as the object is created: use it as a context manager, or
    call :meth:`abort` on failure, so that nothing is left behind.

    Examples
    --------
    >>> with StreamedProduct(template, "x_rateints.fits", shapes) as out:  # doctest: +SKIP
    ...     for r0, r1, block in blocks:
    ...         out.write("data", (slice(None), slice(r0, r1)), block)
    ...     out.commit()
    """

    def __init__(self, template: Any, path: str | os.PathLike, shapes: dict[str, tuple[int, ...]]):
        if not shapes:
            raise ValueError("shapes={}; expected at least one {attribute: full shape} entry")
        self.path = os.path.abspath(os.fspath(path))
        self._fd: int | None = None
        model = template.copy()
        model.on_save(self.path)
        hdulist, self._arrays = _build_hdulist(model, shapes)
        pieces, total = self._layout(hdulist)
        directory = os.path.dirname(self.path)
        os.makedirs(directory, exist_ok=True)
        name = f".tmp_webbcal_{secrets.token_hex(6)}_{os.path.basename(self.path)}"
        self.temporary_path = os.path.join(directory, name)
        self._fd = os.open(self.temporary_path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666)
        # an instance dropped without commit() or abort() still leaves nothing behind
        self._finalizer = weakref.finalize(self, _discard, self._fd, self.temporary_path)
        try:
            os.ftruncate(self._fd, total)  # big data regions stay as zero-filled holes
            for offset, data in pieces:
                _pwrite_all(self._fd, memoryview(data), offset)
        except BaseException:
            self.abort()
            raise
        log.debug("Streaming %s (%d bytes) via %s", self.path, total, self.temporary_path)

    # -- layout -----------------------------------------------------------------------------

    def _layout(self, hdulist: Any) -> tuple[list[tuple[int, bytes]], int]:
        """Byte pieces (offset, bytes) to write up front, and the total file size."""
        pieces, total = _plan(hdulist, self._arrays)
        for array in self._arrays.values():
            array.coverage = _Coverage(array.size)
        return pieces, total

    def relayout(self, template: Any) -> bool:
        """Give the product the metadata of ``template``, keeping the data written.

        The headers and small HDUs are rebuilt from ``template`` (like the
        constructor's: same attributes, same full shapes) and written over the old
        ones when every big array keeps its place and encoding (same header sizes in
        2880-byte blocks before it); the file is cut or grown to its new end.

        Returns
        -------
        bool
            True when done; False (nothing changed) when the big arrays would move:
            build a new product then and :meth:`copy_arrays_from` this one.
        """
        if self._fd is None:
            raise RuntimeError(f"{self.path}: product already committed or aborted")
        model = template.copy()
        model.on_save(self.path)
        shapes = {attribute: array.shape for attribute, array in self._arrays.items()}
        hdulist, arrays = _build_hdulist(model, shapes)
        pieces, total = _plan(hdulist, arrays)
        for attribute, array in arrays.items():
            old = self._arrays[attribute]
            if (array.offset, array.hdu_index, array.disk_dtype, array.sign_flip) != (
                old.offset, old.hdu_index, old.disk_dtype, old.sign_flip):  # fmt: skip
                return False
            array.coverage = old.coverage
        for offset, data in pieces:
            _pwrite_all(self._fd, memoryview(data), offset)
        os.ftruncate(self._fd, total)
        self._arrays = arrays
        return True

    def copy_arrays_from(self, other: StreamedProduct) -> None:
        """Copy the big arrays written in ``other`` (same attributes, shapes and
        encodings; e.g. a product whose metadata changed) into this product, as stored
        bytes, ``64 MiB`` at a time."""
        step = 64 * 2**20
        for attribute, array in self._arrays.items():
            src = other._arrays[attribute]
            if (src.shape, src.disk_dtype, src.sign_flip) != (
                array.shape, array.disk_dtype, array.sign_flip):  # fmt: skip
                raise ValueError(f"{attribute}: {src.shape} {src.disk_dtype} cannot be copied "
                                 f"to {array.shape} {array.disk_dtype}")  # fmt: skip
            nbytes = array.size * array.disk_dtype.itemsize
            for start in range(0, nbytes, step):
                data = os.pread(other._fd, min(step, nbytes - start), src.offset + start)
                _pwrite_all(self._fd, memoryview(data), array.offset + start)
            array.coverage = src.coverage

    # -- writing ----------------------------------------------------------------------------

    def write(self, attribute: str, index: Any, values: Any) -> None:
        """Store ``values`` in the region ``index`` of the full array ``attribute``.

        Parameters
        ----------
        attribute : str
            A key of ``shapes``, e.g. ``"data"``.
        index : int, slice or tuple of int and slice
            The region of the full array, as in numpy basic indexing with slices of
            step 1; missing trailing axes are whole, e.g. ``(slice(None), slice(r0, r1))``
            (all integrations of rows r0:r1) or ``(i, slice(r0, r1))``.
        values : array_like
            Values of the region: the shape ``full[index]`` would have (integer axes
            dropped), or broadcastable to it; cast to the product's dtype with
            ``same_kind`` casting.

        Raises
        ------
        KeyError
            If ``attribute`` is not one of the streamed arrays.
        IndexError
            If ``index`` is out of range or has more axes than the array.
        ValueError
            If a slice has a step other than 1, or ``values`` has the wrong shape.
        TypeError
            If ``values`` cannot be cast to the product's dtype with ``same_kind``.
        RuntimeError
            If the product was already committed or aborted.
        """
        if self._fd is None:
            raise RuntimeError(f"{self.path}: product already committed or aborted")
        if attribute not in self._arrays:
            raise KeyError(
                f"attribute={attribute!r} is not a streamed array; expected one of "
                f"{sorted(self._arrays)}"
            )
        array = self._arrays[attribute]
        starts, stops, kept = _region(index, array.shape, attribute)
        expected = tuple(stops[i] - starts[i] for i in kept)
        values = np.asarray(values)
        try:
            values = np.broadcast_to(values, expected)
        except ValueError:
            raise ValueError(
                f"{attribute}{_show(index)}: values have shape {values.shape}; expected {expected}"
            ) from None
        if 0 in expected:
            return
        stored = _encode(values.astype(array.dtype, casting="same_kind", copy=False), array)
        run_starts, run_length = _runs(starts, stops, array.shape)
        itemsize = array.disk_dtype.itemsize
        rows = memoryview(stored.reshape(-1)).cast("B")
        nbytes = run_length * itemsize
        for r, start in enumerate(run_starts.tolist()):
            chunk = rows[r * nbytes : (r + 1) * nbytes]
            _pwrite_all(self._fd, chunk, array.offset + start * itemsize)
        array.coverage.add(run_starts, run_length)

    # -- finishing --------------------------------------------------------------------------

    def missing(self) -> dict[str, int]:
        """Number of elements never written, by attribute (zero when complete)."""
        return {a: x.size - x.coverage.written() for a, x in self._arrays.items()}

    def commit(self, *, fsync: bool = False) -> str:
        """Check every element was written, rename the file into place and return its path.

        Parameters
        ----------
        fsync : bool
            Flush the file (and the directory entry) to disk before returning.

        Returns
        -------
        str
            The absolute final path.

        Raises
        ------
        RuntimeError
            If some element of a big array was never written (the message names the
            attribute and the first missing index; the product stays open so that it
            can be completed or aborted), or if the product was already committed or
            aborted.
        """
        if self._fd is None:
            raise RuntimeError(f"{self.path}: product already committed or aborted")
        for attribute, array in self._arrays.items():
            first = array.coverage.first_missing()
            if first is not None:
                where = tuple(int(i) for i in np.unravel_index(first, array.shape))
                missing = array.size - array.coverage.written()
                raise RuntimeError(
                    f"{self.path}: {attribute} is incomplete: {missing} of {array.size} "
                    f"elements of shape {array.shape} were never written, the first at "
                    f"index {where}"
                )
        fd, self._fd = self._fd, None
        self._finalizer.detach()
        try:
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.replace(self.temporary_path, self.path)
        except BaseException:
            _remove(self.temporary_path)
            raise
        if fsync:
            _fsync_directory(os.path.dirname(self.path))
        log.info("Saved %s", self.path)
        return self.path

    def abort(self) -> None:
        """Close and remove the temporary file; no-op once committed or aborted."""
        if self._fd is not None:
            self._fd = None
            self._finalizer()

    def __enter__(self) -> StreamedProduct:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if self._fd is not None:
            if exc_type is None:
                log.warning("%s was not committed; temporary file removed", self.path)
            self.abort()


# -- building the HDUs ----------------------------------------------------------------------


def _build_hdulist(model: Any, shapes: dict[str, tuple[int, ...]]) -> tuple[Any, dict]:
    """The model's HDUList as ``model.save`` builds it, with the big arrays at full shape.

    Follows ``stdatamodels.fits_support.to_fits`` step by step so that the ASDF
    tree can be edited (full shapes, hash of the final headers) before the ASDF
    extension is serialised.
    """
    from astropy.io import fits
    from stdatamodels import fits_support as fs

    hdulist = fits.HDUList([fits.PrimaryHDU()])
    tree = fs._normalize_arrays(model._instance)
    tree = fs._save_from_schema(hdulist, tree, model._schema)
    tree = fs._save_extra_fits(hdulist, tree)
    fs._save_history(hdulist, tree)
    arrays = {}
    for attribute, shape in shapes.items():
        arrays[attribute] = _big_array(hdulist, tree, attribute, shape)
    tree[fs.FITS_HASH_KEY] = fs.fits_hash(hdulist)
    if not model._no_asdf_extension:
        hdulist.append(fs._create_asdf_hdu(tree))
    for array in arrays.values():
        array.header = hdulist[array.hdu_index].header.copy()
    return hdulist, arrays


def _plan(hdulist: Any, arrays: dict[str, _BigArray]) -> tuple[list[tuple[int, bytes]], int]:
    """Byte pieces (offset, bytes) of the headers and small HDUs of ``hdulist``, and the
    file size; sets the data offset of each big array of ``arrays``."""
    from astropy.io import fits

    big = {a.hdu_index: a for a in arrays.values()}
    small = fits.HDUList([hdu for i, hdu in enumerate(hdulist) if i not in big])
    spans = _serialize(small)
    pieces: list[tuple[int, bytes]] = []
    offset, k = 0, 0
    for i in range(len(hdulist)):
        if i in big:
            array = big[i]
            head = array.header.tostring().encode("ascii")
            pieces.append((offset, head))
            array.offset = offset + len(head)
            offset = array.offset + _padded(array.size * array.disk_dtype.itemsize)
        else:
            pieces.append((offset, spans[k]))
            offset += len(spans[k])
            k += 1
    return pieces, offset


def _big_array(hdulist: Any, tree: dict, attribute: str, shape: Any) -> _BigArray:
    """Locate ``attribute``'s HDU, set its header and tree entry to the full shape."""
    if not (
        isinstance(shape, tuple)
        and shape
        and all(isinstance(n, (int, np.integer)) and n > 0 for n in shape)
    ):
        raise ValueError(f"shapes[{attribute!r}]={shape!r}; expected a tuple of positive integers")
    shape = tuple(int(n) for n in shape)
    node = tree.get(attribute)
    source = node.get("source") if hasattr(node, "get") else None
    if not (isinstance(source, str) and source.startswith("fits:")):
        raise ValueError(
            f"attribute {attribute!r} has no array in the template; expected a placeholder "
            f"array of {len(shape)} dimensions stored in its own FITS extension"
        )
    name, _, ver = source.removeprefix("fits:").partition(",")
    index = int(name) if name.isdigit() else hdulist.index_of((name, int(ver or 1)))
    hdu = hdulist[index]
    if index == 0 or hdu.data is None or hdu.data.ndim != len(shape):
        ndim = None if hdu.data is None else hdu.data.ndim
        raise ValueError(
            f"attribute {attribute!r}: placeholder in HDU {index} ({hdu.name}) has {ndim} "
            f"dimensions; expected {len(shape)} (like {shape}) in an extension HDU"
        )
    header = hdu.header
    for axis, n in enumerate(reversed(shape), start=1):
        header[f"NAXIS{axis}"] = n
    node["shape"] = list(shape)
    array = _BigArray(
        attribute=attribute,
        hdu_index=index,
        shape=shape,
        dtype=hdu.data.dtype.newbyteorder("="),
        disk_dtype=_disk_dtype(header, attribute),
        sign_flip=0,
        header=None,
    )
    array.sign_flip = _sign_flip(header, array)
    return array


def _disk_dtype(header: Any, attribute: str) -> np.dtype:
    bitpix = header["BITPIX"]
    if bitpix not in _DISK_DTYPES:
        raise ValueError(f"attribute {attribute!r}: unsupported BITPIX={bitpix}")
    if header.get("BSCALE", 1) != 1:
        raise ValueError(
            f"attribute {attribute!r}: BSCALE={header['BSCALE']}; expected 1 (no scaling)"
        )
    return _DISK_DTYPES[bitpix]


def _sign_flip(header: Any, array: _BigArray) -> int:
    """The bit XOR-ed into integers stored with the BZERO offset convention, or 0."""
    bzero = header.get("BZERO", 0)
    bits = 8 * array.disk_dtype.itemsize
    if bzero == 0:
        if (array.dtype.kind, array.dtype.itemsize) != (
            array.disk_dtype.kind,
            array.disk_dtype.itemsize,
        ):
            raise ValueError(
                f"attribute {array.attribute!r}: {array.dtype} stored as "
                f"{array.disk_dtype} without BZERO"
            )
        return 0
    offset = 1 << (bits - 1)
    ok_unsigned = array.dtype.kind == "u" and bzero == offset
    ok_signed_byte = array.dtype.kind == "i" and bits == 8 and bzero == -offset
    if array.dtype.itemsize * 8 != bits or not (ok_unsigned or ok_signed_byte):
        raise ValueError(
            f"attribute {array.attribute!r}: BZERO={bzero} with {array.dtype} stored as "
            f"{array.disk_dtype} is not the integer offset convention"
        )
    return offset


def _serialize(hdulist: Any) -> list[bytes]:
    """The bytes of each HDU of ``hdulist`` as astropy writes them."""
    from astropy.io import fits

    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Card is too long")
        hdulist.writeto(buffer)
    raw = buffer.getvalue()
    with fits.open(io.BytesIO(raw), memmap=False, lazy_load_hdus=False) as written:
        starts = [written.fileinfo(i)["hdrLoc"] for i in range(len(written))]
    ends = starts[1:] + [len(raw)]
    return [raw[a:b] for a, b in zip(starts, ends, strict=True)]


# -- regions and encoding -------------------------------------------------------------------


def _show(index: Any) -> str:
    return f"[{index!r}]"


def _region(index: Any, shape: tuple[int, ...], attribute: str) -> tuple[list, list, list]:
    """(starts, stops, axes kept) of a basic index over ``shape``."""
    if not isinstance(index, tuple):
        index = (index,)
    if len(index) > len(shape):
        raise IndexError(
            f"{attribute}{_show(index)}: {len(index)} indices for an array of shape {shape}"
        )
    index = index + (slice(None),) * (len(shape) - len(index))
    starts, stops, kept = [], [], []
    for axis, (item, n) in enumerate(zip(index, shape, strict=True)):
        if isinstance(item, slice):
            start, stop, step = item.indices(n)
            if step != 1:
                raise ValueError(
                    f"{attribute}{_show(index)}: axis {axis} has step {step}; expected 1"
                )
            starts.append(start)
            stops.append(max(stop, start))
            kept.append(axis)
        elif isinstance(item, (int, np.integer)) and not isinstance(item, bool):
            if not -n <= item < n:
                raise IndexError(
                    f"{attribute}{_show(index)}: index {item} out of range for axis {axis} "
                    f"of size {n}"
                )
            starts.append(int(item) % n)
            stops.append(int(item) % n + 1)
        else:
            raise IndexError(
                f"{attribute}{_show(index)}: axis {axis} index {item!r}; expected an int or a slice"
            )
    return starts, stops, kept


def _runs(starts: list, stops: list, shape: tuple[int, ...]) -> tuple[np.ndarray, int]:
    """Flat start indices of the contiguous runs of a region (C order) and their length."""
    ndim = len(shape)
    k = ndim - 1
    while k > 0 and starts[k] == 0 and stops[k] == shape[k]:
        k -= 1
    strides = [int(np.prod(shape[j + 1 :], dtype=np.int64)) for j in range(ndim)]
    length = (stops[k] - starts[k]) * strides[k]
    flat = np.array(starts[k] * strides[k], dtype=np.int64)
    for j in range(k - 1, -1, -1):
        axis = np.arange(starts[j], stops[j], dtype=np.int64) * strides[j]
        flat = axis.reshape((-1,) + (1,) * flat.ndim) + flat
    return flat.reshape(-1), length


def _encode(values: np.ndarray, array: _BigArray) -> np.ndarray:
    """Physical values -> a new C-contiguous array of stored big-endian elements."""
    if array.sign_flip:
        # stored = physical - BZERO with BZERO = -/+ 2**(bits-1): flip the sign bit
        bits = np.dtype(f"u{values.dtype.itemsize}")
        flipped = np.bitwise_xor(values.view(bits), bits.type(array.sign_flip))
        values = flipped.view(array.disk_dtype.newbyteorder("="))
    return np.ascontiguousarray(values, dtype=array.disk_dtype)


# -- file helpers ---------------------------------------------------------------------------


def _pwrite_all(fd: int, data: memoryview, offset: int) -> None:
    done, total = 0, len(data)
    while done < total:  # os.pwrite may write fewer bytes than asked
        done += os.pwrite(fd, data[done:], offset + done)


def _discard(fd: int, path: str) -> None:
    os.close(fd)
    _remove(path)


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def _fsync_directory(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
