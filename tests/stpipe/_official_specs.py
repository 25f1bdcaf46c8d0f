"""Read the parameters the official pipeline (jwst + stpipe) declares, for parity tests.

Test-only helper: it imports ``jwst``/``stpipe``/``configobj`` (the oracle), never
imported by ``src/webbcal``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

__all__ = [
    "OfficialParam",
    "official_class",
    "official_parameters",
    "official_pipeline_parameters",
    "official_step_aliases",
]

#: Keys stpipe adds to every sub-step section of a pipeline spec; not parameters.
PIPELINE_SECTION_KEYS = frozenset({"config_file", "name", "class"})

#: configobj check -> (webbcal Param type, element type).
_KINDS = {
    "boolean": (bool, None),
    "integer": (int, None),
    "float": (float, None),
    "string": (str, None),
    "output_file": (str, None),
    "input_file": (str, None),
    "is_string_or_datamodel": (str, None),
    "option": (str, None),
    "int_list": (list, int),
    "float_list": (list, float),
    "string_list": (list, str),
    "force_list": (list, str),
    "list": (list, str),
}


@dataclass(frozen=True)
class OfficialParam:
    """One parameter of an official spec.

    Attributes
    ----------
    check : str
        The configobj check name (``float``, ``int_list``, ``option``...).
    type, element : type
        The webbcal ``Param`` type and element type the check corresponds to.
    default : object
        The default converted by configobj (None for ``default=None``).
    options : tuple of str or None
        ``option(...)`` values other than None.
    allows_none : bool
        Whether None is an option (``option('a', None)``) or the default.
    length : (int or None, int or None)
        ``min``/``max`` of list checks.
    """

    check: str
    type: type
    element: type | None
    default: Any
    options: tuple[str, ...] | None
    allows_none: bool
    length: tuple[int | None, int | None]


def official_class(alias: str) -> type:
    """The official step or pipeline class registered under ``alias`` (``jump``)."""
    from jwst.stpipe.integration import get_steps

    for path, name, _ in get_steps():
        if name == alias:
            module, cls = path.rsplit(".", 1)
            return getattr(importlib.import_module(module), cls)
    raise KeyError(f"no official step or pipeline has the alias {alias!r}")


def official_step_aliases(pipeline_class: type) -> list[str]:
    """The sub-step aliases of an official pipeline class, in ``step_defs`` order."""
    return list(pipeline_class.step_defs)


def _parse_section(section: Any) -> dict[str, OfficialParam]:
    from configobj.validate import Validator

    vtor = Validator()
    out = {}
    for key, check in section.items():
        if isinstance(check, dict) or key in PIPELINE_SECTION_KEYS:
            continue
        # The parse of a check is private in configobj; fine for a test oracle.
        name, args, kwargs, default = vtor._parse_with_caching(check)
        kind, element = _KINDS[name]
        try:
            value = vtor.get_default_value(check)
        except KeyError:  # no default (output_ext in stpipe's base spec)
            value = None
        options = None
        allows_none = value is None
        if name == "option":
            options = tuple(a for a in args if a != "None")
            allows_none = allows_none or len(options) < len(args)
        if isinstance(value, list):
            value = tuple(value)
        lo, hi = kwargs.get("min"), kwargs.get("max")
        length = (None, None)
        if kind is list:  # min/max of a number are bounds, not a length
            length = (None if lo is None else int(lo), None if hi is None else int(hi))
        out[key] = OfficialParam(name, kind, element, value, options, allows_none, length)
    return out


def official_parameters(step_class: type) -> dict[str, OfficialParam]:
    """Declared parameters of an official step (its merged spec, overrides included)."""
    return _parse_section(step_class.load_spec_file())


def official_pipeline_parameters(pipeline_class: type) -> dict[str, dict[str, OfficialParam]]:
    """``{"": pipeline parameters, alias: step parameters, ...}`` of an official pipeline."""
    spec = pipeline_class.load_spec_file()
    out = {"": _parse_section(spec)}
    for alias, section in spec["steps"].items():
        out[alias] = _parse_section(section)
    return out
