"""Constants of the ramp-fitting algorithms (importable without numba or scipy)."""

__all__ = ["LIKELY_MIN_NGROUPS"]

#: Fewest groups the LIKELY fit (Brandt 2024) accepts: three resultant differences.
LIKELY_MIN_NGROUPS = 4
