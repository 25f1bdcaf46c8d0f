"""Typed parameters beyond scalars: lists, number strings, None, options.

Text follows the official strun grammar (configobj list values); parameter files
written by jwst load, and files webbcal writes load in jwst.
"""

from __future__ import annotations

import os

import asdf
import numpy as np
import pytest

from webbcal.cli import UsageError, main, parse_run_arguments
from webbcal.stpipe import Param, ParameterError, Pipeline, Step
from webbcal.stpipe.config import build_configuration, read_config_file, write_config_file
from webbcal.stpipe.params import split_list_text

# The list parameters of the official resample and outlier_detection steps, declared
# the webbcal way.
OUTPUT_SHAPE = Param("output_shape", list, None, "Output shape nx,ny", element=int, length=2,
                     minimum=1, allow_none=True)  # fmt: skip
CRPIX = Param("crpix", list, None, "Reference pixel", element=float, length=2, allow_none=True)
CRVAL = Param("crval", list, None, "Reference sky position", element=float, length=2,
              allow_none=True, unit="deg")  # fmt: skip
ROTATION = Param("rotation", float, None, "Y axis position angle", allow_none=True, unit="deg")
WEIGHT = Param("weight_type", str, "ivm", "Weighting", choices=("ivm", "exptime"),
               allow_none=True)  # fmt: skip
KRON = Param("kron_params", list, None, "Kron aperture", element=float, length=(2, 3),
             allow_none=True)  # fmt: skip
NAMES = Param("slit_names", list, None, "Slits", element=str, allow_none=True)
SNR = Param("snr", str, "5.0 4.0", "Outlier thresholds", element=float, length=2)
SCALE = Param("scale", str, "1.2 0.7", "Outlier scales", element=float, length=2)


class ResampleLike(Step):
    """A step with the official resample step's list parameters (test step)."""

    class_alias = "resample"
    spec = (OUTPUT_SHAPE, CRPIX, CRVAL, ROTATION, WEIGHT, KRON, NAMES, SNR, SCALE)

    def process(self, model):
        return model


class ImagePipe(Pipeline):
    """One resample step (test pipeline)."""

    class_alias = "calwebb_test"
    step_defs = {"resample": ResampleLike}

    def process(self, model):
        return self.resample.run(model)


# ---------------------------------------------------------------------- text
@pytest.mark.parametrize(
    ("param", "text", "expected"),
    [
        (OUTPUT_SHAPE, "1000,1200", (1000, 1200)),
        (OUTPUT_SHAPE, "1000, 1200", (1000, 1200)),
        (OUTPUT_SHAPE, " 1000 , 1200 ,", (1000, 1200)),  # trailing comma, spaces
        (OUTPUT_SHAPE, "'1000', \"1200\"", (1000, 1200)),  # quoted items
        (OUTPUT_SHAPE, "None", None),
        (OUTPUT_SHAPE, "null", None),
        (CRPIX, "1.5,2", (1.5, 2.0)),
        (CRVAL, "-12.25,1e-3", (-12.25, 0.001)),
        (ROTATION, "None", None),
        (ROTATION, "-45", -45.0),
        (WEIGHT, "EXPTIME", "exptime"),
        (WEIGHT, "None", None),
        (KRON, "2.5,1.4", (2.5, 1.4)),
        (KRON, "2.5,1.4,0.1", (2.5, 1.4, 0.1)),
        (NAMES, "'S200A1',S1600A1", ("S200A1", "S1600A1")),
        (NAMES, "'a,b'", ("a,b",)),
        (NAMES, "S200A1", ("S200A1",)),  # a single item (official: needs a trailing comma)
        (NAMES, ",", ()),
        (SNR, "5.0 4.0", "5.0 4.0"),
        (SNR, " 6 3 ", "6 3"),
    ],
)  # fmt: skip
def test_text_is_parsed(param, text, expected):
    assert param.convert(text, owner="resample") == expected


@pytest.mark.parametrize(
    ("param", "value", "message"),
    [
        (OUTPUT_SHAPE, "1000", "resample.output_shape='1000' has 1 value; expected "
         "int_list[2] or None"),
        (OUTPUT_SHAPE, "1,2,3", "resample.output_shape='1,2,3' has 3 values; expected "
         "int_list[2] or None"),
        (OUTPUT_SHAPE, "1000.5,1200", "resample.output_shape='1000.5,1200': item '1000.5' is "
         "not a valid int"),
        (OUTPUT_SHAPE, "0,1200", "resample.output_shape='0,1200': item 0 is below the "
         "minimum 1"),
        (OUTPUT_SHAPE, "[1000, 1200]", "resample.output_shape='[1000, 1200]': brackets are not "
         "part of the list syntax; write the values separated by commas, e.g. 1000, 1200"),
        (OUTPUT_SHAPE, "1000,,1200", "resample.output_shape='1000,,1200': empty value between "
         "commas"),
        (OUTPUT_SHAPE, "'1000,1200", "resample.output_shape=\"'1000,1200\": unbalanced quote"),
        (OUTPUT_SHAPE, [1000, True], "resample.output_shape=[1000, True]: item True is not a "
         "valid int"),
        (OUTPUT_SHAPE, 1000, "resample.output_shape=1000 is not a list; expected int_list[2] "
         "or None"),
        (OUTPUT_SHAPE, [[1, 2], [3, 4]], "resample.output_shape=[[1, 2], [3, 4]] is not a flat "
         "list"),
        (CRPIX, "nan,2", "resample.crpix='nan,2': item nan is not allowed; expected a number"),
        (CRPIX, "a,b", "resample.crpix='a,b': item 'a' is not a valid float"),
        (KRON, "1", "resample.kron_params='1' has 1 value; expected float_list[2..3] or None"),
        (WEIGHT, "area", "resample.weight_type='area' is not one of ivm, exptime"),
        (SNR, "5,4", "resample.snr='5,4' has 1 value; expected str of 2 floats"),
        (SNR, "5 x", "resample.snr='5 x': item 'x' is not a valid float"),
        (SNR, None, "resample.snr=None is not allowed; expected str of 2 floats"),
    ],
)  # fmt: skip
def test_bad_values_name_owner_value_and_expectation(param, value, message):
    with pytest.raises(ParameterError) as info:
        param.convert(value, owner="resample")
    assert str(info.value) == message


@pytest.mark.jwst_oracle
@pytest.mark.parametrize(
    "text",
    ["1000,1200", "1000, 1200", "1000,1200,", " 1000 , 1200", "'1000','1200'", '"1000", 1200',
     "1000,1200,1300", "1000", "1000,", ",", "[1000, 1200]", "(1000,1200)", "1000 1200",
     "1000.0,1200", "1e3,1200", "1000,,1200", "'1000,1200", "None"],
)  # fmt: skip
def test_list_grammar_matches_stpipe(text):
    """Values the official parser accepts are read the same; what it refuses we refuse,
    except None (a single item without comma is refused here for its length)."""
    pytest.importorskip("stpipe")
    from configobj import ConfigObj
    from configobj.validate import ValidateError, Validator

    check = "int_list(min=2, max=2, default=None)"
    try:
        raw, _ = ConfigObj()._handle_value(text)
        official = Validator().check(check, raw)
    except (SyntaxError, ValidateError):
        official = "refused"
    try:
        ours = OUTPUT_SHAPE.convert(text)
    except ParameterError:
        ours = "refused"
    if text == "None":  # the official parser refuses None for a list; webbcal accepts it
        assert official == "refused" and ours is None
        return
    assert ours == (official if official == "refused" else tuple(official))


def test_split_list_text_items():
    assert split_list_text("a, 'b, c' ,\"d\",") == ["a", "b, c", "d"]
    assert split_list_text("") == [""]


# ---------------------------------------------------------------------- python values
def test_python_values_are_held_as_tuples():
    step = ResampleLike(output_shape=[1000, 1200], crpix=np.array([1.5, 2.5]), crval=(1, 2))
    assert step.output_shape == (1000, 1200) and isinstance(step.output_shape, tuple)
    assert step.crpix == (1.5, 2.5) and all(type(v) is float for v in step.crpix)
    assert step.crval == (1.0, 2.0)
    step.snr = [6.0, 3.5]  # written in the official string form
    assert step.snr == "6.0 3.5"
    assert SNR.items(step.snr) == (6.0, 3.5)
    assert ResampleLike().output_shape is None
    with pytest.raises(ParameterError, match=r"resample\.crpix=\(1\.0,\) has 1 value"):
        step.crpix = (1.0,)


def test_list_default_is_checked_and_frozen():
    p = Param("box", list, [32, 32], "Box", element=int, length=2)
    assert p.default == (32, 32)
    with pytest.raises(ParameterError, match=r"default\.box=\[32\] has 1 value"):
        Param("box", list, [32], "Box", element=int, length=2)
    with pytest.raises(TypeError, match="needs an element type"):
        Param("box", list, None, "Box", allow_none=True)


# ---------------------------------------------------------------------- command line
def test_command_line_options_and_steps_section():
    over = parse_run_arguments(
        ImagePipe, ["--steps.resample.output_shape=1000,1200", "--steps.resample.crpix",
                    "1.5,2.5", "--steps.resample.snr=6 3"],
    )  # fmt: skip
    merged = build_configuration(ImagePipe, None, overrides=over, use_crds=False)
    values = merged["steps"]["resample"]
    assert values == {"output_shape": (1000, 1200), "crpix": (1.5, 2.5), "snr": "6 3"}
    with pytest.raises(ParameterError, match=r"calwebb_test\.resample\.output_shape='1000'"):
        bad = {"steps": {"resample": {"output_shape": "1000"}}}
        build_configuration(ImagePipe, None, overrides=bad, use_crds=False)
    with pytest.raises(UsageError, match="step resample has no parameter 'output_shap'"):
        parse_run_arguments(ImagePipe, ["--steps.resample.output_shap=1,2"])


def test_help_and_list_show_types(capsys):
    assert OUTPUT_SHAPE.help_text() == (
        "Output shape nx,ny (int_list[2] or None; range [1, inf]; default None)"
    )
    assert SNR.help_text() == "Outlier thresholds (str of 2 floats; default '5.0 4.0')"
    assert Param("b", list, (32, 32), "Box", element=int, length=2).help_text() == (
        "Box (int_list[2]; default 32,32)"
    )
    assert main(["run", "clean_flicker_noise", "--help"]) == 0
    text = capsys.readouterr().out
    assert "--background_box_size=INT,INT " in text and "int_list[2] or None" in text
    assert (SNR.metavar(), KRON.metavar(), ROTATION.metavar()) == (
        "'FLOAT FLOAT'",
        "FLOAT,...",
        "VALUE",
    )
    assert main(["list"]) == 0
    text = capsys.readouterr().out
    assert "onthefly_corr_freq" in text and "float_list or None; Hz" in text
    assert "inverse" in text


# ---------------------------------------------------------------------- files
def test_parameter_files_store_lists_as_lists(tmp_path):
    step = ResampleLike(output_shape=(10, 20), crval=[1.5, -2.0])
    path = write_config_file(step, str(tmp_path / "p.asdf"))
    with asdf.open(path) as af:
        assert af.tree["parameters"]["output_shape"] == [10, 20]
        assert type(af.tree["parameters"]["output_shape"]) is list
        assert af.tree["parameters"]["snr"] == "5.0 4.0"
    merged = build_configuration(ResampleLike, None, config_file=path, use_crds=False)
    assert merged["output_shape"] == (10, 20) and merged["crval"] == (1.5, -2.0)
    with asdf.open(path) as af:
        tree = dict(af.tree)
        tree["parameters"] = {"output_shape": [10, 20, 30]}
        asdf.AsdfFile(tree).write_to(tmp_path / "bad.asdf")
    with pytest.raises(ParameterError) as info:
        build_configuration(ResampleLike, None, config_file=str(tmp_path / "bad.asdf"),
                            use_crds=False)  # fmt: skip
    assert str(info.value) == (
        f"{tmp_path / 'bad.asdf'}: resample.output_shape=[10, 20, 30] has 3 values; "
        "expected int_list[2] or None"
    )


@pytest.mark.jwst_oracle
def test_official_resample_and_outlier_files_are_read(tmp_path):
    pytest.importorskip("jwst")
    from jwst.outlier_detection import OutlierDetectionStep
    from jwst.resample import ResampleStep

    ResampleStep(output_shape=[1000, 1200], crpix=[1.5, 2.5], crval=[150.1, 2.2],
                 rotation=30.0).export_config(str(tmp_path / "resample.asdf"))  # fmt: skip
    OutlierDetectionStep(snr="6.0 3.5").export_config(str(tmp_path / "outlier.asdf"))
    params = read_config_file(str(tmp_path / "resample.asdf"))["parameters"]
    params.update(read_config_file(str(tmp_path / "outlier.asdf"))["parameters"])
    specs = ResampleLike.param_specs()
    names = ("output_shape", "crpix", "crval", "rotation", "weight_type", "snr", "scale")
    values = {name: specs[name].convert(params[name], owner="resample") for name in names}
    assert values == {
        "output_shape": (1000, 1200), "crpix": (1.5, 2.5), "crval": (150.1, 2.2),
        "rotation": 30.0, "weight_type": "ivm", "snr": "6.0 3.5", "scale": "1.2 0.7",
    }  # fmt: skip


@pytest.mark.jwst_oracle
def test_official_list_parameters_of_webbcal_steps_are_read(tmp_path):
    pytest.importorskip("jwst")
    from jwst.clean_flicker_noise import CleanFlickerNoiseStep as Flicker
    from jwst.emicorr import EmiCorrStep as Emi

    from webbcal.clean_flicker_noise import CleanFlickerNoiseStep
    from webbcal.emicorr import EmiCorrStep

    Flicker(background_box_size=[16, 32]).export_config(str(tmp_path / "f.asdf"))
    Emi(onthefly_corr_freq=[218.52, 10.39]).export_config(str(tmp_path / "e.asdf"))
    f = build_configuration(CleanFlickerNoiseStep, None, config_file=str(tmp_path / "f.asdf"),
                            use_crds=False)  # fmt: skip
    e = build_configuration(EmiCorrStep, None, config_file=str(tmp_path / "e.asdf"),
                            use_crds=False)  # fmt: skip
    assert f["background_box_size"] == (16, 32)
    assert e["onthefly_corr_freq"] == (218.52, 10.39)


def _rate_file(directory):
    from stdatamodels.jwst import datamodels as dm

    m = dm.ImageModel(data=np.ones((8, 8), np.float32))
    m.meta.instrument.name, m.meta.instrument.detector = "NIRCAM", "NRCA1"
    m.meta.exposure.type = "NRC_IMAGE"
    path = directory / "jw01234001001_01101_00001_nrca1_rate.fits"
    m.save(os.fspath(path))
    return path


@pytest.mark.jwst_oracle
def test_save_parameters_round_trip_and_jwst_reads_it(tmp_path, monkeypatch):
    pytest.importorskip("jwst")
    from stpipe import config_parser

    monkeypatch.chdir(tmp_path)
    rate = _rate_file(tmp_path)
    first, second = tmp_path / "first.asdf", tmp_path / "second.asdf"
    common = ["--output-dir", "out", "--disable-crds-steppars", "-q"]
    assert main(["run", "clean_flicker_noise", str(rate), "--background_box_size=16, 32",
                 "--save-parameters", str(first), *common]) == 0  # fmt: skip
    assert main(["run", "clean_flicker_noise", str(rate), "--config", str(first),
                 "--save-parameters", str(second), *common]) == 0  # fmt: skip
    for path in (first, second):
        with asdf.open(path) as af:
            assert af.tree["parameters"]["background_box_size"] == [16, 32]
    # The official parser reads the file webbcal wrote, list included.
    from jwst.clean_flicker_noise import CleanFlickerNoiseStep as Flicker

    config = config_parser.load_config_file(str(second))
    config.pop("class")
    config.pop("name")
    assert Flicker.from_config_section(config).background_box_size == [16, 32]


def test_path_objects_are_accepted_as_strings(tmp_path):
    """output_dir, override_<reftype> and other text parameters take a pathlib.Path as
    the text of that path; other objects are still refused."""
    out = Param("output_dir", str, None, "Output folder", allow_none=True)
    assert out.convert(tmp_path / "sub", owner="calwebb_spec2") == os.fspath(tmp_path / "sub")
    with pytest.raises(ParameterError, match=r"calwebb_spec2.output_dir=3 is not a valid str"):
        out.convert(3, owner="calwebb_spec2")
