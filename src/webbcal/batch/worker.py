"""What runs on a dask worker: one exposure, with pre-resolved references, staged output.

A task writes its products into a private staging directory
(``<output_dir>/.webbcal_staging/<root>.<random>``) and renames them into the
output directory only after the pipeline finished, the main product last,
each flushed to disk and dropped from the page cache first
(:func:`webbcal.batch.manifest.product_digest` with ``release``).
A worker killed mid-task therefore leaves only a staging directory, which
the next attempt of the same exposure (or the next batch) removes; a product
in the output directory is always complete. Exceptions are caught and
returned as a failed outcome, so dask retries a task only when its worker
died.
"""

from __future__ import annotations

import glob
import logging
import os
import shutil
import socket
import tempfile
import threading
import time
from datetime import UTC, datetime
from typing import Any

from .manifest import product_digest
from .plan import ExposureTask

__all__ = ["STAGING_DIR", "WORKER_PRELOAD", "dask_setup", "process_exposure"]

log = logging.getLogger(__name__)

STAGING_DIR = ".webbcal_staging"
#: Module the local cluster's workers preload (its :func:`dask_setup` runs in each).
WORKER_PRELOAD = __name__

# One exposure at a time per process: the pipeline's log capture, the CRDS
# environment and numba's threads are per process, whatever the worker's
# thread count.
_PROCESS_LOCK = threading.Lock()


def dask_setup(worker: Any) -> None:
    """Preload hook of the local cluster's worker processes: leave Ctrl-C to the driver.

    A terminal's Ctrl-C signals every process of the foreground group; the
    driving process handles it and closes the cluster, so the workers ignore
    SIGINT and print no KeyboardInterrupt tracebacks, and tasks cancelled while
    the cluster closes are not reported again by each worker's state machine.

    References
    ----------
    Dask.distributed documentation, "Customizing initialization" (preload
    modules and ``dask_setup``). https://distributed.dask.org
    """
    import signal

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.getLogger("distributed.worker.state_machine").setLevel(logging.ERROR)


def _remove_stale_staging(staging_root: str, root: str) -> int:
    """Remove staging directories of earlier, killed attempts of ``root``; return their count."""
    stale = glob.glob(os.path.join(glob.escape(staging_root), glob.escape(root) + ".*"))
    for path in stale:
        shutil.rmtree(path, ignore_errors=True)
    return len(stale)


def process_exposure(task: ExposureTask) -> dict[str, Any]:
    """Run the task's pipeline on one exposure and publish its products.

    Parameters
    ----------
    task : ExposureTask
        The planned exposure.

    Returns
    -------
    dict
        ``status`` ("succeeded" or "failed"), ``error`` (str or None),
        ``products`` ({file name: {"size", "sha256"}}), ``started`` (ISO UTC),
        ``duration_s``, ``worker`` ("host:pid") and ``attempts`` (1 + earlier
        attempts killed with their worker).
    """
    with _PROCESS_LOCK:
        _limit_threads()
        return _process(task)


def _limit_threads() -> None:
    """Give numba's parallel kernels the worker's thread count (its share of the cores).

    Without this every worker process would start one numba thread per core
    and the processes would oversubscribe the machine.
    """
    try:
        from distributed import get_worker

        nthreads = int(get_worker().state.nthreads)
    except (ImportError, ValueError, AttributeError):
        return  # not on a dask worker
    import numba

    numba.set_num_threads(max(1, min(nthreads, numba.config.NUMBA_NUM_THREADS)))


def _process(task: ExposureTask) -> dict[str, Any]:
    from ..crds_client import crds_environment
    from ..stpipe.registry import get_step_class

    started = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    t0 = time.monotonic()
    staging_root = os.path.join(task.output_dir, STAGING_DIR)
    os.makedirs(staging_root, exist_ok=True)
    attempts = 1 + _remove_stale_staging(staging_root, task.root)
    staging = tempfile.mkdtemp(prefix=task.root + ".", dir=staging_root)
    outcome: dict[str, Any] = {
        "status": "failed", "error": None, "products": {}, "started": started,
        "worker": f"{socket.gethostname()}:{os.getpid()}", "attempts": attempts,
    }  # fmt: skip
    try:
        cls = get_step_class(task.pipeline)
        configuration = dict(task.parameters)
        configuration.update(output_dir=staging, save_results=True, output_file=None)
        if "progress" in cls.param_specs():
            configuration["progress"] = False
        pipe = cls.from_configuration(configuration)
        pipe.use_references(task.references)
        # Offline, on the context the references came from: a worker never asks
        # a CRDS server or writes into the cache.
        with crds_environment(task.crds_path, None, task.context):
            pipe.run(task.input)
        outcome["products"] = _publish(staging, task.output_dir, task.root + "_" +
                                       pipe.output_suffix + ".fits")  # fmt: skip
        outcome["status"] = "succeeded"
    except Exception as exc:  # reported per exposure; the batch goes on
        outcome["error"] = f"{exc} [{type(exc).__name__}]"
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        outcome["duration_s"] = round(time.monotonic() - t0, 3)
    return outcome


def _publish(staging: str, output_dir: str, main_product: str) -> dict[str, dict[str, Any]]:
    """Move the staged products into ``output_dir`` (the main product last)."""
    names = sorted(n for n in os.listdir(staging) if not n.startswith("."))
    if not names:
        raise RuntimeError(f"the pipeline wrote no product into {staging}")
    names.sort(key=lambda n: n == main_product)
    # Durable (and out of the page cache) before they are renamed into place.
    digests = {n: product_digest(os.path.join(staging, n), release=True) for n in names}
    for name in names:
        os.replace(os.path.join(staging, name), os.path.join(output_dir, name))
    return digests
