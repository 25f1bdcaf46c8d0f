"""Kernel parameter dataclasses as the single declaration of a step's parameters."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from webbcal.jump.params import JumpParameters
from webbcal.jump.step import JumpStep
from webbcal.refpix.params import RefPixParameters
from webbcal.refpix.step import RefPixStep
from webbcal.stpipe.params import (
    Param,
    ParameterError,
    dataclass_from_parameters,
    dataclass_params,
    param_field,
)


@dataclass(frozen=True)
class _Options:
    threshold: float = param_field(4.0, "Sigma threshold", minimum=0, unit="sigma")
    mode: str = param_field("fast", "Mode", choices=("fast", "slow"))
    shape: tuple = param_field((3, 4), "Output shape", element=int, length=2)
    flag: bool = param_field(True, "Flag neighbours")


def test_fields_declare_params_in_order():
    params = dataclass_params(_Options)
    assert params == (
        Param("threshold", float, 4.0, "Sigma threshold", minimum=0, unit="sigma"),
        Param("mode", str, "fast", "Mode", choices=("fast", "slow")),
        Param("shape", list, (3, 4), "Output shape", element=int, length=2),
        Param("flag", bool, True, "Flag neighbours"),
    )
    assert params[0].help_text() == "Sigma threshold (float; sigma; range [0, inf]; default 4.0)"
    with pytest.raises(ParameterError, match=r"mode='medium' is not one of fast, slow"):
        params[1].convert("medium")


def test_dataclass_from_parameters_takes_its_fields_only():
    values = {"threshold": 2.5, "flag": False, "maximum_cores": "all", "skip": False}
    assert dataclass_from_parameters(_Options, values) == _Options(threshold=2.5, flag=False)


def test_undeclared_field_and_unknown_option_are_refused():
    @dataclass(frozen=True)
    class Plain:
        a: int = 1
        b: int = field(default=2)

    with pytest.raises(TypeError, match=r"Plain\.a is not declared with param_field\(\)"):
        dataclass_params(Plain)
    with pytest.raises(TypeError, match=r"unknown option\(s\) \['minimun'\]"):
        param_field(1, "x", minimun=0)
    with pytest.raises(TypeError, match="is not a dataclass"):
        dataclass_params(int)


@pytest.mark.parametrize(
    ("step", "kernel", "step_only"),
    [(JumpStep, JumpParameters, {"maximum_cores"}), (RefPixStep, RefPixParameters, set())],
)
def test_step_parameters_are_the_kernel_declarations(step, kernel, step_only):
    declared = {p.name: p for p in dataclass_params(kernel)}
    spec = {p.name: p for p in step.spec}
    assert set(spec) - set(declared) == step_only
    for name, param in declared.items():
        assert spec[name] is param
        # The dataclass default is the step default.
        assert getattr(kernel(), name) == param.default


def test_jump_kernel_checks_follow_the_declared_bounds():
    with pytest.raises(
        ValueError, match=r"rejection_threshold=-1\.0: expected a finite value >= 0"
    ):
        JumpParameters(rejection_threshold=-1.0)
    # minimum_groups is declared with minimum=1: the kernel refuses 0 as the step does.
    with pytest.raises(ValueError, match=r"minimum_groups=0: expected a finite value >= 1"):
        JumpParameters(minimum_groups=0)
    step_param = {p.name: p for p in JumpStep.spec}["minimum_groups"]
    with pytest.raises(ParameterError, match="below the minimum 1"):
        step_param.convert(0, owner="jump")


def test_refpix_algorithm_choices_declared_once():
    (algo,) = [p for p in RefPixStep.spec if p.name == "refpix_algorithm"]
    assert tuple(algo.choices) == ("median", "sirs")
    with pytest.raises(ValueError, match=r"refpix_algorithm='fancy': expected one of"):
        RefPixParameters(refpix_algorithm="fancy")
