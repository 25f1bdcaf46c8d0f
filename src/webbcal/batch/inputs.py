"""Expanding batch inputs: file names, glob patterns and association files.

References
----------
JWST pipeline documentation, "Level 2 Associations: Technical Specifications"
(``products[].members[]`` with ``expname`` and ``exptype``).
"""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Iterable

__all__ = ["BatchInputError", "exposure_root", "expand_inputs", "read_association"]

#: Product suffixes removed from a file name to get the exposure root.
_SUFFIXES = ("_uncal", "_ramp", "_linearity", "_dark", "_jump", "_rate", "_rateints")
_GLOB_CHARS = set("*?[")


class BatchInputError(ValueError):
    """An input of a batch cannot be expanded into exposure files."""


def exposure_root(path: str) -> str:
    """Return the exposure root of a product name (``jw..._nrca1`` for ``jw..._nrca1_uncal.fits``).

    Examples
    --------
    >>> exposure_root("/data/jw01234001001_01101_00001_nrca1_uncal.fits")
    'jw01234001001_01101_00001_nrca1'
    """
    name = os.path.basename(path)
    for ext in (".fits.gz", ".fits", ".fit"):
        if name.endswith(ext):
            name = name[: -len(ext)]
            break
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def read_association(path: str) -> list[str]:
    """Return the science members of an association file, as paths.

    Members are the ``expname`` of every member with ``exptype`` ``science``
    in every product, resolved relative to the association's directory.

    Raises
    ------
    BatchInputError
        If the file is not JSON, has no ``products`` list, or has no science member.
    """
    try:
        with open(path, encoding="utf-8") as fh:
            asn = json.load(fh)
    except (OSError, json.JSONDecodeError) as exc:
        raise BatchInputError(f"{path}: cannot read the association: {exc}") from None
    products = asn.get("products") if isinstance(asn, dict) else None
    if not isinstance(products, list):
        raise BatchInputError(f"{path}: association has no 'products' list")
    base = os.path.dirname(os.path.abspath(path))
    members: list[str] = []
    for product in products:
        for member in (product or {}).get("members") or []:
            if str(member.get("exptype", "")).lower() != "science":
                continue
            name = member.get("expname")
            if not name:
                raise BatchInputError(f"{path}: a science member has no 'expname'")
            members.append(os.path.join(base, name))
    if not members:
        raise BatchInputError(f"{path}: association has no member with exptype 'science'")
    return members


def expand_inputs(items: Iterable[str | os.PathLike]) -> list[str]:
    """Expand file names, glob patterns and ``.json`` associations into exposure files.

    Parameters
    ----------
    items : iterable of str or path-like
        Each item is a FITS file, a glob pattern (``data/*_uncal.fits``) or a
        JSON association whose science members are taken.

    Returns
    -------
    list of str
        Absolute paths, in the order given, without duplicates.

    Raises
    ------
    BatchInputError
        If a pattern matches nothing, an association cannot be read, or two
        different files have the same exposure root (their products would
        collide). A missing file is not an error here: it fails alone when the
        batch runs.
    """
    out: list[str] = []
    for item in items:
        text = os.fspath(item)
        if any(c in _GLOB_CHARS for c in text) and not os.path.exists(text):
            matches = sorted(glob.glob(text))
            if not matches:
                raise BatchInputError(f"{text}: pattern matches no file")
            paths = matches
        elif text.endswith(".json"):
            paths = read_association(text)
        else:
            paths = [text]
        for path in paths:
            if path.endswith(".json"):
                out.extend(read_association(path))
            else:
                out.append(path)
    unique: dict[str, str] = {}
    roots: dict[str, str] = {}
    for path in out:
        full = os.path.abspath(path)
        if full in unique:
            continue
        root = exposure_root(full)
        if root in roots:
            raise BatchInputError(
                f"{roots[root]} and {full} have the same exposure root {root!r}; their "
                "products would overwrite each other"
            )
        unique[full] = root
        roots[root] = full
    if not unique:
        raise BatchInputError("no input files given")
    return list(unique)
