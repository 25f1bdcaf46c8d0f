"""webbcal's data-model layer: product I/O through ``stdatamodels`` and the ModelLibrary.

``io``
    Opening and saving products with clear errors and atomic writes.
``library``
    :class:`ModelLibrary`, the container of the exposures of an association.
"""

from .io import (
    InputError,
    open_model,
    open_ramp_input,
    save_model,
    to_ramp_model,
)
from .library import BorrowError, ModelLibrary

__all__ = [
    "BorrowError",
    "InputError",
    "ModelLibrary",
    "open_model",
    "open_ramp_input",
    "save_model",
    "to_ramp_model",
]
