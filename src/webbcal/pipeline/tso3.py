"""``calwebb_tso3``: stage-3 time series (outlier_detection tso -> [pixel_replace ->]
extract_1d -> white_light).

Input: a level-3 TSO association (``_calints`` science members: one exposure, or its
segments ``-seg001``, ``-seg002``, ...), or one ``_calints`` product. For each member in
turn: outlier detection in tso mode (saved as ``<member>_<asn_id>_crfints.fits``), then
for spectroscopy pixel replacement (off by default, as officially; saved as
``<member>_<asn_id>_pixel_replace.fits`` only with ``steps.pixel_replace.save_results``)
and box extraction per integration; the spectra of all members form one
``<product>_x1dints.fits`` (one spectrum table per member, in member order, and the
exposure's INT_TIMES table), and their white-light curve ``<product>_whtlt.ecsv``
(``number_of_integrations`` in its meta). Imaging time series (NRC_TSIMAGE, MIR_IMAGE
TSO): tso_photometry per member, the tables stacked into ``<product>_phot.ecsv``.

References
----------
JWST pipeline documentation, "calwebb_tso3: Stage 3 Time-Series Observation(TSO)
Processing" (steps, inputs, products ``crfints``, ``x1dints``, ``whtlt``/``phot``);
jwst 3.0.0 ``Tso3Pipeline`` (pixel_replace before extract_1d, its product name).
"""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np

from ..datamodels import ModelLibrary
from ..datamodels.io import InputError
from ..extract_1d import Extract1dStep
from ..lib.cubeio import lazy_cube_of
from ..outlier_detection import OutlierDetectionStep
from ..photom import PhotomStep
from ..pixel_replace import PixelReplaceStep
from ..stpipe import Param, Pipeline
from ..stpipe.naming import member_output_path
from ..tso_photometry import TSOPhotometryStep
from ..white_light import WhiteLightStep
from . import chunked

__all__ = ["Tso3Pipeline"]

log = logging.getLogger(__name__)

#: Spectroscopic time-series modes whose spectra are extracted here.
SPECTROSCOPIC = ("MIR_LRS-SLITLESS", "NRC_TSGRISM")
#: Imaging time-series modes (tso_photometry).
IMAGING = ("NRC_TSIMAGE", "MIR_IMAGE")


def _name(model: Any) -> str:
    return getattr(model.meta, "filename", None) or "<model>"


def _is_tso(model: Any) -> bool:
    from ..outlier_detection.step import _is_tso as tso

    return tso(model)


class Tso3Pipeline(Pipeline):
    """Stage-3 time series: outlier_detection (tso), pixel_replace, extract_1d, white_light.

    Every member is processed on its own and released before the next, so memory is that
    of one member (outlier detection, pixel replacement and extraction also work in
    chunks of integrations); with ``save_results``, a member file whose integrations do
    not fit in ``memory_limit`` (default 1.4GB) is read, flagged, extracted and saved in
    chunks of integrations (:mod:`webbcal.pipeline.chunked`; products equal to the
    whole-array ones; not yet with pixel_replace on). Products (``save_results``):
    ``<member root>_<asn_id>_crfints.fits`` per member, ``<product>_x1dints.fits`` and
    ``<product>_whtlt.ecsv``; with ``steps.pixel_replace.skip=False`` and
    ``steps.pixel_replace.save_results=True`` also
    ``<member root>_<asn_id>_pixel_replace.fits`` (the official names). Returns the
    ``x1dints`` model (``TSOMultiSpecModel``); the white-light table is the pipeline's
    ``white_light_table`` attribute after the run; for imaging, the photometry table.

    Differences from the official pipeline, by design: products are written only with
    ``save_results`` (the official one writes ``crfints`` and ``whtlt`` always); input
    that is not a time series, and members of different targets or EXP_TYPEs raise
    :class:`~webbcal.datamodels.io.InputError` before anything is written (the official
    one logs an error and returns). ``adaptive_trace_model`` is not implemented (it is
    off by default); the x1dints primary header is the first member's (no metadata
    blending across members).

    Raises
    ------
    InputError
        See above; also a member that is not a cube of integrations.
    """

    class_alias = "calwebb_tso3"
    library_mode = "library"
    step_defs = {
        "outlier_detection": OutlierDetectionStep,
        "tso_photometry": TSOPhotometryStep,
        "pixel_replace": PixelReplaceStep,
        "extract_1d": Extract1dStep,
        "photom": PhotomStep,
        "white_light": WhiteLightStep,
    }
    unimplemented_steps = ("adaptive_trace_model",)
    inapplicable_steps = ()
    spec = (
        Param("memory_limit", str, chunked.DEFAULT_MEMORY_LIMIT,
              "webbcal: target peak memory; a saved member that does not fit is "
              "processed in chunks of integrations (e.g. 1.4GB, 800MB)"),
    )  # fmt: skip

    @property
    def output_suffix(self) -> str:
        return self.suffix or "x1dints"

    @classmethod
    def open_input(cls, path: str) -> Any:
        """A ``_calints`` file opens lazily (integrations read in chunks when used)."""
        return chunked.open_lazily(path) or super().open_input(path)

    def active_steps(self, model: Any) -> list[str]:
        """``tso_photometry`` for imaging time series, else ``extract_1d``."""
        exp_type = (getattr(model.meta.exposure, "type", None) or "").upper()
        return ["tso_photometry"] if exp_type in IMAGING else ["extract_1d"]

    def prefetch(self, model: Any) -> None:
        """References of the first science member, for every member (the members are
        segments of one exposure: one CRDS selection; checked member by member). Only
        that member is opened, so the members are not all held in memory."""
        if not isinstance(model, ModelLibrary):
            self._check_member(model, _name(model), None)  # nothing looked up for bad input
            super().prefetch(model)
            return
        indices = model.indices("science")
        if not indices:
            raise InputError(f"{model.asn.path or 'association'}: no science member")
        first = _open_member(model, indices[0])
        try:
            self._check_member(first, model.member_name(indices[0]), None)
            object.__setattr__(self, "_prefetched_sets", None)
            object.__setattr__(self, "_prefetched", self._prefetch_one(first))
        except BaseException:
            first.close()
            raise
        # Kept for process (not opened twice): opened lazily, it holds only metadata.
        self.__dict__["_first_member"] = (model, indices[0], first)

    # ------------------------------------------------------------------ running
    def process(self, model: Any) -> Any:
        log.info("Starting calwebb_tso3 ...")
        library = model if isinstance(model, ModelLibrary) else None
        if library is not None:
            indices = library.indices("science")
            if not indices:
                raise InputError(f"{library.asn.path or 'association'}: no science member")
            products = library.asn.products
            product = products[0].name if products and products[0].name else None
            asn_id = library.asn.asn_id
        else:
            indices, asn_id = [None], None
            product = _product_root(_name(model))
        if product is None:
            raise InputError("calwebb_tso3: the association's product has no name")
        object.__setattr__(self, "_product", product)
        od = self.outlier_detection
        od.suffix = od.suffix or "crfints"
        first, x1d, seen, phot, replaced = None, None, [], [], []
        kept = self.__dict__.pop("_first_member", None)
        for index in indices:
            if index is None:
                cube = model
            elif kept is not None and kept[0] is library and kept[1] == index:
                cube, kept = kept[2], None
            else:
                cube = _open_member(library, index)
            member = _name(cube) if index is None else library.member_name(index)
            first = self._check_member(cube, member, first)
            lazy = lazy_cube_of(cube)
            if (lazy is not None and first["exp_type"] in SPECTROSCOPIC
                    and self.pixel_replace.skip
                    and chunked.needs_chunks(self, lazy)):  # fmt: skip
                cube, result = self._chunked_member(cube, lazy, member, asn_id)
                replaced.append("SKIPPED")
            else:
                cube = chunked.materialize(cube)
                if np.ndim(cube.data) == 3:
                    log.info("Performing outlier detection on %s ...", member)
                    cube = od.run(cube, _owned=True)
                    if cube.meta.cal_step.outlier_detection == "COMPLETE" and self.save_results:
                        self._save_crfints(cube, member, asn_id)
                else:
                    log.warning("Input data are 2D; skipping outlier_detection")
                if first["exp_type"] in IMAGING:
                    phot.append(self.tso_photometry.run(cube))
                    cube.close()
                    continue
                cube = self._replace_pixels(cube, member, asn_id)
                replaced.append(cube.meta.cal_step.pixel_replace)
                log.info("Extracting 1-D spectra ...")
                result = self.extract_1d.run(cube)
            if x1d is None:
                x1d = _new_x1dints(cube)
            _copy_int_times(x1d, cube)
            if result is not None and result is not cube and (
                    result.meta.cal_step.extract_1d == "COMPLETE"):  # fmt: skip
                x1d.spec.extend(result.spec)
                seen.append(cube.meta.wcsinfo.s_region if cube.meta.wcsinfo.hasattr(
                    "s_region") else None)  # fmt: skip
            if result is not None and result is not cube:
                result.close()
            cube.close()
        if phot:
            return self._photometry_table(phot)
        if x1d is None or len(x1d.spec) == 0:
            raise InputError(f"{product}: extract_1d produced no spectra; no x1dints product")
        if library is not None:
            x1d.meta.asn.pool_name = library.asn.asn_pool
            if library.asn.path:
                x1d.meta.asn.table_name = os.path.basename(library.asn.path)
        x1d.meta.cal_step.extract_1d = "COMPLETE"
        x1d.meta.cal_step.pixel_replace = "COMPLETE" if "COMPLETE" in replaced else "SKIPPED"
        x1d.meta.cal_step.adaptive_trace_model = "SKIPPED"
        regions = [s for s in seen if s]
        if regions:
            x1d.spec[0].s_region = regions[0]
        x1d.meta.filename = f"{product}_x1dints.fits"
        log.info("Performing white-light photometry")
        table = self.white_light.run(x1d)
        table.meta["number_of_integrations"] = len(table)
        object.__setattr__(self, "white_light_table", table)
        log.info("Ending calwebb_tso3")
        return x1d

    def _photometry_table(self, tables: list) -> Any:
        from astropy.table import vstack

        table = vstack(tables)
        table.meta["number_of_integrations"] = len(table)
        log.info("Ending calwebb_tso3")
        return table

    def finalize_result(self, result: Any) -> None:
        if not hasattr(result, "colnames"):
            super().finalize_result(result)

    def _store_logs(self, result: Any) -> None:
        if not hasattr(result, "colnames"):
            super()._store_logs(result)

    def _check_member(self, cube: Any, member: str, first: dict | None) -> dict:
        exposure = cube.meta.exposure
        this = {"exp_type": (exposure.type or "").upper(),
                "target": cube.meta.target.catalog_name, "name": member}  # fmt: skip
        if first is None:
            if not _is_tso(cube):
                raise InputError(f"{member}: not time-series data (TSOVISIT not set, "
                                 f"EXP_TYPE={this['exp_type']}, NINTS={exposure.nints}); "
                                 "calwebb_tso3 needs TSO exposures")  # fmt: skip
            if this["exp_type"] not in SPECTROSCOPIC + IMAGING:
                raise InputError(f"{member}: EXP_TYPE={this['exp_type']} is not yet supported "
                                 f"by calwebb_tso3 in webbcal (supported: "
                                 f"{', '.join(SPECTROSCOPIC + IMAGING)})")  # fmt: skip
            return this
        for key in ("exp_type", "target"):
            if this[key] != first[key]:
                raise InputError(f"{member}: {key} {this[key]!r} differs from {first['name']} "
                                 f"{first[key]!r}; a TSO association holds one exposure of "
                                 "one target")  # fmt: skip
        return first

    def _replace_pixels(self, cube: Any, member: str, asn_id: str | None) -> Any:
        """pixel_replace on one member; its product (with the step's ``save_results``) is
        named after the member, and the member keeps its file name, as officially."""
        step = self.pixel_replace
        object.__setattr__(step, "_member_product", (member, asn_id))
        filename = cube.meta.filename
        try:
            cube = step.run(cube)
        finally:
            object.__setattr__(step, "_member_product", None)
        cube.meta.filename = filename
        return cube

    def _chunked_member(self, cube: Any, lazy: Any, member: str, asn_id: str | None):
        """Outlier detection and extraction of one member in chunks of integrations
        (:mod:`webbcal.pipeline.chunked`; the crfints saved from its spill): the
        crfints metadata and the member's spectra."""
        from ..outlier_detection.step import apply_outliers

        od, steps = self.outlier_detection, []
        if not od.skip:
            log.info("Performing outlier detection on %s ...", member)
            log.info("Outlier Detection mode: tso")
            mask = od.tso_mask(lazy.array("data"), lazy.array("err"), lazy.array("dq"))
            log.info("%d pixels marked as outliers", int(np.count_nonzero(mask)))

            def flag(piece: Any, a: int) -> Any:
                apply_outliers(piece, mask[a : a + len(piece.data)])
                return piece

            steps.append(flag)
        log.info("Extracting 1-D spectra ...")
        path = None
        if not od.skip:
            path = member_output_path(member, "crfints", asn_id=asn_id,
                                      output_dir=self.output_dir)  # fmt: skip
            # The crfints metadata as it will be saved, from the first chunk on: the
            # product is laid out from it, and its arrays keep their places when the
            # final headers are written (see ProductSpill).
            od._set_status(cube, "COMPLETE")
            cube.meta.filename = os.path.basename(path)
        product, extraction = chunked.calibrate_chunks(
            cube, lazy, steps, memory_limit=chunked.memory_limit_bytes(self),
            spill_dir=self.output_dir or os.getcwd(),
            extractor=chunked.extractor_of(self.extract_1d), product_path=path,
        )  # fmt: skip
        spill = chunked.spill_of(product)[0]
        try:
            od._set_status(product, "SKIPPED" if od.skip else "COMPLETE")
            if not od.skip:
                od.finalize_result(product)
            result = product
            if extraction is not None:
                result = extraction.product(product, True)
                self.extract_1d._set_status(result, "COMPLETE")
                self.extract_1d.finalize_result(result)
            if path is not None:
                product.meta.filename = os.path.basename(path)
                existed = os.path.exists(path)
                chunked.save_spilled(product, path)
                if not existed:
                    self.record_output(path)
        finally:
            spill.close()
        return product, result

    def _save_crfints(self, cube: Any, member: str, asn_id: str | None) -> str:
        from ..datamodels import save_model

        path = member_output_path(member, "crfints", asn_id=asn_id,
                                  output_dir=self.output_dir)  # fmt: skip
        cube.meta.filename = os.path.basename(path)
        existed = os.path.exists(path)
        save_model(cube, path)
        if not existed:
            self.record_output(path)
        log.info("Saved crfints product %s", path)
        return path

    # ------------------------------------------------------------------ saving
    def save_result(self, result: Any, suffix: str | None = None) -> list[str]:
        """``<product>_x1dints.fits`` and ``<product>_whtlt.ecsv`` (spectroscopy), or
        ``<product>_phot.ecsv`` (imaging)."""
        from ..datamodels import save_model

        output_dir = self.output_dir or os.getcwd()
        product = self.__dict__["_product"]
        if hasattr(result, "colnames"):
            return [self.save_ecsv(result, os.path.join(output_dir, f"{product}_phot.ecsv"))]
        path = os.path.join(output_dir, f"{product}_x1dints.fits")
        existed = os.path.exists(path)
        save_model(result, path)
        if not existed:
            self.record_output(path)
        table = self.__dict__.get("white_light_table")
        paths = [path]
        if table is not None:
            whtlt = os.path.join(output_dir, f"{product}_whtlt.ecsv")
            paths.append(self.save_ecsv(table, whtlt))
        return paths


def _open_member(library: ModelLibrary, index: int) -> Any:
    """Member ``index`` as a model the caller owns: opened from its file when it has one
    (the library keeps nothing loaded), else a copy of the in-memory member."""
    from ..datamodels import open_model

    path = library.members[index].path
    if path and os.path.exists(path):
        return chunked.open_lazily(path) or open_model(path)
    return library.copy_of(index)


def _product_root(filename: str) -> str:
    from ..stpipe.naming import remove_suffix

    root = os.path.splitext(os.path.basename(filename))[0]
    return remove_suffix(root)


def _new_x1dints(cube: Any):
    from stdatamodels.jwst import datamodels as dm

    from ..datamodels.io import assigning_checked_values

    out = dm.TSOMultiSpecModel()
    with assigning_checked_values(out):  # the member's own metadata; checked when saved
        out.update(cube, only="PRIMARY")
        out.meta.target.source_type = None
        nints = cube.meta.exposure.nints
        table = cube.int_times if cube.hasattr("int_times") else None
        if table is not None and len(table) and nints:
            out.int_times = np.zeros(int(nints), dtype=np.asarray(table).dtype)
    return out


def _copy_int_times(out: Any, cube: Any) -> None:
    """Place the member's INT_TIMES rows by integration number (1-based)."""
    if not out.hasattr("int_times") or not cube.hasattr("int_times"):
        return
    rows = np.asarray(out.int_times).copy()
    for row in np.asarray(cube.int_times):
        k = int(row["integration_number"]) - 1
        if 0 <= k < rows.size:
            rows[k] = row
    from ..datamodels.io import assigning_checked_values

    with assigning_checked_values(out):  # the table's own dtype; checked when saved
        out.int_times = rows
