"""Scaled removal of the NIRSpec thermal "picture frame" from full-frame ramps and rates.

A warm-up of the NIRSpec focal plane brightens the outer frame of each full-frame detector
image (a band about 70 pixels wide inside the reference pixels) relative to its centre. The
PICTUREFRAME reference holds the shape of that signal as a rate image. For each group
difference (ramp input) or each rate plane, the medians of the background pixels in the
centre region and in the edge band give a scale and an offset; the reference, scaled to the
measured centre-to-edge contrast and shifted to the measured edge level, is subtracted.

Regions (0-based, half-open, in full-frame DMS pixels; the same limits on both axes):

* centre: ``CENTER_REGION`` = [76, 1984) in x and in y;
* edge band: rows or columns in ``LOWER_EDGE_REGION`` = [4, 75) or ``UPPER_EDGE_REGION``
  = [1985, 2043), inside [4, 2043) on both axes (the 4 reference pixels of each side and
  the outermost science columns are left out).

References
----------
JWST pipeline documentation (jwst 3.0), "Picture Frame Correction" (``picture_frame``
step): description of the algorithm, the regions and the PICTUREFRAME reference file.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np

__all__ = [
    "CENTER_REGION",
    "LOWER_EDGE_REGION",
    "UPPER_EDGE_REGION",
    "NoScalingDataError",
    "correct_picture_frame",
    "frame_regions",
]

log = logging.getLogger(__name__)

#: Full-frame pixel ranges (start, stop), 0-based and half-open, on both axes.
LOWER_EDGE_REGION = (4, 75)
UPPER_EDGE_REGION = (1985, 2043)
CENTER_REGION = (76, 1984)


class NoScalingDataError(ValueError):
    """The background mask leaves no pixel in the centre region or in the edge band."""


def frame_regions(background: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Background pixels of the centre region and of the edge band.

    Parameters
    ----------
    background : ndarray, shape (ny, nx), bool
        True for background pixels (full-frame DMS orientation).

    Returns
    -------
    center : ndarray, shape (ny, nx), bool
        Background pixels with x and y in ``CENTER_REGION``.
    edge : ndarray, shape (ny, nx), bool
        Background pixels with x or y in ``LOWER_EDGE_REGION`` or ``UPPER_EDGE_REGION``
        and both inside [``LOWER_EDGE_REGION[0]``, ``UPPER_EDGE_REGION[1]``).

    Raises
    ------
    ValueError
        If ``background`` is not 2-D.
    """
    background = np.asarray(background, dtype=bool)
    if background.ndim != 2:
        raise ValueError(f"background has shape {background.shape}; expected (ny, nx)")
    ny, nx = background.shape
    y = np.arange(ny)[:, None]
    x = np.arange(nx)[None, :]

    def within(v, region):
        return (v >= region[0]) & (v < region[1])

    center = background & within(y, CENTER_REGION) & within(x, CENTER_REGION)
    inside = within(y, (LOWER_EDGE_REGION[0], UPPER_EDGE_REGION[1])) & within(
        x, (LOWER_EDGE_REGION[0], UPPER_EDGE_REGION[1])
    )
    band = (
        within(y, LOWER_EDGE_REGION) | within(y, UPPER_EDGE_REGION)
        | within(x, LOWER_EDGE_REGION) | within(x, UPPER_EDGE_REGION)
    )  # fmt: skip
    return center, background & band & inside


def _nanmedian(values: np.ndarray) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN selections give NaN
        return float(np.nanmedian(values))


def correct_picture_frame(
    data: np.ndarray,
    reference: np.ndarray,
    background: np.ndarray,
    *,
    is_ramp: bool,
) -> np.ndarray:
    """Subtract the scaled picture-frame reference from a ramp or from rates.

    For a ramp, each group ``g >= 1`` is handled as its difference from group 0 of the same
    integration: ``d = data[i, g] - data[i, 0]``; for rates, each plane is ``d`` itself.
    With ``mc``/``me`` the NaN-ignoring medians of ``d`` over the centre/edge background
    pixels (:func:`frame_regions`) and ``rc``/``re`` those of the reference, the correction
    ``(mc - me) / (rc - re) * (reference - re) + me`` is subtracted from the plane. Group 0
    is not changed.

    Parameters
    ----------
    data : ndarray, float
        Ramp, shape (nints, ngroups, ny, nx), DN (``is_ramp``), or rate, shape (ny, nx) or
        (nints, ny, nx), DN/s.
    reference : ndarray, shape (ny, nx), float
        PICTUREFRAME reference rate image (its units do not matter: only its shape is used).
    background : ndarray, shape (ny, nx), bool
        True for background pixels (the scene mask).
    is_ramp : bool
        Whether ``data`` is a ramp.

    Returns
    -------
    ndarray, shape and dtype of ``data``
        The corrected data (a new array).

    Raises
    ------
    ValueError
        If the shapes do not match, a ramp has fewer than 2 groups, or the reference has
        the same median in the centre region as in the edge band.
    NoScalingDataError
        If ``background`` leaves no pixel in the centre region or in the edge band.

    References
    ----------
    JWST pipeline documentation (jwst 3.0), "Picture Frame Correction".
    """
    data = np.asarray(data)
    reference = np.asarray(reference, dtype=np.float64)
    ndim_ok = data.ndim == 4 if is_ramp else data.ndim in (2, 3)
    if not ndim_ok or data.shape[-2:] != reference.shape or background.shape != reference.shape:
        raise ValueError(
            f"data {data.shape}, reference {reference.shape} and background "
            f"{np.shape(background)} do not match; expected a "
            f"{'(nints, ngroups, ny, nx) ramp' if is_ramp else '(ny, nx) or (nints, ny, nx) rate'}"
            " and (ny, nx) images"
        )
    if is_ramp and data.shape[1] < 2:
        raise ValueError(f"the ramp has {data.shape[1]} group; at least 2 are needed")
    center, edge = frame_regions(background)
    if not center.any() or not edge.any():
        raise NoScalingDataError(
            f"no background pixel in the {'centre region' if not center.any() else 'edge band'}"
        )
    ref_center = _nanmedian(reference[center])
    ref_edge = _nanmedian(reference[edge])
    log.debug("Reference medians: centre %.6g, edge %.6g", ref_center, ref_edge)
    if not ref_center != ref_edge:
        raise ValueError(
            f"the reference has the same median ({ref_center:.6g}) in the centre region and "
            "in the edge band; it cannot be scaled"
        )
    shape = (ref_center - ref_edge, reference - ref_edge)
    out = np.array(data, copy=True)
    planes = out.reshape((-1,) + out.shape[-2:])
    if is_ramp:
        ngroups = data.shape[1]
        for i in range(data.shape[0]):
            zero = out[i, 0].astype(np.float64)
            for g in range(1, ngroups):
                out[i, g] = _corrected(out[i, g] - zero, center, edge, shape) + zero
    else:
        for k in range(planes.shape[0]):
            planes[k] = _corrected(planes[k].astype(np.float64), center, edge, shape)
    return out


def _corrected(image, center, edge, shape) -> np.ndarray:
    """One plane minus its scaled and shifted reference (all float64)."""
    ref_contrast, ref_offset = shape
    med_center = _nanmedian(image[center])
    med_edge = _nanmedian(image[edge])
    log.debug("Plane medians: centre %.6g, edge %.6g", med_center, med_edge)
    scale = (med_center - med_edge) / ref_contrast
    return image - (scale * ref_offset + med_edge)
