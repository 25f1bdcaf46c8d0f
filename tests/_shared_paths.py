"""Where the project's shared real JWST material lies (read-only).

CI clones the repository with ``shared/`` beside it; developers have it at
``/work/shared``. ``WEBBCAL_SHARED`` overrides both.
"""

import os
from pathlib import Path

__all__ = ["REAL", "SHARED"]


def _find_shared() -> Path:
    env = os.environ.get("WEBBCAL_SHARED")
    candidates = [Path(env)] if env else []
    candidates += [Path(__file__).resolve().parents[2] / "shared", Path("/work/shared")]
    for path in candidates:
        if (path / "data" / "real").is_dir():
            return path
    return candidates[0]


SHARED = _find_shared()
REAL = SHARED / "data" / "real"
