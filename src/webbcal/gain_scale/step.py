"""The ``gain_scale`` step adapter."""

import logging

import numpy as np

from ..stpipe import Step, StepSkipped

__all__ = ["GainScaleStep"]

log = logging.getLogger(__name__)


class GainScaleStep(Step):
    """Rescale rates by the gain factor GAINFACT (official alias ``gain_scale``)."""

    class_alias = "gain_scale"
    cal_step_name = "gain_scale"
    reference_file_types = ("gain",)
    optional_reference_types = ("gain",)

    def process(self, model):
        factor = model.meta.exposure.gain_factor
        if factor is None:
            path = self.get_reference_file(model, "gain")
            if path is not None:
                log.info("Using GAIN reference file: %s", path)
                factor = _gain_factor(path)
        if factor is None:
            log.info("GAINFACT not found in gain reference file")
            raise StepSkipped("no gain factor (GAINFACT) applies to this exposure")
        log.info("Rescaling by %s", factor)
        return self.apply_factor(model, factor)

    def apply_factor(self, model, factor: float):
        """Rescale ``model``'s rates, errors and variances by ``factor`` (GAINFACT).

        Also records ``meta.exposure.gain_factor``; nothing is looked up or
        logged (the pipeline applies to ``_rateints`` the factor the step found
        for ``_rate``). Returns ``model``, modified in place.
        """
        from .scale import scale_by_gain_factor

        def _opt(name):
            arr = getattr(model, name, None)
            return arr if arr is not None and np.size(arr) > 0 else None

        data, err, vp, vr = scale_by_gain_factor(
            model.data, model.err, _opt("var_poisson"), _opt("var_rnoise"), gain_factor=factor
        )
        model.data, model.err = data, err
        if vp is not None:
            model.var_poisson = vp
        if vr is not None:
            model.var_rnoise = vr
        model.meta.exposure.gain_factor = factor
        return model


def _gain_factor(path: str) -> float | None:
    """GAINFACT of a GAIN reference (primary header), read without loading its arrays.

    Raises
    ------
    ReferenceFileError
        If the file cannot be read as FITS or GAINFACT is not a number.
    """
    from astropy.io import fits

    from ..lib.reffiles import ReferenceFileError

    try:
        value = fits.getheader(path, 0).get("GAINFACT")
    except Exception as exc:  # astropy raises many types for damaged files
        raise ReferenceFileError(f"{path}: cannot read the primary header: {exc}") from None
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ReferenceFileError(
            f"{path}: GAINFACT={value!r}; expected a number (the gain factor)"
        ) from None
