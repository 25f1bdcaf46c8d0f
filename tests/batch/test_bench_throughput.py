"""``benchmarks/bench_throughput.py`` in smoke mode, and the jwst command it builds."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH))
import bench_throughput  # noqa: E402


def test_jwst_command_runs_two_strun_at_a_time_offline():
    refs = {r: f"/refs/{r}.fits" for r in ("mask", "saturation", "superbias", "ipc", "linearity",
                                           "dark", "gain", "readnoise")}  # fmt: skip
    uncals = [Path("/data/a_uncal.fits"), Path("/data/b_uncal.fits")]
    cmd = bench_throughput.jwst_command(uncals, refs, Path("/out"), 2)
    listing, runner = cmd.split(" | ")
    assert shlex.split(listing)[2:] == ["/data/a_uncal.fits", "/data/b_uncal.fits"]
    words = shlex.split(runner)
    assert words[:4] == ["xargs", "-P", "2", "-I{}"]
    assert Path(words[4]).name == "strun"
    assert words[5:8] == ["calwebb_detector1", "{}", "--output_dir=/out"]
    options = set(words[8:])
    # Every reference of both pipelines is overridden; the official steps that would
    # otherwise ask CRDS (refpix, and reset/rscd in strun's prefetch) get N/A.
    for opt in ("--steps.dq_init.override_mask=/refs/mask.fits",
                "--steps.dark_current.override_dark=/refs/dark.fits",
                "--steps.ramp_fit.override_readnoise=/refs/readnoise.fits",
                "--steps.refpix.override_refpix=N/A", "--steps.reset.override_reset=N/A",
                "--steps.rscd.override_rscd=N/A"):  # fmt: skip
        assert opt in options
    webbcal = shlex.split(bench_throughput.webbcal_command(uncals, refs, Path("/out"), 2))
    assert webbcal[1:3] == ["batch", "calwebb_detector1"]
    assert webbcal[webbcal.index("--workers") + 1] == "2"
    assert "--steps.refpix.override_refpix=N/A" not in webbcal
    assert "--steps.dq_init.override_mask=/refs/mask.fits" in webbcal


@pytest.mark.slow
def test_smoke_run_without_jwst(tmp_path):
    """Two 64 x 64 exposures through ``webbcal batch`` on one worker (a dask cluster: slow step)."""
    out = tmp_path / "result.json"
    proc = subprocess.run(
        [sys.executable, str(BENCH / "bench_throughput.py"), "--n", "2", "--subarray", "SUB64P",
         "--ngroups", "5", "--workers", "1", "--no-jwst", "--workdir", str(tmp_path), "--json",
         str(out)],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "WEBBCAL_BENCH_NO_FLUSH": "1"},  # a smoke run: no need to wait
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    (row,) = json.loads(out.read_text())
    assert row["pipeline"] == "webbcal" and row["ok"] and row["exposures"] == 2
    assert row["per_hour"] == pytest.approx(3600 * 2 / row["wall_s"])
    # The batch driver and its worker each hold webbcal and its imports.
    assert 0.05 < row["peak_single_gib"] <= row["peak_summed_gib"] < 8
    assert row["cpu_s"] > 0
    rates = sorted(p.name for p in (tmp_path / "throughput_out_SUB64P" / "webbcal").glob("*"))
    assert [r for r in rates if r.endswith("_rate.fits")] == [
        "jw01234001001_01101_00001_nrca1_rate.fits",
        "jw01234001001_01101_00002_nrca1_rate.fits",
    ]
    assert "throughput ratio" not in proc.stdout
