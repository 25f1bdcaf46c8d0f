"""The ``linearity`` step adapter."""

import logging
import os

from ..lib.reffiles import (
    NAN_MEANING,
    ReferenceFileError,
    geometry_of,
    reference_array,
    zeroframe_of,
)
from ..stpipe import Step

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

        from .correct import correct_linearity

        coeffs, lin_dq = self.reference_arrays(model, geometry_of(model))
        model.data, model.pixeldq, zf = correct_linearity(
            model.data, model.groupdq, model.pixeldq, coeffs, lin_dq,
            zeroframe=zeroframe_of(model),
        )  # fmt: skip
        if zf is not None:
            model.zeroframe = zf
        return model

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
