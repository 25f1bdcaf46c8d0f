"""webbcal pipelines (calwebb_detector1, calwebb_guider)."""

from .detector1 import Detector1Pipeline
from .guider import GuiderPipeline

__all__ = ["Detector1Pipeline", "GuiderPipeline"]
