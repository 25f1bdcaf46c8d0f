"""lib.forkmap: tasks in forked children give what running them here gives."""

from __future__ import annotations

import logging
import os
import threading
import warnings

import numpy as np
import pytest

from webbcal.lib.forkmap import ForkPool, fork_available


@pytest.fixture(autouse=True)
def _forking():
    """Skip where this process may not fork now (e.g. numba's OpenMP threads were
    started by an earlier test's parallel kernel)."""
    if not fork_available():
        if os.environ.get("WEBBCAL_TEST_REQUIRE_FORK"):
            pytest.fail("this process was started to test the forked paths but may not fork")
        pytest.skip("no fork in this process now (lib.forkmap.fork_available)")


log = logging.getLogger("webbcal.test_forkmap")


def _square_sum(values, power=2):
    return float(np.sum(np.asarray(values, float) ** power))


def _pid():
    return os.getpid()


def _logs_and_warns(text):
    log.info("child says %s", text)
    log.debug("not shown at INFO")
    warnings.warn(f"careful: {text}", UserWarning, stacklevel=1)
    return text.upper()


def _fails():
    raise ValueError("bad member 3: DQ missing")


def _unpicklable():
    return threading.Lock()


def test_results_come_back_in_order_from_other_processes():
    data = [np.arange(n) for n in range(1, 7)]
    with ForkPool(2) as pool:
        pending = [pool.submit(_square_sum, d, power=3) for d in data]
        pids = [pool.submit(_pid) for _ in range(3)]
        got = [p() for p in pending]
        child_pids = {p() for p in pids}
    assert got == [_square_sum(d, power=3) for d in data]
    assert os.getpid() not in child_pids


def test_logs_and_warnings_of_the_child_reach_the_parent(caplog):
    with caplog.at_level(logging.INFO, logger="webbcal.test_forkmap"), ForkPool(2) as pool:
        pending = pool.submit(_logs_and_warns, "hello")
        with pytest.warns(UserWarning, match="careful: hello"):
            assert pending() == "HELLO"
    messages = [r.getMessage() for r in caplog.records if r.name == "webbcal.test_forkmap"]
    assert messages == ["child says hello"]


def test_an_error_in_the_child_is_raised_in_the_parent():
    with ForkPool(2) as pool:
        pending = pool.submit(_fails)
        with pytest.raises(ValueError, match="bad member 3: DQ missing"):
            pending()


def test_an_unpicklable_result_is_reported():
    with ForkPool(2) as pool:
        pending = pool.submit(_unpicklable)
        with pytest.raises(RuntimeError, match="cannot be sent back"):
            pending()


def test_no_worker_or_overlap_off_runs_here(monkeypatch):
    with ForkPool(0) as pool:
        assert pool.submit(_pid)() == os.getpid()
    with ForkPool(1) as pool:
        assert pool.submit(_pid)() != os.getpid()
    with ForkPool(2) as pool:
        assert pool.run_here(_pid)() == os.getpid()
        with pytest.raises(ValueError, match="bad member 3"):
            pool.run_here(_fails)()
    monkeypatch.setenv("WEBBCAL_OVERLAP", "0")
    assert not fork_available()
    with ForkPool(2) as pool:
        assert pool.submit(_pid)() == os.getpid()


def test_results_not_taken_are_reaped_on_close():
    with ForkPool(2) as pool:
        for _ in range(4):
            pool.submit(_square_sum, [1, 2])
    assert pool._all == [] and pool._running == []


def test_no_fork_while_another_thread_runs():
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        assert not fork_available()
        with ForkPool(2) as pool:
            assert pool.submit(_pid)() == os.getpid()
    finally:
        release.set()
        other.join()
    assert fork_available()


def _large_arrays(seed):
    rng = np.random.default_rng(seed)
    image = rng.normal(size=(700, 600)).astype(">f4")  # 1.6 MB, big-endian like FITS
    pixmap = rng.normal(size=(2, 400, 500))  # 3.2 MB float64
    mask = rng.random((1200, 1100)) < 0.5  # 1.3 MB bool
    strided = rng.normal(size=(800, 800))[::2, ::3]  # not contiguous: through the pipe
    fortran = np.asfortranarray(rng.normal(size=(512, 300)))  # 1.2 MB, F order
    small = np.arange(10)
    return {"image": image, "maps": [("nrca1", pixmap)], "mask": mask,
            "strided": strided, "fortran": fortran, "small": small}  # fmt: skip


def test_large_arrays_come_back_equal_and_writable():
    # arrays of 1 MiB or more come back through shared memory: same values, dtype,
    # byte order and memory order as made here, writable, independent of each other
    expected = _large_arrays(5)
    with ForkPool(1) as pool:
        got = [pool.submit(_large_arrays, 5) for _ in range(2)]
        first, second = got[0](), got[1]()
    for key in ("image", "mask", "strided", "fortran", "small"):
        assert first[key].dtype == expected[key].dtype
        assert first[key].flags.f_contiguous == expected[key].flags.f_contiguous
        np.testing.assert_array_equal(first[key], expected[key])
    np.testing.assert_array_equal(first["maps"][0][1], expected["maps"][0][1])
    assert first["maps"][0][0] == "nrca1"
    first["image"][0, 0] = 1e6
    first["maps"][0][1][:] = 0.0
    assert second["image"][0, 0] == expected["image"][0, 0]
    np.testing.assert_array_equal(second["maps"][0][1], expected["maps"][0][1])


def test_large_arrays_through_the_pipe_without_shared_memory(monkeypatch):
    # where no shared-memory file can be made (no memfd_create), everything comes back
    # through the pipe: the same values
    monkeypatch.setattr("webbcal.lib.forkmap._new_shared_fd", lambda: None)
    expected = _large_arrays(6)
    with ForkPool(1) as pool:
        got = pool.submit(_large_arrays, 6)()
    for key in ("image", "mask", "strided", "fortran", "small"):
        assert got[key].dtype == expected[key].dtype
        np.testing.assert_array_equal(got[key], expected[key])
    np.testing.assert_array_equal(got["maps"][0][1], expected["maps"][0][1])
