"""flat_field: divide imaging and guider products by the FLAT reference.

The kernel module (compiled with numba) is imported when first used, so that listing the
steps (``webbcal list``) stays light.
"""

from typing import Any

from .step import FlatFieldStep

__all__ = ["FlatFieldStep", "FlatResult", "apply_flat"]


def __getattr__(name: str) -> Any:
    if name in ("FlatResult", "apply_flat"):
        from . import apply

        return getattr(apply, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
