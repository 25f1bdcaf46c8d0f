"""ipc: correct inter-pixel capacitance."""

from .step import IPCStep

__all__ = ["IPCStep"]
