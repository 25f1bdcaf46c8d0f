"""Image alignment of stage 3: the ``tweakreg`` step.

Modules
-------
sources
    Source catalogs (photutils background and star finders) for alignment.
align
    Relative and absolute alignment of exposure groups with tweakwcs.
refcat
    Absolute reference catalogs: a user file or the STScI catalog service.
step
    The step adapter.
"""

import importlib
from typing import Any

from .step import TweakRegStep

__all__ = [
    "AlignmentSkipped",
    "MatchFit",
    "SourceFinding",
    "TweakRegStep",
    "absolute_align",
    "find_sources",
    "read_reference_catalog",
    "relative_align",
]

_LAZY = {
    **dict.fromkeys(("AlignmentSkipped", "MatchFit", "absolute_align", "relative_align"),
                    "align"),
    **dict.fromkeys(("SourceFinding", "find_sources"), "sources"),
    "read_reference_catalog": "refcat",
}  # fmt: skip


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
