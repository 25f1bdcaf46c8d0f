"""What every benchmark that times whole processes does first, so that runs compare fairly.

* :func:`compile_webbcal`: an installed package has its ``.pyc`` files (pip compiles
  a wheel's modules at install time, as it did for jwst, stdatamodels and every
  other dependency), and an editable install writes them the first time each module
  is imported. Where ``PYTHONDONTWRITEBYTECODE`` is set (as on the shared
  development machine) an editable webbcal never gets them: every fresh process
  would compile each webbcal module it imports from source (~0.4 s for the batch
  workers' warm-up alone), a cost no installed copy pays.
* :func:`flush_disk`: a run's products stay in the page cache as dirty pages that
  the kernel writes back later. On the development VM the virtual disk drains
  them at only ~55 MB/s and writers are throttled once ~0.9 GB are dirty, so a run
  started right after another one (or after the inputs were simulated) inherits
  that backlog and waits on it. Each timed run starts with the disk flushed
  (``WEBBCAL_BENCH_NO_FLUSH=1`` skips it: the test suite's smoke runs).
"""

from __future__ import annotations

import compileall
import importlib.util
import os
import time


def compile_webbcal() -> str:
    """Write the ``.pyc`` files of the webbcal package in use; return its directory.

    Compiles only what is missing or out of date (as ``python -m compileall``),
    whatever ``PYTHONDONTWRITEBYTECODE`` says.

    Raises
    ------
    ImportError
        When webbcal is not importable.
    """
    spec = importlib.util.find_spec("webbcal")
    if spec is None or not spec.origin:
        raise ImportError("webbcal is not importable: install it first (pip install -e .)")
    package = os.path.dirname(spec.origin)
    compileall.compile_dir(package, quiet=1)
    return package


def flush_disk() -> float:
    """Write every dirty page back to disk (``sync``); return the seconds it took."""
    t0 = time.perf_counter()
    if os.environ.get("WEBBCAL_BENCH_NO_FLUSH") != "1":
        os.sync()
    return time.perf_counter() - t0
