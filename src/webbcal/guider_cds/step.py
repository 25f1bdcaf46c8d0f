"""The ``guider_cds`` step adapter: GuiderRawModel -> GuiderCalModel (DN/s)."""

from __future__ import annotations

import logging

import numpy as np

from ..lib.reffiles import NAN_MEANING, geometry_of, reference_array
from ..stpipe import Step

__all__ = ["GuiderCdsStep"]

log = logging.getLogger(__name__)

#: Tables of a guider exposure carried to the calibrated product.
GUIDER_TABLES = (
    "planned_star_table", "flight_star_table", "pointing_table", "centroid_table",
    "track_sub_table",
)  # fmt: skip


class GuiderCdsStep(Step):
    """Count rates of an FGS guider exposure (official alias ``guider_cds``).

    See :func:`webbcal.guider_cds.guider_countrate` for the algorithm. The result is a
    GuiderCalModel (SCI and ERR in DN/s, one plane per integration, one plane for ID
    exposures; DQ and the guider tables carried over).
    """

    class_alias = "guider_cds"
    cal_step_name = "guider_cds"
    reference_file_types = ("gain", "readnoise")

    @classmethod
    def open_input(cls, path: str):
        """Open a raw guider exposure (GuiderRawModel)."""
        from .inputs import open_guider_input

        return open_guider_input(path)

    def process(self, model):
        from stdatamodels.jwst import datamodels as dm

        from .cds import guider_countrate
        from .inputs import open_guider_input

        model = open_guider_input(model)
        exp_type = model.meta.exposure.type.upper()
        gain = self._reference(model, "gain", dm.GainModel, exp_type)
        readnoise = self._reference(model, "readnoise", dm.ReadnoiseModel, exp_type)
        rates = guider_countrate(
            model.data, exp_type=exp_type, group_time=float(model.meta.exposure.group_time),
            gain=gain, readnoise=readnoise,
        )  # fmt: skip
        out = dm.GuiderCalModel(data=rates.data, err=rates.err)
        out.update(model)
        out.meta.filename = model.meta.filename
        dq = model.dq
        if dq is None or np.shape(dq) != rates.data.shape[-2:]:
            dq = np.zeros(rates.data.shape[-2:], dtype=np.uint32)
        out.dq = np.array(dq, dtype=np.uint32)
        for table in GUIDER_TABLES:
            if model.hasattr(table):
                setattr(out, table, getattr(model, table))
        out.meta.bunit_data = "DN/s"
        out.meta.bunit_err = "DN/s"
        return out

    def _reference(self, model, reftype: str, model_class: type, exp_type: str) -> np.ndarray:
        from ..lib.reffiles import ReferenceFileError

        ref = self.open_reference(model, reftype, model_class)
        geom = geometry_of(model)
        try:
            return reference_array(ref, "data", geom, nan_meaning=NAN_MEANING[reftype])
        except ReferenceFileError:
            if "STACK" not in exp_type:
                raise
        # ID-STACK images are not a detector subarray: the reference's mean is used.
        mean = float(np.nanmean(ref.data))
        log.info("%s reference does not cover the stacked image; using its mean %g",
                 reftype.upper(), mean)  # fmt: skip
        return np.full(model.data.shape[-2:], mean, dtype=np.float32)
