"""webbcal pipelines (calwebb_detector1, calwebb_dark, calwebb_guider)."""

from .dark import DarkPipeline
from .detector1 import Detector1Pipeline
from .guider import GuiderPipeline

__all__ = ["DarkPipeline", "Detector1Pipeline", "GuiderPipeline"]
