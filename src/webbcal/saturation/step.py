"""The ``saturation`` step adapter."""

import logging
import os

import numpy as np

from ..datamodels import to_ramp_model
from ..lib.reffiles import NAN_MEANING, ReferenceFileError, reference_array
from ..stpipe import Param, Step
from ..stpipe.blocks import BlockStage, own_array, run_block_stage

__all__ = ["SaturationStep"]

log = logging.getLogger(__name__)

#: Largest value of the 16-bit analogue-to-digital converter (DN).
ATOD_LIMIT = 65535


class SaturationStep(Step):
    """Flag saturated groups and the A/D floor (official alias ``saturation``)."""

    class_alias = "saturation"
    cal_step_name = "saturation"
    reference_file_types = ("saturation", "superbias")
    optional_reference_types = ("superbias",)
    spec = (
        Param("n_pix_grow_sat", int, 1, "Grow saturation flags to this many neighbouring pixels",
              minimum=0, unit="pixels"),
        Param("use_readpatt", bool, True,
              "Use the read pattern to flag group 2 of frame-averaged ramps"),
    )  # fmt: skip

    def process(self, model):
        return run_block_stage(self, to_ramp_model(model))

    def block_stage(self, ctx):
        """Flag saturation and the A/D floor; halo rows: the flag growth.

        The growth counts twice when frame averaging (NFRAMES > 1) lets a grown
        SATURATED flag mark its neighbours DO_NOT_USE, grown again. The numbers
        of saturated and A/D-floor pixels are logged once, for the whole array.
        """
        from ..dqflags import AD_FLOOR, SATURATED
        from .flagging import flag_saturation

        model = ctx.model
        thresh, sat_dq, bias = (
            own_array(a) for a in self.reference_arrays(model, ctx.geometry, fast=True)
        )
        if bias is not None:
            # Superbias, when it follows, subtracts the very same array.
            path = self.get_reference_file(model, "superbias")
            ctx.shared(("superbias", path), lambda: bias)
        exp = model.meta.exposure
        read_pattern = None
        if self.use_readpatt:
            # The official pipeline numbers frames as if GROUPGAP were 0; kept for parity.
            nframes, ngroups = int(exp.nframes), int(exp.ngroups)
            read_pattern = [[g * nframes + k + 1 for k in range(nframes)] for g in range(ngroups)]
            log.info("Using read_pattern with nframes %d", nframes)
        n_grow = int(self.n_pix_grow_sat)
        use_zf = ctx.uses_zeroframe()
        use_readpatt = bool(self.use_readpatt)
        flagged = np.zeros((ctx.ny, ctx.nx), dtype=np.uint8)

        def apply(b):
            res = flag_saturation(
                b.data, b.groupdq, b.pixeldq, b.ref(thresh), b.ref(sat_dq),
                n_pix_grow_sat=n_grow, zeroframe=b.zeroframe if use_zf else None,
                read_pattern=read_pattern, bias=None if bias is None else b.ref(bias),
                atod_limit=ATOD_LIMIT, use_readpatt=use_readpatt,
            )  # fmt: skip
            b.groupdq, b.pixeldq = res.groupdq, res.pixeldq
            if res.zeroframe is not None:
                b.zeroframe = res.zeroframe
            if b.count is not None:
                flagged[b.counted_rows()] |= res.flagged[b.count]

        def finish():
            log.info("Detected %i saturated pixels", np.count_nonzero(flagged & SATURATED))
            log.info("Detected %i A/D floor pixels", np.count_nonzero(flagged & AD_FLOOR))

        halo = 2 * n_grow if read_pattern is not None and int(exp.nframes) > 1 else n_grow
        return BlockStage(apply, halo=halo, dq_or=np.asarray(sat_dq, dtype=np.uint32),
                          finish=finish)  # fmt: skip

    def reference_arrays(self, model, geom, *, fast=False):
        """Threshold (DN), DQ and superbias (DN, or None) cut to the science (sub)array.

        Parameters
        ----------
        model : RampModel
            The science ramp (its metadata).
        geom : SubarrayGeometry
            Where the science data lie on the detector.
        fast : bool
            Read plain reference files with astropy alone, only the science region
            (:meth:`webbcal.stpipe.Step.open_reference`); same arrays and errors.

        Returns
        -------
        sat_thresh : ndarray, shape (ny, nx), float32
        sat_dq : ndarray, shape (ny, nx), uint32
        bias : ndarray, shape (ny, nx), float32, or None

        Raises
        ------
        ReferenceFileError
            If an array does not have one value per pixel of the science data.
        """
        from stdatamodels.jwst.datamodels import SaturationModel, SuperBiasModel

        sat = self.open_reference(model, "saturation", SaturationModel, fast=fast)
        sat_thresh = reference_array(
            sat, "data", geom, extname="SCI", nan_meaning=NAN_MEANING["saturation"]
        )
        sat_dq = reference_array(sat, "dq", geom)
        name = os.path.basename(sat.meta.filename or "saturation reference")
        shape = (geom.ysize, geom.xsize)
        for ext, arr in (("SCI", sat_thresh), ("DQ", sat_dq)):
            if arr.shape != shape:
                raise ReferenceFileError(
                    f"{name}: {ext} has shape {arr.shape}; expected {shape} (one value per pixel)"
                )
        bias = None
        if self.get_reference_file(model, "superbias") is not None:
            bias = reference_array(
                self.open_reference(model, "superbias", SuperBiasModel, fast=fast),
                "data", geom,
                extname="SCI", nan_meaning=NAN_MEANING["superbias"],
            )  # fmt: skip
        return sat_thresh, sat_dq, bias
