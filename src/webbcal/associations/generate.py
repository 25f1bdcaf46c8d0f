"""The association generator (``webbcal asn generate``, the official ``asn_generate``).

Stage-2 and stage-3 associations are made from a DMS pool by rules (see
:mod:`webbcal.associations.rules`). As in the official generator, each
association candidate (``o001`` observations, ``c1000`` candidates) is worked
on alone with the rules restricted to it; "discovered" associations (``a3001``)
come from all rows without that restriction. Associations are then finalised
(nods split, imprints pruned, WFSS direct images replaced), duplicates pruned,
and numbered per candidate and type.

References
----------
JWST pipeline documentation, "asn_generate", "Association Generator",
"Association Naming", "Stage 2 Associations: Rules", "Level 3 Associations:
Rules".
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import re
import sys
import tempfile
from collections import Counter, defaultdict
from datetime import UTC, datetime

from ._constraints import Attr, Work, WorkList, evaluate
from ._dms import remove_suffix
from ._level2 import Level2Asn
from ._rulebase import AsnBase
from .asn import Association, AssociationError
from .pool import Pool, PoolError, read_pool
from .rules import DEFAULT_RULES

__all__ = ["GenerateError", "generate", "load_rule_file", "main", "write_associations"]

log = logging.getLogger(__name__)

CANDIDATE_RULESET = "candidate"
DISCOVER_RULESET = "discover"


class GenerateError(ValueError):
    """Bad options or rule definitions for the generator."""


# ------------------------------------------------------------------------------ registry
class _Registry:
    """Rules of one rule set, in the order they are tried, named ``<ruleset>_<rule>``."""

    _cache: dict = {}

    def __init__(self, rules: dict[str, type], ruleset: str):
        self.rules = []
        for name, cls in rules.items():
            key = (ruleset, cls)
            sub = self._cache.get(key)
            if sub is None:
                full = f"{ruleset}_{name}"
                sub = self._cache[key] = type(full, (cls,), {"rule_name": full})
            self.rules.append(sub)
        self.ruleset = ruleset
        self.names = [r.rule_name for r in self.rules]


def _useful_rules(rules: dict[str, type], ctype: str) -> dict[str, type]:
    """The rules that can give valid associations for a candidate of type ``ctype``.

    A level-2 association is valid only for an observation candidate or a
    background candidate (``Level2Asn.validate_candidates``), so for other
    candidate types, and for discovered associations, level-2 rules that keep
    that check are left out. This changes nothing else: level-2 associations and
    the work lists they ask for involve only their own rule, so the level-3
    associations are made in the same order from the same items.
    """
    if ctype.lower() in ("observation", "background"):
        return rules
    return {
        name: cls
        for name, cls in rules.items()
        if not (
            issubclass(cls, Level2Asn) and cls.validate_candidates is Level2Asn.validate_candidates
        )
    }


def _candidate_constraint(candidates):
    value = ".+(" + "|".join(candidates) + ").+" if candidates else None
    return lambda: Attr("asn_candidate", ["asn_candidate"], value, evaluate=True, is_acid=True)


# ------------------------------------------------------------------------------ work queue
class _Queue:
    """Work lists by category; within one, lists with the same rules and target merge."""

    def __init__(self, initial):
        self.queues = {w: {} for w in Work}
        self.extend(initial)

    def extend(self, lists):
        for wl in lists:
            queue = self.queues[wl.work_over]
            if wl.key in queue:
                queue[wl.key].items += wl.items
            else:
                queue[wl.key] = wl

    def __iter__(self):
        while True:
            for work in Work:
                queue = self.queues[work]
                if queue:
                    key = next(iter(queue))
                    yield queue.pop(key)
                    break
            else:
                return


def _run_rules(rows, registry, *, global_constraint, version_id, pool_name):
    """Associations made from ``rows`` by the rules of ``registry``."""
    associations: list[AsnBase] = []
    by_name = dict(zip(registry.names, registry.rules, strict=True))
    queue = _Queue([WorkList(items=list(rows), rules=list(registry.names))])
    for wl in queue:
        allowed = wl.rules if wl.rules else registry.names
        allowed_set = set(allowed)
        for item in wl.items:
            item = dict(item)
            again = []
            existing = []
            if wl.work_over in (Work.BOTH, Work.EXISTING, Work.NONSCIENCE):
                for asn in associations:
                    if asn.rule_name in allowed_set:
                        ok, more = asn.add(item)
                        again.extend(more)
                        if ok:
                            existing.append(asn)
            if wl.work_over in (Work.BOTH, Work.RULES):
                ignore = {asn.rule_name for asn in existing}
                for name in registry.names:
                    if name in ignore or name not in allowed_set:
                        continue
                    asn, more = by_name[name].create(item, version_id, global_constraint, pool_name)
                    again.extend(more)
                    if asn is not None:
                        associations.append(asn)
            kept = []
            for nl in again:
                nl = _keep_work(nl, wl.work_over)
                if nl is not None:
                    kept.append(nl)
            queue.extend(kept)
    return associations


def _keep_work(wl: WorkList, current: Work):
    both = (Work.RULES, Work.BOTH)
    if wl.work_over in both:
        if current in both:
            wl.work_over = Work.BOTH
            return wl
        return None
    if current not in both:
        return None
    return wl


# ------------------------------------------------------------------------------ comparisons
def _exposure_name(path):
    return remove_suffix(os.path.splitext(os.path.basename(path))[0])


def _membership_diffs(left, right, strict=True):
    munge = (lambda x: x) if strict else _exposure_name
    diffs = []
    for product in (left, right):
        names = Counter(m["expname"] for m in product["members"])
        if any(c > 1 for c in names.values()):
            diffs.append("duplicate")
    if len(left["members"]) != len(right["members"]):
        diffs.append("length")
    remaining = list(right["members"])
    unaccounted = False
    for lm in left["members"]:
        lname = munge(lm["expname"])
        for i, rm in enumerate(remaining):
            if munge(rm["expname"]) != lname:
                continue
            if lm["exptype"] != rm["exptype"]:
                diffs.append("mismatch")
            del remaining[i]
            break
        else:
            unaccounted = True
    if unaccounted or remaining:
        diffs.append("unaccounted")
    if len(diffs) == 2 and "length" in diffs and "unaccounted" in diffs:
        diffs.append("subset")
    return diffs


def _components(name):
    return set(re.split("[_-]", name))


def _asns_equal(left, right) -> bool:
    """The official association equality: same type, candidate level and membership."""
    if left.data["asn_type"] != right.data["asn_type"]:
        return False
    if left.data["asn_id"][0] != right.data["asn_id"][0]:
        return False
    lprods, rprods = left.data["products"], list(right.data["products"])
    if len(lprods) != len(rprods):
        return False
    for lp in lprods:
        for i, rp in enumerate(rprods):
            if _components(rp["name"]) != _components(lp["name"]):
                continue
            if _membership_diffs(lp, rp, strict=False):
                return False
            del rprods[i]
            break
        else:
            return False
    return not rprods


def _contains(seq, asn):
    return any(x is asn or _asns_equal(asn, x) for x in seq)


def _remove_equal(seq, asn):
    for i, x in enumerate(seq):
        if x is asn or _asns_equal(x, asn):
            del seq[i]
            return


def _remove_identical(seq, to_remove):
    for asn in to_remove:
        for i, x in enumerate(seq):
            if x is asn:
                del seq[i]
                break


def _by_candidate(asns):
    return sorted(asns, key=lambda a: a.data["asn_id"])


def _prune_duplicate_associations(asns):
    ordered = _by_candidate(asns)
    pruned = []
    while ordered:
        original = ordered.pop()
        pruned.append(original)
        first = original.data["products"][0]
        to_prune = [a for a in ordered if not _membership_diffs(first, a.data["products"][0])]
        _remove_identical(ordered, to_prune)
    return pruned


def _prune_duplicate_products(asns):
    names = Counter(a.data["products"][0]["name"] for a in asns)
    dups = [n for n, c in names.items() if c > 1]
    if not dups:
        return asns
    ordered = _by_candidate(asns)
    by_product = defaultdict(list)
    for asn in ordered:
        by_product[asn.data["products"][0]["name"]].append(asn)
    full_prune = []
    for product in dups:
        dup_asns = by_product[product]
        to_keep = list(dup_asns)
        for asn in dup_asns:
            if _contains(full_prune, asn):
                continue
            to_prune = []
            for entrant in to_keep:
                if entrant is asn or _asns_equal(entrant, asn):
                    continue
                diffs = _membership_diffs(asn.data["products"][0], entrant.data["products"][0])
                if not diffs:
                    to_prune.append(entrant)
                elif "subset" in diffs:
                    if len(entrant.data["products"][0]["members"]) > len(
                        asn.data["products"][0]["members"]
                    ):
                        asn, entrant = entrant, asn
                    to_prune.append(entrant)
                else:
                    log.warning(
                        "Associations with the same product name %s differ significantly",
                        product,
                    )
            full_prune.extend(to_prune)
            for pruned in to_prune:
                _remove_equal(to_keep, pruned)
    _remove_identical(ordered, full_prune)
    return ordered


def _prune(asns):
    return _prune_duplicate_products(_prune_duplicate_associations(asns))


def _resequence(asns):
    counters: dict = defaultdict(Counter)
    for asn in asns:
        key = (asn.data["asn_id"], asn.data["asn_type"])
        counters[key]["n"] += 1
        asn.current_sequence = counters[key]["n"]


def _finalize(asns):
    for level in (2, 3):
        others, mine = [], []
        for asn in asns:
            if asn.level == level:
                done = asn.finalize()
                if done is not None:
                    mine.extend(done)
            else:
                others.append(asn)
        mine = _prune(mine)
        _resequence(mine)
        asns = others + mine
    return asns


def _merge_level2(asns):
    others = [a for a in asns if a.level != 2]
    merged: dict = {}
    for asn in (a for a in asns if a.level == 2):
        key = f"{asn.data['asn_type']}_{asn.data['asn_id']}"
        current = merged.setdefault(key, asn)
        for product in list(asn.data["products"]):
            merge_occurred = False
            for cproduct in current.data["products"]:
                if product["name"] == cproduct["name"]:
                    known = [m["expname"] for m in cproduct["members"]]
                    new = {m["expname"] for m in product["members"]} - set(known)
                    cproduct["members"].extend(m for m in product["members"] if m["expname"] in new)
                    merge_occurred = True
            if not merge_occurred:
                current.data["products"].append(product)
    return others + list(merged.values())


# ------------------------------------------------------------------------------ candidates
def _ids_by_ctype(rows):
    found: dict[str, dict[str, int]] = {}
    for row in rows:
        candidates = evaluate(row["asn_candidate"])
        if isinstance(candidates, int):
            found.setdefault("unknown", {}).setdefault(str(candidates), 0)
            continue
        try:
            for cid, ctype in candidates:
                found.setdefault(ctype, {}).setdefault(cid, 0)
        except (ValueError, TypeError):
            log.debug("Cannot parse asn_candidate field: %s", candidates)
    return found


def _associations(pool, rules, pairs, discover, all_candidates, version_id):
    """Candidate associations (each candidate alone), then discovered ones."""
    rows = pool.rows
    registries: dict[str, _Registry] = {}
    associations: list[AsnBase] = []
    for cid, ctype in pairs:
        useful = _useful_rules(rules, ctype)
        key = ",".join(useful)
        candidates = registries.get(key) or registries.setdefault(
            key, _Registry(useful, CANDIDATE_RULESET)
        )
        sub = [r for r in rows if cid in r["asn_candidate"]]
        text = f"[('{cid}', '{ctype}')]"
        sub = [{**r, "asn_candidate": text} for r in sub]
        associations.extend(
            _run_rules(
                sub,
                candidates,
                global_constraint=_candidate_constraint([cid]),
                version_id=version_id,
                pool_name=pool.name,
            )
        )
        log.debug("candidate %s (%s): %d rows", cid, ctype, len(sub))
    if discover:
        found = _run_rules(
            rows,
            _Registry(_useful_rules(rules, "discovered"), DISCOVER_RULESET),
            global_constraint=None,
            version_id=version_id,
            pool_name=pool.name,
        )
        cand = [a for a in associations]
        kept = [d for d in found if not any(_asns_equal(d, c) for c in cand)]
        associations = kept + (cand if all_candidates else [])
        _resequence(associations)
    return associations


def generate(
    pool: Pool,
    *,
    candidate_ids: list[str] | None = None,
    all_candidates: bool = True,
    discover: bool = False,
    version_id: str | bool | None = None,
    merge: bool = False,
    rules: dict[str, type] | None = None,
    dms: bool = False,
    finalize: bool = True,
) -> list[AsnBase]:
    """Make the associations of ``pool``.

    Parameters
    ----------
    pool : Pool
        The association pool (:func:`webbcal.associations.pool.read_pool`).
    candidate_ids : list of str, optional
        Only these candidates (``o001``, ``c1000``...); every candidate when None.
    all_candidates : bool
        Keep candidate associations when ``discover`` is set.
    discover : bool
        Also make discovered (``a3001``) associations from all rows.
    version_id : str, True or None
        Tag in file names: a string, a UTC time stamp (True) or none.
    merge : bool
        Merge level-2 associations of one candidate and type into one, several products.
    rules : dict, optional
        Rule name -> rule class; the default rules when None.
    dms : bool
        DMS mode: with ``candidate_ids``, background candidates of the same rows are
        also worked on (to check for duplicates) and then dropped.
    finalize : bool
        Run the rules' finalisation (nod splitting, pruning, numbering).

    Returns
    -------
    list of association objects
        In the official order (level 2 then level 3); ``to_dict()`` gives the JSON
        content and ``asn_name()`` the file name without ``.json``.

    Raises
    ------
    GenerateError
        If a requested candidate id is in no row of the pool.
    """
    rules = DEFAULT_RULES if rules is None else rules
    if not rules:
        raise GenerateError("no association rules to apply (default rules ignored, none given)")
    if isinstance(version_id, bool):
        version_id = datetime.now(UTC).strftime("%Y%m%dt%H%M%S") if version_id else None
    rows = pool.rows
    cids_by_type = _ids_by_ctype(rows)
    input_ids = list(candidate_ids) if candidate_ids is not None else None
    if candidate_ids is not None:
        candidate_ids = list(candidate_ids)
        missing = [c for c in candidate_ids if not any(c in t for t in cids_by_type.values())]
        if missing:
            raise GenerateError(
                f"{pool.path}: candidate id(s) {', '.join(missing)} not found in column "
                f"ASN_CANDIDATE (known: {', '.join(sorted(set().union(*cids_by_type.values())))})"
            )
        if dms:
            chosen = [r for r in rows if any(c in r["asn_candidate"] for c in candidate_ids)]
            for cid in _ids_by_ctype(chosen).get("background", {}):
                if cid not in candidate_ids:
                    candidate_ids.append(cid)
        pairs = []
        for cid in candidate_ids:
            for ctype, ids in cids_by_type.items():
                if cid in ids:
                    pairs.append((cid, ctype))
                    break
    else:
        pairs = [(cid, ctype) for ctype, ids in cids_by_type.items() for cid in ids]

    try:
        associations = _associations(pool, rules, pairs, discover, all_candidates, version_id)
        if finalize and associations:
            associations = _finalize(associations)
    except KeyError as exc:
        raise GenerateError(
            f"{pool.path}: the pool has no column {str(exc.args[0]).upper()}, which the "
            "association rules read"
        ) from None
    if merge:
        associations = _merge_level2(associations)
    if dms and input_ids is not None:
        associations = [a for a in associations if any(c in a.data["asn_id"] for c in input_ids)]
    for asn in associations:
        asn.data["constraints"] = asn.constraints.describe()
        if asn.current_sequence is None:
            asn.current_sequence = 1
    return associations


# ------------------------------------------------------------------------------ rule files
def load_rule_file(path: str) -> dict[str, type]:
    """Rules defined in a webbcal-format Python file.

    The file defines rule classes named ``Asn_*`` that subclass
    ``webbcal.associations._level2.Level2Asn`` or ``Level3Asn`` (see
    :mod:`webbcal.associations.rules` for examples).

    Raises
    ------
    GenerateError
        If the file does not exist, cannot be imported, or defines no rule.
    """
    if not os.path.isfile(path):
        raise GenerateError(f"{path}: rule file not found")
    name = "webbcal_user_rules_" + re.sub(r"\W", "_", os.path.basename(path).split(".")[0])
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise GenerateError(f"{path}: not a Python rule file")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the user's code: report any failure plainly
        raise GenerateError(f"{path}: cannot load rule definitions: {exc}") from None
    found = {
        n: obj
        for n, obj in sorted(vars(module).items())
        if n.startswith("Asn_")
        and isinstance(obj, type)
        and issubclass(obj, AsnBase)
        and obj.__module__ == name
    }
    if not found:
        raise GenerateError(
            f"{path}: defines no association rule (classes named Asn_* deriving from "
            "webbcal.associations._level2.Level2Asn or Level3Asn)"
        )
    return found


# ------------------------------------------------------------------------------ writing
def write_associations(associations, folder: str) -> list[str]:
    """Write each association as ``<folder>/<asn_name>.json``; return the paths.

    Every association is converted and checked first; each file is then
    written atomically (temporary file in ``folder``, then renamed).

    Raises
    ------
    AssociationError
        If an association does not convert to a valid association file
        (then nothing is written).
    """
    prepared = []
    for asn in associations:
        obj = Association.from_dict(asn.to_dict(), source=asn.asn_name())
        prepared.append((os.path.join(folder, asn.asn_name() + ".json"), obj))
    os.makedirs(folder, exist_ok=True)
    import json

    written = []
    for path, obj in prepared:
        fd, tmp = tempfile.mkstemp(prefix=".tmp_webbcal_asn_", suffix=".json", dir=folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(obj.to_dict(), fh, indent=4, separators=(",", ": "))
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise
        written.append(path)
    return written


def _parser():
    p = argparse.ArgumentParser(
        prog="webbcal asn generate",
        description="Make level-2 and level-3 associations from a DMS association pool "
        "(the official asn_generate).",
    )
    p.add_argument("pool", help="association pool (pipe-separated table)")
    group = p.add_mutually_exclusive_group()
    group.add_argument("-i", "--ids", nargs="+", dest="ids", help="candidate ids to work on")
    group.add_argument("--discover", action="store_true", help="make discovered associations")
    group.add_argument(
        "--all-candidates", action="store_true", help="make all candidate associations"
    )
    p.add_argument("-p", "--path", default=".", help="folder for the association files")
    p.add_argument(
        "--version-id",
        nargs="?",
        const=True,
        default=None,
        help="tag for file names; a time stamp when given without a value",
    )
    p.add_argument("-r", "--rules", action="append", default=[], help="webbcal rule file")
    p.add_argument("--ignore-default", action="store_true", help="do not use the default rules")
    p.add_argument("--dry-run", action="store_true", help="generate but write nothing")
    p.add_argument("-d", "--delimiter", default="|", help="pool field separator")
    p.add_argument("--DMS", action="store_true", dest="dms", help="DMS workflow conditions")
    p.add_argument("--merge", action="store_true", help="merge level-2 associations")
    p.add_argument("--no-merge", action="store_true", help="(default; kept for compatibility)")
    p.add_argument("--no-finalize", action="store_true", help="skip finalisation")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress")
    p.add_argument("-D", "--debug", action="store_true", help="log details")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run ``webbcal asn generate``; return the exit status."""
    args = _parser().parse_args(argv)
    from ..cli import setup_logging

    # Warnings always; -v adds progress, -D details (``webbcal`` removes the handlers on return).
    setup_logging(args.debug, not (args.verbose or args.debug), None, None)
    discover, all_candidates = args.discover, args.all_candidates
    if not discover and not all_candidates and args.ids is None:
        discover = all_candidates = True
    try:
        rules = {} if args.ignore_default else dict(DEFAULT_RULES)
        for path in args.rules:
            rules.update(load_rule_file(path))
        pool = read_pool(args.pool, delimiter=args.delimiter)
        asns = generate(
            pool,
            candidate_ids=args.ids,
            all_candidates=all_candidates,
            discover=discover,
            version_id=args.version_id,
            merge=args.merge,
            rules=rules,
            dms=args.dms,
            finalize=not args.no_finalize,
        )
        paths = [] if args.dry_run else write_associations(asns, args.path)
    except (GenerateError, PoolError, AssociationError) as exc:
        print(f"webbcal asn generate: error: {exc}", file=sys.stderr)
        return 1
    counts = Counter(a.data["asn_type"] for a in asns)
    where = "not written (dry run)" if args.dry_run else f"written to {args.path}"
    print(f"{len(asns)} associations from {pool.name} {where}:")
    for asn_type, n in sorted(counts.items()):
        print(f"  {asn_type:<14s}{n}")
    log.debug("files: %s", paths)
    return 0
