"""``calwebb_image3``: calibrated imaging exposures of an association to a mosaic and a
source catalog (``_crf``, ``_i2d``, ``_cat.ecsv``, ``_segm``).

References
----------
JWST pipeline documentation, "calwebb_image3: Stage 3 Imaging Processing".
"""

from __future__ import annotations

import logging
from typing import Any

from ..assign_mtwcs import AssignMTWcsStep
from ..datamodels import ModelLibrary, open_model
from ..datamodels.io import InputError
from ..outlier_detection import OutlierDetectionStep
from ..resample import ResampleStep
from ..skymatch import SkyMatchStep
from ..source_catalog import SourceCatalogStep
from ..stpipe import Param, Pipeline
from ..tweakreg import TweakRegStep

__all__ = ["Image3Pipeline", "is_moving_target"]

log = logging.getLogger(__name__)


def is_moving_target(model: Any) -> bool:
    """Whether an exposure observed a moving target (TARGTYPE ``moving``).

    Parameters
    ----------
    model : DataModel
        Any JWST product (only ``meta.target.type`` is read).
    """
    kind = getattr(getattr(model.meta, "target", None), "type", None)
    return isinstance(kind, str) and kind.strip().lower() == "moving"


class Image3Pipeline(Pipeline):
    """Stage-3 imaging: assign_mtwcs or tweakreg, skymatch, outlier_detection, resample,
    source_catalog.

    Input: a level-3 association of ``_cal`` exposures (its ``science`` members; other
    roles are ignored), a list of ``_cal`` files, or a single ``_cal`` file.

    Products (``save_results``): one ``<member>_<asn_id>_crf.fits`` per exposure (the
    exposures with outliers flagged), the mosaic ``<product>_i2d.fits``, its catalog
    ``<product>_cat.ecsv`` and segmentation map ``<product>_segm.fits``, ``<product>``
    being the association's product name.

    With the members in memory and two CPUs, per-member work runs beside this process
    (:mod:`webbcal.lib.forkmap`, :mod:`webbcal.lib.overlap`; the products are the
    same): tweakreg's source finding, skymatch's overlap skies, outlier_detection's
    drizzles and tests, and the ``_crf`` and ``_i2d`` files, written while resample and
    source_catalog run.
    ``WEBBCAL_OVERLAP=0`` keeps everything in one thread.

    Returns
    -------
    DataModel
        The ``_i2d`` mosaic (ImageModel, MJy/sr).
    """

    class_alias = "calwebb_image3"
    library_mode = "library"
    spec = (
        Param("in_memory", bool, True,
              "If False, keep exposures in temporary files between steps (less memory, "
              "more time)"),
    )  # fmt: skip
    step_defs = {
        "assign_mtwcs": AssignMTWcsStep,
        "tweakreg": TweakRegStep,
        "skymatch": SkyMatchStep,
        "outlier_detection": OutlierDetectionStep,
        "resample": ResampleStep,
        "source_catalog": SourceCatalogStep,
    }

    @classmethod
    def open_input(cls, path: str) -> Any:
        """An association opens with its science members only; a file as one exposure."""
        if str(path).endswith(".json"):
            return ModelLibrary(path, asn_exptypes="science")
        return open_model(path)

    def _library_storage(self, model: Any) -> Any:
        if isinstance(model, ModelLibrary) and not self.in_memory and not model.on_disk:
            if model.asn.path:
                return ModelLibrary(model.asn.path, on_disk=True, asn_exptypes="science")
        return model

    def active_steps(self, model: Any) -> list[str]:
        """Steps whose references are prefetched (the others need none)."""
        return ["source_catalog"]

    def _library(self, model: Any) -> ModelLibrary:
        if isinstance(model, ModelLibrary):
            return model
        if hasattr(model, "meta"):
            return ModelLibrary([model], on_disk=not self.in_memory)
        raise InputError(f"calwebb_image3: unsupported input {model!r}; expected a level-3 "
                         "association (.json), a list of _cal files or a _cal file")  # fmt: skip

    def prefetch(self, model: Any) -> None:
        """References of source_catalog are chosen on the mosaic, when it exists."""

    def process(self, model: Any) -> Any:
        from ..lib.forkmap import ForkPool

        log.info("Starting calwebb_image3 ...")
        library = self._library(model)
        self.outlier_detection.suffix = "crf"
        self.outlier_detection.save_results = False  # saved below, beside resample
        self.resample.suffix = "i2d"
        self.resample.save_results = self.save_results
        self.source_catalog.save_results = self.save_results
        product = library.asn.products[0].name if library.asn.products else None
        if product and not self.output_file:
            self.output_file = product
            # Sub-steps name their combined products after the association product.
            object.__setattr__(self, "_input_filename", product + ".fits")
        # The _crf files are written by a forked worker (members in memory) while
        # resample and source_catalog run here.
        with ForkPool(0 if library.on_disk else 1) as pool:
            # files being written by the pool's workers: each function waits for its
            # worker and registers what it wrote (removed if the run fails)
            writing: list = []
            try:
                if library.group_names:
                    library = self._align_and_flag(library)
                    if self.save_results:
                        writing.append(
                            self.outlier_detection.save_library_beside(library, pool, "crf")
                        )
                mosaic = self._combine(library, pool, writing)
            except BaseException:
                for finish in writing:
                    try:
                        finish()
                    except Exception:  # the first error is the one reported
                        pass
                raise
            for finish in writing:
                finish()
        log.info("... ending calwebb_image3")
        return mosaic

    def _combine(self, library: Any, pool: Any = None, writing: list | None = None) -> Any:
        """resample, then source_catalog on the mosaic; the mosaic.

        With a pool of workers (members in memory), the ``_i2d`` file is written by a
        forked worker while source_catalog runs here (the same file); the function that
        waits for it is appended to ``writing``.
        """
        beside = (pool is not None and pool.workers > 0 and writing is not None
                  and self.resample.save_results)  # fmt: skip
        if beside:
            self.resample.save_results = False
        try:
            mosaic = self.resample.run(library)
        finally:
            if beside:
                self.resample.save_results = True
        if beside:
            if hasattr(mosaic, "meta"):
                writing.append(self.resample.save_model_beside(mosaic, pool))
            else:
                self.resample.save_result(mosaic)
        if getattr(mosaic.meta.cal_step, "resample", None) == "COMPLETE":
            try:
                self.source_catalog.run(mosaic)
            except InputError as why:
                # As the official pipeline: the mosaic stands without a catalog.
                log.warning("source_catalog: %s; no catalog written", why)
        return mosaic

    def _align_and_flag(self, library: Any) -> Any:
        """assign_mtwcs or tweakreg, skymatch and outlier_detection; the flagged members."""
        with library:
            first = library.borrow(0)
            moving = is_moving_target(first)
            library.shelve(first, 0, modify=False)
        # A library this run opened or made (not the caller's) is updated in place
        # by tweakreg, skymatch and outlier_detection: memory holds each member once.
        owned = self.owns_input()
        if moving:
            aligned = self.assign_mtwcs.run(library)
        else:
            aligned = self.tweakreg.run(library, _owned=owned)
        owned = owned or aligned is not library
        matched = self.skymatch.run(aligned, _owned=owned)
        owned = owned or matched is not aligned
        return self.outlier_detection.run(matched, _owned=owned)

    def save_result(self, result: Any, suffix: str | None = None) -> list[str]:
        """The steps save the products; the pipeline writes nothing more."""
        return []
