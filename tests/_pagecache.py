"""Which pages of a file the kernel holds in its page cache (Linux ``mincore(2)``)."""

from __future__ import annotations

import ctypes
import mmap
import os
import sys


def resident_pages(path) -> int:
    """Number of the file's pages in the page cache (mapping it faults none in)."""
    size = os.path.getsize(path)
    if size == 0:
        return 0
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                          ctypes.c_int, ctypes.c_long]  # fmt: skip
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
    pages = -(-size // mmap.PAGESIZE)
    vec = (ctypes.c_ubyte * pages)()
    with open(path, "rb") as fh:
        addr = libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, fh.fileno(), 0)
        if addr in (None, ctypes.c_void_p(-1).value):
            raise OSError(ctypes.get_errno(), "mmap failed", str(path))
        try:
            if libc.mincore(addr, size, vec) != 0:
                raise OSError(ctypes.get_errno(), "mincore failed", str(path))
        finally:
            libc.munmap(addr, size)
    return sum(v & 1 for v in vec)


def drops_cached_pages(directory) -> bool:
    """Whether files in ``directory`` leave the page cache on ``fdatasync`` + DONTNEED
    (not on tmpfs, nor where the platform lacks the calls)."""
    if not sys.platform.startswith("linux") or not hasattr(os, "posix_fadvise"):
        return False
    probe = os.path.join(directory, ".pagecache_probe")
    with open(probe, "wb") as fh:
        fh.write(b"\1" * (1 << 20))
        fh.flush()
        os.fdatasync(fh.fileno())
        os.posix_fadvise(fh.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
    try:
        return resident_pages(probe) == 0
    finally:
        os.unlink(probe)
