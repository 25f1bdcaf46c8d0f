"""Where a CRDS reference file lies in the local cache, and what its header says.

The cache layout is the one ``crds sync`` writes:
``$CRDS_PATH/references/jwst/<instrument>/<file>`` ("instrument" mode) or
``$CRDS_PATH/references/jwst/<file>`` ("flat" mode). ``PEDIGREE``, ``USEAFTER``
and ``DESCRIP`` come from the FITS primary header, or from ``meta.pedigree``,
``meta.useafter`` and ``meta.description`` of an ASDF reference.

References
----------
JDox, "JWST Data Calibration Reference Files" (PEDIGREE: DUMMY, MODEL, GROUND,
INFLIGHT); CRDS user guide, "CRDS cache structure".
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "PREFLIGHT_PEDIGREES",
    "RefInfo",
    "cache_root",
    "cached_reference",
    "iter_cached_references",
    "pedigree_kind",
    "read_reference_info",
]

log = logging.getLogger(__name__)

#: PEDIGREE values of references made before launch (JDox "Reference file types").
PREFLIGHT_PEDIGREES = ("DUMMY", "MODEL", "GROUND")
_INSTRUMENT_RE = re.compile(r"^jwst_(fgs|miri|nircam|niriss|nirspec|system)_", re.IGNORECASE)
_REFERENCE_SUFFIXES = (".fits", ".asdf", ".json", ".yaml")


@dataclass(frozen=True)
class RefInfo:
    """Header facts of one reference file (``None`` where unknown)."""

    name: str
    path: str | None
    pedigree: str | None
    useafter: str | None
    descrip: str | None

    @property
    def cached(self) -> bool:
        """Whether the file is in the local cache."""
        return self.path is not None


def cache_root() -> Path:
    """The CRDS cache root: ``CRDS_PATH`` (or ``CRDS_PATH_SINGLE``), else ``~/crds_cache``."""
    root = os.environ.get("CRDS_PATH") or os.environ.get("CRDS_PATH_SINGLE") or "~/crds_cache"
    return Path(os.path.expanduser(root))


def cached_reference(name: str, root: Path | None = None) -> Path | None:
    """Path of reference ``name`` in the cache (instrument or flat layout), else ``None``."""
    base = (root or cache_root()) / "references" / "jwst"
    name = os.path.basename(str(name).removeprefix("crds://"))
    found = _INSTRUMENT_RE.match(name)
    candidates = [base / found.group(1).lower() / name] if found else []
    candidates.append(base / name)
    return next((p for p in candidates if p.is_file()), None)


def iter_cached_references(root: Path | None = None) -> Iterator[Path]:
    """Every reference file in the cache, sorted by name."""
    base = (root or cache_root()) / "references" / "jwst"
    if not base.is_dir():
        return iter(())
    files = [p for p in base.rglob("*") if p.is_file() and p.suffix in _REFERENCE_SUFFIXES]
    return iter(sorted(files, key=lambda p: p.name))


def pedigree_kind(pedigree: str | None) -> str | None:
    """First word of a PEDIGREE (``"INFLIGHT 2022-06-01 2022-07-01"`` -> ``"INFLIGHT"``)."""
    if not pedigree:
        return None
    return str(pedigree).split()[0].upper()


def read_reference_info(name: str, root: Path | None = None) -> RefInfo:
    """PEDIGREE, USEAFTER and DESCRIP of a reference, read from the cached copy.

    Parameters
    ----------
    name : str
        Reference file name (a ``crds://`` prefix is allowed).
    root : pathlib.Path, optional
        Cache root; default :func:`cache_root`.

    Returns
    -------
    RefInfo
        With ``path=None`` and unknown fields when the file is not cached or
        its header cannot be read (a warning is logged for the latter).
    """
    name = os.path.basename(str(name).removeprefix("crds://"))
    path = cached_reference(name, root)
    if path is None:
        return RefInfo(name, None, None, None, None)
    try:
        fields = _asdf_fields(path) if path.suffix == ".asdf" else _fits_fields(path)
    except Exception as exc:  # a damaged cached file is reported, not fatal here
        log.warning("Cannot read the header of cached reference %s: %s", path, exc)
        fields = (None, None, None)
    return RefInfo(name, str(path), *fields)


def _fits_fields(path: Path) -> tuple[str | None, str | None, str | None]:
    if path.suffix != ".fits":
        return (None, None, None)
    from astropy.io import fits

    header = fits.getheader(path, 0)
    return tuple(_text(header.get(k)) for k in ("PEDIGREE", "USEAFTER", "DESCRIP"))


def _asdf_fields(path: Path) -> tuple[str | None, str | None, str | None]:
    import asdf

    with asdf.open(path, lazy_load=True, memmap=False) as af:
        meta = af.tree.get("meta", {}) or {}
        useafter = meta.get("useafter")
        if isinstance(useafter, dict):
            useafter = useafter.get("date")
        return (_text(meta.get("pedigree")), _text(useafter), _text(meta.get("description")))


def _text(value) -> str | None:
    return None if value is None or value == "" else str(value)
