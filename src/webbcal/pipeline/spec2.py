"""``calwebb_spec2``: spectroscopic count rates to calibrated spectra (time-series modes).

Implemented mode: MIRI LRS slitless (``MIR_LRS-SLITLESS``), the time-series case above
all: ``_rateints`` -> ``_calints`` (``SlitModel`` cube, MJy/sr, with WAVELENGTH) and
``_x1dints`` (``TSOMultiSpecModel``); a ``_rate`` image gives ``_cal`` and ``_x1d``. The
steps, in the official order for this mode: assign_wcs, srctype, flat_field, photom,
pixel_replace (off by default), extract_1d. NIRCam grism time series (``NRC_TSGRISM``),
the official grism branch: assign_wcs, flat_field, extract_2d (the cut-out becomes the
``SlitModel``), srctype, photom, pixel_replace, extract_1d. Other exposure types are
refused with a message naming EXP_TYPE.

References
----------
JWST pipeline documentation, "calwebb_spec2: Stage 2 Spectroscopic Processing" (step
order per mode, product suffixes ``calints``/``x1dints`` for multi-integration data).
"""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np

from ..assign_wcs import AssignWcsStep
from ..background import BackgroundStep
from ..clean_flicker_noise import CleanFlickerNoiseStep
from ..datamodels import ModelLibrary
from ..datamodels.io import InputError
from ..extract_1d import Extract1dStep
from ..extract_2d import Extract2dStep
from ..flat_field import FlatFieldStep
from ..lib.cubeio import lazy_cube_of
from ..photom import PhotomStep
from ..pixel_replace import PixelReplaceStep
from ..srctype import SourceTypeStep
from ..stpipe import Param, Pipeline
from ..stpipe.naming import output_path
from . import chunked

__all__ = ["GRISM_EXP_TYPES", "SUPPORTED_EXP_TYPES", "Spec2Pipeline"]

log = logging.getLogger(__name__)

#: Exposure types this pipeline calibrates.
SUPPORTED_EXP_TYPES = ("MIR_LRS-SLITLESS", "NRC_TSGRISM")

#: Grism modes: flat_field before extract_2d (the official grism branch).
GRISM_EXP_TYPES = ("NRC_TSGRISM",)


class Spec2Pipeline(Pipeline):
    """Stage-2 spectroscopy: assign_wcs, srctype, flat_field, photom, pixel_replace,
    extract_1d.

    Input: a ``_rateints`` (CubeModel) or ``_rate`` (ImageModel) product of EXP_TYPE
    MIR_LRS-SLITLESS or NRC_TSGRISM (then extract_2d runs after flat_field and before
    srctype), or a level-2 association whose products have such a science member.
    A multi-integration exposure must carry its INT_TIMES table (the spectra's times come
    from it). Output: the calibrated ``_calints``/``_cal`` (returned and saved) and the
    extracted ``_x1dints``/``_x1d`` (saved by extract_1d when ``save_results``).

    Memory (webbcal): a ``_rateints`` file whose integrations do not fit in
    ``memory_limit`` (default 1.4GB, as calwebb_detector1) is, with ``save_results``,
    read, calibrated, extracted and saved in chunks of integrations
    (:mod:`webbcal.pipeline.chunked`; the products equal the whole-array ones); the
    returned calints then holds the metadata and (1, ny, nx) placeholder arrays, its
    integrations being in the saved file.

    clean_flicker_noise (NIRSpec only) and bkg_subtract (no background members in a
    time series) are skipped for these modes, as officially. pixel_replace (off by default)
    works, as officially, on a copy of the calibrated exposure that only extract_1d sees:
    the ``_calints``/``_cal`` product keeps its bad pixels. The official steps that do
    nothing for these modes (badpix_selfcal, msa_flagging, imprint_subtract,
    master_background_mos, targ_centroid, wavecorr, straylight, fringe, residual_fringe,
    pathloss, barshadow, wfss_contam, adaptive_trace_model, resample_spec, cube_build)
    are not implemented; parameter files may name those of
    :attr:`inapplicable_steps` with any values (ignored), the others only skipped.

    Raises
    ------
    InputError
        For another EXP_TYPE ("not yet supported"), or a multi-integration exposure without
        INT_TIMES; nothing is written.
    """

    class_alias = "calwebb_spec2"
    library_mode = "library"
    spec = (
        Param("save_bsub", bool, False,
              "Save background-subtracted exposures (deprecated; no background here)"),
        Param("fail_on_exception", bool, True, "Fail if any product fails"),
        Param("save_wfss_esec", bool, False, "Save WFSS e-/sec image (WFSS only; unused)"),
        Param("memory_limit", str, chunked.DEFAULT_MEMORY_LIMIT,
              "webbcal: target peak memory; a saved time series read from a file is "
              "calibrated in chunks of integrations that fit (e.g. 1.4GB, 800MB)"),
    )  # fmt: skip
    step_defs = {
        "assign_wcs": AssignWcsStep,
        "clean_flicker_noise": CleanFlickerNoiseStep,
        "bkg_subtract": BackgroundStep,
        "extract_2d": Extract2dStep,
        "flat_field": FlatFieldStep,
        "srctype": SourceTypeStep,
        "photom": PhotomStep,
        "pixel_replace": PixelReplaceStep,
        "extract_1d": Extract1dStep,
    }
    unimplemented_steps = (
        "badpix_selfcal", "msa_flagging", "imprint_subtract",
        "master_background_mos", "targ_centroid",
        "wavecorr", "straylight", "fringe", "residual_fringe", "pathloss", "barshadow",
        "wfss_contam", "adaptive_trace_model", "resample_spec", "cube_build",
    )  # fmt: skip
    #: Official steps that do nothing for MIRI LRS slitless (officially switched off for
    #: it): their values in parameter files are ignored. The others must be skipped
    #: (badpix_selfcal, targ_centroid, adaptive_trace_model act on LRS data when asked
    #: and are not implemented).
    inapplicable_steps = (
        "msa_flagging", "imprint_subtract", "master_background_mos",
        "wavecorr", "straylight", "fringe", "residual_fringe", "pathloss", "barshadow",
        "wfss_contam", "resample_spec", "cube_build",
    )  # fmt: skip

    @property
    def output_suffix(self) -> str:
        return self.suffix or "cal"

    @classmethod
    def open_input(cls, path: str) -> Any:
        """A ``_rateints`` file opens lazily (integrations read in chunks when used)."""
        return chunked.open_lazily(path) or super().open_input(path)

    def active_steps(self, model: Any) -> list[str]:
        """Steps whose references are prefetched."""
        steps = ["assign_wcs", "flat_field", "photom", "extract_1d"]
        if (getattr(model.meta.exposure, "type", None) or "").upper() in GRISM_EXP_TYPES:
            steps.insert(2, "extract_2d")
        return steps

    def prefetch(self, model: Any) -> None:
        """Check the exposure first (nothing is looked up for an unsupported one)."""
        if isinstance(model, ModelLibrary):
            science = ModelLibrary(model.asn, asn_exptypes="science")
            super().prefetch(science)
        else:
            check_spec2_input(model)
            super().prefetch(model)

    def process(self, model: Any) -> Any:
        log.info("Starting calwebb_spec2 ...")
        if isinstance(model, ModelLibrary):
            result: Any = tuple(self._products(model))
        else:
            result = self._calibrate(model, product=None)
        log.info("Ending calwebb_spec2")
        return result

    def _products(self, library: ModelLibrary) -> list[Any]:
        asn = library.asn
        out = []
        works = []
        for product in asn.products:
            science = [i for i, m in enumerate(library.members)
                       if m.product == product.name and m.exptype == "science"]  # fmt: skip
            if not science:
                raise InputError(f"{asn.path}: product {product.name!r} has no science member")
            if len(science) > 1:
                log.warning("Wrong number of science exposures found in %s; using only the "
                            "first", product.name)  # fmt: skip
            path = library.members[science[0]].path
            work = chunked.open_lazily(path) if path and os.path.exists(path) else None
            work = work or library.copy_of(science[0])
            check_spec2_input(work)
            works.append((product.name, work))
        for name, work in works:
            log.info("Processing product %s", name)
            if asn.asn_pool:
                work.meta.asn.pool_name = asn.asn_pool
            if asn.path:
                work.meta.asn.table_name = os.path.basename(asn.path)
            out.append(self._calibrate(work, product=name))
        return out

    def _calibrate(self, model: Any, *, product: str | None) -> Any:
        from stdatamodels.jwst import datamodels as dm

        check_spec2_input(model)
        ints = np.ndim(model.data) == 3
        cube = lazy_cube_of(model)
        grism = (model.meta.exposure.type or "").upper() in GRISM_EXP_TYPES
        if cube is not None and (grism or not self.pixel_replace.skip
                                 or not chunked.needs_chunks(self, cube)):  # fmt: skip
            # In memory (the caller gets the calibrated arrays): without save_results,
            # when the whole exposure fits in memory_limit, and (not yet chunked) for
            # the grism cut-out and with pixel_replace on.
            model, cube = chunked.materialize(model), None
        if product is not None:
            object.__setattr__(self, "_input_filename", product + ".fits")
        log.info("Working on input %s ...", model.meta.filename)
        model = self.assign_wcs.run(model)
        if model.meta.cal_step.assign_wcs != "COMPLETE":
            raise InputError(
                f"{model.meta.filename}: assign_wcs did not complete; no output product will "
                "be created"
            )
        # Not applicable to MIRI LRS (official: skipped for this mode / no backgrounds).
        for alias in ("clean_flicker_noise", "bkg_subtract"):
            step = getattr(self, alias)
            if not step.skip:
                log.info("%s does not apply to EXP_TYPE=%s: skipped", alias,
                         model.meta.exposure.type)  # fmt: skip
                step.skip = True
            model = step.run(model)
        root = product or os.path.basename(self._input_name or model.meta.filename or "spec")
        filename = os.path.basename(output_path(root, "calints" if ints else "cal",
                                                output_dir="."))  # fmt: skip
        if (model.meta.exposure.type or "").upper() in GRISM_EXP_TYPES:
            # Official grism branch: flat field, then the cut-out (a SlitModel), srctype.
            model = self.flat_field.run(model)
            model = self.extract_2d.run(model)
            model = self.srctype.run(model)
        else:
            # As the official pipeline: the exposure continues as a slit (the subarray's
            # position kept in XSTART/YSTART/XSIZE/YSIZE).
            slit = dm.SlitModel(model)
            for attr in ("xstart", "ystart", "xsize", "ysize"):
                setattr(slit, attr, getattr(model.meta.subarray, attr))
            model = self.srctype.run(slit)
            if cube is not None:
                return self._calibrate_chunked(model, cube, filename)
            model = self.flat_field.run(model)
        model = self.photom.run(model)
        model.meta.filename = filename
        # As officially: bad pixels are replaced in a copy that only extract_1d sees.
        work = model
        if not self.pixel_replace.skip:
            work = self.pixel_replace.run(model.copy())
        if not self.extract_1d.skip:
            self.extract_1d.suffix = "x1dints" if ints else "x1d"
            self.extract_1d.save_results = self.save_results
            x1d = self.extract_1d.run(work)
            if x1d is not work:
                x1d.close()
        if work is not model:
            work.close()
        return model

    def _calibrate_chunked(self, model: Any, cube: Any, filename: str) -> Any:
        """flat_field, photom and extract_1d on chunks of integrations (see
        :mod:`webbcal.pipeline.chunked`): the calints metadata, its arrays spilled."""
        model, extraction = chunked.calibrate_chunks(
            model, cube, [lambda m, _: self.flat_field.run(m), lambda m, _: self.photom.run(m)],
            memory_limit=chunked.memory_limit_bytes(self), spill_dir=self.output_dir or os.getcwd(),
            extractor=chunked.extractor_of(self.extract_1d),
            product_path=os.path.join(self.output_dir or os.getcwd(), filename),
        )  # fmt: skip
        model.meta.filename = filename
        if extraction is not None:
            try:
                self._save_x1dints(extraction.product(model, True))
            except BaseException:
                chunked.spill_of(model)[0].close()
                raise
        return model

    def _save_x1dints(self, x1d: Any) -> None:
        step = self.extract_1d
        step._set_status(x1d, "COMPLETE")
        step.finalize_result(x1d)
        if self.save_results:
            step.save_model(x1d, suffix="x1dints")
        x1d.close()

    def save_result(self, result: Any, suffix: str | None = None) -> list[str]:
        """Save each calibrated product under its own name (``<product>_calints.fits``)."""
        output_dir = self.output_dir or os.getcwd()
        paths = []
        for model in result if isinstance(result, tuple) else (result,):
            if chunked.spill_of(model) is None:
                paths += self.save_named(model)
                continue
            path = os.path.join(output_dir, model.meta.filename)
            existed = os.path.exists(path)
            paths.append(chunked.save_spilled(model, path))
            if not existed:
                self.record_output(path)
        return paths


def check_spec2_input(model: Any) -> None:
    """Refuse exposures calwebb_spec2 does not calibrate (before anything is written).

    Raises
    ------
    InputError
        For an EXP_TYPE other than :data:`SUPPORTED_EXP_TYPES` ("not yet supported"), or
        a multi-integration exposure without an INT_TIMES table.
    """
    name = getattr(model.meta, "filename", None) or "input"
    exp_type = (model.meta.exposure.type or "").upper()
    if exp_type not in SUPPORTED_EXP_TYPES:
        raise InputError(
            f"{name}: EXP_TYPE={exp_type or None!r} is not yet supported by calwebb_spec2 in "
            f"webbcal (supported: {', '.join(SUPPORTED_EXP_TYPES)}); use the official "
            "pipeline for this mode"
        )
    cube = lazy_cube_of(model)
    nints = cube.nints if cube is not None else np.shape(model.data)[0]
    if np.ndim(model.data) == 3 and nints > 1:
        table = model.int_times if model.hasattr("int_times") else None
        if table is None or len(table) == 0:
            raise InputError(
                f"{name}: a {nints}-integration exposure without an INT_TIMES "
                "table; expected the integration times of the _rateints product (the x1dints "
                "spectra are timed from it)"
            )
