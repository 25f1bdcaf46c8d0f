"""Background subtraction from dedicated background exposures (``bkg_subtract``)."""

from .imaging import SubarrayBox, average_background, on_science_grid
from .step import BackgroundStep

__all__ = ["BackgroundStep", "SubarrayBox", "average_background", "on_science_grid"]
