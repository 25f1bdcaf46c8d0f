"""lib.overlap: work beside a compiled kernel gives the results of running it in turn."""

from __future__ import annotations

import pytest

import webbcal.lib.overlap as overlap_module
from webbcal.lib.overlap import ENV_VARIABLE, overlap_enabled, run_beside, start_beside


def test_run_beside_returns_both_results_and_calls_entering_first():
    order = []

    def background(entering):
        order.append("background")
        entering()
        entering()  # a second call does nothing
        return 1

    def foreground():
        order.append("foreground")
        return 2

    assert run_beside(background, foreground) == (1, 2)
    assert order == ["background", "foreground"]


def test_run_beside_starts_the_foreground_when_the_background_never_enters():
    assert run_beside(lambda entering: "b", lambda: "f") == ("b", "f")


def test_run_beside_raises_the_background_error_after_the_foreground():
    done = []

    def background(entering):
        raise ValueError("bad plane")

    with pytest.raises(ValueError, match="bad plane"):
        run_beside(background, lambda: done.append(True))
    assert done == [True]


def test_start_beside_joins_later_with_the_result():
    calls = []

    def background(entering):
        entering()
        calls.append("worker")
        return 7

    beside = start_beside(background)
    calls.append("caller")
    assert beside.join() == 7
    assert sorted(calls) == ["caller", "worker"]


def test_errors_of_either_side_are_raised_in_the_caller():
    def bad_background(entering):
        entering()
        raise ValueError("planes failed")

    with pytest.raises(ValueError, match="planes failed"):
        run_beside(bad_background, lambda: None)

    def bad_foreground():
        raise RuntimeError("sci failed")

    with pytest.raises(RuntimeError, match="sci failed"):
        run_beside(lambda entering: 1, bad_foreground)


def test_the_environment_variable_turns_the_overlap_off(monkeypatch):
    monkeypatch.setenv(ENV_VARIABLE, "0")
    assert not overlap_enabled()
    monkeypatch.setenv(ENV_VARIABLE, "1")
    monkeypatch.setattr(overlap_module.os, "sched_getaffinity", lambda pid: {0})
    assert not overlap_enabled()
    monkeypatch.setattr(overlap_module.os, "sched_getaffinity", lambda pid: {0, 1})
    assert overlap_enabled()
