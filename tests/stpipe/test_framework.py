"""Tests of the step framework: typed parameters, precedence, config files, naming."""

import asdf
import numpy as np
import pytest

from webbcal.stpipe import Param, ParameterError, Pipeline, Step
from webbcal.stpipe.config import build_configuration, read_config_file, write_config_file
from webbcal.stpipe.naming import output_path, remove_suffix


class AddStep(Step):
    """Add a constant (test step)."""

    class_alias = "add"
    spec = (
        Param("value", float, 1.0, "Value to add", minimum=-10, maximum=10),
        Param("mode", str, "fast", "Mode", choices=("fast", "slow")),
        Param("count", int, None, "Optional count", allow_none=True, minimum=0),
    )
    reference_file_types = ("gain",)

    def _resolve_references(self, model):
        self._references_used.clear()

    def required_reference_types(self):
        return ()

    def process(self, model):
        model.data = model.data + np.float32(self.value)
        return model


class ScaleStep(Step):
    """Scale (test step)."""

    class_alias = "scale"
    spec = (Param("factor", float, 2.0, "Factor"),)

    def process(self, model):
        model.data = model.data * np.float32(self.factor)
        return model


class TwoPipeline(Pipeline):
    """Add then scale (test pipeline)."""

    class_alias = "two"
    spec = (Param("flag", bool, False, "A flag"),)
    step_defs = {"add": AddStep, "scale": ScaleStep}

    def process(self, model):
        model = self.add.run(model)
        return self.scale.run(model)


def _image(value=0.0):
    from stdatamodels.jwst.datamodels import ImageModel

    m = ImageModel(data=np.full((4, 5), value, dtype=np.float32))
    m.meta.filename = "jw01234001001_01101_00001_nrca1_rate.fits"
    return m


@pytest.mark.parametrize(
    ("param", "text", "expected"),
    [
        (Param("x", float, 1.0, "d"), "2.5", 2.5),
        (Param("x", int, 1, "d"), "7", 7),
        (Param("x", bool, False, "d"), "True", True),
        (Param("x", bool, True, "d"), "no", False),
        (Param("x", str, "beta", "d", choices=("Alpha", "beta")), "ALPHA", "Alpha"),
        (Param("x", int, None, "d", allow_none=True), "None", None),
    ],
)
def test_param_convert_parses_text(param, text, expected):
    assert param.convert(text) == expected


@pytest.mark.parametrize(
    ("param", "value", "match"),
    [
        (Param("x", float, 1.0, "d", minimum=0), -1, r"x=-1\.0 is below the minimum 0"),
        (Param("x", float, 1.0, "d", maximum=3), "4", r"x=4\.0 is above the maximum 3"),
        (Param("x", int, 1, "d"), "2.5", r"x='2\.5' is not a valid int"),
        (Param("x", bool, True, "d"), "maybe", r"x='maybe' is not a boolean"),
        (Param("x", str, "a", "d", choices=("a", "b")), "c", r"x='c' is not one of a, b"),
        (Param("x", float, 1.0, "d"), None, r"x=None is not allowed"),
        (Param("x", float, 1.0, "d"), "nan", r"x=nan is not allowed"),
    ],
)
def test_param_convert_rejects_bad_values(param, value, match):
    with pytest.raises(ParameterError, match=match):
        param.convert(value)


def test_help_text_lists_type_bounds_default():
    p = Param("rejection_threshold", float, 4.0, "Jump threshold", minimum=0, unit="sigma")
    assert p.help_text() == "Jump threshold (float; sigma; range [0, inf]; default 4.0)"


def test_override_parameters_are_generated():
    specs = AddStep.param_specs()
    assert "override_gain" in specs
    assert specs["override_gain"].default is None
    assert {"skip", "save_results", "output_dir", "output_file", "suffix"} <= set(specs)


def test_setting_unknown_or_invalid_parameter_fails():
    step = AddStep()
    step.value = "3"
    assert step.value == 3.0
    with pytest.raises(ParameterError, match=r"add: unknown parameter 'valu'"):
        step.valu = 3
    with pytest.raises(ParameterError, match=r"add\.value=11\.0 is above the maximum 10"):
        step.value = 11


def test_run_does_not_modify_input_and_records_status():
    model = _image(1.0)
    step = AddStep(value=2.0)
    result = step.run(model)
    assert np.all(model.data == 1.0)
    assert np.all(result.data == 3.0)
    assert result.meta.calibration_software_revision.startswith("webbcal-")
    assert "add" in result.cal_logs


def test_skip_returns_unchanged_model():
    result = AddStep(skip=True, value=5).run(_image(1.0))
    assert np.all(result.data == 1.0)


def test_pipeline_steps_configuration_and_attribute_access():
    pipe = TwoPipeline(steps={"add": {"value": 3}, "scale": {"factor": "0.5"}})
    assert pipe.add.value == 3.0
    pipe.scale.factor = 4
    result = pipe.run(_image(1.0))
    assert np.all(result.data == 16.0)
    with pytest.raises(ParameterError, match="unknown step 'nope'"):
        TwoPipeline(steps={"nope": {}})


def test_precedence_config_file_then_arguments(tmp_path):
    pipe = TwoPipeline(flag=True, steps={"add": {"value": 5.0, "mode": "slow"}})
    path = write_config_file(pipe, str(tmp_path / "two.asdf"))
    content = read_config_file(path)
    assert content["class"].endswith("TwoPipeline")
    assert content["steps"]["add"]["value"] == 5.0
    merged = build_configuration(
        TwoPipeline, None, config_file=path,
        overrides={"steps": {"add": {"value": "7"}}}, use_crds=False,
    )  # fmt: skip
    assert merged["flag"] is True
    assert merged["steps"]["add"]["value"] == 7.0
    assert merged["steps"]["add"]["mode"] == "slow"


def test_official_layout_file_is_read_and_validated(tmp_path):
    tree = {
        "class": "jwst.pipeline.calwebb_two.TwoPipeline",
        "name": "TwoPipeline",
        "parameters": {"flag": True, "pre_hooks": [], "post_hooks": []},
        "steps": [
            {"class": "jwst.add.AddStep", "name": "add", "parameters": {"value": 2.0}},
        ],
    }
    path = tmp_path / "pars.asdf"
    asdf.AsdfFile(tree).write_to(path)
    merged = build_configuration(TwoPipeline, None, config_file=str(path), use_crds=False)
    assert merged == {"flag": True, "steps": {"add": {"value": 2.0}}}
    tree["steps"][0]["parameters"] = {"value": 99.0}
    asdf.AsdfFile(tree).write_to(path)
    with pytest.raises(ParameterError, match=r"two\.add\.value=99\.0 is above the maximum 10"):
        build_configuration(TwoPipeline, None, config_file=str(path), use_crds=False)


def test_remove_suffix_and_output_path(tmp_path):
    assert remove_suffix("jw02_nrca1_uncal") == "jw02_nrca1"
    assert remove_suffix("jw02_nrca1_dark_current") == "jw02_nrca1"
    p = output_path("/x/jw02_nrca1_uncal.fits", "rate", output_dir=str(tmp_path))
    assert p == str(tmp_path / "jw02_nrca1_rate.fits")
    p = output_path("jw02_nrca1_uncal.fits", "rateints", output_dir="o", output_file="mine.fits")
    assert p.endswith("o/mine_rateints.fits")


def test_dq_flags_equal_the_stdatamodels_definitions():
    from stdatamodels.jwst.datamodels import dqflags

    from webbcal import dqflags as ours

    assert ours.PIXEL == dict(dqflags.pixel)
    assert ours.GROUP == dict(dqflags.group)


@pytest.mark.parametrize("workers", [1, 0])
def test_save_model_beside_writes_what_save_model_writes(tmp_path, workers):
    """A forked worker (or this process, with no worker) writes the same file as
    save_model, and the model here has the metadata a save gives it."""
    from astropy.io import fits

    from webbcal.lib.forkmap import ForkPool

    step = AddStep(output_dir=str(tmp_path / "beside"))
    plain = AddStep(output_dir=str(tmp_path / "plain"))
    model, other = _image(3.0), _image(3.0)
    model.meta.filename = other.meta.filename = "jw02_nrca1_cal.fits"
    with ForkPool(workers) as pool:
        finish = step.save_model_beside(model, pool, "i2d")
        path = finish()
    want = plain.save_model(other, "i2d")
    assert path.endswith("jw02_nrca1_i2d.fits") and model.meta.filename == "jw02_nrca1_i2d.fits"
    assert model.meta.filename == other.meta.filename and model.meta.date is not None
    with fits.open(path) as a, fits.open(want) as b:
        np.testing.assert_array_equal(a["SCI"].data, b["SCI"].data)
        keys = [k for k in b[0].header if k not in ("DATE", "")]
        assert [a[0].header.get(k) for k in keys] == [b[0].header[k] for k in keys]
    assert path in step._root().__dict__["_written"]
