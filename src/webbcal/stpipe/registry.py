"""Names of webbcal's steps and pipelines (official aliases and class names).

Modules are imported only when a class is requested, so listing names and
``--help`` stay fast.
"""

from __future__ import annotations

import importlib

from .params import ParameterError

__all__ = ["PIPELINES", "STEPS", "get_step_class", "known_names"]

#: Step alias -> "module:Class".
STEPS: dict[str, str] = {
    "group_scale": "webbcal.group_scale:GroupScaleStep",
    "dq_init": "webbcal.dq_init:DQInitStep",
    "emicorr": "webbcal.emicorr:EmiCorrStep",
    "saturation": "webbcal.saturation:SaturationStep",
    "ipc": "webbcal.ipc:IPCStep",
    "superbias": "webbcal.superbias:SuperBiasStep",
    "refpix": "webbcal.refpix:RefPixStep",
    "firstframe": "webbcal.firstframe:FirstFrameStep",
    "lastframe": "webbcal.lastframe:LastFrameStep",
    "reset": "webbcal.reset:ResetStep",
    "linearity": "webbcal.linearity:LinearityStep",
    "rscd": "webbcal.rscd:RscdStep",
    "dark_current": "webbcal.dark_current:DarkCurrentStep",
    "charge_migration": "webbcal.charge_migration:ChargeMigrationStep",
    "jump": "webbcal.jump:JumpStep",
    "picture_frame": "webbcal.picture_frame:PictureFrameStep",
    "clean_flicker_noise": "webbcal.clean_flicker_noise:CleanFlickerNoiseStep",
    "persistence": "webbcal.persistence:PersistenceStep",
    "ramp_fit": "webbcal.ramp_fitting:RampFitStep",
    "gain_scale": "webbcal.gain_scale:GainScaleStep",
    "guider_cds": "webbcal.guider_cds:GuiderCdsStep",
    "flat_field": "webbcal.flat_field:FlatFieldStep",
    "bkg_subtract": "webbcal.background:BackgroundStep",
    "photom": "webbcal.photom:PhotomStep",
    "assign_wcs": "webbcal.assign_wcs:AssignWcsStep",
    "resample": "webbcal.resample:ResampleStep",
    "assign_mtwcs": "webbcal.assign_mtwcs:AssignMTWcsStep",
    "tweakreg": "webbcal.tweakreg:TweakRegStep",
    "skymatch": "webbcal.skymatch:SkyMatchStep",
    "outlier_detection": "webbcal.outlier_detection:OutlierDetectionStep",
    "source_catalog": "webbcal.source_catalog:SourceCatalogStep",
    "srctype": "webbcal.srctype:SourceTypeStep",
    "pixel_replace": "webbcal.pixel_replace:PixelReplaceStep",
    "extract_2d": "webbcal.extract_2d:Extract2dStep",
    "extract_1d": "webbcal.extract_1d:Extract1dStep",
    "white_light": "webbcal.white_light:WhiteLightStep",
    "tso_photometry": "webbcal.tso_photometry:TSOPhotometryStep",
}

#: Pipeline alias -> "module:Class".
PIPELINES: dict[str, str] = {
    "calwebb_detector1": "webbcal.pipeline:Detector1Pipeline",
    "calwebb_guider": "webbcal.pipeline:GuiderPipeline",
    "calwebb_dark": "webbcal.pipeline:DarkPipeline",
    "calwebb_image2": "webbcal.pipeline.image2:Image2Pipeline",
    "calwebb_image3": "webbcal.pipeline.image3:Image3Pipeline",
    "calwebb_spec2": "webbcal.pipeline.spec2:Spec2Pipeline",
    "calwebb_tso3": "webbcal.pipeline.tso3:Tso3Pipeline",
}


def known_names() -> list[str]:
    """Every alias and class name that :func:`get_step_class` accepts."""
    names = list(PIPELINES) + list(STEPS)
    names += [target.split(":")[1] for target in (*PIPELINES.values(), *STEPS.values())]
    return names


def _load(target: str) -> type:
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)


def get_step_class(name: str) -> type:
    """Return the step or pipeline class named by an alias or class name.

    Accepts official aliases (``calwebb_detector1``, ``jump``), class names
    (``JumpStep``) and dotted paths of the official or webbcal packages
    (``jwst.jump.JumpStep``, ``jwst.pipeline.Detector1Pipeline``); the dotted
    prefix is ignored and the class name decides.

    Raises
    ------
    ParameterError
        If no step or pipeline has that name.
    """
    table = {**PIPELINES, **STEPS}
    if name in table:
        return _load(table[name])
    short = name.rsplit(".", 1)[-1]
    for target in table.values():
        if target.split(":")[1].lower() == short.lower():
            return _load(target)
    raise ParameterError(
        f"unknown step or pipeline {name!r}; known names: {', '.join(sorted(known_names()))}"
    )
