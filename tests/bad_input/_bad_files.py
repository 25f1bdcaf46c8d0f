"""Helpers shared by the bad-input tests: digests, listings, copies, in-process CLI runs."""

from __future__ import annotations

import hashlib
import logging
import shutil
from pathlib import Path


def digest(path: Path) -> tuple | None:
    """Content hash and modification time of a file (None when it is not a file)."""
    if not path.is_file():
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


def files_under(directory: Path) -> list[str]:
    """Relative paths of every file below ``directory`` (empty when it does not exist)."""
    if not directory.exists():
        return []
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file())


def copy(src: Path, dest_dir: Path, name: str | None = None) -> Path:
    """Copy ``src`` into ``dest_dir`` (created), optionally under another name."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / (name or src.name)
    shutil.copy(src, dest)
    return dest


def run_cli(args: list[str], capsys, monkeypatch, *, crds_path, server_url: str = ""):
    """Run ``webbcal`` in-process against the CRDS cache ``crds_path``; return (status, stderr).

    Handlers the run adds to the ``webbcal`` logger are removed afterwards.
    """
    from webbcal.cli import main

    monkeypatch.delenv("WEBBCAL_DEBUG", raising=False)
    monkeypatch.setenv("CRDS_PATH", str(crds_path))
    monkeypatch.setenv("CRDS_SERVER_URL", server_url)
    logger = logging.getLogger("webbcal")
    level, handlers = logger.level, list(logger.handlers)
    capsys.readouterr()
    try:
        code = main(args)
    finally:
        for handler in logger.handlers[:]:
            if handler not in handlers:
                logger.removeHandler(handler)
        logger.setLevel(level)
    return code, capsys.readouterr().err
