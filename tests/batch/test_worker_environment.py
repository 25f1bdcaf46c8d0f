"""The local cluster's workers: dask's settings without its MALLOC_TRIM_THRESHOLD_, and
glibc's allocator serving full-frame arrays from a heap it keeps (warm.MALLOC_ENVIRONMENT)."""

from __future__ import annotations

import os

import pytest

from webbcal.batch import runner


def _worker_environment() -> dict:
    import resource

    import numba
    import numpy as np

    def faults_of_a_frame() -> int:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        frame = np.ones((2048, 2048), dtype=np.float32)  # 16 MiB, every page touched
        after = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        del frame
        return after - before

    def faults_in_a_thread() -> list[int]:
        """Page faults of four rounds of full-frame-sized arrays made and freed in a thread
        other than the main one (where a dask worker runs its tasks)."""
        import threading

        from webbcal.lib.hugepages import without_hugepage_advice

        def rounds() -> list[int]:
            out = []
            rng = np.random.default_rng(0)
            with without_hugepage_advice():  # as the pipeline runs: 4 KiB pages
                for _ in range(4):
                    before = resource.getrusage(resource.RUSAGE_THREAD).ru_minflt
                    keep = []
                    for k in range(40):
                        a = np.ones(int(rng.integers(1, 30)) * 2**18, dtype=np.float32)
                        if k % 3 == 0:
                            keep.append(a)
                        if len(keep) > 5:
                            keep.pop(0)
                    del keep
                    out.append(resource.getrusage(resource.RUSAGE_THREAD).ru_minflt - before)
            return out

        result: dict = {}
        thread = threading.Thread(target=lambda: result.setdefault("faults", rounds()))
        thread.start()
        thread.join()
        return result["faults"]

    faults_of_a_frame()
    return {
        "MALLOC_TRIM_THRESHOLD_": os.environ.get("MALLOC_TRIM_THRESHOLD_"),
        "MALLOC_MMAP_THRESHOLD_": os.environ.get("MALLOC_MMAP_THRESHOLD_"),
        "MALLOC_ARENA_MAX": os.environ.get("MALLOC_ARENA_MAX"),
        "faults_in_a_thread": faults_in_a_thread(),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        "numba_threads": numba.get_num_threads(),
        # a second frame reuses the first one's heap pages instead of mapping new ones
        "faults_of_a_second_frame": faults_of_a_frame(),
    }


def _assert_warm_allocator(env: dict) -> None:
    from webbcal.batch.warm import MALLOC_ENVIRONMENT

    assert env["MALLOC_TRIM_THRESHOLD_"] == MALLOC_ENVIRONMENT["MALLOC_TRIM_THRESHOLD_"]
    assert env["MALLOC_MMAP_THRESHOLD_"] == MALLOC_ENVIRONMENT["MALLOC_MMAP_THRESHOLD_"]
    # ~500 pages or more when it is mapped afresh (dask's 65536 trim threshold, or glibc's
    # defaults); reused heap pages fault in none.
    assert env["faults_of_a_second_frame"] < 100, env
    # In another thread, with one arena: the main heap, kept (0-1,000 faults a round after
    # the first); glibc's per-thread arenas unmap and map their heaps again (~20,000-45,000).
    assert env["MALLOC_ARENA_MAX"] == MALLOC_ENVIRONMENT["MALLOC_ARENA_MAX"]
    assert min(env["faults_in_a_thread"][1:]) < 5000, env


@pytest.mark.slow
def test_local_cluster_workers_keep_their_heap(monkeypatch):
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    with runner._client(None, None, 1, "1GB", []) as client:
        (env,) = client.run(_worker_environment).values()
    # dask's default would be "65536"; its other settings (one BLAS/OpenMP thread) stay.
    _assert_warm_allocator(env)
    assert env["OMP_NUM_THREADS"] == "1"
    # The driving process is left as it was.
    assert "MALLOC_TRIM_THRESHOLD_" not in os.environ


def test_worker_environment_drops_only_the_trim_threshold():
    import dask
    from distributed.nanny import _get_env_variables

    key = "distributed.nanny.pre-spawn-environ"
    default = _get_env_variables(key)
    with dask.config.set(runner._WORKER_ENVIRONMENT):
        ours = _get_env_variables(key)
    assert default.get("MALLOC_TRIM_THRESHOLD_") == "65536"
    assert "MALLOC_TRIM_THRESHOLD_" not in ours
    assert {k: v for k, v in default.items() if k != "MALLOC_TRIM_THRESHOLD_"} == ours


def test_fork_server_computes_the_same_environment_without_distributed():
    """What the fork server sets for itself (start_forkserver(..., None)) equals what this
    process computes with distributed imported; computing it imports neither distributed
    nor numpy (which reads OMP_NUM_THREADS and the like when it loads)."""
    import json
    import subprocess
    import sys

    code = (
        "import json, sys\n"
        "from webbcal.batch import warm\n"
        "env = warm.dask_worker_environment()\n"
        "print(json.dumps([env, 'distributed' in sys.modules, 'numpy' in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, env=dict(os.environ))  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    env, distributed_loaded, numpy_loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert not distributed_loaded and not numpy_loaded
    assert env == runner._pre_spawn_environment()
    assert "MALLOC_TRIM_THRESHOLD_" not in env and env.get("OMP_NUM_THREADS") == "1"


def test_workers_of_a_server_started_without_an_environment_get_dask_settings(monkeypatch):
    """``webbcal batch`` starts the server before importing distributed (environment None):
    processes forked from it still get dask's worker settings, with webbcal's allocator
    settings instead of dask's trim threshold."""
    import multiprocessing

    from webbcal.batch import warm

    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    if warm.forkserver_running():
        warm.stop_forkserver()
    assert warm.start_forkserver(None, None)
    try:
        with multiprocessing.get_context("forkserver").Pool(1) as pool:
            env = pool.apply(_worker_environment)
    finally:
        warm.stop_forkserver()
    _assert_warm_allocator(env)
    assert env["OMP_NUM_THREADS"] == "1"
    assert "OMP_NUM_THREADS" not in os.environ  # this process is left as it was
    assert "MALLOC_MMAP_THRESHOLD_" not in os.environ
