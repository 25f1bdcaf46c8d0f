"""``calwebb_image2``: imaging count rates to calibrated images (``_cal``, ``_i2d``).

References
----------
JWST pipeline documentation, "calwebb_image2: Stage 2 Imaging Processing".
"""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np

from ..assign_wcs import AssignWcsStep
from ..background import BackgroundStep
from ..datamodels import ModelLibrary
from ..datamodels.io import InputError
from ..flat_field import FlatFieldStep
from ..photom import PhotomStep
from ..resample import ResampleStep
from ..stpipe import Param, Pipeline
from ..stpipe.naming import output_path

__all__ = ["IMAGE_EXPTYPES", "Image2Pipeline"]

log = logging.getLogger(__name__)

#: Exposure types that also get a resampled ``_i2d`` image (2-D products only).
IMAGE_EXPTYPES = ("MIR_IMAGE", "NRC_IMAGE", "NIS_IMAGE", "FGS_IMAGE")


class Image2Pipeline(Pipeline):
    """Stage-2 imaging: bkg_subtract, assign_wcs, flat_field, photom, resample.

    Input: a ``_rate`` product (ImageModel, DN/s) -> ``_cal`` (MJy/sr) and, for
    MIR_IMAGE, NRC_IMAGE, NIS_IMAGE and FGS_IMAGE, the resampled ``_i2d``; a
    ``_rateints`` product (CubeModel) -> ``_calints`` (no resampling); or a level-2
    association, whose every product is its science member with its
    ``background`` members subtracted first, named after the product.

    Returns
    -------
    A single exposure gives its calibrated model; an association gives a tuple of
    calibrated models, one per association product.
    """

    class_alias = "calwebb_image2"
    library_mode = "library"
    spec = (
        Param("save_bsub", bool, False,
              "Also save the background-subtracted exposure (_bsub); officially deprecated "
              "in favour of steps.bkg_subtract.save_results"),
    )  # fmt: skip
    step_defs = {
        "bkg_subtract": BackgroundStep,
        "assign_wcs": AssignWcsStep,
        "flat_field": FlatFieldStep,
        "photom": PhotomStep,
        "resample": ResampleStep,
    }

    @property
    def output_suffix(self) -> str:
        return self.suffix or "cal"

    def active_steps(self, model: Any) -> list[str]:
        """Steps whose references are prefetched (bkg_subtract needs none for imaging)."""
        return ["assign_wcs", "flat_field", "photom"]

    def prefetch(self, model: Any) -> None:
        """Prefetch per association product (members may be different detectors)."""
        if isinstance(model, ModelLibrary):
            science = ModelLibrary(model.asn, asn_exptypes="science")
            super().prefetch(science)
        else:
            super().prefetch(model)

    def process(self, model: Any) -> Any:
        log.info("Starting calwebb_image2 ...")
        if isinstance(model, ModelLibrary):
            result: Any = tuple(self._products(model))
        else:
            result = self._calibrate(model, [], product=None)
        log.info("... ending calwebb_image2")
        return result

    def _products(self, library: ModelLibrary) -> list[Any]:
        asn = library.asn
        out = []
        for product in asn.products:
            log.info("Processing product %s", product.name)
            science = [i for i, m in enumerate(library.members)
                       if m.product == product.name and m.exptype == "science"]  # fmt: skip
            if not science:
                raise InputError(f"{asn.path}: product {product.name!r} has no science member")
            if len(science) > 1:
                log.warning("Wrong number of science files found in %s; using only the first",
                            product.name)  # fmt: skip
            backgrounds = [asn.member_path(m) for m in product.members_of("background")]
            work = library.copy_of(science[0])
            if asn.asn_pool:
                work.meta.asn.pool_name = asn.asn_pool
            if asn.path:
                work.meta.asn.table_name = os.path.basename(asn.path)
            out.append(self._calibrate(work, backgrounds, product=product.name))
        return out

    def _calibrate(self, model: Any, backgrounds: list[str], *, product: str | None) -> Any:
        """Run the steps on one exposure; products are named after ``product`` if given."""
        ints = np.ndim(model.data) == 3
        _release_file(model)
        if product is not None:
            # Sub-steps name what they save after the association product.
            object.__setattr__(self, "_input_filename", product + ".fits")
        log.info("Working on input %s ...", model.meta.filename)
        if backgrounds:
            self.bkg_subtract.suffix = "bsubints" if ints else "bsub"
            if self.save_bsub:
                self.bkg_subtract.save_results = True
            self.bkg_subtract.bkg_list = backgrounds
            model = self.bkg_subtract.run(model)
        model = self.assign_wcs.run(model)
        model = self.flat_field.run(model)
        model = self.photom.run(model)
        exp_type = (model.meta.exposure.type or "").upper()
        if exp_type in IMAGE_EXPTYPES and not ints and not self.resample.skip:
            self.resample.save_results = self.save_results
            self.resample.suffix = "i2d"
            self.resample.run(model)
        root = product or os.path.basename(self._input_name or model.meta.filename or "image")
        model.meta.filename = os.path.basename(
            output_path(root, "calints" if ints else "cal", output_dir=".")
        )
        return model

    def save_result(self, result: Any, suffix: str | None = None) -> list[str]:
        """Save each calibrated product under its own name (``<product>_cal.fits``)."""
        return self.save_named(result)


def _release_file(model: Any) -> None:
    """Let go of the file a model was read from (its arrays are already in memory).

    A FITS product's HDUs keep the arrays read from them; once the steps replace
    SCI, ERR, DQ and the variances, those originals would stay in memory until the
    model is closed (80 MB for a full-frame NIRCam rate). The file references are
    counted, so a model sharing the file keeps it open.
    """
    close = getattr(model, "close", None)
    if callable(close):
        close()
