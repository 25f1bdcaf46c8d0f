"""``webbcal inspect FILE``: what a JWST product is, how it was made, and what to do about it.

The report gives the instrument and mode, the software and reference versions
(CAL_VER, CRDS_CTX, CRDS_VER, the SDP version and the CRDS server when the
header names it), whether CRDS_CTX is older than the first context with
in-flight references for the mode, the references of DUMMY/MODEL/GROUND
pedigree (read from the local CRDS cache), the known issues that apply with
their workarounds, and the webbcal command that reprocesses the exposure when
reprocessing is advised.

References
----------
JDox, "JWST Calibration Pipeline Caveats" (Table 1), "JWST General Calibration
Pipeline Caveats" (GI01-GI06, GI-TS01), "JWST Operational Pipeline Build
Information" (build 9.2), "JWST Data Calibration Reference Files" (PEDIGREE).
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from typing import Any

from webbcal.tools._cli import ArgumentParser
from webbcal.tools.product import Product, context_number, exposure_root, read_product
from webbcal.tools.refinfo import (
    PREFLIGHT_PEDIGREES,
    cache_root,
    pedigree_kind,
    read_reference_info,
)
from webbcal.tools.rules import ContextCheck, KnownIssue, check_context, matching_issues

__all__ = ["DEFAULT_REPROCESS_CONTEXT", "format_report", "inspect_product", "main"]

log = logging.getLogger(__name__)

#: Context named in the reprocessing command unless the user picks one: the
#: operational context of the CRDS server (what MAST reprocessing uses).
DEFAULT_REPROCESS_CONTEXT = "jwst-operational"
#: Instruments whose stage-1 processing webbcal implements today.
WEBBCAL_STAGE1_INSTRUMENTS = ("NIRCAM", "NIRISS", "NIRSPEC", "FGS", "MIRI")
#: Contexts from this serial number on are local ones (``write_local_context`` writes 9001
#: by default; the CRDS server numbers its contexts from 0000 and was near 1500 in 2025).
LOCAL_CONTEXT_MIN = 9000
#: PEDIGREE of simulated references (``webbcal.simulate``, the demo).
SIMULATED_PEDIGREE = "SIMULATION"


def inspect_product(path: str, *, context: str | None = None) -> dict[str, Any]:
    """Build the inspection report of a product.

    Parameters
    ----------
    path : str
        A JWST FITS product of any stage.
    context : str, optional
        CRDS context to name in the reprocessing command; default
        :data:`DEFAULT_REPROCESS_CONTEXT`.

    Returns
    -------
    dict
        JSON-serialisable report (the ``--json`` output): ``file``, ``product``,
        ``versions``, ``context_check``, ``references``, ``known_issues``,
        ``reprocess``.

    Raises
    ------
    webbcal.tools.product.ProductError
        When the file is not a readable JWST product.
    """
    product = read_product(path)
    facts = product.facts()
    references = _references(product)
    check = _local_context_check(check_context(facts), references)
    issues = matching_issues(facts)
    return {
        "file": product.path,
        "product": _describe(product, check.mode),
        "versions": {
            "CAL_VER": product.cal_ver,
            "CRDS_CTX": product.crds_context,
            "CRDS_VER": _text(product.get("CRDS_VER")),
            "SDP_VER": product.sdp_version,
            "CRDS_SERVER": product.crds_server,
            "DATE": _text(product.get("DATE")),
        },
        "context_check": {
            "status": check.status,
            "mode": check.mode,
            "minimum": check.minimum,
            "context": check.context,
            "message": check.message,
            "source": check.source,
        },
        "references": references,
        "known_issues": [_issue(i, product) for i in issues],
        "reprocess": _reprocess(product, check, issues, context or DEFAULT_REPROCESS_CONTEXT),
    }


def _describe(product: Product, mode: str | None) -> dict[str, Any]:
    return {
        "instrument": product.instrument,
        "detector": _text(product.get("DETECTOR")),
        "exp_type": product.exp_type or None,
        "mode": mode,
        "readpatt": _text(product.get("READPATT")),
        "subarray": _text(product.get("SUBARRAY")),
        "filter": _text(product.get("FILTER")),
        "pupil": _text(product.get("PUPIL")),
        "grating": _text(product.get("GRATING")),
        "datamodel": _text(product.get("DATAMODL")),
        "suffix": product.suffix,
        "stage": product.stage,
        "date_obs": _text(product.get("DATE-OBS")),
        "program": _text(product.get("PROGRAM")),
        "sci_shape": list(product.sci_shape) if product.sci_shape else None,
        "bunit": _text(product.science.get("BUNIT")),
    }


def _references(product: Product) -> dict[str, Any]:
    root = cache_root()
    recorded = {k: v for k, v in product.references.items() if v.upper() != "N/A"}
    preflight, unknown, inflight, simulated = [], [], [], []
    for reftype, name in sorted(recorded.items()):
        info = read_reference_info(name, root)
        kind = pedigree_kind(info.pedigree)
        entry = {"reftype": reftype, "file": name, "pedigree": info.pedigree}
        if kind in PREFLIGHT_PEDIGREES:
            preflight.append(entry)
        elif kind == SIMULATED_PEDIGREE:
            simulated.append(entry)
        elif kind is None:
            unknown.append(name)
        else:
            inflight.append(entry)
    return {
        "recorded": len(recorded),
        "preflight": preflight,
        "simulated": simulated,
        "other_pedigree": inflight,
        "pedigree_unknown": unknown,
        "cache": str(root),
    }


def _local_context_check(check: ContextCheck, references: dict[str, Any]) -> ContextCheck:
    """A local context (simulated references) is never "ok ... in-flight references".

    The context is local when its serial number is :data:`LOCAL_CONTEXT_MIN` or
    more, or when a reference it selected has PEDIGREE SIMULATION in the cache.
    """
    number = context_number(check.context)
    simulated = references["simulated"]
    if not simulated and (number is None or number < LOCAL_CONTEXT_MIN):
        return check
    why = []
    if number is not None and number >= LOCAL_CONTEXT_MIN:
        why.append(f"not a CRDS server context (numbers from {LOCAL_CONTEXT_MIN} are local)")
    if simulated:
        why.append(
            f"{len(simulated)} of {references['recorded']} references have PEDIGREE "
            f"{SIMULATED_PEDIGREE}"
        )
    context = check.context or "the context"
    return replace(
        check,
        status="simulated",
        message=(
            f"CRDS_CTX {context} is a local context with simulated references "
            f"({'; '.join(why)}): the product is a simulation, not calibrated with "
            "in-flight references; calibrate real data with a CRDS server context"
        ),
    )


def _issue(issue: KnownIssue, product: Product) -> dict[str, Any]:
    return {
        "id": issue.id,
        "title": issue.title,
        "status": issue.status,
        "cause": issue.cause,
        "workaround": issue.workaround,
        "command": _command(issue, product),
        "reprocess": issue.reprocess,
        "source": issue.source,
    }


def _command(issue: KnownIssue, product: Product) -> str | None:
    template = issue.command
    if isinstance(template, dict):
        template = template.get(product.instrument, template.get("*"))
    if not template:
        return None
    return template.format(uncal=_uncal_name(product))


def _uncal_name(product: Product) -> str:
    root = exposure_root(product.name)
    return f"{root}_uncal.fits" if root else "<member>_uncal.fits"


def _reprocess(product: Product, check, issues: list[KnownIssue], context: str) -> dict[str, Any]:
    reasons = []
    if check.status == "older":
        reasons.append(check.message)
    reasons += [f"{i.id}: {i.title} ({i.status})" for i in issues if i.reprocess]
    if not reasons:
        return {"advised": False, "reasons": [], "command": None, "notes": []}
    command = (
        f"CRDS_CONTEXT={context} webbcal run calwebb_detector1 {_uncal_name(product)} "
        "--output-dir reprocessed"
    )
    notes = []
    if check.minimum:
        notes.append(f"use {check.minimum} or a later context")
    if exposure_root(product.name) is None:
        notes.append("a level-3 product: reprocess each member exposure of its association")
    if product.instrument not in WEBBCAL_STAGE1_INSTRUMENTS:
        notes.append(
            f"webbcal's calwebb_detector1 supports {', '.join(WEBBCAL_STAGE1_INSTRUMENTS)} so "
            f"far; {product.instrument} needs the official pipeline for now "
            f"(strun calwebb_detector1 {_uncal_name(product)})"
        )
    if product.stage >= 2:
        notes.append(
            f"the product is from stage {product.stage}: continue with the stage 2/3 pipelines "
            "(not yet in webbcal) on the new stage-1 output"
        )
    return {"advised": True, "reasons": reasons, "command": command, "notes": notes}


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


# ------------------------------------------------------------------------------ text output


def format_report(report: dict[str, Any]) -> str:
    """Human-readable text of an :func:`inspect_product` report."""
    p, v, c = report["product"], report["versions"], report["context_check"]
    lines = [f"{report['file']}"]
    mode = p["mode"] or p["exp_type"]
    lines.append(
        f"  {p['instrument']} {p['detector'] or ''} {p['exp_type'] or ''} ({mode}); "
        f"{p['readpatt'] or '-'} readout, subarray {p['subarray'] or '-'}"
    )
    stage = "raw" if p["stage"] == 0 else f"stage {p['stage']}"
    lines.append(
        f"  product: {p['suffix'] or p['datamodel'] or '?'} ({stage}), "
        f"observed {p['date_obs'] or '?'}, program {p['program'] or '?'}"
    )
    lines.append("Versions:")
    for key in ("CAL_VER", "CRDS_CTX", "CRDS_VER", "SDP_VER", "CRDS_SERVER"):
        shown = v[key] or ("not recorded" if key == "CRDS_SERVER" else "-")
        lines.append(f"  {key:<12s}{shown}")
    lines.append(f"Context check ({c['status']}): {c['message']}")
    lines += _format_references(report["references"])
    issues = report["known_issues"]
    lines.append(f"Known issues that apply: {len(issues) or 'none'}")
    for issue in issues:
        lines.append(f"  {issue['id']}: {issue['title']} [{issue['status']}]")
        lines.append(f"    workaround: {issue['workaround']}")
        if issue["command"]:
            lines.append(f"    command: {issue['command']}")
    r = report["reprocess"]
    if r["advised"]:
        lines.append("Reprocessing advised:")
        lines += [f"  - {reason}" for reason in r["reasons"]]
        lines.append(f"  command: {r['command']}")
        lines += [f"  note: {note}" for note in r["notes"]]
    else:
        lines.append("Reprocessing: not advised by the rules")
    return "\n".join(lines)


def _format_references(refs: dict[str, Any]) -> list[str]:
    lines = [f"References recorded (R_*): {refs['recorded']}"]
    for entry in refs["preflight"]:
        lines.append(f"  pre-flight: {entry['reftype']:<12s}{entry['file']}  ({entry['pedigree']})")
    for entry in refs["simulated"]:
        lines.append(f"  simulated:  {entry['reftype']:<12s}{entry['file']}  ({entry['pedigree']})")
    if refs["pedigree_unknown"]:
        lines.append(
            f"  pedigree unknown for {len(refs['pedigree_unknown'])} not in the cache "
            f"{refs['cache']} (fetch them with: crds sync --files ...)"
        )
    return lines


def main(argv: list[str]) -> int:
    """``webbcal inspect FILE [--json] [--context CTX]``; returns the exit status."""
    parser = ArgumentParser(
        prog="webbcal inspect",
        description="Report on a JWST product: mode, versions, CRDS context against the "
        "minimum in-flight context, pre-flight references, known issues, reprocessing.",
    )
    parser.add_argument("file", help="JWST product (uncal, rate, cal, i2d, x1d, ...)")
    parser.add_argument("--json", action="store_true", help="machine-readable JSON output")
    parser.add_argument(
        "--context",
        default=None,
        help=f"context for the reprocessing command (default {DEFAULT_REPROCESS_CONTEXT})",
    )
    args = parser.parse_args(argv)
    report = inspect_product(args.file, context=args.context)
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0
