"""Allocate without transparent-huge-page advice while a pipeline runs.

numpy asks Linux for transparent huge pages (``madvise(MADV_HUGEPAGE)``) on
every large array. Where the kernel's THP defragmentation is ``madvise`` (a
common default), a page fault in such an array may compact memory on the spot
before it can hand out a 2 MiB page: measured on the 2-core benchmark machine,
first touching 250 MB took 0.44-0.56 s with the advice and 0.10 s without it
(0.03 s when free huge pages happened to be at hand). A calibration run
allocates hundreds of megabytes of short-lived arrays in a fresh process, so
the stalls add up (case 1 of ``benchmarks/bench_detector1.py``: about 0.45 s of
4.5 s), while the huge pages themselves bought nothing measurable for its
compiled kernels.

:func:`without_hugepage_advice` turns the advice off for the duration of a
``with`` block and restores numpy's previous setting afterwards. Set the
environment variable ``WEBBCAL_HUGEPAGES=1`` to keep numpy's setting (e.g. on a
machine with ``defrag`` set to ``defer``, where huge pages are cheap).

References
----------
Linux kernel documentation, "Transparent Hugepage Support"
(``/sys/kernel/mm/transparent_hugepage/defrag``); numpy documentation,
``NUMPY_MADVISE_HUGEPAGE``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

__all__ = ["without_hugepage_advice"]


def _setter():
    """numpy's switch for the advice (returns the previous value), or None."""
    try:
        from numpy._core import multiarray
    except ImportError:  # numpy 1.x
        from numpy.core import multiarray
    return getattr(multiarray, "_set_madvise_hugepage", None)


@contextlib.contextmanager
def without_hugepage_advice() -> Iterator[None]:
    """Within the block, numpy allocates large arrays without huge-page advice.

    Does nothing when ``WEBBCAL_HUGEPAGES=1`` or when numpy offers no switch;
    the previous setting is restored on exit, also on error.
    """
    setter = _setter()
    if setter is None or os.environ.get("WEBBCAL_HUGEPAGES") == "1":
        yield
        return
    previous = setter(False)
    try:
        yield
    finally:
        setter(previous)
