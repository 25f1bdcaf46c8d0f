"""calwebb_detector1 given a guider exposure: a clear error pointing to calwebb_guider."""

from __future__ import annotations

import re

import pytest
from stdatamodels.jwst import datamodels as dm

from _shared_paths import REAL
from webbcal.cli import main
from webbcal.datamodels import InputError
from webbcal.demo_guider import simulate_guider_exposure
from webbcal.pipeline import Detector1Pipeline

ACQ1_DIR = REAL / "jwst-wheel" / "fgs_acq1"


def _expected(name, exp_type="FGS_ACQ1"):
    return (
        f"{name}: EXP_TYPE='{exp_type}' is an FGS guider exposure, which calwebb_detector1 "
        "does not process (its steps have no guider references); use calwebb_guider, e.g. "
        f"'webbcal run calwebb_guider {name}'"
    )


def test_real_acq1_file_is_sent_to_calwebb_guider(tmp_path, capsys):
    files = sorted(ACQ1_DIR.glob("*_uncal.fits")) if ACQ1_DIR.is_dir() else []
    if not files:
        pytest.skip(f"no real FGS ACQ1 file under {ACQ1_DIR}")
    code = main(["run", "calwebb_detector1", str(files[0]), "--output-dir", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 1
    assert err == f"webbcal: error: {_expected(files[0])} [InputError]"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("exp_type", ["FGS_ACQ1", "FGS_ID-STACK"])
def test_guider_model_is_refused_before_any_crds_question(tmp_path, exp_type):
    path = simulate_guider_exposure(tmp_path / "sim_gs-acq1_uncal.fits")
    with dm.GuiderRawModel(str(path)) as model:
        model.meta.exposure.type = exp_type
        # No CRDS cache at all: the guider check comes before any reference lookup.
        with pytest.raises(InputError, match=re.escape(_expected(model.meta.filename, exp_type))):
            Detector1Pipeline.call(model, disable_crds_steppars=True)
