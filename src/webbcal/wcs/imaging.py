"""The gwcs object of an imaging exposure: detector -> v2v3 -> v2v3vacorr -> world.

:func:`imaging_wcs` assembles the official imaging WCS from plain inputs: the
detector-to-V2V3 distortion transform (the ``model`` of a CRDS ``distortion``
reference), an optional filter offset (``filteroffset`` reference), the
subarray origin and the exposure's :class:`~webbcal.wcs.pointing.Pointing`.
:func:`imaging_wcs_from_model` is the thin adapter that reads these from a
stdatamodels ImageModel and reference file paths.

Pixel coordinates are 0-based in the subarray (the array as stored); the
distortion takes full-frame pixels, so a subarray starting at 1-based
(``SUBSTRT1``, ``SUBSTRT2``) is shifted by (``SUBSTRT1 - 1``, ``SUBSTRT2 - 1``)
first. The filter offset (column, row) in pixels is added before the
distortion. The bounding box is the stored array, ``(-0.5, n - 0.5)`` on each
axis, for a subarray; for a full-frame exposure it is the distortion's own
bounding box if it has one, else the array.

References
----------
JWST pipeline documentation, ``assign_wcs``: "WCS of imaging data", reference
files "distortion" and "filteroffset" (``filters`` list of ``filter``,
``pupil``, ``column_offset``, ``row_offset``).
"""

from __future__ import annotations

import logging
from pathlib import Path

import asdf
import gwcs
from astropy.modeling import bind_bounding_box, models

from . import frames
from .pointing import Pointing, pointing_from_model, v2v3_to_sky, va_correction

log = logging.getLogger(__name__)

__all__ = [
    "ImagingWcsError",
    "filter_offset",
    "imaging_wcs",
    "imaging_wcs_from_model",
    "read_distortion",
]


class ImagingWcsError(ValueError):
    """Inputs that cannot make an imaging WCS."""


def _check_shape(shape) -> tuple[int, int]:
    try:
        ny, nx = (int(n) for n in shape)
    except (TypeError, ValueError):
        raise ImagingWcsError(f"shape={shape!r}: expected (ny, nx) of positive ints") from None
    if ny <= 0 or nx <= 0:
        raise ImagingWcsError(f"shape={shape!r}: expected (ny, nx) of positive ints")
    return ny, nx


def _model_bounding_box(transform):
    try:
        return tuple(
            tuple(float(v) for v in iv) for iv in transform.bounding_box.bounding_box(order="F")
        )
    except NotImplementedError:
        return None


def imaging_wcs(
    distortion,
    pointing: Pointing,
    *,
    shape: tuple[int, int],
    subarray_start: tuple[int, int] = (1, 1),
    filter_offset: tuple[float, float] | None = None,
) -> gwcs.WCS:
    """Build the imaging gwcs: detector -> v2v3 -> v2v3vacorr -> world.

    Parameters
    ----------
    distortion : astropy.modeling.Model
        Full-frame detector pixels (0-based x, y) to (V2, V3) in arcsec, with an
        inverse (the ``model`` of a ``distortion`` reference). Not modified.
    pointing : Pointing
        Exposure pointing and velocity-aberration scale.
    shape : tuple of int
        ``(ny, nx)`` of the stored science array.
    subarray_start : tuple of int, optional
        1-based ``(SUBSTRT1, SUBSTRT2)`` of the array in the full frame.
    filter_offset : tuple of float or None, optional
        ``(column_offset, row_offset)`` in pixels from the ``filteroffset``
        reference for this filter and pupil, or None.

    Returns
    -------
    gwcs.WCS
        Frames ``detector`` (pix), ``v2v3`` and ``v2v3vacorr`` (arcsec), ``world``
        (ICRS deg), with a bounding box on the detector frame.

    Raises
    ------
    ImagingWcsError
        If ``distortion`` is not a 2-input, 2-output model, ``shape`` or
        ``subarray_start`` is invalid.

    References
    ----------
    JWST pipeline documentation, ``assign_wcs`` ("WCS of imaging data").
    """
    if getattr(distortion, "n_inputs", None) != 2 or getattr(distortion, "n_outputs", None) != 2:
        raise ImagingWcsError(
            f"distortion={distortion!r}: expected an astropy model with 2 inputs and 2 outputs"
        )
    ny, nx = _check_shape(shape)
    xstart, ystart = (int(v) for v in subarray_start)
    if xstart < 1 or ystart < 1:
        raise ImagingWcsError(f"subarray_start={subarray_start!r}: expected 1-based starts >= 1")

    ref_bbox = _model_bounding_box(distortion)
    transform = distortion.copy()
    if filter_offset is not None:
        col, row = (float(v) for v in filter_offset)
        transform = (models.Shift(col) & models.Shift(row)) | transform
    array_bbox = ((-0.5, nx - 0.5), (-0.5, ny - 0.5))
    if (xstart, ystart) != (1, 1):
        transform = (models.Shift(xstart - 1) & models.Shift(ystart - 1)) | transform
        bbox = array_bbox
    else:
        bbox = ref_bbox if ref_bbox is not None else array_bbox
    bind_bounding_box(transform, bbox, order="F")

    pipeline = [
        (frames.detector_frame(), transform),
        (frames.v2v3_frame(), va_correction(pointing)),
        (frames.v2v3vacorr_frame(), v2v3_to_sky(pointing)),
        (frames.world_frame(), None),
    ]
    wcs = gwcs.WCS(pipeline)
    wcs.bounding_box = bbox
    wcs.pixel_shape = (nx, ny)
    return wcs


def read_distortion(path: str | Path):
    """Read the transform of a ``distortion`` reference file (ASDF).

    Parameters
    ----------
    path : str or Path
        The reference file.

    Returns
    -------
    astropy.modeling.Model
        Its ``model`` (detector pixels to V2V3 arcsec).

    Raises
    ------
    ImagingWcsError
        If the file cannot be opened or holds no 2-in/2-out ``model``.
    """
    path = Path(path)
    try:
        with asdf.open(path, lazy_load=False, memmap=False) as af:
            model = af.tree.get("model")
    except (OSError, ValueError) as exc:
        raise ImagingWcsError(f"{path}: cannot read distortion reference ({exc})") from exc
    if getattr(model, "n_inputs", None) != 2 or getattr(model, "n_outputs", None) != 2:
        raise ImagingWcsError(f"{path}: 'model' is {model!r}, expected a 2-in/2-out transform")
    return model


def filter_offset(path: str | Path, filter_name: str, pupil: str | None) -> tuple | None:
    """Look up a filter's (column, row) offset in a ``filteroffset`` reference.

    Parameters
    ----------
    path : str or Path
        ASDF file whose tree has ``filters``: a list of dicts with ``filter``,
        ``pupil`` (optional) and ``column_offset``, ``row_offset`` (pixels).
    filter_name, pupil : str
        The exposure's FILTER and PUPIL. A row matches when its ``filter``
        equals FILTER and its ``pupil`` (if given) equals PUPIL.

    Returns
    -------
    tuple of float or None
        ``(column_offset, row_offset)``, or None when no row matches.

    Raises
    ------
    ImagingWcsError
        If the file cannot be read, has no ``filters`` list, or more than one
        row matches.
    """
    path = Path(path)
    try:
        with asdf.open(path, lazy_load=False, memmap=False) as af:
            rows = af.tree.get("filters")
            rows = [dict(r) for r in rows] if isinstance(rows, list) else None
    except (OSError, ValueError) as exc:
        raise ImagingWcsError(f"{path}: cannot read filteroffset reference ({exc})") from exc
    if rows is None:
        raise ImagingWcsError(f"{path}: no 'filters' list in the filteroffset reference")
    matches = [
        row for row in rows if row.get("filter") == filter_name and row.get("pupil", pupil) == pupil
    ]
    if len(matches) > 1:
        raise ImagingWcsError(
            f"{path}: {len(matches)} rows match filter={filter_name!r} pupil={pupil!r}, "
            "expected at most one"
        )
    if not matches or "column_offset" not in matches[0] or "row_offset" not in matches[0]:
        log.debug("%s: no filter offset for %s/%s", path, filter_name, pupil)
        return None
    return float(matches[0]["column_offset"]), float(matches[0]["row_offset"])


def imaging_wcs_from_model(model, distortion_path, filteroffset_path=None) -> gwcs.WCS:
    """Build the imaging WCS of a stdatamodels ImageModel from reference paths.

    Parameters
    ----------
    model : stdatamodels.jwst.datamodels.ImageModel
        Exposure with ``data``, ``meta.wcsinfo``, ``meta.subarray``,
        ``meta.instrument.filter`` / ``pupil`` and
        ``meta.velocity_aberration.scale_factor``. Not modified.
    distortion_path : str or Path
        ``distortion`` reference file.
    filteroffset_path : str or Path or None, optional
        ``filteroffset`` reference file, or None.

    Returns
    -------
    gwcs.WCS
        As :func:`imaging_wcs`.

    Raises
    ------
    ImagingWcsError, PointingError
        On unreadable references or missing pointing keywords.
    """
    distortion = read_distortion(distortion_path)
    offset = None
    if filteroffset_path is not None:
        inst = model.meta.instrument
        offset = filter_offset(filteroffset_path, inst.filter, getattr(inst, "pupil", None))
    sub = model.meta.subarray
    start = (sub.xstart or 1, sub.ystart or 1)
    return imaging_wcs(
        distortion,
        pointing_from_model(model),
        shape=model.data.shape[-2:],
        subarray_start=start,
        filter_offset=offset,
    )
