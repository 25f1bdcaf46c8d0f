"""The ``pixel_replace`` step adapter: estimate bad pixels of spectral images before
extraction (``calwebb_spec2``, ``calwebb_tso3``)."""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np

from ..datamodels.io import InputError
from ..stpipe import Param, Step
from ..stpipe.params import ParameterError
from .replace import VARIANCES, replace_bad_pixels

__all__ = ["PixelReplaceStep"]

log = logging.getLogger(__name__)

#: Bytes of working copies per chunk of integrations (SCI, DQ, ERR, VAR_*), so memory
#: does not grow with the number of integrations.
CHUNK_BYTES = 32 * 2**20

_SPEC = (
    Param("algorithm", str, "mingrad", "Replacement algorithm ('trace_model' needs "
          "adaptive_trace_model: not implemented)",
          choices=("fit_profile", "mingrad", "trace_model")),
    Param("n_adjacent_cols", int, 3, "fit_profile: neighbouring profiles on each side used "
          "for the median profile", minimum=0, unit="pixel"),
    Param("skip", bool, True, "Skip this step (skipped by default, as in the official pipeline)"),
)  # fmt: skip


def _name(model: Any) -> str:
    return getattr(model.meta, "filename", None) or "<model>"


class PixelReplaceStep(Step):
    """Replace bad pixels of 2-D spectra by estimates (official alias ``pixel_replace``).

    Input: a spectral image or a cube of integrations: ``ImageModel``, ``SlitModel``
    (2-D or 3-D) or ``CubeModel`` with DISPAXIS (``meta.wcsinfo.dispersion_direction``)
    1 or 2, such as a MIRI LRS slitless ``_calints``; or an association (each member in
    turn). Output: the same model with SCI, ERR and VAR_* estimated on the replaced pixels,
    which lose DO_NOT_USE and gain FLUX_ESTIMATED (:mod:`webbcal.pixel_replace.replace`:
    ``mingrad`` replaces non-finite pixels from their two closest neighbours,
    ``fit_profile`` the DO_NOT_USE pixels from a scaled median of the neighbouring
    cross-dispersion profiles). Integrations are treated independently, in chunks, so
    memory holds one copy of the data and one chunk. Skipped unless ``skip=False``
    (CRDS parameter references turn it on for some modes). Saved with suffix
    ``pixel_replace`` when ``save_results``.

    Differences from the official step, by design: input that is not a 2-D/3-D
    spectral image (no DISPAXIS 1 or 2, or another data model) raises
    :class:`~webbcal.datamodels.io.InputError` (officially: an error logged and the
    step marked SKIPPED); ``algorithm='trace_model'`` raises
    :class:`~webbcal.stpipe.params.ParameterError` (it needs adaptive_trace_model, which
    webbcal does not implement; the official step fits a trace model first);
    ``MultiSlitModel`` and IFU images are not supported; a pixel replaced by
    ``fit_profile`` that was already flagged FLUX_ESTIMATED keeps that flag (officially
    it is toggled off).

    Raises
    ------
    InputError
        See above.
    ParameterError
        ``algorithm='trace_model'``.

    References
    ----------
    JWST pipeline documentation, ``pixel_replace`` step (description, arguments);
    jwst 3.0.0 ``PixelReplaceStep``.
    """

    class_alias = "pixel_replace"
    cal_step_name = "pixel_replace"
    spec = _SPEC

    def process(self, model: Any) -> Any:
        """Replace the bad pixels of ``model`` (a copy the step owns; updated and returned).

        Raises
        ------
        InputError
            If ``model`` is not a 2-D/3-D spectral image with DISPAXIS 1 or 2.
        ParameterError
            If ``algorithm`` is 'trace_model'.
        """
        if self.algorithm == "trace_model":
            raise ParameterError(
                "pixel_replace.algorithm='trace_model' needs the adaptive_trace_model step, "
                "which webbcal does not implement; use 'mingrad' or 'fit_profile'"
            )
        dispaxis = check_pixel_replace_input(model)
        log.info("Replacing bad pixels of %s with the %s algorithm (DISPAXIS=%d)",
                 _name(model), self.algorithm, dispaxis)  # fmt: skip
        names = ["data", "dq", "err"] + [v for v in VARIANCES if model.hasattr(v)]
        arrays = {name: getattr(model, name) for name in names}
        if np.ndim(model.data) == 2:
            total = self._replace(arrays, slice(None), dispaxis)
        else:
            nints = model.data.shape[0]
            per_int = sum(a[0].nbytes for a in arrays.values())
            chunk = max(1, CHUNK_BYTES // max(per_int, 1))
            total = 0
            for start in range(0, nints, chunk):
                total += self._replace(arrays, slice(start, min(start + chunk, nints)), dispaxis)
        log.info("%d pixels replaced in %s", total, _name(model))
        return model

    def save_result(self, result: Any, suffix: str | None = None) -> list[str]:
        """Save the result; inside calwebb_tso3 under the member's level-3 name
        (``<member root>_<asn_id>_pixel_replace.fits``, as officially)."""
        from ..datamodels import save_model
        from ..stpipe.naming import member_output_path

        member = self.__dict__.get("_member_product")
        if member is None:
            return super().save_result(result, suffix)
        root = self._root()
        path = member_output_path(
            member[0], suffix or self.output_suffix, asn_id=member[1],
            output_dir=self.output_dir or root.output_dir,
        )  # fmt: skip
        existed = os.path.exists(path)
        save_model(result, path)
        if not existed:
            self.record_output(path)
        return [path]

    def _replace(self, arrays: dict, part: slice, dispaxis: int) -> int:
        """Replace the pixels of integrations ``part`` and write them back; the count."""
        result = replace_bad_pixels(
            arrays["data"][part], arrays["dq"][part], arrays["err"][part],
            variances={k: arrays[k][part] for k in VARIANCES if k in arrays},
            algorithm=self.algorithm, dispaxis=dispaxis, n_adjacent_cols=self.n_adjacent_cols,
        )  # fmt: skip
        arrays["data"][part] = result.data
        arrays["dq"][part] = result.dq
        arrays["err"][part] = result.err
        for name, values in result.variances.items():
            arrays[name][part] = values
        return int(result.n_replaced.sum())


def check_pixel_replace_input(model: Any) -> int:
    """Check that ``model`` is a spectral image pixel_replace can treat; its DISPAXIS.

    Returns
    -------
    int
        The dispersion direction, 1 (along x) or 2 (along y).

    Raises
    ------
    InputError
        If ``model`` is not an ImageModel, SlitModel or CubeModel with 2-D or 3-D SCI,
        DQ and ERR, or DISPAXIS (``meta.wcsinfo.dispersion_direction``) is not 1 or 2.
    """
    from stdatamodels.jwst import datamodels as dm

    name = _name(model)
    kinds = (dm.ImageModel, dm.SlitModel, dm.CubeModel)
    if not isinstance(model, kinds) or isinstance(model, dm.IFUImageModel):
        raise InputError(f"{name}: pixel_replace needs an ImageModel, SlitModel or CubeModel "
                         f"spectral image; got {type(model).__name__}")  # fmt: skip
    ndim = np.ndim(model.data)
    if ndim not in (2, 3):
        raise InputError(f"{name}: SCI has {ndim} dimensions (shape {np.shape(model.data)}); "
                         "pixel_replace expects (ny, nx) or (nints, ny, nx)")  # fmt: skip
    dispaxis = model.meta.wcsinfo.dispersion_direction
    if dispaxis not in (1, 2):
        exp_type = model.meta.exposure.type
        raise InputError(f"{name}: DISPAXIS (meta.wcsinfo.dispersion_direction) is {dispaxis!r} "
                         f"(EXP_TYPE={exp_type}); pixel_replace needs a spectrum with DISPAXIS "
                         "1 or 2 (run assign_wcs on spectroscopic data first)")  # fmt: skip
    for ext in ("dq", "err"):
        if not model.hasattr(ext) or np.shape(getattr(model, ext)) != np.shape(model.data):
            raise InputError(f"{name}: {ext.upper()} is missing or not of SCI's shape "
                             f"{np.shape(model.data)}")  # fmt: skip
    return int(dispaxis)
