"""The forked paths (lib.forkmap) run in a process that may fork.

Once a parallel numba kernel has started OpenMP threads in a process,
``fork_available()`` is False there for good: ForkPool then runs every task in
the process itself. In a test run (pytest-xdist workers run many test files
one after the other) the forkmap tests then skip, calwebb_image3's products are
made without worker processes, outlier_detection drizzles every group itself
and skymatch measures every image itself, depending on which files a worker ran
before. This test runs those tests again in a fresh pytest process, where they
must run, not skip.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]

#: The tests whose forked path a pytest-xdist worker cannot take.
FORKED = (
    "lib_forkmap/test_forkmap.py",
    "pipeline/test_image3.py::test_one_thread_gives_the_same_products",
    "outlier_detection/test_outlier_step.py::test_one_drizzled_group_image_is_held_at_a_time",
    "skymatch/test_skymatch_step.py::test_skies_measured_in_a_worker_are_the_serial_ones",
)


@pytest.mark.slow
def test_forked_paths_in_a_process_that_may_fork(tmp_path):
    env = dict(os.environ, WEBBCAL_TEST_REQUIRE_FORK="1")
    env.pop("PYTEST_XDIST_WORKER", None)
    env.pop("PYTEST_XDIST_WORKER_COUNT", None)
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:xdist", "-p", "no:cacheprovider",
           "--rootdir", str(TESTS.parent), "-c", str(TESTS.parent / "pyproject.toml"),
           *(str(TESTS / t) for t in FORKED)]  # fmt: skip
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True)
    tail = done.stdout[-3000:] + done.stderr[-2000:]
    assert done.returncode == 0, tail
    summary = done.stdout.strip().splitlines()[-1]
    assert "skipped" not in summary and "passed" in summary, tail
    assert int(summary.split(" passed")[0].split()[-1]) >= 10, tail
