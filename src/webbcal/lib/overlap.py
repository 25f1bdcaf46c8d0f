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

__all__ = ["overlap_enabled", "run_beside"]

T = TypeVar("T")
U = TypeVar("U")

#: Environment variable that turns the overlap off (``0``): everything in one thread.
ENV_VARIABLE = "WEBBCAL_OVERLAP"


def overlap_enabled() -> bool:
    """Whether work may be overlapped in a second thread (``WEBBCAL_OVERLAP`` not ``0``,
    and more than one CPU available to this process)."""
    if os.environ.get(ENV_VARIABLE, "1").strip() == "0":
        return False
    try:
        return len(os.sched_getaffinity(0)) > 1
    except AttributeError:  # pragma: no cover - not Linux
        return (os.cpu_count() or 1) > 1


def run_beside(background: Callable[[Callable[[], None]], T],
               foreground: Callable[[], U]) -> tuple[T, U]:  # fmt: skip
    """Run ``background`` in a worker thread and ``foreground`` in this one.

    Parameters
    ----------
    background : callable
        Called as ``background(entering)`` in a worker thread. It calls
        ``entering()`` right before its GIL-free kernel (and may call it again;
        later calls do nothing); ``foreground`` starts then, or when
        ``background`` returns without calling it.
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
    entered = threading.Event()
    outcome: dict[str, object] = {}

    def work() -> None:
        try:
            outcome["value"] = background(entered.set)
        except BaseException as exc:  # re-raised in the caller's thread
            outcome["error"] = exc
        finally:
            entered.set()

    worker = threading.Thread(target=work, name="webbcal-beside", daemon=True)
    worker.start()
    entered.wait()
    try:
        result = foreground()
    finally:
        worker.join()
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"], result  # type: ignore[return-value]
