"""Median of many images of one grid, computed by row blocks from a file on disk.

Outlier detection needs, at every pixel of the output grid, the median over the
exposure groups of their drizzled images. Holding every drizzled image at once
costs ``n_groups x ny x nx x 4`` bytes (the official ``in_memory`` path). Here each
image is written, as soon as it is made, to one temporary file (``float32``, plane
after plane); the median is then computed block of rows by block of rows, reading
only those rows of every plane. Memory holds one block
(``n_groups x rows x nx``, at most ``block_bytes``) and the median image; it does
not grow with the number of groups. The median of a pixel depends only on that
pixel's values, so the result is the same, bit for bit, for any block size and
equals ``numpy.nanmedian`` of the whole stack along the first axis.

References
----------
JWST pipeline documentation, ``outlier_detection`` "Imaging Data", step 3 (the
median of the resampled groups) and "Outlier Detection for memory-limited
processing" (``in_memory``, median computed in sections from temporary files).
"""

from __future__ import annotations

import logging
import os
import tempfile
import warnings

import numpy as np

__all__ = [
    "DEFAULT_BLOCK_BYTES",
    "ImageStack",
    "compiled_nanmedian",
    "nanmedian_stack",
    "sorted_nanmedian",
]

log = logging.getLogger(__name__)

#: Default memory of one block of rows of all planes, bytes.
DEFAULT_BLOCK_BYTES = 32 * 2**20
_ITEM = np.dtype(np.float32).itemsize


def nanmedian_stack(stack: np.ndarray) -> np.ndarray:
    """Median along axis 0 ignoring NaN; NaN where a pixel has no finite value.

    Parameters
    ----------
    stack : ndarray, shape (n, ny, nx), float32
        Read only.

    Returns
    -------
    ndarray, shape (ny, nx), float32
    """
    out = np.empty(stack.shape[1:], dtype=np.float32)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "All-NaN slice", RuntimeWarning)
        for j in range(stack.shape[1]):  # one row at a time: nanmedian copies its input
            out[j] = np.nanmedian(stack[:, j, :], axis=0)
    return out


def sorted_nanmedian(stack: np.ndarray) -> np.ndarray:
    """The same values as :func:`nanmedian_stack`, from one sort along axis 0.

    ``numpy.nanmedian`` over a short axis (fewer than 600 values) goes through masked
    arrays and is slow; here the stack is sorted once (NaN sorts last), the finite
    count ``c`` of each pixel picks the middle value(s) ``s[(c - 1) // 2]`` and
    ``s[c // 2]``, and the median is their float32 sum halved, as numpy computes it
    (the tests check equality bit for bit).

    Parameters
    ----------
    stack : ndarray, shape (n, ny, nx), float32
        Read only.

    Returns
    -------
    ndarray, shape (ny, nx), float32
        NaN where a pixel has no non-NaN value.
    """
    ordered = np.sort(stack, axis=0)
    count = np.count_nonzero(~np.isnan(stack), axis=0)
    high = np.minimum(count // 2, stack.shape[0] - 1)
    low = np.maximum(np.where(count % 2 == 1, high, high - 1), 0)
    lo = np.take_along_axis(ordered, low[np.newaxis], axis=0)[0]
    hi = np.take_along_axis(ordered, high[np.newaxis], axis=0)[0]
    out = np.add(lo, hi, dtype=np.float32)
    np.true_divide(out, 2.0, out=out)
    out[count == 0] = np.nan
    return out


def compiled_nanmedian(stack: np.ndarray) -> np.ndarray:
    """:func:`sorted_nanmedian` compiled: an insertion sort of each pixel's values.

    The same values bit for bit (the tests check it) at a fraction of the time for a
    few to a few tens of planes; more planes (above 64) go through
    :func:`sorted_nanmedian`.

    Parameters
    ----------
    stack : ndarray, shape (n, ny, nx), float32
        Read only.

    Returns
    -------
    ndarray, shape (ny, nx), float32
        NaN where a pixel has no non-NaN value.
    """
    from ._median_kernel import MAX_PLANES, median_planes

    stack = np.ascontiguousarray(stack, dtype=np.float32)
    if stack.shape[0] > MAX_PLANES:
        return sorted_nanmedian(stack)
    return median_planes(stack, np.empty(stack.shape[1:], dtype=np.float32))


class ImageStack:
    """``n`` images of shape ``(ny, nx)`` kept in a temporary file, read back by rows.

    Parameters
    ----------
    n : int
        Number of planes (>= 1).
    shape : tuple of int
        ``(ny, nx)`` of each plane.
    directory : str or None
        Folder of the temporary file (the system temporary folder when None).
    block_bytes : int
        Largest memory of one block of rows of every plane, bytes (at least one
        row is read).

    Raises
    ------
    ValueError
        If ``n`` < 1 or the shape is not two positive ints.

    Notes
    -----
    Use as a context manager (or call :meth:`close`): the file is removed on exit.
    Planes not written read as NaN.
    """

    def __init__(self, n: int, shape: tuple[int, int], *, directory: str | None = None,
                 block_bytes: int = DEFAULT_BLOCK_BYTES) -> None:  # fmt: skip
        if int(n) < 1:
            raise ValueError(f"n={n!r}: expected at least one image")
        ny, nx = (int(v) for v in shape)
        if ny < 1 or nx < 1:
            raise ValueError(f"shape={shape!r}: expected (ny, nx) of positive ints")
        self.n, self.shape = int(n), (ny, nx)
        self.rows_per_block = max(1, int(block_bytes) // (self.n * nx * _ITEM))
        handle, self.path = tempfile.mkstemp(prefix="webbcal_median_", suffix=".f32",
                                             dir=directory)  # fmt: skip
        self._file = os.fdopen(handle, "w+b")
        self._written = [False] * self.n

    def __enter__(self) -> ImageStack:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Remove the temporary file."""
        if not self._file.closed:
            self._file.close()
        if os.path.exists(self.path):
            os.remove(self.path)

    def write(self, index: int, image: np.ndarray) -> None:
        """Store plane ``index``.

        Raises
        ------
        ValueError
            If the index is out of range or the image has another shape.
        """
        if not 0 <= index < self.n:
            raise ValueError(f"index={index!r}: expected 0 <= index < {self.n}")
        if image.shape != self.shape:
            raise ValueError(f"image shape {image.shape} differs from the stack's {self.shape}")
        self._file.seek(index * self.shape[0] * self.shape[1] * _ITEM)
        np.ascontiguousarray(image, dtype=np.float32).tofile(self._file)
        self._written[index] = True

    def rows(self, start: int, stop: int) -> np.ndarray:
        """Rows ``start:stop`` of every plane, shape (n, stop - start, nx), float32."""
        ny, nx = self.shape
        stop = min(stop, ny)
        block = np.full((self.n, stop - start, nx), np.nan, dtype=np.float32)
        self._file.flush()
        for k in range(self.n):
            if not self._written[k]:
                continue
            self._file.seek((k * ny + start) * nx * _ITEM)
            block[k] = np.fromfile(self._file, dtype=np.float32,
                                   count=(stop - start) * nx).reshape(stop - start, nx)  # fmt: skip
        return block

    def median(self) -> np.ndarray:
        """NaN-ignoring median over the planes, block of rows by block of rows.

        Returns
        -------
        ndarray, shape (ny, nx), float32
            Equal to :func:`nanmedian_stack` of the whole stack (computed with
            :func:`compiled_nanmedian`).
        """
        ny, _ = self.shape
        out = np.empty(self.shape, dtype=np.float32)
        nblocks = -(-ny // self.rows_per_block)
        log.info("Computing the median of %d images in %d block(s) of %d row(s)", self.n,
                 nblocks, self.rows_per_block)  # fmt: skip
        for start in range(0, ny, self.rows_per_block):
            stop = min(ny, start + self.rows_per_block)
            out[start:stop] = compiled_nanmedian(self.rows(start, stop))
        return out
