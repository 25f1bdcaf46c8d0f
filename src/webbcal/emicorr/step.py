"""The ``emicorr`` step adapter."""

import logging

from ..lib.reffiles import ReferenceFileError
from ..stpipe import Param, Step, StepSkipped

__all__ = ["EmiCorrStep"]

log = logging.getLogger(__name__)

#: Read patterns whose clocking the correction knows.
READPATTS = ("FAST", "FASTR1", "SLOW", "SLOWR1")


class EmiCorrStep(Step):
    """Remove MIRI electromagnetic-interference noise (official alias ``emicorr``).

    Skipped by default, as in the official pipeline (CRDS parameter references
    enable it for the modes that need it).

    References
    ----------
    JWST pipeline documentation, "emicorr" step.
    """

    class_alias = "emicorr"
    cal_step_name = "emicorr"
    reference_file_types = ("emicorr",)
    spec = (
        Param("algorithm", str, "joint", "EMI fitting algorithm",
              choices=("sequential", "joint")),
        Param("nints_to_phase", int, None, "Integrations used to phase the EMI (sequential)",
              allow_none=True, minimum=1),
        Param("nbins", int, None, "Phase bins of one EMI period (sequential)",
              allow_none=True, minimum=1),
        Param("scale_reference", bool, True,
              "Scale the reference waveform to the measured amplitude (sequential)"),
        Param("onthefly_corr_freq", list, None,
              "Frequencies to correct without a reference (sequential), e.g. 218.52,10.39",
              element=float, allow_none=True, unit="Hz"),
        Param("use_n_cycles", int, 3,
              "EMI periods used to phase the data (None: all integrations; sequential)",
              allow_none=True, minimum=1),
        Param("fit_ints_separately", bool, False,
              "Fit each integration separately (joint)"),
        Param("user_supplied_reffile", str, None,
              "Deprecated: use override_emicorr", allow_none=True),
        Param("save_intermediate_results", bool, False,
              "Save the on-the-fly reference waveforms to a file"),
        Param("skip", bool, True, "Skip this step"),
    )  # fmt: skip

    def _resolve_references(self, model):
        self._references_used.clear()
        _check_applies(model)
        if self._on_the_fly_frequencies() is not None:
            return
        if self.user_supplied_reffile is not None:
            log.warning("user_supplied_reffile is deprecated; use override_emicorr")
            if self.override_emicorr is None:
                self.override_emicorr = self.user_supplied_reffile
        super()._resolve_references(model)

    def required_reference_types(self):
        if self.onthefly_corr_freq is not None:
            return ()
        return super().required_reference_types()

    def _on_the_fly_frequencies(self):
        if self.onthefly_corr_freq is None:
            return None
        freqs = self.onthefly_corr_freq
        if not freqs or any(not f > 0 for f in freqs):
            raise ValueError(
                f"emicorr.onthefly_corr_freq={','.join(map(str, freqs)) or ','}; expected "
                "one or more positive frequencies in Hz"
            )
        return freqs

    def process(self, model):
        from .joint import EmiTiming, correct_emi_joint
        from .reference import EmiReferenceError

        ngroups = model.data.shape[1]
        if ngroups < 3:
            raise StepSkipped(f"EMI correction needs at least 3 groups (NGROUPS={ngroups})")
        try:
            case = self._select_case(model)
        except EmiReferenceError as exc:
            raise ReferenceFileError(str(exc)) from None
        if case is None:
            why = (
                f"no EMI correction for SUBARRAY={model.meta.subarray.name}, READPATT="
                f"{model.meta.exposure.readpatt}, DETECTOR={model.meta.instrument.detector}"
            )
            log.warning("EMICORR step skipped: %s in the reference", why)
            raise StepSkipped(why)
        algorithm = self.algorithm
        if algorithm == "joint" and not case.amplitudes:
            log.warning("The joint algorithm needs reference waveforms; using 'sequential'")
            algorithm = "sequential"
        if algorithm == "sequential" and ngroups < 10:
            log.warning("Sequential EMI fit with %d groups: 'joint' is recommended", ngroups)
        readpatt = (model.meta.exposure.readpatt or "").upper()
        nsamples = int(model.meta.exposure.nsamples or 1)
        log.info("Correcting %s with the %s algorithm: %s", case.case, algorithm,
                 ", ".join(case.names))  # fmt: skip
        data = model.data
        if algorithm == "joint":
            timing = EmiTiming(
                nsamples=nsamples, rowclocks=case.rowclocks,
                frameclocks=case.frameclocks if readpatt in ("FASTR1", "SLOWR1") else 0.0,
            )  # fmt: skip
            for freq, amp in zip(case.frequencies, case.amplitudes, strict=True):
                data = correct_emi_joint(
                    data, model.pixeldq, frequency=freq, amplitudes=amp, timing=timing,
                    fit_ints_separately=self.fit_ints_separately,
                )  # fmt: skip
        else:
            data = self._sequential(model, case, nsamples, readpatt)
        model.data = data
        return model

    def _sequential(self, model, case, nsamples, readpatt):
        from .sequential import SequentialOptions, correct_emi_sequential

        opts = SequentialOptions(
            nints_to_phase=self.nints_to_phase, nbins=self.nbins,
            scale_reference=self.scale_reference, use_n_cycles=self.use_n_cycles,
        )  # fmt: skip
        sub = model.meta.subarray
        data = model.data
        amps = case.amplitudes or (None,) * len(case.frequencies)
        for freq, amp in zip(case.frequencies, amps, strict=True):
            data = correct_emi_sequential(
                data, frequency=freq, reference=amp, nsamples=nsamples,
                rowclocks=case.rowclocks, frameclocks=case.frameclocks,
                reset_frame=readpatt in ("FASTR1", "SLOWR1"),
                xstart=int(sub.xstart or 1), xsize=int(sub.xsize or data.shape[-1]),
                options=opts,
            )  # fmt: skip
        return data

    def _select_case(self, model):
        from stdatamodels.jwst.datamodels import EmiModel

        from .reference import ON_THE_FLY_CLOCKS, EmiCase, case_name, select_case

        subarray = model.meta.subarray.name or "FULL"
        readpatt = model.meta.exposure.readpatt
        freqs = self._on_the_fly_frequencies()
        if freqs is not None:
            key = case_name(subarray, readpatt)
            if key not in ON_THE_FLY_CLOCKS:
                return None
            row, frame = ON_THE_FLY_CLOCKS[key]
            log.info("Correcting with waveforms measured on the fly")
            return EmiCase(key, row, frame, tuple(repr(f) for f in freqs), freqs)
        ref = self.open_reference(model, "emicorr", EmiModel)
        cases = _plain(getattr(ref, "subarray_cases", None))
        frequencies = _plain(getattr(ref, "frequencies", None))
        name = ref.meta.filename or "emicorr reference"
        if not isinstance(cases, dict) or not isinstance(frequencies, dict):
            raise ReferenceFileError(
                f"{name}: expected 'subarray_cases' and 'frequencies' tables in the EMICORR "
                "reference"
            )
        return select_case(
            cases, frequencies, subarray=subarray, readpatt=readpatt,
            detector=model.meta.instrument.detector, name=name,
        )  # fmt: skip


def _plain(node):
    return getattr(node, "instance", node)


def _check_applies(model):
    instrument = (model.meta.instrument.name or "").upper()
    if instrument != "MIRI":
        raise StepSkipped(f"EMI correction is for MIRI only (INSTRUME={instrument})")
    readpatt = (model.meta.exposure.readpatt or "").upper()
    if readpatt not in READPATTS:
        raise StepSkipped(f"EMI correction is not defined for READPATT={readpatt}")
