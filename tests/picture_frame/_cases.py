"""Synthetic NIRSpec full-frame ramps and PICTUREFRAME references for the picture_frame tests.

The thermal picture frame is modelled as the reference describes it: a rate image that is
flat in the centre and brighter in a band along the four edges (inside the reference
pixels).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from stdatamodels.jwst import datamodels

N = 2048
FRAME_TIME = 10.73677
#: Background rate (DN/s) and picture-frame amplitude (DN/s at the edge) of the cases.
BACKGROUND = 0.5
AMPLITUDE = 0.05
READ_NOISE = 4.0  # DN per group (CDS-like noise of a group difference / sqrt(2))


def frame_shape(n: int = N) -> np.ndarray:
    """A picture-frame rate image, float32 (n, n): 2 in the band along the four edges of
    the science area (columns or rows 4-74 and 1985-2043, inside the 4 reference pixels),
    1 elsewhere. A step keeps the band's values symmetric, so the medians the correction
    takes of noisy data measure the frame without bias."""
    idx = np.arange(n)
    science = (idx >= 4) & (idx < n - 4)
    inner = (idx >= 75) & (idx < n - 63)
    band = science[:, None] & science[None, :] & ~(inner[:, None] & inner[None, :])
    return np.where(band, 2.0, 1.0).astype(np.float32)


def write_reference(path, pattern: np.ndarray, detector: str = "NRS1") -> str:
    """Write a PICTUREFRAME reference (stdatamodels PictureFrameModel) holding ``pattern``."""
    ref = datamodels.PictureFrameModel(data=pattern.astype(np.float32))
    meta = ref.meta
    meta.reftype = "PICTUREFRAME"
    meta.instrument.name = "NIRSPEC"
    meta.instrument.detector = detector
    meta.author = "webbcal tests"
    meta.description = "Synthetic picture frame (edge-brightened rate shape)"
    meta.pedigree = "DUMMY"
    meta.useafter = "2020-01-01T00:00:00"
    meta.telescope = "JWST"
    ref.save(str(path))
    return str(path)


def _meta(model, *, ngroups: int, nints: int, subarray: str = "FULL", instrument="NIRSPEC",
          detector="NRS1", exp_type="NRS_FIXEDSLIT") -> None:  # fmt: skip
    meta = model.meta
    meta.filename = "jw01234001001_01101_00001_nrs1_uncal.fits"
    meta.telescope = "JWST"
    meta.instrument.name = instrument
    meta.instrument.detector = detector
    meta.instrument.filter = "CLEAR"
    meta.instrument.grating = "PRISM"
    meta.exposure.type = exp_type
    meta.exposure.readpatt = "NRSRAPID"
    meta.exposure.nints = nints
    meta.exposure.ngroups = ngroups
    meta.exposure.nframes = 1
    meta.exposure.groupgap = 0
    meta.exposure.frame_time = FRAME_TIME
    meta.exposure.group_time = FRAME_TIME
    meta.exposure.drop_frames1 = 0
    meta.exposure.noutputs = 4
    meta.observation.date = "2024-01-01"
    meta.observation.time = "00:00:00"
    meta.subarray.name = subarray
    meta.subarray.xstart = 1
    meta.subarray.ystart = 1
    meta.subarray.xsize = model.data.shape[-1]
    meta.subarray.ysize = model.data.shape[-2]
    meta.subarray.fastaxis = 2
    meta.subarray.slowaxis = 1


@dataclass
class Ramp:
    """A ramp with a known picture frame: ``model`` holds it; ``clean`` the same ramp
    without the picture frame and the uniform background (sources and noise only)."""

    model: datamodels.RampModel
    clean: np.ndarray
    pattern: np.ndarray


def make_ramp(*, ngroups: int = 3, nints: int = 1, seed: int = 0, n: int = N,
              amplitude: float = AMPLITUDE, **meta) -> Ramp:  # fmt: skip
    """A NIRSpec NRS1 ramp as after ``jump`` (float32 DN, bias removed): uniform
    background, the picture frame ``amplitude * (frame_shape() - 1)``, 40 bright sources and
    Gaussian read noise; reference pixels (4 on each side) without signal."""
    rng = np.random.default_rng(seed)
    pattern = frame_shape(n)
    sources = np.zeros((n, n), np.float32)
    ys, xs = rng.integers(100, n - 100, (2, 40)) if n > 300 else ((), ())
    for y, x in zip(ys, xs):
        sources[y - 2 : y + 3, x - 2 : x + 3] = rng.uniform(20, 200)
    rate = BACKGROUND + amplitude * (pattern - 1.0) + sources
    rate[:4], rate[-4:], rate[:, :4], rate[:, -4:] = 0.0, 0.0, 0.0, 0.0  # reference pixels
    times = FRAME_TIME * np.arange(1, ngroups + 1, dtype=np.float32)
    noise = rng.normal(0.0, READ_NOISE, (nints, ngroups, n, n)).astype(np.float32)
    data = (rate[None, None] * times[None, :, None, None] + noise).astype(np.float32)
    clean = (sources[None, None] * times[None, :, None, None] + noise).astype(np.float32)
    model = datamodels.RampModel(data=data)
    model.groupdq = np.zeros(data.shape, np.uint8)
    model.pixeldq = np.zeros((n, n), np.uint32)
    _meta(model, ngroups=ngroups, nints=nints, **meta)
    return Ramp(model, clean, pattern)


def make_rate(*, nints: int | None = None, seed: int = 1, n: int = N,
              amplitude: float = AMPLITUDE, **meta):  # fmt: skip
    """A NIRSpec NRS1 rate (ImageModel) or rateints (CubeModel, ``nints`` planes), DN/s:
    uniform background, picture frame, 40 sources and noise of 0.25 DN/s; also returns the
    rate without the frame and the background (sources and noise)."""
    rng = np.random.default_rng(seed)
    pattern = frame_shape(n)
    shape = (n, n) if nints is None else (nints, n, n)
    sources = np.zeros((n, n), np.float32)
    ys, xs = rng.integers(100, n - 100, (2, 40))
    sources[ys, xs] = rng.uniform(5, 50, ys.size)
    noise = rng.normal(0.0, 0.25, shape).astype(np.float32)
    clean = (sources + noise).astype(np.float32)
    data = (clean + BACKGROUND + amplitude * (pattern - 1.0)).astype(np.float32)
    cls = datamodels.ImageModel if nints is None else datamodels.CubeModel
    model = cls(data=data)
    model.dq = np.zeros(shape, np.uint32)
    model.err = np.full(shape, 0.25, np.float32)
    _meta(model, ngroups=3, nints=nints or 1, **meta)
    return Ramp(model, clean, pattern)
