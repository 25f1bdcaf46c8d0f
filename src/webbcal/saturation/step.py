"""The ``saturation`` step adapter."""

import logging
import os

from ..datamodels import to_ramp_model
from ..lib.reffiles import (
    NAN_MEANING,
    ReferenceFileError,
    geometry_of,
    reference_array,
    zeroframe_of,
)
from ..stpipe import Param, Step

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
        from .flagging import flag_saturation

        ramp = to_ramp_model(model)
        sat_thresh, sat_dq, bias = self.reference_arrays(ramp, geometry_of(ramp))
        exp = ramp.meta.exposure
        read_pattern = None
        if self.use_readpatt:
            # The official pipeline numbers frames as if GROUPGAP were 0; kept for parity.
            nframes, ngroups = int(exp.nframes), int(exp.ngroups)
            read_pattern = [[g * nframes + k + 1 for k in range(nframes)] for g in range(ngroups)]
            log.info("Using read_pattern with nframes %d", nframes)
        zf = zeroframe_of(ramp)
        result = flag_saturation(
            ramp.data, ramp.groupdq, ramp.pixeldq, sat_thresh, sat_dq,
            n_pix_grow_sat=self.n_pix_grow_sat, zeroframe=zf, read_pattern=read_pattern,
            bias=bias, atod_limit=ATOD_LIMIT, use_readpatt=self.use_readpatt,
        )  # fmt: skip
        ramp.groupdq = result.groupdq
        ramp.pixeldq = result.pixeldq
        if result.zeroframe is not None:
            ramp.zeroframe = result.zeroframe
        return ramp

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
