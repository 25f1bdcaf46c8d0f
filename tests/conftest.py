"""Shared fixtures: simulated stage-1 exposures served through a local CRDS context."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from webbcal.crds_client import RmapEntry, crds_environment, write_local_context
from webbcal.simulate import make_detector, simulate_exposure, write_reference_files

PARKEYS = ("META.INSTRUMENT.DETECTOR", "META.SUBARRAY.NAME")


@dataclass
class Stage1Case:
    """A simulated exposure, its references and the CRDS cache that serves them."""

    uncal: Path
    truth: Path
    refs: dict
    crds_path: Path
    context: str
    sim: object

    def crds(self):
        """Context manager pointing CRDS at this case's cache (offline)."""
        return crds_environment(self.crds_path)


def build_case(
    root: Path,
    *,
    instrument: str = "NIRCAM",
    detector: str = "NRCA1",
    subarray: str | None = "SUB160P",
    geometry=None,
    readpatt: str | None = None,
    ngroups: int = 6,
    nints: int = 1,
    cr_rate: float = 2e-5,
    seed: int = 3,
    zeroframe: bool = False,
    extra_entries: tuple = (),
) -> Stage1Case:
    """Simulate an exposure and write its references into a local CRDS context."""
    root.mkdir(parents=True, exist_ok=True)
    det = make_detector(
        instrument=instrument, detector=detector, subarray=subarray, geometry=geometry,
        seed=seed,
    )  # fmt: skip
    sim = simulate_exposure(
        det, readpatt=readpatt, ngroups=ngroups, nints=nints, cr_rate=cr_rate, seed=seed + 1,
        zeroframe=zeroframe,
    )  # fmt: skip
    ref_ngroups = ngroups
    if readpatt is not None:
        from webbcal.lib.readout import read_pattern

        p = read_pattern(readpatt)
        ref_ngroups = ngroups * (p.nframes + p.groupgap)
    refs = write_reference_files(det, root / "refs", ngroups=ref_ngroups)
    entries = [
        RmapEntry(instrument, reftype, PARKEYS,
                  {(detector, det.subarray): [("2020-01-01 00:00:00", str(path))]})
        for reftype, path in sorted(refs.items())
    ] + list(extra_entries)  # fmt: skip
    crds_path = root / "crds"
    context = write_local_context(crds_path, entries)
    paths = sim.save(root / "data")
    return Stage1Case(paths["uncal"], paths["truth"], refs, crds_path, context, sim)


@pytest.fixture(autouse=True)
def _no_user_crds(monkeypatch, tmp_path):
    """Never use a real CRDS server or the user's cache from the tests."""
    for key in [k for k in os.environ if k.startswith("CRDS_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("CRDS_PATH", str(tmp_path / "empty_crds_cache"))
    monkeypatch.setenv("CRDS_SERVER_URL", "")


@pytest.fixture(scope="session")
def case_builder():
    """The :func:`build_case` factory, for tests that need their own simulated case."""
    return build_case


@pytest.fixture(scope="session")
def nircam_case(tmp_path_factory) -> Stage1Case:
    """A NIRCam NRCA1 SUB160P RAPID exposure (6 groups) with cosmic rays."""
    return build_case(tmp_path_factory.mktemp("nircam_case"), cr_rate=2e-3)


@pytest.fixture(scope="session")
def accuracy_case(tmp_path_factory) -> Stage1Case:
    """NIRCam NRCA1, 512 columns x 2048 rows (one amplifier), RAPID 6 groups, cosmic rays.

    Large enough that the noise of the reference-pixel means (a common-mode error
    shared by every pixel of the amplifier) is below 0.02 of the per-pixel ERR, so
    the median pull measures the pipeline rather than one draw of that noise.
    """
    from webbcal.lib.subarray import SubarrayGeometry

    return build_case(
        tmp_path_factory.mktemp("accuracy_case"), subarray="GENERIC",
        geometry=SubarrayGeometry(1, 1, 512, 2048), cr_rate=2e-3, seed=3,
    )  # fmt: skip


#: Test files (relative to tests/) and test-name fragments run in CI's second, still
#: required step (``pytest -m slow``) rather than by the README's test command: long
#: end-to-end comparisons with the official pipeline, streaming identity on many
#: configurations, dask clusters and memory measurements in fresh processes.
SLOW_TESTS = (
    "lrs/test_chunked.py::test_peak_memory_independent_of_nints",
    "parity/test_detector1_parity.py",
    "pipeline/test_streaming.py",
    "pipeline/test_streaming_miri.py",
    "batch/test_batch.py",
    "datamodels/test_library.py::test_on_disk_memory_does_not_grow_with_members",
    "stpipe/test_multi_exposure.py::test_pipeline_memory_on_disk_does_not_grow_with_members",
    "pipeline/test_image3.py",
    "pipeline/test_demo_stage3.py",
    "demo_lrs_tso/test_demo_lrs_tso.py",
    # stage-3 steps against jwst 3.0.0 (each module a few simulated associations and
    # official runs; their kernels, truth and bad-input tests stay in the quick run)
    "tweakreg/test_tweakreg_oracle.py",
    "skymatch/test_skymatch_oracle.py",
    "outlier_detection/test_outlier_oracle.py",
    "source_catalog/test_source_catalog_parity.py",
    # end-to-end step runs on simulated associations (about a minute each on 2 cores)
    "resample/test_tiles.py",
    "outlier_detection/test_outlier_step.py",
    "skymatch/test_skymatch_step.py",
    "tweakreg/test_tweakreg_truth.py",
    "source_catalog/test_source_catalog_truth.py",
    "lrs/test_lrs_extract_1d.py",
    "tweakreg/test_tweakreg_step.py",
    "source_catalog/test_source_catalog_bad_input.py",
    "simulate/test_miri_oracle.py",
    "real/test_real_coronagraphy.py",
    # pixel_replace in calwebb_tso3/spec2 against jwst 3.0.0 (official pipelines run)
    "pixel_replace/test_tso3_pixel_replace.py",
    # NIRCam grism time series through calwebb_spec2 / calwebb_tso3, ours and jwst's
    "tsgrism/test_tsgrism_spec2.py",
    "tsgrism/test_tsgrism_tso3.py",
)


def pytest_sessionstart(session):
    """Byte-compile webbcal once, before the test processes import it.

    Where ``PYTHONDONTWRITEBYTECODE`` is set (the shared machines), an editable
    install never gets ``.pyc`` files, and every pytest-xdist worker and every
    ``webbcal`` command a test starts would compile each module it imports again.
    Only the controlling process compiles (xdist workers have ``workerinput``).
    """
    if hasattr(session.config, "workerinput"):
        return
    import compileall

    import webbcal

    compileall.compile_dir(os.path.dirname(webbcal.__file__), quiet=1)


def pytest_collection_modifyitems(config, items):
    root = Path(__file__).parent
    for item in items:
        rel = Path(str(item.fspath)).relative_to(root).as_posix()
        name = f"{rel}::{item.name.split('[')[0]}"
        if any(name == s or rel == s for s in SLOW_TESTS):
            item.add_marker(pytest.mark.slow)
