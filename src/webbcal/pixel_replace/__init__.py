"""pixel_replace: estimate bad pixels of spectral images before extraction."""

from .replace import ALGORITHMS, ReplacedPixels, replace_bad_pixels
from .step import PixelReplaceStep

__all__ = ["ALGORITHMS", "PixelReplaceStep", "ReplacedPixels", "replace_bad_pixels"]
