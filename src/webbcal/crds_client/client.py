"""Reference-file selection through the real ``crds`` client library.

webbcal never re-implements CRDS rule evaluation: best references are computed
by ``crds`` itself (local rule evaluation against a cached context, downloads
from the CRDS server when online). This module adds what the official
pipeline lacks around it:

* one place that decides online vs. offline operation and the defaults;
* typed errors (:class:`ReferenceLookupError`, :class:`CrdsUnavailableError`)
  with messages naming the reference type, parameter, value, context and
  input file, instead of ``sys.exit`` from inside crds;
* ``None`` instead of the string ``"N/A"`` for not-applicable references;
* correct behaviour when the CRDS environment changes inside one process:
  ``crds`` memoises its configuration, processing mode, server proxy and
  loaded mappings at module level, so the state is reset whenever the
  effective ``CRDS_*`` environment differs from the previous call.

Online / offline
----------------
The effective environment is the user's ``CRDS_*`` variables plus defaults:
``CRDS_PATH=~/crds_cache`` and ``CRDS_SERVER_URL=https://jwst-crds.stsci.edu``
(the set-up the JWST pipeline documentation asks users for; the bare crds
library would default to ``/grp/crds/cache`` and a serverless URL). Operation is *online*
when ``CRDS_SERVER_URL`` names a server, *offline* when it is empty, ``none``
or a "serverless" URL. Offline, nothing touches the network: the server
configuration is read from ``$CRDS_PATH/config/jwst/server_config`` and the
context defaults to its ``operational_context`` (``CRDS_CONTEXT`` still wins).
Online, a single try per request (``CRDS_CLIENT_RETRY_COUNT=1``) with a
20 s socket timeout (``CRDS_CLIENT_TIMEOUT_SECONDS``) is used unless the user
set those variables (a value equal to crds' own default counts as unset, since
crds exports its defaults into ``os.environ`` on import), so an unreachable
server fails fast; crds then falls back to the cached configuration when there
is one.

References
----------
CRDS user guide, "Configuring CRDS" and "Best references",
https://jwst-crds.stsci.edu/static/users_guide/index.html
"""

from __future__ import annotations

import ast
import contextlib
import logging
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DEFAULT_CRDS_PATH",
    "DEFAULT_SERVER_URL",
    "OFFLINE_SERVER_URL",
    "CrdsUnavailableError",
    "ReferenceLookupError",
    "best_references",
    "crds_environment",
    "crds_version",
    "get_context_name",
    "pars_reference",
    "reset_crds_state",
]

log = logging.getLogger(__name__)

#: Cache root used when ``CRDS_PATH`` is not set.
DEFAULT_CRDS_PATH = "~/crds_cache"
#: Server used when ``CRDS_SERVER_URL`` is not set.
DEFAULT_SERVER_URL = "https://jwst-crds.stsci.edu"
#: URL handed to crds offline; "serverless" silences crds' connection warnings.
OFFLINE_SERVER_URL = "https://jwst-serverless-mode.stsci.edu"

_OBSERVATORY = "jwst"
_ONLINE_DEFAULTS = {"CRDS_CLIENT_RETRY_COUNT": "1", "CRDS_CLIENT_TIMEOUT_SECONDS": "20"}
_NOT_FOUND_RE = re.compile(r"parameter='(?P<parameter>[^']*)'\s+value='(?P<value>[^']*)'")
_NOT_APPLICABLE_RE = re.compile(r"NOT FOUND\s+N/A\.?", re.IGNORECASE)
_DATE_KEYS = ("META.OBSERVATION.DATE", "META.OBSERVATION.TIME")


class ReferenceLookupError(RuntimeError):
    """CRDS rules have no reference of a type for the given parameters.

    Attributes
    ----------
    reftype : str
        Reference type that failed, e.g. ``"gain"``.
    parameter, value : str or None
        The matching parameter and its value that were not matched, when CRDS
        names them.
    context : str
        The CRDS context used.
    filename : str or None
        The input file the parameters came from, if given.
    crds_message : str
        The raw CRDS ``NOT FOUND ...`` text.
    """

    def __init__(
        self,
        reftype: str,
        crds_message: str,
        *,
        context: str,
        filename: str | None = None,
        parameters: Mapping[str, object] | None = None,
    ):
        self.reftype = reftype
        self.context = context
        self.filename = filename
        self.crds_message = crds_message
        self._parameters = dict(parameters or {})
        detail = crds_message.strip()
        if detail.upper().startswith("NOT FOUND"):
            detail = detail[len("NOT FOUND") :].strip()
        found = _NOT_FOUND_RE.search(detail)
        self.parameter = found["parameter"] if found else None
        self.value = found["value"] if found else None
        source = f" for input {filename!r}" if filename else ""
        head = f"No CRDS {reftype.upper()} reference{source} under context {context}: "
        if found:
            body = f"parameter {self.parameter}={self.value!r} does not match the rules ({detail})"
        elif "unknown reference type" in detail.lower():
            body = f"reference type {reftype!r} is not defined for this instrument ({detail})"
        else:
            date = _date_text(parameters or {})
            body = f"no rule matches ({detail}){date}"
        super().__init__(head + body)

    def __reduce__(self):
        # Keyword-only arguments: rebuild explicitly so the error survives pickling.
        return (
            _rebuild_lookup_error,
            (self.reftype, self.crds_message, self.context, self.filename, self._parameters),
        )


def _rebuild_lookup_error(reftype, crds_message, context, filename, parameters):
    return ReferenceLookupError(
        reftype, crds_message, context=context, filename=filename, parameters=parameters
    )


class CrdsUnavailableError(RuntimeError):
    """CRDS cannot be used: no reachable server and no usable local cache."""


# --------------------------------------------------------------------------- public API


def best_references(
    parameters: Mapping[str, object],
    reftypes: Sequence[str],
    *,
    context: str | None = None,
    filename: str | None = None,
) -> dict[str, str | None]:
    """Return the local paths of the best reference files.

    Parameters
    ----------
    parameters : mapping
        Matching parameters, as given by ``model.get_crds_parameters()``
        (flattened ``meta.*`` keywords to scalars).
    reftypes : sequence of str
        CRDS reference types, e.g. ``["gain", "readnoise"]``. Empty gives ``{}``.
    context : str, optional
        Context to use (``"jwst_1234.pmap"``, ``"jwst-latest"``, ...); default:
        ``CRDS_CONTEXT``, else the server's choice, else the cached
        ``operational_context``.
    filename : str, optional
        Name of the input the parameters came from, used in error messages.

    Returns
    -------
    dict of str to (str or None)
        For each requested reftype (as given): the path of the reference file
        in the local CRDS cache (downloaded when online), or ``None`` when the
        rules say the reftype does not apply (``N/A``).

    Raises
    ------
    ReferenceLookupError
        When the rules have no match for a reftype.
    CrdsUnavailableError
        When neither a server nor a usable cache is available, or a needed
        file is missing from the cache while offline.
    ValueError
        For malformed ``reftypes`` or ``parameters``.
    """
    reftypes = _check_reftypes(reftypes)
    if not reftypes:
        return {}
    params = _check_parameters(parameters)
    from crds.client import api

    with _crds_session() as session:
        final = _final_context(context, session)
        wanted = [r.lower() for r in reftypes]
        recs = _recommendations(session, params, wanted, final, filename)
        result: dict[str, str | None] = {}
        found: dict[str, str] = {}
        for reftype, key in zip(reftypes, wanted):
            name = str(recs.get(key, f"NOT FOUND Unknown reference type '{key}'"))
            if name.upper().startswith("NOT FOUND"):
                if _NOT_APPLICABLE_RE.fullmatch(name.strip()):
                    result[reftype] = None
                    continue
                raise ReferenceLookupError(
                    key, name, context=final, filename=filename, parameters=params
                )
            found[key] = name
        if not session.online:
            _check_offline_files(found, final, session)
        paths = _call_crds(session, api.cache_references, final, found, parameters=params)
    for reftype, key in zip(reftypes, wanted):
        if key in found:
            result[reftype] = _check_cached(str(paths[key]), session)
            log.debug("CRDS %s -> %s", key, result[reftype])
    return {reftype: result[reftype] for reftype in reftypes}


@dataclass(frozen=True)
class Recommendations:
    """What CRDS recommends, without fetching anything.

    Attributes
    ----------
    context : str
        The context that answered, e.g. ``"jwst_0567.pmap"``.
    names : dict of str to str
        Lower-case reftype -> file name, or CRDS's ``"NOT FOUND ..."`` text
        (``"NOT FOUND n/a"`` when the reftype does not apply).
    crds_path : str
        The cache root in use.
    """

    context: str
    names: dict
    crds_path: str


def recommend_references(
    parameters: Mapping[str, object],
    reftypes: Sequence[str],
    *,
    context: str | None = None,
    filename: str | None = None,
) -> Recommendations:
    """Best reference file names for ``reftypes``, cached or not (nothing is downloaded).

    Raises
    ------
    ReferenceLookupError
        When the instrument is missing or unknown to the context.
    CrdsUnavailableError
        When neither a server nor a usable cache is available.
    """
    reftypes = _check_reftypes(reftypes)
    params = _check_parameters(parameters)
    with _crds_session() as session:
        final = _final_context(context, session)
        recs = _recommendations(session, params, [r.lower() for r in reftypes], final, filename)
        return Recommendations(
            final, {k.lower(): str(v) for k, v in recs.items()}, str(session.crds_path)
        )


def pars_reference(parameters: Mapping[str, object], step_class_name: str) -> str | None:
    """Return the CRDS parameter reference (``pars-<class name lower>``) for a step.

    Parameters
    ----------
    parameters : mapping
        Matching parameters (``model.get_crds_parameters()``).
    step_class_name : str
        Step or pipeline class name, e.g. ``"JumpStep"``.

    Returns
    -------
    str or None
        Local path of the ASDF parameter file, or ``None`` when the context has
        no such reftype, says ``N/A``, or has no rule matching ``parameters``.

    Raises
    ------
    CrdsUnavailableError
        When CRDS itself cannot be used (missing parameters are never an error).
    """
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(step_class_name)):
        raise ValueError(
            f"step_class_name={step_class_name!r} is not a Python class name like 'JumpStep'"
        )
    reftype = f"pars-{step_class_name.lower()}"
    try:
        return best_references(parameters, [reftype])[reftype]
    except ReferenceLookupError as exc:
        log.debug("No %s parameter reference: %s", reftype.upper(), exc)
        return None


def get_context_name(
    parameters: Mapping[str, object] | None = None, *, context: str | None = None
) -> str:
    """Return the CRDS context (``.pmap``) that :func:`best_references` would use.

    Parameters
    ----------
    parameters : mapping, optional
        Accepted for symmetry with :func:`best_references`; the context does not
        depend on them.
    context : str, optional
        Explicit or symbolic context to resolve.

    Returns
    -------
    str
        E.g. ``"jwst_1234.pmap"``.

    Raises
    ------
    CrdsUnavailableError
        When neither a server nor a usable cache is available.
    """
    if parameters is not None:
        _check_parameters(parameters)
    with _crds_session() as session:
        return _final_context(context, session)


def crds_version() -> str:
    """Return the version of the installed ``crds`` client library."""
    import crds

    return str(crds.__version__)


@contextlib.contextmanager
def crds_environment(
    crds_path: str | os.PathLike[str],
    server_url: str | None = None,
    context: str | None = None,
) -> Iterator[None]:
    """Temporarily point CRDS at a cache (and optionally a server and context).

    Sets ``CRDS_PATH``, ``CRDS_SERVER_URL`` (empty = offline when
    ``server_url`` is None) and ``CRDS_CONTEXT`` (removed when ``context`` is
    None), resets crds' in-process state, and restores the previous variables
    and resets again on exit. Code run inside the block, including the official
    pipeline used as a test oracle, sees the same configuration.

    Parameters
    ----------
    crds_path : path-like
        Cache root.
    server_url : str, optional
        CRDS server URL; None for offline operation from the cache.
    context : str, optional
        Context to force (``CRDS_CONTEXT``).
    """
    saved = _crds_env()
    os.environ["CRDS_PATH"] = os.fspath(crds_path)
    os.environ["CRDS_SERVER_URL"] = server_url or ""
    for key in ("CRDS_CONTEXT", "CRDS_MODE", "CRDS_CONFIG_URI"):
        os.environ.pop(key, None)
    if context is not None:
        os.environ["CRDS_CONTEXT"] = context
    try:
        # Export the full effective environment (offline: config URI and pinned
        # context) so code calling crds directly inside the block sees it too.
        os.environ.update(_effective_environment().env)
    except CrdsUnavailableError:
        pass  # no usable cache yet; best_references will say so
    reset_crds_state()
    try:
        yield
    finally:
        _replace_crds_env(saved)
        reset_crds_state()


def reset_crds_state() -> None:
    """Forget everything crds memoised in this process.

    Clears every ``@utils.cached`` function cache in crds (server info,
    processing mode, context name, loaded mappings, file headers), the cached
    reference sub-directory mode, and points the crds server proxy at the
    current ``CRDS_SERVER_URL`` (or the offline placeholder).
    """
    from crds.client import api
    from crds.core import config, utils

    utils.clear_function_caches()
    config.CRDS_REF_SUBDIR_MODE = "None"
    url = os.environ.get("CRDS_SERVER_URL", DEFAULT_SERVER_URL)
    api.set_crds_server(url if _is_online(url) else OFFLINE_SERVER_URL)
    _STATE.fingerprint = None


# --------------------------------------------------------------------------- internals


@dataclass
class _State:
    fingerprint: tuple[tuple[str, str], ...] | None = None


_STATE = _State()


@dataclass(frozen=True)
class _Session:
    online: bool
    crds_path: str
    server_url: str
    env: Mapping[str, str]


def _is_online(url: str | None) -> bool:
    text = (url or "").strip().lower()
    return bool(text) and text != "none" and "serverless" not in text


def _effective_environment() -> _Session:
    """Compute the CRDS_* variables crds should see for the next call."""
    env = {k: v for k, v in os.environ.items() if k.startswith("CRDS_")}
    if not any(k in env for k in ("CRDS_PATH", "CRDS_PATH_SINGLE")):
        env["CRDS_PATH"] = os.path.expanduser(DEFAULT_CRDS_PATH)
    url = env.get("CRDS_SERVER_URL", DEFAULT_SERVER_URL)
    crds_path = env.get("CRDS_PATH", env.get("CRDS_PATH_SINGLE", ""))
    if _is_online(url):
        env["CRDS_SERVER_URL"] = url
        for key, value in _ONLINE_DEFAULTS.items():
            # crds exports its own default on import; that counts as "not set".
            if env.get(key) in (None, _crds_default(key)):
                env[key] = value
        return _Session(True, crds_path, url, env)
    env["CRDS_SERVER_URL"] = OFFLINE_SERVER_URL
    env["CRDS_MODE"] = "local"
    cfgdir = _config_dir(env)
    server_config = cfgdir / "server_config"
    info = _read_server_config(server_config, crds_path)
    # crds lower-cases CRDS_CONFIG_URI, so it must never carry the cache path: "none"
    # makes crds read server_config from the cache (CRDS_PATH) itself.
    env["CRDS_CONFIG_URI"] = "none"
    if not env.get("CRDS_CONTEXT"):
        env["CRDS_CONTEXT"] = str(info.get("operational_context", ""))
        if not env["CRDS_CONTEXT"]:
            raise CrdsUnavailableError(
                f"CRDS cache configuration {server_config} names no 'operational_context'; "
                "set CRDS_CONTEXT to a .pmap present in the cache."
            )
    return _Session(False, crds_path, "", env)


def _config_dir(env: Mapping[str, str]) -> Path:
    """Where crds keeps server_config for ``env`` (mirrors crds' path rules)."""
    if "CRDS_CFGPATH_SINGLE" in env:
        return Path(env["CRDS_CFGPATH_SINGLE"])
    if "CRDS_CFGPATH" in env:
        return Path(env["CRDS_CFGPATH"]) / _OBSERVATORY
    if "CRDS_PATH_SINGLE" in env:
        return Path(env["CRDS_PATH_SINGLE"]) / "config"
    return Path(env["CRDS_PATH"]) / "config" / _OBSERVATORY


def _read_server_config(path: Path, crds_path: str) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CrdsUnavailableError(_unavailable_text(crds_path, "", f"{exc}")) from exc
    try:
        info = ast.literal_eval(text)
    except (ValueError, SyntaxError) as exc:
        raise CrdsUnavailableError(
            f"CRDS cache configuration {path} is not a Python dict literal ({exc}); "
            "re-create it with 'crds sync' or webbcal.crds_client.write_local_context."
        ) from exc
    if not isinstance(info, dict):
        raise CrdsUnavailableError(f"CRDS cache configuration {path} is not a dict")
    return info


#: What to do when CRDS cannot be used: the three working set-ups (README, "CRDS").
CRDS_SETUP_HELP = (
    "Either (1) with network access, let the CRDS server fill a cache: "
    f"CRDS_SERVER_URL={DEFAULT_SERVER_URL} CRDS_PATH=<a writable folder, e.g. ~/crds_cache>; "
    "or (2) offline, use a cache filled earlier (by 'crds sync' or by runs with the server): "
    f"CRDS_SERVER_URL={OFFLINE_SERVER_URL} CRDS_PATH=<that cache>; "
    "or (3) for the simulated exposures of 'webbcal demo' only: "
    f"CRDS_SERVER_URL={OFFLINE_SERVER_URL} CRDS_PATH=<demo folder>/crds_cache "
    "(its context jwst_9001.pmap selects simulated references only)."
)


def _unavailable_text(crds_path: str, server_url: str, detail: str) -> str:
    cfg = Path(crds_path or ".") / "config" / _OBSERVATORY / "server_config"
    if server_url:
        problem = f"the CRDS server {server_url!r} could not be reached"
    else:
        problem = "CRDS is set to work offline (CRDS_SERVER_URL empty or serverless)"
    where = "present but unusable" if cfg.is_file() else "missing"
    return (
        f"CRDS is unavailable: {problem} and the cache at CRDS_PATH={crds_path!r} cannot be "
        f"used (server_config {where}: {cfg}). {CRDS_SETUP_HELP} Detail: {detail}"
    )


@contextlib.contextmanager
def _crds_session() -> Iterator[_Session]:
    """Apply the effective CRDS environment for one crds call, resetting crds when it changed."""
    session = _effective_environment()
    saved = _crds_env()
    _replace_crds_env(session.env)
    try:
        _populate_crds_defaults()
        fingerprint = tuple(sorted(_crds_env().items()))
        if fingerprint != _STATE.fingerprint:
            reset_crds_state()
            _STATE.fingerprint = fingerprint
            log.debug("CRDS environment changed: %s", session.env)
        yield session
    finally:
        _replace_crds_env(saved)


def _crds_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.startswith("CRDS_")}


def _replace_crds_env(env: Mapping[str, str]) -> None:
    for key in [k for k in os.environ if k.startswith("CRDS_") and k not in env]:
        del os.environ[key]
    os.environ.update(env)


def _populate_crds_defaults() -> None:
    """Re-read every crds config item, as crds does at import.

    crds writes each item's value (``"None"`` for unset URIs) into ``os.environ``
    when it is imported and later relies on finding it there.
    """
    from crds.core import config

    for item in vars(config).values():
        if isinstance(item, config.ConfigItem):
            item.get()


def _crds_default(name: str) -> str | None:
    """The string crds writes into ``os.environ`` for config item ``name`` by default."""
    from crds.core import config

    for item in vars(config).values():
        if isinstance(item, config.ConfigItem) and item.env_var == name:
            return str(item.default)
    return None


def _call_crds(session: _Session, func, *args, **kwargs):
    """Call a crds function, turning its connection/cache failures into CrdsUnavailableError."""
    from crds.core.exceptions import (
        CrdsDownloadError,
        CrdsError,
        CrdsLookupError,
        CrdsNetworkError,
        ServiceError,
    )

    try:
        return func(*args, **kwargs)
    except SystemExit as exc:
        # crds calls sys.exit() when neither server nor cached server_config works.
        _STATE.fingerprint = None
        raise CrdsUnavailableError(
            _unavailable_text(session.crds_path, session.server_url, "crds cache load failed")
        ) from exc
    except (CrdsNetworkError, CrdsDownloadError, ServiceError) as exc:
        _STATE.fingerprint = None
        raise CrdsUnavailableError(
            _unavailable_text(session.crds_path, session.server_url, str(exc))
        ) from exc
    except CrdsLookupError:
        raise
    except CrdsError as exc:
        text = str(exc)
        if "not reachable" in text or "off-line" in text or "serverless" in text:
            raise CrdsUnavailableError(
                _unavailable_text(session.crds_path, session.server_url, text)
            ) from exc
        raise


def _final_context(context: str | None, session: _Session) -> str:
    from crds.core import config, heavy_client

    if context is not None and not config.is_mapping_spec(context):
        raise ValueError(
            f"context={context!r} is not a CRDS context; expected e.g. 'jwst_1234.pmap', "
            "'jwst-latest' or 'jwst-2024-01-01T00:00:00'"
        )
    mode, final = _call_crds(session, heavy_client.get_processing_mode, _OBSERVATORY, context)
    log.debug("CRDS processing mode %s, context %s", mode, final)
    if not session.online:
        _check_context_cached(final, session)
    return str(final)


def _check_context_cached(context: str, session: _Session) -> None:
    from crds.core import config

    path = Path(config.locate_mapping(context, _OBSERVATORY))
    if not path.is_file():
        raise CrdsUnavailableError(
            f"CRDS context {context!r} is not in the cache ({path} missing) and CRDS is offline "
            f"(CRDS_SERVER_URL empty/serverless, CRDS_PATH={session.crds_path!r}). "
            f"Fetch it by running once with CRDS_SERVER_URL={DEFAULT_SERVER_URL} (or "
            f"'crds sync --contexts {context}' while online), or pick a cached context."
        )


def _recommendations(
    session: _Session,
    params: Mapping[str, object],
    reftypes: list[str],
    context: str,
    filename: str | None,
) -> dict:
    """crds.getrecommendations, with instrument-level failures as ReferenceLookupError."""
    from crds.core import heavy_client
    from crds.core.exceptions import CrdsError, CrdsUnknownInstrumentError

    try:
        return _call_crds(
            session,
            heavy_client.getrecommendations,
            params,
            reftypes=reftypes,
            context=context,
            observatory=_OBSERVATORY,
        )
    except CrdsError as exc:
        # Raised before any per-reftype selection: the instrument is missing or unknown.
        if not isinstance(exc, CrdsUnknownInstrumentError) and "INSTRUMENT.NAME" not in str(exc):
            raise
        key = next((k for k in params if k.upper() == "META.INSTRUMENT.NAME"), None)
        value = "UNDEFINED" if key is None else params[key]
        raise ReferenceLookupError(
            ",".join(reftypes),
            f"NOT FOUND parameter='META.INSTRUMENT.NAME' value='{value}' ({exc})",
            context=context,
            filename=filename,
        ) from exc


def _check_offline_files(found: Mapping[str, str], context: str, session: _Session) -> None:
    """Offline, every selected file must already be in the cache: say which is missing."""
    from crds.core import config

    for reftype, name in found.items():
        path = config.locate_file(name, _OBSERVATORY)
        if not os.path.isfile(path):
            raise CrdsUnavailableError(
                f"CRDS context {context} selects {name} for {reftype.upper()}, but it is not in "
                f"the cache (expected at {path}) and CRDS is offline (CRDS_SERVER_URL empty or "
                f"serverless, CRDS_PATH={session.crds_path!r}). Fetch it by running once with "
                f"CRDS_SERVER_URL={DEFAULT_SERVER_URL} (or 'crds sync --files {name}' while "
                "online)."
            )


def _check_cached(path: str, session: _Session) -> str:
    if not os.path.isfile(path):
        raise CrdsUnavailableError(
            f"CRDS selected {path!r} but it is not in the cache and could not be fetched "
            f"(CRDS_PATH={session.crds_path!r}, server "
            f"{session.server_url or 'none (offline)'})."
        )
    return path


def _check_reftypes(reftypes: Sequence[str]) -> list[str]:
    if isinstance(reftypes, str) or not isinstance(reftypes, Sequence):
        raise ValueError(f"reftypes={reftypes!r} must be a list of reference type names")
    out = []
    for reftype in reftypes:
        if not isinstance(reftype, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_\-]*", reftype):
            raise ValueError(
                f"reftypes contains {reftype!r}; expected names like 'gain' or 'pars-jumpstep'"
            )
        out.append(reftype)
    return out


def _check_parameters(parameters: Mapping[str, object]) -> dict[str, object]:
    if not isinstance(parameters, Mapping):
        raise ValueError(
            f"parameters must be a dict such as model.get_crds_parameters(), "
            f"got {type(parameters).__name__}"
        )
    simple = (str, int, float, bool)
    out = {}
    for key, value in parameters.items():
        if not isinstance(key, str):
            raise ValueError(f"parameters has a non-string key {key!r}")
        if isinstance(value, simple):
            out[key] = value
    return out


def _date_text(parameters: Mapping[str, object]) -> str:
    upper = {str(k).upper(): v for k, v in parameters.items()}
    values = [f"{k}={upper[k]!r}" for k in _DATE_KEYS if k in upper]
    return f"; observation {', '.join(values)}" if values else ""
