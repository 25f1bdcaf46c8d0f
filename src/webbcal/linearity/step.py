"""The ``linearity`` step adapter."""

import logging
import os

from ..lib.reffiles import NAN_MEANING, ReferenceFileError, reference_array
from ..stpipe import Step
from ..stpipe.blocks import BlockStage, own_array, run_block_stage

__all__ = ["LinearityStep"]

log = logging.getLogger(__name__)


class LinearityStep(Step):
    """Correct the ramps for detector non-linearity (official alias ``linearity``).

    The same polynomial correction applies to every instrument; for MIRI the
    full-frame reference (1032 x 1024, reference columns included) is cut to
    the science subarray like any other.

    References
    ----------
    JWST pipeline documentation, "linearity" step.
    """

    class_alias = "linearity"
    cal_step_name = "linearity"
    reference_file_types = ("linearity",)

    def process(self, model):
        return run_block_stage(self, model)

    def block_stage(self, ctx):
        """Correct the non-linearity (polynomial of the LINEARITY reference); pixel-local."""
        from .correct import correct_linearity

        coeffs, lin_dq = (
            own_array(a) for a in self.reference_arrays(ctx.model, ctx.geometry, fast=True)
        )
        use_zf = ctx.uses_zeroframe()

        def apply(b):
            zf = b.zeroframe if use_zf else None
            b.data, b.pixeldq, zf = correct_linearity(
                b.data, b.groupdq, b.pixeldq, b.ref(coeffs), b.ref(lin_dq), zeroframe=zf
            )
            if zf is not None:
                b.zeroframe = zf

        return BlockStage(apply)

    def reference_arrays(self, model, geom, *, fast=False):
        """COEFFS and DQ of the LINEARITY reference cut to the science (sub)array.

        Parameters
        ----------
        model : RampModel
            The science ramp (its metadata).
        geom : SubarrayGeometry
            Where the science data lie on the detector.
        fast : bool
            Read a plain reference file with astropy alone, only the science region
            (:meth:`webbcal.stpipe.Step.open_reference`); same arrays and errors.

        Returns
        -------
        coeffs : ndarray, shape (ncoeffs, ny, nx), float32
        lin_dq : ndarray, shape (ny, nx), uint32

        Raises
        ------
        ReferenceFileError
            If COEFFS has fewer than 2 planes or DQ does not match the COEFFS planes.
        """
        from stdatamodels.jwst.datamodels import LinearityModel

        ref = self.open_reference(model, "linearity", LinearityModel, fast=fast)
        coeffs = _array(ref, "coeffs", geom, nan_meaning=NAN_MEANING["linearity"])
        if coeffs.ndim != 3 or coeffs.shape[0] < 2:
            raise ReferenceFileError(
                f"{_name(ref)}: COEFFS has shape {coeffs.shape}; expected (ncoeffs >= 2, ny, nx)"
            )
        lin_dq = _array(ref, "dq", geom)
        if lin_dq.shape != coeffs.shape[1:]:
            raise ReferenceFileError(
                f"{_name(ref)}: DQ has shape {lin_dq.shape}; expected {coeffs.shape[1:]} "
                "(the COEFFS planes)"
            )
        return coeffs, lin_dq


def _name(ref) -> str:
    return os.path.basename(ref.meta.filename or "linearity reference")


def _array(ref, attribute, geom, **kwargs):
    """:func:`reference_array`, with stdatamodels' lazy validation errors naming the file."""
    try:
        return reference_array(ref, attribute, geom, **kwargs)
    except ReferenceFileError:
        raise
    except ValueError as exc:
        raise ReferenceFileError(
            f"{_name(ref)}: extension {attribute.upper()} cannot be read: {exc}"
        ) from None
