"""Fixtures for the CRDS client tests: tiny reference files and env isolation."""

import os

import asdf
import numpy as np
import pytest
from stdatamodels.jwst import datamodels

from webbcal.crds_client import reset_crds_state


@pytest.fixture(autouse=True)
def _isolated_crds_env(monkeypatch, tmp_path):
    """Each test starts with no CRDS_* variables and HOME in tmp (so ~/crds_cache is empty)."""
    saved = {k: v for k, v in os.environ.items() if k.startswith("CRDS_")}
    for key in saved:
        monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    reset_crds_state()
    yield
    for key in [k for k in os.environ if k.startswith("CRDS_")]:
        del os.environ[key]
    os.environ.update(saved)
    reset_crds_state()


def _make_gain(path, detector, subarray, value, *, instrument="NIRCAM"):
    """Write a 4x4 GAIN reference filled with ``value``; return its path as str."""
    with datamodels.GainModel(data=np.full((4, 4), value, dtype=np.float32)) as model:
        model.meta.telescope = "JWST"
        model.meta.instrument.name = instrument
        model.meta.instrument.detector = detector
        model.meta.subarray.name = subarray
        model.meta.reftype = "GAIN"
        model.meta.author = "webbcal tests"
        model.meta.pedigree = "DUMMY"
        model.meta.description = "tiny test gain"
        model.meta.useafter = "2014-01-01T00:00:00"
        model.save(path)
    return str(path)


def _make_pars(path, step_class, **parameters):
    """Write an ASDF step-parameter reference (the stpipe pars-* layout)."""
    tree = {
        "class": step_class,
        "name": step_class.rsplit(".", 1)[-1].lower(),
        "parameters": parameters,
        "meta": {"reftype": "pars-" + step_class.rsplit(".", 1)[-1].lower()},
    }
    asdf.AsdfFile(tree).write_to(str(path))
    return str(path)


def _nircam_parameters(detector="NRCA1", subarray="FULL", date="2024-01-01", exp_type="NRC_IMAGE"):
    """Minimal get_crds_parameters()-like dict for a NIRCam exposure."""
    return {
        "META.INSTRUMENT.NAME": "NIRCAM",
        "META.INSTRUMENT.DETECTOR": detector,
        "META.SUBARRAY.NAME": subarray,
        "META.EXPOSURE.TYPE": exp_type,
        "META.OBSERVATION.DATE": date,
        "META.OBSERVATION.TIME": "00:00:00",
    }


@pytest.fixture
def make_gain():
    """Factory writing tiny GAIN references."""
    return _make_gain


@pytest.fixture
def make_pars():
    """Factory writing ASDF step-parameter references."""
    return _make_pars


@pytest.fixture
def nircam_parameters():
    """Factory for NIRCam CRDS matching parameters."""
    return _nircam_parameters
