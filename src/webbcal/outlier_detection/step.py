"""The ``outlier_detection`` step adapter (imaging): flag cosmic rays and other outliers."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..datamodels.io import InputError
from ..dqflags import PIXEL
from ..stpipe import Param, Step, StepSkipped

__all__ = ["MODES", "OutlierDetectionStep"]

log = logging.getLogger(__name__)

#: EXP_TYPE -> detection mode, as the official step sorts exposures.
MODES: dict[str, str] = {
    **dict.fromkeys(("NRC_IMAGE", "MIR_IMAGE", "NRS_IMAGE", "NIS_IMAGE", "FGS_IMAGE"), "imaging"),
    **dict.fromkeys(("NRC_WFSS", "MIR_LRS-FIXEDSLIT", "NRS_FIXEDSLIT", "NRS_MSASPEC",
                     "NIS_WFSS"), "spec"),
    **dict.fromkeys(("NIS_SOSS", "MIR_LRS-SLITLESS", "NRC_TSGRISM", "NRS_BRIGHTOBJ"), "tso"),
    **dict.fromkeys(("NRS_IFU", "MIR_MRS"), "ifu"),
    "NRC_TSIMAGE": "tso",
    **dict.fromkeys(("NRC_CORON", "MIR_LYOT", "MIR_4QPM"), "coron"),
}  # fmt: skip

#: Modes implemented here.
_SUPPORTED = ("imaging", "tso")

#: Flags set on an outlier.
FLAGGED = np.uint32(PIXEL["DO_NOT_USE"] | PIXEL["OUTLIER"])
_VARIANCES = ("var_poisson", "var_rnoise", "var_flat")
#: Bytes of pixel maps kept from the drizzle of each exposure for its blot (four
#: full-frame maps); beyond it the blot recomputes its map.
MAP_BUDGET_BYTES = 256 * 2**20


@dataclass(frozen=True)
class _Median:
    """The median image, its WCS and the metadata source of the saved ``_median``."""

    data: np.ndarray
    wcs: Any
    meta_source: Any
    name: str


class OutlierDetectionStep(Step):
    """Flag outliers (cosmic rays, hot pixels) by comparison with a median of the exposures
    (official alias ``outlier_detection``).

    Imaging (``NRC_IMAGE``, ``MIR_IMAGE``, ``NIS_IMAGE``, ``NRS_IMAGE``, ``FGS_IMAGE``):

    1. each exposure group (the detectors of one exposure, ``group_id``) is drizzled
       onto a common grid (the default ``resample`` grid of all members) with
       ``pixfrac``, ``kernel``, ``fillval`` and ``weight_type``; pixels with DQ bits
       outside ``good_bits`` get zero weight;
    2. pixels of a group image whose weight is below ``maskpt`` x its clipped mean
       weight are ignored;
    3. the median over the groups is computed by blocks of rows from a temporary file
       (:class:`~.median.ImageStack`): memory does not grow with the number of
       exposures;
    4. the median is blotted back onto every exposure (:func:`~.imaging.blot_median`);
    5. pixels failing the ``snr``/``scale`` tests (:func:`~.flagging.flag_resampled`,
       ``backg`` added to the blot, or the exposure's sky level when it was measured
       but not subtracted) get DO_NOT_USE and OUTLIER, and are set to NaN in SCI,
       ERR and VAR_*.

    With ``resample_data=False`` the median is taken over the exposures on their own
    grid (all must have one shape) and the test is ``|SCI - median| > snr1 * ERR``.
    The result is a new library (``_crf`` products, ``<member>_<asn_id>_crf.fits``);
    the input is not modified. ``save_intermediate_results`` writes the group images
    (``_outlier_i2d``), the median (``_median``) and the blots (``_blot``).

    Time series (``tso``: ``MIR_LRS-SLITLESS``, ``NRC_TSGRISM``, ``NRC_TSIMAGE``, ...,
    or a single cube with TSOVISIT): each exposure's integrations are compared with a
    rolling median over ``rolling_window_width`` integrations; pixels with
    ``|SCI - median| > snr1 * ERR`` get DO_NOT_USE and OUTLIER and are NaN
    (:mod:`.tso`; integrations in chunks, memory independent of their number). Saved as
    ``_crfints``. The official step's trailing-edge fill with
    ``rolling_window_width=2`` copies the last median over every integration; here
    every integration uses its own window (the last full window at the end).

    Other modes (spectroscopy, IFU, coronagraphy) are not supported yet: an
    error names the EXP_TYPE. An unknown EXP_TYPE, or fewer than two exposures, skips
    the step as officially.

    Differences from the official step, by design: the pixel maps (drizzle and blot)
    are interpolated with a measured error bound of at most 0.001 pixel
    (``pixmap_stepsize``/``pixmap_order`` only tune the first grid tried); the median
    is always computed from a temporary file by blocks of rows (the same values as
    in memory); the input library is never modified in place; a standalone run saves
    its results with the suffix ``crf`` (officially the class name,
    ``outlierdetectionstep``; calwebb_image3 sets ``crf``).

    References
    ----------
    JWST pipeline documentation, ``outlier_detection`` step ("Imaging Data", "Step
    Arguments", "Outlier Detection for memory-limited processing").

    Fruchter, A. S. & Hook, R. N. 2002, PASP 114, 144 (drizzle, blot).

    JWST pipeline documentation, ``outlier_detection`` step, "Time-Series Observations
    (TSO) Data".
    """

    class_alias = "outlier_detection"
    cal_step_name = "outlier_detection"
    library_mode = "library"
    #: Suffix of the saved per-exposure products when no ``suffix`` is given.
    default_suffix = "crf"
    spec = (
        Param("weight_type", str, "ivm", "Input image weighting type",
              choices=("ivm", "exptime")),
        Param("pixfrac", float, 1.0, "Pixel shrinkage factor", minimum=0.0, maximum=1.0),
        Param("kernel", str, "square", "Flux distribution kernel",
              choices=("square", "point", "turbo")),
        Param("fillval", str, "NAN", "Output value for pixels with no weight or flux"),
        Param("maskpt", float, 0.7, "Fraction of the clipped mean weight below which "
              "drizzled pixels are left out of the median"),
        Param("snr", str, "5.0 4.0", "Signal-to-noise thresholds (first, second test), "
              "two numbers"),
        Param("scale", str, "1.2 0.7", "Multipliers of the derivative image (first, "
              "second test), two numbers"),
        Param("backg", float, 0.0, "Background level added to the blotted median"),
        Param("kernel_size", str, "7 7", "IFU: median filter size (not implemented)"),
        Param("threshold_percent", float, 99.8, "IFU: percentile threshold (not "
              "implemented)"),
        Param("rolling_window_width", int, 25, "TSO: integrations in the rolling median"),
        Param("ifu_second_check", bool, False, "IFU: second check (not implemented)"),
        Param("save_intermediate_results", bool, False, "Save the group images, the "
              "median and the blots"),
        Param("resample_data", bool, True, "Resample the exposure groups before the "
              "median"),
        Param("good_bits", str, "~DO_NOT_USE", "DQ flags to allow"),
        Param("search_output_file", bool, False, "Accepted for compatibility (unused)"),
        Param("in_memory", bool, True, "Keep the exposures in memory (False: on disk)"),
        Param("pixmap_stepsize", float, 1.0, "First node spacing of the pixel-map grid "
              "(the 0.001 pixel error bound always holds)", unit="pixel"),
        Param("pixmap_order", int, 1, "Accepted for compatibility (must be 1 or 3); the "
              "pixel map is always bicubic with a measured error bound"),
    )  # fmt: skip

    #: Memory of one block of rows of the median, bytes (tests make it small).
    block_bytes: int | None = None

    #: Memory of one chunk of integrations in tso mode, bytes (tests make it small).
    chunk_bytes: int | None = None

    @property
    def output_suffix(self) -> str:
        """Suffix of the saved per-exposure products (``crf``, ``crfints`` for time
        series, unless ``suffix`` is set)."""
        if self.suffix:
            return self.suffix
        return "crfints" if self.__dict__.get("_mode_used") == "tso" else self.default_suffix

    # ------------------------------------------------------------------ process
    def _in_place(self) -> bool:
        # Members of an association opened by this run (or handed over by a pipeline
        # that made them, ``_owned``: calwebb_image3's library, calwebb_tso3's member
        # cubes) are flagged in place, so memory holds each member once; a library or
        # models given by the caller are never changed (copies).
        return self.owns_input()

    def process(self, model: Any) -> Any:
        """Flag the outliers of every exposure of ``model`` (a library).

        Returns
        -------
        ModelLibrary
            New library of the flagged exposures (``S_OUTLIER_DETECTION``).

        Raises
        ------
        InputError
            If the EXP_TYPE's mode is not supported yet, an exposure has no WCS, the
            exposures differ in filter, or (``resample_data=False``) in shape.
        StepSkipped
            For a single exposure given alone. A library of one exposure, or of an
            unknown EXP_TYPE, gives a copy with ``S_OUTLIER_DETECTION = SKIPPED``.
        """
        from ..datamodels import ModelLibrary

        if self.pixmap_order not in (1, 3):
            raise ValueError(f"outlier_detection: pixmap_order={self.pixmap_order!r}: "
                             "expected 1 or 3")  # fmt: skip
        library = model if isinstance(model, ModelLibrary) else None
        try:
            mode = self._mode(model, library)
            object.__setattr__(self, "_mode_used", mode)
            if mode != "tso" and (library is None or len(library) < 2):
                n = 1 if library is None else len(library)
                log.warning("Input only contains %d exposure(s); outlier detection will be "
                            "skipped", n)  # fmt: skip
                raise StepSkipped(f"only {n} exposure(s): nothing to compare with")
        except StepSkipped as why:
            if library is None:
                raise
            log.info("Step %s skipped: %s", self.name, why)
            return self._skipped(library)
        log.info("Outlier Detection mode: %s", mode)
        detect = getattr(self, f"_detect_{mode}", None)
        if detect is None:  # pragma: no cover - _mode refuses these first
            raise InputError(f"outlier_detection: mode {mode!r} is not yet supported")
        if library is None:
            # a standalone run already works on a copy; inside a pipeline, copy here
            # unless the pipeline hands over a model it owns (calwebb_tso3)
            owned = self.parent is None or self.owns_input()
            return self._detect_tso_model(model if owned else model.copy())
        return detect(library)

    def _skipped(self, library: Any) -> Any:
        """Copies of the members, recorded as SKIPPED (as officially)."""
        object.__setattr__(self, "_library_status", "SKIPPED")
        if self._in_place():
            return library
        results = library.derived()
        for index in range(len(library)):
            results.add_result(index, library.copy_of(index))
        return results

    def _finalize_library(self, library: Any, status: str) -> None:
        super()._finalize_library(library, self.__dict__.pop("_library_status", status))

    def _mode(self, model: Any, library: Any) -> str:
        if library is None:
            exp_type, name = model.meta.exposure.type, getattr(model.meta, "filename", None)
        else:
            with library:
                first = library.borrow(0)
                try:
                    exp_type, name = first.meta.exposure.type, first.meta.filename
                finally:
                    library.shelve(first, 0, modify=False)
        mode = MODES.get((exp_type or "").upper())
        if library is None and _is_tso(model):
            mode = "tso"
        if mode is None:
            log.error("Outlier detection failed for unknown/unsupported exposure type: %s",
                      exp_type)  # fmt: skip
            raise StepSkipped(f"EXP_TYPE={exp_type!r} has no outlier detection mode")
        if mode not in _SUPPORTED:
            raise InputError(
                f"{name or '<model>'}: EXP_TYPE={exp_type}: outlier_detection mode "
                f"{mode!r} is not yet supported by webbcal (imaging and tso only: "
                f"{', '.join(k for k, v in MODES.items() if v in _SUPPORTED)})"
            )
        return mode

    # ------------------------------------------------------------------ tso
    def _detect_tso(self, library: Any) -> Any:
        """Each member (a cube of integrations) against its own rolling median."""
        results = library.derived()
        for index in range(len(library)):
            results.add_result(index, self._detect_tso_model(library.copy_of(index)))
        return results

    def _detect_tso_model(self, model: Any) -> Any:
        """A flagged copy of one time series (``rolling_window_width``, ``snr``,
        ``maskpt``, ``good_bits``; see :mod:`.tso`)."""
        from .bits import bad_bits_from_good_bits

        try:
            bad_bits_from_good_bits(self.good_bits)
        except ValueError as exc:
            raise InputError(f"outlier_detection: {exc}") from None
        name = getattr(model.meta, "filename", None) or "<model>"
        if model.data.ndim != 3:
            raise InputError(f"{name}: SCI has shape {model.data.shape}; tso outlier "
                             "detection needs a cube of integrations (nints, ny, nx), "
                             "e.g. a _calints product")  # fmt: skip
        if self.save_intermediate_results:
            log.warning("save_intermediate_results: the rolling median is not saved in tso "
                        "mode (it would grow with the number of integrations)")  # fmt: skip
        mask = self.tso_mask(model.data, model.err, model.dq)
        _apply(model, mask)
        log.info("%d pixels marked as outliers", int(np.count_nonzero(mask)))
        return model

    def tso_mask(self, data: Any, err: Any, dq: Any) -> np.ndarray:
        """Outliers of a time series (:func:`.tso.flag_tso` with this step's parameters).

        ``data``, ``err``, ``dq``: (nints, ny, nx) arrays, or lazy arrays read in chunks
        (:meth:`webbcal.lib.cubeio.LazyCube.array`). Returns the bool mask.
        """
        from .bits import bad_bits_from_good_bits
        from .tso import DEFAULT_CHUNK_BYTES, flag_tso

        try:
            bad_bits = bad_bits_from_good_bits(self.good_bits)
        except ValueError as exc:
            raise InputError(f"outlier_detection: {exc}") from None
        snr1, _ = self._pair("snr")
        return flag_tso(data, err, dq, snr=snr1, width=int(self.rolling_window_width),
                        maskpt=float(self.maskpt), bad_bits=bad_bits,
                        chunk_bytes=self.chunk_bytes or DEFAULT_CHUNK_BYTES)  # fmt: skip

    # ------------------------------------------------------------------ imaging
    def _detect_imaging(self, library: Any) -> Any:
        from .bits import bad_bits_from_good_bits

        try:
            bad_bits = bad_bits_from_good_bits(self.good_bits)
        except ValueError as exc:
            raise InputError(f"outlier_detection: {exc}") from None
        snr1, snr2 = self._pair("snr")
        scale1, scale2 = self._pair("scale")
        indices = library.indices("science") or list(range(len(library)))
        self._maps = None
        try:
            if self.resample_data:
                median = self._median_resampled(library, indices, bad_bits)
            else:
                median = self._median_direct(library, indices, bad_bits)
            if self.save_intermediate_results:
                self._save_median(library, median)
            return self._flag_all(library, median, (snr1, snr2, scale1, scale2))
        finally:
            if self._maps is not None:
                self._maps.clear()
            self._maps = None

    def _resampler(self):
        from ..resample import ResampleStep

        return ResampleStep(
            name="resample", parent=self, pixfrac=self.pixfrac, kernel=self.kernel,
            fillval=self.fillval, weight_type=self.weight_type, enable_ctx=False,
            enable_err=False, blendheaders=False, pixmap_stepsize=self.pixmap_stepsize,
            pixmap_order=self.pixmap_order,
        )  # fmt: skip

    def _median_resampled(self, library: Any, indices: list[int], bad_bits: int) -> _Median:
        """Drizzle each exposure group, mask low weights, median over the groups."""
        from ..lib.forkmap import ForkPool
        from ..resample import PixelMapStore
        from .median import DEFAULT_BLOCK_BYTES, ImageStack

        resampler = self._resampler()
        footprints, reference, first = resampler._scan(library, indices, None)
        grid = resampler._grid(footprints, reference)
        ratio = grid.pixel_scale_ratio
        if ratio is None:
            ratio = resampler._measured_ratio(first, reference, grid.pixel_scale)
        params = replace(resampler._coadd_params(), bad_bits=bad_bits)
        # Each exposure's map onto the grid is drizzled with, then blotted back with.
        self._maps = PixelMapStore(MAP_BUDGET_BYTES, tolerance=params.tolerance,
                                   initial_step=max(8, params.initial_step))  # fmt: skip
        groups: dict[str, list[int]] = {}
        for index in indices:
            groups.setdefault(library.group_id_of(index), []).append(index)
        log.info("Drizzling %d exposure group(s) onto a %s (ny, nx) grid", len(groups),
                 grid.shape)  # fmt: skip
        meta_source = None
        # With the members in memory, every second group is drizzled in a forked
        # worker while this process drizzles the one before it; the images are
        # stacked in group order.
        beside = not (self.save_intermediate_results or library.on_disk)
        drizzle = _GroupDrizzle(resampler, library, grid, params, ratio, self.maskpt,
                                MAP_BUDGET_BYTES)  # fmt: skip
        ordered = list(groups.values())
        with ImageStack(len(groups), grid.shape,
                        block_bytes=self.block_bytes or DEFAULT_BLOCK_BYTES) as stack, \
                ForkPool(1 if beside else 0) as pool:  # fmt: skip
            k = 0
            while k < len(ordered):
                pair = ordered[k : k + 2] if beside else ordered[k : k + 1]
                for members in pair:
                    log.info("%d exposure(s) to drizzle together", len(members))
                other = pool.submit(drizzle, pair[1]) if len(pair) > 1 else None
                data, maps, result, group_first = drizzle(pair[0], keep=True)
                if self.save_intermediate_results:
                    product = resampler._product(result, grid, group_first, footprints, ratio,
                                                 library)  # fmt: skip
                    self._save_intermediate(product, library, ordered[k][0], "outlier_i2d")
                    if meta_source is None:
                        meta_source = _metadata_of(product)
                    del product
                del result, group_first
                self._stack(stack, k, data, maps)
                del data, maps
                if other is not None:
                    self._stack(stack, k + 1, *other())
                    del other
                k += len(pair)
            median = stack.median()
        return _Median(median, grid.wcs, meta_source, library.member_name(indices[0]))

    def _stack(self, stack, k: int, data: np.ndarray, maps: list) -> None:
        """Group ``k``'s masked image into the stack; its pixel maps offered for the blots."""
        stack.write(k, data)
        for name, pixmap in maps:
            self._maps.offer(name, pixmap)

    def _median_direct(self, library: Any, indices: list[int], bad_bits: int) -> _Median:
        """Median of the exposures on their own grid (``resample_data=False``)."""
        from .median import DEFAULT_BLOCK_BYTES, ImageStack

        stack, wcs, meta_source, shape, first_name = None, None, None, None, None
        try:
            with library:
                for k, index in enumerate(indices):
                    model = library.borrow(index)
                    try:
                        name = library.member_name(index)
                        if stack is None:
                            shape, first_name = model.data.shape, name
                            wcs = model.meta.wcs
                            stack = ImageStack(
                                len(indices),
                                shape,
                                block_bytes=self.block_bytes or DEFAULT_BLOCK_BYTES,
                            )
                            if self.save_intermediate_results:
                                meta_source = _metadata_of(model)
                        elif model.data.shape != shape:
                            raise InputError(
                                f"{name}: SCI shape {model.data.shape} differs from "
                                f"{first_name} {shape}; resample_data=False needs exposures "
                                "of one shape"
                            )
                        data = self._masked_input(model, bad_bits)
                        stack.write(k, data)
                    finally:
                        library.shelve(model, index, modify=False)
            median = stack.median()
        finally:
            if stack is not None:
                stack.close()
        return _Median(median, wcs, meta_source, first_name)

    def _masked_input(self, model: Any, bad_bits: int) -> np.ndarray:
        """SCI (float32 copy) with NaN where the drizzle weight is below the threshold."""
        from ..resample import drizzle_weight
        from .flagging import weight_threshold

        exposure = model.meta.exposure
        seconds = getattr(exposure, "measurement_time", None) or exposure.exposure_time
        var_rnoise = model.var_rnoise if model.hasattr("var_rnoise") else None
        weight = drizzle_weight(model.dq, weight_type=self.weight_type, var_rnoise=var_rnoise,
                                time=seconds, bad_bits=bad_bits)  # fmt: skip
        data = np.array(model.data, dtype=np.float32)
        data[weight < weight_threshold(weight, self.maskpt)] = np.nan
        return data

    def _flag_all(self, library: Any, median: _Median, tests: tuple) -> Any:
        """The exposures with their outliers flagged: in place in a library this run owns,
        else a new library of copies."""
        in_place = self._in_place()
        if (in_place and self.resample_data and not self.save_intermediate_results
                and not library.on_disk and len(library) > 1):  # fmt: skip
            return self._flag_in_pairs(library, median, tests)
        results = library if in_place else library.derived()
        for index in range(len(library)):
            if in_place:
                with library:
                    model = library.borrow(index)
                    try:
                        self._flag_one(model, library, index, median, tests)
                    finally:
                        library.shelve(model, index)
                continue
            model = library.copy_of(index)
            self._flag_one(model, library, index, median, tests)
            results.add_result(index, model)
        return results

    def _flag_in_pairs(self, library: Any, median: _Median, tests: tuple) -> Any:
        """The members flagged in place, two at a time: the outliers of every second
        member are found in a forked worker while this process does the one before."""
        from ..lib.forkmap import ForkPool

        with library, ForkPool(1) as pool:
            for index in range(0, len(library), 2):
                other, pending = None, None
                if index + 1 < len(library):
                    other = library.borrow(index + 1)
                    pixmap = self._blot_map(other, library, index + 1)
                    pending = pool.submit(self._flag_with_map, other, library, index + 1,
                                          median, tests, pixmap)  # fmt: skip
                    del pixmap
                model = library.borrow(index)
                try:
                    self._flag_one(model, library, index, median, tests)
                finally:
                    library.shelve(model, index)
                if other is not None:
                    try:
                        mask = pending()
                        _apply(other, mask)
                        log.info("%d pixels marked as outliers", int(np.count_nonzero(mask)))
                    finally:
                        library.shelve(other, index + 1)
        return library

    def _flag_one(self, model: Any, library: Any, index: int, median: Any, tests: tuple) -> None:
        """Flag the outliers of one member (DQ OUTLIER and DO_NOT_USE, SCI/ERR NaN)."""
        if self.resample_data:
            mask = self._flag_resampled(model, library, index, median, tests)
        else:
            from .flagging import flag_direct

            mask = flag_direct(model.data, model.err, median.data, snr=tests[0])
        _apply(model, mask)
        log.info("%d pixels marked as outliers", int(np.count_nonzero(mask)))

    def _blot_map(self, model, library, index) -> np.ndarray | None:
        """The member's map kept from the drizzle, if it has blot_median's parameters
        (taken from the store)."""
        if getattr(model.meta, "wcs", None) is None:
            raise InputError(
                f"{library.member_name(index)}: stage 2 not run (no WCS): "
                "meta.wcs is missing; run assign_wcs (calwebb_image2) first"
            )
        if getattr(self, "_maps", None) is None:
            return None
        from ..resample.step import _name
        from ..wcs import MAX_TOLERANCE
        from .imaging import BLOT_INITIAL_STEP

        return self._maps.take(_name(model), model.data.shape, tolerance=MAX_TOLERANCE,
                               initial_step=BLOT_INITIAL_STEP)  # fmt: skip

    def _flag_resampled(self, model, library, index, median, tests) -> np.ndarray:
        """The outlier mask of one member against the blotted median."""
        pixmap = self._blot_map(model, library, index)
        return self._flag_with_map(model, library, index, median, tests, pixmap)

    def _flag_with_map(self, model, library, index, median, tests, pixmap) -> np.ndarray:
        """:meth:`_flag_resampled` with the member's map (:meth:`_blot_map`; None: made
        by the blot)."""
        from .flagging import flag_resampled
        from .imaging import blot_median

        blot = blot_median(median.data, median.wcs, model.meta.wcs, model.data.shape,
                           pixmap=pixmap)  # fmt: skip
        if self.save_intermediate_results:
            blot_model = type(model)()
            blot_model.data = blot
            blot_model.update(model)
            self._save_intermediate(blot_model, library, index, "blot")
        backg = self.backg
        bkg = model.meta.background
        if bkg.subtracted is False and bkg.level is not None:
            backg = bkg.level
            log.debug("Adding background level %s to the blotted image", backg)
        snr1, snr2, scale1, scale2 = tests
        return flag_resampled(model.data, model.err, blot, snr1=snr1, snr2=snr2,
                              scale1=scale1, scale2=scale2, backg=backg)  # fmt: skip

    def _pair(self, name: str) -> tuple[float, float]:
        """The two numbers of the official text parameter ``name`` (``snr``, ``scale``)."""
        text = getattr(self, name)
        try:
            values = tuple(float(v) for v in str(text).split())
        except ValueError:
            values = ()
        if len(values) != 2:
            raise InputError(f"outlier_detection: {name}={text!r}: expected two numbers "
                             "separated by a space, e.g. '5.0 4.0'")  # fmt: skip
        return values

    # ------------------------------------------------------------------ saving
    def _save_intermediate(self, model: Any, library: Any, index: int, suffix: str) -> str:
        from ..datamodels import save_model
        from ..stpipe.naming import member_output_path

        root = self._root()
        path = member_output_path(
            library.member_name(index), suffix, asn_id=library.asn.asn_id,
            output_dir=self.output_dir or root.output_dir,
        )  # fmt: skip
        model.meta.filename = os.path.basename(path)
        existed = os.path.exists(path)
        save_model(model, path)
        if not existed:
            self.record_output(path)
        log.info("Saved %s model in %s", suffix, path)
        return path

    def _save_median(self, library: Any, median: _Median) -> None:
        from stdatamodels.jwst import datamodels as dm

        out = dm.ImageModel(data=median.data)
        if median.meta_source is not None:
            out.update(median.meta_source)
        out.meta.wcs = median.wcs
        index = next(i for i in range(len(library)) if library.member_name(i) == median.name)
        self._save_intermediate(out, library, index, "median")


class _GroupDrizzle:
    """One exposure group drizzled onto the outlier grid: its image with NaN where the
    weight is below the threshold, and its pixel maps (for the blots)."""

    def __init__(self, resampler, library, grid, params, ratio, maskpt, budget):
        self.resampler, self.library, self.grid = resampler, library, grid
        self.params, self.ratio, self.maskpt, self.budget = params, ratio, maskpt, budget

    def __call__(self, members: list[int], keep: bool = False):
        """``(image, [(name, map)])``; with ``keep`` also the combination and the
        first member's metadata."""
        from ..resample import Coadd, PixelMapStore
        from .flagging import weight_threshold

        params = self.params
        store = PixelMapStore(self.budget, tolerance=params.tolerance,
                              initial_step=max(8, params.initial_step))  # fmt: skip
        coadd = Coadd(self.grid.wcs, params, n_inputs=len(members),
                      pixel_scale_ratio=self.ratio, map_store=store)  # fmt: skip
        group_first = self.resampler._add_all(coadd, self.library, members, None)
        result = coadd.finalize()
        del coadd
        threshold = weight_threshold(result.wht, self.maskpt)
        data = np.array(result.data, dtype=np.float32)
        data[result.wht < threshold] = np.nan
        maps = list(store._maps.items())
        store.clear()
        if keep:
            return data, maps, result, group_first
        return data, maps


def _is_tso(model: Any) -> bool:
    """A time series: TSOVISIT set or a TSO EXP_TYPE, and more than one integration."""
    exposure = model.meta.exposure
    tso = bool(getattr(model.meta.visit, "tsovisit", False))
    tso = tso or MODES.get((exposure.type or "").upper()) == "tso"
    nints = getattr(exposure, "nints", None)
    return tso and not (nints is not None and nints < 2)


def _apply(model: Any, mask: np.ndarray) -> None:
    """OR DO_NOT_USE | OUTLIER into DQ where ``mask``; NaN in SCI, ERR and VAR_* there."""
    from ..datamodels.io import assigning_checked_values
    from ..lib.invalid import match_nans_and_flags

    dq = np.bitwise_or(model.dq, mask.astype(np.uint32) * FLAGGED)
    arrays = {"data": model.data, "err": model.err if model.hasattr("err") else None}
    for name in _VARIANCES:
        if model.hasattr(name):
            arrays[name] = getattr(model, name)
    with assigning_checked_values(model):  # a uint32 array of the model's DQ shape
        model.dq = match_nans_and_flags(arrays, dq)


def _metadata_of(model: Any) -> Any:
    """An ImageModel holding only the metadata of ``model`` (no arrays)."""
    from stdatamodels.jwst import datamodels as dm

    out = dm.ImageModel()
    out.update(model)
    return out


def apply_outliers(model: Any, mask: np.ndarray) -> None:
    """Flag ``mask`` in ``model`` as the tso mode does (DQ, NaN in SCI/ERR/VAR_*)."""
    _apply(model, mask)
