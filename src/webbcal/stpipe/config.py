"""Parameter files in the official ASDF layout and the configuration merge.

A parameter file holds ``class``, ``name``, ``parameters`` and, for pipelines,
``steps`` (a list of ``{class, name, parameters}``), exactly as the official
``strun --save-parameters`` writes them, so files are interchangeable.

Precedence when a step is built with ``call`` or the command line:
code default < CRDS ``pars-<class>`` reference < configuration file < explicit
arguments.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from .params import ParameterError

__all__ = [
    "IGNORED_OFFICIAL_PARAMETERS",
    "ConfigFileError",
    "build_configuration",
    "read_config_file",
    "write_config_file",
]

log = logging.getLogger(__name__)

#: Framework parameters of the official stpipe that have no meaning in webbcal.
#: They are accepted in parameter files (so official files load) and ignored.
IGNORED_OFFICIAL_PARAMETERS = frozenset(
    {"pre_hooks", "post_hooks", "output_ext", "output_use_model", "output_use_index",
     "search_output_file", "maximum_cores", "prefetch_references"}
)  # fmt: skip


class ConfigFileError(ValueError):
    """A parameter file is unreadable or has the wrong layout."""


def read_config_file(path: str) -> dict[str, Any]:
    """Read an ASDF parameter file.

    Returns
    -------
    dict
        ``{"class": str | None, "name": str | None, "parameters": dict,
        "steps": {alias: dict}}``.

    Raises
    ------
    ConfigFileError
        If the file is missing, not ASDF, or its tree lacks the official layout.
    """
    import asdf

    if not os.path.exists(path):
        raise ConfigFileError(f"{path}: parameter file not found")
    try:
        with asdf.open(path, lazy_load=False, memmap=False) as af:
            tree = {k: af.tree[k] for k in ("class", "name", "parameters", "steps") if k in af.tree}
            tree = _plain(tree)
    except Exception as exc:
        raise ConfigFileError(f"{path}: not a readable ASDF parameter file: {exc}") from None
    params = tree.get("parameters") or {}
    if not isinstance(params, dict):
        raise ConfigFileError(f"{path}: 'parameters' must be a mapping, found {type(params)}")
    steps: dict[str, dict[str, Any]] = {}
    for entry in tree.get("steps") or []:
        if not isinstance(entry, dict) or "name" not in entry:
            raise ConfigFileError(f"{path}: each entry of 'steps' needs a 'name'")
        steps[entry["name"]] = dict(entry.get("parameters") or {})
    return {
        "class": tree.get("class"),
        "name": tree.get("name"),
        "parameters": dict(params),
        "steps": steps,
    }


def _plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


def _clean(values: dict[str, Any], specs: dict, owner: str, source: str) -> dict[str, Any]:
    out = {}
    for key, value in values.items():
        if key in IGNORED_OFFICIAL_PARAMETERS and key not in specs:
            log.debug("%s: ignoring official framework parameter %s from %s", owner, key, source)
            continue
        if key not in specs:
            raise ParameterError(
                f"{source}: {owner} has no parameter {key!r}; known parameters: "
                f"{', '.join(sorted(specs))}"
            )
        try:
            out[key] = specs[key].convert(value, owner=owner)
        except ParameterError as exc:
            if source == "arguments":
                raise
            raise ParameterError(f"{source}: {exc}") from None
    return out


def _merge_layer(cls: type, layer: dict[str, Any], config: dict[str, Any], source: str) -> None:
    """Merge one layer ({params..., 'steps': {alias: {...}}}) into ``config`` in place."""
    from .pipeline import Pipeline

    owner = cls.class_alias or cls.__name__
    params = {k: v for k, v in layer.items() if k != "steps"}
    config.update(_clean(params, cls.param_specs(), owner, source))
    steps = layer.get("steps") or {}
    if steps and not issubclass(cls, Pipeline):
        raise ParameterError(f"{source}: {owner} is a step, it has no sub-steps")
    for alias, values in steps.items():
        if alias in cls.inapplicable_steps and alias not in cls.step_defs:
            log.debug("%s: ignoring %s.%s from %s (does nothing for the implemented modes)",
                      owner, owner, alias, source)  # fmt: skip
            continue
        if alias in cls.unimplemented_steps and alias not in cls.step_defs:
            _check_unimplemented_skipped(owner, alias, values or {}, source)
            continue
        if alias not in cls.step_defs:
            raise ParameterError(
                f"{source}: {owner} has no step {alias!r}; steps are {', '.join(cls.step_defs)}"
            )
        sub = cls.step_defs[alias]
        config.setdefault("steps", {}).setdefault(alias, {}).update(
            _clean(values or {}, sub.param_specs(), f"{owner}.{alias}", source)
        )


def _check_unimplemented_skipped(owner: str, alias: str, values: dict, source: str) -> None:
    """Accept an official step webbcal lacks only when the file skips it."""
    from .params import parse_bool

    skip = values.get("skip", True)
    if parse_bool(skip, name=f"{owner}.{alias}.skip"):
        log.debug("%s: ignoring skipped official step %s from %s", owner, alias, source)
        return
    raise ParameterError(
        f"{source}: {owner}.{alias}.skip={skip!r}: step {alias!r} of the official pipeline "
        "is not implemented in webbcal; expected skip=True"
    )


def crds_parameter_layers(cls: type, model: Any) -> list[tuple[str, dict[str, Any]]]:
    """CRDS ``pars-*`` layers for ``cls``: sub-steps first, then the class itself."""
    from ..crds_client import pars_reference
    from .pipeline import Pipeline

    layers: list[tuple[str, dict[str, Any]]] = []
    params = model.get_crds_parameters()
    if issubclass(cls, Pipeline):
        for alias, sub in cls.step_defs.items():
            path = pars_reference(params, sub.__name__)
            if path:
                log.info("PARS-%s parameters found: %s", sub.__name__.upper(), path)
                content = read_config_file(path)
                layers.append((path, {"steps": {alias: content["parameters"]}}))
    path = pars_reference(params, cls.__name__)
    if path:
        log.info("PARS-%s parameters found: %s", cls.__name__.upper(), path)
        content = read_config_file(path)
        layer = dict(content["parameters"])
        if content["steps"]:
            layer["steps"] = content["steps"]
        layers.append((path, layer))
    return layers


def build_configuration(
    cls: type,
    model: Any,
    *,
    config_file: str | None = None,
    overrides: dict[str, Any] | None = None,
    use_crds: bool = True,
) -> dict[str, Any]:
    """Merge code defaults, CRDS pars, a config file and explicit values for ``cls``.

    Returns
    -------
    dict
        Parameter values that differ from the code default path, with ``steps``
        for pipelines; suitable for ``cls.from_configuration``.

    Raises
    ------
    ParameterError, ConfigFileError
        For unknown names, invalid values or unreadable files.
    """
    config: dict[str, Any] = {}
    if overrides:
        # Validate explicit values first, so a typo is reported before any CRDS lookup.
        _merge_layer(cls, dict(overrides), {}, "arguments")
    if use_crds and model is not None:
        for source, layer in crds_parameter_layers(cls, model):
            _merge_layer(cls, layer, config, source)
    if config_file:
        content = read_config_file(config_file)
        layer = dict(content["parameters"])
        if content["steps"]:
            layer["steps"] = content["steps"]
        _merge_layer(cls, layer, config, config_file)
    if overrides:
        _merge_layer(cls, dict(overrides), config, "arguments")
    return config


def write_config_file(step: Any, path: str) -> str:
    """Write ``step``'s current parameters as an official-layout ASDF parameter file."""
    import asdf

    from .._version import __version__
    from .pipeline import Pipeline

    def entry(s: Any) -> dict[str, Any]:
        # Lists are held as tuples; parameter files store them as lists.
        values = _plain({k: v for k, v in s.get_parameters().items() if k != "steps"})
        return {
            "class": f"{type(s).__module__}.{type(s).__name__}",
            "name": s.name,
            "parameters": values,
        }

    tree = entry(step)
    tree["meta"] = {
        "author": "webbcal",
        "description": f"Parameters of {type(step).__name__} written by webbcal {__version__}",
        "origin": "webbcal",
        "pedigree": "GROUND",
        "reftype": f"pars-{type(step).__name__.lower()}",
        "telescope": "JWST",
        "useafter": "2000-01-01T00:00:00",
        "instrument": {"name": "<SPECIFY>"},
    }
    if isinstance(step, Pipeline):
        tree["steps"] = [entry(s) for s in step._steps.values()]
    tmp = path + ".tmp"
    asdf.AsdfFile(tree).write_to(tmp)
    os.replace(tmp, path)
    return path
