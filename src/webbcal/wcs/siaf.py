"""Detector-to-V2V3 distortion transforms built from SIAF aperture parameters.

The Science Instrument Aperture File (SIAF) describes each JWST aperture by a
reference point in the telescope (V2, V3) frame, the orientation of the
aperture's *ideal* frame in V2V3 and a pair of 2-D polynomials between the
*science* pixel frame and the ideal frame (in both directions). The official
imaging ``distortion`` reference files of NIRCam, NIRISS and FGS are assembled
from exactly these parameters, so a transform built here is a faithful model
of a real distortion reference: the simulator and the tests use it.

Frames (Cox & Lallo 2017):

* science: 1-based pixels in DMS orientation. The pipeline's ``detector``
  frame is the same grid 0-based, so ``x_sci = x_det + 1``.
* ideal: distortion-free tangent-plane offsets from the reference point, arcsec,
  ``x_idl = sum_{i<=deg, j<=i} Sci2IdlX_ij (x_sci - XSciRef)**(i-j) (y_sci - YSciRef)**j``.
* V2V3: ``V2 = V2Ref + VIdlParity x_idl cos(V3IdlYAngle) + y_idl sin(V3IdlYAngle)``,
  ``V3 = V3Ref - VIdlParity x_idl sin(V3IdlYAngle) + y_idl cos(V3IdlYAngle)``
  (the planar ideal-to-telescope relation that the distortion references use).

References
----------
Cox, C. & Lallo, M. 2017, "Description and Use of the JWST Science Instrument
Aperture File", JWST-STScI-001550, SM-12.

pysiaf documentation, "Frames and transformations" (``sci_to_idl``,
``idl_to_tel`` with ``method='planar_approximation'``).

JWST pipeline documentation, ``assign_wcs`` reference files: "distortion" (an
ASDF file holding an astropy.modeling transform from detector pixels, 0-based,
to V2V3 in arcsec).
"""

from __future__ import annotations

import logging
import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.modeling import models

log = logging.getLogger(__name__)

__all__ = [
    "PACKAGED_SIAF",
    "SiafAperture",
    "SiafError",
    "distortion_from_siaf",
    "packaged_siaf_aperture",
    "read_siaf_aperture",
]

#: Apertures shipped with webbcal (``webbcal/data/siaf_demo.json``), extracted once from
#: the PRD PRDOPSSOC-075 SIAF XML so that the demo needs neither pysiaf nor the XML.
PACKAGED_SIAF = "siaf_demo.json"

_SCALARS = {
    "XSciRef": float,
    "YSciRef": float,
    "XSciSize": int,
    "YSciSize": int,
    "V2Ref": float,
    "V3Ref": float,
    "V3IdlYAngle": float,
    "VIdlParity": int,
    "Sci2IdlDeg": int,
}
_POLY_NAMES = ("Sci2IdlX", "Sci2IdlY", "Idl2SciX", "Idl2SciY")


class SiafError(ValueError):
    """A SIAF file or aperture that cannot give a distortion transform."""


@dataclass(frozen=True)
class SiafAperture:
    """The SIAF parameters of one aperture that define its distortion.

    Attributes
    ----------
    name : str
        Aperture name (``AperName``), e.g. ``"NRCA1_FULL"``.
    xsci_ref, ysci_ref : float
        Reference point in the science frame, 1-based pixels.
    xsci_size, ysci_size : int
        Aperture size in pixels.
    v2_ref, v3_ref : float
        Reference point in the telescope frame, arcsec.
    v3_idl_yangle : float
        Angle from V3 to the ideal Y axis, degrees.
    vidl_parity : int
        Parity of the ideal X axis relative to V2 (+1 or -1).
    degree : int
        Degree of the science/ideal polynomials.
    sci2idl_x, sci2idl_y, idl2sci_x, idl2sci_y : dict[str, float]
        Polynomial coefficients keyed in astropy ``Polynomial2D`` naming:
        ``"c{p}_{q}"`` multiplies ``dx**p * dy**q``.
    """

    name: str
    xsci_ref: float
    ysci_ref: float
    xsci_size: int
    ysci_size: int
    v2_ref: float
    v3_ref: float
    v3_idl_yangle: float
    vidl_parity: int
    degree: int
    sci2idl_x: dict
    sci2idl_y: dict
    idl2sci_x: dict
    idl2sci_y: dict


def _entry_values(entry) -> dict[str, str]:
    return {child.tag: (child.text or "").strip() for child in entry}


def _coefficients(values: dict[str, str], prefix: str, degree: int, where: str) -> dict:
    coeffs = {}
    for i in range(degree + 1):
        for j in range(i + 1):
            key = f"{prefix}{i}{j}"
            text = values.get(key, "")
            if text == "":
                raise SiafError(f"{where}: coefficient {key} is missing or empty")
            coeffs[f"c{i - j}_{j}"] = float(text)
    return coeffs


def read_siaf_aperture(path: str | Path, aperture: str) -> SiafAperture:
    """Read one aperture's distortion parameters from a SIAF XML file.

    Parameters
    ----------
    path : str or Path
        SIAF XML file (e.g. ``NIRCam_SIAF.xml`` from the PRD).
    aperture : str
        Aperture name (``AperName``), e.g. ``"NRCA1_FULL"``.

    Returns
    -------
    SiafAperture

    Raises
    ------
    SiafError
        If the file cannot be parsed, holds no such aperture, or the aperture
        lacks a parameter or polynomial coefficient (e.g. apertures of type
        ``TRANSFORM`` or ``COMPOUND`` without distortion polynomials).

    References
    ----------
    Cox & Lallo 2017, JWST-STScI-001550 (SIAF contents and naming).
    """
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as exc:
        raise SiafError(f"{path}: cannot read SIAF XML ({exc})") from exc
    for entry in root.iter("SiafEntry"):
        name_el = entry.find("AperName")
        if name_el is None or (name_el.text or "").strip() != aperture:
            continue
        values = _entry_values(entry)
        where = f"{path.name}: aperture {aperture}"
        params = {}
        for key, kind in _SCALARS.items():
            text = values.get(key, "")
            try:
                params[key] = kind(float(text)) if kind is int else kind(text)
            except ValueError:
                raise SiafError(f"{where}: {key}={text!r} is not a number") from None
        if params["VIdlParity"] not in (1, -1):
            raise SiafError(f"{where}: VIdlParity={params['VIdlParity']}, expected 1 or -1")
        deg = params["Sci2IdlDeg"]
        polys = {p: _coefficients(values, p, deg, where) for p in _POLY_NAMES}
        return SiafAperture(
            name=aperture,
            xsci_ref=params["XSciRef"],
            ysci_ref=params["YSciRef"],
            xsci_size=params["XSciSize"],
            ysci_size=params["YSciSize"],
            v2_ref=params["V2Ref"],
            v3_ref=params["V3Ref"],
            v3_idl_yangle=params["V3IdlYAngle"],
            vidl_parity=params["VIdlParity"],
            degree=deg,
            sci2idl_x=polys["Sci2IdlX"],
            sci2idl_y=polys["Sci2IdlY"],
            idl2sci_x=polys["Idl2SciX"],
            idl2sci_y=polys["Idl2SciY"],
        )
    raise SiafError(f"{path}: no aperture named {aperture!r}")


def packaged_siaf_aperture(aperture: str) -> SiafAperture:
    """One aperture's parameters from the SIAF subset shipped with webbcal.

    The file ``webbcal/data/siaf_demo.json`` holds the apertures the demos need
    (``NRCA1_FULL``, ``NRCA1_SUB160/320/640``, ``MIRIM_FULL``, ``MIRIM_SLITLESSPRISM``),
    extracted with :func:`read_siaf_aperture` from ``NIRCam_SIAF.xml`` and
    ``MIRI_SIAF.xml`` of PRD PRDOPSSOC-075 (the PRD in pysiaf 0.29.0); its ``source`` and
    ``prd_version`` entries say so.

    Parameters
    ----------
    aperture : str
        Aperture name, e.g. ``"NRCA1_FULL"``.

    Returns
    -------
    SiafAperture

    Raises
    ------
    SiafError
        If the aperture is not in the packaged subset.

    References
    ----------
    Cox & Lallo 2017, JWST-STScI-001550 (SIAF contents and naming).
    """
    import json
    from importlib import resources

    text = resources.files("webbcal").joinpath("data", PACKAGED_SIAF).read_text()
    apertures = json.loads(text)["apertures"]
    if aperture not in apertures:
        raise SiafError(
            f"webbcal/data/{PACKAGED_SIAF}: no aperture named {aperture!r}; it holds "
            f"{', '.join(sorted(apertures))} (give a SIAF XML folder for others)"
        )
    return SiafAperture(name=aperture, **apertures[aperture])


def _ideal_to_v2v3_matrix(aperture: SiafAperture) -> np.ndarray:
    angle = math.radians(aperture.v3_idl_yangle)
    par = aperture.vidl_parity
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[par * c, s], [-par * s, c]])


def _pair(cx: dict, cy: dict, degree: int, name: str):
    px = models.Polynomial2D(degree, **cx, name=f"{name}_x")
    py = models.Polynomial2D(degree, **cy, name=f"{name}_y")
    return models.Mapping((0, 1, 0, 1)) | px & py


def distortion_from_siaf(aperture: SiafAperture, *, corner: tuple[int, int] = (0, 0)):
    """Build the detector (0-based pixels) to V2V3 (arcsec) transform of an aperture.

    The transform is composed the way the official distortion references are:
    shift to the reference point, science-to-ideal polynomials, ideal-to-V2V3
    rotation with parity, shift to (V2Ref, V3Ref). Its ``inverse`` chains the
    inverse of each piece, using the SIAF ``Idl2Sci`` polynomials, so the
    round trip is as exact as those polynomials (PRD-075: 6e-4 pixel for
    NRCA1_FULL, but 0.11-0.14 pixel at the corners of NRCA2/NRCA3_FULL).

    Parameters
    ----------
    aperture : SiafAperture
        Parameters from :func:`read_siaf_aperture`.
    corner : tuple of int, optional
        ``(x, y)`` of the aperture's first pixel within the full-frame science
        grid, 0-based. ``(0, 0)`` for full-frame apertures; for a subarray
        aperture, this makes the transform take full-frame pixels.

    Returns
    -------
    astropy.modeling.Model
        Two inputs (x, y) in pixels, two outputs (v2, v3) in arcsec, with an
        analytic ``inverse``.

    References
    ----------
    Cox & Lallo 2017, JWST-STScI-001550, sections on the science-to-ideal
    polynomials and the ideal-to-V2V3 transformation.
    """
    to_ref = models.Shift(1.0 - aperture.xsci_ref - corner[0], name="xsci_ref") & models.Shift(
        1.0 - aperture.ysci_ref - corner[1], name="ysci_ref"
    )
    sci2idl = _pair(aperture.sci2idl_x, aperture.sci2idl_y, aperture.degree, "sci2idl")
    sci2idl.inverse = _pair(aperture.idl2sci_x, aperture.idl2sci_y, aperture.degree, "idl2sci")
    idl2v2v3 = models.AffineTransformation2D(
        matrix=_ideal_to_v2v3_matrix(aperture), translation=[0.0, 0.0], name="idl2v2v3"
    )
    to_v2v3 = models.Shift(aperture.v2_ref, name="v2_ref") & models.Shift(
        aperture.v3_ref, name="v3_ref"
    )
    model = to_ref | sci2idl | idl2v2v3 | to_v2v3
    model.name = f"{aperture.name}_distortion"
    log.debug("Built SIAF distortion for %s (degree %d)", aperture.name, aperture.degree)
    return model
