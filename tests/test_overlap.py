"""lib.overlap: work beside a compiled kernel gives the results of running it in turn."""

from __future__ import annotations

import os

import pytest

from webbcal.lib.overlap import overlap_enabled, run_beside, start_beside


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


def test_overlap_can_be_turned_off(monkeypatch):
    monkeypatch.setenv("WEBBCAL_OVERLAP", "0")
    assert not overlap_enabled()
    monkeypatch.setenv("WEBBCAL_OVERLAP", "1")
    assert overlap_enabled() == (len(os.sched_getaffinity(0)) > 1)
