"""Constraint trees and work lists of the association generator.

A rule is a tree of constraints on pool columns. Leaves test one item (one pool
row): :class:`Attr` tests a column against a regular expression and, once it
has matched, pins the column to the value seen so that later items must share
it; :class:`Check` tests a computed value. :class:`Group` combines children
with ``all``, ``any``, ``notany`` or ``notall``. A test may ask for items to be
looked at again (a :class:`WorkList`): with the value of a multi-valued column
split, against existing associations only, or after all science is grouped.

The semantics (pinning, evaluation order and short cuts, what is asked to be
looked at again) follow the official generator so that the same associations
come out.

References
----------
JWST pipeline documentation, "Association Generator" (design: constraints,
process lists, reprocessing) and "Association Rules".
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

__all__ = ["EMPTY", "Attr", "Check", "Group", "Work", "WorkList", "first_valid"]

#: Pool values that mean "not set".
EMPTY = frozenset(
    (
        None,
        "",
        "NULL",
        "Null",
        "null",
        "--",
        "N",
        "n",
        "F",
        "f",
        "FALSE",
        "false",
        "False",
        "N/A",
        "n/a",
    )
)


class Work(IntEnum):
    """What a work list is matched against, in the order lists are taken up."""

    RULES = 0
    BOTH = 1
    EXISTING = 2
    NONSCIENCE = 3


@dataclass
class WorkList:
    """Items to (re)examine, the rules allowed, and what to match them against."""

    items: list
    rules: list | None = None
    work_over: Work = Work.BOTH
    only_on_match: bool = False

    @property
    def key(self):
        return (tuple(self.rules), self.work_over, self.only_on_match)


def first_valid(item: dict, sources, invalid=EMPTY):
    """``(column, value)`` of the first of ``sources`` that ``item`` has set; KeyError if none."""
    for source in sources:
        value = item.get(source)
        if value is not None and value not in invalid:
            return source, value
    raise KeyError(f"item has none of {sources}")


def evaluate(value):
    """The Python literal in ``value``, or ``value`` itself."""
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return value


def _iterable(obj) -> bool:
    return not isinstance(obj, (str, tuple)) and hasattr(obj, "__iter__")


_REGEX_CACHE: dict[str, re.Pattern] = {}


def _meets(value: str, conditions) -> bool:
    if not _iterable(conditions):
        conditions = [conditions]
    for cond in conditions:
        pattern = _REGEX_CACHE.get(cond)
        if pattern is None:
            pattern = _REGEX_CACHE[cond] = re.compile("^" + cond + "$", re.IGNORECASE)
        if pattern.match(value):
            return True
    return False


def _split_values(item, source, values) -> WorkList:
    new_items = []
    for value in values:
        new_item = dict(item)
        new_item[source] = str(value)
        new_items.append(new_item)
    return WorkList(items=new_items)


class _Leaf:
    """State shared by leaves: pinned value, values found, last result."""

    __slots__ = ("name", "value", "force_unique", "matched", "found_values", "_journal")
    is_acid = False

    def __iter__(self):
        yield self

    def _state(self):
        return (self.value, self.force_unique, self.matched, set(self.found_values))

    def _set_state(self, state):
        self.value, self.force_unique, self.matched, self.found_values = state

    def find(self, name):
        raise KeyError(name)


class Attr(_Leaf):
    """A test of pool columns.

    ``sources`` are tried in order; the first set (not in ``invalid``) is used.
    With no ``value`` any value matches; otherwise the value (or any element of
    a list when ``evaluate``) must fully match the regular expression(s) in
    ``value`` (case-insensitive). With ``force_unique`` the first match pins
    ``value`` to what was seen and ``sources`` to the column it came from.
    """

    __slots__ = (
        "sources",
        "evaluate",
        "force_reprocess",
        "force_undefined",
        "invalid",
        "only_on_match",
        "onlyif",
        "required",
        "is_acid",
    )

    def __init__(
        self,
        name: str | None = None,
        sources=(),
        value: Any = None,
        *,
        force_unique: bool = True,
        required: bool = True,
        force_undefined: bool = False,
        evaluate: bool = False,
        invalid=EMPTY,
        onlyif: Callable | None = None,
        force_reprocess: Work | None = None,
        only_on_match: bool = False,
        is_acid: bool = False,
    ):
        self.name = name
        self.sources = list(sources)
        self.value = value
        self.force_unique = force_unique
        self.required = required
        self.force_undefined = force_undefined
        self.evaluate = evaluate
        self.invalid = invalid
        self.onlyif = onlyif
        self.force_reprocess = force_reprocess
        self.only_on_match = only_on_match
        self.is_acid = is_acid
        self.matched = False
        self.found_values = set()
        self._journal = None

    def _state(self):
        return (*super()._state(), self.sources)

    def _set_state(self, state):
        super()._set_state(state[:4])
        self.sources = state[4]

    def _again(self, item):
        return WorkList(
            items=[item], work_over=self.force_reprocess, only_on_match=self.only_on_match
        )

    def check(self, item):
        holder = self._journal
        if holder is not None and self not in holder[0]:
            holder[0][self] = self._state()
        again = []
        if self.onlyif is not None and not self.onlyif(item):
            if self.force_reprocess:
                again.append(self._again(item))
            self.matched = True
            return True, again
        try:
            source, value = first_valid(item, self.sources, self.invalid)
        except KeyError:
            self.matched = not (self.required and not self.force_undefined)
            return self.matched, again
        if self.force_undefined:
            self.matched = False
            return False, again
        evaled = evaluate(value) if self.evaluate else value
        if self.value is None:
            if _iterable(evaled):
                again.append(_split_values(item, source, evaled))
                self.matched = False
                return False, again
            value = str(evaled)
        else:
            wanted = self.value() if callable(self.value) else self.value
            if not _iterable(evaled):
                evaled = [evaled]
            for element in evaled:
                value = str(element)
                if _meets(value, wanted):
                    break
            else:
                self.matched = False
                return False, again
            others = [e for e in evaled if e != element]
            if others:
                again.append(_split_values(item, source, others))
        escaped = re.escape(value)
        self.found_values.add(escaped)
        if self.force_unique:
            self.value = escaped
            self.sources = [source]
            self.force_unique = False
        if self.force_reprocess:
            again.append(self._again(item))
        self.matched = True
        return True, again


class Check(_Leaf):
    """A test of a computed value: ``test(value, sources(item))``.

    Without ``value`` anything matches. With ``force_unique`` a match pins
    ``value`` to the computed value. ``reprocess_on_fail`` asks for the item to
    be looked at again (``work_over``, ``reprocess_rules``) when the test fails.
    """

    __slots__ = (
        "sources",
        "test",
        "reprocess_on_match",
        "reprocess_on_fail",
        "work_over",
        "reprocess_rules",
    )

    def __init__(
        self,
        name: str | None = None,
        value: Any = None,
        sources: Callable | None = None,
        test: Callable | None = None,
        *,
        force_unique: bool = True,
        reprocess_on_match: bool = False,
        reprocess_on_fail: bool = False,
        work_over: Work = Work.BOTH,
        reprocess_rules: list | None = None,
    ):
        self.name = name
        self.value = value
        self.sources = sources if sources is not None else (lambda item: item)
        self.test = test if test is not None else (lambda a, b: a == b)
        self.force_unique = force_unique
        self.reprocess_on_match = reprocess_on_match
        self.reprocess_on_fail = reprocess_on_fail
        self.work_over = work_over
        self.reprocess_rules = reprocess_rules
        self.matched = False
        self.found_values = set()
        self._journal = None

    def check(self, item):
        holder = self._journal
        if holder is not None and self not in holder[0]:
            holder[0][self] = self._state()
        got = self.sources(item)
        ok = True if self.value is None else bool(self.test(self.value, got))
        self.matched = ok
        if ok:
            if self.force_unique:
                self.value = got
            self.found_values.add(self.value)
        again = []
        if (ok and self.reprocess_on_match) or (not ok and self.reprocess_on_fail):
            rules = None if self.reprocess_rules is None else list(self.reprocess_rules)
            again.append(WorkList(items=[item], work_over=self.work_over, rules=rules))
        return ok, again


def _all(item, children):
    if not children:
        return False, []
    all_match = True
    negative = None
    collected = []
    for child in children:
        ok, again = child.check(item)
        if ok:
            if all_match:
                collected.extend(again)
        else:
            all_match = False
            if not again:
                negative = None
                break
            if negative is None:
                negative = list(again)
    if not all_match:
        return False, negative if negative is not None else []
    return True, collected


def _any(item, children):
    if not children:
        return False, []
    collected = []
    ok = False
    for child in children:
        ok, again = child.check(item)
        if ok:
            return True, list(again)
        collected.extend(again)
    return ok, collected


def _notany(item, children):
    ok, again = _any(item, children)
    return not ok, again


def _notall(item, children):
    ok, again = _all(item, children)
    return not ok, again


def _collect_leaves(group, out):
    for child in group.children:
        if isinstance(child, Group):
            _collect_leaves(child, out)
        else:
            out.append(child)


_REDUCE = {"all": _all, "any": _any, "notany": _notany, "notall": _notall}


@dataclass(eq=False)
class Group:
    """Children combined by ``reduce`` (``all``, ``any``, ``notany``, ``notall``)."""

    children: list = field(default_factory=list)
    reduce: str = "all"
    name: str | None = None
    reprocess_on_match: bool = False
    work_over: Work = Work.BOTH
    matched: bool = False
    _leaves: list | None = field(default=None, repr=False)
    _found: dict = field(default_factory=dict, repr=False)
    _journal: list | None = field(default=None, repr=False)

    def append(self, child):
        self.children.append(child)
        self._leaves = None
        self._found = {}
        self._journal = None

    def leaves(self) -> list:
        """All leaves, depth first (cached)."""
        if self._leaves is None:
            leaves = []
            _collect_leaves(self, leaves)
            self._leaves = leaves
        return self._leaves

    def check(self, item):
        ok, again = _REDUCE[self.reduce](item, self.children)
        self.matched = ok
        if ok and self.reprocess_on_match:
            again = [*again, WorkList(items=[item], work_over=self.work_over)]
        return ok, again

    def __iter__(self):
        for child in self.children:
            yield from child

    def save(self):
        """Remember the state of every leaf (changes are journaled from now on)."""
        if self._journal is None:
            self._journal = [{}]
            for leaf in self.leaves():
                leaf._journal = self._journal
        else:
            self._journal[0] = {}

    def restore(self):
        """Put every leaf back in its state at the last ``save``."""
        if self._journal is not None:
            for leaf, state in self._journal[0].items():
                leaf._set_state(state)
            self._journal[0] = {}

    def find(self, name):
        """First node named ``name``, depth first (a group before its children)."""
        try:
            found = self._found[name]
        except KeyError:
            try:
                found = self._find(name)
            except KeyError:
                found = None
            self._found[name] = found
        if found is None:
            raise KeyError(name)
        return found

    def _find(self, name):
        for child in self.children:
            if child.name is not None and child.name == name:
                return child
            if isinstance(child, Group):
                try:
                    return child._find(name)
                except KeyError:
                    pass
        raise KeyError(name)

    def __getitem__(self, name):
        return self.find(name)

    def found(self, name):
        """``found_values`` of the first leaf named ``name`` that found any (else empty)."""
        for leaf in self.leaves():
            if leaf.name == name and leaf.found_values:
                return leaf.found_values
        return set()

    def describe(self) -> str:
        """One line per named leaf: its name, columns and pinned value."""
        lines = []
        for leaf in self.leaves():
            if leaf.name is None:
                continue
            sources = getattr(leaf, "sources", None)
            sources = sources if isinstance(sources, list) else None
            lines.append(
                f"{type(leaf).__name__}({{'name': {leaf.name!r}, 'sources': {sources!r}, "
                f"'value': {leaf.value if not callable(leaf.value) else None!r}}})"
            )
        return "\n".join(lines)
