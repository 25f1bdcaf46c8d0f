"""Stage-3 imaging reference files: APCORR and ABVEGAOFFSET, for ``source_catalog``.

The APCORR table of an imaging mode gives, for each encircled-energy fraction, the
radius (detector pixels) enclosing that fraction of a point source's flux, the aperture
correction (total over enclosed flux) and the inner and outer radii of the local
background annulus. Here those radii and corrections are computed exactly for the
simulator's point-spread function: a circular Gaussian of ``sigma`` pixels, optionally
blurred by ``n_boxes`` one-pixel boxes along each axis (each box stands for one
integration over a pixel: detector sampling, the drizzle kernel, the output pixel), so a
catalog measured on a simulated image can be checked against the injected fluxes.

ABVEGAOFFSET holds ``m_AB - m_Vega`` per optical element. The values written by
default are plausible (of the order of the published NIRCam, NIRISS and MIRI ones),
not flight values.

References
----------
JWST pipeline documentation, "APCORR reference file" (imaging tables: filter, pupil or
subarray, eefraction, radius, apcorr, skyin, skyout) and "ABVEGAOFFSET reference
file" (ASDF; filter/pupil, filter or detector selectors, ``abvega_offset``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "ApcorrRow",
    "encircled_energy",
    "gaussian_apcorr_rows",
    "write_abvegaoffset",
    "write_apcorr",
]

_AUTHOR = "webbcal simulator"
_APCORR_MODELS = {
    "NIRCAM": ("NrcImgApcorrModel", "NRC_IMAGE"),
    "NIRISS": ("NisImgApcorrModel", "NIS_IMAGE"),
    "MIRI": ("MirImgApcorrModel", "MIR_IMAGE"),
    "FGS": ("FgsImgApcorrModel", "FGS_IMAGE"),
}
#: Encircled-energy fractions of the flight imaging APCORR tables.
EE_FRACTIONS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)


@dataclass(frozen=True)
class ApcorrRow:
    """One row of an imaging APCORR table (radii in detector pixels).

    ``pupil`` is a selector of NIRCam and NIRISS tables, ``subarray`` of MIRI ones;
    FGS rows have neither and no filter.
    """

    filter: str | None
    pupil: str | None
    subarray: str | None
    eefraction: float
    radius: float
    apcorr: float
    skyin: float
    skyout: float


def _profile_1d(x: np.ndarray, sigma: float, n_boxes: int) -> np.ndarray:
    """1-D Gaussian of ``sigma`` convolved with ``n_boxes`` unit boxes, on the grid ``x``."""
    step = x[1] - x[0]
    prof = np.exp(-0.5 * (x / sigma) ** 2)
    width = int(round(1.0 / step))
    box = np.ones(width) / width
    for _ in range(n_boxes):
        prof = np.convolve(prof, box, mode="same")
    return prof / prof.sum()


def _ee_function(sigma: float, n_boxes: int, step: float, rmax: float):
    """EE(r) of the blurred Gaussian, tabulated once (see :func:`encircled_energy`)."""
    if not sigma > 0:
        raise ValueError(f"sigma={sigma!r}: expected a positive width in pixels")
    if n_boxes < 0:
        raise ValueError(f"n_boxes={n_boxes!r}: expected >= 0")
    half = max(8.0 * sigma + n_boxes, rmax + 1.0)
    x = np.arange(-half, half + step / 2, step)
    prof = _profile_1d(x, sigma, n_boxes)
    edges = np.concatenate([x - step / 2, [x[-1] + step / 2]])
    cum = np.concatenate([[0.0], np.cumsum(prof)])

    def ee(r: float) -> float:
        # fraction of p(y) within the circle's chord at each column, summed over columns
        h = np.sqrt(np.clip(r**2 - x**2, 0.0, None))
        return float(np.sum(prof * (np.interp(h, edges, cum) - np.interp(-h, edges, cum))))

    return ee


def encircled_energy(
    radii: np.ndarray, *, sigma: float, n_boxes: int = 0, step: float = 0.002
) -> np.ndarray:
    """Fraction of a blurred Gaussian's flux inside circles of the given radii.

    The point-spread function is separable: ``P(x, y) = p(x) p(y)`` with ``p`` a
    Gaussian of standard deviation ``sigma`` convolved ``n_boxes`` times with a box of
    one pixel, tabulated every ``step`` pixels. For each column ``x`` the fraction of
    ``p(y)`` within the circle's chord ``|y| <= sqrt(r^2 - x^2)`` comes from the
    cumulative profile; the columns are then summed (midpoint rule). For a plain
    Gaussian the result is within 2e-5 of ``1 - exp(-r^2 / 2 sigma^2)``.

    Parameters
    ----------
    radii : array_like, shape (n,), float, pixels
        Circle radii.
    sigma : float
        Gaussian standard deviation, pixels (> 0).
    n_boxes : int, optional
        Number of one-pixel boxes convolved along each axis (>= 0).
    step : float, optional
        Tabulation step, pixels (1/step an integer).

    Returns
    -------
    ndarray, shape (n,), float64
        Encircled-energy fractions in [0, 1].

    Raises
    ------
    ValueError
        If ``sigma`` <= 0 or ``n_boxes`` < 0.
    """
    radii = np.atleast_1d(np.asarray(radii, float))
    ee = _ee_function(sigma, n_boxes, step, float(radii.max()))
    return np.array([ee(r) for r in radii])


def gaussian_apcorr_rows(
    *,
    sigma: float,
    n_boxes: int = 0,
    filter: str | None,
    pupil: str | None = None,
    subarray: str | None = None,
    fractions: tuple[float, ...] = EE_FRACTIONS,
    skyin: float | None = None,
    skyout: float | None = None,
) -> list[ApcorrRow]:
    """APCORR rows of one optical element for the blurred Gaussian PSF.

    For each fraction ``f`` the radius ``r`` with ``EE(r) = f`` (bisection on
    :func:`encircled_energy`) and the correction ``1 / f``: the default annulus starts
    far enough out (beyond 4 sigma) to hold no measurable source flux.

    Parameters
    ----------
    sigma, n_boxes : float, int
        The PSF (see :func:`encircled_energy`).
    filter, pupil, subarray : str or None
        Selector values of the rows.
    fractions : tuple of float, optional
        Encircled-energy fractions (0 < f < 1).
    skyin, skyout : float or None, optional
        Background annulus radii, pixels (default ``max(6, 4 sigma + n_boxes)`` and
        ``skyin + 4``).

    Returns
    -------
    list of ApcorrRow
    """
    skyin = max(6.0, 4.0 * sigma + n_boxes) if skyin is None else float(skyin)
    skyout = skyin + 4.0 if skyout is None else float(skyout)
    top = 10.0 * sigma + n_boxes
    ee = _ee_function(sigma, n_boxes, 0.002, top)
    rows = []
    for f in fractions:
        lo, hi = 0.0, top
        for _ in range(40):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if ee(mid) < f else (lo, mid)
        r = 0.5 * (lo + hi)
        rows.append(ApcorrRow(filter, pupil, subarray, f, r, 1.0 / ee(r), skyin, skyout))
    return rows


def _reference_meta(model, reftype: str, instrument: str, exp_type: str | None) -> None:
    meta = model.meta
    meta.reftype = reftype
    meta.telescope = "JWST"
    meta.instrument.name = instrument
    meta.useafter = "2022-01-01T00:00:00"
    meta.pedigree = "GROUND"
    meta.author = _AUTHOR
    meta.description = f"webbcal simulated {reftype} for {instrument}"
    if exp_type is not None:
        meta.exposure.type = exp_type


def write_apcorr(path: str | os.PathLike, *, instrument: str, rows: list[ApcorrRow]) -> Path:
    """Write an imaging APCORR reference (FITS, table extension ``APCORR``).

    Parameters
    ----------
    path : path-like
        Output FITS path.
    instrument : str
        ``NIRCAM``, ``NIRISS``, ``MIRI`` or ``FGS`` (sets the table's selector columns).
    rows : list of ApcorrRow
        The table.

    Returns
    -------
    Path

    Raises
    ------
    ValueError
        If ``instrument`` is not an imager.
    """
    from stdatamodels.jwst import datamodels

    inst = instrument.upper()
    if inst not in _APCORR_MODELS:
        raise ValueError(f"instrument={instrument!r}: expected one of {sorted(_APCORR_MODELS)}")
    model_name, exp_type = _APCORR_MODELS[inst]
    model = getattr(datamodels, model_name)()
    values = ("eefraction", "radius", "apcorr", "skyin", "skyout")
    if inst in ("NIRCAM", "NIRISS"):
        select = (("filter", "S12"), ("pupil", "S15"))
    elif inst == "MIRI":
        select = (("filter", "S12"), ("subarray", "S17"))
    else:
        select = ()
    dtype = [*select, *((name, "<f4") for name in values)]
    table = np.array(
        [tuple([getattr(r, n) or "" for n, _ in select] + [getattr(r, v) for v in values])
         for r in rows],
        dtype=dtype,
    )  # fmt: skip
    model.apcorr_table = table
    _reference_meta(model, "APCORR", inst, exp_type)
    model.validate()
    model.save(os.fspath(path))
    model.close()
    return Path(path)


def write_abvegaoffset(path: str | os.PathLike, *, instrument: str, rows: list[dict]) -> Path:
    """Write an ABVEGAOFFSET reference (ASDF).

    Parameters
    ----------
    path : path-like
        Output ``.asdf`` path.
    instrument : str
        ``NIRCAM``, ``NIRISS``, ``MIRI`` or ``FGS``.
    rows : list of dict
        One dict per row: ``filter`` and ``pupil`` (NIRCam, NIRISS), ``filter`` (MIRI)
        or ``detector`` (FGS), and ``abvega_offset`` (``m_AB - m_Vega``, mag).

    Returns
    -------
    Path

    Raises
    ------
    ValueError
        If ``instrument`` is not an imager or a row lacks a selector column.
    """
    from astropy.table import Table
    from stdatamodels.jwst.datamodels import ABVegaOffsetModel

    inst = instrument.upper()
    columns = {"NIRCAM": ("filter", "pupil"), "NIRISS": ("filter", "pupil"),
               "MIRI": ("filter",), "FGS": ("detector",)}.get(inst)  # fmt: skip
    if columns is None:
        raise ValueError(f"instrument={instrument!r}: expected NIRCAM, NIRISS, MIRI or FGS")
    for row in rows:
        missing = [c for c in (*columns, "abvega_offset") if c not in row]
        if missing:
            raise ValueError(f"ABVEGAOFFSET row {row!r}: missing {missing}")
    table = Table()
    for c in columns:
        table[c] = [str(r[c]) for r in rows]
    table["abvega_offset"] = np.array([r["abvega_offset"] for r in rows], np.float32)
    model = ABVegaOffsetModel()
    model.abvega_offset = table
    _reference_meta(model, "ABVEGAOFFSET", inst, None)
    model.validate()
    model.save(os.fspath(path))
    model.close()
    return Path(path)
