"""The ``flat_field`` step adapter (imaging and guider products)."""

from __future__ import annotations

import logging

import numpy as np

from ..lib.reffiles import file_stamp, geometry_of, reference_array
from ..stpipe import Param, Step, StepSkipped

__all__ = ["FlatFieldStep"]

log = logging.getLogger(__name__)

FLAT_NAN_MEANING = "those pixels are not corrected (flagged DO_NOT_USE and NO_FLAT_FIELD)"


class FlatFieldStep(Step):
    """Divide by the FLAT reference (official alias ``flat_field``).

    Supports image-based flats: FGS guider products (GuiderCalModel) and rate
    images or cubes (ImageModel, CubeModel, with VAR_POISSON and VAR_RNOISE). NIRSpec
    spectroscopic flats (fflat, sflat, dflat) are not implemented: such exposures are
    skipped with a message.
    """

    class_alias = "flat_field"
    cal_step_name = "flat_field"
    reference_file_types = ("flat",)
    spec = (
        Param("save_interpolated_flat", bool, False,
              "Save the flat as applied, cut to the science subarray (suffix "
              "'interpolatedflat')"),
        Param("user_supplied_flat", str, None,
              "Flat file to use instead of the FLAT reference", allow_none=True),
        Param("inverse", bool, False,
              "Multiply by the flat instead of dividing (undo a flat field)"),
    )  # fmt: skip
    #: Suffix of the flat saved with ``save_interpolated_flat`` (the official one).
    flat_suffix = "interpolatedflat"

    def _resolve_references(self, model) -> None:
        if self.user_supplied_flat is None:
            super()._resolve_references(model)

    def required_reference_types(self) -> tuple[str, ...]:
        if self.user_supplied_flat is not None:
            return ()
        return super().required_reference_types()

    def process(self, model):
        from stdatamodels.jwst import datamodels as dm

        from ..datamodels.io import assigning_checked_values
        from ..lib.reffiles import load_reference
        from .apply import apply_flat

        inst = (model.meta.instrument.name or "").upper()
        if inst == "NIRSPEC" and (model.meta.exposure.type or "").upper() not in (
            "NRS_IMAGE", "NRS_TACQ", "NRS_TASLIT", "NRS_TACONFIRM", "NRS_CONFIRM", "NRS_FOCUS",
            "NRS_MIMF", "NRS_MSATA", "NRS_WATA", "NRS_BOTA", "NRS_VERIFY",
        ):  # fmt: skip
            raise StepSkipped("NIRSpec spectroscopic flat fielding is not implemented")
        if self.user_supplied_flat is not None:
            log.info("Using user-supplied flat %s", self.user_supplied_flat)
            path = self.user_supplied_flat
        else:
            path = self.get_reference_file(model, "flat")
            log.info("Using FLAT reference file %s", path)
            if path is None:
                raise StepSkipped("no flat reference file applies (N/A)")
        geom = geometry_of(model)
        # A time series calibrated in chunks runs this step once per chunk: the flat of
        # the previous run is reused when it is the same file, cut to the same region,
        # for the same instrument and detector (read-only: apply_flat copies it). Only
        # multi-integration products keep it: a 2-D exposure (calwebb_image2) would hold
        # three full-frame planes for nothing.
        key = _reuse_key(path, geom, model) if np.ndim(model.data) == 3 else None
        kept = self.__dict__.get("_flat_kept")
        ref = None
        if kept is not None and key is not None and kept[0] == key \
                and not self.save_interpolated_flat:  # fmt: skip
            flat, flat_dq, flat_err = kept[1]
        else:
            ref = load_reference(path, dm.FlatModel, model)
            flat = reference_array(ref, "data", geom, nan_meaning=FLAT_NAN_MEANING)
            flat_dq = reference_array(ref, "dq", geom)
            flat_err = reference_array(ref, "err", geom)
            self.__dict__["_flat_kept"] = None if key is None else (key, (flat, flat_dq, flat_err))
        guider = isinstance(model, dm.GuiderCalModel)
        if self.inverse:
            log.info("Multiplying by the flat (inverse=True)")
        res = apply_flat(
            model.data, model.dq, model.err, flat, flat_dq, flat_err,
            var_poisson=None if guider else model.var_poisson,
            var_rnoise=None if guider else model.var_rnoise, inverse=self.inverse,
        )  # fmt: skip
        if self.save_interpolated_flat:
            self._save_applied_flat(ref, model, flat, flat_dq, flat_err)
        with assigning_checked_values(model):  # new float32/uint32 arrays of the SCI shape
            model.data, model.dq, model.err = res.data, res.dq, res.err
            if not guider:
                model.var_poisson, model.var_rnoise, model.var_flat = (
                    res.var_poisson, res.var_rnoise, res.var_flat,
                )  # fmt: skip
        return model

    def _save_applied_flat(self, ref, model, flat, flat_dq, flat_err) -> str:
        """Save the flat that was applied: the reference cut to the science subarray,
        unusable pixels set to 1 and flagged (DO_NOT_USE, NO_FLAT_FIELD).

        The official step saves the reference model it applied; for a reference of the
        science's own size that is the same flat (its bad pixels set to 1 and flagged in
        place), for a larger reference the whole unmodified reference.
        """
        from .apply import prepare_flat

        applied = ref.copy()
        applied.data, applied.dq = prepare_flat(flat, flat_dq)
        applied.err = np.array(flat_err, dtype=np.float32)
        for key in ("xstart", "ystart", "xsize", "ysize", "name"):
            setattr(applied.meta.subarray, key, getattr(model.meta.subarray, key, None))
        path = self.save_model(applied, suffix=self.flat_suffix)
        log.info("Flat as applied written to %s", path)
        return path


def _reuse_key(path, geom, model):
    """What identifies the flat arrays read for ``model`` (None: not reused)."""
    stamp = file_stamp(path)
    if stamp is None:
        return None
    instrument = model.meta.instrument
    return (*stamp, repr(geom), instrument.name, instrument.detector)
