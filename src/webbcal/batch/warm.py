"""Warm start of a local cluster's workers: a fork server that has loaded the pipeline.

Each worker process of a local cluster used to be spawned as a fresh
interpreter, and its first exposure paid the start-up of everything the
pipeline uses: importing dask, webbcal, stdatamodels and the step kernels
(compiled numba functions are loaded from the cache only when called), and
asdf's extension registry with the core JWST schemas (about 1 s on its own).
Measured on the shared 2-core machine: ~9.0 s CPU for a first full-frame
calwebb_detector1 exposure in a new process against ~4.3 s for the next one.

Instead, the driving process starts one multiprocessing *fork server* as
soon as it knows that a local cluster will be needed (before it plans the
exposures, so the two overlap), with this module as its preload: importing it
there does that start-up once (:func:`warm_up`). Every worker process is then
forked from the warm server and starts its first exposure with the imports
and schemas in place. The server is single-threaded when it forks: the
warm-up imports and builds models, it runs no numba kernel (numba's threads
start in each worker, see ``webbcal.batch.worker._limit_threads``).

References
----------
Python documentation, ``multiprocessing`` "Contexts and start methods"
(forkserver, ``set_forkserver_preload``); dask.distributed configuration
``distributed.worker.multiprocessing-method`` and
``distributed.nanny.pre-spawn-environ``. https://distributed.dask.org
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import signal
import time
from collections.abc import Iterator
from typing import Any

__all__ = [
    "MALLOC_ENVIRONMENT",
    "PIPELINE_ENV",
    "WORKER_ENVIRONMENT",
    "available",
    "dask_worker_environment",
    "forkserver_running",
    "start_forkserver",
    "still_warming",
    "stop_forkserver",
    "warm_up",
]

log = logging.getLogger(__name__)

#: Environment variable naming the pipeline the fork server warms up (read and removed
#: by this module when the server imports it).
PIPELINE_ENV = "WEBBCAL_BATCH_WARM_PIPELINE"

#: Environment variable telling the fork server to set dask's worker environment itself
#: (:func:`dask_worker_environment`) before its warm-up (read and removed there).
_DASK_ENVIRONMENT_ENV = "WEBBCAL_BATCH_WARM_DASK_ENVIRONMENT"

#: dask.distributed sets ``MALLOC_TRIM_THRESHOLD_=65536`` in the environment of the worker
#: processes it spawns, so that glibc hands freed memory back to the system at once. Setting
#: any such variable also turns off glibc's adaptive mmap threshold: every array above
#: 128 KiB is then a fresh mapping whose pages are faulted in and zeroed again, and the
#: pipeline allocates and frees hundreds of full-frame arrays per exposure. Measured on one
#: full-frame exposure (2048 x 2048, 10 groups): 5.5x the page faults and 2.3 s instead of
#: 0.8 s of system time. Local-cluster workers are spawned without it (the memory a
#: process keeps for reuse stays far below its memory limit).
WORKER_ENVIRONMENT = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}

#: glibc's allocator settings of the fork server, inherited by every worker forked from it
#: (glibc reads them when a process starts, so they are set for the server's start). With
#: the adaptive threshold, a worker still maps and faults in most full-frame work arrays
#: afresh on every exposure (~45,000 page faults, ~0.1-0.2 s of system time per full
#: frame); served from the heap (arrays up to 32 MiB, the largest threshold every glibc
#: accepts) and not trimmed back below 1 GiB of free heap, a warm worker's exposures fault
#: in ~150 pages, and its resident size stays what it was (~0.68 GB after a full frame in
#: both cases). That heap is the main arena's: a dask worker runs its tasks in a thread of
#: its own, which glibc otherwise serves from a separate arena of 64 MiB heaps that are
#: unmapped and mapped again as they empty and fill (the trim threshold does not hold
#: them): 33,000-78,000 page faults and ~0.1-0.2 s more system time per full frame after
#: the second exposure of a worker, ~150 faults with one arena. A variable the user has
#: set is left as it is.
MALLOC_ENVIRONMENT = {"MALLOC_MMAP_THRESHOLD_": str(32 * 2**20),
                      "MALLOC_TRIM_THRESHOLD_": str(2**30),
                      "MALLOC_ARENA_MAX": "1"}  # fmt: skip


#: CPU seconds a fork server's warm-up takes on the 2-core development machine (imports,
#: asdf's registry and the schemas: ~3 s); within this time of its start it is taken to be
#: still warming up (:func:`still_warming`).
WARM_UP_S = 3.0

#: ``time.monotonic()`` when this process started its fork server; None when it did not.
_started_at: float | None = None


def still_warming() -> bool:
    """Whether this process started its fork server less than :data:`WARM_UP_S` ago.

    A batch plans its exposures in the driving process while the server is still
    warming up on another core (see :func:`webbcal.batch.runner.run_batch`),
    instead of waiting for it and planning in a process forked from it.
    """
    return _started_at is not None and time.monotonic() - _started_at < WARM_UP_S


def dask_worker_environment() -> dict[str, str]:
    """The variables dask sets before it starts a worker process (with our settings).

    Computed from dask's configuration with distributed's defaults, as
    ``distributed.nanny`` does, without importing distributed (which imports
    numpy): the fork server sets them before numpy reads ``OMP_NUM_THREADS``
    and the like.

    Returns
    -------
    dict of str to str
        ``distributed.nanny.pre-spawn-environ`` with :data:`WORKER_ENVIRONMENT`
        applied; a variable already set in this process keeps its value.
    """
    import importlib.util

    import dask.config
    import yaml

    spec = importlib.util.find_spec("distributed")
    if spec is None or not spec.submodule_search_locations:
        return {}
    defaults = os.path.join(list(spec.submodule_search_locations)[0], "distributed.yaml")
    try:
        with open(defaults) as fh:
            dask.config.update_defaults(yaml.safe_load(fh))
    except OSError:
        return {}
    with dask.config.set(WORKER_ENVIRONMENT):  # read within: leaving it restores the values
        values = dask.config.get("distributed.nanny.pre-spawn-environ", default={}) or {}
        return {str(k): os.environ.get(str(k), str(v)) for k, v in values.items() if v is not None}


def warm_up(pipeline: str | None) -> list[str]:
    """Import what a batch worker needs and load the JWST schemas, in this process.

    Parameters
    ----------
    pipeline : str or None
        Pipeline alias (``"calwebb_detector1"``); its class, its steps and the
        modules it names in ``batch_warm_modules`` are imported, and the models it
        names in ``batch_warm_models`` built empty. None: dask and the core
        data-model schemas only. In both cases numba's CPU target is set up
        (by a small cached function that starts no threads).

    Returns
    -------
    list of str
        What could not be loaded (``"module: error"``); warm-up is an
        optimisation, so nothing here raises.
    """
    problems: list[str] = []
    modules = ["distributed.nanny", "distributed.worker", "webbcal.batch.worker", "numba"]
    models = ["JwstDataModel"]
    if pipeline:
        try:
            from ..stpipe.registry import get_step_class

            cls = get_step_class(pipeline)
            modules += list(getattr(cls, "batch_warm_modules", ()))
            models += list(getattr(cls, "batch_warm_models", ()))
        except Exception as exc:
            problems.append(f"{pipeline}: {exc}")
    with _no_numba_threads():
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception as exc:
                problems.append(f"{name}: {exc}")
        # numba's CPU target (typing and code-generation contexts), set up by the first
        # compiled call of a process: ~0.3 s of CPU each worker's first exposure paid.
        try:
            from ._numba_target import start_target

            start_target()
        except Exception as exc:
            problems.append(f"numba target: {exc}")
    # The first model of a process builds asdf's extension registry and loads the core
    # schemas; later models of other classes add only their own schema.
    for name in models:
        try:
            from stdatamodels.jwst import datamodels as dm

            getattr(dm, name)().close()
        except Exception as exc:
            problems.append(f"{name}: {exc}")
    return problems


class ThreadsRefusedError(RuntimeError):
    """Raised in the fork server by whatever would start numba's thread pool."""


@contextlib.contextmanager
def _no_numba_threads() -> Iterator[None]:
    """Refuse to start numba's threading layer while the block runs.

    A process must not fork once the OpenMP layer has started its threads (the
    child is terminated), and loading a cached ``parallel=True`` kernel compiled
    for an explicit signature starts them at import. Such a module then fails to
    import here and is imported by each worker instead.

    References
    ----------
    Numba documentation, "The Threading Layers" (fork safety of ``omp``).
    """
    try:
        from numba.np.ufunc import parallel
    except Exception:  # no numba: nothing to guard
        yield
        return
    if getattr(parallel, "_is_initialized", False):
        yield
        return
    launch = parallel._launch_threads

    def refuse() -> None:
        raise ThreadsRefusedError("numba threads are not started in the fork server")

    parallel._launch_threads = refuse
    try:
        yield
    finally:
        parallel._launch_threads = launch


def _forkserver() -> Any:
    from multiprocessing import forkserver

    return getattr(forkserver, "_forkserver", None)


def available() -> bool:
    """True where multiprocessing offers the fork-server start method (not on Windows)."""
    import multiprocessing

    return "forkserver" in multiprocessing.get_all_start_methods()


def forkserver_running() -> bool:
    """True when this process has a live multiprocessing fork server."""
    server = _forkserver()
    pid = getattr(server, "_forkserver_pid", None)
    if pid is None:
        return False
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return False
    return done == 0


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def start_forkserver(pipeline: str | None, environment: dict[str, str] | None) -> bool:
    """Start this process's fork server, preloaded with a warm-up for ``pipeline``.

    Parameters
    ----------
    pipeline : str or None
        Pipeline alias to warm up (see :func:`warm_up`).
    environment : dict of str to str, or None
        Variables the workers must have from their start (dask's
        ``distributed.nanny.pre-spawn-environ``, e.g. ``OMP_NUM_THREADS``): forked
        workers inherit the server's environment, not the driving process's.
        They are set for the server only; this process is left as it was. None:
        the server sets :func:`dask_worker_environment` itself, first thing, and
        this process need not import distributed before the server starts (the
        caller must then not change dask's configuration of workers in-process).

    Returns
    -------
    bool
        True when a server was started here; False when one was already running
        (it is reused, warm or not).

    Notes
    -----
    The server inherits this process's signal dispositions: call it with SIGINT
    ignored so that the workers forked from it ignore Ctrl-C from their start.
    """
    import multiprocessing

    if not available() or forkserver_running():
        return False
    from multiprocessing import forkserver

    context = multiprocessing.get_context("forkserver")
    if environment is None:
        # The server computes it; distributed, imported later, may set its own preload
        # list then, which no longer matters once the server runs.
        environment = {_DASK_ENVIRONMENT_ENV: "1"}
    else:
        # distributed sets its own preload list once per process; ours replaces it.
        with contextlib.suppress(Exception):
            import dask
            from distributed.utils import get_mp_context  # its config defaults first

            with dask.config.set({"distributed.worker.multiprocessing-method": "forkserver"}):
                get_mp_context()
    context.set_forkserver_preload([__name__])
    malloc = {k: v for k, v in MALLOC_ENVIRONMENT.items() if k not in os.environ}
    with _environment({**malloc, **environment, PIPELINE_ENV: pipeline or ""}):
        forkserver.ensure_running()
    global _started_at
    _started_at = time.monotonic()
    log.debug("Started a fork server (pid %s) warming up %s", _forkserver()._forkserver_pid,
              pipeline)  # fmt: skip
    return True


def stop_forkserver(*, wait_s: float = 10.0) -> None:
    """Stop this process's fork server and reap it (its CPU time then counts as ours).

    The server exits once every process holding its "alive" pipe (this one and
    the workers forked from it) has closed it; after ``wait_s`` seconds, or at
    once when ``wait_s`` is 0 (e.g. no worker was ever forked), it is terminated.
    """
    server = _forkserver()
    pid = getattr(server, "_forkserver_pid", None)
    if server is None or pid is None:
        return
    with server._lock:
        fd = server._forkserver_alive_fd
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)
        deadline = time.monotonic() + wait_s
        try:
            while True:
                done, _ = os.waitpid(pid, os.WNOHANG)
                if done:
                    break
                if time.monotonic() >= deadline:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGTERM)
                    os.waitpid(pid, 0)
                    break
                time.sleep(0.02)
        except ChildProcessError:
            pass
        address = server._forkserver_address
        if isinstance(address, str) and not address.startswith("\0"):
            with contextlib.suppress(OSError):
                os.unlink(address)
        server._forkserver_alive_fd = None
        server._forkserver_address = None
        server._forkserver_pid = None
    global _started_at
    _started_at = None


def _preload() -> None:
    """Run when the fork server imports this module: warm up the named pipeline."""
    if PIPELINE_ENV not in os.environ:
        return
    pipeline = os.environ.pop(PIPELINE_ENV) or None  # the workers need not see it
    import gc

    # The warm-up creates ~200,000 objects that live as long as the process; the
    # collections the interpreter would start among them find almost nothing to free
    # (~6,000 objects, 1.5 MB) and cost 0.4-0.5 s of its ~1.9 s of CPU (the driver's
    # planning beside it takes as long, so the workers did not start measurably
    # sooner). Off while it runs, on again in the server (and the workers).
    enabled = gc.isenabled()
    gc.disable()
    try:
        if os.environ.pop(_DASK_ENVIRONMENT_ENV, None):
            with contextlib.suppress(Exception):  # else the workers get dask's own settings
                os.environ.update(dask_worker_environment())
        warm_up(pipeline)
        _freeze_heap()
    finally:
        if enabled:
            gc.enable()


def _freeze_heap() -> None:
    """Exempt everything the warm-up created from the cyclic garbage collector.

    The modules, schemas and caches loaded by :func:`warm_up` (about 200,000
    objects) live as long as the process; a full collection in a worker (the
    streaming executor runs one per exposure, and the interpreter more as
    objects pile up) would walk them every time, ~0.1 s of CPU each on the
    shared 2-core machine, 0 s once they are frozen. Workers forked from the
    server inherit the frozen generation; what they create themselves is
    collected as usual. The objects are never freed, as they would not be anyway.
    No collection runs first (0.1 s on the path to the first exposure): the
    warm-up's few unreachable cycles stay frozen with the rest.

    References
    ----------
    Python documentation, ``gc.freeze`` (meant to be called before ``fork``).
    """
    import gc

    gc.freeze()


_preload()
