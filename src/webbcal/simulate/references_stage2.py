"""Stage-2 imaging reference files: FLAT, PHOTOM and AREA, for the simulated detectors.

Each writer builds and validates the ``stdatamodels`` reference model the official
pipeline reads (FlatModel with DQ and DQ_DEF; NrcImgPhotomModel, NisImgPhotomModel,
MirImgPhotomModel with time-dependence tables, FgsImgPhotomModel; PixelAreaModel)
with the header keywords CRDS selects on (REFTYPE, INSTRUME, DETECTOR, FILTER, PUPIL,
EXP_TYPE and P_EXP_TY, SUBARRAY and SUBSTRT/SUBSIZE, USEAFTER, PEDIGREE, AUTHOR,
DESCRIP, TELESCOP), and saves it. Values are plausible, not flight values: flats of
1 +- a few per cent with NaN, zero and flagged pixels; PHOTMJSR of the order of the
flight calibrations; pixel areas from the nominal pixel scales with a smooth
distortion pattern.

References
----------
JWST pipeline documentation, "FLAT reference file", "PHOTOM reference file" (table
columns per instrument, TIMECOEFF_* extensions) and "AREA reference file" (PIXAR_SR,
PIXAR_A2); JWST User Documentation (JDox), instrument pages for the nominal pixel
scales: NIRCam 0.031"/0.063" (short/long wavelength), NIRISS 0.0656", MIRI imager
0.11", FGS 0.069".
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from stdatamodels.jwst import datamodels

from webbcal import dqflags

__all__ = [
    "FULL_FRAME",
    "PIXEL_SCALE",
    "PhotomRow",
    "default_photom_rows",
    "miri_time_coefficients",
    "pixel_area",
    "write_area",
    "write_flat",
    "write_photom",
]

#: Full-frame (ny, nx) of each instrument's detectors.
FULL_FRAME = {"NIRCAM": (2048, 2048), "NIRISS": (2048, 2048), "FGS": (2048, 2048),
              "MIRI": (1024, 1032)}  # fmt: skip
#: Nominal pixel scale, arcsec per pixel (NIRCam: short-wavelength detectors; see
#: :func:`pixel_area` for the long-wavelength ones).
PIXEL_SCALE = {"NIRCAM": 0.031, "NIRCAM_LONG": 0.063, "NIRISS": 0.0656, "MIRI": 0.11,
               "FGS": 0.069}  # fmt: skip
_ARCSEC2_TO_SR = (np.pi / (180.0 * 3600.0)) ** 2
_EXP_TYPES = {
    "NIRCAM": ("NRC_IMAGE", "NRC_TSIMAGE", "NRC_CORON", "NRC_FOCUS", "NRC_TACQ",
               "NRC_TACONFIRM"),
    "NIRISS": ("NIS_IMAGE", "NIS_AMI", "NIS_FOCUS", "NIS_TACQ", "NIS_TACONFIRM"),
    "MIRI": ("MIR_IMAGE", "MIR_LYOT", "MIR_4QPM", "MIR_CORONCAL", "MIR_TACQ",
             "MIR_TACONFIRM"),
    "FGS": ("FGS_IMAGE", "FGS_FOCUS"),
}  # fmt: skip
_FLAT_FLAGS = ("DO_NOT_USE", "NO_FLAT_FIELD", "UNRELIABLE_FLAT", "REFERENCE_PIXEL")
_AUTHOR = "webbcal simulator"


@dataclass(frozen=True)
class PhotomRow:
    """One row of an imaging PHOTOM table.

    ``subarray`` is used by MIRI (and by NIRCam tables with a SUBARRAY column);
    ``pupil`` by NIRCam and NIRISS. FGS rows use neither.
    """

    filter: str | None
    pupil: str | None
    photmjsr: float
    uncertainty: float
    subarray: str | None = None


def default_photom_rows(instrument: str) -> list[PhotomRow]:
    """A realistic set of imaging rows (PHOTMJSR of flight magnitude) for ``instrument``.

    NIRISS imaging filters sit in the pupil wheel with FILTER=CLEAR, except the long
    wavelength ones, in the filter wheel with PUPIL=CLEARP. MIRI rows exist for the
    imager subarrays and GENERIC, coronagraphic filters for FULL, their mask's
    subarray and GENERIC.
    """
    inst = instrument.upper()
    if inst == "NIRCAM":
        vals = [("F070W", "CLEAR", 0.58), ("F090W", "CLEAR", 0.41), ("F115W", "CLEAR", 0.36),
                ("F150W", "CLEAR", 0.27), ("F200W", "CLEAR", 0.20), ("F212N", "CLEAR", 2.01),
                ("F150W2", "CLEAR", 0.082), ("F162M", "F150W2", 0.64),
                ("F277W", "CLEAR", 0.44), ("F356W", "CLEAR", 0.33), ("F444W", "CLEAR", 0.39),
                ("F405N", "CLEAR", 4.31), ("F335M", "CLEAR", 0.95)]  # fmt: skip
        return [PhotomRow(f, p, v, 0.01 * v) for f, p, v in vals]
    if inst == "NIRISS":
        vals = [("CLEAR", "F090W", 0.78), ("CLEAR", "F115W", 0.61), ("CLEAR", "F150W", 0.55),
                ("CLEAR", "F200W", 0.53), ("CLEAR", "F140M", 1.15), ("CLEAR", "F158M", 0.98),
                ("F277W", "CLEARP", 0.56), ("F356W", "CLEARP", 0.52), ("F444W", "CLEARP", 0.77),
                ("F380M", "CLEARP", 1.52), ("F430M", "CLEARP", 2.43), ("F480M", "CLEARP", 1.91),
                ("F380M", "NRM", 1.71)]  # fmt: skip
        return [PhotomRow(f, p, v, 0.01 * v) for f, p, v in vals]
    if inst == "MIRI":
        vals = {"F560W": 0.31, "F770W": 0.22, "F1000W": 0.36, "F1130W": 1.04, "F1280W": 0.44,
                "F1500W": 0.37, "F1800W": 0.46, "F2100W": 0.36, "F2550W": 0.63,
                "F1065C": 1.72, "F1140C": 1.81, "F1550C": 1.92, "F2300C": 1.35}  # fmt: skip
        imager = ("FULL", "BRIGHTSKY", "SUB256", "SUB128", "SUB64", "GENERIC")
        coron = {"F1065C": "MASK1065", "F1140C": "MASK1140", "F1550C": "MASK1550",
                 "F2300C": "MASKLYOT"}  # fmt: skip
        rows = []
        for f, v in vals.items():
            subs = ("FULL", coron[f], "GENERIC") if f in coron else imager
            rows += [PhotomRow(f, None, v * (1 + 0.002 * k), 0.02 * v, s)
                     for k, s in enumerate(subs)]  # fmt: skip
        return rows
    if inst == "FGS":
        return [PhotomRow(None, None, 1.72, 0.03)]
    raise ValueError(f"instrument={instrument!r}: expected NIRCAM, NIRISS, MIRI or FGS")


def miri_time_coefficients(rows: list[PhotomRow], *, t0: float = 59720.0) -> dict:
    """Exponential and power-law throughput-loss coefficients for MIRI imaging rows.

    The loss grows with wavelength (a few per cent at 5.6 um, about 25 % at 25.5 um):
    exponential ``amplitude = loss``, ``const = 1 - loss`` (1 at ``t0``), tau 250
    days; a mild power law (``year1value`` 0.995, ``alpha`` -0.05, ``tsoft`` 30 days).

    Returns
    -------
    dict
        ``{"exponential": records, "powerlaw": records}`` for :func:`write_photom`.
    """
    exp, pl = [], []
    for row in rows:
        microns = float(row.filter[1:-1]) / 100.0 if row.filter else 10.0
        loss = 0.02 + 0.23 * np.clip((microns - 5.6) / (25.5 - 5.6), 0, 1)
        exp.append((row.filter, row.subarray, t0, loss, 250.0, 1.0 - loss))
        pl.append((row.filter, row.subarray, t0, 0.995, 30.0, -0.05))
    return {"exponential": exp, "powerlaw": pl}


def _meta(model, reftype: str, instrument: str, detector: str, **kw) -> None:
    meta = model.meta
    meta.reftype = reftype
    meta.telescope = "JWST"
    meta.instrument.name = instrument
    meta.instrument.detector = detector
    meta.useafter = kw.get("useafter", "2022-01-01T00:00:00")
    meta.pedigree = kw.get("pedigree", "GROUND")
    meta.author = _AUTHOR
    meta.description = f"webbcal simulated {reftype} for {detector}"
    meta.exposure.type = _EXP_TYPES[instrument][0]
    meta.exposure.p_exptype = "|".join(_EXP_TYPES[instrument]) + "|"


def _check_instrument(instrument: str) -> str:
    inst = instrument.upper()
    if inst not in FULL_FRAME:
        raise ValueError(f"instrument={instrument!r}: expected one of {sorted(FULL_FRAME)}")
    return inst


def _save(model, path: str | os.PathLike) -> Path:
    model.validate()
    model.save(os.fspath(path))
    model.close()
    return Path(path)


def write_flat(
    path: str | os.PathLike,
    *,
    instrument: str,
    detector: str,
    filter: str | None = None,
    pupil: str | None = None,
    seed: int = 0,
    spread: float = 0.03,
    nan_fraction: float = 2e-4,
    zero_fraction: float = 1e-4,
    no_flat_fraction: float = 1e-4,
    unreliable_fraction: float = 3e-4,
    do_not_use_fraction: float = 1e-4,
) -> Path:
    """Write a full-frame FLAT reference (FlatModel with SCI, ERR, DQ and DQ_DEF).

    SCI is 1 plus a smooth large-scale pattern and pixel-to-pixel scatter of
    ``spread``; ERR is 0.5 % of SCI (NaN where SCI is NaN). The given fractions of
    the pixels, drawn at random, are NaN, 0, flagged NO_FLAT_FIELD, flagged
    UNRELIABLE_FLAT and flagged DO_NOT_USE (with a finite value); DQ is stored
    compressed through DQ_DEF, as in the flight files. Near-infrared reference pixels
    (4-pixel border) are 1 and flagged REFERENCE_PIXEL.

    Parameters
    ----------
    path : path-like
        Output FITS path.
    instrument, detector : str
        E.g. ``"NIRCAM"``, ``"NRCA1"``; ``"MIRI"``, ``"MIRIMAGE"``.
    filter, pupil : str or None
        Optical configuration written as FILTER/PUPIL.
    seed : int
        Random seed.

    Returns
    -------
    Path
    """
    inst = _check_instrument(instrument)
    ny, nx = FULL_FRAME[inst]
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:ny, 0:nx] / np.array([ny, nx])[:, None, None]
    smooth = 1 + spread * (0.6 * np.sin(2.1 * xx + 0.3) * np.cos(1.7 * yy) - 0.2 * xx)
    data = (smooth * (1 + spread * 0.3 * rng.standard_normal((ny, nx)))).astype(np.float32)
    dq = np.zeros((ny, nx), np.uint32)
    if inst != "MIRI":
        border = np.ones((ny, nx), bool)
        border[4:-4, 4:-4] = False
        data[border] = 1.0
        dq[border] = dqflags.PIXEL["REFERENCE_PIXEL"]
    fractions = (nan_fraction, zero_fraction, no_flat_fraction, unreliable_fraction,
                 do_not_use_fraction)  # fmt: skip
    counts = [round(f * ny * nx) for f in fractions]
    picks = rng.choice(ny * nx, sum(counts), replace=False)
    flat, flags = data.reshape(-1), dq.reshape(-1)
    nan, zero, noflat, unrel, dnu = np.split(picks, np.cumsum(counts[:4]))
    flat[nan], flat[zero] = np.nan, 0.0
    flags[noflat] |= dqflags.PIXEL["NO_FLAT_FIELD"]
    flags[unrel] |= dqflags.PIXEL["UNRELIABLE_FLAT"]
    flags[dnu] |= dqflags.PIXEL["DO_NOT_USE"]
    err = (np.abs(data) * 0.005).astype(np.float32)
    model = datamodels.FlatModel(data=data, err=err)
    # DQ holds standard flags in memory; saving compresses it through DQ_DEF.
    model.dq_def = _dq_def(_FLAT_FLAGS)
    model.dq = dq
    _meta(model, "FLAT", inst, detector)
    model.meta.instrument.filter = filter
    model.meta.instrument.pupil = pupil
    sub = model.meta.subarray
    sub.name, sub.xstart, sub.ystart, sub.xsize, sub.ysize = "FULL", 1, 1, nx, ny
    return _save(model, path)


def _dq_def(flags) -> np.ndarray:
    """Compressed bit planes: bit k of the file's DQ means ``flags[k]``."""
    rows = [(k, 1 << k, name, name.replace("_", " ").lower()) for k, name in enumerate(flags)]
    return np.array(rows, dtype=[("BIT", "<i4"), ("VALUE", "<u4"), ("NAME", "S40"),
                                  ("DESCRIPTION", "S80")])  # fmt: skip


def pixel_area(instrument: str, detector: str) -> tuple[float, float]:
    """Nominal (PIXAR_SR, PIXAR_A2) of a detector from its pixel scale."""
    inst = _check_instrument(instrument)
    long = inst == "NIRCAM" and detector.upper().endswith(("LONG", "5"))
    scale = PIXEL_SCALE["NIRCAM_LONG" if long else inst]
    a2 = scale * scale
    return a2 * _ARCSEC2_TO_SR, a2


def write_area(
    path: str | os.PathLike,
    *,
    instrument: str,
    detector: str,
    filter: str | None = None,
    pupil: str | None = None,
    amplitude: float = 0.02,
) -> Path:
    """Write a full-frame AREA reference (PixelAreaModel) with PIXAR_SR/PIXAR_A2.

    SCI is the pixel area relative to the nominal one: a smooth quadratic pattern of
    relative amplitude ``amplitude`` across the field (distortion), 1 at the centre.

    Returns
    -------
    Path
    """
    inst = _check_instrument(instrument)
    ny, nx = FULL_FRAME[inst]
    y, x = np.mgrid[0:ny, 0:nx]
    u, v = (x - nx / 2) / nx, (y - ny / 2) / ny
    area = (1 + amplitude * (1.5 * u * u - v * v + 0.8 * u * v + 0.3 * u)).astype(np.float32)
    model = datamodels.PixelAreaModel(data=area)
    _meta(model, "AREA", inst, detector)
    model.meta.instrument.filter = filter
    model.meta.instrument.pupil = pupil
    sr, a2 = pixel_area(inst, detector)
    model.meta.photometry.pixelarea_steradians = sr
    model.meta.photometry.pixelarea_arcsecsq = a2
    return _save(model, path)


def write_photom(
    path: str | os.PathLike,
    *,
    instrument: str,
    detector: str,
    rows: list[PhotomRow] | None = None,
    time_coefficients: dict | None = None,
    subarray_column: bool = False,
) -> Path:
    """Write an imaging PHOTOM reference of ``instrument`` (with PIXAR_SR/PIXAR_A2).

    Parameters
    ----------
    path : path-like
        Output FITS path.
    instrument, detector : str
        ``NIRCAM``/``NRCA1``, ``NIRISS``/``NIS``, ``MIRI``/``MIRIMAGE``, ``FGS``/``GUIDER1``.
    rows : list of PhotomRow or None
        The table (default :func:`default_photom_rows`).
    time_coefficients : dict or None
        ``{"linear"|"exponential"|"powerlaw": records}``, one record per row with the
        row's selection columns first, as :func:`miri_time_coefficients` returns
        (for FGS, without selection columns; for NIRISS ``linear`` without them too,
        as in its schema).
    subarray_column : bool
        NIRCam only: add a SUBARRAY column (newer NIRCam references select on it).

    Returns
    -------
    Path
    """
    inst = _check_instrument(instrument)
    rows = default_photom_rows(inst) if rows is None else rows
    model_class = {"NIRCAM": datamodels.NrcImgPhotomModel, "NIRISS": datamodels.NisImgPhotomModel,
                   "MIRI": datamodels.MirImgPhotomModel,
                   "FGS": datamodels.FgsImgPhotomModel}[inst]  # fmt: skip
    model = model_class()
    model.phot_table = _phot_table(inst, rows, subarray_column)
    for law, records in (time_coefficients or {}).items():
        attr = f"timecoeff_{law}"
        dtype = _schema_dtype(model, attr)
        setattr(model, attr, np.array([tuple(r) for r in records], dtype=dtype))
    _meta(model, "PHOTOM", inst, detector)
    sr, a2 = pixel_area(inst, detector)
    model.meta.photometry.pixelarea_steradians = sr
    model.meta.photometry.pixelarea_arcsecsq = a2
    return _save(model, path)


def _schema_dtype(model, attr: str) -> list:
    """numpy dtype of the table ``attr`` as the model's schema declares it."""
    kinds = {"float32": "<f4", "int16": "<i2", "int32": "<i4"}
    out = []
    for col in model.schema["properties"][attr]["datatype"]:
        kind = col["datatype"]
        out.append((col["name"], f"S{kind[1]}" if isinstance(kind, list) else kinds[kind]))
    return out


def _phot_table(inst: str, rows: list[PhotomRow], subarray_column: bool) -> np.ndarray:
    if inst == "FGS":
        dtype = [("photmjsr", "<f4"), ("uncertainty", "<f4")]
        return np.array([(r.photmjsr, r.uncertainty) for r in rows], dtype=dtype)
    if inst == "MIRI":
        dtype = [("filter", "S12"), ("subarray", "S17"), ("photmjsr", "<f4"),
                 ("uncertainty", "<f4")]  # fmt: skip
        return np.array([(r.filter, r.subarray, r.photmjsr, r.uncertainty) for r in rows],
                        dtype=dtype)  # fmt: skip
    dtype = [("filter", "S12"), ("pupil", "S12"), ("photmjsr", "<f4"), ("uncertainty", "<f4")]
    if subarray_column:
        dtype.append(("subarray", "S17"))
        values = [(r.filter, r.pupil, r.photmjsr, r.uncertainty, r.subarray or "FULL")
                  for r in rows]  # fmt: skip
    else:
        values = [(r.filter, r.pupil, r.photmjsr, r.uncertainty) for r in rows]
    return np.array(values, dtype=dtype)
