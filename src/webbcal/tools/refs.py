"""``webbcal refs FILE [--context CTX]``: the best reference files for a product's mode.

For every step of the pipelines that process the product's exposure type, the
real ``crds`` client selects the best reference of each reference type under
the chosen context; each file is shown with its PEDIGREE, USEAFTER and DESCRIP
(from the cached copy) and whether it is cached. When the product records the
references it was made with (``R_*`` keywords), each is compared with the new
selection, so the user sees which would change under the chosen context.

Which reference types a mode needs comes from the CRDS system configuration
(``jwst_system_crdscfg_*.yaml``, shipped inside the ``crds`` package:
``exptypes_to_pipelines``, ``pipeline_cfgs_to_steps``, ``steps_to_reftypes`` and
``exptypes_to_reftypes``); types the context does not define are left out.

References
----------
CRDS user guide, "Best references" and "Reprocessing" (system crdscfg),
https://jwst-crds.stsci.edu/static/users_guide/index.html
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import logging
import re
from typing import Any

from webbcal.tools._cli import ArgumentParser, quiet_crds
from webbcal.tools.product import ProductError, read_product
from webbcal.tools.refinfo import read_reference_info

__all__ = ["crds_parameters", "mode_reftypes", "reference_report", "format_refs", "main"]

log = logging.getLogger(__name__)

_CFG_RE = re.compile(r"^jwst_system_crdscfg_b([\d.]+)\.yaml$")


@functools.lru_cache(maxsize=1)
def _system_config() -> dict[str, Any]:
    """The newest CRDS system configuration shipped with the installed ``crds``."""
    import yaml

    folder = importlib.resources.files("crds") / "jwst"
    found = []
    for entry in folder.iterdir():
        match = _CFG_RE.match(entry.name)
        if match:
            found.append((tuple(int(p) for p in match.group(1).strip(".").split(".")), entry))
    if not found:
        raise RuntimeError(
            "the installed crds package has no jwst_system_crdscfg_*.yaml; reinstall crds"
        )
    newest = max(found, key=lambda item: item[0])[1]
    log.debug("Using CRDS system configuration %s", newest.name)
    return yaml.safe_load(newest.read_text(encoding="utf-8"))


def mode_reftypes(exp_type: str) -> list[tuple[str, str]]:
    """The (step, reftype) pairs that apply to an exposure type.

    Parameters
    ----------
    exp_type : str
        ``EXP_TYPE``, e.g. ``"NRS_MSASPEC"``.

    Returns
    -------
    list of (str, str)
        In pipeline order; a reftype used by several steps appears once per step.

    Raises
    ------
    ValueError
        When the CRDS system configuration does not know ``exp_type``.
    """
    cfg = _system_config()
    exp_type = str(exp_type).upper()
    pipelines = cfg["exptypes_to_pipelines"].get(exp_type)
    if pipelines is None:
        raise ValueError(
            f"EXP_TYPE {exp_type!r} is not in the CRDS system configuration; cannot tell "
            "which reference types apply"
        )
    allowed = set(cfg["exptypes_to_reftypes"].get(exp_type, []))
    pairs: list[tuple[str, str]] = []
    for pipeline in pipelines:
        for step in cfg["pipeline_cfgs_to_steps"].get(pipeline, []):
            for reftype in cfg["steps_to_reftypes"].get(step, []):
                if reftype in allowed and (step, reftype) not in pairs:
                    pairs.append((step, reftype))
    return pairs


def crds_parameters(path: str) -> dict[str, Any]:
    """CRDS matching parameters of a product (``model.get_crds_parameters()``).

    Raises
    ------
    ProductError
        When stdatamodels cannot open the file.
    """
    from stdatamodels.jwst import datamodels

    try:
        with datamodels.open(path) as model:
            return dict(model.get_crds_parameters())
    except Exception as exc:
        raise ProductError(
            f"{path}: cannot read its metadata with stdatamodels ({type(exc).__name__}: {exc})"
        ) from None


def reference_report(path: str, *, context: str | None = None) -> dict[str, Any]:
    """Best references for a product under a context, compared with those it records.

    Parameters
    ----------
    path : str
        A JWST product.
    context : str, optional
        CRDS context (``jwst_1234.pmap``, ``jwst-operational``...); default the
        one :func:`webbcal.crds_client.best_references` would use.

    Returns
    -------
    dict
        ``file``, ``context``, ``product_context`` and ``references``: a list of
        dicts with ``step``, ``reftype``, ``status`` (``selected``,
        ``not_applicable`` or ``no_match``), ``file``, ``cached``, ``pedigree``,
        ``useafter``, ``descrip``, ``recorded`` (the product's ``R_*`` file or
        None) and ``change`` (``same``, ``changed``, ``new`` or None).

    Raises
    ------
    webbcal.tools.product.ProductError
        For a file that is not a JWST product.
    webbcal.crds_client.CrdsUnavailableError
        When CRDS can be used neither online nor from the cache.
    """
    product = read_product(path)
    if not product.exp_type:
        raise ProductError(f"{path}: no EXP_TYPE keyword; cannot tell the observing mode")
    pairs = mode_reftypes(product.exp_type)
    params = crds_parameters(path)
    final, recs, root = _recommend(params, sorted({r for _, r in pairs}), context, path)
    recorded = product.references
    rows = []
    for step, reftype in pairs:
        rec = str(recs.get(reftype, ""))
        if "unknown reference type" in rec.lower():
            continue  # not defined by this context for the instrument
        rows.append(_row(step, reftype, rec, recorded.get(reftype), root))
    return {
        "file": product.path,
        "exp_type": product.exp_type,
        "context": final,
        "product_context": product.crds_context,
        "references": rows,
    }


def _recommend(params, reftypes, context, path):
    # Names are wanted whether or not the files are cached: nothing is downloaded.
    from pathlib import Path

    from webbcal.crds_client import recommend_references

    recs = recommend_references(params, list(reftypes), context=context, filename=path)
    return recs.context, recs.names, Path(recs.crds_path)


def _row(step: str, reftype: str, rec: str, recorded: str | None, root) -> dict[str, Any]:
    row: dict[str, Any] = {"step": step, "reftype": reftype, "recorded": recorded}
    if rec.upper().startswith("NOT FOUND"):
        applicable = re.fullmatch(r"NOT FOUND\s+N/A\.?", rec.strip(), re.IGNORECASE)
        row.update(status="not_applicable" if applicable else "no_match", file=None)
        row.update(cached=None, pedigree=None, useafter=None, descrip=None)
        if not applicable:
            row["detail"] = rec
        was = recorded if recorded and recorded.upper() != "N/A" else None
        row["change"] = "changed" if was else None
        return row
    info = read_reference_info(rec, root)
    row.update(status="selected", file=rec, cached=info.cached, pedigree=info.pedigree,
               useafter=info.useafter, descrip=info.descrip)  # fmt: skip
    if recorded is None:
        row["change"] = None
    elif recorded.upper() == "N/A":
        row["change"] = "new"
    else:
        row["change"] = "same" if recorded == rec else "changed"
    return row


def format_refs(report: dict[str, Any]) -> str:
    """Text of a :func:`reference_report`."""
    lines = [
        f"{report['file']}",
        f"  {report['exp_type']} under {report['context']}"
        + (
            f" (product made with {report['product_context']})" if report["product_context"] else ""
        ),  # fmt: skip
    ]
    header = f"  {'step':<18s}{'reftype':<16s}{'file':<42s}{'cached':<8s}{'pedigree':<28s}"
    lines.append(header + "useafter / descrip")
    for row in report["references"]:
        if row["status"] == "selected":
            cached = "yes" if row["cached"] else "no"
            pedigree = row["pedigree"] or "?"
            tail = f"{row['useafter'] or '?'} / {row['descrip'] or '?'}"
            name = row["file"]
        else:
            cached, pedigree, tail = "", "", row.get("detail", "")
            name = "N/A" if row["status"] == "not_applicable" else "NO MATCH"
        lines.append(
            f"  {row['step']:<18s}{row['reftype']:<16s}{name:<42s}{cached:<8s}{pedigree:<28s}{tail}"
        )
    changes = list({r["reftype"]: r for r in report["references"]
                    if r["change"] in ("changed", "new")}.values())  # fmt: skip
    if report["product_context"] or any(r["recorded"] for r in report["references"]):
        lines.append(f"Compared with the product's R_* keywords: {len(changes)} would change")
        for row in changes:
            lines.append(
                f"  {row['reftype']:<16s}{row['recorded'] or 'N/A'} -> {row['file'] or 'N/A'}"
            )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    """``webbcal refs FILE [--context CTX] [--json]``; returns the exit status."""
    parser = ArgumentParser(
        prog="webbcal refs",
        description="Best CRDS reference files for every step that applies to the product's "
        "mode, with PEDIGREE, USEAFTER, DESCRIP and cache status; compared with the "
        "references the product was made with.",
    )
    parser.add_argument("file", help="JWST product")
    parser.add_argument(
        "--context", default=None, help="CRDS context, e.g. jwst_1225.pmap (default: CRDS's)"
    )
    parser.add_argument("--json", action="store_true", help="machine-readable JSON output")
    parser.add_argument("--verbose", action="store_true", help="show the crds client's log")
    args = parser.parse_args(argv)
    quiet_crds(args.verbose)
    try:
        report = reference_report(args.file, context=args.context)
    except ValueError as exc:
        if isinstance(exc, ProductError):
            raise
        from webbcal.cli import UsageError

        raise UsageError(str(exc)) from None
    print(json.dumps(report, indent=2) if args.json else format_refs(report))
    return 0
