"""Rule tables about JWST products, kept as data files and evaluated on product headers.

The tables live in ``webbcal/data`` as JSON so they can be updated without
code changes; each names the JDox article (and table or issue) it transcribes:

* ``min_context.json``: JDox "JWST Calibration Pipeline Caveats", Table 1, the
  minimum CRDS context that uses in-flight reference files, per observing mode;
* ``known_issues.json``: known issues GI01-GI06 and GI-TS01 of "JWST General
  Calibration Pipeline Caveats" and the build 9.2 notes of "JWST Operational
  Pipeline Build Information" that can be decided from a header.

Each entry has a ``when`` condition written in a small language evaluated on
:meth:`webbcal.tools.product.Product.facts`:

``{"key": K, <op>: V}`` with ``<op>`` one of ``present`` (bool), ``equals``,
``in`` (list), ``glob`` (pattern or list, case-insensitive), ``version_lt``,
``version_ge`` (dotted versions such as CAL_VER ``"1.10.2"``), ``date_lt``,
``date_ge`` (ISO dates), ``context_lt``, ``context_ge`` (``jwst_NNNN.pmap``),
``number_lt``, ``number_ge``, ``abs_gt``; and ``{"all": [...]}``,
``{"any": [...]}``, ``{"not": {...}}``. A condition on a missing keyword is
false (``present: false`` is the way to ask for absence). Every entry carries
``examples`` (facts for which it must and must not apply), which the tests run.
"""

from __future__ import annotations

import fnmatch
import functools
import importlib.resources
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from webbcal.tools.product import context_number

__all__ = [
    "ContextCheck",
    "KnownIssue",
    "ModeEntry",
    "RuleError",
    "check_context",
    "evaluate",
    "known_issues",
    "load_table",
    "matching_issues",
    "observing_mode",
    "observing_modes",
]

_KEY_OPS = {
    "present", "equals", "in", "glob", "version_lt", "version_ge", "date_lt", "date_ge",
    "context_lt", "context_ge", "number_lt", "number_ge", "abs_gt",
}  # fmt: skip
_VERSION_RE = re.compile(r"^\s*v?(\d+(?:\.\d+)*)")


class RuleError(ValueError):
    """A rule table entry that cannot be evaluated (unknown operator, bad value)."""


@dataclass(frozen=True)
class ModeEntry:
    """One row of the minimum-context table."""

    instrument: str
    mode: str
    min_context: str | None
    status: str
    note: str
    when: Mapping[str, Any]


@dataclass(frozen=True)
class ContextCheck:
    """Verdict on a product's CRDS context against the minimum for its mode.

    ``status`` is ``"older"`` (reprocessing advised), ``"ok"``, ``"in_progress"``
    (the table says reference updates are still in progress for the mode),
    ``"not_listed"`` (mode not in the table) or ``"unknown"`` (no CRDS_CTX).
    """

    status: str
    mode: str | None
    minimum: str | None
    context: str | None
    message: str
    source: str


@dataclass(frozen=True)
class KnownIssue:
    """A known issue that can be decided from a header."""

    id: str
    title: str
    source: str
    cause: str
    workaround: str
    status: str
    reprocess: bool
    command: str | None
    when: Mapping[str, Any]


@functools.cache
def load_table(name: str) -> dict[str, Any]:
    """Load a rule table from ``webbcal/data`` (``"min_context"``, ``"known_issues"``).

    Every condition in the table is checked for known operators.

    Raises
    ------
    RuleError
        For an unknown table or a malformed condition.
    """
    resource = importlib.resources.files("webbcal") / "data" / f"{name}.json"
    if not resource.is_file():
        raise RuleError(f"rule table {name!r} not found in webbcal/data")
    table = json.loads(resource.read_text(encoding="utf-8"))
    for entry in table.get("entries", []):
        _validate(entry.get("when"), entry.get("id") or entry.get("mode"))
    return table


def _validate(cond: Any, where: str) -> None:
    if not isinstance(cond, Mapping):
        raise RuleError(f"{where}: condition {cond!r} is not an object")
    if "all" in cond or "any" in cond:
        for sub in cond.get("all", cond.get("any")):
            _validate(sub, where)
        return
    if "not" in cond:
        _validate(cond["not"], where)
        return
    ops = set(cond) - {"key"}
    if "key" not in cond or len(ops) != 1 or not ops <= _KEY_OPS:
        raise RuleError(
            f"{where}: condition {dict(cond)!r} needs 'key' and one operator of "
            f"{', '.join(sorted(_KEY_OPS))}"
        )


def evaluate(cond: Mapping[str, Any], facts: Mapping[str, Any]) -> bool:
    """Evaluate a condition (see the module docstring) on a table of facts."""
    if "all" in cond:
        return all(evaluate(c, facts) for c in cond["all"])
    if "any" in cond:
        return any(evaluate(c, facts) for c in cond["any"])
    if "not" in cond:
        return not evaluate(cond["not"], facts)
    key = cond["key"]
    op, expected = next((k, v) for k, v in cond.items() if k != "key")
    present = key in facts and facts[key] is not None and facts[key] != ""
    if op == "present":
        return present is bool(expected)
    if not present:
        return False
    return _compare(op, facts[key], expected)


def _compare(op: str, value: Any, expected: Any) -> bool:
    if op == "equals":
        return _norm(value) == _norm(expected)
    if op == "in":
        return _norm(value) in {_norm(v) for v in expected}
    if op == "glob":
        patterns = [expected] if isinstance(expected, str) else expected
        return any(fnmatch.fnmatchcase(str(value).upper(), p.upper()) for p in patterns)
    if op in ("version_lt", "version_ge"):
        a, b = _version(value), _version(expected)
        if a is None:
            return False
        return a < b if op == "version_lt" else a >= b
    if op in ("date_lt", "date_ge"):
        a, b = str(value)[:10], str(expected)[:10]
        return a < b if op == "date_lt" else a >= b
    if op in ("context_lt", "context_ge"):
        a, b = context_number(str(value)), context_number(str(expected))
        if a is None or b is None:
            return False
        return a < b if op == "context_lt" else a >= b
    try:
        number = float(value)
    except (TypeError, ValueError):
        return False
    if op == "number_lt":
        return number < float(expected)
    if op == "number_ge":
        return number >= float(expected)
    return abs(number) > float(expected)  # abs_gt


def _norm(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip().upper()
        return {"T": True, "TRUE": True, "F": False, "FALSE": False}.get(text, text)
    return value


def _version(text: Any) -> tuple[int, ...] | None:
    found = _VERSION_RE.match(str(text))
    if not found:
        return None
    parts = tuple(int(p) for p in found.group(1).split("."))
    return parts + (0,) * (3 - len(parts)) if len(parts) < 3 else parts


# --------------------------------------------------------------------- minimum context


def observing_modes() -> list[ModeEntry]:
    """Rows of the minimum-context table, in order of precedence."""
    table = load_table("min_context")
    return [
        ModeEntry(
            e["instrument"],
            e["mode"],
            e.get("min_context"),
            e["status"],
            e.get("note", ""),
            e["when"],
        )  # fmt: skip
        for e in table["entries"]
    ]


def observing_mode(facts: Mapping[str, Any]) -> ModeEntry | None:
    """First minimum-context row whose condition matches ``facts``, else ``None``."""
    return next((m for m in observing_modes() if evaluate(m.when, facts)), None)


def check_context(facts: Mapping[str, Any]) -> ContextCheck:
    """Compare the product's ``CRDS_CTX`` with the minimum in-flight context of its mode."""
    source = load_table("min_context")["source"]
    context = facts.get("CRDS_CTX") or None
    mode = observing_mode(facts)
    label = f"{mode.instrument} {mode.mode}" if mode else None
    if mode is None:
        return ContextCheck(
            "not_listed", None, None, context,
            f"observing mode {facts.get('INSTRUME')} {facts.get('EXP_TYPE')} is not in the "
            "minimum-context table", source,
        )  # fmt: skip
    if mode.min_context is None:
        return ContextCheck(
            "in_progress", label, None, context,
            f"{label}: {mode.status}; no context yet uses in-flight reference files for all "
            "steps of this mode, check for newer contexts", source,
        )  # fmt: skip
    number = context_number(context)
    if number is None:
        return ContextCheck(
            "unknown", label, mode.min_context, context,
            f"{label}: no CRDS_CTX in the header (not yet calibrated); calibrate with "
            f"{mode.min_context} or later", source,
        )  # fmt: skip
    if number < context_number(mode.min_context):
        return ContextCheck(
            "older", label, mode.min_context, context,
            f"{label}: CRDS_CTX {context} is older than {mode.min_context}, the first context "
            "with reference files informed by in-flight data; reprocessing is advised", source,
        )  # fmt: skip
    return ContextCheck(
        "ok", label, mode.min_context, context,
        f"{label}: CRDS_CTX {context} is at or after {mode.min_context} (in-flight references)"
        + (f". Note: {mode.note}" if mode.note else ""),
        source,
    )  # fmt: skip


# ------------------------------------------------------------------------ known issues


def known_issues() -> list[KnownIssue]:
    """All entries of the known-issue table."""
    out = []
    for e in load_table("known_issues")["entries"]:
        out.append(
            KnownIssue(
                e["id"],
                e["title"],
                e["source"],
                e.get("cause", ""),
                e["workaround"],
                e.get("status", "open"),
                bool(e.get("reprocess", False)),
                e.get("command"),
                e["when"],
            )  # fmt: skip
        )
    return out


def matching_issues(facts: Mapping[str, Any]) -> list[KnownIssue]:
    """Known issues whose condition holds for ``facts``, in table order."""
    return [issue for issue in known_issues() if evaluate(issue.when, facts)]
