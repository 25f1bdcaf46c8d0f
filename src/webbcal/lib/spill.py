"""Scratch ("spill") folders beside the products: naming, writability, stale clean-up.

A streamed ``calwebb_detector1`` run keeps per-integration results and, for
long time series, calibrated ramps in hidden folders in the output directory
(``.tmp_webbcal_spill_*``, ``.tmp_webbcal_ramp_*``) and removes them when it
ends. A process killed with ``SIGKILL`` cannot remove them, so their names carry
the owner's process id and host (``.tmp_webbcal_spill_p<pid>@<host>_<random>``)
and every run first removes the folders whose owner no longer exists on this
host. Folders named before the owner was recorded (``.tmp_webbcal_spill_<random>``)
are removed when no process holds a file inside them open (on Linux, from
``/proc/<pid>/fd``; their owner keeps each file open for the whole run) and
they are older than a minute.

Permission problems are reported as "output directory ... not writable" naming
the directory the user chose, never the internal folder.

References
----------
Linux ``proc(5)`` manual page, ``/proc/[pid]/fd``; POSIX ``kill(2)`` with
signal 0 (existence check, ``ESRCH`` when there is no such process).
"""

from __future__ import annotations

import errno
import logging
import os
import re
import shutil
import socket
import tempfile
import time

__all__ = [
    "INTERNAL_PREFIXES",
    "OutputNotWritableError",
    "check_output_writable",
    "describe_os_error",
    "make_spill_dir",
    "prepare_output_directory",
    "remove_stale_spills",
    "spill_prefix",
]

log = logging.getLogger(__name__)

#: Name prefixes of webbcal's internal files and folders in an output directory.
INTERNAL_PREFIXES = (".tmp_webbcal_", ".webbcal_staging")
#: Folders of the kinds below, named before owners were recorded, hold their files open.
_LEGACY_KINDS = ("spill", "ramp")
_OWNED_RE = re.compile(r"^\.tmp_webbcal_(?P<kind>[a-z]+)_p(?P<pid>\d+)@(?P<host>[A-Za-z0-9-]*)_")
_LEGACY_RE = re.compile(r"^\.tmp_webbcal_(?P<kind>spill|ramp)_(?!p\d+@)")
_PERMISSION_ERRNOS = (errno.EACCES, errno.EPERM, errno.EROFS)
#: Seconds a folder without a recorded owner must have existed before it counts as stale.
LEGACY_MIN_AGE_S = 60.0


class OutputNotWritableError(PermissionError):
    """The output directory cannot be written (permissions, read-only file system)."""


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:40]


def spill_prefix(kind: str) -> str:
    """Name prefix of a scratch folder of ``kind`` owned by this process.

    Parameters
    ----------
    kind : str
        Lower-case letters, e.g. ``"spill"`` or ``"ramp"``.

    Returns
    -------
    str
        ``.tmp_webbcal_<kind>_p<pid>@<host>_`` (``tempfile`` appends a random part).
    """
    if not re.fullmatch(r"[a-z]+", kind):
        raise ValueError(f"kind={kind!r}; expected lower-case letters such as 'spill'")
    return f".tmp_webbcal_{kind}_p{os.getpid()}@{_host()}_"


def check_output_writable(directory: str | os.PathLike[str]) -> None:
    """Create ``directory`` if needed and check that files can be created in it.

    Raises
    ------
    OutputNotWritableError
        Naming the directory and the reason (e.g. "Permission denied").
    """
    directory = os.path.abspath(os.fspath(directory))
    try:
        os.makedirs(directory, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=spill_prefix("probe"), dir=directory)
    except OSError as exc:
        raise _not_writable(directory, exc) from None
    os.close(fd)
    os.unlink(probe)


def make_spill_dir(directory: str | os.PathLike[str], kind: str) -> str:
    """Create a scratch folder of ``kind`` in ``directory`` owned by this process.

    Returns
    -------
    str
        Path of the new folder.

    Raises
    ------
    OutputNotWritableError
        When ``directory`` cannot be written.
    """
    directory = os.path.abspath(os.fspath(directory))
    try:
        os.makedirs(directory, exist_ok=True)
        return tempfile.mkdtemp(prefix=spill_prefix(kind), dir=directory)
    except OSError as exc:
        raise _not_writable(directory, exc) from None


def remove_stale_spills(directory: str | os.PathLike[str]) -> list[str]:
    """Remove scratch folders in ``directory`` left by processes that no longer exist.

    Folders owned by a live process, or by a process on another host, are kept.

    Returns
    -------
    list of str
        Paths removed.
    """
    directory = os.path.abspath(os.fspath(directory))
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return []
    removed = []
    open_paths: set[str] | None = None
    for entry in entries:
        if not entry.name.startswith(".tmp_webbcal_") or not entry.is_dir(follow_symlinks=False):
            continue
        owned = _OWNED_RE.match(entry.name)
        if owned:
            if owned["host"] != _host() or _alive(int(owned["pid"])):
                continue
            why = f"process {owned['pid']} no longer exists"
        elif _LEGACY_RE.match(entry.name):
            try:
                age = time.time() - entry.stat(follow_symlinks=False).st_mtime
            except OSError:
                continue
            if age < LEGACY_MIN_AGE_S:
                continue
            if open_paths is None:
                open_paths = _open_files()
            if open_paths is None or any(p.startswith(entry.path + os.sep) for p in open_paths):
                continue
            why = "no process uses it"
        else:
            continue
        size = _size(entry.path)
        shutil.rmtree(entry.path, ignore_errors=True)
        if not os.path.exists(entry.path):
            removed.append(entry.path)
            log.info("Removed %s (%.1f MB) left by an interrupted run: %s", entry.path,
                     size / 1e6, why)  # fmt: skip
    return removed


def prepare_output_directory(directory: str | os.PathLike[str]) -> None:
    """:func:`check_output_writable`, then :func:`remove_stale_spills`, for a run's products."""
    check_output_writable(directory)
    remove_stale_spills(directory)


def describe_os_error(exc: OSError) -> str:
    """One line for an OSError, naming the user's directory instead of internal files.

    A permission error on a webbcal scratch file or folder becomes
    ``"output directory <dir> is not writable (<reason>)"``; other errors read
    ``"<path>: <reason>"`` without the bare errno code.
    """
    path = exc.filename
    reason = exc.strerror or str(exc)
    if isinstance(exc, OutputNotWritableError) or path is None:
        return str(exc)
    internal = _outside_internal(os.fspath(path))
    if exc.errno in _PERMISSION_ERRNOS and internal is not None:
        return _not_writable(internal, exc).args[0]
    if internal is not None and internal != os.path.abspath(os.fspath(path)):
        return f"{internal}: {reason} (while writing webbcal's temporary files there)"
    return f"{os.fspath(path)}: {reason}"


# ----------------------------------------------------------------------------- internals


def _not_writable(directory: str, exc: OSError) -> OutputNotWritableError:
    reason = exc.strerror or str(exc)
    return OutputNotWritableError(
        f"output directory {directory} is not writable ({reason}); choose another with "
        "--output-dir or fix its permissions"
    )


def _outside_internal(path: str) -> str | None:
    """The directory above webbcal's internal components of ``path`` (None: not internal)."""
    parts = os.path.abspath(path).split(os.sep)
    for i, part in enumerate(parts):
        if part.startswith(INTERNAL_PREFIXES):
            return os.sep.join(parts[:i]) or os.sep
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    except OSError:
        return True
    return True


def _open_files() -> set[str] | None:
    """Paths of the files held open by the processes we can see (None: no /proc)."""
    if not os.path.isdir("/proc/self/fd"):
        return None
    paths = set()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        fd_dir = f"/proc/{pid}/fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                paths.add(os.readlink(f"{fd_dir}/{fd}"))
            except OSError:
                continue
    return paths


def _size(path: str) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total
