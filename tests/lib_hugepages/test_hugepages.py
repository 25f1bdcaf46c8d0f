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


def test_pipeline_runs_without_advice(setter, monkeypatch):
    """A pipeline's (or step's) top-level run allocates without the advice, on success
    and on failure, and restores numpy's setting afterwards."""
    from stdatamodels.jwst import datamodels as dm

    from webbcal.pipeline import detector1

    monkeypatch.delenv("WEBBCAL_HUGEPAGES", raising=False)
    setter(True)
    seen = []

    def process(self, model, fail=False):
        seen.append(_current(setter))
        if fail:
            raise RuntimeError("boom")
        return model

    monkeypatch.setattr(detector1.Detector1Pipeline, "_run_model", process)
    pipe = detector1.Detector1Pipeline(save_results=False)
    pipe.run(dm.RampModel((1, 2, 4, 4)))
    assert seen == [False]
    assert _current(setter) is True
    monkeypatch.setattr(detector1.Detector1Pipeline, "_run_model",
                        lambda self, model: process(self, model, fail=True))  # fmt: skip
    with pytest.raises(RuntimeError):
        pipe.run(dm.RampModel((1, 2, 4, 4)))
    assert seen == [False, False]
    assert _current(setter) is True
