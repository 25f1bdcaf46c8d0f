"""Telescope pointing: the V2V3-to-sky rotation and the velocity-aberration scale.

The observatory attitude at an exposure is recorded as the sky position
(``RA_REF``, ``DEC_REF``) of a reference point (``V2_REF``, ``V3_REF``) in the
telescope frame and the position angle of the V3 axis there (``ROLL_REF``).
Five rotations take a unit vector in the V2V3 frame to the ICRS frame:
``Rz(-RA_REF) Ry(DEC_REF) Rx(ROLL_REF) Ry(-V3_REF) Rz(V2_REF)``. The first two
bring the reference point to the x axis, the third turns V3 to its position
angle, the last two move the x axis to (RA_REF, DEC_REF).

The differential velocity aberration (DVA) makes the apparent field a scaled
copy of the true one (``VA_SCALE``, ratio of apparent to true plate scale,
typically 1 +- 1e-4); the official pipeline applies it in V2V3 as a scale
about the reference point, between the ``v2v3`` and ``v2v3vacorr`` frames.
The apparent reference position (``VA_RA``/``VA_DEC``) does not enter the
official imaging WCS, which takes RA_REF and DEC_REF as given; only the scale
does.

References
----------
Cox, C. & Lallo, M. 2017, "Description and Use of the JWST Science Instrument
Aperture File", JWST-STScI-001550 (attitude matrix, V2V3 to sky).

JWST pipeline documentation, ``assign_wcs``: "WCS of imaging data" and the
``v2v3`` / ``v2v3vacorr`` / ``world`` frames; "Velocity aberration correction"
(``set_velocity_aberration``: VA_SCALE, VA_RA, VA_DEC).

Calabretta, M. R. & Greisen, E. W. 2002, A&A 395, 1077 (PC matrix convention).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from astropy.modeling import models
from gwcs.geometry import CartesianToSpherical, SphericalToCartesian

log = logging.getLogger(__name__)

__all__ = [
    "Pointing",
    "PointingError",
    "pc_matrix",
    "pointing_from_header",
    "pointing_from_model",
    "v2v3_to_sky",
    "va_correction",
]

_REQUIRED = {
    "v2_ref": "V2_REF",
    "v3_ref": "V3_REF",
    "roll_ref": "ROLL_REF",
    "ra_ref": "RA_REF",
    "dec_ref": "DEC_REF",
}
_OPTIONAL = {"v3i_yang": "V3I_YANG", "vparity": "VPARITY", "va_scale": "VA_SCALE"}


class PointingError(ValueError):
    """Pointing keywords missing or out of range."""


@dataclass(frozen=True)
class Pointing:
    """Pointing of one exposure, as the FITS keywords give it.

    Attributes
    ----------
    v2_ref, v3_ref : float
        Reference point in the telescope frame, arcsec (``V2_REF``, ``V3_REF``).
    roll_ref : float
        Position angle of V3 at the reference point, degrees east of north
        (``ROLL_REF``).
    ra_ref, dec_ref : float
        ICRS position of the reference point, degrees (``RA_REF``, ``DEC_REF``).
    v3i_yang : float or None
        Angle from V3 to the aperture's ideal Y axis, degrees (``V3I_YANG``).
        Used only for the FITS PC matrix.
    vparity : int or None
        Parity of the ideal X axis relative to V2 (``VPARITY``, +1 or -1).
    va_scale : float or None
        Velocity-aberration scale factor (``VA_SCALE``); None means no
        correction, as in the official pipeline.
    """

    v2_ref: float
    v3_ref: float
    roll_ref: float
    ra_ref: float
    dec_ref: float
    v3i_yang: float | None = None
    vparity: int | None = None
    va_scale: float | None = None

    def __post_init__(self):
        for name, key in _REQUIRED.items():
            value = getattr(self, name)
            if not isinstance(value, int | float | np.floating | np.integer) or not math.isfinite(
                value
            ):
                raise PointingError(f"{key}={value!r}: expected a finite number")
        if not -90.0 <= self.dec_ref <= 90.0:
            raise PointingError(f"DEC_REF={self.dec_ref!r}: expected -90 <= DEC_REF <= 90 deg")
        if self.vparity is not None and self.vparity not in (1, -1):
            raise PointingError(f"VPARITY={self.vparity!r}: expected 1 or -1")
        if self.va_scale is not None and not (math.isfinite(self.va_scale) and self.va_scale > 0):
            raise PointingError(f"VA_SCALE={self.va_scale!r}: expected a positive number")


def _get(source: Mapping, key: str):
    try:
        value = source[key]
    except KeyError:
        return None
    return None if value is None or (isinstance(value, str) and not value.strip()) else value


def _number(value, key: str, where: str):
    try:
        return float(value)
    except (TypeError, ValueError):
        raise PointingError(f"{where}: {key}={value!r}: expected a number") from None


def pointing_from_header(header: Mapping, *, where: str = "header") -> Pointing:
    """Read the pointing keywords from a FITS header (the SCI extension's).

    Parameters
    ----------
    header : Mapping
        ``astropy.io.fits.Header`` or dict with the keywords V2_REF, V3_REF,
        ROLL_REF, RA_REF, DEC_REF and optionally V3I_YANG, VPARITY, VA_SCALE.
    where : str, optional
        Name of the file or extension, for error messages.

    Returns
    -------
    Pointing

    Raises
    ------
    PointingError
        If a required keyword is missing or any value is not a valid number.
    """
    values = {}
    for name, key in _REQUIRED.items():
        value = _get(header, key)
        if value is None:
            raise PointingError(f"{where}: pointing keyword {key} is missing")
        values[name] = _number(value, key, where)
    for name, key in _OPTIONAL.items():
        value = _get(header, key)
        if value is not None:
            values[name] = _number(value, key, where)
    if "vparity" in values:
        values["vparity"] = int(values["vparity"])
    try:
        return Pointing(**values)
    except PointingError as exc:
        raise PointingError(f"{where}: {exc}") from None


def pointing_from_model(model) -> Pointing:
    """Read the pointing from a stdatamodels JWST model's ``meta``.

    Parameters
    ----------
    model : stdatamodels.jwst.datamodels.JwstDataModel
        Model with ``meta.wcsinfo`` (v2_ref, v3_ref, roll_ref, ra_ref, dec_ref,
        v3yangle, vparity) and ``meta.velocity_aberration.scale_factor``.

    Returns
    -------
    Pointing

    Raises
    ------
    PointingError
        If a required value is missing or invalid.
    """
    info = model.meta.wcsinfo
    header = {key: getattr(info, name, None) for name, key in _REQUIRED.items()}
    header["V3I_YANG"] = getattr(info, "v3yangle", None)
    header["VPARITY"] = getattr(info, "vparity", None)
    header["VA_SCALE"] = getattr(model.meta.velocity_aberration, "scale_factor", None)
    where = getattr(model.meta, "filename", None) or type(model).__name__
    return pointing_from_header(header, where=f"{where} meta.wcsinfo")


def v2v3_to_sky(pointing: Pointing):
    """Transform from (V2, V3) in arcsec to ICRS (RA, Dec) in degrees.

    Parameters
    ----------
    pointing : Pointing
        Only ``v2_ref``, ``v3_ref``, ``roll_ref``, ``ra_ref``, ``dec_ref`` are used.

    Returns
    -------
    astropy.modeling.CompoundModel
        Two inputs (v2, v3, arcsec), two outputs (ra in [0, 360), dec, deg), with
        an analytic inverse (V2 returned in [-180, 180) deg * 3600).

    References
    ----------
    Cox & Lallo 2017, JWST-STScI-001550, attitude matrix.
    """
    p = pointing
    angles = [p.v2_ref / 3600.0, -p.v3_ref / 3600.0, p.roll_ref, p.dec_ref, -p.ra_ref]
    rotation = models.RotationSequence3D(angles, axes_order="zyxyz", name="v2v3_to_icrs")
    model = (
        (models.Scale(1 / 3600.0, name="v2_to_deg") & models.Scale(1 / 3600.0, name="v3_to_deg"))
        | SphericalToCartesian(wrap_lon_at=180)
        | rotation
        | CartesianToSpherical(wrap_lon_at=360)
    )
    model.name = "v23tosky"
    return model


def va_correction(pointing: Pointing):
    """Velocity-aberration scale about the reference point, V2V3 to V2V3 (arcsec).

    ``v' = v_ref + VA_SCALE * (v - v_ref)`` on each axis.

    Parameters
    ----------
    pointing : Pointing
        Uses ``va_scale``, ``v2_ref`` and ``v3_ref``.

    Returns
    -------
    astropy.modeling.Model
        ``Identity(2)`` when ``va_scale`` is None or exactly 1, else a compound
        model with an analytic inverse.

    References
    ----------
    JWST pipeline documentation, ``assign_wcs`` (``v2v3vacorr`` frame) and
    "Velocity aberration correction".
    """
    scale = pointing.va_scale
    if scale is None or scale == 1.0:
        return models.Identity(2, name="no_va_correction")
    v2, v3 = pointing.v2_ref, pointing.v3_ref
    model = (
        models.Scale(scale, name="dva_scale_v2") & models.Scale(scale, name="dva_scale_v3")
    ) | models.Shift((1.0 - scale) * v2, name="dva_v2_shift") & models.Shift(
        (1.0 - scale) * v3, name="dva_v3_shift"
    )
    model.name = "DVA_Correction"
    return model


def pc_matrix(pointing: Pointing) -> np.ndarray:
    """FITS PC matrix of the linear sky projection at the reference point.

    The rotation from the aperture's ideal frame to the sky, by the angle
    ``ROLL_REF - VPARITY * V3I_YANG``, with the ideal x axis flipped when
    ``VPARITY`` is -1.

    Parameters
    ----------
    pointing : Pointing
        Needs ``roll_ref``, ``v3i_yang`` and ``vparity``.

    Returns
    -------
    ndarray, shape (2, 2), float64
        ``[[PC1_1, PC1_2], [PC2_1, PC2_2]]``.

    Raises
    ------
    PointingError
        If ``v3i_yang`` or ``vparity`` is None.

    References
    ----------
    Calabretta & Greisen 2002 (PCi_j); Cox & Lallo 2017 (V3IdlYAngle, VIdlParity).
    """
    if pointing.v3i_yang is None or pointing.vparity is None:
        raise PointingError("pc_matrix needs V3I_YANG and VPARITY; the pointing has None")
    angle = math.radians(pointing.roll_ref - pointing.vparity * pointing.v3i_yang)
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[pointing.vparity * c, s], [-pointing.vparity * s, c]])
