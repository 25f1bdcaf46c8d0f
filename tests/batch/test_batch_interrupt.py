"""Ctrl-C in ``webbcal batch``: one line, exit status 130, the cluster closed quietly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def program(tmp_path_factory, program_builder):
    return program_builder(tmp_path_factory.mktemp("program"), {"SUB64P": 1}, ngroups=3)


@pytest.mark.skipif(not hasattr(os, "killpg"), reason="needs POSIX process groups")
def test_ctrl_c_prints_one_line_and_exits_130(program, tmp_path):
    out = tmp_path / "out"
    env = dict(os.environ, CRDS_PATH=str(program.crds_path),
               CRDS_SERVER_URL="https://jwst-serverless-mode.stsci.edu",
               PYTHONPATH=os.pathsep.join(sys.path))  # fmt: skip
    cmd = [sys.executable, "-m", "webbcal.cli", "batch", "calwebb_detector1",
           str(program.uncal[0]), "--output-dir", str(out), "--workers", "1",
           "--quiet"]  # fmt: skip
    # A new session: the signal goes to the batch and its workers, as a terminal's Ctrl-C.
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)  # fmt: skip
    try:
        staging = out / ".webbcal_staging"
        deadline = time.monotonic() + 60
        while not (staging.is_dir() and any(staging.iterdir())):  # a worker is processing
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the exposure never started"
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == 130
    assert stdout == ""
    assert stderr.splitlines() == [
        f"webbcal batch: interrupted; finished exposures are recorded in "
        f"{Path(out) / 'webbcal_batch_manifest.json'}, the same command continues with the others"
    ]
