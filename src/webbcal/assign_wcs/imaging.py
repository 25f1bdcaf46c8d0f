"""Assign the imaging WCS to an exposure: checks, gwcs, S_REGION and the FITS SIP header.

:func:`assign_imaging_wcs` is the model-level work of the ``assign_wcs`` step for
imaging exposure types: it checks that the exposure carries the keywords a WCS needs
and that the ``distortion`` (and ``filteroffset``) references belong to it, builds the
gwcs object with :func:`webbcal.wcs.imaging_wcs`, and records ``meta.wcs``,
``meta.wcsinfo.s_region`` and, optionally, the TAN-SIP approximation in
``meta.wcsinfo``.

References
----------
JWST pipeline documentation, ``assign_wcs``: "WCS of imaging data", the reference files
"distortion" and "filteroffset", and the step arguments (``sip_approx`` ...).

CRDS user guide, "Reference file requirements" (P_ pattern keywords such as P_EXP_TY,
P_FILTER, P_PUPIL, which list the values a reference applies to).
"""

from __future__ import annotations

import logging
import math
import os
from typing import Any

import numpy as np

from ..lib.reffiles import load_reference
from ..wcs import (
    ImagingWcsError,
    PointingError,
    SipParams,
    filter_offset,
    imaging_wcs,
    pointing_from_model,
    s_region_from_wcs,
    update_sip_wcsinfo,
)

__all__ = [
    "IMAGING_EXP_TYPES",
    "AssignWcsError",
    "assign_imaging_wcs",
    "check_distortion_reference",
    "check_exposure_keywords",
]

log = logging.getLogger(__name__)

#: EXP_TYPEs that the official pipeline gives an imaging WCS (lower case), NIRSpec's
#: included (whose imaging WCS goes through the NIRSpec optical model).
IMAGING_EXP_TYPES = frozenset({
    "fgs_focus", "fgs_image",
    "mir_4qpm", "mir_coroncal", "mir_image", "mir_lyot", "mir_taconfirm", "mir_tacq",
    "nis_ami", "nis_focus", "nis_image", "nis_taconfirm", "nis_tacq",
    "nrc_coron", "nrc_focus", "nrc_image", "nrc_taconfirm", "nrc_tacq", "nrc_tsimage",
    "nrs_confirm", "nrs_focus", "nrs_image", "nrs_mimf", "nrs_msata", "nrs_taconfirm",
    "nrs_tacq", "nrs_taslit", "nrs_verify", "nrs_wata",
})  # fmt: skip

#: Instruments whose imaging WCS is a ``distortion`` transform (NIRSpec's is not).
DISTORTION_INSTRUMENTS = ("NIRCAM", "NIRISS", "MIRI", "FGS")

#: Instruments whose filter offset is looked up by FILTER and PUPIL (MIRI: FILTER only).
_PUPIL_OFFSET_INSTRUMENTS = ("NIRCAM", "NIRISS")

# Reference selection fields: (label, science getter, pattern attribute, plain attribute).
# A plain value is trusted only for FILTER and PUPIL; EXP_TYPE only through P_EXP_TY,
# because references declare one EXP_TYPE and list the others in P_EXP_TY.
_SELECTION_FIELDS = (
    ("EXP_TYPE", ("exposure", "type"), ("exposure", "p_exptype"), None),
    ("FILTER", ("instrument", "filter"), ("instrument", "p_filter"), ("instrument", "filter")),
    ("PUPIL", ("instrument", "pupil"), ("instrument", "p_pupil"), ("instrument", "pupil")),
    ("CHANNEL", ("instrument", "channel"), None, ("instrument", "channel")),
    ("MODULE", ("instrument", "module"), None, ("instrument", "module")),
)
_WILDCARDS = ("", "N/A", "ANY", "NONE", "GENERIC")

# Distance (in detector half-diagonals) beyond which V2_REF/V3_REF cannot belong to the
# detector: the detector's own apertures lie inside 1; a neighbour's centre is about 2-3.
_MAX_REF_DISTANCE = 2.5


class AssignWcsError(ValueError):
    """An exposure or reference that cannot give a WCS (names file, keyword and value)."""


def _name(model: Any) -> str:
    return getattr(model.meta, "filename", None) or "<in-memory model>"


def _meta_value(meta: Any, path: tuple[str, str]) -> Any:
    node = getattr(meta, path[0], None)
    return getattr(node, path[1], None) if node is not None else None


def check_exposure_keywords(model: Any) -> tuple[str, str]:
    """Check the keywords every WCS needs; return ``(INSTRUME, EXP_TYPE)`` upper case.

    Parameters
    ----------
    model : stdatamodels.jwst.datamodels.ImageModel or CubeModel
        The exposure. Not modified.

    Returns
    -------
    tuple of str

    Raises
    ------
    AssignWcsError
        If INSTRUME, EXP_TYPE or DETECTOR is missing, or SUBSIZE1/SUBSIZE2 disagree with
        the SCI array.
    """
    name = _name(model)
    values = {}
    for key, path in (("INSTRUME", ("instrument", "name")), ("EXP_TYPE", ("exposure", "type")),
                      ("DETECTOR", ("instrument", "detector"))):  # fmt: skip
        value = _meta_value(model.meta, path)
        if not isinstance(value, str) or not value.strip():
            raise AssignWcsError(
                f"{name}: keyword {key}={value!r}: expected {key} of a stage-1 product "
                "(was the file made by calwebb_detector1?)"
            )
        values[key] = value.strip().upper()
    shape = np.shape(model.data)[-2:]
    sub = model.meta.subarray
    for key, size, n in (("SUBSIZE1", sub.xsize, shape[-1]), ("SUBSIZE2", sub.ysize, shape[-2])):
        if size is not None and int(size) != int(n):
            raise AssignWcsError(
                f"{name}: keyword {key}={size} disagrees with the SCI array shape {shape} "
                f"(expected {key}={n})"
            )
    return values["INSTRUME"], values["EXP_TYPE"]


def _allowed(ref_meta: Any, pattern: tuple | None, plain: tuple | None) -> set[str] | None:
    if pattern is not None:
        text = _meta_value(ref_meta, pattern)
        if isinstance(text, str):
            items = {v.strip().upper() for v in text.split("|")} - {""}
            if items and not items & set(_WILDCARDS):
                return items
    if plain is not None:
        value = _meta_value(ref_meta, plain)
        if isinstance(value, str) and value.strip().upper() not in _WILDCARDS:
            return {value.strip().upper()}
    return None


def check_distortion_reference(ref: Any, model: Any, path: str) -> None:
    """Check that an open ``distortion`` reference belongs to the exposure.

    INSTRUME and DETECTOR were checked on opening; this checks that the reference holds
    a 2-input, 2-output ``model`` and that the exposure's EXP_TYPE (against P_EXP_TY),
    FILTER and PUPIL (against P_FILTER / P_PUPIL, else FILTER / PUPIL), CHANNEL and
    MODULE are among the values the reference declares. Fields the reference leaves
    unset, ``N/A`` or ``ANY`` are not checked.

    Parameters
    ----------
    ref : stdatamodels.jwst.datamodels.DistortionModel
        The open reference.
    model : DataModel
        The exposure.
    path : str
        The reference file, for messages.

    Raises
    ------
    AssignWcsError
        On the first field that does not match, naming the file, keyword, the two values.
    """
    fname = os.path.basename(path)
    transform = getattr(ref, "model", None)
    if getattr(transform, "n_inputs", None) != 2 or getattr(transform, "n_outputs", None) != 2:
        raise AssignWcsError(
            f"{fname}: 'model' is {type(transform).__name__}, expected a 2-input, 2-output "
            "imaging distortion transform (detector pixels to V2V3); is it a distortion "
            "reference of another mode?"
        )
    for label, sci_path, pattern, plain in _SELECTION_FIELDS:
        allowed = _allowed(ref.meta, pattern, plain)
        value = _meta_value(model.meta, sci_path)
        if allowed is None or not isinstance(value, str) or not value.strip():
            continue
        if value.strip().upper() not in allowed:
            raise AssignWcsError(
                f"{fname}: distortion reference for {label} in {sorted(allowed)}, but "
                f"{_name(model)} has {label}={value!r}; expected a reference selected for "
                f"this exposure"
            )


def _check_reference_point(transform: Any, pointing: Any, model: Any, path: str) -> None:
    """Refuse V2_REF/V3_REF far from the detector the distortion describes."""
    try:
        (x0, x1), (y0, y1) = transform.bounding_box.bounding_box(order="F")
    except NotImplementedError:
        full = 1024 if (model.meta.instrument.name or "").upper() == "MIRI" else 2048
        (x0, x1), (y0, y1) = (-0.5, full - 0.5), (-0.5, full - 0.5)
    xs = np.array([x0, x1, x1, x0, 0.5 * (x0 + x1)])
    ys = np.array([y0, y0, y1, y1, 0.5 * (y0 + y1)])
    v2, v3 = (np.asarray(a, dtype=float) for a in transform(xs, ys, with_bounding_box=False))
    if not (np.all(np.isfinite(v2)) and np.all(np.isfinite(v3))):
        return
    half_diagonal = float(np.max(np.hypot(v2[:4] - v2[4], v3[:4] - v3[4])))
    distance = math.hypot(pointing.v2_ref - v2[4], pointing.v3_ref - v3[4])
    if distance > _MAX_REF_DISTANCE * half_diagonal:
        raise AssignWcsError(
            f"{_name(model)}: keywords V2_REF={pointing.v2_ref}, V3_REF={pointing.v3_ref} "
            f"are {distance:.1f} arcsec from the centre ({v2[4]:.2f}, {v3[4]:.2f}) of detector "
            f"{model.meta.instrument.detector} described by {os.path.basename(path)}; expected "
            f"the reference point of an aperture on this detector (within "
            f"{_MAX_REF_DISTANCE * half_diagonal:.1f} arcsec)"
        )


def _read_filter_offset(path: str, model: Any, instrument: str) -> tuple[float, float] | None:
    from stdatamodels.jwst.datamodels import FilteroffsetModel

    load_reference(path, FilteroffsetModel, model).close()
    inst = model.meta.instrument
    pupil = inst.pupil if instrument in _PUPIL_OFFSET_INSTRUMENTS else None
    try:
        offset = filter_offset(path, inst.filter, pupil)
    except ImagingWcsError as exc:
        raise AssignWcsError(str(exc)) from None
    if offset is None:
        log.info("No filter offset for FILTER=%s PUPIL=%s in %s", inst.filter, pupil,
                 os.path.basename(path))  # fmt: skip
    else:
        log.info("Offsets from filteroffset file are %s, %s", *offset)
    return offset


def pointing_and_distortion(model: Any, distortion_path: str) -> tuple[Any, Any]:
    """The exposure's pointing and its checked ``distortion`` transform.

    Returns
    -------
    (Pointing, astropy.modeling.Model)
        Pointing from the keywords; full-frame detector pixels (0-based) to V2V3
        (arcsec).

    Raises
    ------
    AssignWcsError
        For missing or inconsistent pointing keywords, a distortion reference of another
        detector, filter or mode, or one whose reference point disagrees with V2/V3_REF.
    """
    from stdatamodels.jwst.datamodels import DistortionModel

    try:
        pointing = pointing_from_model(model)
    except PointingError as exc:
        raise AssignWcsError(
            f"{exc}; expected the pointing keywords of a stage-1 product"
        ) from None
    ref = load_reference(distortion_path, DistortionModel, model)
    try:
        check_distortion_reference(ref, model, distortion_path)
        transform = ref.model
    finally:
        ref.close()
    _check_reference_point(transform, pointing, model, distortion_path)
    return pointing, transform


def assign_imaging_wcs(
    model: Any,
    distortion_path: str,
    filteroffset_path: str | None,
    sip: SipParams,
) -> Any:
    """Give an imaging exposure its WCS, S_REGION and (optionally) SIP header, in place.

    Parameters
    ----------
    model : stdatamodels.jwst.datamodels.ImageModel or CubeModel
        Stage-1 product of an imaging EXP_TYPE of NIRCam, NIRISS, MIRI or FGS, with the
        pointing keywords in ``meta.wcsinfo``. Modified: ``meta.wcs``,
        ``meta.wcsinfo.s_region`` and the SIP keywords.
    distortion_path : str
        ``distortion`` reference (ASDF).
    filteroffset_path : str or None
        ``filteroffset`` reference, or None (required for MIRI).
    sip : SipParams
        ``sip_*`` step parameters (``approx`` False: no SIP header).

    Returns
    -------
    DataModel
        ``model``.

    Raises
    ------
    AssignWcsError
        If keywords are missing or inconsistent, or a reference belongs to another
        instrument, detector, EXP_TYPE, filter or pupil or is not an imaging distortion.
    ReferenceFileError
        If a reference cannot be read.

    References
    ----------
    JWST pipeline documentation, ``assign_wcs`` ("WCS of imaging data").
    """

    from ..datamodels.io import assigning_checked_values

    instrument, exp_type = check_exposure_keywords(model)
    pointing, transform = pointing_and_distortion(model, distortion_path)
    if instrument == "MIRI" and filteroffset_path is None:
        raise AssignWcsError(
            f"{_name(model)}: EXP_TYPE={exp_type} of MIRI needs a filteroffset reference "
            "(none applies: give override_filteroffset)"
        )
    offset = None
    if filteroffset_path is not None:
        offset = _read_filter_offset(filteroffset_path, model, instrument)
    sub = model.meta.subarray
    try:
        wcs = imaging_wcs(
            transform, pointing, shape=np.shape(model.data)[-2:],
            subarray_start=(sub.xstart or 1, sub.ystart or 1), filter_offset=offset,
        )  # fmt: skip
    except ImagingWcsError as exc:
        raise AssignWcsError(f"{_name(model)}: {exc}") from None
    log.info("Created a %s %s imaging WCS with references distortion=%s, filteroffset=%s",
             instrument, exp_type.lower(), os.path.basename(distortion_path),
             filteroffset_path and os.path.basename(filteroffset_path))  # fmt: skip
    with assigning_checked_values(model):  # a gwcs.WCS: checked when the model is saved
        model.meta.wcs = wcs
    model.meta.wcsinfo.s_region = s_region_from_wcs(wcs)
    log.info("assign_wcs updated S_REGION to %s", model.meta.wcsinfo.s_region)
    if sip.approx:
        update_sip_wcsinfo(model, wcs, sip)
    log.info("COMPLETED assign_wcs")
    return model
