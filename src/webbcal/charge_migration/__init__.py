"""charge_migration: flag groups above a signal threshold as CHARGELOSS."""

from .step import ChargeMigrationStep

__all__ = ["ChargeMigrationStep"]
