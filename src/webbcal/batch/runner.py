"""Run a pipeline over many exposures on a dask.distributed cluster.

The driving process expands the inputs, resolves every exposure's parameters
and CRDS references (:mod:`webbcal.batch.plan`), skips exposures whose
products already match the request (:mod:`webbcal.batch.manifest`), and
submits one task per remaining exposure to a ``dask.distributed`` cluster:
a local one sized to the machine by default, an existing scheduler, or a
``Client`` the caller already holds (e.g. in a notebook).

References
----------
Dask.distributed documentation, "Futures", "Local cluster" and "Worker
resilience" (a task whose worker died is rescheduled up to
``distributed.scheduler.allowed-failures`` times, then fails with
``KilledWorker``). https://distributed.dask.org
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sys
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..lib.overlap import overlap_enabled
from ..lib.spill import prepare_output_directory
from .inputs import expand_inputs
from .manifest import Manifest, directory_lock
from .plan import ExposureTask, plan_exposures, task_bytes
from .warm import (
    WORKER_ENVIRONMENT,
    forkserver_running,
    start_forkserver,
    still_warming,
    stop_forkserver,
)
from .warm import available as warm_available
from .worker import STAGING_DIR, WORKER_PRELOAD, process_exposure

__all__ = ["BatchResult", "ExposureOutcome", "cluster_size", "run_batch", "start_local_workers"]

log = logging.getLogger(__name__)

#: Fraction of the machine's memory a local cluster may use.
MEMORY_FRACTION = 0.85

#: dask's worker environment without MALLOC_TRIM_THRESHOLD_ (see ``warm.WORKER_ENVIRONMENT``).
_WORKER_ENVIRONMENT = WORKER_ENVIRONMENT

#: Housekeeping of the local cluster's scheduler, nannies and workers, slowed down from dask's
#: defaults, which are tuned for interactive, many-small-task work: a worker samples its
#: task's stack every 10 ms for the dashboard's profile, every server checks its event loop
#: every 20 ms, a nanny reads its worker's memory every 100 ms and every server its host's
#: load every 0.5 s. A batch runs a few long tasks; measured on the shared 2-core machine,
#: a 2-worker cluster doing nothing used 1.3 s (driving process: scheduler, nannies, client)
#: and 1.6 s (the two workers) of CPU per 30 s with the defaults, 0.3 s and 0.2 s with
#: these (about 0.7 s of CPU per full-frame exposure in a batch). The nanny still stops a
#: worker over its memory limit, within 0.5 s instead of 0.1 s.
_CLUSTER_SETTINGS = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "500ms",
    "distributed.worker.memory.monitor-interval": "500ms",
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.admin.system-monitor.gil.enabled": False,
}

#: Local-cluster workers are forked from a fork server that has already imported the
#: pipeline and loaded the data-model schemas (:mod:`webbcal.batch.warm`), instead of
#: being spawned as fresh interpreters that each pay that start-up on their first exposure.
_WORKER_START = {"distributed.worker.multiprocessing-method": "forkserver"}


def _pre_spawn_environment() -> dict[str, str]:
    """The variables dask sets before it starts a worker process (with our settings)."""
    import dask
    import distributed  # noqa: F401  (its configuration defaults, before any config.set)

    with dask.config.set(_WORKER_ENVIRONMENT):
        try:
            from distributed.nanny import _get_env_variables

            return dict(_get_env_variables("distributed.nanny.pre-spawn-environ"))
        except ImportError:  # another distributed: the same, from the configuration
            values = dask.config.get("distributed.nanny.pre-spawn-environ", default={}) or {}
            return {str(k): str(v) for k, v in values.items() if v is not None}


def _start_warm_workers(pipeline: str | None) -> bool:
    """Start the fork server of the local cluster's workers (True when started here)."""
    _quiet_resource_tracker()
    with _sigint_ignored():
        return start_forkserver(pipeline, _pre_spawn_environment())


def start_local_workers(pipeline: str) -> bool:
    """Start warming up a local cluster's workers before :func:`run_batch` is called.

    ``webbcal batch`` calls this first thing, so that the fork server's warm-up
    (imports and schemas, ~3 s of CPU) runs while this process does its own start-up
    (the pipeline's imports, the command line, the inputs) instead of after it.
    :func:`run_batch` then plans in and forks its workers from this server; the
    caller stops it with :func:`webbcal.batch.warm.stop_forkserver` after the batch
    (waiting for the workers when a cluster ran, else at once).

    Parameters
    ----------
    pipeline : str
        Pipeline alias or class name to warm up (an unknown name only costs the
        warm-up of what it names; the batch reports the error itself).

    Returns
    -------
    bool
        True when a server was started here; False when this platform has no fork
        server or one is already running.
    """
    if not warm_available():
        return False
    # The server sets dask's worker environment itself: this process need not import
    # distributed first (~0.7 s), which the command line never configures in-process.
    _quiet_resource_tracker()
    with _sigint_ignored():
        return start_forkserver(pipeline, None)


@dataclass
class ExposureOutcome:
    """The outcome of one exposure in a batch.

    Attributes
    ----------
    root : str
        Exposure root.
    input : str
        Input path.
    status : {"succeeded", "failed", "skipped"}
        ``skipped``: its products already matched the request.
    error : str or None
        Why it failed.
    duration_s : float
        Processing time on the worker (0 when skipped or not run).
    attempts : int
        Runs started (more than 1 after a worker died while running it).
    products : list of str
        Product file names in the output directory.
    """

    root: str
    input: str
    status: str
    error: str | None = None
    duration_s: float = 0.0
    attempts: int = 0
    products: list[str] = field(default_factory=list)


@dataclass
class BatchResult:
    """Outcomes of a batch, in input order, with its wall time and cluster."""

    outcomes: list[ExposureOutcome]
    output_dir: str
    wall_s: float
    n_workers: int
    dashboard: str | None = None

    @property
    def ok(self) -> bool:
        """True when no exposure failed."""
        return all(o.status != "failed" for o in self.outcomes)

    def count(self, status: str) -> int:
        """Number of exposures with ``status``."""
        return sum(o.status == status for o in self.outcomes)

    def summary(self) -> str:
        """A table of every exposure and a line of totals."""
        width = max([len("exposure"), *(len(o.root) for o in self.outcomes)])
        lines = [f"{'exposure':<{width}s}  {'status':<9s}  {'time':>8s}  tries  error"]
        for o in self.outcomes:
            t = f"{o.duration_s:.1f} s" if o.status != "skipped" else "-"
            tries = str(o.attempts) if o.attempts else "-"
            lines.append(f"{o.root:<{width}s}  {o.status:<9s}  {t:>8s}  {tries:>5s}  "
                         f"{o.error or ''}".rstrip())  # fmt: skip
        ran = self.count("succeeded") + self.count("failed")
        rate = ran / self.wall_s * 60 if self.wall_s > 0 else 0.0
        lines.append(
            f"{len(self.outcomes)} exposure(s): {self.count('succeeded')} succeeded, "
            f"{self.count('failed')} failed, {self.count('skipped')} skipped in "
            f"{self.wall_s:.1f} s ({rate:.1f} exposures/min on {self.n_workers} worker(s))"
        )
        return "\n".join(lines)


def cluster_size(
    n_tasks: int,
    bytes_per_task: int,
    *,
    cpus: int | None = None,
    memory: int | None = None,
) -> tuple[int, int]:
    """Workers and per-worker memory limit of a local cluster.

    One single-threaded worker process per core, as many as the memory allows
    for the largest exposure and never more than there are exposures.

    Parameters
    ----------
    n_tasks : int
        Exposures to process.
    bytes_per_task : int
        Estimated peak memory of one exposure, in bytes.
    cpus, memory : int, optional
        Cores and bytes of memory of the machine (default: this machine).

    Returns
    -------
    n_workers : int
    memory_limit : int
        Bytes per worker.
    """
    import psutil

    cpus = cpus or os.cpu_count() or 1
    memory = memory or psutil.virtual_memory().total
    usable = int(memory * MEMORY_FRACTION)
    by_memory = max(1, usable // max(bytes_per_task, 1))
    n = max(1, min(cpus, by_memory, max(n_tasks, 1)))
    return n, usable // n


def _parse_memory(value: str | int | None) -> int | None:
    if value is None or isinstance(value, int):
        return value
    from dask.utils import parse_bytes

    try:
        return int(parse_bytes(value))
    except (ValueError, TypeError):
        raise ValueError(
            f"memory_limit={value!r}; expected bytes or a size such as '4GB' or '2.5GiB'"
        ) from None


@contextlib.contextmanager
def _client(
    client: Any, scheduler: str | None, n_workers: int | None, memory_limit: Any,
    tasks: list[ExposureTask], pipeline: str | None = None,
) -> Iterator[Any]:  # fmt: skip
    """The dask client to use: the caller's, one for ``scheduler``, or a new local cluster.

    A local cluster's workers are forked from a warm fork server (started here
    unless :func:`run_batch` started it while planning), stopped with the cluster
    when it was started here.
    """
    import dask
    from distributed import Client, LocalCluster

    if client is not None:
        yield client
        return
    if scheduler:
        with Client(scheduler) as new:
            yield new
        return
    need = max((task_bytes(t) for t in tasks), default=0)
    n, limit = cluster_size(len(tasks), need)
    if n_workers is not None:
        n = n_workers
    limit = _parse_memory(memory_limit) or limit
    log.info("Starting a local dask cluster: %d worker(s) x 1 thread, memory limit %.1f GiB "
             "each (largest exposure needs ~%.1f GiB)", n, limit / 2**30, need / 2**30)  # fmt: skip
    # the scheduler's HTTP server (dashboard with bokeh, metrics without) on a free port:
    # None would mean 8787, and a second cluster on this machine would fail to start
    dashboard = ":0"
    # Ctrl-C in a terminal signals the whole foreground process group; the driving
    # process alone handles it and closes the cluster. The workers ignore SIGINT, so
    # they print no tracebacks of their own: inherited from the start-up window below,
    # and set again by their preload (webbcal.batch.worker.dask_setup) for workers
    # restarted later.
    started = _start_warm_workers(pipeline)
    warm_start = warm_available()  # else spawned, as dask does by default
    try:
        # The start method stays set while the cluster lives: a nanny restarting a
        # worker that died forks it from the same server.
        settings = {**_WORKER_ENVIRONMENT, **_CLUSTER_SETTINGS,
                    **(_WORKER_START if warm_start else {})}  # fmt: skip
        with dask.config.set(settings):
            _quiet_resource_tracker()
            with _sigint_ignored():
                cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                       memory_limit=limit, dashboard_address=dashboard,
                                       preload=[WORKER_PRELOAD])  # fmt: skip
            with cluster, Client(cluster) as new:
                yield new
    finally:
        if started:
            stop_forkserver()


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT while worker processes start (an ignored disposition survives exec).

    A Ctrl-C during these few seconds is lost; the next one stops the batch.

    References
    ----------
    POSIX ``execve(2)``: signals set to be ignored stay ignored in the new image;
    CPython installs its KeyboardInterrupt handler only over the default disposition.
    """
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _quiet_resource_tracker() -> None:
    """Start multiprocessing's resource tracker without its leaked-semaphore warning.

    A worker killed while the cluster closes (Ctrl-C) leaves a semaphore that the
    tracker removes at exit, warning about it; the removal is what matters.
    """
    from multiprocessing import resource_tracker

    saved = list(sys.warnoptions)
    sys.warnoptions.append("ignore:resource_tracker:UserWarning")
    try:
        resource_tracker.ensure_running()
    finally:
        sys.warnoptions[:] = saved


def _silence_dask() -> None:
    """After Ctrl-C: closing the cluster logs nothing (its connections break by design)."""
    for name in ("distributed", "tornado", "asyncio"):
        logging.getLogger(name).setLevel(logging.CRITICAL + 1)


def _has_bokeh() -> bool:
    import importlib.util

    return importlib.util.find_spec("bokeh") is not None


def _dashboard(client: Any, local: bool) -> str | None:
    """The dashboard address, when the scheduler serves one (bokeh installed there)."""
    address = str(getattr(client.scheduler, "address", ""))
    here = local or address.startswith(("inproc://", "tcp://127.0.0.1", "tcp://localhost"))
    if here and not _has_bokeh():
        return None  # the scheduler runs on this machine and serves no dashboard without bokeh
    try:
        services = client.scheduler_info().get("services", {})
    except Exception:  # the dashboard is a convenience
        return None
    return client.dashboard_link if "dashboard" in services else None


def run_batch(
    inputs: Iterable[str | os.PathLike] | str,
    *,
    output_dir: str | os.PathLike,
    pipeline: str = "calwebb_detector1",
    parameters: dict[str, Any] | None = None,
    steps: dict[str, dict[str, Any]] | None = None,
    config_file: str | None = None,
    use_crds_pars: bool = True,
    force: bool = False,
    client: Any = None,
    scheduler: str | None = None,
    n_workers: int | None = None,
    memory_limit: str | int | None = None,
    progress: bool | None = None,
) -> BatchResult:
    """Process many exposures with a pipeline, in parallel, resumably.

    Parameters
    ----------
    inputs : str, path-like or iterable of them
        Files, glob patterns and JSON associations (science members).
    output_dir : str or path-like
        Directory of the products and of the manifest ``webbcal_batch_manifest.json``.
    pipeline : str
        Pipeline alias or class name (``"calwebb_detector1"``).
    parameters : dict, optional
        Pipeline parameters (e.g. ``{"save_calibrated_ramp": True}``).
    steps : dict, optional
        Step parameters, ``{"jump": {"rejection_threshold": 5}}``.
    config_file : str, optional
        ASDF parameter file (official layout).
    use_crds_pars : bool
        Merge CRDS ``pars-*`` parameter references (never when the environment sets
        ``WEBBCAL_DISABLE_CRDS_STEPPARS`` or ``STPIPE_DISABLE_CRDS_STEPPARS``, as for
        ``webbcal run``).
    force : bool
        Reprocess exposures whose products already match the request.
    client : distributed.Client, optional
        Use this client (e.g. from a notebook); it is left open.
    scheduler : str, optional
        Address of an existing scheduler (``"tcp://host:8786"``).
    n_workers : int, optional
        Workers of the local cluster (default: sized to cores and memory).
    memory_limit : str or int, optional
        Memory limit per local worker (``"4GB"``; default: the machine's share).
    progress : bool, optional
        Show a progress line on stderr (default: when stderr is a terminal).

    Returns
    -------
    BatchResult
        One outcome per exposure; ``result.ok`` says whether all succeeded.

    Raises
    ------
    ValueError
        For unknown parameters, an ``output_file`` (exposures would share it),
        or inputs that expand to nothing.
    BatchLockedError
        If another batch runs in ``output_dir``.
    webbcal.lib.spill.OutputNotWritableError
        If ``output_dir`` cannot be written.

    Notes
    -----
    CRDS is asked only here, in the calling process: workers use the references
    resolved for their exposure from the same cache (``CRDS_PATH``, which a
    remote cluster must see at the same path, like the inputs and ``output_dir``).
    """
    from ..stpipe.config import build_configuration
    from ..stpipe.pipeline import Pipeline
    from ..stpipe.registry import get_step_class

    t0 = time.monotonic()
    cls = get_step_class(pipeline)
    if not (isinstance(cls, type) and issubclass(cls, Pipeline)):
        raise ValueError(f"pipeline={pipeline!r} is a step; batch runs need a pipeline such "
                         "as 'calwebb_detector1'")  # fmt: skip
    overrides = dict(parameters or {})
    if steps:
        overrides["steps"] = steps
    for bad in ("output_file", "output_dir"):
        if overrides.get(bad) is not None:
            raise ValueError(f"{bad}={overrides[bad]!r}: a batch names its products per "
                             "exposure; give output_dir to run_batch itself")  # fmt: skip
    build_configuration(cls, None, overrides=overrides, use_crds=False)  # reject typos early
    paths = expand_inputs([inputs] if isinstance(inputs, (str, os.PathLike)) else inputs)
    out = os.path.abspath(os.fspath(output_dir))
    # Named as "not writable" before any lock or manifest file; scratch folders of
    # killed runs there are removed.
    from ..stpipe.step import CRDS_PARS_ENV, _env_true

    prepare_output_directory(out)
    cluster_used = False
    with directory_lock(out), contextlib.ExitStack() as cleanup:
        shutil.rmtree(os.path.join(out, STAGING_DIR), ignore_errors=True)  # killed earlier runs
        manifest = Manifest(out)
        warm_started = warm = False
        if client is None and not scheduler and (force or _may_have_work(manifest, paths)):
            # The planning below runs in a process forked from the warm server (it needs
            # the same imports and schemas as the workers), or here while it warms up.
            if _start_warm_workers(cls.class_alias):
                warm_started = True
                cleanup.callback(lambda: stop_forkserver(wait_s=10.0 if cluster_used else 0.0))
            # Started by the caller (start_local_workers) and owned by it: used the same way.
            warm = warm_started or forkserver_running()
            # Planning here on another core is done before the server is warm (this
            # process loads stdatamodels and the schemas itself, ~2.4 s of CPU, beside
            # the warm-up instead of after it: on the 2-core development machine the
            # first exposure starts ~0.5 s sooner).
            if warm and still_warming() and overlap_enabled():
                warm = False
        tasks, failures = plan_exposures(
            cls,
            paths,
            output_dir=out,
            overrides=overrides,
            config_file=config_file,
            use_crds_pars=use_crds_pars and not _env_true(CRDS_PARS_ENV),
            in_warm_process=warm,
        )
        outcomes: dict[str, ExposureOutcome] = {}
        for f in failures:
            outcomes[f.root] = ExposureOutcome(f.root, f.input, "failed", error=f.error)
            manifest.record(f.root, {"input": f.input, "status": "failed", "error": f.error})
        todo = []
        for task in tasks:
            if not force and manifest.is_done(task.root, task.fingerprint, out):
                entry = manifest.exposures[task.root]
                outcomes[task.root] = ExposureOutcome(
                    task.root, task.input, "skipped", products=sorted(entry["products"])
                )
            else:
                todo.append(task)
        skipped = len(tasks) - len(todo)
        if skipped:
            log.info("Skipping %d exposure(s) whose products match the request (force=True "
                     "redoes them)", skipped)  # fmt: skip
        n_workers_used = 0
        dashboard = None
        if todo:
            cluster_used = True
            with _client(client, scheduler, n_workers, memory_limit, todo,
                         cls.class_alias) as cl:  # fmt: skip
                n_workers_used = len(cl.scheduler_info().get("workers", {}))
                local = client is None and not scheduler
                dashboard = _dashboard(cl, local)
                if dashboard:
                    log.info("Dask dashboard: %s", dashboard)
                show = sys.stderr.isatty() if progress is None else progress
                try:
                    _run_tasks(cl, todo, manifest, outcomes, show=show, n_total=len(paths))
                except KeyboardInterrupt:
                    if show:
                        sys.stderr.write("\n")
                    _silence_dask()
                    raise
        shutil.rmtree(os.path.join(out, STAGING_DIR), ignore_errors=True)
    ordered = [outcomes[r] for r in _roots_in_order(paths) if r in outcomes]
    return BatchResult(ordered, out, time.monotonic() - t0, n_workers_used, dashboard)


def _may_have_work(manifest: Manifest, paths: list[str]) -> bool:
    """False when the manifest records every input as succeeded from the same file.

    A cheap look before planning (which decides for certain): a batch that will
    most likely skip everything does not start its workers' fork server.
    """
    from .inputs import exposure_root

    for path in paths:
        entry = manifest.exposures.get(exposure_root(path))
        if not entry or entry.get("status") != "succeeded" or entry.get("input") != path:
            return True
        try:
            stat = os.stat(path)
        except OSError:
            return True
        if (stat.st_size, stat.st_mtime_ns) != (entry.get("input_size"),
                                                 entry.get("input_mtime_ns")):  # fmt: skip
            return True
    return False


def _roots_in_order(paths: list[str]) -> list[str]:
    from .inputs import exposure_root

    return [exposure_root(p) for p in paths]


def _run_tasks(
    client: Any, tasks: list[ExposureTask], manifest: Manifest,
    outcomes: dict[str, ExposureOutcome], *, show: bool, n_total: int,
) -> None:  # fmt: skip
    """Submit the tasks, record each outcome as it arrives, and show progress."""
    from distributed import as_completed

    futures = {}
    for task in tasks:
        key = f"webbcal_batch-{task.root}-{uuid.uuid4().hex[:8]}"
        futures[client.submit(process_exposure, task, key=key, pure=False)] = task
    display = _Progress(client, futures, n_total, show)
    pending = as_completed(futures)
    while not pending.is_empty():
        # Without a progress line to refresh, wait for the next outcome (returned as soon
        # as it arrives); with one, look every 0.2 s.
        for future in pending.next_batch(block=not show):
            task = futures[future]
            outcome = _outcome_of(future, task)
            entry = {**task.record, **{k: v for k, v in outcome.items() if k != "products"}}
            entry["products"] = outcome.get("products", {})
            manifest.record(task.root, entry)
            result = ExposureOutcome(
                task.root, task.input, outcome["status"], error=outcome.get("error"),
                duration_s=outcome.get("duration_s", 0.0), attempts=outcome.get("attempts", 0),
                products=sorted(entry["products"]),
            )  # fmt: skip
            outcomes[task.root] = result
            display.finished(result)
            future.release()
        display.update()
        if show and not pending.is_empty():
            time.sleep(0.2)
    display.close()


def _outcome_of(future: Any, task: ExposureTask) -> dict[str, Any]:
    """The worker's outcome, or a failure when the task itself raised (e.g. KilledWorker)."""
    try:
        return future.result()
    except Exception as exc:
        name = type(exc).__name__
        if name == "KilledWorker":
            text = (f"the worker processing it died every time it was tried (killed, crashed or "
                    f"out of memory): {exc} [{name}]")  # fmt: skip
        else:
            text = f"{exc} [{name}]"
        return {"status": "failed", "error": text, "products": {}}


class _Progress:
    """Progress line (done/failed/running, throughput) or one log line per exposure."""

    def __init__(self, client: Any, futures: dict, n_total: int, show: bool) -> None:
        self.client, self.futures, self.show = client, futures, show
        self.n = len(futures)
        self.done = self.failed = 0
        self.t0 = self.last = time.monotonic()
        self.skipped = n_total - self.n

    def _running(self) -> int:
        keys = {f.key for f in self.futures if not f.done()}
        try:
            processing = self.client.processing()
        except Exception:  # best effort
            return 0
        return sum(1 for ks in processing.values() for k in ks if k in keys)

    def finished(self, outcome: ExposureOutcome) -> None:
        self.done += 1
        self.failed += outcome.status == "failed"
        if outcome.status == "failed":
            log.error("[%d/%d] %s failed: %s", self.done, self.n, outcome.root, outcome.error)
        else:
            log.info("[%d/%d] %s %s in %.1f s", self.done, self.n, outcome.root,
                     outcome.status, outcome.duration_s)  # fmt: skip

    def update(self) -> None:
        now = time.monotonic()
        if not self.show or now - self.last < 0.5:
            return
        self.last = now
        elapsed = now - self.t0
        rate = self.done / elapsed * 60 if elapsed > 0 else 0.0
        sys.stderr.write(
            f"\rbatch: {self.done - self.failed} done, {self.failed} failed, "
            f"{self._running()} running, {self.n - self.done} to go of {self.n} "
            f"({self.skipped} skipped) | {rate:.1f} exposures/min | {elapsed:.0f} s  "
        )
        sys.stderr.flush()

    def close(self) -> None:
        if self.show:
            self.last = 0.0
            self.update()
            sys.stderr.write("\n")
            sys.stderr.flush()
