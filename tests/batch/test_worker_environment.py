"""The local cluster's workers keep glibc's adaptive allocation (no MALLOC_TRIM_THRESHOLD_)."""

from __future__ import annotations

import os

import pytest

from webbcal.batch import runner


def _worker_environment() -> dict:
    import numba

    return {
        "MALLOC_TRIM_THRESHOLD_": os.environ.get("MALLOC_TRIM_THRESHOLD_"),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        "numba_threads": numba.get_num_threads(),
    }


@pytest.mark.slow
def test_local_cluster_workers_keep_adaptive_malloc(monkeypatch):
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    with runner._client(None, None, 1, "1GB", []) as client:
        (env,) = client.run(_worker_environment).values()
    # dask's default would be "65536"; its other settings (one BLAS/OpenMP thread) stay.
    assert env["MALLOC_TRIM_THRESHOLD_"] is None
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
