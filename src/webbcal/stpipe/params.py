"""Typed declaration of step parameters.

Each parameter is declared exactly once, as a :class:`Param`. The command line
options, configuration-file validation, ``--help`` text and the merge of CRDS
``pars-*`` parameter references are all generated from that declaration, so they
cannot drift apart.

Three kinds of values are declared:

* scalars: ``bool``, ``int``, ``float`` and ``str`` (with optional ``choices``);
* lists: ``type=list`` with an ``element`` type and a ``length`` (exact, or a
  ``(min, max)`` range), the official ``int_list(min=2, max=2)`` and
  ``float_list()`` parameters. Values are held as tuples (frozen) and written to
  parameter files as lists;
* numbers written as a string: ``type=str`` with an ``element`` type, for official
  parameters such as outlier_detection's ``snr = string(default='5.0 4.0')``. The
  string is kept as given (so files stay interchangeable) and checked to hold
  ``length`` whitespace-separated numbers; :meth:`Param.items` returns them.

A kernel whose options travel as a frozen dataclass declares them there, once:
each field is made with :func:`param_field` (default, one-line doc, bounds, unit,
choices), and the step adapter takes its ``spec`` from :func:`dataclass_params`
and builds the kernel's options with :func:`dataclass_from_parameters`. The
dataclass is then the single declaration of names, types, defaults and help.

Text (command line, or a string given for a list) follows the grammar of the
official ``strun`` (configobj list values): items separated by commas, each
optionally quoted, a trailing comma allowed (``1000,1200``, ``1000, 1200,``,
``'a,b',c``). Brackets are not part of that grammar and are refused with a hint.
webbcal also accepts ``None``/``null`` for a parameter that allows None, and a
single item without a comma as a one-item list.

References
----------
ConfigObj 5 documentation, "List Values" and validate.py's ``int_list``,
``float_list``, ``string_list`` and ``option`` checks (the grammar of the official
stpipe parameter specifications).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import numbers
import os
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = [
    "Param",
    "ParameterError",
    "dataclass_from_parameters",
    "dataclass_params",
    "param_field",
    "parse_bool",
    "split_list_text",
]

_T = TypeVar("_T")

#: Key of the :func:`param_field` declaration in a dataclass field's metadata.
_FIELD_KEY = "webbcal.param"

_TRUE = {"true", "yes", "on", "1", "t", "y"}
_FALSE = {"false", "no", "off", "0", "f", "n"}
_SCALARS = (bool, int, float, str)
_NONE_TEXT = ("none", "null")


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
    if isinstance(value, numbers.Integral) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ParameterError(f"{name}={value!r} is not a boolean; expected true or false")


def split_list_text(text: str, *, name: str = "value") -> list[str]:
    """Split command-line text into list items with the official (configobj) grammar.

    Items are separated by commas; an item may be quoted with ``'`` or ``"`` (the
    quotes are removed, and a quoted item may contain commas); spaces around
    commas are ignored; a trailing comma is allowed; a lone ``,`` is the empty list.

    Parameters
    ----------
    text : str
        The text after ``--name=``.
    name : str
        ``owner.param`` used in error messages.

    Returns
    -------
    list of str

    Raises
    ------
    ParameterError
        For unbalanced quotes, or brackets (``[1, 2]`` is not official syntax).

    Examples
    --------
    >>> split_list_text("1000, 1200")
    ['1000', '1200']
    >>> split_list_text("'a,b',c,")
    ['a,b', 'c']
    """
    body = text.strip()
    if body == ",":
        return []
    if body[:1] in ("[", "(") and body[-1:] in ("]", ")"):
        raise ParameterError(
            f"{name}={text!r}: brackets are not part of the list syntax; "
            f"write the values separated by commas, e.g. {body[1:-1].strip()}"
        )
    items: list[str] = []
    pos, end = 0, len(body)
    while True:
        while pos < end and body[pos].isspace():
            pos += 1
        if pos < end and body[pos] in "'\"":
            close = body.find(body[pos], pos + 1)
            if close < 0:
                raise ParameterError(f"{name}={text!r}: unbalanced quote")
            item, pos = body[pos + 1 : close], close + 1
            while pos < end and body[pos].isspace():
                pos += 1
            if pos < end and body[pos] != ",":
                raise ParameterError(f"{name}={text!r}: text after a quoted value")
        else:
            stop = body.find(",", pos)
            stop = end if stop < 0 else stop
            item, pos = body[pos:stop].strip(), stop
            if not item and body:
                raise ParameterError(f"{name}={text!r}: empty value between commas")
        items.append(item)
        if pos >= end or not body[pos + 1 :].strip():
            return items
        pos += 1


def _is_none(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip().lower() in _NONE_TEXT)


@dataclass(frozen=True)
class Param:
    """Declaration of one step parameter.

    Attributes
    ----------
    name : str
        Parameter name as users write it (``rejection_threshold``).
    type : type
        One of ``bool``, ``int``, ``float``, ``str`` or ``list``.
    default : object
        Default value (``None`` allowed when ``allow_none``); a list default may be
        given as a list or a tuple and is held as a tuple.
    doc : str
        One-line description shown by ``--help`` and ``webbcal list``.
    minimum, maximum : float or None
        Inclusive bounds for numbers (for lists and number strings: of each item).
    choices : sequence of str or None
        Allowed values for strings (compared case-insensitively, stored as declared;
        for lists of strings: of each item).
    allow_none : bool
        Whether ``None`` (written ``None``/``null`` on the command line) is accepted.
    unit : str or None
        Physical unit of the value, shown in help (``DN``, ``s``, ``sigma``).
    element : type or None
        Item type of a ``list`` parameter (``bool``, ``int``, ``float``, ``str``), or
        the number type (``int``, ``float``) of a ``str`` parameter that holds
        whitespace-separated numbers (``'5.0 4.0'``).
    length : int, (int, int or None), or None
        Number of items: exact, or an inclusive ``(min, max)`` range (``max`` None:
        unbounded). None: any number (at least one for number strings).
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
    element: type | None = None
    length: int | tuple[int, int | None] | None = None

    def __post_init__(self) -> None:
        if self.type not in (*_SCALARS, list):
            raise TypeError(f"Param {self.name}: unsupported type {self.type!r}")
        if self.type is list and self.element not in _SCALARS:
            raise TypeError(f"Param {self.name}: a list needs an element type among {_SCALARS}")
        if self.type is str and self.element not in (None, int, float):
            raise TypeError(f"Param {self.name}: a number string holds int or float items")
        if self.type not in (list, str) and (self.element is not None or self.length is not None):
            raise TypeError(f"Param {self.name}: element/length apply to list or str only")
        if self.default is not None or not self.allow_none:
            object.__setattr__(self, "default", self.convert(self.default, owner="default"))

    # ------------------------------------------------------------------ checking
    @property
    def _length_range(self) -> tuple[int, int | None]:
        if self.length is None:
            return (1 if self.type is str else 0), None
        if isinstance(self.length, int):
            return self.length, self.length
        return self.length[0], self.length[1]

    def convert(self, value: Any, *, owner: str = "") -> Any:
        """Validate ``value`` (a Python object or command-line text) and return it typed.

        Parameters
        ----------
        value : object
            The value to check; strings are parsed (lists with the official
            comma grammar, see :func:`split_list_text`).
        owner : str
            Step or pipeline name used in error messages.

        Returns
        -------
        object
            The typed value: a scalar, a tuple for lists, the (stripped) string for
            number strings, or None.

        Raises
        ------
        ParameterError
            If the value has the wrong type, is out of bounds, not among the choices
            or (lists) has the wrong number of items; the message names
            ``owner.name``, the bad value and what was expected.
        """
        where = f"{owner}.{self.name}" if owner else self.name
        if _is_none(value):
            if self.allow_none:
                return None
            raise ParameterError(f"{where}=None is not allowed; expected {self.type_name()}")
        if self.type is list:
            return self._convert_list(value, where)
        if self.type is str and self.element is not None:
            return self._convert_number_string(value, where)
        return self._convert_scalar(value, self.type, where)

    def _convert_scalar(
        self, value: Any, kind: type, where: str, whole: tuple[Any] | None = None
    ) -> Any:
        """Check one scalar; ``whole`` holds the full value when it is a list item."""
        try:
            if kind is bool:
                out = parse_bool(value, name=where)
            elif kind is int:
                if isinstance(value, bool) or (
                    isinstance(value, numbers.Real) and not float(value).is_integer()
                ):
                    raise ValueError
                out = int(value) if not isinstance(value, str) else int(value.strip())
            elif kind is float:
                if isinstance(value, bool) or not isinstance(value, (numbers.Real, str)):
                    raise ValueError
                out = float(value)
            else:
                if isinstance(value, os.PathLike):  # output_dir, override_<reftype>, ...
                    value = os.fspath(value)
                if not isinstance(value, str):
                    raise ValueError
                out = value
        except ParameterError:
            raise
        except (TypeError, ValueError):
            what = f"{value!r} is" if whole is None else f"{whole[0]!r}: item {value!r} is"
            raise ParameterError(f"{where}={what} not a valid {kind.__name__}") from None
        said = f"{where}={out!r}" if whole is None else f"{where}={whole[0]!r}: item {out!r}"
        if kind in (int, float):
            if isinstance(out, float) and math.isnan(out):
                raise ParameterError(f"{said} is not allowed; expected a number")
            if self.minimum is not None and out < self.minimum:
                raise ParameterError(f"{said} is below the minimum {self.minimum}")
            if self.maximum is not None and out > self.maximum:
                raise ParameterError(f"{said} is above the maximum {self.maximum}")
        if self.choices is not None and kind is str:
            lowered = {c.lower(): c for c in self.choices}
            if out.lower() not in lowered:
                raise ParameterError(f"{said} is not one of {', '.join(self.choices)}")
            out = lowered[out.lower()]
        return out

    def _check_count(self, items: Sequence[Any], where: str, shown: Any) -> None:
        lo, hi = self._length_range
        if len(items) < lo or (hi is not None and len(items) > hi):
            raise ParameterError(
                f"{where}={shown!r} has {len(items)} value{'s' * (len(items) != 1)}; "
                f"expected {self.type_name()}"
            )

    def _convert_list(self, value: Any, where: str) -> tuple:
        if isinstance(value, str):
            items: Sequence[Any] = split_list_text(value, name=where)
        elif isinstance(value, Sequence) or hasattr(value, "tolist"):
            items = list(value.tolist() if hasattr(value, "tolist") else value)
            if any(isinstance(i, (list, tuple, dict)) for i in items):
                raise ParameterError(f"{where}={value!r} is not a flat list")
        else:
            raise ParameterError(f"{where}={value!r} is not a list; expected {self.type_name()}")
        self._check_count(items, where, value)
        return tuple(self._convert_scalar(i, self.element, where, (value,)) for i in items)

    def _convert_number_string(self, value: Any, where: str) -> str:
        if isinstance(value, (list, tuple)) and not isinstance(value, str):
            value = " ".join(str(v) for v in value)
        if not isinstance(value, str):
            raise ParameterError(f"{where}={value!r} is not a valid str; expected "
                                 f"{self.type_name()}")  # fmt: skip
        text = value.strip()
        items = text.split()
        self._check_count(items, where, value)
        for item in items:
            self._convert_scalar(item, self.element, where, (value,))
        return text

    def items(self, value: Any) -> tuple | None:
        """The items of a list or number-string value, typed (None stays None).

        Examples
        --------
        >>> Param("snr", str, "5.0 4.0", "d", element=float, length=2).items("5 4")
        (5.0, 4.0)
        """
        value = self.convert(value)
        if value is None:
            return None
        if self.type is list:
            return value
        if self.type is str and self.element is not None:
            return tuple(self.element(v) for v in value.split())
        raise TypeError(f"Param {self.name} is a {self.type.__name__}, not a list")

    # ------------------------------------------------------------------ describing
    def type_name(self) -> str:
        """Short type description for help: ``int_list[2] or None``, ``float``, ``a|b``."""
        if self.choices:
            base = "|".join(self.choices)
        elif self.type is list:
            base = f"{self.element.__name__}_list{self._length_text()}"
        elif self.type is str and self.element is not None:
            lo, hi = self._length_range
            count = str(lo) if lo == hi else self._length_text()
            base = f"str of {count} {self.element.__name__}s"
        else:
            base = self.type.__name__
        return f"{base} or None" if self.allow_none else base

    def _length_text(self) -> str:
        lo, hi = self._length_range
        if lo == hi:
            return f"[{lo}]"
        if hi is None:
            return f"[>={lo}]" if lo > (1 if self.type is str else 0) else ""
        return f"[{lo}..{hi}]"

    def metavar(self) -> str:
        """Placeholder of the value in help (``VALUE``, ``INT,INT``, ``'FLOAT FLOAT'``)."""
        if self.element is None:
            return "VALUE"
        item = self.element.__name__.upper()
        lo, hi = self._length_range
        if self.type is str:
            items = [item] * lo if lo == hi else [item, "..."]
            return "'" + " ".join(items) + "'"
        return ",".join([item] * lo if lo == hi else [item, "..."])

    def help_text(self) -> str:
        """Return the one-line help including type, default, bounds and unit."""
        parts = [self.doc.rstrip(".")]
        detail = [self.type_name()]
        if self.unit:
            detail.append(self.unit)
        if self.minimum is not None or self.maximum is not None:
            lo = "-inf" if self.minimum is None else f"{self.minimum:g}"
            hi = "inf" if self.maximum is None else f"{self.maximum:g}"
            detail.append(f"range [{lo}, {hi}]")
        default = self.default
        shown = ",".join(str(v) for v in default) if isinstance(default, tuple) else repr(default)
        detail.append(f"default {shown}")
        return f"{parts[0]} ({'; '.join(detail)})"


def param_field(default: Any, doc: str, **options: Any) -> Any:
    """A frozen-dataclass field that also declares the step parameter of that name.

    Parameters
    ----------
    default : object
        Default value (immutable: a tuple for a list parameter).
    doc : str
        One-line description for ``--help`` and ``webbcal list``.
    **options
        Further :class:`Param` attributes (``minimum``, ``maximum``, ``choices``,
        ``allow_none``, ``unit``, ``element``, ``length``).

    Returns
    -------
    dataclasses.Field
        Use as ``name: float = param_field(4.0, "Jump sigma threshold", minimum=0)``;
        the field's annotation gives the parameter's type.

    Raises
    ------
    TypeError
        If ``options`` names something that is not a :class:`Param` attribute.
    """
    allowed = {f.name for f in dataclasses.fields(Param)} - {"name", "type", "default", "doc"}
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise TypeError(f"param_field: unknown option(s) {unknown}; expected some of "
                        f"{sorted(allowed)}")  # fmt: skip
    return dataclasses.field(default=default, metadata={_FIELD_KEY: (doc, dict(options))})


@functools.cache
def dataclass_params(cls: type) -> tuple[Param, ...]:
    """The :class:`Param` declared by each field of a dataclass, in field order.

    Parameters
    ----------
    cls : type
        A dataclass whose every field was made with :func:`param_field`.

    Returns
    -------
    tuple of Param
        Name and default of the field, its annotation as the type (``bool``,
        ``int``, ``float``, ``str``; ``tuple`` for a list parameter), and the
        doc and options given to :func:`param_field`.

    Raises
    ------
    TypeError
        If ``cls`` is not a dataclass, or a field was not made with
        :func:`param_field`.
    """
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"dataclass_params: {cls!r} is not a dataclass")
    hints = typing.get_type_hints(cls)
    params = []
    for f in dataclasses.fields(cls):
        if _FIELD_KEY not in f.metadata:
            raise TypeError(f"{cls.__name__}.{f.name} is not declared with param_field()")
        doc, options = f.metadata[_FIELD_KEY]
        kind = list if hints[f.name] in (tuple, list) else hints[f.name]
        params.append(Param(f.name, kind, f.default, doc, **options))
    return tuple(params)


def dataclass_from_parameters(cls: type[_T], values: Mapping[str, Any]) -> _T:
    """Build the dataclass ``cls`` from a step's parameter values.

    Parameters
    ----------
    cls : type
        A dataclass (see :func:`dataclass_params`).
    values : mapping
        Parameter values by name (``Step.get_parameters()``); names that are
        not fields of ``cls`` are ignored, missing ones take the field's default.

    Returns
    -------
    object
        ``cls(**{field: values[field]})``.
    """
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in values.items() if k in names})
