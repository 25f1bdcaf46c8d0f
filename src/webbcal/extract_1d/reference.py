"""Extraction parameters from the ``extract1d`` reference (JSON) and the step's parameters.

The JSON reference lists ``apertures``; the one whose ``id`` is the slit name (for MIRI LRS
slitless the EXP_TYPE, ``MIR_LRS-SLITLESS``) or ``ANY`` and whose ``spectral_order`` (if
given) is the spectrum's order is used. Its keys: ``xstart``, ``xstop``, ``ystart``,
``ystop`` (0-based, inclusive pixel limits), ``src_coeff`` / ``bkg_coeff`` (lists of
polynomial coefficients of lower and upper limits, alternating), ``extract_width``,
``bkg_fit``, ``bkg_order``, ``smoothing_length``, ``independent_var``, ``use_source_posn``.
Step parameters given explicitly (not None) override the reference.

References
----------
JWST pipeline documentation, ``extract_1d`` step: "Reference File" (EXTRACT1D JSON format)
and "Arguments" (``subtract_background``, ``bkg_fit``, ``bkg_order``,
``smoothing_length``, ``use_source_posn``, ``position_offset``).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, replace

__all__ = ["ExtractParams", "ExtractReferenceError", "extraction_parameters", "read_extract1d"]

log = logging.getLogger(__name__)

ANY = "ANY"


class ExtractReferenceError(ValueError):
    """An unusable extract1d reference or parameter (names file, key, value, expectation)."""


@dataclass(frozen=True)
class ExtractParams:
    """Frozen extraction parameters of one spectrum.

    Attributes
    ----------
    dispaxis : int
        1: dispersion along rows (x); 2: along columns (y).
    xstart, xstop, ystart, ystop : float
        0-based inclusive pixel limits.
    src_coeff, bkg_coeff : tuple of tuple of float or None
        Polynomial coefficients (lowest order first) of alternating lower/upper limits of
        the source and background regions, in cross-dispersion pixels (0 at pixel centre),
        as functions of the dispersion pixel (or wavelength if ``independent_var`` is
        ``"wavelength"``).
    extract_width : float or None
        Width of the source aperture, pixels.
    subtract_background : bool
    bkg_fit : {"poly", "median"} or None
    bkg_order : int
    smoothing_length : int
        Odd boxcar length along the dispersion for the background (0: none).
    independent_var : str
        ``"pixel"`` or ``"wavelength"``.
    use_source_posn : bool
    position_offset : float
        Cross-dispersion shift of the aperture, pixels.
    spectral_order : int
    """

    dispaxis: int
    xstart: float
    xstop: float
    ystart: float
    ystop: float
    src_coeff: tuple | None
    bkg_coeff: tuple | None
    extract_width: float | None
    subtract_background: bool
    bkg_fit: str | None
    bkg_order: int
    smoothing_length: int
    independent_var: str
    use_source_posn: bool
    position_offset: float
    spectral_order: int


def read_extract1d(path: str | None) -> dict | None:
    """Read a JSON ``extract1d`` reference; None for no reference (N/A).

    Raises
    ------
    ExtractReferenceError
        If the file is not JSON, cannot be parsed, or has no ``apertures`` list.
    """
    if path is None or path == "N/A":
        return None
    name = os.path.basename(path)
    if not path.lower().endswith(".json"):
        raise ExtractReferenceError(
            f"{name}: the extract1d reference must be a JSON file (as the official step "
            "requires); got another format"
        )
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ExtractReferenceError(f"{name}: cannot be read as JSON ({exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("apertures"), list):
        raise ExtractReferenceError(f"{name}: no 'apertures' list; expected an EXTRACT1D "
                                    "JSON reference")  # fmt: skip
    return doc


def _coeffs(value, key: str, name: str):
    if value is None:
        return None
    try:
        out = tuple(tuple(float(c) for c in region) for region in value)
    except (TypeError, ValueError):
        raise ExtractReferenceError(
            f"{name}: {key}={value!r}; expected a list of coefficient lists"
        ) from None
    if len(out) % 2:
        raise ExtractReferenceError(
            f"{name}: {key} has {len(out)} coefficient lists; expected alternating lower and "
            "upper limits (an even number)"
        )
    return out


def _smoothing(value) -> int:
    n = int(round(float(value)))
    if n != float(value):
        log.warning("Smoothing length must be an integer. Rounding to %d", n)
    if n != 0 and n < 3:
        log.warning("Smoothing length %d is not allowed. Setting it to 0.", n)
        n = 0
    elif n and n % 2 == 0:
        n -= 1
        log.warning("Even smoothing lengths are not supported. Rounding the smoothing "
                    "length down to %d.", n)  # fmt: skip
    return n


def extraction_parameters(
    doc: dict | None,
    *,
    name: str,
    slit_name: str,
    spectral_order: int,
    shape: tuple[int, int],
    dispaxis: int,
    exp_type: str,
    smoothing_length: int | None = None,
    bkg_fit: str | None = None,
    bkg_order: int | None = None,
    subtract_background: bool | None = None,
    use_source_posn: bool | None = None,
    position_offset: float = 0.0,
) -> ExtractParams | None:
    """Extraction parameters for one spectrum.

    Parameters
    ----------
    doc : dict or None
        From :func:`read_extract1d` (None: whole array, no background).
    name : str
        The reference's file name, for messages.
    slit_name : str
        Aperture id to match (EXP_TYPE for LRS slitless).
    spectral_order : int
    shape : tuple of int
        ``(ny, nx)`` of one integration.
    dispaxis : {1, 2}
    exp_type : str
    smoothing_length, bkg_fit, bkg_order, subtract_background, use_source_posn, position_offset
        The step's parameters (None: from the reference).

    Returns
    -------
    ExtractParams or None
        None if an aperture matches the slit but not the order (nothing to extract).

    Raises
    ------
    ExtractReferenceError
        If no aperture matches the slit name, or a value is malformed.
    """
    ny, nx = shape
    if dispaxis not in (1, 2):
        raise ExtractReferenceError(f"DISPAXIS={dispaxis!r}: expected 1 or 2")
    if doc is None:
        return ExtractParams(
            dispaxis=dispaxis, xstart=0, xstop=nx - 1, ystart=0, ystop=ny - 1, src_coeff=None,
            bkg_coeff=None, extract_width=None, subtract_background=False, bkg_fit=None,
            bkg_order=0, smoothing_length=0, independent_var="pixel", use_source_posn=False,
            position_offset=float(position_offset), spectral_order=spectral_order,
        )  # fmt: skip
    partial = False
    for aper in doc["apertures"]:
        if not isinstance(aper, dict) or "id" not in aper or aper["id"] == "dummy":
            continue
        if not (aper["id"] == slit_name or aper["id"] == ANY or slit_name == ANY):
            continue
        if aper.get("region_type", "target") != "target":
            continue
        partial = True
        order = aper.get("spectral_order", spectral_order)
        if order not in (spectral_order, ANY):
            continue
        bkg = _coeffs(aper.get("bkg_coeff"), "bkg_coeff", name)
        subtract = subtract_background
        if bkg is not None and subtract is None:
            subtract = True
        fit = None
        order_bkg = aper.get("bkg_order", 0) if bkg_order is None else bkg_order
        if subtract:
            if bkg_fit is not None:
                fit = bkg_fit
                if fit == "mean":
                    fit, order_bkg = "poly", 0
            else:
                fit = aper.get("bkg_fit", "poly")
        if fit not in (None, "poly", "median") or int(order_bkg) != order_bkg or order_bkg < 0:
            raise ExtractReferenceError(
                f"{name}: bkg_fit={fit!r}, bkg_order={order_bkg!r}; expected bkg_fit 'poly', "
                "'mean' or 'median' and bkg_order an integer >= 0"
            )
        posn = use_source_posn
        if posn is None:
            posn = aper.get("use_source_posn")
            if posn is None:
                posn = exp_type in ("MIR_LRS-FIXEDSLIT", "NRS_FIXEDSLIT", "NRS_MSASPEC",
                                    "NRS_BRIGHTOBJ")  # fmt: skip
        smooth = aper.get("smoothing_length", 0) if smoothing_length is None else smoothing_length
        try:
            return ExtractParams(
                dispaxis=dispaxis,
                xstart=float(aper.get("xstart", 0)), xstop=float(aper.get("xstop", nx - 1)),
                ystart=float(aper.get("ystart", 0)), ystop=float(aper.get("ystop", ny - 1)),
                src_coeff=_coeffs(aper.get("src_coeff"), "src_coeff", name), bkg_coeff=bkg,
                extract_width=(None if aper.get("extract_width") is None
                               else float(aper["extract_width"])),
                subtract_background=bool(subtract), bkg_fit=fit, bkg_order=int(order_bkg),
                smoothing_length=_smoothing(smooth),
                independent_var=str(aper.get("independent_var", "pixel")).lower(),
                use_source_posn=bool(posn), position_offset=float(position_offset),
                spectral_order=spectral_order,
            )  # fmt: skip
        except (TypeError, ValueError) as exc:
            raise ExtractReferenceError(f"{name}: aperture {aper['id']!r}: {exc}") from None
    if partial:
        log.info("Spectral order %s not found, skipping ...", spectral_order)
        return None
    ids = [a.get("id") for a in doc["apertures"] if isinstance(a, dict)]
    raise ExtractReferenceError(
        f"{name}: no aperture for slit {slit_name!r} (apertures: {ids}); expected an "
        "extract1d reference of this mode"
    )


def shifted(params: ExtractParams, offset: float) -> ExtractParams:
    """The aperture moved by ``offset`` pixels across the dispersion."""
    if offset == 0:
        return params

    def move(coeffs):
        if coeffs is None:
            return None
        return tuple((c[0] + offset, *c[1:]) for c in coeffs)

    if params.dispaxis == 1:
        return replace(
            params,
            ystart=params.ystart + offset,
            ystop=params.ystop + offset,
            src_coeff=move(params.src_coeff),
            bkg_coeff=move(params.bkg_coeff),
        )
    return replace(params, xstart=params.xstart + offset, xstop=params.xstop + offset,
                   src_coeff=move(params.src_coeff), bkg_coeff=move(params.bkg_coeff))  # fmt: skip
