"""Sky matching: relative sky levels of overlapping images by least squares.

For every pair of images (or exposure groups) ``i``, ``j`` whose footprints
overlap, the sky of each is measured inside the overlap (``s_ij``: the sky of
``i`` where it overlaps ``j``, from ``n_ij`` pixels). Matching asks that, after
the corrections ``d``, both see the same sky there: ``d_i - d_j = s_ij - s_ji``,
weighted by the mean pixel count ``(n_ij + n_ji) / 2``. The system is solved in
the least-squares sense with the pseudo-inverse (minimum norm: disconnected
sets of images each get corrections of zero mean), and the corrections are
then taken relative to the lowest (``match_down``) or highest of them.

References
----------
JWST pipeline documentation, "Sky Match" (skymatch step): "for each pair of
intersecting images, an equation is written that requires that average surface
brightness in the overlapping part of the sky be equal in both images. The final
system of equations is then solved for unknown background levels."

DrizzlePac handbook (Gonzaga, Hack, Fruchter, Mack et al. 2012, STScI), "sky
matching" (skymethod 'match' and 'globalmin+match' of astrodrizzle).
"""

from __future__ import annotations

import logging

import numpy as np

__all__ = ["global_minimum", "match_skies"]

log = logging.getLogger(__name__)

#: Relative singular-value cut of the pseudo-inverse and the rank test.
_RCOND = 1.0e-12


def match_skies(pair_sky: np.ndarray, pair_npix: np.ndarray, *, match_down: bool = True
                ) -> np.ndarray:  # fmt: skip
    """Sky corrections that equalise the sky of overlapping images.

    Parameters
    ----------
    pair_sky : ndarray, shape (n, n), float64
        ``pair_sky[i, j]``: sky of image ``i`` measured where it overlaps image
        ``j`` (data units); NaN where it could not be measured. The diagonal is
        not used.
    pair_npix : ndarray, shape (n, n), int or float
        Pixels used for ``pair_sky[i, j]`` (0 where not measured).
    match_down : bool, optional
        Corrections relative to the lowest one (True: every correction >= 0,
        skies matched down to the lowest) or to the highest (False: <= 0).

    Returns
    -------
    ndarray, shape (n,), float64
        Sky correction of each image; NaN for an image with no measured overlap.

    Raises
    ------
    ValueError
        If the arrays are not square of the same shape.
    """
    sky = np.asarray(pair_sky, dtype=float)
    npix = np.asarray(pair_npix, dtype=float)
    if sky.ndim != 2 or sky.shape[0] != sky.shape[1] or npix.shape != sky.shape:
        raise ValueError(
            f"pair_sky and pair_npix: expected two (n, n) arrays, got {sky.shape} and {npix.shape}"
        )
    n = sky.shape[0]
    measured = (npix > 0) & np.isfinite(sky)
    i, j = np.nonzero(np.triu(measured & measured.T, k=1))
    weight = 0.5 * (npix[i, j] + npix[j, i])
    design = np.zeros((i.size, n))
    design[np.arange(i.size), i] = weight
    design[np.arange(i.size), j] = -weight
    rhs = weight * (sky[i, j] - sky[j, i])
    rank = int(np.linalg.matrix_rank(design, _RCOND)) if i.size else 0
    if i.size and rank < n - 1:
        log.warning("%d sky values are unknown but the overlaps give only %d independent "
                    "equations: skies are matched within each set of overlapping images "
                    "only, not between the sets", n, rank)  # fmt: skip
    deltas = np.linalg.pinv(design, rcond=_RCOND) @ rhs if i.size else np.zeros(n)
    connected = np.zeros(n, dtype=bool)
    connected[i] = connected[j] = True
    deltas = np.where(connected, deltas, np.nan)
    if connected.any():
        deltas = deltas - (np.nanmin(deltas) if match_down else np.nanmax(deltas))
    return deltas


def global_minimum(skies: list[float | None]) -> float | None:
    """The lowest of the measured skies (None when none was measured).

    Parameters
    ----------
    skies : list of float or None
        Sky of each image or group (None: not measured).
    """
    measured = [s for s in skies if s is not None]
    return min(measured) if measured else None
