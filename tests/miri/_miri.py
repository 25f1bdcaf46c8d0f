"""Small synthetic MIRI ramps and reference files, and the official-step oracle runner."""

from __future__ import annotations

import contextlib
import importlib
import os
from pathlib import Path

import numpy as np

#: (name, xstart, ystart, xsize, ysize) of some MIRI imager subarrays (1-based).
SUBARRAYS = {
    "FULL": (1, 1, 1032, 1024),
    "BRIGHTSKY": (457, 51, 576, 512),
    "SUB256": (413, 51, 416, 256),
    "SUB128": (1, 889, 136, 128),
    "SUB64": (1, 779, 72, 64),
}


def ramp_model(
    *,
    nints=2,
    ngroups=8,
    subarray="SUB64",
    readpatt="FASTR1",
    shape=None,
    seed=0,
    detector="MIRIMAGE",
):
    """A MIRI RampModel with a seeded ramp (``shape`` overrides the subarray's size)."""
    from stdatamodels.jwst.datamodels import RampModel

    xstart, ystart, xsize, ysize = SUBARRAYS[subarray]
    if shape is not None:
        ysize, xsize = shape
    rng = np.random.default_rng(seed)
    rate = rng.gamma(2.0, 5.0, (ysize, xsize)).astype(np.float32)
    t = np.arange(1, ngroups + 1, dtype=np.float32)[None, :, None, None]
    data = 10000.0 + rate[None, None] * t + rng.normal(0, 3.0, (nints, ngroups, ysize, xsize))
    model = RampModel(
        data=data.astype(np.float32),
        groupdq=np.zeros((nints, ngroups, ysize, xsize), np.uint8),
        pixeldq=np.zeros((ysize, xsize), np.uint32),
    )
    meta = model.meta
    meta.instrument.name = "MIRI"
    meta.instrument.detector = detector
    meta.instrument.filter = "F770W"
    meta.exposure.type = "MIR_IMAGE"
    meta.exposure.readpatt = readpatt
    meta.exposure.nints = nints
    meta.exposure.ngroups = ngroups
    meta.exposure.nframes = 1
    meta.exposure.groupgap = 0
    meta.exposure.nsamples = 1 if "FAST" in readpatt else 9
    meta.exposure.frame_time = 2.775
    meta.exposure.group_time = 2.775
    meta.exposure.start_time = 60000.0
    meta.observation.date = "2024-01-01"
    meta.observation.time = "00:00:00"
    sub = meta.subarray
    sub.name = subarray
    sub.xstart, sub.ystart, sub.xsize, sub.ysize = xstart, ystart, xsize, ysize
    sub.fastaxis, sub.slowaxis = 1, 2
    return model


def _ref_meta(ref, reftype, *, subarray="GENERIC", geom=None, detector="MIRIMAGE"):
    m = ref.meta
    m.reftype = reftype
    m.author = "webbcal tests"
    m.description = f"synthetic {reftype}"
    m.pedigree = "DUMMY"
    m.useafter = "2020-01-01T00:00:00"
    m.telescope = "JWST"
    m.instrument.name = "MIRI"
    m.instrument.detector = detector
    if geom is not None:
        m.subarray.name = subarray
        m.subarray.xstart, m.subarray.ystart, m.subarray.xsize, m.subarray.ysize = geom
        m.subarray.fastaxis, m.subarray.slowaxis = 1, 2


def write_reset(path, model, *, nints=2, ngroups=5, seed=1, nan_pixel=True):
    """A ResetModel for ``model``'s subarray: nints x ngroups planes, one NaN pixel."""
    from stdatamodels.jwst.datamodels import ResetModel

    ny, nx = model.data.shape[-2:]
    rng = np.random.default_rng(seed)
    data = rng.normal(0, 5.0, (nints, ngroups, ny, nx)).astype(np.float32)
    data += np.linspace(30, 0, ngroups, dtype=np.float32)[None, :, None, None]
    if nan_pixel:
        data[0, 0, 1, 2] = np.nan
    dq = np.zeros((ny, nx), np.uint32)
    dq[3, 4] = 1
    ref = ResetModel(data=data, dq=dq, err=np.zeros_like(data))
    _ref_meta(ref, "RESET", subarray=model.meta.subarray.name, geom=_geom(model))
    ref.meta.exposure.nints = nints
    ref.meta.exposure.ngroups = ngroups
    ref.meta.exposure.readpatt = model.meta.exposure.readpatt
    ref.save(os.fspath(path))
    return Path(path)


def write_rscd(path, rows):
    """An RSCDModel whose RSCD_GROUP_SKIP table has ``rows`` (subarray, readpatt, skip1, skip)."""
    from stdatamodels.jwst.datamodels import RSCDModel

    dtype = [("subarray", "S17"), ("readpatt", "S12"), ("group_skip1", "<i4"),
             ("group_skip", "<i4")]  # fmt: skip
    table = np.array([tuple(r) for r in rows], dtype=dtype)
    ref = RSCDModel(rscd_group_skip_table=table)
    _ref_meta(ref, "RSCD")
    ref.meta.instrument.detector = "MIRIMAGE"
    ref.save(os.fspath(path))
    return Path(path)


def write_dark(path, model, *, nints=2, ngroups=None, seed=2, subarray=None):
    """A DarkMIRIModel (NFRAMES=1, GROUPGAP=0), per-integration darks, 4-D DQ."""
    from stdatamodels.jwst.datamodels import DarkMIRIModel

    ngroups = ngroups or model.data.shape[1]
    ny, nx = model.data.shape[-2:]
    rng = np.random.default_rng(seed)
    t = np.arange(1, ngroups + 1, dtype=np.float32)[None, :, None, None]
    scale = np.arange(1, nints + 1, dtype=np.float32)[:, None, None, None]
    data = (rng.gamma(2.0, 0.5, (1, 1, ny, nx)) * t * scale).astype(np.float32)
    data += rng.normal(0, 0.5, data.shape).astype(np.float32)
    data[0, 0, 2, 2] = np.nan
    dq = np.zeros(data.shape, np.uint32)
    dq[0, 0, 5, 6] = 4
    dq[-1, 0, 6, 5] = 8
    dq[0, 1, 7, 7] = 16  # not in group 0: not propagated
    ref = DarkMIRIModel(data=data, dq=dq, err=np.zeros_like(data))
    _ref_meta(ref, "DARK", subarray=subarray or model.meta.subarray.name, geom=_geom(model))
    ref.meta.exposure.nframes = 1
    ref.meta.exposure.groupgap = 0
    ref.meta.exposure.ngroups = ngroups
    ref.meta.exposure.nints = nints
    ref.meta.exposure.readpatt = model.meta.exposure.readpatt
    ref.meta.exposure.type = "MIR_DARKIMG"
    ref.save(os.fspath(path))
    return Path(path)


def _geom(model):
    s = model.meta.subarray
    return (s.xstart, s.ystart, s.xsize, s.ysize)


# ------------------------------------------------------------------------------- oracle
def _load(dotted):
    module, name = dotted.rsplit(".", 1)
    return getattr(importlib.import_module(module), name)


@contextlib.contextmanager
def official_environment(root: Path):
    """Offline CRDS and no CRDS parameter references for the official steps."""
    import sys

    here = Path(__file__).resolve().parent.parent / "parity"
    sys.path.insert(0, os.fspath(here))
    try:
        from _parity import offline_environment
    finally:
        sys.path.remove(os.fspath(here))
    with offline_environment(root):
        yield


def run_official(dotted_class, model, **kwargs):
    """Run an official jwst step (``"jwst.reset.ResetStep"``) on a copy of ``model``.

    The offline cache lives in a lower-case temporary path: CRDS lower-cases the
    path it derives the server_config location from.
    """
    import tempfile
    import warnings

    cls = _load(dotted_class)
    with tempfile.TemporaryDirectory(prefix="webbcal_oracle_") as root:
        with official_environment(Path(root)), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return cls.call(model.copy(), **kwargs)


def assert_ramp_equal(ours, official, *, rtol=1e-5, atol=0.0):
    """Same DQ exactly and data to ``rtol`` (the compared arrays of a ramp)."""
    np.testing.assert_array_equal(ours.groupdq, official.groupdq)
    np.testing.assert_array_equal(ours.pixeldq, official.pixeldq)
    np.testing.assert_allclose(ours.data, official.data, rtol=rtol, atol=atol)
