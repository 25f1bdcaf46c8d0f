"""rscd: flag the MIRI groups affected by reset-switch charge decay."""

from .step import RscdStep

__all__ = ["RscdStep"]
