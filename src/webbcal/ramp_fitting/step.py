"""The ``ramp_fit`` step adapter."""

import logging
import time

import numpy as np

from ..datamodels import InputError
from ..dqflags import DO_NOT_USE
from ..lib.reffiles import gain_and_readnoise, zeroframe_of
from ..stpipe import Param, Step

__all__ = ["RampFitStep"]

log = logging.getLogger(__name__)

_IFU_TYPES = ("NRS_IFU", "MIR_MRS")


class RampFitStep(Step):
    """Fit count rates to the ramps (official alias ``ramp_fit``).

    Returns a pair ``(rate, rateints)``: an ImageModel (IFUImageModel for IFU
    modes) with the integration-averaged rate, shape (ny, nx) in DN/s, and a
    CubeModel with one rate per integration, shape (nints, ny, nx).

    References
    ----------
    Fixsen et al. 2000, PASP 112, 1350 (optimal weighting); JWST pipeline
    documentation, "ramp_fitting".
    """

    class_alias = "ramp_fit"
    cal_step_name = "ramp_fit"
    reference_file_types = ("readnoise", "gain")
    spec = (
        Param("algorithm", str, "OLS_C", "Ramp fitting algorithm",
              choices=("OLS_C", "OLS", "LIKELY")),
        Param("int_name", str, "", "Unused; kept for parameter-file compatibility"),
        Param("save_opt", bool, False, "Save optional output (not produced by webbcal yet)"),
        Param("opt_name", str, "", "Unused; kept for parameter-file compatibility"),
        Param("suppress_one_group", bool, True,
              "Give zero rate to ramps whose only good group is the first one"),
        Param("firstgroup", int, None, "Ignore groups before this one (0-based)",
              allow_none=True, minimum=0),
        Param("lastgroup", int, None, "Ignore groups after this one (0-based)",
              allow_none=True, minimum=0),
        Param("maximum_cores", str, "1", "Cores to use: an integer, 'quarter', 'half' or 'all'"),
    )  # fmt: skip

    def process(self, model):

        gain, readnoise = gain_and_readnoise(self, model)
        exp = model.meta.exposure
        algorithm = self.choose_algorithm(model)
        if algorithm == "LIKELY":
            return self.make_products(model, self._fit_likely(model, gain, readnoise))
        zf = zeroframe_of(model, require_keyword=False)
        dark = None
        if model.hasattr("average_dark_current"):
            dark = np.asarray(model.average_dark_current, dtype=np.float32)
        log.info("Using algorithm = %s", algorithm)
        start = time.monotonic()
        fit = self.fit_ols(
            model.data, model.groupdq, model.pixeldq, readnoise, gain, exp,
            zeroframe=zf, average_dark_current=dark,
        )  # fmt: skip
        log.info("Ramp fitting took %.3f s", time.monotonic() - start)
        return self.make_products(model, fit)

    def fit_ols(
        self, data, groupdq, pixeldq, readnoise, gain, exposure, *, zeroframe,
        average_dark_current,
    ):  # fmt: skip
        """:func:`~webbcal.ramp_fitting.ols.fit_ramps` with this step's parameters.

        ``exposure`` is the ``meta.exposure`` node (timing, NFRAMES, GROUPGAP,
        DRPFRMS1); arrays as for ``fit_ramps`` (any block of rows). Pixels whose
        read noise is NaN or not positive cannot weight a ramp: they are
        DO_NOT_USE.
        """
        from .ols import fit_ramps

        exp = exposure
        pixeldq = np.where(readnoise > 0, pixeldq, pixeldq | DO_NOT_USE)
        return fit_ramps(
            data, groupdq, pixeldq.astype(np.uint32),
            np.asarray(readnoise, dtype=np.float32), np.asarray(gain, dtype=np.float32),
            frame_time=float(exp.frame_time), group_time=float(exp.group_time),
            nframes=int(exp.nframes), groupgap=int(exp.groupgap),
            dropframes1=int(exp.drop_frames1 or 0),
            suppress_one_group=self.suppress_one_group, zeroframe=zeroframe,
            firstgroup=self.firstgroup, lastgroup=self.lastgroup,
            average_dark_current=average_dark_current,
        )  # fmt: skip

    def choose_algorithm(self, model):
        """The algorithm to run: LIKELY for explicit read times, OLS_C below 4 groups.

        ``model`` is the ramp (its metadata and the shape of ``data``, or
        NGROUPS when the data are not loaded).

        Raises
        ------
        InputError
            If READ_TIMES do not match the groups or need LIKELY with too few groups.
        """
        from .constants import LIKELY_MIN_NGROUPS

        algorithm = self.algorithm.upper()
        read_times = getattr(model.meta.exposure, "read_times", None)
        ngroups = model.data.shape[1]
        name = model.meta.filename or "input"
        if read_times is not None and len(read_times) > 0:
            if len(read_times) != ngroups:
                raise InputError(
                    f"{name}: meta.exposure.read_times lists {len(read_times)} groups but the "
                    f"ramp has NGROUPS={ngroups}; expected one list of read times per group"
                )
            if ngroups < LIKELY_MIN_NGROUPS:
                raise InputError(
                    f"{name}: meta.exposure.read_times describe an uneven readout, which only "
                    f"the LIKELY fit handles, and LIKELY needs NGROUPS >= {LIKELY_MIN_NGROUPS}; "
                    f"this ramp has NGROUPS={ngroups}"
                )
            if algorithm != "LIKELY":
                log.warning("Setting the algorithm to LIKELY for unevenly sampled exposure")
                algorithm = "LIKELY"
        if algorithm == "LIKELY" and ngroups < LIKELY_MIN_NGROUPS:
            log.info(
                "The LIKELY algorithm needs ngroups >= %d but ngroups = %d; using OLS_C",
                LIKELY_MIN_NGROUPS, ngroups,
            )  # fmt: skip
            algorithm = "OLS_C"
        return algorithm

    def _fit_likely(self, model, gain, readnoise):
        from .likely import fit_ramps_likely

        exp = model.meta.exposure
        read_times = getattr(exp, "read_times", None)
        pattern = None
        if read_times is not None and len(read_times) > 0:
            # READ_TIMES are seconds; the fit takes frame numbers (time / TFRAME).
            pattern = [np.asarray(t, dtype=np.float64) / float(exp.frame_time) for t in read_times]
        dark = None
        if model.hasattr("average_dark_current"):
            dark = np.asarray(model.average_dark_current, dtype=np.float32)
        log.info("Using algorithm = LIKELY")
        start = time.monotonic()
        pixeldq = np.where(readnoise > 0, model.pixeldq, model.pixeldq | DO_NOT_USE)
        fit = fit_ramps_likely(
            model.data, model.groupdq, pixeldq.astype(np.uint32),
            np.asarray(readnoise, dtype=np.float32), np.asarray(gain, dtype=np.float32),
            frame_time=float(exp.frame_time), group_time=float(exp.group_time),
            nframes=int(exp.nframes), groupgap=int(exp.groupgap), read_pattern=pattern,
            average_dark_current=dark, firstgroup=self.firstgroup, lastgroup=self.lastgroup,
        )  # fmt: skip
        log.info("Ramp fitting took %.3f s", time.monotonic() - start)
        return fit

    @staticmethod
    def make_products(model, fit):
        """The ``(rate, rateints)`` products of ``fit`` (a ``RampFitResult``) with the
        metadata of the ramp ``model`` (ImageModel, or IFUImageModel for IFU modes,
        and CubeModel; DN/s)."""
        from stdatamodels.jwst import datamodels as dm

        from ..datamodels.io import assigning_checked_values

        cls = dm.IFUImageModel if model.meta.exposure.type in _IFU_TYPES else dm.ImageModel
        rate, rateints = cls(), dm.CubeModel()
        # The fit's own arrays (cast to the schema's types as on any assignment; the
        # products are validated whole when saved).
        with assigning_checked_values(rate):
            rate.data, rate.dq, rate.err = fit.slope, fit.dq, fit.err
            rate.var_poisson, rate.var_rnoise = fit.var_poisson, fit.var_rnoise
        with assigning_checked_values(rateints):
            rateints.data, rateints.dq, rateints.err = fit.slope_ints, fit.dq_ints, fit.err_ints
            rateints.var_poisson = fit.var_poisson_ints
            rateints.var_rnoise = fit.var_rnoise_ints
        rate.update(model, extra_fits=True)
        rateints.update(model, extra_fits=True)
        if model.int_times is not None and len(model.int_times):
            rateints.int_times = model.int_times.copy()
        for product in (rate, rateints):
            product.meta.filename = model.meta.filename
            product.meta.bunit_data = "DN/s"
            product.meta.bunit_err = "DN/s"
        return rate, rateints

    def save_model(self, model, suffix=None):
        """Save ``(rate, rateints)`` as ``_rate`` and ``_rateints`` (or one model)."""
        if isinstance(model, tuple):
            rate, rateints = model
            path = super().save_model(rate, suffix=suffix or "rate")
            super().save_model(rateints, suffix="rateints")
            return path
        return super().save_model(model, suffix=suffix)
