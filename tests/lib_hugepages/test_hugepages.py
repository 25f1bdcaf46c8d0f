"""The huge-page advice switch is off inside the block and restored after it."""

import numpy as np
import pytest

from webbcal.lib import hugepages


def _current(setter):
    previous = setter(True)
    setter(previous)
    return previous


@pytest.fixture
def setter():
    setter = hugepages._setter()
    if setter is None:
        pytest.skip("this numpy has no huge-page switch")
    before = _current(setter)
    yield setter
    setter(before)


@pytest.mark.parametrize("initial", [True, False])
def test_advice_off_inside_and_restored(setter, initial, monkeypatch):
    monkeypatch.delenv("WEBBCAL_HUGEPAGES", raising=False)
    setter(initial)
    with hugepages.without_hugepage_advice():
        assert _current(setter) is False
        np.ones(2**22)  # allocations work as usual
    assert _current(setter) is initial


def test_restored_after_an_error(setter, monkeypatch):
    monkeypatch.delenv("WEBBCAL_HUGEPAGES", raising=False)
    setter(True)
    with pytest.raises(RuntimeError), hugepages.without_hugepage_advice():
        raise RuntimeError("boom")
    assert _current(setter) is True


def test_environment_keeps_numpy_setting(setter, monkeypatch):
    monkeypatch.setenv("WEBBCAL_HUGEPAGES", "1")
    setter(True)
    with hugepages.without_hugepage_advice():
        assert _current(setter) is True


def test_detector1_runs_without_advice(setter, monkeypatch):
    from webbcal.pipeline import detector1

    monkeypatch.delenv("WEBBCAL_HUGEPAGES", raising=False)
    setter(True)
    seen = []
    monkeypatch.setattr(
        detector1.Detector1Pipeline, "_process", lambda self, model: seen.append(_current(setter))
    )
    detector1.Detector1Pipeline().calibrate(object())
    assert seen == [False]
    assert _current(setter) is True
