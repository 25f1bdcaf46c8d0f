"""The ``ipc`` step adapter."""

import logging
import os

import numpy as np

from ..lib.reffiles import check_reference_values
from ..stpipe import Step
from ..stpipe.blocks import BlockStage, NotStreamable, run_block_stage

__all__ = ["IPCStep"]

log = logging.getLogger(__name__)


class IPCStep(Step):
    """Remove inter-pixel capacitance with the IPC kernel (official alias ``ipc``).

    References
    ----------
    JWST pipeline documentation, "ipc"; Moseley et al. 2010 (IPC deconvolution).
    """

    class_alias = "ipc"
    cal_step_name = "ipc"
    reference_file_types = ("ipc",)

    def process(self, model):
        return run_block_stage(self, model)

    def block_stage(self, ctx):
        """Convolve with the IPC kernel; halo rows: the kernel's half-height.

        Reference pixels are left unchanged, so first passes over them skip it.

        Raises
        ------
        NotStreamable
            For a per-pixel (4-D) kernel (handled on the whole array only).
        """
        from stdatamodels.jwst.datamodels import IPCModel

        from .kernel import apply_ipc

        ref = self.open_reference(ctx.model, "ipc", IPCModel, fast=True)
        # A NaN in the kernel would spread to every pixel it touches: never allowed.
        name = os.path.basename(ref.meta.filename or "ipc reference")
        kernel = np.asarray(ref.data)
        check_reference_values(kernel, name, "SCI", allow_nan=False)
        geom = ctx.geometry

        def apply(b):
            if (b.r0, b.r1) == (0, ctx.ny):
                b.data = apply_ipc(b.data, kernel, geometry=geom)
            else:
                b.data = apply_ipc(b.data, kernel, geometry=_rows_geometry(geom, b.r0, b.r1))

        if kernel.ndim == 4:
            if ctx.streaming:
                raise NotStreamable("a per-pixel (4-D) IPC kernel")
            return BlockStage(apply, on_reference_pixels=False)
        halo = int(max(kernel.shape[0] - kernel.shape[0] // 2 - 1, kernel.shape[0] // 2))
        return BlockStage(apply, halo=halo, on_reference_pixels=False)


def _rows_geometry(geom, r0: int, r1: int):
    """The geometry of rows ``r0:r1`` of the (sub)array ``geom``."""
    from ..lib.subarray import SubarrayGeometry

    return SubarrayGeometry(
        geom.xstart, geom.ystart + r0, geom.xsize, r1 - r0, geom.full_nx, geom.full_ny
    )
