"""webbcal pipelines (calwebb_detector1)."""

from .detector1 import Detector1Pipeline

__all__ = ["Detector1Pipeline"]
