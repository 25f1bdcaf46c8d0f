"""The ``resample`` step adapter: drizzle imaging exposures onto one output grid (``i2d``)."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

import numpy as np

from ..datamodels.io import InputError
from ..stpipe import Param, Step
from .constants import KERNELS, VARIANCE_NAMES

if TYPE_CHECKING:
    from .coadd import Coadd, CoaddParams, Exposure

__all__ = ["ResampleStep"]

log = logging.getLogger(__name__)

#: Largest node spacing of the pixel-map grid (``pixmap_stepsize`` is clipped to it).
_MAX_INITIAL_STEP = 256


def _name(model: Any) -> str:
    return getattr(model.meta, "filename", None) or "<model>"


class ResampleStep(Step):
    """Drizzle imaging exposures onto a common TAN grid (official alias ``resample``).

    The input is one calibrated exposure (``cal``; stage 2 makes its ``i2d``) or a
    library of exposures (stage 3 mosaic). Members are read one at a time: memory
    holds one exposure and the output planes (SCI, WHT, CON, ERR, VAR_*).

    Differences from the official step, by design:

    * the pixel map is interpolated on a node grid with a measured error bound of
      at most 0.001 output pixel (:func:`webbcal.wcs.pixel_map`), never a plain
      interpolation without a bound: ``pixmap_stepsize`` > 1 only sets the first
      node spacing tried, and ``pixmap_order`` (1 or 3) is accepted and checked
      but the interpolation is always bicubic;
    * ``blendheaders`` is accepted; the product's metadata come from the first
      member (the exposure-time keywords are summed as officially);
    * ``weight_type=None`` gives unit weights to good pixels (officially an error);
    * ``single=True`` returns its per-group products in memory (a library) even
      with ``in_memory=False``;
    * webbcal extensions ``memory_limit`` and ``scheduler``: a mosaic (a library
      input) with ``in_memory=False``, a ``scheduler``, or an estimated need above
      ``memory_limit`` is combined tile by tile (:mod:`webbcal.resample.tiles`),
      each tile reading only the members that reach it, in this process or on
      dask.distributed; the result equals the in-memory one except for rare
      one-ulp differences and drizzle's clipping on the mosaic's outer frame.

    References
    ----------
    JWST pipeline documentation, ``resample`` step (arguments, weighting,
    context, error and variance planes, output keywords).

    Fruchter, A. S. & Hook, R. N. 2002, PASP 114, 144 (drizzle).
    """

    class_alias = "resample"
    cal_step_name = "resample"
    library_mode = "library"
    spec = (
        Param("pixfrac", float, 1.0, "Pixel shrinkage factor", minimum=0.0, maximum=1.0),
        Param("kernel", str, "square", "Flux distribution kernel", choices=KERNELS),
        Param("fillval", str, "NAN", "Output value for pixels with no weight or flux"),
        Param("weight_type", str, "ivm", "Input image weighting type",
              choices=("ivm", "exptime"), allow_none=True),
        Param("output_shape", list, None, "Output shape [x, y]", element=int, length=2,
              allow_none=True),
        Param("crpix", list, None, "0-based image coordinates of the reference pixel",
              element=float, length=2, allow_none=True),
        Param("crval", list, None, "World coordinates of the reference pixel", element=float,
              length=2, allow_none=True, unit="deg"),
        Param("rotation", float, None, "Output image Y-axis PA relative to North",
              allow_none=True, unit="deg"),
        Param("pixel_scale_ratio", float, 1.0, "Ratio of output to input pixel scale"),
        Param("pixel_scale", float, None, "Absolute pixel scale", allow_none=True,
              unit="arcsec"),
        Param("output_wcs", str, "", "Custom output WCS (ASDF file); overrides the other "
              "WCS parameters"),
        Param("single", bool, False, "Resample each exposure group to its own product on "
              "the common grid (outlier detection)"),
        Param("blendheaders", bool, True, "Blend metadata from inputs (metadata of the "
              "first member are used)"),
        Param("in_memory", bool, True, "Keep images in memory"),
        Param("enable_ctx", bool, True, "Compute and report the context array"),
        Param("enable_err", bool, True, "Compute and report the err array"),
        Param("report_var", bool, True, "Report the variance arrays"),
        Param("propagate_dq", bool, False, "Propagate DQ (bitwise OR) during resampling"),
        Param("pixmap_stepsize", float, 1.0, "First node spacing of the pixel-map grid "
              "(the 0.001 pixel error bound always holds)", unit="pixel"),
        Param("pixmap_order", int, 1, "Accepted for compatibility (must be 1 or 3); the "
              "pixel map is always bicubic with a measured error bound"),
        Param("memory_limit", str, "2GB", "webbcal: peak memory target of a mosaic; above "
              "it (or with in_memory=False) the output grid is combined tile by tile"),
        Param("scheduler", str, "", "webbcal: run the mosaic's tiles on dask.distributed: "
              "'local' (a local cluster) or a scheduler address (tcp://host:port); '' runs "
              "them in this process"),
    )  # fmt: skip

    def _copy_input(self, model: Any) -> Any:
        # The input is only read (invalid pixels are marked on new arrays), so a standalone
        # run needs no copy of it unless skipping records SKIPPED in the model itself.
        return model.copy() if self.skip else model

    # ------------------------------------------------------------------ checks
    def _check_parameters(self) -> None:
        if self.pixmap_order not in (1, 3):
            raise ValueError(f"resample: pixmap_order={self.pixmap_order!r}: expected 1 or 3")
        if self.output_shape is not None and min(self.output_shape) < 1:
            raise ValueError(
                f"resample: output_shape={list(self.output_shape)!r}: expected [x, y] >= [1, 1]"
            )

    @staticmethod
    def _check_member(model: Any, first: Any | None) -> None:
        name = _name(model)
        if getattr(model.meta, "wcs", None) is None:
            raise InputError(f"{name}: stage 2 not run (no WCS): meta.wcs is missing; "
                             "run assign_wcs (calwebb_image2) first")  # fmt: skip
        if model.data is None or model.data.ndim != 2:
            shape = None if model.data is None else model.data.shape
            raise InputError(f"{name}: SCI has shape {shape}; resample expects a 2-D image")
        if first is None:
            return
        for what in ("filter", "pupil"):
            a = getattr(first.meta.instrument, what, None)
            b = getattr(model.meta.instrument, what, None)
            if a != b:
                raise InputError(
                    f"{name}: {what.upper()}={b!r} differs from {_name(first)} "
                    f"({what.upper()}={a!r}); resample combines exposures of one filter"
                )

    # ------------------------------------------------------------------ inputs
    @staticmethod
    def _members(model: Any) -> tuple[Any, list[int]]:
        from ..datamodels import ModelLibrary

        if isinstance(model, ModelLibrary):
            indices = model.indices("science") or list(range(len(model)))
            return model, indices
        return None, [0]

    def _scan(self, library: Any, indices: list[int], single: Any):
        """First pass: check members, collect S_REGIONs and the reference exposure."""
        footprints, reference, first = [], None, None
        if library is None:
            self._check_member(single, None)
            return [self._s_region(single)], self._reference(single), single
        with library:
            for index in indices:
                model = library.borrow(index)
                try:
                    self._check_member(model, first)
                    footprints.append(self._s_region(model))
                    if reference is None:
                        reference = self._reference(model)
                        first = _MetaOnly(model)
                finally:
                    library.shelve(model, index, modify=False)
        return footprints, reference, first

    @staticmethod
    def _s_region(model: Any) -> str:
        from ..wcs import s_region_from_wcs

        text = getattr(model.meta.wcsinfo, "s_region", None)
        return text if text else s_region_from_wcs(model.meta.wcs, shape=model.data.shape)

    @staticmethod
    def _reference(model: Any):
        """WCS, pointing (or the reason it is unusable) and shape of the first member."""
        from ..wcs import PointingError, pointing_from_model

        try:
            pointing = pointing_from_model(model)
        except PointingError as exc:
            pointing = InputError(f"{exc} (needed for the default output grid)")
        return model.meta.wcs, pointing, model.data.shape

    # ------------------------------------------------------------------ grid
    def _grid(self, footprints, reference):
        from .grid import GridError, custom_grid, grid_from_footprints

        shape = None if self.output_shape is None else tuple(self.output_shape)[::-1]
        try:
            if self.output_wcs:
                return custom_grid(self.output_wcs, output_shape=shape)
            wcs, pointing, ref_shape = reference
            if isinstance(pointing, InputError):
                raise pointing
            return grid_from_footprints(
                footprints, wcs, pointing, reference_shape=ref_shape,
                pixel_scale_ratio=self.pixel_scale_ratio, pixel_scale=self.pixel_scale,
                rotation=self.rotation, crpix=self.crpix, crval=self.crval,
                output_shape=shape,
            )  # fmt: skip
        except (GridError, ValueError) as exc:
            raise InputError(f"resample: cannot build the output grid: {exc}") from None

    def _coadd_params(self) -> CoaddParams:
        from ..wcs import MAX_TOLERANCE
        from .coadd import CoaddParams

        step = int(min(max(self.pixmap_stepsize, 8), _MAX_INITIAL_STEP))
        return CoaddParams(
            pixfrac=self.pixfrac, kernel=self.kernel, fillval=self.fillval,
            weight_type=self.weight_type, enable_ctx=self.enable_ctx,
            enable_var=self.enable_err and not self.single, drizzle_err=self.single,
            tolerance=MAX_TOLERANCE, initial_step=step if self.pixmap_stepsize > 1 else 128,
        )  # fmt: skip

    # ------------------------------------------------------------------ process
    def process(self, model: Any) -> Any:
        """Resample the exposure(s) of ``model`` into one ``ImageModel``."""
        self._check_parameters()
        library, indices = self._members(model)
        footprints, reference, first = self._scan(library, indices, model)
        grid = self._grid(footprints, reference)
        ratio = grid.pixel_scale_ratio
        if ratio is None:
            ratio = self._measured_ratio(first, reference, grid.pixel_scale)
        log.info("Output grid %s (ny, nx), %.6g arcsec, %d exposure(s)",
                 grid.shape, grid.pixel_scale, len(indices))  # fmt: skip
        if self.single:
            return self._single(library, indices, model, grid, first, footprints, ratio)
        if library is not None and self._tiled(grid, reference[2]):
            from .tiles import tiled_coadd

            result = tiled_coadd(
                library, indices, grid, self._coadd_params(), pixel_scale_ratio=ratio,
                propagate_dq=self.propagate_dq, exposure=self._exposure,
                memory_limit=self._memory_limit(), scheduler=self.scheduler,
            )  # fmt: skip
            return self._product(result, grid, first, footprints, ratio, library)
        coadd = self._coadd(grid, len(indices), ratio)
        self._add_all(coadd, library, indices, model, first_meta=first)
        return self._product(coadd.finalize(), grid, first, footprints, ratio, library)

    def _memory_limit(self) -> int:
        from ..pipeline.streaming import parse_memory
        from ..stpipe import ParameterError

        try:
            return parse_memory(self.memory_limit)
        except ValueError as exc:
            raise ParameterError(f"resample: {exc}") from None

    def _tiled(self, grid, member_shape) -> bool:
        """Whether a mosaic is combined tile by tile (webbcal extension, same result)."""
        from .tiles import estimated_in_memory_bytes

        limit = self._memory_limit()
        if self.scheduler:
            log.info("Mosaic tiles run on dask.distributed (scheduler=%r)", self.scheduler)
            return True
        if not self.in_memory:
            log.info("in_memory=False: the mosaic is combined tile by tile")
            return True
        need = estimated_in_memory_bytes(grid.shape, member_shape)
        if need > limit:
            log.info("The mosaic needs about %.2f GB in memory (memory_limit %.2f GB): "
                     "combined tile by tile", need / 2**30, limit / 2**30)  # fmt: skip
            return True
        return False

    def _coadd(self, grid, n_inputs, ratio) -> Coadd:
        from .coadd import Coadd
        from .tiles import tile_halo

        params = self._coadd_params()
        return Coadd(grid.wcs, params, n_inputs=n_inputs, pixel_scale_ratio=ratio,
                     propagate_dq=self.propagate_dq,
                     pad=tile_halo(params.kernel, ratio))  # fmt: skip

    def _add_all(self, coadd, library, indices, model, *, first_meta=None):
        """Drizzle the members ``indices`` one at a time; return the first one's metadata."""
        if library is None:
            coadd.add(self._exposure(model))
            return model
        with library:
            for index in indices:
                member = library.borrow(index)
                try:
                    self._check_member(member, None)
                    if first_meta is None:
                        first_meta = _MetaOnly(member)
                    coadd.add(self._exposure(member))
                finally:
                    library.shelve(member, index, modify=False)
                del member
        return first_meta

    def _single(self, library, indices, model, grid, first, footprints, ratio):
        """One product per exposure group, all on the common grid (``single=True``)."""
        from ..datamodels import ModelLibrary

        if library is None:
            groups = {"": [0]}
        else:
            groups: dict[str, list[int]] = {}
            for index in indices:
                groups.setdefault(library.group_id_of(index), []).append(index)
        products = []
        for members in groups.values():
            coadd = self._coadd(grid, len(members), ratio)
            group_first = self._add_all(coadd, library, members, model)
            product = self._product(coadd.finalize(), grid, group_first, footprints, ratio,
                                    library)  # fmt: skip
            product.meta.filename = _single_name(group_first.meta.filename)
            products.append(product)
        log.info("single=True: %d group product(s)", len(products))
        return ModelLibrary(products)

    @staticmethod
    def _measured_ratio(first, reference, out_scale):
        from .grid import mean_pixel_area

        area = getattr(first.meta.photometry, "pixelarea_steradians", None)
        if not area or area <= 0:
            wcs, _, shape = reference
            area = mean_pixel_area(wcs, shape)
        return out_scale / (3600.0 * np.degrees(np.sqrt(area)))

    @staticmethod
    def _exposure(model: Any) -> Exposure:
        from .coadd import Exposure, mark_invalid

        variances = {n: getattr(model, n) for n in VARIANCE_NAMES if model.hasattr(n)}
        err = model.err if model.hasattr("err") else None
        data, dq, err, variances = mark_invalid(model.data, model.dq, err, variances)
        exposure = model.meta.exposure
        background = model.meta.background
        level = getattr(background, "level", None)
        subtracted = getattr(background, "subtracted", None)
        return Exposure(
            data=data, dq=dq, wcs=model.meta.wcs, variances=variances, err=err,
            exposure_time=exposure.exposure_time,
            measurement_time=getattr(exposure, "measurement_time", None),
            start_time=exposure.start_time, end_time=exposure.end_time,
            duration=exposure.duration, group_id=getattr(model.meta, "group_id", None) or "",
            sky_level=level if (level is not None and not subtracted) else None,
            name=_name(model),
        )  # fmt: skip

    # ------------------------------------------------------------------ product
    def _product(self, result, grid, first, footprints, ratio, library):
        from stdatamodels.jwst import datamodels as dm

        from .product import combined_s_region, pixel_area_steradians, update_wcsinfo

        # Every value set here is ours or the (valid) input's: the product is
        # validated once, when it is saved, not on each assignment.
        out = dm.ImageModel(validate_on_assignment=False)
        out.update(first.model if isinstance(first, _MetaOnly) else first)
        out.meta.bunit_data = first.meta.bunit_data
        out.data = result.data
        out.wht = result.wht
        if result.con is not None:
            out.con = result.con
        if result.dq is not None:
            out.dq = result.dq
        if result.err is not None:
            out.err = result.err
            if self.report_var and result.variances:
                for name in VARIANCE_NAMES:
                    setattr(out, name, result.variances[name])
        elif out.meta.hasattr("bunit_err"):
            del out.meta.bunit_err
        out.meta.wcs = grid.wcs
        meta = out.meta
        meta.photometry.pixelarea_steradians = pixel_area_steradians(grid.pixel_scale)
        meta.photometry.pixelarea_arcsecsq = grid.pixel_scale**2
        meta.resample.pointings = result.pointings
        meta.resample.pixel_scale_ratio = ratio
        meta.resample.pixfrac = self.pixfrac
        meta.resample.kernel = self.kernel
        meta.resample.fillval = self.fillval
        meta.resample.weight_type = self.weight_type
        meta.exposure.exposure_time = result.exposure_time
        meta.exposure.effective_exposure_time = result.exposure_time
        meta.exposure.start_time = result.start_time
        meta.exposure.end_time = result.end_time
        meta.exposure.duration = result.duration
        meta.exposure.elapsed_exposure_time = result.duration
        meta.exposure.measurement_time = result.measurement_time
        meta.background.level = None
        meta.background.subtracted = None
        update_wcsinfo(meta.wcsinfo, grid.wcs)
        region = combined_s_region(footprints, grid.wcs)
        if region is not None:
            meta.wcsinfo.s_region = region
        if library is not None:
            asn = library.asn
            if asn.asn_pool:
                meta.asn.pool_name = asn.asn_pool
            if asn.path:
                meta.asn.table_name = os.path.basename(asn.path)
        log.info("Pixel-map error bound used: %.2g output pixel", result.max_pixmap_error)
        return out


def _single_name(filename: str | None) -> str:
    """``<root>_outlier_i2d.fits`` from a member name ``<root>_<suffix>.fits``."""
    stem, dot, ext = (filename or "exposure_cal.fits").rpartition(".")
    root = "_".join(stem.split("_")[:-1]) or stem
    return f"{root}_outlier_i2d{dot}{ext}"


class _MetaOnly:
    """Metadata of the first member kept after its arrays are released."""

    def __init__(self, model: Any) -> None:
        from stdatamodels.jwst import datamodels as dm

        self.model = dm.ImageModel(validate_on_assignment=False)
        self.model.update(model)
        self.model.meta.bunit_data = model.meta.bunit_data
        self.meta = self.model.meta
