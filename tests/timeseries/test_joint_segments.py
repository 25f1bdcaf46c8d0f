"""Segments processed together give exactly the whole exposure's integrations."""

import numpy as np
import pytest
from _split import write_segments
from stdatamodels.jwst import datamodels as dm

from webbcal.datamodels import InputError
from webbcal.pipeline import Detector1Pipeline
from webbcal.pipeline.segments import join_segments, run_segments

SEGMENTS = ((1, 2), (3, 4), (5, 6))


@pytest.fixture(scope="module")
def segmented(tmp_path_factory, case_builder):
    root = tmp_path_factory.mktemp("joint_segments")
    case = case_builder(root / "case", subarray="SUB64P", ngroups=5, nints=6, cr_rate=2e-3,
                        seed=29)  # fmt: skip
    paths = write_segments(case.uncal, root, SEGMENTS)
    return case, paths, root


def test_joint_segments_equal_whole_exposure(segmented):
    case, paths, root = segmented
    out = root / "out"
    with case.crds():
        whole = Detector1Pipeline(progress=False, save_results=True,
                                  output_dir=str(root / "whole"))  # fmt: skip
        whole_rate = whole.run(str(case.uncal))
        whole_ints = dm.open(next((root / "whole").glob("*_rateints.fits")))
        # Segments given in any order.
        result = run_segments([str(p) for p in reversed(paths)], output_dir=str(out),
                              progress=False)  # fmt: skip
    for (start, end), part in zip(SEGMENTS, result.rateints, strict=True):
        for name in ("data", "dq", "err", "var_poisson", "var_rnoise"):
            np.testing.assert_array_equal(
                getattr(part, name), getattr(whole_ints, name)[start - 1 : end], err_msg=name
            )
        assert list(part.int_times["integration_number"]) == list(range(start, end + 1))
        assert part.meta.exposure.integration_start == start
    np.testing.assert_array_equal(result.rate.data, whole_rate.data)
    names = sorted(p.name for p in out.iterdir())
    root_name = case.uncal.name.removesuffix("_uncal.fits")
    assert names == sorted(
        [f"{root_name}_rate.fits"]
        + [p.name.replace("_uncal.fits", "_rateints.fits") for p in paths]
    )
    with dm.open(out / paths[1].name.replace("_uncal.fits", "_rateints.fits")) as seg2:
        assert seg2.data.shape[0] == 2
        assert seg2.meta.exposure.segment_number == 2


def test_joining_refuses_a_gap(segmented):
    _, paths, _ = segmented
    with pytest.raises(InputError, match=r"INTSTART=5 does not follow the previous segment's "
                                         r"INTEND=2; expected 3"):  # fmt: skip
        join_segments([str(paths[0]), str(paths[2])])


def test_cli_runs_segments_together(segmented, tmp_path):
    import os
    import subprocess
    import sys

    case, paths, _ = segmented
    env = dict(os.environ, CRDS_PATH=str(case.crds_path), CRDS_SERVER_URL="")
    proc = subprocess.run(
        [sys.executable, "-m", "webbcal.cli", "run", "calwebb_detector1",
         *[str(p) for p in paths], "--output-dir", str(tmp_path), "-q"],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert len(list(tmp_path.glob("*-seg00?_nrca1_rateints.fits"))) == 3


def test_cli_segments_must_exist(tmp_path, capsys):
    from webbcal.cli import main

    code = main(["run", "calwebb_detector1", "a_uncal.fits", "b_uncal.fits", "-q"])
    assert code == 1
    assert "a_uncal.fits: file not found" in capsys.readouterr().err
