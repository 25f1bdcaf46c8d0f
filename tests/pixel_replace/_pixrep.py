"""Helpers of the pixel_replace tests: calints from our spec2, bad pixels, jwst offline."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from webbcal.dqflags import DO_NOT_USE, PIXEL

__all__ = ["FLUX_ESTIMATED", "OUTLIER", "calints_of", "mark_bad", "official_call"]

FLUX_ESTIMATED = PIXEL["FLUX_ESTIMATED"]
OUTLIER = PIXEL["OUTLIER"]


def calints_of(case, out: Path) -> Path:
    """Run our calwebb_spec2 on the case's rateints; the saved ``_calints`` path."""
    import pytest

    from webbcal.pipeline.spec2 import Spec2Pipeline

    with pytest.MonkeyPatch.context() as mp:  # every reference is an override
        mp.setenv("WEBBCAL_DISABLE_CRDS_STEPPARS", "true")
        mp.setenv("CRDS_SERVER_URL", "")
        cal = Spec2Pipeline.call(os.fspath(case.rateints), steps=case.pipeline_steps(),
                                 save_results=True, output_dir=os.fspath(out))  # fmt: skip
    cal.close()
    (path,) = out.glob("*_calints.fits")
    return path


def official_call(step_class, model, **kwargs):
    """Run an official jwst step or pipeline offline (CRDS only through overrides) on
    ``model`` (a copy when a model)."""
    from _stage2_inputs import _parity_module

    offline_environment = _parity_module().offline_environment
    if hasattr(model, "copy"):
        model = model.copy()
    with tempfile.TemporaryDirectory(prefix="webbcal_oracle_") as root:
        with offline_environment(Path(root)):
            return step_class.call(model, **kwargs)


def mark_bad(model, pixels, *, nan_arrays=True):
    """Flag ``pixels`` ((integration, y, x) index arrays) DO_NOT_USE | OUTLIER in ``model``
    (in place) and, as outlier detection does, make SCI, ERR and VAR_* NaN there."""
    k, y, x = pixels
    model.dq[k, y, x] |= np.uint32(DO_NOT_USE | OUTLIER)
    if nan_arrays:
        for name in ("data", "err", "var_poisson", "var_rnoise", "var_flat"):
            getattr(model, name)[k, y, x] = np.nan
