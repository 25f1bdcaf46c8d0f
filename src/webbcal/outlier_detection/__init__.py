"""Outlier detection (``outlier_detection``): imaging mode of calwebb_image3."""

from .step import OutlierDetectionStep

__all__ = ["OutlierDetectionStep"]
