"""PixelMapStore: maps kept by name within a byte budget, returned once, never ambiguous."""

from __future__ import annotations

import numpy as np

from webbcal.resample import PixelMapStore


def _map(value, shape=(4, 5)):
    return np.full((*shape, 2), float(value))


def test_maps_are_returned_once_for_matching_parameters():
    store = PixelMapStore(10_000, tolerance=1e-3, initial_step=128)
    a = _map(1.0)
    assert store.offer("a.fits", a) and store.held_bytes == a.nbytes == 320
    assert store.take("a.fits", (4, 5), tolerance=1e-3, initial_step=128) is a
    assert store.held_bytes == 0
    assert store.take("a.fits", (4, 5), tolerance=1e-3, initial_step=128) is None


def test_other_shape_or_parameters_give_nothing():
    store = PixelMapStore(10_000, tolerance=1e-3, initial_step=128)
    for name in "abc":
        store.offer(name, _map(2.0))
    assert store.take("a", (5, 4), tolerance=1e-3, initial_step=128) is None
    assert store.take("b", (4, 5), tolerance=5e-4, initial_step=128) is None
    assert store.take("c", (4, 5), tolerance=1e-3, initial_step=64) is None
    assert store.held_bytes == 0


def test_budget_limits_the_maps_held():
    store = PixelMapStore(700, tolerance=1e-3, initial_step=128)  # two maps of 320 bytes
    assert [store.offer(n, _map(k)) for k, n in enumerate("abc")] == [True, True, False]
    assert store.held_bytes == 640
    assert store.take("c", (4, 5), tolerance=1e-3, initial_step=128) is None
    store.clear()
    assert store.held_bytes == 0
    assert store.take("a", (4, 5), tolerance=1e-3, initial_step=128) is None


def test_a_name_offered_twice_is_never_returned():
    store = PixelMapStore(10_000, tolerance=1e-3, initial_step=128)
    assert store.offer("<model>", _map(1.0))
    assert not store.offer("<model>", _map(2.0))
    assert not store.offer("<model>", _map(3.0))
    assert store.held_bytes == 0
    assert store.take("<model>", (4, 5), tolerance=1e-3, initial_step=128) is None
