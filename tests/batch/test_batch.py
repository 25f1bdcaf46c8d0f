"""Batch runs on a local dask.distributed cluster: parity with serial runs, resuming,
failures that stay alone, and workers killed mid-task."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys

import numpy as np
import pytest
from astropy.io import fits

from _pagecache import drops_cached_pages, resident_pages
from webbcal.batch import MANIFEST_NAME, run_batch
from webbcal.pipeline import Detector1Pipeline

distributed = pytest.importorskip("distributed")
cloudpickle = pytest.importorskip("cloudpickle")

# Plugins defined here travel to the workers by value (tests/ is not importable there).
cloudpickle.register_pickle_by_value(sys.modules[__name__])

STEPS = {"jump": {"rejection_threshold": 5.0}}
ARRAYS = ("SCI", "ERR", "DQ", "VAR_POISSON", "VAR_RNOISE")


@pytest.fixture(scope="module")
def program(tmp_path_factory, program_builder):
    """Three SUB64P exposures and one SUB160P exposure (two reference sets)."""
    return program_builder(tmp_path_factory.mktemp("program"), {"SUB64P": 3, "SUB160P": 1})


@pytest.fixture(scope="module")
def client():
    """Two single-threaded worker processes; a task is retried once after its worker dies."""
    import dask

    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 1}),
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                 dashboard_address=":0") as cluster,
        distributed.Client(cluster) as cl,
    ):  # fmt: skip
        yield cl


def _inputs(program):
    return [str(p) for p in program.uncal]


def _product_names(directory):
    return sorted(p for p in os.listdir(directory) if p.endswith(".fits"))


def _assert_same_product(a, b):
    with fits.open(a) as ha, fits.open(b) as hb:
        for name in ARRAYS:
            if name in ha:
                np.testing.assert_array_equal(ha[name].data, hb[name].data, err_msg=f"{a} {name}")
        pa, pb = ha[0].header, hb[0].header
        keys = [k for k in pa if k.startswith(("R_", "S_", "CRDS_"))]
        assert keys, a
        assert {k: pa[k] for k in keys} == {k: pb.get(k) for k in keys}


def _leftovers(directory):
    return [n for n in os.listdir(directory) if n.startswith((".tmp", ".webbcal_staging"))]


def test_batch_matches_serial_then_rerun_skips(program, client, tmp_path):
    out, serial = tmp_path / "batch", tmp_path / "serial"
    with program.crds():
        result = run_batch(_inputs(program), output_dir=out, client=client, steps=STEPS)
        for path in _inputs(program):
            Detector1Pipeline.call(path, output_dir=str(serial), save_results=True,
                                   progress=False, steps=STEPS)  # fmt: skip
    assert result.ok, result.summary()
    assert [o.status for o in result.outcomes] == ["succeeded"] * 4
    names = _product_names(out)
    assert names == _product_names(serial) and len(names) == 8
    if drops_cached_pages(tmp_path):
        # Published products are on disk and out of the page cache (worker._publish).
        assert {n: resident_pages(out / n) for n in names} == dict.fromkeys(names, 0)
    for name in names:
        _assert_same_product(out / name, serial / name)
    with fits.open(out / names[0]) as hdul:
        assert hdul[0].header["R_GAIN"].startswith("crds://")
    manifest = json.loads((out / MANIFEST_NAME).read_text())["exposures"]
    assert {e["status"] for e in manifest.values()} == {"succeeded"}
    assert all(e["parameters"]["steps"]["jump"]["rejection_threshold"] == 5.0
               for e in manifest.values())  # fmt: skip
    assert _leftovers(out) == []

    mtimes = {n: os.stat(out / n).st_mtime_ns for n in names}
    with program.crds():
        again = run_batch(_inputs(program), output_dir=out, client=client, steps=STEPS)
    assert [o.status for o in again.outcomes] == ["skipped"] * 4
    assert again.ok
    assert {n: os.stat(out / n).st_mtime_ns for n in names} == mtimes

    first = _inputs(program)[0]
    with program.crds():
        forced = run_batch([first], output_dir=out, client=client, steps=STEPS, force=True)
        changed = run_batch(_inputs(program)[:2], output_dir=out, client=client,
                            steps={"jump": {"rejection_threshold": 6.0}})  # fmt: skip
    assert [o.status for o in forced.outcomes] == ["succeeded"]
    assert [o.status for o in changed.outcomes] == ["succeeded", "succeeded"]
    untouched = [n for n in names if "_00003_" in n or "_00004_" in n]
    assert all(os.stat(out / n).st_mtime_ns == mtimes[n] for n in untouched)


def test_corrupted_inputs_fail_alone(program, client, tmp_path, capsys):
    from webbcal.cli import main

    data = tmp_path / "data"
    data.mkdir()
    good = [shutil.copy(p, data) for p in _inputs(program)[:2]]
    truncated = data / "jw01234001001_01101_00098_nrca1_uncal.fits"
    raw = program.uncal[0].read_bytes()
    truncated.write_bytes(raw[: len(raw) // 2])
    inconsistent = data / "jw01234001001_01101_00099_nrca1_uncal.fits"
    shutil.copy(_inputs(program)[1], inconsistent)
    fits.setval(inconsistent, "NGROUPS", value=7, ext=0)
    out = tmp_path / "out"
    with program.crds():
        result = run_batch(str(data / "*_uncal.fits"), output_dir=out, client=client, progress=True)
    status = {o.root.split("_")[2]: o for o in result.outcomes}
    assert not result.ok
    assert [status[k].status for k in ("00001", "00002")] == ["succeeded", "succeeded"]
    assert status["00098"].status == "failed"
    assert "truncated FITS file" in status["00098"].error
    assert status["00099"].status == "failed"
    assert "NGROUPS=7 but the SCI array has 4 groups" in status["00099"].error
    assert _product_names(out) == sorted(
        f"{os.path.basename(g).removesuffix('_uncal.fits')}_{s}.fits"
        for g in good for s in ("rate", "rateints")
    )  # fmt: skip
    assert _leftovers(out) == []
    summary = result.summary()
    assert "2 succeeded, 2 failed, 0 skipped" in summary

    with program.crds():
        code = main(["batch", "calwebb_detector1", str(data / "*_uncal.fits"), "--output-dir",
                     str(out), "--scheduler", client.scheduler.address, "--quiet"])  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 1
    assert "0 succeeded, 2 failed, 2 skipped" in printed
    assert "truncated FITS file" in printed


class KillOnSave(distributed.WorkerPlugin):
    """Kill the worker process right after it wrote ``<root>_rateints.fits`` (staged).

    With ``once`` the kill happens only while ``marker`` does not exist (it is created).
    """

    def __init__(self, root: str, marker: str, once: bool) -> None:
        self.root, self.marker, self.once = root, marker, once

    def setup(self, worker) -> None:
        import webbcal.datamodels as datamodels
        from webbcal.lib.fitsstream import StreamedProduct

        original = datamodels.save_model
        original_commit = StreamedProduct.commit
        root, marker, once = self.root, self.marker, self.once

        def die_after(path):
            if os.path.basename(path) == f"{root}_rateints.fits" and not (
                once and os.path.exists(marker)
            ):
                open(marker, "a").close()
                os._exit(1)

        def save_then_die(model, path):
            result = original(model, path)
            die_after(path)
            return result

        def commit_then_die(self, **kwargs):
            # The streaming path writes _rateints block by block, then commits it.
            result = original_commit(self, **kwargs)
            die_after(result)
            return result

        datamodels.save_model = save_then_die
        StreamedProduct.commit = commit_then_die


@pytest.mark.parametrize("once", [True, False], ids=["killed_once", "killed_always"])
def test_killed_worker_loses_nothing(program, client, tmp_path, once):
    paths = _inputs(program)[:3]
    victim = os.path.basename(paths[1]).removesuffix("_uncal.fits")
    marker = tmp_path / "killed"
    client.register_plugin(KillOnSave(victim, str(marker), once), name="kill")
    out = tmp_path / "out"
    try:
        with program.crds():
            result = run_batch(paths, output_dir=out, client=client)
    finally:
        client.unregister_worker_plugin("kill")
        client.wait_for_workers(2, timeout=60)
    assert marker.exists()  # the worker really died mid-task
    by_root = {o.root: o for o in result.outcomes}
    others = [o for r, o in by_root.items() if r != victim]
    assert [o.status for o in others] == ["succeeded", "succeeded"]
    names = _product_names(out)
    if once:
        assert by_root[victim].status == "succeeded"
        assert by_root[victim].attempts == 2
        assert len(names) == 6
    else:
        assert by_root[victim].status == "failed"
        assert "died every time it was tried" in by_root[victim].error
        assert not [n for n in names if n.startswith(victim)]
        assert len(names) == 4
    manifest = json.loads((out / MANIFEST_NAME).read_text())["exposures"]
    for name in names:
        root = name.rsplit("_", 1)[0]
        digest = hashlib.sha256((out / name).read_bytes()).hexdigest()
        assert manifest[root]["products"][name]["sha256"] == digest
    assert _leftovers(out) == []


def test_own_cluster_starts_while_the_default_dashboard_port_is_taken(program, tmp_path):
    """The batch's own local cluster serves its HTTP endpoints on a free port: another
    dask cluster (or anything) on port 8787 must not stop it."""
    import socket

    holder = socket.socket()
    try:
        holder.bind(("", 8787))
        holder.listen()
    except OSError:  # already taken by something else: the same situation
        pass
    try:
        with program.crds():
            result = run_batch(_inputs(program)[:1], output_dir=tmp_path / "out",
                               steps=STEPS, n_workers=1)  # fmt: skip
    finally:
        holder.close()
    assert result.ok, result.summary()
    assert [o.status for o in result.outcomes] == ["succeeded"]
