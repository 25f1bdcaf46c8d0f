"""Run a compiled, GIL-free computation in a worker thread beside other work.

Some calls webbcal cannot change hold the GIL for their whole duration (drizzle's
``tdriz``: about half a second per full-frame exposure). Work that runs at the same
time in another thread must therefore already be inside code that does not need
the GIL (a numba ``nogil`` kernel) when such a call starts, or it waits for the call
to end. :func:`run_beside` starts the worker, waits until the worker says it is
about to enter its kernel, and only then runs the caller's part.

The two parts must not write the same arrays; the results are then the same as
running them one after the other, only the timing differs.

References
----------
Python documentation, ``threading`` ("CPython implementation detail": the global
interpreter lock); numba documentation, "Supported Python features", ``nogil``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import TypeVar

__all__ = ["Beside", "overlap_enabled", "run_beside", "start_beside"]

T = TypeVar("T")
U = TypeVar("U")

#: Environment variable that turns the overlap off (``0``): everything in one thread.
ENV_VARIABLE = "WEBBCAL_OVERLAP"


def overlap_enabled() -> bool:
    """Whether work may be overlapped in a second thread or process (``WEBBCAL_OVERLAP``
    not ``0``, and more than one CPU available to this process)."""
    if os.environ.get(ENV_VARIABLE, "1").strip() == "0":
        return False
    try:
        return len(os.sched_getaffinity(0)) > 1
    except AttributeError:  # pragma: no cover - not Linux
        return (os.cpu_count() or 1) > 1


class Beside:
    """A worker thread started by :func:`start_beside`; :meth:`join` gives its result."""

    def __init__(self, background: Callable[[Callable[[], None]], T]) -> None:
        self._entered = threading.Event()
        self._outcome: dict[str, object] = {}
        self._worker = threading.Thread(target=self._work, args=(background,),
                                        name="webbcal-beside", daemon=True)  # fmt: skip
        self._worker.start()
        self._entered.wait()

    def _work(self, background) -> None:
        try:
            self._outcome["value"] = background(self._entered.set)
        except BaseException as exc:  # re-raised in the caller's thread
            self._outcome["error"] = exc
        finally:
            self._entered.set()

    def join(self):
        """Wait for the worker; return its result or raise its exception."""
        self._worker.join()
        if "error" in self._outcome:
            error = self._outcome.pop("error")
            raise error  # type: ignore[misc]
        return self._outcome.get("value")


def start_beside(background: Callable[[Callable[[], None]], T]) -> Beside:
    """Start ``background`` in a worker thread; return once it enters its kernel.

    Parameters
    ----------
    background : callable
        Called as ``background(entering)`` in a worker thread. It calls
        ``entering()`` right before its GIL-free kernel (later calls do nothing);
        this function returns then, or when ``background`` ends without calling it.

    Returns
    -------
    Beside
        ``join()`` waits for the worker and returns ``background``'s result (or
        raises its exception).
    """
    return Beside(background)


def run_beside(background: Callable[[Callable[[], None]], T],
               foreground: Callable[[], U]) -> tuple[T, U]:  # fmt: skip
    """Run ``background`` in a worker thread and ``foreground`` in this one.

    Parameters
    ----------
    background : callable
        As for :func:`start_beside`; ``foreground`` starts once it enters its
        kernel.
    foreground : callable
        Called without arguments in this thread.

    Returns
    -------
    tuple
        ``(background's result, foreground's result)``.

    Raises
    ------
    BaseException
        The exception of ``foreground`` if it raised (after the worker ended), else
        the one of ``background``.
    """
    beside = start_beside(background)
    try:
        result = foreground()
    except BaseException:
        try:
            beside.join()
        except BaseException:  # the foreground's error is the one reported
            pass
        raise
    return beside.join(), result
