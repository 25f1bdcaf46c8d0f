"""Per-exposure work of a stage-3 step in forked worker processes, beside this one.

Much of the per-exposure work of ``calwebb_image3`` (source finding for alignment:
photutils, astropy, numpy) holds the GIL, so threads cannot run it side by side. On
Linux a forked child starts with the parent's memory (copy on write: the exposures
already read are not copied), runs one task and sends its result back (pickled), while
the parent goes on (e.g. reads the next exposure). Large buffers of the result (numpy
arrays of 1 MiB or more: drizzled images, pixel maps, masks) do not pass through the
pipe: the child copies them once into an anonymous shared-memory file the parent made
before forking (``memfd_create``), and the parent's arrays are mapped from it
(copy-on-write: no further copy); the pipe carries the rest. :class:`ForkPool`
keeps at most ``workers`` children running; the results are taken in the order the
tasks were given, so the outcome does not depend on timing.

What the child logs and warns comes back with the result and is emitted in the parent
when the result is taken, through the parent's own loggers and warning filters: the
messages appear once, in task order, where the same work done in the parent would put
them. An exception in the child is raised again in the parent.

The pool runs each task in the parent instead (when it is submitted) where forking is
not possible or not safe: not Linux, one CPU, ``WEBBCAL_OVERLAP=0``, another Python
thread running in this process (it could hold a lock the child needs), or numba's
OpenMP threading layer already started (its threads do not survive a fork).

References
----------
Python documentation, ``os.fork``, ``os.pipe``, ``pickle`` (protocol 5 out-of-band
buffers, PEP 574), ``os.memfd_create``, ``mmap``; Linux ``fork(2)`` (copy-on-write
pages), ``memfd_create(2)``; Numba documentation, "The Threading Layers" (fork safety).
"""

from __future__ import annotations

import logging
import mmap
import os
import pickle
import sys
import threading
import warnings
from collections.abc import Callable
from typing import Any

from .overlap import overlap_enabled

__all__ = ["ForkPool", "fork_available"]

log = logging.getLogger(__name__)

#: Bytes read from a child's pipe at a time.
_READ_BYTES = 1 << 22

#: Buffers of a result at least this large travel through shared memory (not the pipe).
_SHARED_MIN_BYTES = 1 << 20

#: Alignment (bytes) of each buffer in the shared-memory file.
_ALIGN = 64


def fork_available() -> bool:
    """Whether tasks may run in forked children (see the module notes)."""
    if not sys.platform.startswith("linux") or not hasattr(os, "fork"):
        return False
    if not overlap_enabled():
        return False
    if threading.active_count() > 1:
        return False  # another thread could hold a lock the child would need
    parallel = sys.modules.get("numba.np.ufunc.parallel")
    if parallel is not None and getattr(parallel, "_is_initialized", False):
        try:
            layer = parallel.threading_layer()
        except Exception:  # pragma: no cover - numba internals
            return False
        if layer == "omp":
            return False
    return True


class _Collect(logging.Handler):
    """Keeps the child's log records (made picklable) for the parent."""

    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        record.msg = record.getMessage()
        record.args = None
        record.exc_info = None
        record.exc_text = None
        self.records.append(record)


def _dumps(outcome: tuple, shared_fd: int | None) -> bytes:
    """``outcome`` pickled for the pipe: ``(layout, pickle)``, the buffers of at least
    :data:`_SHARED_MIN_BYTES` written to ``shared_fd`` at the ``(offset, size)`` of
    ``layout`` (all in the pipe when ``shared_fd`` is None)."""
    large: list[memoryview] = []

    def out_of_band(buffer: pickle.PickleBuffer) -> bool:
        try:
            raw = buffer.raw()
        except (BufferError, ValueError):  # not contiguous: pickled in the pipe
            return True
        if raw.nbytes < _SHARED_MIN_BYTES:
            return True
        large.append(raw)
        return False

    if shared_fd is None:
        return pickle.dumps(([], pickle.dumps(outcome, protocol=5)), protocol=5)
    data = pickle.dumps(outcome, protocol=5, buffer_callback=out_of_band)
    layout, end = [], 0
    for raw in large:
        layout.append((end, raw.nbytes))
        end += -(-raw.nbytes // _ALIGN) * _ALIGN
    if large:
        os.ftruncate(shared_fd, end)
        with mmap.mmap(shared_fd, end) as area:
            for (offset, size), raw in zip(layout, large):
                area[offset : offset + size] = raw
    return pickle.dumps((layout, data), protocol=5)


def _loads(data: bytes, shared_fd: int | None) -> tuple:
    """The outcome :func:`_dumps` sent; large buffers mapped from ``shared_fd``
    (private copy-on-write mapping: the arrays are writable, no copy is made)."""
    layout, body = pickle.loads(data)
    if not layout:
        return pickle.loads(body)
    size = os.fstat(shared_fd).st_size
    area = memoryview(mmap.mmap(shared_fd, size, access=mmap.ACCESS_COPY))
    return pickle.loads(body, buffers=[area[o : o + n] for o, n in layout])


def _new_shared_fd() -> int | None:
    """An anonymous shared-memory file for one child's large buffers (None where the
    system has none)."""
    try:
        return os.memfd_create("webbcal-forkmap", os.MFD_CLOEXEC)
    except (AttributeError, OSError):
        return None


def _child(fn: Callable[..., Any], args: tuple, kwargs: dict, fd: int,
           shared_fd: int | None = None) -> None:  # fmt: skip
    """Run one task in the child; write ``(ok, value, records, warnings)`` to ``fd``
    (large buffers to ``shared_fd``, :func:`_dumps`)."""
    root = logging.getLogger()
    collect = _Collect()
    for logger in [root, *logging.Logger.manager.loggerDict.values()]:
        if isinstance(logger, logging.Logger):
            for handler in list(logger.handlers):
                logger.removeHandler(handler)
    root.addHandler(collect)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            payload: tuple = (True, fn(*args, **kwargs))
        except BaseException as exc:  # sent to the parent
            payload = (False, exc)
    shown = [(str(w.message), w.category, w.filename, w.lineno) for w in caught]
    try:
        data = _dumps((*payload, collect.records, shown), shared_fd)
    except Exception as exc:  # an unpicklable result or exception
        text = f"{type(exc).__name__}: {exc} (the result of {fn!r} cannot be sent back)"
        data = _dumps((False, RuntimeError(text), collect.records, shown), None)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    os.close(fd)


class _Task:
    """One child: its process id and the read end of its pipe."""

    def __init__(self, pid: int, fd: int, shared_fd: int | None = None) -> None:
        self.pid, self.fd, self.shared_fd = pid, fd, shared_fd
        self.outcome: tuple | None = None

    def collect(self) -> tuple:
        """Read the child's answer and reap it (once)."""
        if self.outcome is None:
            chunks = []
            try:
                with os.fdopen(self.fd, "rb") as pipe:
                    while chunk := pipe.read(_READ_BYTES):
                        chunks.append(chunk)
                _, status = os.waitpid(self.pid, 0)
                if chunks:
                    self.outcome = _loads(b"".join(chunks), self.shared_fd)
                else:
                    code = os.waitstatus_to_exitcode(status)
                    error = RuntimeError(f"a worker process ended with status {code} and no result")
                    self.outcome = (False, error, [], [])
            finally:
                if self.shared_fd is not None:
                    os.close(self.shared_fd)  # the mapped arrays stay valid
                    self.shared_fd = None
        return self.outcome


class ForkPool:
    """Run tasks in forked children, at most ``workers`` at a time.

    Parameters
    ----------
    workers : int, optional
        Most children running at once (default 2); 0 runs every task in the parent.

    Notes
    -----
    :meth:`submit` returns a function that gives the task's result (waiting for the
    child, then emitting its log records and warnings). Use the pool as a context
    manager: on leaving, every child is waited for.
    """

    def __init__(self, workers: int = 2) -> None:
        self.workers = int(workers)
        self._running: list[_Task] = []
        self._all: list[_Task] = []

    def __enter__(self) -> ForkPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Wait for every child still running (results not taken are dropped)."""
        for task in self._all:
            try:
                task.collect()
            except Exception:  # pragma: no cover - an unreadable answer is dropped
                pass
        self._all.clear()
        self._running.clear()

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Callable[[], Any]:
        """Start ``fn(*args, **kwargs)`` in a child, or run it here (module notes).

        The child gets ``fn`` and its arguments by the fork (not pickled); its result
        and exceptions must be picklable.
        """
        if self.workers < 1 or not fork_available():
            return _run_here(fn, args, kwargs)
        while len(self._running) >= self.workers:
            self._running.pop(0).collect()
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # pragma: no cover - a closed stream
                pass
        read_fd, write_fd = os.pipe()
        shared_fd = _new_shared_fd()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            code = 0
            try:
                os.close(read_fd)
                _child(fn, args, kwargs, write_fd, shared_fd)
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        os.close(write_fd)
        task = _Task(pid, read_fd, shared_fd)
        self._running.append(task)
        self._all.append(task)
        return lambda: self._result(task)

    @staticmethod
    def run_here(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Callable[[], Any]:
        """Run ``fn(*args, **kwargs)`` in this process now (e.g. a first task, which
        loads what the later ones use before they are forked); return the function
        giving its result, as :meth:`submit` does."""
        return _run_here(fn, args, kwargs)

    def _result(self, task: _Task) -> Any:
        ok, value, records, shown = task.collect()
        if task in self._running:
            self._running.remove(task)
        for record in records:
            logger = logging.getLogger(record.name)
            if logger.isEnabledFor(record.levelno):
                logger.handle(record)
        for message, category, filename, lineno in shown:
            warnings.warn_explicit(message, category, filename, lineno)
        if not ok:
            raise value
        return value


def _run_here(fn: Callable[..., Any], args: tuple, kwargs: dict) -> Callable[[], Any]:
    """Run the task now; return the function giving its result (or raising its error)."""
    try:
        value = fn(*args, **kwargs)
    except Exception as exc:
        error = exc

        def fail() -> Any:
            raise error

        return fail
    return lambda: value
