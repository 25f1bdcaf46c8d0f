"""Simulated cases for the step-by-step parity tests against the official pipeline.

The exposures and references come from ``build_case`` of ``tests/conftest.py`` (the
root conftest, reached through pytest's plugin manager so that the module-name clash of
the several ``conftest.py`` files in ``tests/`` does not matter), except the ZEROFRAME
case, which needs extra early-saturating stars (``_parity.build_exposure``). The cases
themselves are listed in ``_parity.CASES``.
"""

from __future__ import annotations

from pathlib import Path

import pytest


def _root_build_case(config):
    """``build_case`` of ``tests/conftest.py``, from the already-registered conftest plugin."""
    root_conftest = Path(__file__).resolve().parent.parent / "conftest.py"
    for plugin in config.pluginmanager.get_plugins():
        if Path(getattr(plugin, "__file__", "") or "").resolve() == root_conftest:
            return plugin.build_case
    raise RuntimeError(f"{root_conftest} is not loaded as a pytest plugin")


@pytest.fixture(scope="session")
def parity_chains(request, tmp_path_factory):
    """``get(name) -> (Stage1Case, ChainResult)``, computed once per session and case."""
    pytest.importorskip("jwst")
    from _parity import CASES, build_exposure, run_chains

    build_case = _root_build_case(request.config)
    cache: dict = {}

    def get(name: str):
        if name not in cache:
            build_kw, chain_kw = CASES[name]
            work = tmp_path_factory.mktemp(name)
            if "early_saturating" in build_kw:
                case = build_exposure(work / "case", **build_kw)
            else:
                case = build_case(work / "case", **build_kw)
            cache[name] = (case, run_chains(case.uncal, case.refs, work, **chain_kw))
        return cache[name]

    return get
