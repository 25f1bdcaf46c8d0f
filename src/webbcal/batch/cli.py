"""``webbcal batch PIPELINE INPUT... --output-dir DIR [options]``."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

__all__ = ["main"]

log = logging.getLogger("webbcal.batch")

USAGE = """\
usage: webbcal batch PIPELINE INPUT... --output-dir DIR [options] [step options]

Process many exposures in parallel on dask.distributed. INPUT is a file, a glob
pattern (quote it) or a JSON association (its science members). Exposures whose
products already match the request are skipped (see DIR/webbcal_batch_manifest.json).

batch options:
  --output-dir DIR            where the products and the manifest go (required)
  --scheduler ADDRESS         use an existing dask scheduler (tcp://host:8786)
  --workers N                 workers of the local cluster (default: cores and memory)
  --memory-limit SIZE         memory per local worker, e.g. 4GB (default: machine share)
  --force                     reprocess exposures that are already done
  --config FILE.asdf          parameter file (official ASDF layout)
  --disable-crds-steppars     ignore CRDS pars-* parameter references
  --no-progress               no progress line
  --verbose / --quiet         more / less logging; --log-file FILE also logs to FILE

step options as for 'webbcal run': --steps.<step>.<parameter>=VALUE, --<parameter>=VALUE
Exit status: 0 when every exposure succeeded (or was already done), 1 otherwise."""

_VALUES = {"--output-dir", "--scheduler", "--workers", "--memory-limit", "--config", "--log-file"}
_FLAGS = {"--force", "--disable-crds-steppars", "--no-progress", "--verbose", "-v", "--quiet",
          "-q"}  # fmt: skip


def _split(argv: list[str]) -> tuple[dict[str, Any], list[str], list[str]]:
    """Batch options, positionals and the remaining (step) options."""
    from ..cli import UsageError

    opts: dict[str, Any] = {}
    positionals: list[str] = []
    rest: list[str] = []
    tokens = list(argv)
    while tokens:
        t = tokens.pop(0)
        key = t.split("=", 1)[0].replace("_", "-")
        if key in _VALUES:
            if "=" in t:
                value = t.split("=", 1)[1]
            elif tokens:
                value = tokens.pop(0)
            else:
                raise UsageError(f"{key} needs a value")
            opts[key.lstrip("-")] = value
        elif key in _FLAGS:
            opts[key.lstrip("-")] = True
        elif t.startswith("--"):
            rest.append(t)
            if "=" not in t and tokens and not tokens[0].startswith("-"):
                rest.append(tokens.pop(0))
        else:
            positionals.append(t)
    return opts, positionals, rest


def main(argv: list[str]) -> int:
    """Run ``webbcal batch``; return 0 when every exposure succeeded, 1 otherwise.

    Raises
    ------
    webbcal.cli.UsageError
        For a command line that cannot be run.
    """
    from ..cli import UsageError

    if not argv or argv[0] in ("-h", "--help") or "--help" in argv or "-h" in argv:
        print(USAGE)
        return 0 if argv else 2
    opts, positionals, rest = _split(argv)
    if len(positionals) < 2:
        raise UsageError(
            "webbcal batch needs a pipeline and at least one input "
            "(webbcal batch calwebb_detector1 'data/*_uncal.fits' --output-dir out)"
        )
    if "output-dir" not in opts:
        raise UsageError("webbcal batch needs --output-dir DIR")
    # The local cluster's workers warm up while this process starts (see
    # start_local_workers); stopped below, whatever happens.
    from .runner import start_local_workers
    from .warm import stop_forkserver

    early = not opts.get("scheduler") and start_local_workers(positionals[0])
    ran: list[bool] = []
    try:
        return _run(opts, positionals, rest, ran)
    finally:
        if early:  # waits for the workers to exit when a cluster ran, else stops it at once
            stop_forkserver(wait_s=10.0 if any(ran) else 0.0)


def _run(opts: dict[str, Any], positionals: list[str], rest: list[str], ran: list[bool]) -> int:
    """:func:`main` once the command line names a pipeline, inputs and an output directory;
    appends to ``ran`` whether a cluster processed exposures."""
    from ..cli import UsageError, parse_run_arguments, setup_logging
    from ..stpipe.pipeline import Pipeline
    from ..stpipe.registry import get_step_class

    cls = get_step_class(positionals[0])
    if not issubclass(cls, Pipeline):
        raise UsageError(f"{positionals[0]} is a step; webbcal batch runs a pipeline such as "
                         "calwebb_detector1")  # fmt: skip
    overrides = parse_run_arguments(cls, rest)
    for bad in ("output_file", "output_dir"):
        if bad in overrides:
            raise UsageError(f"--{bad.replace('_', '-')}: not available in batch mode; products "
                             "are named per exposure in --output-dir")  # fmt: skip
    workers = None
    if "workers" in opts:
        try:
            workers = int(opts["workers"])
        except ValueError:
            workers = 0
        if workers < 1:
            raise UsageError(f"--workers {opts['workers']}: expected a positive integer")
    if "memory-limit" in opts:
        from dask.utils import parse_bytes

        try:
            parse_bytes(opts["memory-limit"])
        except (ValueError, TypeError):
            raise UsageError(
                f"--memory-limit {opts['memory-limit']}: expected a size such as 4GB or 2.5GiB"
            ) from None
    verbose, quiet = bool(opts.get("verbose") or opts.get("v")), bool(opts.get("quiet") or
                                                                       opts.get("q"))  # fmt: skip
    setup_logging(verbose, quiet, opts.get("log-file"), None)
    if not verbose:
        logging.getLogger("distributed").setLevel(logging.WARNING)
    steps = overrides.pop("steps", None)
    from .runner import run_batch

    try:
        result = run_batch(
            positionals[1:], output_dir=opts["output-dir"], pipeline=positionals[0],
            parameters=overrides, steps=steps, config_file=opts.get("config"),
            use_crds_pars=not opts.get("disable-crds-steppars"), force=bool(opts.get("force")),
            scheduler=opts.get("scheduler"), n_workers=workers,
            memory_limit=opts.get("memory-limit"),
            progress=False if opts.get("no-progress") else None,
        )  # fmt: skip
    except KeyboardInterrupt:
        from .manifest import MANIFEST_NAME

        ran.append(True)  # its workers may still be closing
        print(f"webbcal batch: interrupted; finished exposures are recorded in "
              f"{os.path.join(opts['output-dir'], MANIFEST_NAME)}, the same command "
              "continues with the others", file=sys.stderr)  # fmt: skip
        return 130
    ran.append(result.n_workers > 0)
    if result.dashboard:
        print(f"dask dashboard: {result.dashboard}", file=sys.stderr)
    print(result.summary())
    return 0 if result.ok else 1
