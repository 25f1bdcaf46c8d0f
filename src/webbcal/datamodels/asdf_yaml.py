"""ASDF extension manifests parsed with libyaml.

The first product opened in a process makes asdf load its extensions, and asdf
(5.x, ``asdf.extension._manifest.ManifestExtension.from_uri``) parses each of the
~50 extension manifests with ``yaml.safe_load``: PyYAML's pure-Python scanner and
parser. Measured on the shared 2-core machine (asdf 5.4, PyYAML 6.0.4, 56 extensions):
``asdf.get_config().extensions`` takes 1.78-1.87 s CPU, 1.35-1.55 s with the manifests
parsed by PyYAML's libyaml binding (``yaml.CSafeLoader``, the loader asdf itself uses
for schemas and ASDF trees when libyaml is present). Both loaders build the documents
with PyYAML's ``SafeConstructor``, so they give equal Python objects (tested on every
installed manifest, ``tests/datamodels/test_asdf_yaml.py``).

:func:`use_libyaml_for_manifests` points the ``yaml`` name of asdf's manifest module
at a view of PyYAML whose ``safe_load`` uses ``CSafeLoader``; it changes nothing when
libyaml is missing or when asdf's module no longer reads manifests that way.

References
----------
PyYAML documentation, "Installation" (the LibYAML bindings, ``CSafeLoader``); asdf
documentation, "Extensions from manifests".
"""

from __future__ import annotations

import types
from typing import Any

__all__ = ["libyaml_safe_load", "use_libyaml_for_manifests"]

_installed = False


def libyaml_safe_load(stream: Any) -> Any:
    """``yaml.safe_load`` through libyaml (``yaml.CSafeLoader``).

    Parameters
    ----------
    stream : str, bytes or file
        One YAML document.

    Returns
    -------
    object
        The document as built by PyYAML's safe constructor (dict, list, str, int, ...).

    Raises
    ------
    yaml.YAMLError
        If the document is not valid YAML.
    """
    import yaml

    return yaml.load(stream, Loader=yaml.CSafeLoader)  # a safe loader


def use_libyaml_for_manifests() -> bool:
    """Make asdf parse its extension manifests with libyaml (see module); idempotent.

    Returns
    -------
    bool
        True when asdf's manifests are (now) parsed with libyaml, False when left alone
        (asdf or PyYAML without libyaml, or an asdf whose manifest module changed).
    """
    global _installed
    if _installed:
        return True
    try:
        import yaml
        from asdf.extension import _manifest
    except ImportError:
        return False
    if not getattr(yaml, "__with_libyaml__", False) or getattr(_manifest, "yaml", None) is not yaml:
        return False
    view = types.ModuleType("yaml", "PyYAML, with safe_load through libyaml (webbcal)")
    view.__dict__.update({k: v for k, v in vars(yaml).items() if not k.startswith("__")})
    view.safe_load = libyaml_safe_load
    _manifest.yaml = view
    _installed = True
    return True
