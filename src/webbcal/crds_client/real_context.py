"""Build a CRDS cache from existing (official) mapping files and reference files.

Used to run against real CRDS rules offline: copy a complete set of
pmap/imap/rmap files plus the subset of reference files one needs into the
standard cache layout, and write a ``server_config`` naming the pmap.

References
----------
CRDS user guide, "CRDS cache structure",
https://jwst-crds.stsci.edu/static/users_guide/index.html
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Sequence
from pathlib import Path

from webbcal.crds_client.local_context import write_server_config

__all__ = ["install_mappings"]

log = logging.getLogger(__name__)

_MAPPING_SUFFIXES = (".pmap", ".imap", ".rmap")
_REF_NAME_RE = re.compile(r"^jwst_(fgs|miri|nircam|niriss|nirspec|system)_", re.IGNORECASE)


def install_mappings(
    crds_path: str | os.PathLike[str],
    mapping_dir: str | os.PathLike[str],
    references: Sequence[str | os.PathLike[str]] = (),
    *,
    context: str | None = None,
    observatory: str = "jwst",
) -> str:
    """Install real CRDS mappings and reference files into a cache.

    Parameters
    ----------
    crds_path : path-like
        Cache root (the future ``CRDS_PATH``); created if needed.
    mapping_dir : path-like
        Directory holding ``*.pmap``, ``*.imap`` and ``*.rmap`` files (copied
        unchanged, so their ``sha1sum`` stays valid).
    references : sequence of path-like, optional
        Reference files to place in ``references/<observatory>/<instrument>/``;
        the instrument is taken from the CRDS file name
        (``jwst_<instrument>_<reftype>_NNNN.<ext>``).
    context : str, optional
        Pipeline mapping to name as operational; required when ``mapping_dir``
        holds more than one ``.pmap``.
    observatory : str, optional
        Only ``"jwst"``.

    Returns
    -------
    str
        The operational context name, e.g. ``"jwst_0567.pmap"``.

    Raises
    ------
    ValueError
        When no (or an ambiguous) pmap is found, or a reference name does not
        identify its instrument.
    FileNotFoundError
        When ``mapping_dir`` or a reference file does not exist.
    """
    if observatory != "jwst":
        raise ValueError(f"observatory={observatory!r} is not supported; expected 'jwst'")
    source = Path(mapping_dir)
    if not source.is_dir():
        raise FileNotFoundError(f"mapping_dir={str(mapping_dir)!r} is not a directory")
    mappings = sorted(p for p in source.iterdir() if p.suffix in _MAPPING_SUFFIXES)
    pmaps = [p.name for p in mappings if p.suffix == ".pmap"]
    if context is None:
        if len(pmaps) != 1:
            raise ValueError(
                f"mapping_dir={str(mapping_dir)!r} holds pmaps {pmaps}; pass context= to choose one"
            )
        context = pmaps[0]
    elif context not in pmaps:
        raise ValueError(f"context={context!r} is not among the pmaps {pmaps} in {mapping_dir}")

    root = Path(crds_path)
    mapdir = root / "mappings" / observatory
    mapdir.mkdir(parents=True, exist_ok=True)
    for path in mappings:
        shutil.copyfile(path, mapdir / path.name)
    for ref in references:
        src = Path(ref)
        found = _REF_NAME_RE.match(src.name)
        if found is None:
            raise ValueError(
                f"reference {str(ref)!r} is not named jwst_<instrument>_<reftype>_NNNN.<ext>; "
                "cannot tell its instrument directory"
            )
        if not src.is_file():
            raise FileNotFoundError(f"reference file {str(ref)!r} does not exist")
        refdir = root / "references" / observatory / found[1].lower()
        refdir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, refdir / src.name)
    write_server_config(root, context, observatory=observatory)
    log.info(
        "Installed %d mappings (%s) and %d references under %s",
        len(mappings),
        context,
        len(references),
        root,
    )

    from webbcal.crds_client.client import reset_crds_state

    reset_crds_state()
    return context
