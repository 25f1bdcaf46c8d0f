"""webbcal's own step framework (Step, Pipeline, typed parameters, parameter files)."""

from .params import Param, ParameterError
from .pipeline import Pipeline
from .step import Step, StepSkipped

__all__ = ["Param", "ParameterError", "Pipeline", "Step", "StepSkipped"]
