"""A small simulated MIRI dark case, reference overrides, and the official calwebb_dark runner."""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

#: Parameter keys of the local CRDS contexts (as in ``tests/conftest.py``).
PARKEYS = ("META.INSTRUMENT.DETECTOR", "META.SUBARRAY.NAME")

#: Reference types each step reads (both implementations), in calwebb_dark order.
STEP_REFTYPES = {
    "dq_init": ("mask",),
    "emicorr": ("emicorr",),
    "saturation": ("saturation", "superbias"),
    "ipc": ("ipc",),
    "superbias": ("superbias",),
    "refpix": ("refpix", "sirskernel"),
    "reset": ("reset",),
    "linearity": ("linearity",),
    "rscd": ("rscd",),
}


@dataclass
class MiriDarkCase:
    """A simulated MIRI dark exposure, its references and the CRDS cache that serves them."""

    uncal: Path
    refs: dict
    crds_path: Path
    context: str


def build_miri_dark_case(root: Path, *, ngroups: int = 5, nints: int = 2, seed: int = 4):
    """MIRIMAGE SUB64 FASTR1 MIR_DARKIMG exposure with every MIRI reference in a local context."""
    from webbcal.crds_client import RmapEntry, write_local_context
    from webbcal.simulate import (
        make_miri_detector,
        simulate_miri_exposure,
        write_miri_reference_files,
    )

    det = make_miri_detector(detector="MIRIMAGE", subarray="SUB64", seed=seed, ipc_alpha=0.01)
    refs = write_miri_reference_files(det, root / "refs", ngroups=ngroups, nints=2,
                                      readpatt="FASTR1")  # fmt: skip
    sim = simulate_miri_exposure(det, readpatt="FASTR1", ngroups=ngroups, nints=nints,
                                 exp_type="MIR_DARKIMG", cr_rate=1e-3, seed=seed + 1)  # fmt: skip
    entries = [
        RmapEntry("MIRI", reftype, PARKEYS,
                  {(det.detector, det.subarray): [("2020-01-01 00:00:00", str(path))]})
        for reftype, path in sorted(refs.items())
    ]  # fmt: skip
    crds_path = root / "crds"
    context = write_local_context(
        crds_path, entries, not_applicable={"MIRI": ["superbias", "refpix", "sirskernel"]}
    )
    return MiriDarkCase(sim.save(root / "data")["uncal"], refs, crds_path, context)


def overrides(refs: dict, **extra: dict) -> dict:
    """``steps`` of both pipelines: every reference given, N/A where ``refs`` has none."""
    steps: dict = {}
    for alias, reftypes in STEP_REFTYPES.items():
        steps[alias] = {f"override_{r}": os.fspath(refs[r]) if r in refs else "N/A"
                        for r in reftypes}  # fmt: skip
    for alias, params in extra.items():
        steps.setdefault(alias, {}).update(params)
    return steps


@contextlib.contextmanager
def offline(root: Path):
    """Offline CRDS (server_config only) and no CRDS parameter references (``_parity``)."""
    here = os.fspath(Path(__file__).resolve().parent.parent / "parity")
    sys.path.insert(0, here)
    try:
        from _parity import offline_environment
    finally:
        sys.path.remove(here)
    with offline_environment(root):
        yield


def run_official_dark(uncal: Path, steps: dict, work: Path):
    """The official ``jwst.pipeline.DarkPipeline`` on ``uncal``, every reference overridden.

    Runs without the reference prefetch, which would ask CRDS for the references of every
    step (those of the other branch included) in a cache that holds none.
    """
    from jwst.pipeline import DarkPipeline

    with offline(work), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe = DarkPipeline(steps=steps)
        pipe.prefetch_references = False
        return pipe.run(os.fspath(uncal))


def run_webbcal_dark(uncal, steps: dict, work: Path):
    """webbcal's DarkPipeline on ``uncal`` (path or model) with the same parameters, offline."""
    from webbcal.pipeline import DarkPipeline

    with offline(work):
        source = uncal if hasattr(uncal, "meta") else os.fspath(uncal)
        return DarkPipeline.call(source, steps=steps, progress=False)
