"""Write a self-contained local CRDS context (pmap/imap/rmaps + references + config).

The cache written here is laid out exactly like a cache filled by ``crds sync``,
so the unmodified ``crds`` client (and therefore the official pipeline) can
select reference files from it offline with ``CRDS_PATH`` pointing at it::

    <crds_path>/mappings/jwst/jwst_9001.pmap
    <crds_path>/mappings/jwst/jwst_<instrument>_9001.imap
    <crds_path>/mappings/jwst/jwst_<instrument>_<reftype>_9001.rmap
    <crds_path>/references/jwst/<instrument>/<reference file>
    <crds_path>/config/jwst/server_config
    <crds_path>/config/jwst/ref_cache_subdir_mode

Every mapping carries a ``sha1sum`` header entry: the SHA-1 of the UTF-8 file
text with every line containing the word ``sha1sum`` removed, which is what the
CRDS loader verifies when it reads a mapping. The size and SHA-1 of every file
written (references and mappings) are recorded in the server_config's
``download_metadata``, as a CRDS server gives them for its catalogue.

References
----------
CRDS user guide, "Mapping (rules) files" and "CRDS cache structure",
https://jwst-crds.stsci.edu/static/users_guide/index.html
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import os
import pprint
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "DATE_PARKEYS",
    "NOT_APPLICABLE",
    "RmapEntry",
    "file_checksum",
    "is_local_context_cache",
    "mapping_checksum",
    "read_download_metadata",
    "write_local_context",
    "write_server_config",
]

log = logging.getLogger(__name__)

#: Parameters that drive the ``UseAfter`` level of every JWST rmap.
DATE_PARKEYS = ("META.OBSERVATION.DATE", "META.OBSERVATION.TIME")

#: Reference "file name" meaning "this reference type does not apply here".
NOT_APPLICABLE = "N/A"

_INSTRUMENTS = ("fgs", "miri", "nircam", "niriss", "nirspec", "system")
_REFTYPE_RE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)?$")
_PARKEY_RE = re.compile(r"^[A-Z][A-Z0-9_]*(\.[A-Z0-9_]+)*$")
_FILENAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*\.(fits|asdf|json|yaml)$")
_USEAFTER_RE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
_MAX_CONTEXT_NUMBER = 9999
_PLACEHOLDER_SHA1 = "0" * 40


@dataclass(frozen=True)
class RmapEntry:
    """Selection rules for one (instrument, reference type) pair.

    Parameters
    ----------
    instrument : str
        JWST instrument name, e.g. ``"NIRCAM"`` (any case).
    reftype : str
        CRDS reference type, e.g. ``"gain"`` or ``"pars-jumpstep"`` (any case).
    parkeys : tuple of str
        Matching parameter names as CRDS knows them, e.g.
        ``("META.INSTRUMENT.DETECTOR", "META.SUBARRAY.NAME")``. May be empty
        (selection by date only, as for most ``pars-*`` types).
    selections : mapping
        Maps a match tuple (one value per parkey; ``()`` when ``parkeys`` is
        empty; ``"A|B"`` or-lists, ``"*"`` and ``"N/A"`` are CRDS match syntax) to
        a sequence of ``(useafter, reference)`` pairs, where ``useafter`` is
        ``"YYYY-MM-DD HH:MM:SS"`` and ``reference`` is the path of an existing
        reference file, or the string ``"N/A"`` (reference type not applicable).
    comment : str, optional
        Free text written into the rmap ``comment`` field.
    """

    instrument: str
    reftype: str
    parkeys: tuple[str, ...]
    selections: Mapping[tuple[str, ...], Sequence[tuple[str, str]]]
    comment: str = field(default="")


def mapping_checksum(text: str) -> str:
    """Return the CRDS ``sha1sum`` of mapping text.

    Parameters
    ----------
    text : str
        Full mapping file text.

    Returns
    -------
    str
        Hex SHA-1 of the UTF-8 text with every line containing ``sha1sum``
        removed (line endings kept).
    """
    kept = "".join(line for line in text.splitlines(True) if "sha1sum" not in line)
    return hashlib.sha1(kept.encode("utf-8")).hexdigest()


def write_local_context(
    crds_path: str | os.PathLike[str],
    entries: Sequence[RmapEntry],
    *,
    context_number: int = 9001,
    observatory: str = "jwst",
    not_applicable: Mapping[str, Sequence[str]] | None = None,
    derived_from: str = "webbcal local context",
) -> str:
    """Write a local CRDS context usable offline by the real ``crds`` client.

    Parameters
    ----------
    crds_path : path-like
        Cache root (the future ``CRDS_PATH``); created if needed. Existing
        files with the same names are overwritten.
    entries : sequence of RmapEntry
        One entry per (instrument, reftype); at least one.
    context_number : int, optional
        Serial number of every mapping written (``jwst_NNNN.pmap``), 0..9999.
    observatory : str, optional
        Only ``"jwst"`` is supported.
    not_applicable : mapping of str to sequence of str, optional
        Per instrument, reference types recorded as ``N/A`` in the imap (the
        reference type exists but never applies to that instrument).
    derived_from : str, optional
        Text recorded in the ``derived_from`` header field of each mapping.

    Returns
    -------
    str
        The pipeline context name, e.g. ``"jwst_9001.pmap"``.

    Raises
    ------
    ValueError
        For an unsupported observatory, a bad context number, duplicate
        entries, malformed parkeys, match tuples, dates, or reference names.
    FileNotFoundError
        When a reference file named in a selection does not exist.
    """
    if observatory != "jwst":
        raise ValueError(f"observatory={observatory!r} is not supported; expected 'jwst'")
    if not isinstance(context_number, int) or not 0 <= context_number <= _MAX_CONTEXT_NUMBER:
        raise ValueError(
            f"context_number={context_number!r} is invalid; expected an int in 0..9999"
        )
    if not entries:
        raise ValueError("entries is empty; expected at least one RmapEntry")
    root = Path(crds_path)
    serial = f"{context_number:04d}"
    by_instrument = _group_entries(entries, not_applicable or {})

    mapdir = root / "mappings" / observatory
    mapdir.mkdir(parents=True, exist_ok=True)
    imaps = {}
    written: list[Path] = []
    for instrument, (instr_entries, na_types) in sorted(by_instrument.items()):
        rmaps = {}
        copied: dict[str, Path] = {}
        refdir = root / "references" / observatory / instrument
        for entry in instr_entries:
            files = _copy_references(refdir, entry, copied)
            written += [refdir / base for base in files.values()]
            name = f"{observatory}_{instrument}_{entry.reftype.lower()}_{serial}.rmap"
            text = _format_rmap(name, observatory, instrument, entry, files, derived_from)
            _write_mapping(mapdir / name, text)
            written.append(mapdir / name)
            rmaps[entry.reftype.upper()] = name
        for reftype in na_types:
            rmaps[reftype.upper()] = NOT_APPLICABLE
        name = f"{observatory}_{instrument}_{serial}.imap"
        _write_mapping(
            mapdir / name, _format_imap(name, observatory, instrument, rmaps, derived_from)
        )
        written.append(mapdir / name)
        imaps[instrument.upper()] = name
    pmap = f"{observatory}_{serial}.pmap"
    _write_mapping(mapdir / pmap, _format_pmap(pmap, observatory, imaps, derived_from))
    written.append(mapdir / pmap)

    write_server_config(root, pmap, observatory=observatory, files=written, local=True)
    log.info("Wrote local CRDS context %s under %s", pmap, root)
    _forget_crds_state()
    return pmap


def write_server_config(
    crds_path: str | os.PathLike[str],
    context: str,
    *,
    observatory: str = "jwst",
    files: Sequence[str | os.PathLike[str]] = (),
    local: bool = False,
) -> Path:
    """Write ``config/<observatory>/server_config`` naming ``context`` as operational.

    Also writes the ``ref_cache_subdir_mode`` tag (``instrument``) so CRDS looks
    for references in per-instrument sub-directories. The size and SHA-1 of
    ``files`` are recorded in ``download_metadata``, the field (encoded as the
    CRDS server encodes it) from which the ``crds`` client takes the size and
    ``sha1sum`` of each file it downloads; entries already recorded for other
    files are kept. ``webbcal cache verify`` checks cached files against them.

    Parameters
    ----------
    crds_path : path-like
        Cache root.
    context : str
        Pipeline mapping name, e.g. ``"jwst_9001.pmap"``.
    observatory : str, optional
        Observatory name.
    files : sequence of path-like, optional
        Cached references and mappings whose checksums to record.
    local : bool, optional
        The context exists only in this cache (written by webbcal, unknown to any
        CRDS server): recorded as ``webbcal_local_context`` so that tools do not
        try to download its files again.

    Returns
    -------
    pathlib.Path
        Path of the server_config file.
    """
    if not re.fullmatch(rf"{observatory}_\d{{4}}\.pmap", context):
        raise ValueError(f"context={context!r} is not a pipeline mapping name like jwst_0001.pmap")
    cfgdir = Path(crds_path) / "config" / observatory
    cfgdir.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")
    metadata = read_download_metadata(crds_path, observatory=observatory)
    for path in files:
        metadata[Path(path).name] = {
            "size": str(Path(path).stat().st_size),
            "sha1sum": file_checksum(path),
        }
    info = {
        "observatory": observatory,
        "operational_context": context,
        "latest_context": context,
        "edit_context": context,
        "versions_context": context,
        "bad_files": "",
        "bad_files_list": [],
        "force_remote_mode": False,
        "last_synced": now,
        "mappings": sorted(p.name for p in (Path(crds_path) / "mappings" / observatory).glob("*")),
        "crds_version": {"str": "webbcal local context"},
        "download_metadata": _encode(metadata),
        "webbcal_local_context": bool(local),
    }
    path = cfgdir / "server_config"
    path.write_text(pprint.pformat(info) + "\n", encoding="utf-8")
    (cfgdir / "ref_cache_subdir_mode").write_text("instrument", encoding="utf-8")
    return path


def file_checksum(path: str | os.PathLike[str]) -> str:
    """Hex SHA-1 of a file's bytes, as CRDS computes it for its catalogue.

    References
    ----------
    ``crds.core.utils.checksum`` (the digest the client checks downloads against).
    """
    digest = hashlib.sha1()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_download_metadata(
    crds_path: str | os.PathLike[str], *, observatory: str = "jwst"
) -> dict[str, dict[str, str]]:
    """The ``download_metadata`` of a cache's server_config: {file name: {size, sha1sum}}.

    Empty when the cache has no server_config or it records no metadata (a cache
    filled by a CRDS server records the server's catalogue there).
    """
    import ast

    path = Path(crds_path) / "config" / observatory / "server_config"
    try:
        info = ast.literal_eval(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, SyntaxError):
        return {}
    raw = info.get("download_metadata") if isinstance(info, dict) else None
    if not raw:
        return {}
    from crds.client.proxy import crds_decode

    try:
        decoded = crds_decode(raw)
    except Exception:  # damaged config: nothing to check against
        log.warning("%s: download_metadata cannot be decoded; ignored", path)
        return {}
    return {str(k): dict(v) for k, v in decoded.items() if isinstance(v, dict)}


def is_local_context_cache(crds_path: str | os.PathLike[str], *, observatory: str = "jwst") -> bool:
    """Whether the cache's context was written by :func:`write_local_context` (no server has it)."""
    import ast

    path = Path(crds_path) / "config" / observatory / "server_config"
    try:
        info = ast.literal_eval(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, SyntaxError):
        return False
    return isinstance(info, dict) and bool(info.get("webbcal_local_context"))


def _encode(metadata: Mapping[str, object]) -> dict[str, str]:
    from crds.client.proxy import crds_encode

    return crds_encode(dict(sorted(metadata.items())))


# --------------------------------------------------------------------------- helpers


def _group_entries(
    entries: Sequence[RmapEntry], not_applicable: Mapping[str, Sequence[str]]
) -> dict[str, tuple[list[RmapEntry], list[str]]]:
    """Validate entries and group them by lower-case instrument name."""
    grouped: dict[str, tuple[list[RmapEntry], list[str]]] = {}
    seen: set[tuple[str, str]] = set()
    for entry in entries:
        instrument = _check_instrument(entry.instrument)
        reftype = _check_reftype(entry.reftype)
        if (instrument, reftype) in seen:
            raise ValueError(
                f"entries has two RmapEntry for instrument={entry.instrument!r}, "
                f"reftype={entry.reftype!r}; expected one per pair"
            )
        seen.add((instrument, reftype))
        grouped.setdefault(instrument, ([], []))[0].append(entry)
    for instrument, reftypes in not_applicable.items():
        instr = _check_instrument(instrument)
        for reftype in reftypes:
            rtype = _check_reftype(reftype)
            if (instr, rtype) in seen:
                raise ValueError(
                    f"not_applicable lists reftype={reftype!r} for instrument={instrument!r} "
                    "which also has an RmapEntry"
                )
            grouped.setdefault(instr, ([], []))[1].append(rtype)
    return grouped


def _check_instrument(instrument: str) -> str:
    instr = str(instrument).lower()
    if instr not in _INSTRUMENTS:
        raise ValueError(
            f"instrument={instrument!r} is not a JWST instrument; expected one of {_INSTRUMENTS}"
        )
    return instr


def _check_reftype(reftype: str) -> str:
    rtype = str(reftype).lower()
    if not _REFTYPE_RE.match(rtype):
        raise ValueError(
            f"reftype={reftype!r} is not a CRDS reference type name like 'gain' or 'pars-jumpstep'"
        )
    return rtype


def _check_parkeys(entry: RmapEntry) -> tuple[str, ...]:
    parkeys = tuple(str(p).upper() for p in entry.parkeys)
    for parkey in parkeys:
        if not _PARKEY_RE.match(parkey):
            raise ValueError(
                f"parkeys contains {parkey!r} for reftype={entry.reftype!r}; expected keyword "
                "names like 'META.INSTRUMENT.DETECTOR'"
            )
    return parkeys


def _match_key(entry: RmapEntry, key: object, nkeys: int) -> tuple[str, ...]:
    """Normalise one selection key to a tuple of strings, one per parkey."""
    values = (key,) if isinstance(key, str) else tuple(key)  # type: ignore[arg-type]
    if len(values) != nkeys:
        raise ValueError(
            f"selection key {key!r} for reftype={entry.reftype!r} has {len(values)} values; "
            f"expected {nkeys} (one per parkey {tuple(entry.parkeys)})"
        )
    out = []
    for value in values:
        text = str(value)
        if "'" in text or "\n" in text:
            raise ValueError(
                f"match value {value!r} for reftype={entry.reftype!r} contains a quote"
            )
        out.append(text)
    return tuple(out)


def _copy_references(refdir: Path, entry: RmapEntry, copied: dict[str, Path]) -> dict[str, str]:
    """Copy every reference named by ``entry`` into ``refdir``; return {source: basename}.

    ``copied`` maps basenames already placed in ``refdir`` to their sources, so
    two different files with one basename are refused instead of overwritten.
    """
    names: dict[str, str] = {}
    for pairs in entry.selections.values():
        for _useafter, ref in pairs:
            if ref == NOT_APPLICABLE or str(ref) in names:
                continue
            src = Path(ref)
            base = src.name
            if not _FILENAME_RE.match(base):
                raise ValueError(
                    f"reference {str(ref)!r} for reftype={entry.reftype!r} has an unsupported "
                    "name; expected letters, digits, '_', '-', '.' and a .fits/.asdf/.json/.yaml "
                    "extension"
                )
            if not src.is_file():
                raise FileNotFoundError(
                    f"reference file {str(ref)!r} for reftype={entry.reftype!r} does not exist"
                )
            previous = copied.get(base)
            if previous is not None and not os.path.samefile(previous, src):
                raise ValueError(
                    f"reference {str(ref)!r} and {str(previous)!r} share the basename {base!r}; "
                    "CRDS identifies references by basename, rename one of them"
                )
            refdir.mkdir(parents=True, exist_ok=True)
            dest = refdir / base
            if not (dest.exists() and os.path.samefile(src, dest)):
                shutil.copyfile(src, dest)
            copied[base] = src
            names[str(ref)] = base
    return names


def _format_rmap(
    name: str,
    observatory: str,
    instrument: str,
    entry: RmapEntry,
    files: Mapping[str, str],
    derived_from: str,
) -> str:
    parkeys = _check_parkeys(entry)
    reftype = entry.reftype.lower()
    default = "x.asdf" if reftype.startswith("pars-") else "x.fits"
    ext = next(iter(files.values()), default).rsplit(".", 1)[-1]
    header = {
        "classes": ("Match", "UseAfter"),
        "derived_from": derived_from,
        "file_ext": "." + ext,
        "filekind": reftype.upper(),
        "filetype": reftype.upper(),
        "instrument": instrument.upper(),
        "mapping": "REFERENCE",
        "name": name,
        "observatory": observatory.upper(),
        "parkey": (parkeys, DATE_PARKEYS),
        "sha1sum": _PLACEHOLDER_SHA1,
        "suffix": reftype,
    }
    text = _format_header(header)
    if entry.comment:
        if '"""' in entry.comment:
            raise ValueError("comment must not contain triple double quotes")
        text += f'comment = """\n{entry.comment}\n"""\n\n'
    lines = [text + "selector = Match({"]
    seen: set[tuple[str, ...]] = set()
    for key, pairs in entry.selections.items():
        match = _match_key(entry, key, len(parkeys))
        if match in seen:
            raise ValueError(f"selection key {key!r} for reftype={entry.reftype!r} is repeated")
        seen.add(match)
        lines.append(f"    {_format_match(match)} : UseAfter({{")
        dates = set()
        for useafter, ref in sorted(pairs, key=lambda p: p[0]):
            if not _USEAFTER_RE.match(str(useafter)):
                raise ValueError(
                    f"useafter={useafter!r} for reftype={entry.reftype!r} is malformed; "
                    "expected 'YYYY-MM-DD HH:MM:SS'"
                )
            if useafter in dates:
                raise ValueError(
                    f"useafter={useafter!r} for reftype={entry.reftype!r}, match {match!r} "
                    "is repeated"
                )
            dates.add(useafter)
            base = NOT_APPLICABLE if ref == NOT_APPLICABLE else files[str(ref)]
            lines.append(f"        '{useafter}' : '{base}',")
        lines.append("    }),")
    lines.append("})")
    return _with_checksum("\n".join(lines) + "\n")


def _format_match(match: tuple[str, ...]) -> str:
    if len(match) == 1:
        return repr(match[0])
    return repr(match)


def _format_imap(
    name: str, observatory: str, instrument: str, rmaps: Mapping[str, str], derived_from: str
) -> str:
    header = {
        "derived_from": derived_from,
        "instrument": instrument.upper(),
        "mapping": "INSTRUMENT",
        "name": name,
        "observatory": observatory.upper(),
        "parkey": ("REFTYPE",),
        "sha1sum": _PLACEHOLDER_SHA1,
    }
    return _with_checksum(_format_header(header) + _format_selector_dict(rmaps))


def _format_pmap(name: str, observatory: str, imaps: Mapping[str, str], derived_from: str) -> str:
    header = {
        "derived_from": derived_from,
        "mapping": "PIPELINE",
        "name": name,
        "observatory": observatory.upper(),
        "parkey": ("META.INSTRUMENT.NAME",),
        "sha1sum": _PLACEHOLDER_SHA1,
    }
    return _with_checksum(_format_header(header) + _format_selector_dict(imaps))


def _format_header(header: Mapping[str, object]) -> str:
    lines = ["header = {"]
    for key in sorted(header):
        lines.append(f"    {key!r} : {header[key]!r},")
    lines.append("}")
    return "\n".join(lines) + "\n\n"


def _format_selector_dict(selector: Mapping[str, str]) -> str:
    lines = ["selector = {"]
    for key in sorted(selector):
        lines.append(f"    {key!r} : {selector[key]!r},")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _with_checksum(text: str) -> str:
    """Replace the placeholder sha1sum header line with the real checksum."""
    placeholder = f"'sha1sum' : '{_PLACEHOLDER_SHA1}',"
    return text.replace(placeholder, f"'sha1sum' : '{mapping_checksum(text)}',", 1)


def _write_mapping(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def _forget_crds_state() -> None:
    """Drop crds' in-process mapping caches (mapping names may have been reused)."""
    from webbcal.crds_client.client import reset_crds_state

    reset_crds_state()
