"""Simulated cases for the step-by-step parity tests against the official pipeline.

The exposures and references come from ``build_case`` of ``tests/conftest.py`` (the
root conftest, reached through pytest's plugin manager so that the module-name clash of
the several ``conftest.py`` files in ``tests/`` does not matter).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from webbcal.lib.subarray import SubarrayGeometry

#: name -> (build_case keyword arguments, run_chains keyword arguments).
CASES = {
    # NIRCam corner subarray, RAPID, cosmic rays: the reference case.
    "nrca1_sub160p_rapid": (
        {"subarray": "SUB160P", "ngroups": 6, "nints": 1, "cr_rate": 2e-3, "seed": 3}, {}
    ),
    # Full-width stripe, 4 amplifiers, frame averaging with dropped frames, 2 integrations.
    "nrca1_stripe_medium8": (
        {"subarray": "GENERIC", "geometry": SubarrayGeometry(1, 1, 2048, 64),
         "readpatt": "MEDIUM8", "ngroups": 5, "nints": 2, "cr_rate": 2e-3, "seed": 7},
        {},
    ),
    # Frame averaging without gaps, 3 integrations (few groups).
    "nrca1_sub64p_bright2": (
        {"subarray": "SUB64P", "readpatt": "BRIGHT2", "ngroups": 4, "nints": 3,
         "cr_rate": 3e-3, "seed": 21},
        {},
    ),
    # NIRSpec: FASTAXIS=2 (columns read out along y).
    "nrs1_sub512_nrsrapid": (
        {"instrument": "NIRSPEC", "detector": "NRS1", "subarray": "SUB512", "ngroups": 6,
         "cr_rate": 2e-3, "seed": 5},
        {},
    ),
    # NIRISS: FASTAXIS=-2, SLOWAXIS=-1.
    "nis_sub64": (
        {"instrument": "NIRISS", "detector": "NIS", "subarray": "SUB64", "ngroups": 6,
         "nints": 2, "cr_rate": 3e-3, "seed": 9},
        {},
    ),
    # Three groups: the three-group jump threshold and two differences per ramp.
    "nrca1_sub64p_3groups": (
        {"subarray": "SUB64P", "ngroups": 3, "nints": 2, "cr_rate": 3e-3, "seed": 13}, {}
    ),
    # Two groups: jump detection is skipped on both sides.
    "nrca1_sub64p_2groups": (
        {"subarray": "SUB64P", "ngroups": 2, "nints": 2, "cr_rate": 3e-3, "seed": 15}, {}
    ),
    # ZEROFRAME present (used by ramp_fit for ramps saturated in the first group), and
    # charge_migration explicitly enabled (skip=True by default on both sides).
    "nrca1_sub160p_zeroframe_cm": (
        {"subarray": "SUB160P", "ngroups": 5, "nints": 1, "cr_rate": 2e-3, "seed": 17,
         "zeroframe": True},
        {"charge_migration": True},
    ),
}  # fmt: skip


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
    from _parity import run_chains

    build_case = _root_build_case(request.config)
    cache: dict = {}

    def get(name: str):
        if name not in cache:
            build_kw, chain_kw = CASES[name]
            work = tmp_path_factory.mktemp(name)
            case = build_case(work / "case", **build_kw)
            cache[name] = (case, run_chains(case.uncal, case.refs, work, **chain_kw))
        return cache[name]

    return get
