"""CRDS parameter references (pars-*) and the precedence of parameter sources."""

import asdf
import pytest

from webbcal.crds_client import RmapEntry
from webbcal.pipeline import Detector1Pipeline
from webbcal.stpipe.config import build_configuration


def _pars(path, cls, parameters, steps=None):
    tree = {
        "class": cls,
        "name": cls.rsplit(".", 1)[-1],
        "parameters": parameters,
        "meta": {"reftype": "pars-" + cls.rsplit(".", 1)[-1].lower(), "pedigree": "GROUND"},
    }
    if steps:
        tree["steps"] = steps
    asdf.AsdfFile(tree).write_to(str(path))
    return str(path)


@pytest.fixture(scope="module")
def pars_case(tmp_path_factory, case_builder):
    root = tmp_path_factory.mktemp("pars_case")
    root.mkdir(exist_ok=True)
    jump = _pars(root / "jwst_nircam_pars-jumpstep_0001.asdf", "jwst.jump.jump_step.JumpStep",
                 {"rejection_threshold": 5.5, "maximum_cores": "1"})  # fmt: skip
    pipe = _pars(
        root / "jwst_nircam_pars-detector1pipeline_0001.asdf",
        "jwst.pipeline.calwebb_detector1.Detector1Pipeline",
        {"save_calibrated_ramp": False},
        steps=[{"class": "jwst.charge_migration.ChargeMigrationStep", "name": "charge_migration",
                "parameters": {"skip": False, "signal_threshold": 30000.0}}],
    )  # fmt: skip
    extra = (
        RmapEntry("NIRCAM", "pars-jumpstep", (), {(): [("2020-01-01 00:00:00", jump)]}),
        RmapEntry("NIRCAM", "pars-detector1pipeline", ("META.EXPOSURE.TYPE",),
                  {("NRC_IMAGE|NRC_CORON",): [("2020-01-01 00:00:00", pipe)]}),
    )  # fmt: skip
    return case_builder(root / "case", extra_entries=extra, ngroups=4)


def _model(case):
    from webbcal.datamodels import open_ramp_input

    return open_ramp_input(str(case.uncal))


def test_crds_pars_are_merged_for_pipeline_and_steps(pars_case):
    with pars_case.crds():
        config = build_configuration(Detector1Pipeline, _model(pars_case))
    assert config["steps"]["jump"]["rejection_threshold"] == 5.5
    assert config["steps"]["charge_migration"] == {"skip": False, "signal_threshold": 30000.0}
    assert config["save_calibrated_ramp"] is False


def test_precedence_default_crds_config_arguments(pars_case, tmp_path):
    cfg = tmp_path / "user.asdf"
    asdf.AsdfFile(
        {"class": "jwst.pipeline.Detector1Pipeline", "name": "Detector1Pipeline",
         "parameters": {},
         "steps": [{"class": "jwst.jump.JumpStep", "name": "jump",
                    "parameters": {"rejection_threshold": 6.5,
                                   "three_group_rejection_threshold": 7.0}}]}
    ).write_to(cfg)  # fmt: skip
    with pars_case.crds():
        config = build_configuration(
            Detector1Pipeline, _model(pars_case), config_file=str(cfg),
            overrides={"steps": {"jump": {"rejection_threshold": 7.5}}},
        )  # fmt: skip
        disabled = build_configuration(Detector1Pipeline, _model(pars_case), use_crds=False)
    jump = config["steps"]["jump"]
    assert jump["rejection_threshold"] == 7.5  # arguments beat the config file and CRDS
    assert jump["three_group_rejection_threshold"] == 7.0  # config file beats the default
    assert config["steps"]["charge_migration"]["skip"] is False  # CRDS beats the default
    assert disabled == {}


def test_call_uses_crds_pars_unless_disabled(pars_case, tmp_path):
    with pars_case.crds():
        rate = Detector1Pipeline.call(str(pars_case.uncal), output_dir=str(tmp_path),
                                      progress=False)  # fmt: skip
        plain = Detector1Pipeline.call(str(pars_case.uncal), disable_crds_steppars=True,
                                       progress=False)  # fmt: skip
    assert rate.meta.cal_step.charge_migration == "COMPLETE"
    assert plain.meta.cal_step.charge_migration == "SKIPPED"
    logs = "\n".join(rate.cal_logs.calwebb_detector1)
    assert "PARS-DETECTOR1PIPELINE parameters found" in logs
    assert "pars-jumpstep" in logs.lower()
