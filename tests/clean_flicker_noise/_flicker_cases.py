"""Simulated NIRCam ramps with and without 1/f noise, and the striping metrics of the tests."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from stdatamodels.jwst.datamodels import ImageModel, RampModel

from webbcal import dqflags
from webbcal.lib.subarray import SubarrayGeometry
from webbcal.ramp_fitting.ols import fit_ramps
from webbcal.simulate import Scene, Star, make_detector, simulate_exposure

#: RMS of the simulated 1/f noise of one frame read (DN); white CDS read noise is ~11 DN.
FLICKER_DN = 5.0


@dataclass
class FlickerCase:
    """A ramp with 1/f noise, the same realisation without it, and what is known about it."""

    ramp: RampModel
    white: RampModel
    truth_rate: np.ndarray
    det: object
    stars: tuple
    background: np.ndarray  # truly source-free light-sensitive pixels (bool)


def _scene(shape, rng, n=12) -> Scene:
    ny, nx = shape
    stars = tuple(
        Star(x=float(rng.uniform(20, nx - 20)), y=float(rng.uniform(20, ny - 20)),
             flux=float(rng.uniform(3e3, 2e4)), sigma=float(rng.uniform(1.0, 2.0)))
        for _ in range(n)
    )  # fmt: skip
    return Scene(sky=2.0, stars=stars)


def _ramp_model(sim, det) -> RampModel:
    raw = sim.model.data.astype(np.float32)
    groupdq = np.where(raw >= det.saturation, dqflags.SATURATED, 0).astype(np.uint8)
    ramp = RampModel(data=raw - det.superbias, groupdq=groupdq, pixeldq=det.pixeldq.copy())
    ramp.update(sim.model)
    ramp.meta.filename = sim.model.meta.filename.replace("_uncal", "_jump")
    return ramp


def make_case(geometry: SubarrayGeometry, *, ngroups=8, seed=11, flicker=FLICKER_DN,
              nstars=12) -> FlickerCase:  # fmt: skip
    """NIRCam NRCA1 ramp (no cosmic rays) with and without 1/f noise, same white noise."""
    out = {}
    scene = _scene((geometry.ysize, geometry.xsize), np.random.default_rng(seed), nstars)
    for name, amp in (("ramp", flicker), ("white", 0.0)):
        det = make_detector(geometry=geometry, seed=seed, flicker_noise_dn=amp)
        sim = simulate_exposure(det, ngroups=ngroups, scene=scene, cr_rate=0.0, seed=seed + 1)
        out[name] = _ramp_model(sim, det)
    truth = sim.truth.rate
    faint = truth < 2.0 * scene.sky / float(np.median(det.gain)) + 0.05
    from scipy.ndimage import binary_dilation

    background = ~binary_dilation(~faint, iterations=4) & ~det.bad
    return FlickerCase(out["ramp"], out["white"], truth, det, scene.stars, background)


def rate_of(ramp: RampModel, det) -> np.ndarray:
    """OLS rate (DN/s) of a ramp with the detector's true gain and read noise."""
    exp = ramp.meta.exposure
    res = fit_ramps(
        ramp.data, ramp.groupdq, ramp.pixeldq, det.readnoise, det.gain,
        frame_time=exp.frame_time, group_time=exp.group_time, nframes=exp.nframes,
        groupgap=exp.groupgap,
    )  # fmt: skip
    return res.slope


def rate_model(ramp: RampModel, det) -> ImageModel:
    """A rate product (ImageModel) made from a ramp."""
    model = ImageModel(data=rate_of(ramp, det), dq=ramp.pixeldq.copy())
    model.update(ramp)
    return model


def striping(image: np.ndarray, background: np.ndarray, *, axis: int = 1) -> float:
    """Variance of the row (``axis=1``) medians of the source-free pixels of ``image``."""
    vals = np.where(background, image, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        med = np.nanmedian(vals, axis=axis)
    return float(np.nanvar(med))
