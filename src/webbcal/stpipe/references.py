"""The one rule by which a step finds its reference files.

``override_<reftype>`` parameter > the pipeline's prefetched CRDS answer >
a CRDS best-reference lookup. Every path gives a :class:`ReferenceChoice`:
the file to open (None when not applicable) and the value recorded in the
product's ``R_<REFTYPE>`` keyword. Opening follows two ways, with the same
checks (:func:`webbcal.lib.reffiles.check_reference_belongs`): whole files
through :func:`webbcal.lib.reffiles.load_reference` (steps), sections of rows
through :class:`webbcal.lib.refsection.ReferenceSection` (streaming).

References
----------
JWST pipeline documentation, "stpipe: reference files" (override_<reftype>,
N/A) and "CRDS" (best references).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

__all__ = ["NOT_APPLICABLE", "ReferenceChoice", "choose_reference"]

#: The override value (and R_* value) meaning "no reference applies".
NOT_APPLICABLE = "N/A"


class ReferenceChoice(NamedTuple):
    """Which reference file a step uses.

    Attributes
    ----------
    path : str or None
        Absolute path of the file, or None when no reference applies (N/A).
    recorded : str
        The ``R_<REFTYPE>`` value: ``crds://<name>`` for a CRDS file, the path
        of an override, or ``N/A``.
    """

    path: str | None
    recorded: str


def choose_reference(
    reftype: str,
    *,
    override: str | None,
    prefetched: Mapping[str, str | None] | None,
    lookup: Callable[[str], str | None],
    owner: str,
) -> ReferenceChoice:
    """Choose the ``reftype`` reference: override > prefetched CRDS answer > CRDS lookup.

    Parameters
    ----------
    reftype : str
        CRDS reference type (``"dark"``).
    override : str or None
        The step's ``override_<reftype>`` value (``"N/A"``: not applicable).
    prefetched : mapping or None
        Reference paths (None for N/A) the pipeline already asked CRDS for.
    lookup : callable
        ``lookup(reftype)`` asks CRDS for the best reference (None for N/A).
    owner : str
        The step's name, for messages.

    Returns
    -------
    ReferenceChoice

    Raises
    ------
    FileNotFoundError
        If the override names a file that does not exist.
    """
    if override is not None:
        if override.strip().upper() == NOT_APPLICABLE:
            return ReferenceChoice(None, NOT_APPLICABLE)
        path = os.path.abspath(override)
        if not os.path.exists(path):
            raise FileNotFoundError(f"{owner}: override_{reftype}={override!r}: file not found")
        return ReferenceChoice(path, path)
    if prefetched is not None and reftype in prefetched:
        path = prefetched[reftype]
    else:
        path = lookup(reftype)
    if path is None:
        return ReferenceChoice(None, NOT_APPLICABLE)
    return ReferenceChoice(path, "crds://" + os.path.basename(path))


def open_section(path: str, science: Any, geometry: Any, *, ndim: int, what: str):
    """A :class:`~webbcal.lib.refsection.ReferenceSection` of ``path`` (rows read on demand)."""
    from ..lib.refsection import ReferenceSection

    return ReferenceSection(path, science, geometry, ndim=ndim, what=what)
