"""Source catalog of a resampled image: the ``source_catalog`` step (``_cat.ecsv``, ``_segm``)."""

import importlib
from typing import Any

from .step import SourceCatalogStep

__all__ = [
    "ApertureParams",
    "CatalogInputs",
    "DetectionParams",
    "Detections",
    "ReferenceTableError",
    "SourceCatalogStep",
    "build_catalog",
    "detect_sources",
    "select_abvega_offset",
    "select_aperture_params",
]

#: Kernels imported when first used (photutils is not needed to declare the step).
_LAZY = {
    "ApertureParams": "photometry",
    "CatalogInputs": "catalog",
    "build_catalog": "catalog",
    "DetectionParams": "detection",
    "Detections": "detection",
    "detect_sources": "detection",
    "ReferenceTableError": "reference_tables",
    "select_abvega_offset": "reference_tables",
    "select_aperture_params": "reference_tables",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
