"""The ``webbcal`` command.

``webbcal run <pipeline|step|params.asdf> <input> [options]`` runs a pipeline or
step with the official option grammar (``--steps.jump.rejection_threshold=5``,
``--output-dir``/``--output_dir``, ``--save-parameters``, ``--config``,
``--disable-crds-steppars``); ``webbcal list`` shows steps, pipelines and
parameters; ``webbcal demo`` runs calwebb_detector1 offline on a simulated
exposure with its own CRDS context.

Heavy modules are imported only when needed so ``--help`` starts quickly.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any

from ._version import __version__

__all__ = ["main"]

log = logging.getLogger("webbcal.cli")

#: Options handled by the runner itself rather than by the step's parameters.
_GLOBAL_FLAGS = {"--verbose", "-v", "--quiet", "-q", "--disable-crds-steppars", "--debug"}
_SHORT_FLAGS = {"-v": "verbose", "-q": "quiet"}
_GLOBAL_VALUES = {"--config", "--save-parameters", "--log-file", "--log-level"}


class UsageError(Exception):
    """A command line that cannot be run; reported without a traceback."""


_HANDLERS: list[logging.Handler] = []
#: The ``webbcal`` logger's level before the command set it up (restored afterwards).
_SAVED_LEVEL: list[int] = []


class _ConsoleHandler(logging.StreamHandler):
    """Log records to the ``sys.stderr`` of the moment each record is written.

    A plain :class:`logging.StreamHandler` keeps the stream it was given; when
    :func:`main` is called in-process (a notebook, a test capturing output)
    that stream may be replaced or closed by the time a later record arrives.
    """

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:  # the current sys.stderr is always used
        pass


def setup_logging(verbose: bool, quiet: bool, log_file: str | None, level: str | None) -> None:
    """Console and file logging of a command (undone by :func:`teardown_logging`).

    The ``webbcal`` logger itself stays at INFO (or DEBUG) so every product's
    stored log is complete; ``--quiet`` and ``--verbose`` only change what the
    console shows.

    Parameters
    ----------
    verbose : bool
        Show DEBUG records (and the crds client's own log) on the console.
    quiet : bool
        Show only warnings and errors on the console.
    log_file : str or None
        Also write INFO (or DEBUG) records to this file.
    level : str or None
        Console level by name (``"DEBUG"``, ``"INFO"``, ...), overriding the two flags.
    """
    logger = logging.getLogger("webbcal")
    teardown_logging()
    _SAVED_LEVEL.append(logger.level)
    lvl = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    if level:
        lvl = getattr(logging, level.upper(), lvl)
    logger.setLevel(min(lvl, logging.INFO))
    fmt = logging.Formatter("%(asctime)s - %(name)s - %(levelname)s - %(message)s")
    console = _ConsoleHandler()
    console.setFormatter(fmt)
    console.setLevel(lvl)
    _HANDLERS.append(console)
    if log_file:
        fh = logging.FileHandler(log_file)
        fh.setFormatter(fmt)
        fh.setLevel(min(lvl, logging.INFO))
        _HANDLERS.append(fh)
    for handler in _HANDLERS:
        logger.addHandler(handler)
    # The crds client logs its own FATAL lines before raising; webbcal reports the
    # failure itself in one line, so crds speaks only with --verbose. crds creates its
    # console handler (and may warn) when first imported: quietly, unless verbose.
    if verbose or "crds" in sys.modules:
        import crds.core.log
    else:
        import contextlib
        import io

        with contextlib.redirect_stderr(io.StringIO()):
            import crds.core.log  # noqa: F401

    for name in ("CRDS", "crds"):
        logging.getLogger(name).setLevel(logging.INFO if verbose else logging.CRITICAL + 1)


def teardown_logging() -> None:
    """Remove (and close) the handlers a command added; restore the logger's level.

    Called when :func:`main` returns, so an in-process caller's logging is left
    as it was.
    """
    logger = logging.getLogger("webbcal")
    for handler in _HANDLERS:
        logger.removeHandler(handler)
        handler.close()
    _HANDLERS.clear()
    if _SAVED_LEVEL:
        logger.setLevel(_SAVED_LEVEL.pop())


def _split_option(token: str, rest: list[str]) -> tuple[str, str]:
    """Split ``--name=value`` or ``--name value`` (consuming the value from ``rest``)."""
    body = token[2:]
    if "=" in body:
        name, value = body.split("=", 1)
    else:
        if not rest or rest[0].startswith("--"):
            # A bare flag means true (``--save-calibrated-ramp``).
            return body, "true"
        name, value = body, rest.pop(0)
    return name, value


def parse_run_arguments(cls: type, tokens: list[str]) -> dict[str, Any]:
    """Turn ``--param=value`` and ``--steps.<alias>.<param>=value`` tokens into overrides.

    Dashes in names are read as underscores (``--output-dir`` = ``--output_dir``).

    Raises
    ------
    UsageError
        For a positional token, an unknown step or an unknown parameter.
    """
    from .stpipe.pipeline import Pipeline

    overrides: dict[str, Any] = {}
    rest = list(tokens)
    while rest:
        token = rest.pop(0)
        if not token.startswith("--"):
            raise UsageError(f"unexpected argument {token!r}; options are written --name=value")
        name, value = _split_option(token, rest)
        if name.startswith("steps."):
            parts = name.split(".")
            if len(parts) != 3:
                raise UsageError(f"--{name}: expected --steps.<step>.<parameter>=<value>")
            _, alias, param = parts
            param = param.replace("-", "_")
            if not issubclass(cls, Pipeline):
                raise UsageError(f"--{name}: {cls.class_alias} is a step, it has no sub-steps")
            if alias not in cls.step_defs:
                raise UsageError(
                    f"--{name}: unknown step {alias!r}; steps of {cls.class_alias} are "
                    f"{', '.join(cls.step_defs)}"
                )
            specs = cls.step_defs[alias].param_specs()
            if param not in specs:
                raise UsageError(
                    f"--{name}: step {alias} has no parameter {param!r}; its parameters are "
                    f"{', '.join(sorted(specs))}"
                )
            overrides.setdefault("steps", {}).setdefault(alias, {})[param] = value
        else:
            param = name.replace("-", "_")
            specs = cls.param_specs()
            if param not in specs:
                raise UsageError(
                    f"--{name}: {cls.class_alias} has no parameter {param!r}; its parameters "
                    f"are {', '.join(sorted(specs))}"
                )
            overrides[param] = value
    return overrides


def _run_help(cls: type) -> str:
    from .stpipe.pipeline import Pipeline

    lines = [
        f"usage: webbcal run {cls.class_alias} INPUT [options]",
        "",
        (cls.__doc__ or "").strip().splitlines()[0],
        "",
        "runner options:",
        "  --config FILE.asdf          parameter file (official ASDF layout)",
        "  --save-parameters FILE      write the merged parameters and exit after the run",
        "  --disable-crds-steppars     ignore CRDS pars-* parameter references",
        "  --verbose / --quiet         more / less logging; --log-file FILE also logs to FILE",
        "",
        f"{cls.class_alias} parameters:",
    ]
    for p in cls.param_specs().values():
        option = f"  --{p.name}={p.metavar()}"
        lines.append(f"{option:<39} {p.help_text()}")
    if issubclass(cls, Pipeline):
        for alias, sub in cls.step_defs.items():
            lines += ["", f"step {alias} ({sub.__name__}) parameters:"]
            for p in sub.param_specs().values():
                option = f"  --steps.{alias}.{p.name}={p.metavar()}"
                lines.append(f"{option:<39} {p.help_text()}")
    return "\n".join(lines)


def cmd_run(argv: list[str]) -> int:
    """``webbcal run``."""
    from .stpipe.config import read_config_file, write_config_file
    from .stpipe.registry import get_step_class

    tokens = list(argv)
    flags: dict[str, Any] = {}
    positionals: list[str] = []
    remaining: list[str] = []
    want_help = False
    while tokens:
        t = tokens.pop(0)
        key = t.split("=", 1)[0]
        if t in ("-h", "--help"):
            want_help = True
        elif key.replace("_", "-") in _GLOBAL_FLAGS:
            flags[_SHORT_FLAGS.get(key) or key.lstrip("-").replace("_", "-")] = True
        elif key.replace("_", "-") in _GLOBAL_VALUES:
            if "=" in t:
                value = t.split("=", 1)[1]
            elif tokens:
                value = tokens.pop(0)
            else:
                raise UsageError(f"{key} needs a value")
            flags[key.lstrip("-").replace("_", "-")] = value
        elif t.startswith("--"):
            remaining.append(t)
            if "=" not in t and tokens and not tokens[0].startswith("--"):
                remaining.append(tokens.pop(0))
        else:
            positionals.append(t)
    if not positionals:
        if want_help:
            print("usage: webbcal run <pipeline|step|params.asdf> INPUT [options]")
            return 0
        raise UsageError("webbcal run needs a pipeline or step name and an input file")
    target = positionals[0]
    config_file = flags.get("config")
    if target.endswith(".asdf"):
        config_file = config_file or target
        content = read_config_file(target)
        if not content["class"]:
            raise UsageError(f"{target}: parameter file has no 'class' entry")
        cls = get_step_class(content["class"])
    else:
        cls = get_step_class(target)
    if want_help:
        print(_run_help(cls))
        return 0
    segments = len(positionals) > 2 and cls.class_alias == "calwebb_detector1"
    if len(positionals) != 2 and not segments:
        raise UsageError(
            f"webbcal run {target} needs exactly one input file, got {len(positionals) - 1} "
            "(only calwebb_detector1 takes several: the segments of one exposure)"
        )
    setup_logging(bool(flags.get("verbose")), bool(flags.get("quiet")),
                  flags.get("log-file"), flags.get("log-level"))  # fmt: skip
    overrides = parse_run_arguments(cls, remaining)
    overrides.setdefault("save_results", True)
    if flags.get("quiet"):
        if hasattr(cls, "step_defs") and "progress" in cls.param_specs():
            overrides.setdefault("progress", False)
    if flags.get("disable-crds-steppars"):
        overrides["disable_crds_steppars"] = True
    if segments:
        # Several inputs: the segments of one split exposure, processed together.
        from .pipeline.segments import run_segments

        overrides.pop("save_results")
        output_dir = overrides.pop("output_dir", None)
        run_segments(positionals[1:], output_dir=output_dir, config_file=config_file,
                     **overrides)  # fmt: skip
        return 0
    input_path = positionals[1]
    save_pars = flags.get("save-parameters")
    if save_pars:
        from .stpipe.config import build_configuration

        model = cls._open_input(input_path)
        disable = bool(overrides.pop("disable_crds_steppars", False))
        merged = build_configuration(
            cls, model, config_file=config_file, overrides=overrides, use_crds=not disable
        )
        step = cls.from_configuration(merged)
        parent = os.path.dirname(os.path.abspath(save_pars))
        if not os.path.isdir(parent):
            raise UsageError(f"--save-parameters {save_pars}: directory {parent} does not exist")
        step.run(model)
        write_config_file(step, save_pars)
        log.info("Saved parameters to %s", save_pars)
        return 0
    cls.call(input_path, config_file=config_file, **overrides)
    return 0


def cmd_list(argv: list[str]) -> int:
    """``webbcal list``: pipelines and steps with their parameters."""
    from .stpipe.registry import PIPELINES, STEPS, get_step_class

    parser = argparse.ArgumentParser(prog="webbcal list")
    parser.add_argument("--brief", action="store_true", help="names only")
    args = parser.parse_args(argv)
    print("Pipelines:")
    for alias in PIPELINES:
        cls = get_step_class(alias)
        print(f"  {alias:<20s} {cls.__name__}")
        if not args.brief:
            print("      steps: " + ", ".join(cls.step_defs))
            for p in cls.spec:
                print(f"      {p.name:<28s} {p.help_text()}")
    print("Steps:")
    for alias in STEPS:
        cls = get_step_class(alias)
        refs = ", ".join(cls.reference_file_types) or "-"
        print(f"  {alias:<20s} {cls.__name__:<22s} reftypes: {refs}")
        if not args.brief:
            for p in cls.spec:
                print(f"      {p.name:<28s} {p.help_text()}")
    return 0


def cmd_demo(argv: list[str]) -> int:
    """``webbcal demo``."""
    parser = argparse.ArgumentParser(
        prog="webbcal demo",
        description="Simulate an exposure and its references in a local CRDS context, "
        "then run calwebb_detector1 offline through ordinary CRDS selection and, for "
        "NIRCam, calwebb_image2 (cal, i2d and a PNG of the i2d with RA/Dec axes). "
        "--stage 3: calwebb_image3 on four dithered exposures (mosaic, catalog, PNG). "
        "--instrument miri --mode lrs-tso: a MIRI LRS slitless transit from raw ramps through "
        "calwebb_detector1, calwebb_spec2 and calwebb_tso3 to a fitted depth and spectrum.",
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--out", default="webbcal_demo", metavar="DIR",
                        help="output directory (default webbcal_demo)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=1, metavar="N",
                        help="random seed of the simulation (default 1)")  # fmt: skip
    parser.add_argument(
        "--instrument",
        default="nircam",
        choices=("nircam", "miri", "fgs"),
        metavar="NAME",
        help="nircam (NRCA1, default), miri (the imager) or fgs (a guider exposure)",
    )
    parser.add_argument(
        "--subarray",
        default="FULL",
        metavar="NAME",
        help="FULL (default) or a subarray: nircam SUB64P, SUB160P, SUB400P; miri SUB64, "
        "SUB128, SUB256, BRIGHTSKY...",
    )
    parser.add_argument("--ngroups", type=int, default=None, metavar="N",
                        help="groups per integration (nircam 6, miri 10)")  # fmt: skip
    parser.add_argument("--nints", type=int, default=None, metavar="N",
                        help="integrations (nircam 1, miri 2, lrs-tso 100)")  # fmt: skip
    parser.add_argument("--stage", type=int, default=1, choices=(1, 3), metavar="N",
                        help="1 (default): one exposure from raw ramps (stage 1, and stage 2 "
                        "for NIRCam); 3: calwebb_image3 on four dithered NIRCam exposures "
                        "(mosaic, catalog, picture)")  # fmt: skip
    parser.add_argument("--mode", default=None, choices=("lrs-tso",), metavar="NAME",
                        help="lrs-tso (with --instrument miri): a MIRI LRS slitless time "
                        "series with a transit, stages 1-3 and a transit fit")  # fmt: skip
    parser.add_argument("--quiet", "-q", action="store_true", help="less output")
    args = parser.parse_args(argv)
    if args.mode == "lrs-tso":
        return _demo_lrs_tso(args)
    from .demo import demo_subarrays, run_demo

    if args.stage == 3:
        if args.instrument != "nircam" or args.subarray != "FULL":
            raise UsageError(
                "webbcal demo --stage 3: the stage-3 demo simulates NIRCam NRCA1_SUB640 "
                "exposures; drop --instrument and --subarray"
            )
        setup_logging(False, True, None, None)
        from .demo_image3 import run_image3_demo

        print(run_image3_demo(args.out, seed=args.seed))
        return 0

    if args.instrument == "fgs":
        valid = ["FULL", "128X128"]  # the guider demo simulates a 128 x 128 ACQ1 exposure
    else:
        valid = demo_subarrays(args.instrument)
    if args.subarray not in valid:
        raise UsageError(
            f"webbcal demo: --subarray {args.subarray}: not available for the "
            f"{args.instrument} demo; expected one of {', '.join(valid)}"
        )
    setup_logging(False, True, None, None)
    if args.instrument == "fgs":
        from pathlib import Path

        from .demo_guider import run_guider_demo

        print(run_guider_demo(Path(args.out), seed=args.seed))
        return 0
    summary = run_demo(args.out, instrument=args.instrument, seed=args.seed,
                       subarray=args.subarray, ngroups=args.ngroups, nints=args.nints,
                       progress=not args.quiet)  # fmt: skip
    print(summary)
    return 0


def _demo_lrs_tso(args: argparse.Namespace) -> int:
    """``webbcal demo --instrument miri --mode lrs-tso``."""
    if (
        args.instrument != "miri"
        or args.stage != 1
        or args.subarray not in ("FULL", "SLITLESSPRISM")
    ):
        raise UsageError(
            "webbcal demo --mode lrs-tso: the time-series demo simulates MIRI SLITLESSPRISM "
            "exposures; use --instrument miri without --stage and --subarray"
        )  # fmt: skip
    setup_logging(False, True, None, None)
    from .demo_lrs_tso import run_lrs_tso_demo

    print(run_lrs_tso_demo(args.out, seed=args.seed, nints=args.nints or 100,
                           ngroups=args.ngroups or 10, progress=not args.quiet))  # fmt: skip
    return 0


class _HelpFormatter(argparse.HelpFormatter):
    """Option names in a column of their own, descriptions aligned after them.

    The widest option (``--instrument NAME``) fits the column, so no
    description is pushed to the next line or runs into an option name.
    """

    def __init__(self, prog: str) -> None:
        import shutil

        width = max(60, min(100, shutil.get_terminal_size().columns - 2))
        super().__init__(prog, max_help_position=24, width=width)


#: Sub-commands implemented in other modules: name -> ("module:function", one-line help).
#: Each function takes the remaining argument list and returns an exit status.
EXTERNAL_COMMANDS: dict[str, tuple[str, str]] = {
    "refs": ("webbcal.tools.refs:main", "best reference files for a product, and what changed"),
    "inspect": ("webbcal.tools.inspect:main", "report on a product: versions, context, issues"),
    "cite": ("webbcal.tools.cite:main", "versions and context to quote in a publication"),
    "cache": ("webbcal.tools.cache:main", "verify (and repair) the local CRDS cache"),
    "quicklook": ("webbcal.tools.quicklook:main", "PNG quick look of an image or a ramp pixel"),
    "batch": ("webbcal.batch.cli:main", "process many exposures in parallel (dask)"),
    "asn": ("webbcal.associations.cli:main", "make associations: from-list, generate, make-pool"),
}


def _external(name: str):
    import importlib

    target = EXTERNAL_COMMANDS[name][0]
    module, func = target.split(":")
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith(module.rsplit(".", 1)[0]):
            raise UsageError(f"the '{name}' command is not available in this version") from None
        raise
    return getattr(mod, func)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``webbcal`` console script; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = "".join(f"  {n:<10s}{h}\n" for n, (_, h) in EXTERNAL_COMMANDS.items())
    usage = (
        "usage: webbcal <command> ...\n\n"
        "  run       run a pipeline or step: webbcal run calwebb_detector1 x_uncal.fits "
        "--output-dir out\n"
        "  list      list pipelines, steps and their parameters\n"
        "  demo      simulate an exposure and run calwebb_detector1 on it offline\n"
        "            (--stage 3: calwebb_image3 on four dithered exposures;\n"
        "            --instrument miri --mode lrs-tso: a MIRI LRS transit, stages 1-3)\n"
        f"{extra}\n"
        f"webbcal {__version__}: an independent implementation of the JWST calibration pipeline"
    )
    if not argv or argv[0] in ("-h", "--help"):
        print(usage)
        return 0 if argv else 2
    if argv[0] == "--version":
        print(f"webbcal {__version__}")
        return 0
    command, rest = argv[0], argv[1:]
    commands = {"run": cmd_run, "list": cmd_list, "demo": cmd_demo}
    if command not in commands and command not in EXTERNAL_COMMANDS:
        names = ", ".join([*commands, *EXTERNAL_COMMANDS])
        print(f"webbcal: error: unknown command {command!r}; expected one of {names}",
              file=sys.stderr)  # fmt: skip
        return 2
    try:
        func = commands.get(command) or _external(command)
        return func(rest)
    except KeyboardInterrupt:
        print("webbcal: interrupted", file=sys.stderr)
        return 130
    except UsageError as exc:
        print(f"webbcal: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # every failure is reported in one clear line
        if os.environ.get("WEBBCAL_DEBUG"):
            raise
        print(f"webbcal: error: {_describe(exc)}", file=sys.stderr)
        return 1
    finally:
        teardown_logging()


def _describe(exc: Exception) -> str:
    name = type(exc).__name__
    if isinstance(exc, OSError) and exc.filename is not None:
        from .lib.spill import describe_os_error

        return f"{describe_os_error(exc)} [{name}]"
    text = str(exc) or name
    return text if name in ("UsageError",) else f"{text} [{name}]"


def entry() -> None:
    """The ``webbcal`` console script: :func:`main`, then a prompt exit with its status.

    Python's teardown of a process that loaded dask, numba and stdatamodels
    (clearing every module and freeing their objects) takes ~0.3 s after the
    command has finished. Once :func:`main` has returned, the exit handlers run
    as in a normal exit (``atexit``, which includes flushing and closing the
    logging handlers and ``weakref.finalize`` callbacks), the standard streams are
    flushed, and the process ends with ``os._exit`` without that teardown. While
    any other non-daemon thread is alive (which a normal exit would wait for), the
    process exits normally.
    """
    _exit_promptly(main())


def _exit_promptly(status: int) -> None:
    import atexit
    import threading

    others = [t for t in threading.enumerate()
              if t is not threading.current_thread() and t.is_alive() and not t.daemon]  # fmt: skip
    if others:
        sys.exit(status)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):
            pass
    os._exit(status)


if __name__ == "__main__":  # pragma: no cover
    entry()
