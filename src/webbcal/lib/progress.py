"""Progress reporting hook for long kernels.

Kernels that loop over integrations call :func:`integration_done`; it does
nothing unless a caller (the pipeline's terminal display) installed a reporter
with :func:`reporting`. The hook never changes results.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar

__all__ = ["integration_done", "reporting"]

_REPORTER: ContextVar[Callable[[int, int], None] | None] = ContextVar(
    "webbcal_progress_reporter", default=None
)


def integration_done(done: int, total: int) -> None:
    """Report that ``done`` of ``total`` integrations are finished (no-op by default)."""
    reporter = _REPORTER.get()
    if reporter is not None:
        reporter(done, total)


@contextlib.contextmanager
def reporting(callback: Callable[[int, int], None]) -> Iterator[None]:
    """Install ``callback(done, total)`` as the integration reporter inside the block."""
    token = _REPORTER.set(callback)
    try:
        yield
    finally:
        _REPORTER.reset(token)
