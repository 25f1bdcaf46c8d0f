"""jump: flag cosmic-ray jumps in ramps."""

from .step import JumpStep

__all__ = ["JumpStep"]
