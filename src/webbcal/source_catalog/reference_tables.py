"""Row selection in the APCORR and ABVEGAOFFSET reference tables.

APCORR (imaging): rows are selected by filter and pupil (NIRCam, NIRISS), filter and
subarray (MIRI), or not at all (FGS); among them, one row per requested encircled
energy (``round(100 * eefraction)``) gives the aperture radius and correction, and the
background annulus radii must be the same for the three. Radii are in detector pixels
and are divided by the mosaic's ``pixel_scale_ratio`` (output over input pixel scale).

ABVEGAOFFSET: one row selected by filter and pupil (NIRCam, NIRISS), filter (MIRI) or
detector (FGS) gives ``abvega_offset = m_AB - m_Vega``.

References
----------
JWST pipeline documentation, ``source_catalog`` step ("Reference Files": APCORR,
ABVEGAOFFSET) and the reference-file pages of the same names.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .photometry import ApertureParams

__all__ = [
    "ReferenceTableError",
    "abvega_selector",
    "apcorr_selector",
    "check_aperture_ee",
    "select_abvega_offset",
    "select_aperture_params",
]


class ReferenceTableError(ValueError):
    """A reference table lacks the rows or columns the exposure needs."""


def check_aperture_ee(aperture_ee: tuple[int, ...]) -> tuple[int, int, int]:
    """Validate the three encircled energies (percent).

    Raises
    ------
    ValueError
        Unless three strictly increasing integers in (0, 100).
    """
    values = tuple(int(v) for v in aperture_ee)
    if len(values) != 3:
        raise ValueError(f"aperture_ee={values!r}: expected 3 values")
    if not all(b > a for a, b in zip(values, values[1:], strict=False)):
        raise ValueError(f"aperture_ee={values!r}: values must be strictly increasing")
    if any(v <= 0 or v >= 100 for v in values):
        raise ValueError(f"aperture_ee={values!r}: values must be between 0 and 100")
    return values  # type: ignore[return-value]


def apcorr_selector(instrument: str, *, filter: Any, pupil: Any, subarray: Any) -> dict:
    """Selector columns and values of an imaging APCORR table for ``instrument``.

    Raises
    ------
    ReferenceTableError
        For an instrument without imaging APCORR tables.
    """
    inst = (instrument or "").upper()
    if inst in ("NIRCAM", "NIRISS"):
        return {"filter": filter, "pupil": pupil}
    if inst == "MIRI":
        return {"filter": filter, "subarray": subarray}
    if inst == "FGS":
        return {}
    raise ReferenceTableError(f"INSTRUME={instrument!r}: expected NIRCAM, NIRISS, MIRI or FGS")


def abvega_selector(instrument: str, *, filter: Any, pupil: Any, detector: Any) -> dict:
    """Selector columns and values of an ABVEGAOFFSET table for ``instrument``.

    Raises
    ------
    ReferenceTableError
        For an instrument without ABVEGAOFFSET tables.
    """
    inst = (instrument or "").upper()
    if inst in ("NIRCAM", "NIRISS"):
        return {"filter": filter, "pupil": pupil}
    if inst == "MIRI":
        return {"filter": filter}
    if inst == "FGS":
        return {"detector": detector}
    raise ReferenceTableError(f"INSTRUME={instrument!r}: expected NIRCAM, NIRISS, MIRI or FGS")


def _text(values: Any) -> np.ndarray:
    arr = np.asarray(values)
    if arr.dtype.kind == "S":
        arr = np.char.decode(arr, "ascii")
    return np.char.strip(arr.astype(str))


def _select(table: Any, selector: dict, what: str) -> np.ndarray:
    """Boolean mask of the rows of ``table`` matching every selector value."""
    names = list(getattr(table, "colnames", None) or table.dtype.names)
    missing = [c for c in selector if c not in names]
    if missing:
        raise ReferenceTableError(f"{what}: no column {missing} (columns: {names})")
    keep = np.ones(len(table), bool)
    for column, value in selector.items():
        keep &= _text(table[column]) == str(value).strip()
    return keep


def _available(table: Any, selector: dict) -> str:
    if not selector:
        return "no selector"
    rows = sorted({tuple(_text(table[c])[i] for c in selector) for i in range(len(table))})
    return ", ".join("/".join(r) for r in rows[:20]) + (" ..." if len(rows) > 20 else "")


def select_aperture_params(
    table: Any,
    selector: dict,
    aperture_ee: tuple[int, ...],
    *,
    pixel_scale_ratio: float = 1.0,
    name: str = "APCORR",
) -> ApertureParams:
    """Aperture radii, corrections and background annulus for three encircled energies.

    Parameters
    ----------
    table : structured ndarray or astropy Table
        APCORR table (``eefraction``, ``radius``, ``apcorr``, ``skyin``, ``skyout`` and
        the selector columns).
    selector : dict
        From :func:`apcorr_selector`.
    aperture_ee : tuple of 3 int
        Encircled energies, percent.
    pixel_scale_ratio : float, optional
        Output over input pixel scale of the image measured (radii are divided by it).
    name : str, optional
        File name for messages.

    Returns
    -------
    ApertureParams

    Raises
    ------
    ReferenceTableError
        No row for the selector, none or several for an encircled energy, or
        different annulus radii.
    ValueError
        For invalid ``aperture_ee`` or ``pixel_scale_ratio``.
    """
    ee = check_aperture_ee(aperture_ee)
    if not pixel_scale_ratio > 0:
        raise ValueError(f"pixel_scale_ratio={pixel_scale_ratio!r}: expected > 0")
    rows = np.flatnonzero(_select(table, selector, name))
    wanted = ", ".join(f"{k.upper()}={v!r}" for k, v in selector.items())
    if rows.size == 0:
        raise ReferenceTableError(
            f"{name}: no aperture-correction row for {wanted}; the table has: "
            f"{_available(table, selector)}"
        )
    percent = np.round(np.asarray(table["eefraction"], float)[rows] * 100)
    picked = []
    for value in ee:
        match = rows[percent == value]
        if match.size != 1:
            found = sorted(int(p) for p in set(percent))
            raise ReferenceTableError(
                f"{name}: {'no' if match.size == 0 else 'more than one'} row with "
                f"eefraction={value / 100:g} for {wanted or 'this instrument'} "
                f"(aperture_ee={value}); encircled energies present: {found}"
            )
        picked.append(int(match[0]))
    col = {c: np.asarray(table[c])[picked] for c in ("radius", "apcorr", "skyin", "skyout")}
    if np.unique(col["skyin"]).size != 1 or np.unique(col["skyout"]).size != 1:
        raise ReferenceTableError(
            f"{name}: skyin/skyout differ between the rows of {wanted} "
            f"({col['skyin'].tolist()}, {col['skyout'].tolist()}); expected one annulus"
        )
    return ApertureParams(
        aperture_ee=ee,
        aperture_radii=col["radius"] / pixel_scale_ratio,
        aperture_corrections=col["apcorr"],
        bkg_aperture_inner_radius=col["skyin"][0] / pixel_scale_ratio,
        bkg_aperture_outer_radius=col["skyout"][0] / pixel_scale_ratio,
    )


def select_abvega_offset(table: Any, selector: dict, *, name: str = "ABVEGAOFFSET") -> float:
    """``m_AB - m_Vega`` of the one row matching ``selector``.

    Raises
    ------
    ReferenceTableError
        If a selector column is missing, or not exactly one row matches.
    """
    rows = np.flatnonzero(_select(table, selector, name))
    wanted = ", ".join(f"{k.upper()}={v!r}" for k, v in selector.items())
    if rows.size != 1:
        raise ReferenceTableError(
            f"{name}: {'no' if rows.size == 0 else 'more than one'} row for {wanted}; "
            f"the table has: {_available(table, selector)}"
        )
    return np.asarray(table["abvega_offset"])[rows[0]]
