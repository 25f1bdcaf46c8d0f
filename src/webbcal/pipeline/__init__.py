"""webbcal pipelines (calwebb_detector1, calwebb_dark, calwebb_guider, calwebb_image2)."""

from typing import Any

from .dark import DarkPipeline
from .detector1 import Detector1Pipeline
from .guider import GuiderPipeline

__all__ = ["DarkPipeline", "Detector1Pipeline", "GuiderPipeline", "Image2Pipeline"]


def __getattr__(name: str) -> Any:
    # Stage-2 pipelines import their WCS and resampling modules only when asked for.
    if name == "Image2Pipeline":
        from .image2 import Image2Pipeline

        return Image2Pipeline
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
