"""clean_flicker_noise: fit and remove 1/f (flicker) read noise from ramps and rates."""

import importlib

from .step import CleanFlickerNoiseStep

# The kernels (astropy statistics, scipy) load on first use so that listing the
# steps stays fast.
_LAZY = {
    "background_level": "background", "clip_to_background": "background",
    "scene_mask": "background", "FlickerParameters": "clean", "FlickerResult": "clean",
    "clean_flicker_noise": "clean", "clean_image": "clean", "draft_rate": "clean",
    "ReadoutLayout": "noise_fit", "fft_noise": "noise_fit", "lowpass_window": "noise_fit",
    "median_noise": "noise_fit", "noise_model": "noise_fit",
}  # fmt: skip


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CleanFlickerNoiseStep",
    "FlickerParameters",
    "FlickerResult",
    "ReadoutLayout",
    "background_level",
    "clean_flicker_noise",
    "clean_image",
    "clip_to_background",
    "draft_rate",
    "fft_noise",
    "lowpass_window",
    "median_noise",
    "noise_model",
    "scene_mask",
]
