"""The batch manifest: what was done to each exposure, to skip it when nothing changed.

The manifest is one JSON file, ``webbcal_batch_manifest.json``, in the output
directory::

    {"format": "webbcal-batch-manifest", "version": 1,
     "exposures": {
        "<exposure root>": {
            "input": "/abs/path/x_uncal.fits",
            "input_size": 1234, "input_mtime_ns": 1690000000000000000,
            "pipeline": "calwebb_detector1",
            "parameters": {...merged parameters...},
            "context": "jwst_1234.pmap",
            "references": {"gain": "jwst_nircam_gain_0001.fits", ...},
            "webbcal_version": "0.1.0",
            "fingerprint": "<sha256 of the fields above>",
            "status": "succeeded" | "failed",
            "error": null | "message",
            "products": {"x_rate.fits": {"size": 1, "sha256": "..."}, ...},
            "started": "2024-01-01T00:00:00Z", "duration_s": 3.2,
            "worker": "host:pid", "attempts": 1}}}

Only the process that drives the batch writes it (atomically: temporary file
and rename), while holding an exclusive lock on ``.webbcal_batch.lock`` in the
output directory, so two batches cannot interleave in one directory.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from typing import Any

__all__ = [
    "MANIFEST_NAME",
    "BatchLockedError",
    "Manifest",
    "directory_lock",
    "fingerprint",
    "product_digest",
]

MANIFEST_NAME = "webbcal_batch_manifest.json"
LOCK_NAME = ".webbcal_batch.lock"
_FORMAT = "webbcal-batch-manifest"
_VERSION = 1


class BatchLockedError(RuntimeError):
    """Another batch holds the lock of the output directory."""


def fingerprint(record: dict[str, Any]) -> str:
    """SHA-256 of the fields of ``record`` that define a requested product.

    The fields are the input identity (path, size, modification time), the
    pipeline, its merged parameters, the CRDS context, the reference file names
    and the webbcal version.
    """
    keys = ("input", "input_size", "input_mtime_ns", "pipeline", "parameters", "context",
            "references", "webbcal_version")  # fmt: skip
    payload = json.dumps({k: record.get(k) for k in keys}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def product_digest(path: str, *, release: bool = False) -> dict[str, Any]:
    """Size and SHA-256 of a product file.

    Parameters
    ----------
    path : str
        The product.
    release : bool
        After reading it, wait until its data are on disk (``fdatasync``) and
        drop its pages from the page cache (``posix_fadvise`` ``DONTNEED``), where
        the system offers these calls. A batch does this for every product it
        publishes: the product is durable before it is renamed into place and
        recorded in the manifest, and the gigabytes of products a batch writes
        do not push out of memory the raw exposures and the reference files that
        the next exposures read. On the shared 2-core development machine it also
        lets the next products reuse those pages instead of freshly mapped ones
        (8 full frames: ~11 % less CPU time; see ``benchmarks/bench_throughput.py``).

    Returns
    -------
    dict
        ``{"size": bytes, "sha256": hex digest}``.

    Raises
    ------
    OSError
        If the file cannot be read. A failure to flush or drop it is not an
        error (some file systems do not support it).
    """
    sha = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            sha.update(block)
        if release:
            _flush_and_drop(fh.fileno())
    return {"size": os.path.getsize(path), "sha256": sha.hexdigest()}


def _flush_and_drop(fd: int) -> None:
    """``fdatasync`` the open file, then advise the kernel to drop its cached pages.

    Dirty pages cannot be dropped, hence the flush first. Skipped where the
    platform lacks either call (macOS has neither ``os.fdatasync`` nor
    ``os.posix_fadvise``); errors are ignored (the advice is only advice).

    References
    ----------
    Linux ``fdatasync(2)`` and ``posix_fadvise(2)`` manual pages.
    """
    sync = getattr(os, "fdatasync", None)
    advise = getattr(os, "posix_fadvise", None)
    if sync is None or advise is None:
        return
    try:
        sync(fd)
        advise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    except OSError:
        pass


class Manifest:
    """The manifest of one output directory (see the module docstring for the format).

    Parameters
    ----------
    output_dir : str
        Directory holding the products and the manifest.
    """

    def __init__(self, output_dir: str) -> None:
        self.path = os.path.join(output_dir, MANIFEST_NAME)
        self.exposures: dict[str, dict[str, Any]] = {}
        if os.path.exists(self.path):
            self.exposures = self._read()

    def _read(self) -> dict[str, dict[str, Any]]:
        try:
            with open(self.path, encoding="utf-8") as fh:
                content = json.load(fh)
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(
                f"{self.path}: unreadable batch manifest ({exc}); remove it or use --force"
            ) from None
        if not isinstance(content, dict) or content.get("format") != _FORMAT:
            raise ValueError(f"{self.path}: not a webbcal batch manifest")
        return dict(content.get("exposures") or {})

    def is_done(self, root: str, wanted: str, output_dir: str) -> bool:
        """True when ``root`` succeeded with fingerprint ``wanted`` and its products are intact.

        Intact means every recorded product exists with its recorded size.
        """
        entry = self.exposures.get(root)
        if not entry or entry.get("status") != "succeeded" or entry.get("fingerprint") != wanted:
            return False
        products = entry.get("products") or {}
        if not products:
            return False
        for name, info in products.items():
            path = os.path.join(output_dir, name)
            if not os.path.isfile(path) or os.path.getsize(path) != info.get("size"):
                return False
        return True

    def record(self, root: str, entry: dict[str, Any]) -> None:
        """Store the entry of ``root`` and write the manifest."""
        self.exposures[root] = entry
        self.save()

    def save(self) -> None:
        """Write the manifest atomically (temporary file in the same directory, then rename)."""
        directory = os.path.dirname(self.path)
        content = {"format": _FORMAT, "version": _VERSION, "exposures": self.exposures}
        fd, tmp = tempfile.mkstemp(prefix=".tmp_manifest_", suffix=".json", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(content, fh, indent=1, sort_keys=True, default=str)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.remove(tmp)
            raise


@contextlib.contextmanager
def directory_lock(directory: str, name: str = LOCK_NAME, *, wait: bool = False) -> Iterator[str]:
    """Hold an exclusive ``flock`` on ``directory/name`` for the block.

    Parameters
    ----------
    directory : str
        Directory of the lock file (created if missing).
    name : str
        Lock file name.
    wait : bool
        Wait for the lock instead of failing when another process holds it.

    Raises
    ------
    BatchLockedError
        If ``wait`` is False and another process holds the lock.
    """
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, name)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o664)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise BatchLockedError(
                f"{directory}: another webbcal batch is running in this directory "
                f"(lock {path} is held); wait for it to finish or use another --output-dir"
            ) from None
        yield path
    finally:
        os.close(fd)
