"""Typed declaration of step parameters.

Each parameter is declared exactly once, as a :class:`Param`. The command line
options, configuration-file validation, ``--help`` text and the merge of CRDS
``pars-*`` parameter references are all generated from that declaration, so they
cannot drift apart.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Param", "ParameterError", "parse_bool"]

_TRUE = {"true", "yes", "on", "1", "t", "y"}
_FALSE = {"false", "no", "off", "0", "f", "n"}


class ParameterError(ValueError):
    """A parameter name or value is not valid for a step."""


def parse_bool(value: Any, *, name: str = "value") -> bool:
    """Interpret ``value`` (bool, 0/1, or text such as "true"/"False") as a boolean.

    Raises
    ------
    ParameterError
        If the value is not a recognisable boolean.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ParameterError(f"{name}={value!r} is not a boolean; expected true or false")


@dataclass(frozen=True)
class Param:
    """Declaration of one step parameter.

    Attributes
    ----------
    name : str
        Parameter name as users write it (``rejection_threshold``).
    type : type
        One of ``bool``, ``int``, ``float``, ``str``.
    default : object
        Default value (``None`` allowed when ``allow_none``).
    doc : str
        One-line description shown by ``--help`` and ``webbcal list``.
    minimum, maximum : float or None
        Inclusive bounds for numbers.
    choices : sequence of str or None
        Allowed values for strings (compared case-insensitively, stored as declared).
    allow_none : bool
        Whether ``None`` (written ``None``/``null`` on the command line) is accepted.
    unit : str or None
        Physical unit of the value, shown in help (``DN``, ``s``, ``sigma``).
    """

    name: str
    type: type
    default: Any
    doc: str
    minimum: float | None = None
    maximum: float | None = None
    choices: Sequence[str] | None = None
    allow_none: bool = False
    unit: str | None = None

    def __post_init__(self) -> None:
        if self.type not in (bool, int, float, str):
            raise TypeError(f"Param {self.name}: unsupported type {self.type!r}")
        if self.default is not None or not self.allow_none:
            self.convert(self.default, owner="default")

    def convert(self, value: Any, *, owner: str = "") -> Any:
        """Validate ``value`` (a Python object or command-line text) and return it typed.

        Parameters
        ----------
        value : object
            The value to check; strings are parsed.
        owner : str
            Step or pipeline name used in error messages.

        Raises
        ------
        ParameterError
            If the value has the wrong type, is out of bounds or not among the choices.
        """
        where = f"{owner}.{self.name}" if owner else self.name
        if value is None or (isinstance(value, str) and value.strip().lower() in ("none", "null")):
            if self.allow_none:
                return None
            raise ParameterError(f"{where}=None is not allowed; expected a {self.type.__name__}")
        try:
            if self.type is bool:
                out = parse_bool(value, name=where)
            elif self.type is int:
                if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                    raise ValueError
                out = int(value) if not isinstance(value, str) else int(value.strip())
            elif self.type is float:
                if isinstance(value, bool):
                    raise ValueError
                out = float(value)
            else:
                if not isinstance(value, str):
                    raise ValueError
                out = value
        except ParameterError:
            raise
        except (TypeError, ValueError):
            raise ParameterError(f"{where}={value!r} is not a valid {self.type.__name__}") from None
        if self.type in (int, float):
            if isinstance(out, float) and math.isnan(out):
                raise ParameterError(f"{where}=nan is not allowed; expected a number")
            if self.minimum is not None and out < self.minimum:
                raise ParameterError(f"{where}={out!r} is below the minimum {self.minimum}")
            if self.maximum is not None and out > self.maximum:
                raise ParameterError(f"{where}={out!r} is above the maximum {self.maximum}")
        if self.choices is not None and out is not None:
            lowered = {c.lower(): c for c in self.choices}
            if out.lower() not in lowered:
                raise ParameterError(f"{where}={out!r} is not one of {', '.join(self.choices)}")
            out = lowered[out.lower()]
        return out

    def help_text(self) -> str:
        """Return the one-line help including type, default, bounds and unit."""
        parts = [self.doc.rstrip(".")]
        detail = [self.type.__name__]
        if self.choices:
            detail = ["|".join(self.choices)]
        if self.unit:
            detail.append(self.unit)
        if self.minimum is not None or self.maximum is not None:
            lo = "-inf" if self.minimum is None else f"{self.minimum:g}"
            hi = "inf" if self.maximum is None else f"{self.maximum:g}"
            detail.append(f"range [{lo}, {hi}]")
        detail.append(f"default {self.default!r}")
        return f"{parts[0]} ({'; '.join(detail)})"
