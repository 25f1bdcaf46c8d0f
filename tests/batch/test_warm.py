"""Warm worker start of ``webbcal batch``: the fork server, its warm-up and when it starts."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from webbcal.batch import runner, warm
from webbcal.batch.inputs import exposure_root
from webbcal.batch.manifest import Manifest


def _fresh_python(code: str) -> dict:
    """Run ``code`` (which prints one JSON line last) in a new interpreter."""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=240, env=dict(os.environ))  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_warm_up_imports_the_pipeline_without_starting_numba_threads():
    """In a new process: the listed modules and the schemas load, numba's CPU target is set
    up; numba's pool stays unstarted.

    A process that has started numba's OpenMP threads cannot fork workers any more
    (each child is terminated), so a module that would start them at import (the ramp
    fit's cached ``parallel=True`` kernel) is refused there and left to the workers.
    """
    out = _fresh_python(
        "import json, sys\n"
        "from numba.np.ufunc import parallel\n"
        "from webbcal.batch import warm\n"
        "from webbcal.pipeline.detector1 import Detector1Pipeline as P\n"
        "from numba.core.registry import cpu_target\n"
        "target_before = '_toplevel_target_context' in vars(cpu_target)\n"
        "problems = warm.warm_up('calwebb_detector1')\n"
        "listed = all(m in sys.modules for m in P.batch_warm_modules)\n"
        "threads_after_warm_up = parallel._is_initialized\n"
        "target_after = '_toplevel_target_context' in vars(cpu_target)\n"
        "refused = None\n"
        "with warm._no_numba_threads():\n"
        "    try:\n"
        "        import webbcal.ramp_fitting._ols_kernel\n"
        "    except warm.ThreadsRefusedError as exc:\n"
        "        refused = str(exc)\n"
        "gone = 'webbcal.ramp_fitting._ols_kernel' not in sys.modules\n"
        "import webbcal.ramp_fitting._ols_kernel\n"  # outside the guard: loads and starts them
        "print(json.dumps([problems, listed, threads_after_warm_up, refused, gone,\n"
        "                  parallel._is_initialized, target_before, target_after]))\n"
    )  # fmt: skip
    problems, listed, threads_after, refused, gone, threads_later, *target = out
    assert problems == []
    assert listed
    assert threads_after is False
    # numba's CPU target is set up (the workers inherit it), without starting threads.
    assert target == [False, True]
    assert refused and "fork server" in refused and gone
    assert threads_later is True  # the guard was what kept them from starting


def test_warm_up_reports_what_it_cannot_load():
    problems = warm.warm_up("no_such_pipeline_alias")
    assert len(problems) == 1 and problems[0].startswith("no_such_pipeline_alias: ")


def _environment() -> dict:
    return dict(os.environ)


def test_forkserver_starts_with_the_worker_environment_and_stops():
    """The server gets dask's pre-spawn variables; this process is left as it was."""
    if warm.forkserver_running():
        warm.stop_forkserver()
    os.environ.pop("WEBBCAL_TEST_VAR", None)
    assert warm.start_forkserver(None, {"WEBBCAL_TEST_VAR": "7"})
    try:
        assert warm.forkserver_running()
        assert "WEBBCAL_TEST_VAR" not in os.environ
        assert warm.PIPELINE_ENV not in os.environ
        assert not warm.start_forkserver(None, {})  # already running: reused
        import multiprocessing

        ctx = multiprocessing.get_context("forkserver")
        with ctx.Pool(1) as pool:
            env = pool.apply(_environment)
        assert env.get("WEBBCAL_TEST_VAR") == "7"
        assert warm.PIPELINE_ENV not in env  # read and removed by the server's warm-up
    finally:
        warm.stop_forkserver()
    assert not warm.forkserver_running()


def test_stop_without_a_server_does_nothing():
    if warm.forkserver_running():
        warm.stop_forkserver()
    warm.stop_forkserver()
    assert not warm.forkserver_running()


def _succeeded(manifest: Manifest, path: str) -> None:
    st = os.stat(path)
    manifest.exposures[exposure_root(path)] = {
        "status": "succeeded", "input": path, "input_size": st.st_size,
        "input_mtime_ns": st.st_mtime_ns,
    }  # fmt: skip


def test_may_have_work_only_when_the_manifest_lacks_an_input(tmp_path):
    """The fork server is started before planning unless every input is already done."""
    paths = []
    for k in range(2):
        p = tmp_path / f"jw01234001001_01101_0000{k + 1}_nrca1_uncal.fits"
        p.write_bytes(b"x" * (10 + k))
        paths.append(str(p))
    manifest = Manifest(str(tmp_path))
    assert runner._may_have_work(manifest, paths)
    _succeeded(manifest, paths[0])
    assert runner._may_have_work(manifest, paths)  # the second is missing
    _succeeded(manifest, paths[1])
    assert not runner._may_have_work(manifest, paths)
    manifest.exposures[exposure_root(paths[1])]["status"] = "failed"
    assert runner._may_have_work(manifest, paths)
    _succeeded(manifest, paths[1])
    with open(paths[1], "ab") as fh:  # the input changed since
        fh.write(b"more")
    assert runner._may_have_work(manifest, paths)
    os.remove(paths[1])
    assert runner._may_have_work(manifest, paths)


@pytest.mark.slow
def test_local_cluster_workers_are_forked_warm():
    """Workers come from the warm server: pipeline modules loaded, Ctrl-C ignored."""
    if warm.forkserver_running():
        warm.stop_forkserver()

    def probe() -> dict:
        import signal

        return {
            "rawio": "webbcal.lib.rawio" in sys.modules,
            "streaming": "webbcal.pipeline.streaming" in sys.modules,
            "schemas": "stdatamodels.jwst.datamodels" in sys.modules,
            "sigint_ignored": signal.getsignal(signal.SIGINT) == signal.SIG_IGN,
            "parent": os.getppid(),
        }

    with runner._client(None, None, 1, "1GB", [], "calwebb_detector1") as client:
        (info,) = client.run(probe).values()
        server = warm._forkserver()._forkserver_pid
    assert info["rawio"] and info["streaming"] and info["schemas"]
    assert info["sigint_ignored"]
    assert info["parent"] == server != os.getpid()
    assert not warm.forkserver_running()  # stopped with the cluster that started it


def _collector_state() -> tuple[int, bool]:
    import gc

    return gc.get_freeze_count(), gc.isenabled()


def test_planning_in_the_warm_process_matches_planning_here(tmp_path, program_builder, caplog):
    """Planned in a child of the warm server: the same tasks and failures, and its log
    records reach this process's loggers; the server's warm heap is frozen for the
    collector, so that the workers' full collections skip it, and the collector runs
    again after the warm-up."""
    from webbcal.batch.plan import _plan_in_warm_process, plan_exposures
    from webbcal.pipeline import Detector1Pipeline

    program = program_builder(tmp_path / "program", {"SUB64P": 1})
    broken = tmp_path / "jw01234001001_01101_00009_nrca1_uncal.fits"
    broken.write_bytes(b"not a FITS file")
    paths = [str(program.uncal[0]), str(broken)]
    kwargs = {"output_dir": str(tmp_path / "out"), "overrides": {"steps": {"jump": {
        "rejection_threshold": 5.0}}}, "use_crds_pars": False, "config_file": None}  # fmt: skip
    if warm.forkserver_running():
        warm.stop_forkserver()
    with program.crds():
        here = plan_exposures(Detector1Pipeline, paths, **kwargs)
        assert warm.start_forkserver("calwebb_detector1", {})
        try:
            caplog.clear()
            with caplog.at_level("INFO", logger="webbcal"):
                there = plan_exposures(Detector1Pipeline, paths, in_warm_process=True, **kwargs)
            # Not the fallback to this process:
            assert _plan_in_warm_process(Detector1Pipeline, paths, kwargs) == here
            import multiprocessing

            with multiprocessing.get_context("forkserver").Pool(1) as pool:
                frozen, collecting = pool.apply(_collector_state)
        finally:
            warm.stop_forkserver()
    assert there == here
    (task,), (failure,) = there
    assert task.references and all(task.references.values())
    assert failure.input == str(broken)
    messages = [(r.name, r.levelname, r.getMessage()) for r in caplog.records]
    assert ("webbcal.batch.plan", "ERROR", f"Cannot process {broken}: {failure.error}") in messages
    assert any(m.startswith("Resolved the references of 1 exposure(s)") for _, _, m in messages)
    assert frozen > 10_000
    assert collecting  # off during the warm-up only


def test_still_warming_only_shortly_after_this_process_started_its_server(monkeypatch):
    """The driving process plans beside the warm-up only within WARM_UP_S of starting
    the server itself; never for a server it did not start (or stopped)."""
    import time

    monkeypatch.setattr(warm, "_started_at", None)
    assert not warm.still_warming()
    monkeypatch.setattr(warm, "_started_at", time.monotonic())
    assert warm.still_warming()
    monkeypatch.setattr(warm, "_started_at", time.monotonic() - warm.WARM_UP_S - 0.1)
    assert not warm.still_warming()
