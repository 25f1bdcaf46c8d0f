"""``webbcal demo --stage 3``: four dithered exposures through calwebb_image3 give a mosaic
whose catalog finds the injected stars where they were put, with their fluxes, and flags
the injected cosmic rays."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.table import QTable

from webbcal.cli import main


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from webbcal.demo_image3 import run_image3_demo

    return run_image3_demo(tmp_path_factory.mktemp("demo3"), seed=1)


def test_products_and_summary(demo):
    for path in (demo.i2d, demo.catalog, demo.segm, demo.quicklook, demo.asn, *demo.crf):
        assert Path(path).is_file(), path
    assert len(demo.crf) == len(demo.cal) == 4
    assert Path(demo.quicklook).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = str(demo)
    assert "stars" in text and f"{demo.n_found} of {demo.n_injected}" in text
    assert len(QTable.read(demo.catalog)) >= demo.n_found


def test_truth_recovered(demo):
    assert demo.n_injected >= 40
    assert demo.n_found == demo.n_injected
    # the mosaic keeps the reference exposure's pointing error (relative alignment only)
    errors = np.array([(50, -30), (-40, 80), (20, 60), (-70, -10)], float)
    assert np.min(np.hypot(*(errors - demo.shift_mas).T)) < 3.0
    assert demo.residual_mas[0] < 1.0 and demo.residual_mas[1] < 5.0
    assert abs(demo.flux_ratio[0] - 1) < 0.02
    assert demo.cosmic_rays_flagged > 0.9


def test_cli_refuses_other_instruments_for_stage_3(tmp_path, capsys):
    assert main(["demo", "--stage", "3", "--instrument", "miri", "--out", str(tmp_path)]) != 0
    err = capsys.readouterr().err
    assert "--stage 3" in err and "NIRCam" in err
    assert not any(tmp_path.iterdir())
