"""Planning a batch: what it reads of each input, and where a bad header is reported."""

from __future__ import annotations

import shutil

import pytest
from astropy.io import fits

from webbcal.batch.plan import plan_exposures
from webbcal.datamodels import InputError
from webbcal.lib import rawio
from webbcal.pipeline import Detector1Pipeline


@pytest.fixture(scope="module")
def program(tmp_path_factory, program_builder):
    return program_builder(tmp_path_factory.mktemp("program"), {"SUB64P": 1})


def test_planning_a_raw_exposure_leaves_its_ramps_on_disk(program, tmp_path, monkeypatch):
    """The plan reads the metadata (the same task as from an eagerly opened model)."""
    from webbcal.datamodels import open_model

    path = str(program.uncal[0])
    kwargs = {"output_dir": str(tmp_path / "out"), "overrides": None, "config_file": None,
              "use_crds_pars": False}  # fmt: skip
    with program.crds():
        eager = Detector1Pipeline.open_for_planning.__func__
        monkeypatch.setattr(Detector1Pipeline, "open_for_planning",
                            classmethod(lambda cls, p: open_model(p)))  # fmt: skip
        expected = plan_exposures(Detector1Pipeline, [path], **kwargs)
        monkeypatch.setattr(Detector1Pipeline, "open_for_planning", classmethod(eager))

        def no_ramps(*args, **kwargs):
            raise AssertionError("the plan read the ramps")

        monkeypatch.setattr(rawio.RawRamp, "read", no_ramps)
        monkeypatch.setattr(rawio, "materialize", no_ramps)
        tasks, failures = plan_exposures(Detector1Pipeline, [path], **kwargs)
    assert failures == []
    assert (tasks, failures) == expected
    (task,) = tasks
    assert task.samples == 1 * 4 * 64 * 64  # nints x ngroups x ny x nx of the exposure
    model = Detector1Pipeline.open_for_planning(path)
    try:
        assert model.data.shape == (1, 4, 0, 0)  # a placeholder: SCI stays on disk
    finally:
        model.close()


def test_bad_stage1_header_fails_the_exposure_when_planned(program, tmp_path):
    """The header checks of a run fail the exposure at planning, with the run's message."""
    bad = tmp_path / "jw01234001001_01101_00099_nrca1_uncal.fits"
    shutil.copy(program.uncal[0], bad)
    fits.setval(bad, "NGROUPS", value=7, ext=0)
    with pytest.raises(InputError) as run_error:
        Detector1Pipeline.open_input(str(bad))
    with program.crds():
        tasks, failures = plan_exposures(
            Detector1Pipeline, [str(bad)], output_dir=str(tmp_path / "out"), overrides=None,
            config_file=None, use_crds_pars=False,
        )  # fmt: skip
    assert tasks == []
    (failure,) = failures
    assert failure.input == str(bad)
    assert failure.error == f"{run_error.value} [InputError]"
    assert "NGROUPS=7 but the SCI array has 4 groups" in failure.error
