"""Imaging rate products (after ramp fitting) and the official stage-2 steps as an oracle.

:func:`imaging_rate` builds an ImageModel (or a CubeModel for ``nints``) in DN/s with
realistic identification keywords and consistent ERR/VAR_POISSON/VAR_RNOISE, a few
DO_NOT_USE pixels that are NaN (as ramp fitting leaves them), and optionally a scene
given in MJy/sr converted through a conversion factor (rate = scene / factor).
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
from pathlib import Path

import numpy as np
from stdatamodels.jwst import datamodels as dm

from webbcal.dqflags import PIXEL

#: Default detector of each instrument.
_DETECTOR = {"NIRCAM": "NRCA1", "NIRISS": "NIS", "MIRI": "MIRIMAGE", "FGS": "GUIDER1"}
_FULL = {"MIRI": (1024, 1032)}


def imaging_rate(
    instrument: str,
    *,
    detector: str | None = None,
    filt: str | None = None,
    pupil: str | None = None,
    exp_type: str | None = None,
    subarray: str = "FULL",
    xstart: int = 1,
    ystart: int = 1,
    shape: tuple[int, int] | None = None,
    nints: int | None = None,
    level: float = 20.0,
    scene: np.ndarray | None = None,
    seed: int = 0,
    mid_time: float | None = 60200.5,
):
    """A rate image (or cube with ``nints``) in DN/s.

    ``scene`` (same (ny, nx) shape), if given, replaces ``level`` as the noiseless rate.
    """
    inst = instrument.upper()
    ny, nx = shape or _FULL.get(inst, (2048, 2048))
    rng = np.random.default_rng(seed)
    cube = (nints,) if nints else ()
    rate = np.full((ny, nx), level, np.float64) if scene is None else np.asarray(scene, float)
    var_p = np.broadcast_to(np.maximum(rate, 0) / 2000.0, cube + (ny, nx)).astype(np.float32)
    var_r = np.full(cube + (ny, nx), 0.01, np.float32)
    data = (rate + rng.standard_normal(cube + (ny, nx)) * np.sqrt(var_p + var_r)).astype(np.float32)
    dq = np.zeros(cube + (ny, nx), np.uint32)
    picks = rng.choice(ny * nx, 12, replace=False)
    flat_dq, flat_data = dq.reshape(-1, ny * nx), data.reshape(-1, ny * nx)
    flat_dq[:, picks[:6]] = PIXEL["DO_NOT_USE"] | PIXEL["HOT"]
    flat_data[:, picks[:6]] = np.nan
    flat_dq[:, picks[6:]] = PIXEL["JUMP_DET"]
    cls = dm.CubeModel if nints else dm.ImageModel
    model = cls(data=data, dq=dq, err=np.sqrt(var_p + var_r),
                var_poisson=var_p, var_rnoise=var_r)  # fmt: skip
    var_p_nan = np.isnan(data)
    for name in ("err", "var_poisson", "var_rnoise"):
        arr = getattr(model, name)
        arr[var_p_nan] = np.nan
    _identify(model, inst, detector or _DETECTOR[inst], filt, pupil, exp_type, subarray)
    sub = model.meta.subarray
    sub.xstart, sub.ystart, sub.xsize, sub.ysize = xstart, ystart, nx, ny
    if mid_time is not None:
        model.meta.exposure.start_time = mid_time - 0.001
        model.meta.exposure.mid_time = mid_time
        model.meta.exposure.end_time = mid_time + 0.001
    return model


def _identify(model, inst, detector, filt, pupil, exp_type, subarray) -> None:
    defaults = {
        "NIRCAM": ("F200W", "CLEAR", "NRC_IMAGE"),
        "NIRISS": ("CLEAR", "F150W", "NIS_IMAGE"),
        "MIRI": ("F770W", None, "MIR_IMAGE"),
        "FGS": (None, None, "FGS_IMAGE"),
    }[inst]
    meta = model.meta
    meta.telescope = "JWST"
    meta.instrument.name = inst
    meta.instrument.detector = detector
    meta.instrument.filter = filt or defaults[0]
    meta.instrument.pupil = pupil or defaults[1]
    if inst == "NIRCAM":
        meta.instrument.channel = "LONG" if detector.endswith(("LONG", "5")) else "SHORT"
        meta.instrument.module = detector[3]
    meta.exposure.type = exp_type or defaults[2]
    meta.exposure.readpatt = {"MIRI": "FASTR1", "FGS": "FGSRAPID", "NIRISS": "NISRAPID"}.get(
        inst, "RAPID"
    )
    meta.exposure.nints = model.data.shape[0] if model.data.ndim == 3 else 1
    meta.exposure.ngroups = 5
    meta.subarray.name = subarray
    meta.observation.date = "2023-09-01"
    meta.observation.time = "12:00:00"
    meta.target.source_type = "EXTENDED"
    meta.bunit_data = meta.bunit_err = "DN/s"
    meta.filename = f"jw01234001001_01101_00001_{detector.lower()}_rate.fits"


def _parity_module():
    for name in ("_parity", "_stage2_parity_helpers"):
        if name in sys.modules:
            return sys.modules[name]
    path = Path(__file__).resolve().parent / "parity" / "_parity.py"
    spec = importlib.util.spec_from_file_location("_stage2_parity_helpers", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def official_call(step_class, model, **kwargs):
    """Run an official jwst step on a copy of ``model`` offline (overrides only)."""
    helpers = _parity_module()
    with tempfile.TemporaryDirectory(prefix="webbcal_oracle_") as root:
        with helpers.offline_environment(Path(root)):
            return step_class.call(model.copy(), **kwargs)
