"""``webbcal cache verify [--fix]``: check the integrity of the local CRDS cache.

The official client never re-verifies a reference once it is cached, so a
truncated download or a damaged disk block goes unnoticed until a step fails
or, worse, calibrates with bad numbers. Each cached file is checked against the
best authority available:

1. online (``CRDS_SERVER_URL`` names a server): the size and SHA-1 the CRDS
   catalogue gives for the file;
2. otherwise the size and SHA-1 recorded in the cache's ``server_config``
   (``download_metadata``: the server's catalogue as last seen, or the files of
   a local context written by :func:`webbcal.crds_client.write_local_context`);
3. otherwise the file's own checksums: FITS ``CHECKSUM``/``DATASUM`` of every
   HDU (plus a truncation check), ASDF block checksums; JSON/YAML must parse;
   mapping files (``.pmap/.imap/.rmap``) their ``sha1sum`` header entry.

A file with nothing to check against beyond its structure is reported as
``unverifiable`` (structure readable). ``--fix`` removes corrupt references
and fetches them again through ``crds`` when a server is reachable; the files of
a local context cannot be fetched from any server, which ``--fix`` says.

References
----------
CRDS issue #930 (cached references are never re-verified); FITS Standard 4.0,
Appendix J (CHECKSUM/DATASUM); ASDF Standard 1.6, "Blocks" (block checksum).
"""

from __future__ import annotations

import ast
import hashlib
import json
import logging
import os
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from webbcal.tools._cli import ArgumentParser, quiet_crds
from webbcal.tools.refinfo import cache_root, iter_cached_references

__all__ = ["FileCheck", "check_file", "main", "verify_cache"]

log = logging.getLogger(__name__)

_FITS_BLOCK = 2880
_PROBLEM_WORDS = ("checksum", "datasum", "truncat", "error", "corrupt", "invalid")


@dataclass(frozen=True)
class FileCheck:
    """Outcome of checking one cached file.

    ``status`` is ``"ok"`` (verified against a checksum), ``"unverifiable"``
    (readable, but nothing to verify against), ``"corrupt"`` or, after
    ``--fix``, ``"refetched"`` / ``"unfixed"``.
    """

    path: str
    status: str
    method: str
    detail: str = ""


def check_file(path: Path, catalog: dict[str, Any] | None = None) -> FileCheck:
    """Check one cached file (see the module docstring for the methods).

    Parameters
    ----------
    path : pathlib.Path
        Cached reference or mapping.
    catalog : dict, optional
        CRDS catalogue entry of the file (``size``, ``sha1sum``), when online.
    """
    if catalog and catalog.get("sha1sum"):
        return _check_catalog(path, catalog)
    suffix = path.suffix.lower()
    try:
        if suffix == ".fits":
            return _check_fits(path)
        if suffix == ".asdf":
            return _check_asdf(path)
        if suffix in (".pmap", ".imap", ".rmap"):
            return _check_mapping(path)
        if suffix == ".json":
            json.loads(path.read_text(encoding="utf-8"))
            return FileCheck(str(path), "unverifiable", "json parse", "parses; no checksum")
        if suffix == ".yaml":
            import yaml

            yaml.safe_load(path.read_text(encoding="utf-8"))
            return FileCheck(str(path), "unverifiable", "yaml parse", "parses; no checksum")
    except Exception as exc:
        return FileCheck(str(path), "corrupt", f"{suffix[1:]} read", f"{type(exc).__name__}: {exc}")
    return FileCheck(str(path), "unverifiable", "none", f"unknown file type {suffix!r}")


def _check_catalog(path: Path, catalog: dict[str, Any]) -> FileCheck:
    method = catalog.get("method", "CRDS catalogue")
    who = catalog.get("who", "CRDS")
    size = path.stat().st_size
    want_size = int(catalog.get("size", -1))
    if want_size >= 0 and size != want_size:
        return FileCheck(str(path), "corrupt", method,
                         f"size {size} bytes, {who} says {want_size}")  # fmt: skip
    digest = hashlib.sha1()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    if digest.hexdigest() != catalog["sha1sum"]:
        return FileCheck(str(path), "corrupt", method,
                         f"sha1 {digest.hexdigest()} != {who} {catalog['sha1sum']}")  # fmt: skip
    return FileCheck(str(path), "ok", method, "size and sha1 match")


def _check_fits(path: Path) -> FileCheck:
    from astropy.io import fits

    size = path.stat().st_size
    if size % _FITS_BLOCK:
        return FileCheck(str(path), "corrupt", "fits structure",
                         f"{size} bytes is not a whole number of {_FITS_BLOCK}-byte FITS "
                         "blocks: truncated")  # fmt: skip
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with fits.open(path, checksum=True, memmap=False) as hdul:
            summed = False
            for index, hdu in enumerate(hdul):
                _ = hdu.data
                summed = summed or "CHECKSUM" in hdu.header or "DATASUM" in hdu.header
                info = hdul.fileinfo(index)
                if info and info["datLoc"] + info["datSpan"] > size:
                    return FileCheck(str(path), "corrupt", "fits structure",
                                     f"HDU {index} extends past the end of the file "
                                     f"({size} bytes): truncated")  # fmt: skip
    problems = [str(w.message).strip() for w in caught
                if any(word in str(w.message).lower() for word in _PROBLEM_WORDS)]  # fmt: skip
    if problems:
        return FileCheck(str(path), "corrupt", "fits checksum", "; ".join(problems))
    if summed:
        return FileCheck(str(path), "ok", "fits checksum", "CHECKSUM/DATASUM verified")
    return FileCheck(str(path), "unverifiable", "fits structure",
                     "readable; no CHECKSUM/DATASUM keywords")  # fmt: skip


def _check_asdf(path: Path) -> FileCheck:
    import asdf

    with asdf.open(path, lazy_load=False, validate_checksums=True, memmap=False) as af:
        nblocks = len(list(_arrays(af.tree)))
    if nblocks:
        return FileCheck(str(path), "ok", "asdf block checksums", f"{nblocks} arrays read")
    return FileCheck(str(path), "unverifiable", "asdf parse", "parses; no binary blocks")


def _arrays(node):
    import numpy as np

    if isinstance(node, dict):
        for value in node.values():
            yield from _arrays(value)
    elif isinstance(node, list | tuple):
        for value in node:
            yield from _arrays(value)
    elif isinstance(node, np.ndarray):
        yield node


def _check_mapping(path: Path) -> FileCheck:
    from webbcal.crds_client import mapping_checksum

    text = path.read_text(encoding="utf-8")
    header_text = text.split("selector", 1)[0]
    start = header_text.find("{")
    header = ast.literal_eval(header_text[start : header_text.rfind("}") + 1])
    recorded = header.get("sha1sum")
    if not recorded:
        return FileCheck(str(path), "unverifiable", "mapping sha1sum", "no sha1sum entry")
    actual = mapping_checksum(text)
    if actual != recorded:
        return FileCheck(str(path), "corrupt", "mapping sha1sum",
                         f"sha1sum {actual} != recorded {recorded}")  # fmt: skip
    return FileCheck(str(path), "ok", "mapping sha1sum", "sha1sum matches")


def _online() -> bool:
    url = (os.environ.get("CRDS_SERVER_URL", "https://jwst-crds.stsci.edu") or "").lower()
    return bool(url.strip()) and url.strip() != "none" and "serverless" not in url


def _recorded_catalog(root: Path) -> dict[str, dict[str, Any]]:
    """Sizes and SHA-1 recorded in the cache's server_config (``download_metadata``).

    A local context written by webbcal records its files there; a cache filled
    from a CRDS server holds the server's catalogue as of the last connection.
    """
    from webbcal.crds_client.local_context import read_download_metadata

    who = "recorded"
    method = f"checksum recorded in {root / 'config' / 'jwst' / 'server_config'}"
    return {
        name: {**entry, "who": who, "method": method}
        for name, entry in read_download_metadata(root).items()
        if entry.get("sha1sum") not in (None, "", "none")
    }


def _catalog(names: list[str]) -> dict[str, dict[str, Any]]:
    """CRDS catalogue entries (size, sha1sum) of ``names``; empty when offline or failing."""
    if not _online() or not names:
        return {}
    try:
        from crds.client import api

        from webbcal.crds_client import get_context_name

        context = get_context_name()
        info = api.get_file_info_map("jwst", names, fields=["size", "sha1sum"])
        log.debug("CRDS catalogue for %d files under %s", len(info), context)
        return {k: v for k, v in info.items() if isinstance(v, dict)}
    except Exception as exc:  # fall back to the files' own checksums
        log.warning("CRDS catalogue not available (%s); using the files' own checksums", exc)
        return {}


def verify_cache(root: Path | None = None, *, fix: bool = False) -> list[FileCheck]:
    """Check every reference and mapping in a CRDS cache.

    Parameters
    ----------
    root : pathlib.Path, optional
        Cache root; default ``CRDS_PATH`` (else ``~/crds_cache``).
    fix : bool, optional
        Remove corrupt references and fetch them again from the CRDS server.

    Returns
    -------
    list of FileCheck
        One per file, mappings first.

    Raises
    ------
    FileNotFoundError
        When ``root`` is not a directory.
    """
    root = Path(root) if root is not None else cache_root()
    if not root.is_dir():
        raise FileNotFoundError(f"CRDS cache {root} does not exist (set CRDS_PATH)")
    mappings = sorted((root / "mappings" / "jwst").glob("*.?map"))
    references = list(iter_cached_references(root))
    from webbcal.crds_client.local_context import is_local_context_cache

    local = is_local_context_cache(root)
    recorded = _recorded_catalog(root)
    with _environment(root):
        catalog = {} if local else _catalog([p.name for p in references])
        results = [check_file(p) for p in mappings]
        results += [check_file(p, catalog.get(p.name) or recorded.get(p.name)) for p in references]
        if fix:
            results = [_fix(r, local=local) if r.status == "corrupt" and
                       r.path.endswith(_REF_SUFFIXES) else r for r in results]  # fmt: skip
    return results


def _environment(root: Path):
    """CRDS pointed at ``root`` with the user's server (or offline)."""
    from webbcal.crds_client import DEFAULT_SERVER_URL, crds_environment

    url = os.environ.get("CRDS_SERVER_URL", DEFAULT_SERVER_URL)
    return crds_environment(root, url if _online() else None)


_REF_SUFFIXES = (".fits", ".asdf", ".json", ".yaml")


def _fix(check: FileCheck, *, local: bool = False) -> FileCheck:
    path = Path(check.path)
    if local:
        return FileCheck(check.path, "unfixed", check.method,
                         f"{check.detail}; cannot re-fetch: the cache holds a local context "
                         "written by webbcal, which no CRDS server has; write the context "
                         "again from the original reference files (rerun 'webbcal demo' for "
                         "the demo's)")  # fmt: skip
    if not _online():
        return FileCheck(check.path, "unfixed", check.method,
                         f"{check.detail}; cannot re-fetch: CRDS is offline "
                         "(set CRDS_SERVER_URL to a reachable server)")  # fmt: skip
    try:
        from crds.client import api

        from webbcal.crds_client import get_context_name

        context = get_context_name()
        backup = path.with_name(path.name + ".corrupt")
        path.replace(backup)
        try:
            api.dump_files(context, [path.name])
        except Exception:
            backup.replace(path)
            raise
        backup.unlink()
    except Exception as exc:
        return FileCheck(check.path, "unfixed", check.method,
                         f"{check.detail}; re-fetch failed: {exc}")  # fmt: skip
    again = check_file(path)
    status = "refetched" if again.status != "corrupt" else "unfixed"
    return FileCheck(check.path, status, again.method, f"was: {check.detail}; now: {again.detail}")


def main(argv: list[str]) -> int:
    """``webbcal cache verify [--fix] [--json] [--path DIR]``; 1 when corrupt files remain."""
    parser = ArgumentParser(prog="webbcal cache", description="Maintain the local CRDS cache.")
    sub = parser.add_subparsers(dest="action", metavar="verify")
    verify = sub.add_parser(
        "verify", help="check every cached file against its checksum / CRDS size and sha1"
    )
    verify.add_argument("--fix", action="store_true", help="re-fetch corrupt references")
    verify.add_argument("--json", action="store_true", help="machine-readable JSON output")
    verify.add_argument("--path", default=None, help="cache root (default: CRDS_PATH)")
    args = parser.parse_args(argv)
    if args.action != "verify":
        parser.error("expected an action: webbcal cache verify [--fix]")
    quiet_crds()
    results = verify_cache(Path(args.path) if args.path else None, fix=args.fix)
    bad = [r for r in results if r.status in ("corrupt", "unfixed")]
    if args.json:
        print(json.dumps([asdict(r) for r in results], indent=2))
    else:
        counts: dict[str, int] = {}
        for r in results:
            counts[r.status] = counts.get(r.status, 0) + 1
            if r.status not in ("ok", "unverifiable"):
                print(f"{r.status.upper():<12s}{r.path}: {r.detail}")
        summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no files"
        print(f"{len(results)} cached files checked: {summary}")
    return 1 if bad else 0
