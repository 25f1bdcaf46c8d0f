"""CRDS-style reference files that exactly describe a simulated detector.

Writes MASK, SATURATION, SUPERBIAS, LINEARITY, DARK, GAIN, READNOISE and IPC reference
files as validated ``stdatamodels`` models, with the header keywords CRDS and the stage-1
steps read (REFTYPE, INSTRUME, DETECTOR, SUBARRAY, SUBSTRT/SUBSIZE, FASTAXIS/SLOWAXIS,
EXP_TYPE and the CRDS pattern keyword P_EXP_TY, READPATT, USEAFTER, PEDIGREE, AUTHOR, DESCRIP,
TELESCOP). They are the "perfect knowledge" references of the simulator: noise-free superbias
and dark, the exact gain and read noise, and linearity coefficients that invert the simulated
non-linearity.

References
----------
JWST pipeline documentation, "Reference File Information" pages of the dq_init, saturation,
superbias, linearity, dark_current, ramp_fitting (gain, readnoise) and ipc steps; CRDS user
guide, "Reference file requirements" (P_ pattern keywords).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from astropy.io import fits
from stdatamodels.jwst import datamodels

from webbcal import dqflags
from webbcal.lib.readout import read_pattern
from webbcal.simulate.detector import DetectorModel
from webbcal.simulate.ramp import apply_ipc

__all__ = ["EXP_TYPES", "REFTYPES", "fit_linearity_coefficients", "write_reference_files"]

#: Reference types written by :func:`write_reference_files`.
REFTYPES = ("mask", "saturation", "superbias", "linearity", "dark", "gain", "readnoise", "ipc")

#: Exposure types each reference file applies to (written as P_EXP_TY).
EXP_TYPES: dict[str, tuple[str, ...]] = {
    "NIRCAM": (
        "NRC_IMAGE", "NRC_TSIMAGE", "NRC_CORON", "NRC_WFSS", "NRC_TSGRISM", "NRC_GRISM",
        "NRC_TACQ", "NRC_TACONFIRM", "NRC_FOCUS", "NRC_DARK", "NRC_FLAT", "NRC_LED",
        "NRC_WFSC",
    ),
    "NIRSPEC": (
        "NRS_FIXEDSLIT", "NRS_BRIGHTOBJ", "NRS_IFU", "NRS_MSASPEC", "NRS_IMAGE", "NRS_DARK",
        "NRS_FOCUS", "NRS_LAMP", "NRS_AUTOWAVE", "NRS_AUTOFLAT", "NRS_MSATA", "NRS_WATA",
        "NRS_TACQ", "NRS_TASLIT", "NRS_CONFIRM", "NRS_TACONFIRM", "NRS_MIMF",
    ),
    "NIRISS": (
        "NIS_IMAGE", "NIS_WFSS", "NIS_SOSS", "NIS_AMI", "NIS_DARK", "NIS_FOCUS", "NIS_LAMP",
        "NIS_TACQ", "NIS_TACONFIRM", "NIS_EXTCAL",
    ),
    "FGS": (
        "FGS_IMAGE", "FGS_FOCUS", "FGS_DARK", "FGS_SKYFLAT", "FGS_INTFLAT", "FGS_ACQ1",
        "FGS_ACQ2", "FGS_TRACK", "FGS_FINEGUIDE", "FGS_ID-IMAGE", "FGS_ID-STACK",
    ),
}  # fmt: skip

_RAPID = {"NIRCAM": "RAPID", "NIRSPEC": "NRSRAPID", "NIRISS": "NISRAPID", "FGS": "FGSRAPID"}
_CHUNK = 1 << 16


def fit_linearity_coefficients(
    nonlin: np.ndarray, full_well: np.ndarray, *, ncoeffs: int = 6, nsamples: int = 48
) -> np.ndarray:
    """Polynomial coefficients that undo :func:`~webbcal.simulate.apply_nonlinearity`.

    For each pixel the linear signal ``q`` is sampled from 0.2 % to 100 % of the full well
    and the relative correction ``q / m - 1`` is fitted by least squares as a polynomial in the
    measured signal ``m``, so that ``q = sum_k c_k m**k`` with ``c_0 = 0`` and ``c_1 = 1``
    (the JWST LINEARITY convention on bias-subtracted DN).

    Parameters
    ----------
    nonlin : ndarray, shape (2, ny, nx)
        Non-linearity coefficients of the detector.
    full_well : ndarray, shape (ny, nx), DN
        Linear signal at which the charge saturates (upper end of the fit).
    ncoeffs : int
        Number of coefficients (polynomial degree + 1), at least 3.
    nsamples : int
        Signal levels per pixel used in the fit.

    Returns
    -------
    ndarray, shape (ncoeffs, ny, nx), float32
        COEFFS for a LINEARITY reference file.

    Raises
    ------
    ValueError
        If ``ncoeffs < 3``.
    """
    if ncoeffs < 3:
        raise ValueError(f"ncoeffs={ncoeffs} must be >= 3")
    ny, nx = full_well.shape
    a = nonlin.reshape(2, -1).astype(np.float64)
    fw = full_well.ravel().astype(np.float64)
    t = np.linspace(0.002, 1.0, nsamples)
    powers = np.arange(1, ncoeffs - 1)
    out = np.zeros((ncoeffs, fw.size))
    out[1] = 1.0
    for s in range(0, fw.size, _CHUNK):
        sl = slice(s, s + _CHUNK)
        q = t[None, :] * fw[sl, None]
        m = q * (1.0 + q * (a[0, sl, None] + q * a[1, sl, None]))
        u = m / fw[sl, None]  # scaled abscissa keeps the normal equations well conditioned
        design = u[:, :, None] ** powers[None, None, :]
        rhs = q / m - 1.0
        lhs = np.einsum("pjk,pjl->pkl", design, design)
        vec = np.einsum("pjk,pj->pk", design, rhs)
        e = np.linalg.solve(lhs, vec[..., None])[..., 0]
        out[2:, sl] = (e / fw[sl, None] ** powers[None, :]).T
    return out.reshape(ncoeffs, ny, nx).astype(np.float32)


def _dq_def(flags: list[str]) -> np.ndarray:
    rows = []
    for name in flags:
        value = dqflags.PIXEL[name]
        rows.append((int(value).bit_length() - 1, value, name, name.replace("_", " ").lower()))
    return np.array(rows, dtype=[("BIT", "<i4"), ("VALUE", "<u4"), ("NAME", "S40"),
                                  ("DESCRIPTION", "S80")])  # fmt: skip


def _common_meta(
    model, det: DetectorModel, reftype: str, *, useafter: str, pedigree: str, author: str
) -> None:
    meta = model.meta
    meta.reftype = reftype.upper()
    meta.telescope = "JWST"
    meta.instrument.name = det.instrument
    meta.instrument.detector = det.detector
    meta.useafter = useafter
    meta.pedigree = pedigree
    meta.author = author
    meta.description = f"webbcal simulated {reftype.upper()} for {det.detector} {det.subarray}"
    g = det.geometry
    if hasattr(meta, "subarray"):
        sub = meta.subarray
        sub.name = det.subarray
        sub.xstart, sub.ystart, sub.xsize, sub.ysize = g.xstart, g.ystart, g.xsize, g.ysize
        sub.fastaxis, sub.slowaxis = det.fastaxis, det.slowaxis


def _finish(model, path: Path, det: DetectorModel, readpatt: str | None) -> Path:
    """Validate, save, then add the CRDS pattern keywords the schemas do not define."""
    model.validate()
    model.save(path)
    exp_types = EXP_TYPES[det.instrument]
    with fits.open(path, mode="update") as hdul:
        hdr = hdul[0].header
        hdr.setdefault("EXP_TYPE", exp_types[0])
        hdr["P_EXP_TY"] = ("|".join(exp_types) + "|", "Applicable EXP_TYPE values")
        for key, value in (
            ("SUBARRAY", det.subarray),
            ("SUBSTRT1", det.geometry.xstart),
            ("SUBSTRT2", det.geometry.ystart),
            ("SUBSIZE1", det.geometry.xsize),
            ("SUBSIZE2", det.geometry.ysize),
            ("FASTAXIS", det.fastaxis),
            ("SLOWAXIS", det.slowaxis),
        ):
            hdr.setdefault(key, value)
        if readpatt is not None:
            hdr.setdefault("READPATT", readpatt)
    return path


def write_reference_files(
    det: DetectorModel,
    outdir: str | os.PathLike,
    *,
    useafter: str = "2022-01-01T00:00:00",
    readpatt: str | None = None,
    ngroups: int = 10,
    dark_frames: int | None = None,
    tframe: float | None = None,
    pedigree: str = "SIMULATION",
    author: str = "webbcal.simulate",
    linearity_ncoeffs: int = 6,
) -> dict[str, Path]:
    """Write the reference files of a simulated detector.

    Parameters
    ----------
    det : DetectorModel
        Detector whose (sub)array the references cover.
    outdir : path
        Directory to write into (created if needed).
    useafter : str
        USEAFTER, ISO date-time.
    readpatt, ngroups : str, int
        Longest science readout the DARK must cover: it gets
        ``ngroups * (nframes + groupgap)`` single frames (NFRAMES=1, GROUPGAP=0) so the
        dark-current step can average frames to any pattern up to that length.
        Default pattern: the instrument's RAPID.
    dark_frames : int, optional
        Number of dark frames, overriding the value derived from ``readpatt``/``ngroups``.
    tframe : float, optional
        Frame time of the dark (s); default from the detector geometry. Must match the
        science exposure.
    pedigree, author : str
        PEDIGREE and AUTHOR keywords.
    linearity_ncoeffs : int
        Number of LINEARITY coefficients.

    Returns
    -------
    dict of str to Path
        ``{reftype: path}`` for every type in :data:`REFTYPES`.
    """
    from webbcal.simulate.exposure import detector_frame_time

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    pattern = read_pattern(readpatt or _RAPID[det.instrument])
    nframes_dark = dark_frames or ngroups * (pattern.nframes + pattern.groupgap)
    tframe = tframe or detector_frame_time(det)
    kw = {"useafter": useafter, "pedigree": pedigree, "author": author}
    stem = f"jwst_{det.instrument.lower()}_{det.detector.lower()}_{det.subarray.lower()}_sim"
    paths: dict[str, Path] = {}
    rapid = _RAPID[det.instrument]

    def emit(model, reftype: str, readpatt_kw: str | None = None) -> None:
        _common_meta(model, det, reftype, **kw)
        paths[reftype] = _finish(model, outdir / f"{stem}_{reftype}.fits", det, readpatt_kw)

    mask = datamodels.MaskModel(
        dq=det.mask_dq.copy(),
        dq_def=_dq_def(["DO_NOT_USE", "DEAD", "HOT", "WARM", "LOW_QE", "REFERENCE_PIXEL"]),
    )
    emit(mask, "mask")

    sat = datamodels.SaturationModel(
        data=det.saturation.astype(np.float32),
        dq=det.sat_dq.copy(),
        dq_def=_dq_def(["NO_SAT_CHECK"]),
    )
    emit(sat, "saturation")

    bias = datamodels.SuperBiasModel(
        data=det.superbias.astype(np.float32),
        err=np.full(det.shape, 0.5, np.float32),
        dq=np.zeros(det.shape, np.uint32),
    )
    emit(bias, "superbias", rapid)

    coeffs = fit_linearity_coefficients(det.nonlin, det.full_well, ncoeffs=linearity_ncoeffs)
    lin = datamodels.LinearityModel(
        coeffs=coeffs, dq=det.lin_dq.copy(), dq_def=_dq_def(["NO_LIN_CORR"])
    )
    emit(lin, "linearity")

    emit(_dark_model(det, nframes_dark, tframe, rapid), "dark", rapid)
    emit(datamodels.GainModel(data=det.gain.astype(np.float32)), "gain")
    emit(datamodels.ReadnoiseModel(data=det.readnoise.astype(np.float32)), "readnoise")
    emit(datamodels.IPCModel(data=det.ipc_kernel.astype(np.float32)), "ipc")
    return paths


def _dark_model(det: DetectorModel, nframes: int, tframe: float, readpatt: str):
    """Noise-free dark ramp: frame k (0-based) holds ``dark_rate * tframe * (k + 1)`` DN."""
    sensitive = det.response > 0
    rate = apply_ipc(det.dark_rate * sensitive, det.ipc_kernel) * sensitive
    times = (np.arange(nframes, dtype=np.float64) + 1.0) * tframe
    data = (times[:, None, None] * rate[None]).astype(np.float32)
    err = np.zeros_like(data)
    dq = np.zeros(det.shape, np.uint32)
    cls = datamodels.DarkNirspecModel if det.instrument == "NIRSPEC" else datamodels.DarkModel
    model = cls(data=data, err=err, dq=dq, dq_def=_dq_def(["DO_NOT_USE"]))
    model.average_dark_current = (rate * det.gain).astype(np.float32)
    exp = model.meta.exposure
    exp.type = EXP_TYPES[det.instrument][0]
    exp.readpatt = readpatt
    exp.nframes, exp.groupgap, exp.ngroups = 1, 0, nframes
    exp.noutputs = det.noutputs
    return model
