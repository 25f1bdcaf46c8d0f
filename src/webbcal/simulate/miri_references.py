"""CRDS-style MIRI reference files that exactly describe a simulated MIRI detector.

Writes the references the MIRI branch of ``calwebb_detector1`` reads: MASK (dq_init),
SATURATION (saturation), IPC (ipc), RESET (reset), LINEARITY (linearity), RSCD (rscd),
DARK (dark_current, a 4-D DarkMIRIModel: one dark ramp per integration), GAIN and
READNOISE (jump, ramp_fit) and EMICORR (emicorr, ASDF). MIRI has no SUPERBIAS: pass
``override_superbias="N/A"`` to the saturation step. All are validated ``stdatamodels``
models carrying the keywords CRDS matches on (INSTRUME, DETECTOR, SUBARRAY, READPATT,
EXP_TYPE with the pattern keywords P_EXP_TY / P_READPA) and the exposure keywords the steps
read (NINTS, NGROUPS, NFRAMES, GROUPGAP of DARK and RESET).

References
----------
JWST pipeline documentation, reference-file pages of dq_init, saturation, ipc, reset,
linearity, rscd, dark_current, emicorr, jump and ramp_fitting; CRDS user guide (pattern
keywords).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from astropy.io import fits
from stdatamodels.jwst import datamodels

from webbcal.simulate.miri_detector import _CLOCKS, MIRI_SUBARRAYS, MiriDetectorModel
from webbcal.simulate.miri_transients import (
    DEFAULT_EMI_AMPLITUDES,
    EMI_FREQUENCIES,
    EMI_SUBARRAY_FREQS,
    RSCD_GROUP_SKIP,
    emi_waveform,
)
from webbcal.simulate.references import _dq_def

__all__ = ["MIRI_REFTYPES", "write_miri_reference_files"]

#: Reference types written by :func:`write_miri_reference_files`.
MIRI_REFTYPES = (
    "mask", "saturation", "ipc", "reset", "linearity", "rscd", "dark", "gain", "readnoise",
    "emicorr",
)  # fmt: skip

_EXP_TYPES = (
    "MIR_IMAGE", "MIR_TACQ", "MIR_LYOT", "MIR_4QPM", "MIR_CORONCAL", "MIR_LRS-FIXEDSLIT",
    "MIR_LRS-SLITLESS", "MIR_MRS", "MIR_DARKIMG", "MIR_DARKMRS", "MIR_FLATIMAGE",
    "MIR_FLATMRS", "MIR_TACONFIRM",
)  # fmt: skip
#: Number of samples per EMI waveform in the EMICORR reference.
EMI_NSAMPLES = 256


def _meta(model, det: MiriDetectorModel, reftype: str, kw: dict) -> None:
    meta = model.meta
    meta.reftype = reftype.upper()
    meta.telescope = "JWST"
    meta.instrument.name = "MIRI"
    meta.instrument.detector = det.detector
    meta.useafter = kw["useafter"]
    meta.pedigree = kw["pedigree"]
    meta.author = kw["author"]
    meta.description = f"webbcal simulated {reftype.upper()} for {det.detector} {det.subarray}"
    if hasattr(meta, "subarray"):
        g = det.geometry
        sub = meta.subarray
        sub.name = det.subarray
        sub.xstart, sub.ystart, sub.xsize, sub.ysize = g.xstart, g.ystart, g.xsize, g.ysize
        sub.fastaxis, sub.slowaxis = det.fastaxis, det.slowaxis


def _save(model, path: Path, det: MiriDetectorModel, readpatt: str | None) -> Path:
    """Validate and save; add the CRDS pattern keywords to FITS primary headers."""
    model.validate()
    model.save(path)
    if path.suffix != ".fits":
        return path
    with fits.open(path, mode="update") as hdul:
        hdr = hdul[0].header
        hdr.setdefault("EXP_TYPE", "MIR_IMAGE")
        hdr["P_EXP_TY"] = ("|".join(_EXP_TYPES) + "|", "Applicable EXP_TYPE values")
        g = det.geometry
        for key, value in (
            ("SUBARRAY", det.subarray), ("SUBSTRT1", g.xstart), ("SUBSTRT2", g.ystart),
            ("SUBSIZE1", g.xsize), ("SUBSIZE2", g.ysize), ("FASTAXIS", det.fastaxis),
            ("SLOWAXIS", det.slowaxis),
        ):  # fmt: skip
            hdr.setdefault(key, value)
        if readpatt is not None:
            hdr.setdefault("READPATT", readpatt)
            hdr["P_READPA"] = (f"{readpatt}|", "Applicable READPATT values")
    return path


def write_miri_reference_files(
    det: MiriDetectorModel,
    outdir: str | os.PathLike,
    *,
    ngroups: int,
    nints: int = 2,
    readpatt: str = "FASTR1",
    useafter: str = "2022-01-01T00:00:00",
    pedigree: str = "SIMULATION",
    author: str = "webbcal.simulate",
) -> dict[str, Path]:
    """Write the MIRI reference files of a simulated detector.

    Parameters
    ----------
    det : MiriDetectorModel
        Detector whose (sub)array the references cover.
    outdir : path
        Directory (created if needed).
    ngroups : int
        Groups covered by the DARK and RESET references (at least the science NGROUPS).
    nints : int
        Integrations of the DARK and RESET references (1 or 2; the steps use the last one
        for later science integrations). The simulator's transients differ between
        integration 1 and the later ones, so use 2 for multi-integration exposures.
    readpatt : str
        READPATT of the readout-dependent references (DARK, RESET, READNOISE).
    useafter, pedigree, author : str
        USEAFTER, PEDIGREE and AUTHOR.

    Returns
    -------
    dict of str to Path
        ``{reftype: path}`` for every type of :data:`MIRI_REFTYPES`.

    Raises
    ------
    ValueError
        For ``ngroups < 1`` or ``nints`` not 1 or 2, or an invalid ``readpatt``.
    """
    readpatt = readpatt.upper()
    readout = det.readout(readpatt)
    if ngroups < 1:
        raise ValueError(f"ngroups={ngroups} must be >= 1")
    if nints not in (1, 2):
        raise ValueError(f"nints={nints}; expected 1 or 2")
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    kw = {"useafter": useafter, "pedigree": pedigree, "author": author}
    stem = f"jwst_miri_{det.detector.lower()}_{det.subarray.lower()}_sim"
    paths: dict[str, Path] = {}

    def emit(model, reftype: str, rp: str | None = None, ext: str = "fits") -> None:
        _meta(model, det, reftype, kw)
        paths[reftype] = _save(model, outdir / f"{stem}_{reftype}.{ext}", det, rp)

    emit(datamodels.MaskModel(
        dq=det.mask_dq.copy(),
        dq_def=_dq_def(["DO_NOT_USE", "DEAD", "HOT", "WARM", "LOW_QE", "REFERENCE_PIXEL"]),
    ), "mask")  # fmt: skip
    emit(datamodels.SaturationModel(
        data=det.saturation.astype(np.float32), dq=det.sat_dq.copy(),
        dq_def=_dq_def(["NO_SAT_CHECK"]),
    ), "saturation")  # fmt: skip
    emit(datamodels.IPCModel(data=det.ipc_kernel.astype(np.float32)), "ipc")
    emit(_reset_model(det, ngroups, nints, readpatt), "reset", readpatt)
    zeros = np.zeros((2, *det.shape), np.float32)
    coeffs = np.concatenate([zeros[:1], zeros[:1] + 1.0, det.nonlin.astype(np.float32)])
    emit(datamodels.LinearityModel(
        coeffs=coeffs, dq=det.lin_dq.copy(), dq_def=_dq_def(["NO_LIN_CORR"])
    ), "linearity")  # fmt: skip
    emit(_rscd_model(), "rscd")
    emit(_dark_model(det, ngroups, nints, readpatt, readout.frame_time), "dark", readpatt)
    emit(datamodels.GainModel(data=det.gain.astype(np.float32)), "gain")
    emit(datamodels.ReadnoiseModel(data=det.frame_readnoise(readpatt)), "readnoise", readpatt)
    emit(_emi_model(), "emicorr", ext="asdf")
    return paths


def _reset_model(det: MiriDetectorModel, ngroups: int, nints: int, readpatt: str):
    g = np.arange(ngroups, dtype=np.float64)[:, None, None]
    data = np.stack(
        [det.reset_amplitude[min(i, 1)] * np.exp(-g / det.reset_tau) for i in range(nints)]
    ).astype(np.float32)
    model = datamodels.ResetModel(
        data=data,
        dq=np.zeros(det.shape, np.uint32),
        err=np.zeros((nints, 1, *det.shape), np.float32),
        dq_def=_dq_def(["DO_NOT_USE"]),
    )
    exp = model.meta.exposure
    exp.readpatt, exp.ngroups, exp.nints = readpatt, ngroups, nints
    return model


def _dark_model(det: MiriDetectorModel, ngroups: int, nints: int, readpatt: str, tframe: float):
    """Noise-free dark ramps: group g of integration i holds ``rate_i * tframe * (g + 1)``."""
    sensitive = det.response > 0
    rate = det.dark_rate * sensitive
    t = (np.arange(ngroups, dtype=np.float64) + 1.0)[:, None, None] * tframe
    data = np.stack(
        [t * rate * (1.0 + (det.dark_int1_excess if i == 0 else 0.0)) for i in range(nints)]
    ).astype(np.float32)
    model = datamodels.DarkMIRIModel(
        data=data,
        dq=np.zeros((nints, 1, *det.shape), np.uint32),
        err=np.zeros((nints, 1, *det.shape), np.float32),
        dq_def=_dq_def(["DO_NOT_USE"]),
    )
    model.average_dark_current = (rate * det.gain).astype(np.float32)
    exp = model.meta.exposure
    exp.type = "MIR_IMAGE"
    exp.readpatt = readpatt
    exp.nframes, exp.groupgap, exp.ngroups = 1, 0, ngroups
    return model


def _rscd_model():
    rows = [
        (name, rp, s1, s)
        for (name, speed), (s1, s) in RSCD_GROUP_SKIP.items()
        for rp in (speed, f"{speed}R1")
    ]
    table = np.array(
        rows, dtype=[("subarray", "S17"), ("readpatt", "S12"), ("group_skip1", "<i4"),
                     ("group_skip", "<i4")]
    )  # fmt: skip
    return datamodels.RSCDModel(rscd_group_skip_table=table)


def _emi_model():
    phases = (np.arange(EMI_NSAMPLES) + 0.5) / EMI_NSAMPLES
    frequencies = {
        name: {
            "frequency": freq,
            "phase_amplitudes": (DEFAULT_EMI_AMPLITUDES[name] * emi_waveform(phases)).astype(
                np.float32
            ),
        }
        for name, freq in EMI_FREQUENCIES.items()
    }
    slow = {}
    for det in ("MIRIMAGE", "MIRIFUSHORT", "MIRIFULONG"):
        slow[det] = [f"Hz10_slow_{det}"]
        frequencies[f"Hz10_slow_{det}"] = dict(frequencies["Hz10"])
    cases = {}
    for name in MIRI_SUBARRAYS:
        freqs = list(EMI_SUBARRAY_FREQS[name])
        if name == "FULL":
            for speed in ("FAST", "SLOW"):
                rowclocks, frameclocks = _CLOCKS[f"FULL_{speed}"]
                cases[f"FULL_{speed}"] = {
                    "rowclocks": rowclocks,
                    "frameclocks": frameclocks,
                    "freqs": {"FAST": freqs, "SLOW": slow} if speed == "FAST" else {"SLOW": slow},
                }
            continue
        rowclocks, frameclocks = _CLOCKS[name]
        cases[name] = {"rowclocks": rowclocks, "frameclocks": frameclocks, "freqs": {"FAST": freqs}}
    model = datamodels.EmiModel()
    model.frequencies = frequencies
    model.subarray_cases = cases
    return model
