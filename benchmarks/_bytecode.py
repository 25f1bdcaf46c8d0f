"""Byte-compile webbcal's modules before a benchmark times fresh processes.

An installed package has its ``.pyc`` files (pip compiles a wheel's modules at
install time, as it did for jwst, stdatamodels and every other dependency), and an
editable install writes them the first time each module is imported. Where
``PYTHONDONTWRITEBYTECODE`` is set (as on the shared development machine), an
editable webbcal never gets them: every fresh process of a benchmark would then
compile each webbcal module it imports from source (~0.4 s for the batch workers'
warm-up alone), a cost no installed copy pays and the official pipeline's
processes do not pay either. Benchmarks that time whole processes call
:func:`compile_webbcal` once before their first run.
"""

from __future__ import annotations

import compileall
import importlib.util
import os


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
