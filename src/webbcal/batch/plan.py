"""Planning a batch in the driving process: parameters, CRDS references, fingerprints.

Every CRDS question of a batch is asked here, once, before any work is
distributed: the merged parameters (with CRDS ``pars-*`` references) and the
best reference files of each exposure are resolved in this process, and
exposures are grouped by the resulting reference set. Workers then run with
those references and a pinned context, offline, and never ask CRDS or write
to its cache, so a shared cache needs no locking between workers. Planning
itself holds a lock in the cache directory, so two batches started at once
do not download into the cache together.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any

from .._version import __version__
from .inputs import exposure_root
from .manifest import directory_lock, fingerprint

__all__ = ["ExposureTask", "PlanFailure", "crds_cache_path", "plan_exposures", "task_bytes"]

log = logging.getLogger(__name__)

#: Bytes of worker memory per ramp sample (nints x ngroups x ny x nx) during
#: calwebb_detector1: float32 ramp, its copy in the step being run, uint8
#: GROUPDQ, jump-detection differences and ramp-fit work arrays.
BYTES_PER_SAMPLE = 24
#: Memory of a worker process with webbcal, stdatamodels and crds loaded.
WORKER_BASE_BYTES = 400 * 2**20


@dataclass
class ExposureTask:
    """What a worker needs to process one exposure (plain, picklable data).

    Attributes
    ----------
    root : str
        Exposure root (product names are ``<root>_<suffix>.fits``).
    input : str
        Absolute path of the input product.
    pipeline : str
        Pipeline alias, e.g. ``"calwebb_detector1"``.
    parameters : dict
        Merged parameters (``steps`` holding each step's), CRDS ``pars-*`` included.
    references : dict of str to (str or None)
        Reference type -> local path of the best reference (None: not applicable).
    context : str or None
        CRDS context the references were selected from (None when every
        reference is overridden and CRDS is unavailable).
    crds_path : str
        CRDS cache the reference paths live in.
    output_dir : str
        Where the products go.
    record : dict
        Manifest fields describing the request (see :mod:`webbcal.batch.manifest`).
    samples : int
        Ramp samples (nints x ngroups x ny x nx), for memory sizing.
    """

    root: str
    input: str
    pipeline: str
    parameters: dict[str, Any]
    references: dict[str, str | None]
    context: str | None
    crds_path: str
    output_dir: str
    record: dict[str, Any] = field(default_factory=dict)
    samples: int = 0

    @property
    def fingerprint(self) -> str:
        """Fingerprint of the request (manifest ``fingerprint``)."""
        return self.record["fingerprint"]


@dataclass
class PlanFailure:
    """An exposure that cannot be planned (unreadable input, no reference, ...)."""

    root: str
    input: str
    error: str


def crds_cache_path() -> str:
    """The CRDS cache in effect (``CRDS_PATH`` or webbcal's default)."""
    from ..crds_client import DEFAULT_CRDS_PATH

    return os.path.abspath(os.path.expanduser(os.environ.get("CRDS_PATH") or DEFAULT_CRDS_PATH))


def task_bytes(task: ExposureTask) -> int:
    """Estimated peak memory of a worker processing ``task``, in bytes."""
    return WORKER_BASE_BYTES + BYTES_PER_SAMPLE * task.samples


def _describe(exc: BaseException) -> str:
    return f"{exc} [{type(exc).__name__}]"


def _samples(model: Any) -> int:
    exp, sub = model.meta.exposure, model.meta.subarray
    dims = (exp.nints, exp.ngroups, sub.ysize or 2048, sub.xsize or 2048)
    return int(_product(int(d or 1) for d in dims))


def _product(values: Any) -> int:
    out = 1
    for v in values:
        out *= v
    return out


def _reference_types(cls: type, configuration: dict[str, Any], model: Any) -> list[str]:
    """Reference types the configured pipeline will ask for (as its prefetch does)."""
    pipe = cls.from_configuration(configuration)
    out: list[str] = []
    for alias in pipe.active_steps(model):
        for reftype in pipe.step(alias).required_reference_types():
            if reftype not in out:
                out.append(reftype)
    return out


def plan_exposures(
    cls: type,
    paths: list[str],
    *,
    output_dir: str,
    overrides: dict[str, Any] | None = None,
    config_file: str | None = None,
    use_crds_pars: bool = True,
    in_warm_process: bool = False,
) -> tuple[list[ExposureTask], list[PlanFailure]]:
    """Resolve parameters and references of every exposure.

    Parameters
    ----------
    cls : type
        Pipeline class (a :class:`webbcal.stpipe.Pipeline` subclass).
    paths : list of str
        Input products (absolute paths).
    output_dir : str
        Output directory of the products.
    overrides : dict, optional
        Explicit parameters (``{"param": v, "steps": {alias: {...}}}``).
    config_file : str, optional
        ASDF parameter file.
    use_crds_pars : bool
        Merge CRDS ``pars-*`` parameter references.
    in_warm_process : bool
        Plan in a process forked from this process's warm fork server
        (:mod:`webbcal.batch.warm`, started by the caller), which has loaded
        stdatamodels and the data-model schemas already; its log records are
        handled here. This process then never loads them (~2.7 s of CPU for the
        first model on the shared 2-core machine, paid by the server anyway for the
        workers). Falls back to this process when that process cannot run or
        return (e.g. an argument that cannot be pickled).

    Returns
    -------
    tasks : list of ExposureTask
        Exposures ready to run, in input order.
    failures : list of PlanFailure
        Exposures that cannot run, with the reason.
    """
    kwargs = {"output_dir": output_dir, "overrides": overrides, "config_file": config_file,
              "use_crds_pars": use_crds_pars}  # fmt: skip
    if in_warm_process:
        planned = _plan_in_warm_process(cls, paths, kwargs)
        if planned is not None:
            return planned
    return _plan_here(cls, paths, **kwargs)


def _plan_in_warm_process(
    cls: type, paths: list[str], kwargs: dict[str, Any]
) -> tuple[list[ExposureTask], list[PlanFailure]] | None:
    """:func:`plan_exposures` in a child of the fork server; None when that cannot be done."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    level = logging.getLogger("webbcal").getEffectiveLevel()
    try:
        context = multiprocessing.get_context("forkserver")
        with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
            tasks, failures, records = pool.submit(
                _plan_and_collect_logs, cls, paths, kwargs, level
            ).result()
    except Exception as exc:  # the child could not run or return: plan here
        log.debug("Planning in this process (the warm process failed: %s)", _describe(exc))
        return None
    for record in records:
        logging.getLogger(record.name).handle(record)
    return tasks, failures


class _RecordList(logging.Handler):
    """Keeps log records, made picklable (message formatted, traceback as text)."""

    def __init__(self, level: int) -> None:
        super().__init__(level)
        self.records: list[logging.LogRecord] = []
        self._formatter = logging.Formatter()

    def emit(self, record: logging.LogRecord) -> None:
        record.msg = record.getMessage()
        record.args = None
        if record.exc_info:
            record.exc_text = self._formatter.formatException(record.exc_info)
            record.exc_info = None
        self.records.append(record)


def _plan_and_collect_logs(
    cls: type, paths: list[str], kwargs: dict[str, Any], level: int
) -> tuple[list[ExposureTask], list[PlanFailure], list[logging.LogRecord]]:
    """Run in the planning child: plan, and return the log records of webbcal's loggers."""
    handler = _RecordList(level)
    logger = logging.getLogger("webbcal")
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    try:
        tasks, failures = _plan_here(cls, paths, **kwargs)
    finally:
        logger.removeHandler(handler)
    return tasks, failures, handler.records


def _plan_here(
    cls: type,
    paths: list[str],
    *,
    output_dir: str,
    overrides: dict[str, Any] | None,
    config_file: str | None,
    use_crds_pars: bool,
) -> tuple[list[ExposureTask], list[PlanFailure]]:
    """:func:`plan_exposures` in this process."""
    from ..crds_client import best_references, get_context_name
    from ..stpipe.config import build_configuration

    cache = crds_cache_path()
    tasks: list[ExposureTask] = []
    failures: list[PlanFailure] = []
    lock_dir = cache if os.access(cache, os.W_OK) else None
    with _maybe_lock(lock_dir):
        context = None
        context_asked = False
        reference_sets: set[tuple] = set()
        for path in paths:
            root = exposure_root(path)
            try:
                stat = os.stat(path)
                # Its metadata only (a raw exposure's ramps are not read here).
                model = cls.open_for_planning(path)
                try:
                    configuration = build_configuration(
                        cls, model, config_file=config_file, overrides=overrides,
                        use_crds=use_crds_pars,
                    )  # fmt: skip
                    reftypes = _reference_types(cls, configuration, model)
                    # Empty when every reference is overridden: no CRDS question at all.
                    refs = best_references(model.get_crds_parameters(), reftypes, filename=path)
                    # Asked once per batch; again only when an exposure needs references
                    # from CRDS after earlier ones (all overridden) found it unavailable.
                    if not context_asked or (context is None and reftypes):
                        context = _context_name(get_context_name, required=bool(reftypes))
                        context_asked = True
                    samples = _samples(model)
                finally:
                    model.close()
            except Exception as exc:  # every planning failure is this exposure's alone
                log.error("Cannot process %s: %s", path, _describe(exc))
                failures.append(PlanFailure(root, path, _describe(exc)))
                continue
            names = {k: (os.path.basename(v) if v else None) for k, v in refs.items()}
            reference_sets.add(tuple(sorted(names.items(), key=lambda kv: kv[0])))
            record = {
                "input": path,
                "input_size": stat.st_size,
                "input_mtime_ns": stat.st_mtime_ns,
                "pipeline": cls.class_alias,
                "parameters": _jsonable(configuration),
                "context": context,
                "references": names,
                "webbcal_version": __version__,
            }
            record["fingerprint"] = fingerprint(record)
            tasks.append(
                ExposureTask(
                    root,
                    path,
                    cls.class_alias,
                    configuration,
                    dict(refs),
                    context,
                    cache,
                    output_dir,
                    record,
                    samples,
                )  # fmt: skip
            )
    log.info("Resolved the references of %d exposure(s): %d distinct reference set(s), "
             "context %s", len(tasks), len(reference_sets), context)  # fmt: skip
    return tasks, failures


def _context_name(get_context_name: Any, *, required: bool) -> str | None:
    """The CRDS context in use; None when CRDS is unavailable and no reference is needed.

    ``webbcal run`` with every reference overridden never asks CRDS (the
    context is then only provenance), so neither does a batch.
    """
    from ..crds_client import CrdsUnavailableError

    try:
        return get_context_name()
    except CrdsUnavailableError as exc:
        if required:
            raise
        log.info("No CRDS context (%s); every reference is overridden", exc)
        return None


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


class _maybe_lock:
    """:func:`directory_lock` (waiting) on ``directory``, or nothing when it is None."""

    def __init__(self, directory: str | None) -> None:
        self._cm = directory_lock(directory, ".webbcal_crds.lock", wait=True) if directory else None

    def __enter__(self) -> None:
        if self._cm is not None:
            self._cm.__enter__()

    def __exit__(self, *exc: Any) -> None:
        if self._cm is not None:
            self._cm.__exit__(*exc)
