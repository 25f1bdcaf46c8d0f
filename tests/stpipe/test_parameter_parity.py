"""Parameter names, types, defaults and options are those of jwst 3.0.0.

For every pipeline in :data:`PIPELINES` (and every step webbcal offers on its own),
the official declarations are read from the jwst classes' ``spec`` through stpipe's
own parser, and compared with webbcal's ``Param`` declarations. Where webbcal
differs on purpose the difference is listed, with its reason, in
:data:`DELIBERATE_DIFFERENCES`; anything else fails, and so does a listed
difference that no longer exists. Official framework parameters webbcal accepts
and ignores are those of ``IGNORED_OFFICIAL_PARAMETERS``; a test loads real
parameter files exported by jwst to prove it.

Adding a pipeline (calwebb_image2, ...) to the comparison: add its alias to
:data:`PIPELINES`.
"""

from __future__ import annotations

import pytest

pytest.importorskip("jwst")

from _official_specs import (
    OfficialParam,
    official_class,
    official_parameters,
    official_pipeline_parameters,
    official_step_aliases,
)

from webbcal.stpipe.config import IGNORED_OFFICIAL_PARAMETERS, build_configuration
from webbcal.stpipe.registry import PIPELINES, STEPS, get_step_class

pytestmark = pytest.mark.jwst_oracle

#: Pipelines compared with the official ones (a new pipeline: add its alias here).
PIPELINES_CHECKED = [
    "calwebb_detector1",
    "calwebb_dark",
    "calwebb_guider",
    "calwebb_image2",
    "calwebb_image3",
    "calwebb_spec2",
    "calwebb_tso3",
]

_NO_SPECTRAL_FLATS = "NIRSpec spectroscopic flats (fflat, sflat, dflat) are not implemented"
_WEBBCAL_ONLY = "webbcal only: "
_SPEC2_MODE = (
    "calwebb_spec2 implements MIRI LRS slitless and NIRCam grism time series only; this step "
    "does nothing there"
)

#: (step alias or pipeline alias, parameter, or "*" for a whole step) -> reason.
DELIBERATE_DIFFERENCES = {
    ("flat_field", "override_fflat"): _NO_SPECTRAL_FLATS,
    ("flat_field", "override_sflat"): _NO_SPECTRAL_FLATS,
    ("flat_field", "override_dflat"): _NO_SPECTRAL_FLATS,
    ("ramp_fit", "algorithm"): "also accepts 'OLS' of older jwst versions (fitted as OLS_C)",
    ("calwebb_detector1", "progress"): _WEBBCAL_ONLY + "progress line on a terminal",
    ("calwebb_detector1", "streaming"): _WEBBCAL_ONLY + "ramp steps run by blocks of rows",
    ("calwebb_detector1", "memory_limit"): _WEBBCAL_ONLY + "peak memory target of streaming",
    ("calwebb_dark", "progress"): _WEBBCAL_ONLY + "progress line on a terminal",
    ("calwebb_spec2", "memory_limit"): _WEBBCAL_ONLY + "integrations in chunks above it",
    ("calwebb_tso3", "memory_limit"): _WEBBCAL_ONLY + "integrations in chunks above it",
    **{
        (step, "*"): _SPEC2_MODE
        for step in (
            "badpix_selfcal",
            "msa_flagging",
            "imprint_subtract",
            "master_background_mos",
            "targ_centroid",
            "wavecorr",
            "straylight",
            "fringe",
            "residual_fringe",
            "pathloss",
            "barshadow",
            "wfss_contam",
            "adaptive_trace_model",
            "resample_spec",
            "cube_build",
        )
    },
    ("resample", "memory_limit"): _WEBBCAL_ONLY + "peak memory target of a tiled mosaic",
    ("resample", "scheduler"): _WEBBCAL_ONLY + "mosaic tiles on dask.distributed",
}


def compare(owner, official, ours):
    """Differences between official and webbcal declarations of one step or pipeline.

    Parameters
    ----------
    owner : str
        Step or pipeline alias (first item of the keys).
    official : dict of str to OfficialParam
    ours : dict of str to webbcal Param

    Returns
    -------
    dict
        ``{(owner, name): description}``; official framework parameters that
        webbcal ignores are not differences.
    """
    found = {}
    for name in sorted(set(official) | set(ours)):
        key = (owner, name)
        if name not in ours:
            if name not in IGNORED_OFFICIAL_PARAMETERS:
                found[key] = "missing in webbcal"
            continue
        if name not in official:
            found[key] = "webbcal only"
            continue
        off, p = official[name], ours[name]
        problems = []
        if (p.type, p.element) != (off.type, off.element) and not (
            off.check == "list" and p.type is list  # untyped official list
        ):
            problems.append(f"type {p.type_name()} vs official {off.check}")
        default = p.default
        if default != off.default:
            problems.append(f"default {default!r} vs official {off.default!r}")
        if off.options is not None:
            theirs = sorted(o.lower() for o in off.options)
            mine = sorted(c.lower() for c in (p.choices or ()))
            if theirs != mine:
                problems.append(f"options {mine} vs official {theirs}")
            if off.allows_none and not p.allow_none:
                problems.append("None is an official option")
        if p.type is list:
            lo, hi = p._length_range
            off_lo, off_hi = off.length
            if (lo or None, hi) != (off_lo or None, off_hi):
                problems.append(f"length {p.type_name()} vs official min={off_lo} max={off_hi}")
        if problems:
            found[key] = "; ".join(problems)
    return found


def _pipeline_differences(alias):
    ours_cls = get_step_class(alias)
    official = official_pipeline_parameters(official_class(alias))
    found = compare(alias, official.pop(""), ours_cls.param_specs())
    for step, params in official.items():
        if step not in ours_cls.step_defs:
            found[(step, "*")] = "step missing in webbcal"
            continue
        found.update(compare(step, params, ours_cls.step_defs[step].param_specs()))
    return found


@pytest.fixture(scope="module")
def all_differences():
    found = {}
    for alias in PIPELINES_CHECKED:
        found.update(_pipeline_differences(alias))
    for alias in STEPS:
        ours = get_step_class(alias).param_specs()
        found.update(compare(alias, official_parameters(official_class(alias)), ours))
    return found


def test_every_webbcal_pipeline_is_checked():
    assert sorted(PIPELINES_CHECKED) == sorted(PIPELINES)


@pytest.mark.parametrize("alias", PIPELINES_CHECKED)
def test_pipeline_parameters_match_official(alias):
    found = _pipeline_differences(alias)
    unexpected = {k: v for k, v in found.items() if k not in DELIBERATE_DIFFERENCES}
    assert unexpected == {}


@pytest.mark.parametrize("alias", list(STEPS))
def test_step_parameters_match_official(alias):
    ours = get_step_class(alias).param_specs()
    found = compare(alias, official_parameters(official_class(alias)), ours)
    unexpected = {k: v for k, v in found.items() if k not in DELIBERATE_DIFFERENCES}
    assert unexpected == {}


def test_deliberate_differences_are_all_still_true(all_differences):
    stale = sorted(set(DELIBERATE_DIFFERENCES) - set(all_differences))
    assert stale == [], "remove these entries: webbcal now matches the official declaration"


@pytest.mark.parametrize("alias", PIPELINES_CHECKED)
def test_pipeline_step_aliases_in_official_order(alias):
    ours = get_step_class(alias)
    official = official_step_aliases(official_class(alias))
    missing = [a for a in official if (a, "*") in DELIBERATE_DIFFERENCES]
    assert list(ours.step_defs) == [a for a in official if a not in missing]
    assert set(missing) <= set(ours.unimplemented_steps)


def test_official_step_aliases_helper():
    from jwst.pipeline import GuiderPipeline

    assert official_step_aliases(GuiderPipeline) == ["dq_init", "guider_cds", "flat_field"]


@pytest.mark.parametrize("alias", PIPELINES_CHECKED)
def test_official_exported_parameter_file_loads_with_our_defaults(alias, tmp_path):
    """A file written by jwst's ``export_config`` loads; every value equals our default."""
    path = tmp_path / f"{alias}.asdf"
    official_class(alias)().export_config(str(path))
    ours = get_step_class(alias)
    merged = build_configuration(ours, None, config_file=str(path), use_crds=False)
    steps = merged.pop("steps", {})
    mismatched = {}
    for owner, values, specs in [(alias, merged, ours.param_specs())] + [
        (step, values, ours.step_defs[step].param_specs()) for step, values in steps.items()
    ]:
        for name, value in values.items():
            default = specs[name].default
            if value != default and not (name == "input_dir" and value == "" and default is None):
                if (owner, name) not in DELIBERATE_DIFFERENCES:
                    mismatched[(owner, name)] = (value, default)
    assert mismatched == {}
    assert set(steps) == set(ours.step_defs)


def test_ignored_official_parameters_are_accepted(tmp_path):
    from jwst.jump import JumpStep

    path = tmp_path / "jump.asdf"
    JumpStep(pre_hooks=[], output_use_model=True, search_output_file=False).export_config(str(path))
    merged = build_configuration(get_step_class("jump"), None, config_file=str(path),
                                 use_crds=False)  # fmt: skip
    assert "output_use_model" not in merged and "pre_hooks" not in merged
    assert merged["rejection_threshold"] == 4.0


def test_compare_reports_each_kind_of_difference():
    from webbcal.stpipe import Param

    official = {
        "a": OfficialParam("int_list", list, int, None, None, True, (2, 2)),
        "b": OfficialParam("option", str, None, "x", ("x", "y"), True, (None, None)),
        "c": OfficialParam("float", float, None, 1.0, None, False, (None, None)),
        "pre_hooks": OfficialParam("list", list, str, (), None, False, (None, None)),
        "gone": OfficialParam("boolean", bool, None, False, None, False, (None, None)),
    }
    ours = {
        "a": Param("a", list, None, "d", element=int, length=(1, 2), allow_none=True),
        "b": Param("b", str, "x", "d", choices=("x", "z")),
        "c": Param("c", str, "1.0", "d"),
        "extra": Param("extra", bool, True, "d"),
    }
    assert compare("s", official, ours) == {
        ("s", "a"): "length int_list[1..2] or None vs official min=2 max=2",
        ("s", "b"): "options ['x', 'z'] vs official ['x', 'y']; None is an official option",
        ("s", "c"): "type str vs official float; default '1.0' vs official 1.0",
        ("s", "extra"): "webbcal only",
        ("s", "gone"): "missing in webbcal",
    }


def test_ignored_official_parameters_are_official_names():
    """Every name webbcal accepts and ignores is declared by the official pipeline (or, for
    prefetch_references, an attribute of every official step)."""
    names = set()
    for alias in PIPELINES_CHECKED:
        for params in official_pipeline_parameters(official_class(alias)).values():
            names |= set(params)
    names.add("prefetch_references")
    assert sorted(IGNORED_OFFICIAL_PARAMETERS - names) == []
