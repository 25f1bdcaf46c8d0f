"""The standard coordinate frames of JWST imaging WCS objects.

Products written by the official pipeline carry a ``gwcs`` object whose frames
have fixed names (``detector``, ``v2v3``, ``v2v3vacorr``, ``world``); tools such
as jdaviz and the stage-3 steps look frames up by these names
(``wcs.get_transform("v2v3", "world")``). The constructors here make frames
with the same names, axes, units and reference frame, so our products read
back like official ones.

References
----------
JWST pipeline documentation, ``assign_wcs``: "WCS of imaging data" (the frames
detector, v2v3, v2v3vacorr and world, and their units).

gwcs documentation, "Coordinate frames" (``Frame2D``, ``CelestialFrame``).
"""

from __future__ import annotations

from astropy import coordinates
from astropy import units as u
from gwcs import coordinate_frames as cf

__all__ = [
    "DETECTOR",
    "V2V3",
    "V2V3VACORR",
    "WORLD",
    "detector_frame",
    "v2v3_frame",
    "v2v3vacorr_frame",
    "world_frame",
]

DETECTOR = "detector"
V2V3 = "v2v3"
V2V3VACORR = "v2v3vacorr"
WORLD = "world"


def detector_frame() -> cf.Frame2D:
    """Detector pixels, 0-based ``(x, y)``, in ``u.pix``.

    Returns
    -------
    gwcs.coordinate_frames.Frame2D
        Frame named ``"detector"``.
    """
    return cf.Frame2D(name=DETECTOR, axes_order=(0, 1), unit=(u.pix, u.pix))


def _telescope_frame(name: str) -> cf.Frame2D:
    return cf.Frame2D(
        name=name, axes_order=(0, 1), axes_names=("v2", "v3"), unit=(u.arcsec, u.arcsec)
    )


def v2v3_frame() -> cf.Frame2D:
    """Telescope (V2, V3) angles in arcsec, as the distortion gives them.

    Returns
    -------
    gwcs.coordinate_frames.Frame2D
        Frame named ``"v2v3"`` with axes ``("v2", "v3")``.
    """
    return _telescope_frame(V2V3)


def v2v3vacorr_frame() -> cf.Frame2D:
    """Telescope (V2, V3) angles in arcsec after the velocity-aberration scale.

    Returns
    -------
    gwcs.coordinate_frames.Frame2D
        Frame named ``"v2v3vacorr"`` with axes ``("v2", "v3")``.
    """
    return _telescope_frame(V2V3VACORR)


def world_frame() -> cf.CelestialFrame:
    """ICRS right ascension and declination in degrees.

    Returns
    -------
    gwcs.coordinate_frames.CelestialFrame
        Frame named ``"world"``.
    """
    return cf.CelestialFrame(reference_frame=coordinates.ICRS(), name=WORLD)
