"""Scratch folders: owner in the name, stale ones removed, "output directory not writable"."""

from __future__ import annotations

import errno
import os
import re
import subprocess
import sys
import tempfile
import time

import pytest

from webbcal.cli import main
from webbcal.lib import spill
from webbcal.lib.spill import (
    OutputNotWritableError,
    check_output_writable,
    describe_os_error,
    make_spill_dir,
    remove_stale_spills,
)


def _dead_pid():
    """The id of a process that has exited (and was reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_owner_named_folder_of_a_dead_process_is_removed(tmp_path):
    mine = make_spill_dir(tmp_path, "spill")
    assert re.fullmatch(rf"\.tmp_webbcal_spill_p{os.getpid()}@[A-Za-z0-9-]*_\w+",
                        os.path.basename(mine))  # fmt: skip
    host = spill._host()
    dead = tmp_path / f".tmp_webbcal_spill_p{_dead_pid()}@{host}_abc"
    (dead / "sub").mkdir(parents=True)
    (dead / "slope_ints").write_bytes(b"\0" * 1000)
    other_host = tmp_path / f".tmp_webbcal_spill_p{_dead_pid()}@another-host_abc"
    other_host.mkdir()
    product = tmp_path / "x_rate.fits"
    product.write_bytes(b"keep")
    assert remove_stale_spills(tmp_path) == [str(dead)]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [os.path.basename(mine), other_host.name, "x_rate.fits"]
    )


def test_legacy_folder_removed_only_when_unused_and_old(tmp_path):
    used = tmp_path / ".tmp_webbcal_spill_inuse"
    unused = tmp_path / ".tmp_webbcal_ramp_unused"
    young = tmp_path / ".tmp_webbcal_spill_young"
    for folder in (used, unused, young):
        folder.mkdir()
        (folder / "data").write_bytes(b"\0" * 100)
    old = time.time() - 3600
    for folder in (used, unused):
        os.utime(folder, (old, old))
    with open(used / "data", "rb"):  # held open, as a running streamed run does
        assert remove_stale_spills(tmp_path) == [str(unused)]
    assert used.exists() and young.exists() and not unused.exists()


def test_killed_run_leaves_nothing_for_the_next(tmp_path):
    """A process killed with SIGKILL while holding a spill folder; the next run removes it."""
    code = (
        "import sys, time; from webbcal.lib.spill import make_spill_dir; "
        f"d = make_spill_dir({str(tmp_path)!r}, 'spill'); "
        "f = open(d + '/slope_ints', 'wb'); f.write(b'x' * 4096); f.flush(); "
        "print(d, flush=True); time.sleep(60)"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, env=env,
                            text=True)  # fmt: skip
    folder = proc.stdout.readline().strip()
    assert os.path.isdir(folder)
    assert remove_stale_spills(tmp_path) == []  # its owner is alive
    proc.kill()
    proc.wait()
    proc.stdout.close()
    assert remove_stale_spills(tmp_path) == [folder]
    assert os.listdir(tmp_path) == []


def test_not_writable_names_the_directory(tmp_path, monkeypatch):
    out = tmp_path / "out"

    def denied(*args, dir=None, **kwargs):
        name = os.path.join(dir, kwargs.get("prefix", "") + "x1y2z3")
        raise PermissionError(errno.EACCES, "Permission denied", name)

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    monkeypatch.setattr(tempfile, "mkdtemp", denied)
    expected = (
        f"output directory {out} is not writable (Permission denied); choose another with "
        "--output-dir or fix its permissions"
    )
    with pytest.raises(OutputNotWritableError, match=re.escape(expected) + "$"):
        check_output_writable(out)
    with pytest.raises(OutputNotWritableError, match=re.escape(expected) + "$"):
        make_spill_dir(out, "spill")


def test_describe_os_error_hides_internal_names(tmp_path):
    inner = tmp_path / "out" / ".tmp_webbcal_spill_p1@h_x" / "slope_ints"
    exc = PermissionError(errno.EACCES, "Permission denied", str(inner))
    assert describe_os_error(exc) == (
        f"output directory {tmp_path / 'out'} is not writable (Permission denied); choose "
        "another with --output-dir or fix its permissions"
    )
    staged = tmp_path / "out" / ".webbcal_staging" / "jw1.abc" / "jw1_rate.fits"
    full = OSError(errno.ENOSPC, "No space left on device", str(staged))
    assert describe_os_error(full) == (
        f"{tmp_path / 'out'}: No space left on device (while writing webbcal's temporary files "
        "there)"
    )
    plain = PermissionError(errno.EACCES, "Permission denied", "/data/x_uncal.fits")
    assert describe_os_error(plain) == "/data/x_uncal.fits: Permission denied"


def test_cli_run_into_unwritable_directory(nircam_case, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    real_mkstemp = tempfile.mkstemp

    def denied(*args, dir=None, **kwargs):
        if dir is not None and os.path.abspath(dir) == str(out):
            name = os.path.join(dir, kwargs.get("prefix", "") + "x1y2z3")
            raise PermissionError(errno.EACCES, "Permission denied", name)
        return real_mkstemp(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    monkeypatch.setenv("CRDS_PATH", str(nircam_case.crds_path))
    code = main(["run", "calwebb_detector1", str(nircam_case.uncal), "--output-dir", str(out),
                 "--quiet"])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 1
    assert err == (
        f"webbcal: error: output directory {out} is not writable (Permission denied); choose "
        "another with --output-dir or fix its permissions [OutputNotWritableError]"
    )
