"""run_beside: the foreground starts when the worker enters its kernel; errors come back."""

import threading
import time

import numpy as np
import pytest

from webbcal.lib import overlap


def test_foreground_starts_after_the_worker_enters_and_both_results_return():
    events = []
    lock = threading.Lock()

    def background(entering):
        with lock:
            events.append("worker setup")
        time.sleep(0.05)  # the foreground must not start during this
        entering()
        entering()  # later calls do nothing
        with lock:
            events.append("worker kernel")
        return np.arange(3).sum()

    def foreground():
        with lock:
            events.append("foreground")
        return "sci"

    result = overlap.run_beside(background, foreground)
    assert result == (3, "sci")
    assert events.index("worker setup") < events.index("foreground")


def test_a_worker_that_never_enters_still_lets_the_foreground_run():
    assert overlap.run_beside(lambda entering: 7, lambda: 8) == (7, 8)


def test_errors_of_either_side_are_raised_in_the_caller():
    def bad_background(entering):
        entering()
        raise ValueError("planes failed")

    with pytest.raises(ValueError, match="planes failed"):
        overlap.run_beside(bad_background, lambda: None)

    def bad_foreground():
        raise RuntimeError("sci failed")

    with pytest.raises(RuntimeError, match="sci failed"):
        overlap.run_beside(lambda entering: 1, bad_foreground)


def test_the_environment_variable_turns_the_overlap_off(monkeypatch):
    monkeypatch.setenv(overlap.ENV_VARIABLE, "0")
    assert not overlap.overlap_enabled()
    monkeypatch.setenv(overlap.ENV_VARIABLE, "1")
    monkeypatch.setattr(overlap.os, "sched_getaffinity", lambda pid: {0})
    assert not overlap.overlap_enabled()
    monkeypatch.setattr(overlap.os, "sched_getaffinity", lambda pid: {0, 1})
    assert overlap.overlap_enabled()
