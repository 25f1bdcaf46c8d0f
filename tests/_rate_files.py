"""Small simulated rate/cal products with realistic identification keywords, for tests
of associations, the ModelLibrary and multi-exposure steps."""

from __future__ import annotations

import os

import numpy as np


def make_rate(
    path: str | os.PathLike,
    *,
    shape: tuple[int, int] = (32, 32),
    level: float = 1.0,
    exposure: int = 1,
    detector: str = "NRCA1",
    filt: str = "F200W",
    observation: int = 1,
    seed: int = 0,
) -> str:
    """Write a NIRCam imaging rate product (ImageModel, DN/s) and return its path.

    SCI is ``level`` plus unit Gaussian noise; ERR 1; DQ 0; VAR_POISSON and
    VAR_RNOISE 0.5 each.
    """
    from stdatamodels.jwst import datamodels as dm

    rng = np.random.default_rng(seed)
    model = dm.ImageModel(shape)
    model.data = (level + rng.standard_normal(shape)).astype(np.float32)
    model.err = np.ones(shape, np.float32)
    model.dq = np.zeros(shape, np.uint32)
    model.var_poisson = np.full(shape, 0.5, np.float32)
    model.var_rnoise = np.full(shape, 0.5, np.float32)
    meta = model.meta
    meta.telescope = "JWST"
    meta.instrument.name = "NIRCAM"
    meta.instrument.detector = detector
    meta.instrument.channel = "SHORT"
    meta.instrument.module = "A"
    meta.instrument.filter = filt
    meta.instrument.pupil = "CLEAR"
    meta.exposure.type = "NRC_IMAGE"
    meta.exposure.readpatt = "RAPID"
    meta.exposure.nints = 1
    meta.exposure.ngroups = 5
    meta.exposure.nframes = 1
    meta.exposure.groupgap = 0
    meta.exposure.frame_time = 10.7
    meta.exposure.group_time = 10.7
    meta.exposure.start_time = 59000.0 + exposure * 0.01
    meta.subarray.name = "FULL"
    meta.subarray.xstart = 1
    meta.subarray.ystart = 1
    meta.subarray.xsize = shape[1]
    meta.subarray.ysize = shape[0]
    meta.observation.date = "2023-01-01"
    meta.observation.time = "00:00:00"
    meta.observation.program_number = "01234"
    meta.observation.observation_number = f"{observation:03d}"
    meta.observation.visit_number = "001"
    meta.observation.visit_group = "01"
    meta.observation.sequence_id = "1"
    meta.observation.activity_id = "01"
    meta.observation.exposure_number = f"{exposure:05d}"
    meta.bunit_data = "DN/s"
    meta.bunit_err = "DN/s"
    model.meta.filename = os.path.basename(os.fspath(path))
    model.save(os.fspath(path))
    model.close()
    return os.fspath(path)


def rate_name(exposure: int, detector: str = "nrca1", suffix: str = "rate", obs: int = 1) -> str:
    """Official exposure file name of program 1234, visit 1."""
    return f"jw01234{obs:03d}001_01101_{exposure:05d}_{detector.lower()}_{suffix}.fits"
