"""Simple astronomical scenes: flat sky plus Gaussian stars, rendered to a count-rate image.

Stars are circular Gaussians integrated exactly over each pixel (difference of error
functions), a fair stand-in for a near-infrared PSF core at the scale of detector-level tests.

References
----------
JDox, "NIRCam Point Spread Functions" (PSF FWHM of roughly 1-2 pixels in the short and long
wavelength channels).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import erf

__all__ = ["Scene", "Star", "default_scene", "render_scene"]


@dataclass(frozen=True)
class Star:
    """A Gaussian point source.

    Attributes
    ----------
    x, y : float
        Centre in 0-based pixel coordinates of the simulated (sub)array.
    flux : float
        Total count rate, e-/s.
    sigma : float
        Gaussian sigma in pixels.
    """

    x: float
    y: float
    flux: float
    sigma: float = 1.0


@dataclass(frozen=True)
class Scene:
    """Flat sky plus a list of stars.

    Attributes
    ----------
    sky : float
        Sky count rate per pixel, e-/s.
    stars : tuple of Star
    """

    sky: float = 1.0
    stars: tuple[Star, ...] = field(default_factory=tuple)


def render_scene(scene: Scene, shape: tuple[int, int]) -> np.ndarray:
    """Render a scene to a count-rate image.

    Parameters
    ----------
    scene : Scene
    shape : (ny, nx)

    Returns
    -------
    ndarray, shape (ny, nx), float64, e-/s per pixel
        Before any detector response (QE) or reference-pixel masking.
    """
    ny, nx = shape
    image = np.full(shape, float(scene.sky))
    xe = np.arange(nx + 1) - 0.5
    ye = np.arange(ny + 1) - 0.5
    for star in scene.stars:
        s = np.sqrt(2.0) * star.sigma
        px = np.diff(0.5 * erf((xe - star.x) / s))
        py = np.diff(0.5 * erf((ye - star.y) / s))
        image += star.flux * py[:, None] * px[None, :]
    return image


def default_scene(
    shape: tuple[int, int],
    *,
    full_well_e: float,
    integration_time: float,
    seed: int,
    n_stars: int = 6,
    n_saturating: int = 2,
    sky: float = 1.0,
    margin: int = 6,
) -> Scene:
    """A scene scaled to the exposure: faint-to-bright stars and a few saturating ones.

    Non-saturating stars have peak pixels collecting 3-40 % of the full well during one
    integration; saturating stars reach the full well after 20-60 % of the integration, so
    their cores saturate part-way up the ramp.

    Parameters
    ----------
    shape : (ny, nx)
        Array size; stars are placed at least ``margin`` pixels from the edges.
    full_well_e : float
        Typical full well in electrons.
    integration_time : float
        Time from the reset to the last read of an integration, s.
    seed : int
        Seed of the star positions and brightnesses.
    n_stars, n_saturating : int
        Numbers of non-saturating and saturating stars.
    sky : float
        Sky rate, e-/s per pixel.
    margin : int
        Minimum distance of star centres from the array edges, pixels.

    Returns
    -------
    Scene
    """
    rng = np.random.default_rng(seed)
    ny, nx = shape
    margin = min(margin, (min(ny, nx) - 1) // 2)
    stars = []
    for i in range(n_stars + n_saturating):
        sigma = rng.uniform(0.8, 1.5)
        # Fraction of the total flux falling on the central pixel of a centred Gaussian.
        peak_frac = erf(0.5 / (np.sqrt(2.0) * sigma)) ** 2
        if i < n_stars:
            fill = 10 ** rng.uniform(np.log10(0.03), np.log10(0.4))
        else:
            fill = 1.0 / rng.uniform(0.2, 0.6)
        flux = fill * full_well_e / (integration_time * peak_frac)
        x = rng.uniform(margin, nx - 1 - margin)
        y = rng.uniform(margin, ny - 1 - margin)
        stars.append(Star(x=float(x), y=float(y), flux=float(flux), sigma=float(sigma)))
    return Scene(sky=sky, stars=tuple(stars))
