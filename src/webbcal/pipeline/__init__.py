"""webbcal pipelines (calwebb_detector1, calwebb_dark, calwebb_guider, calwebb_image2)."""

from importlib import import_module
from typing import Any

__all__ = ["DarkPipeline", "Detector1Pipeline", "GuiderPipeline", "Image2Pipeline"]

#: Each pipeline's module, imported when the pipeline is first asked for: running one
#: pipeline does not import the steps of the others.
_MODULES = {
    "DarkPipeline": "dark",
    "Detector1Pipeline": "detector1",
    "GuiderPipeline": "guider",
    "Image2Pipeline": "image2",
}


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{module}"), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
