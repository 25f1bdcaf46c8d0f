"""Assign the WCS of a NIRCam grism time series (``NRC_TSGRISM``).

:func:`assign_tsgrism_wcs` is the model-level work of the ``assign_wcs`` step for this
mode: it checks the exposure (module A, pupil GRISMR, XREF_SCI/YREF_SCI), reads the
``specwcs`` reference (:func:`read_nircam_specwcs`: the dispersion polynomials of each
order, reduced at the source position), checks the ``distortion`` and optional
``filteroffset`` references, builds the gwcs object with
:func:`webbcal.wcs.grism.tsgrism_wcs`, and records ``meta.wcs``, SPECSYS=BARYCENT and
DISPAXIS=1. As officially, S_REGION is left as it was and no wavelength array is made
here (extract_2d computes it for the cut-out).

References
----------
JWST pipeline documentation, ``assign_wcs`` ("NIRCam grism time series") and the
``specwcs`` reference file for NIRCam grisms.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np

from ..lib.reffiles import ReferenceFileError, load_reference
from ..wcs.grism import GrismOrder, GrismWcsError, tsgrism_wcs
from .imaging import (
    AssignWcsError,
    _read_filter_offset,
    check_exposure_keywords,
    pointing_and_distortion,
)

__all__ = ["TSGRISM_EXP_TYPES", "assign_tsgrism_wcs", "read_nircam_specwcs"]

log = logging.getLogger(__name__)

#: EXP_TYPEs whose WCS this module builds.
TSGRISM_EXP_TYPES = frozenset({"NRC_TSGRISM"})

#: EXP_TYPEs a NIRCam grism ``specwcs`` may declare and still serve a time series (the
#: dispersion of a grism does not depend on the mode; the ground reference says NRC_GRISM).
_GRISM_EXP_TYPES = frozenset({"NRC_TSGRISM", "NRC_WFSS", "NRC_GRISM"})
_WILDCARDS = frozenset({"", "N/A", "ANY", "NONE", "GENERIC"})

# Full-frame size of a NIRCam detector, for checking XREF_SCI/YREF_SCI.
_FULL = 2048


def _name(model: Any) -> str:
    return getattr(model.meta, "filename", None) or "<in-memory model>"


def _declared(plain: Any, pattern: Any = None) -> set[str]:
    values = set()
    for text in (pattern, plain):
        if isinstance(text, str):
            values |= {v.strip().upper() for v in text.split("|")}
    return values - _WILDCARDS


def _collapse(entry: Any, x0: float, y0: float, what: str, fname: str) -> list[float]:
    """Coefficients (increasing powers) of one order's polynomial at ``(x0, y0)``.

    ``entry`` is a 1-input polynomial (a polynomial of one variable) or a list of
    2-input models, the k-th giving the coefficient of the k-th power at ``(x0, y0)``.
    """
    items = list(entry) if isinstance(entry, (list, tuple)) else [entry]
    if len(items) == 1 and getattr(items[0], "n_inputs", None) == 1:
        from astropy.modeling.models import Polynomial1D

        model = items[0]
        domain, window = getattr(model, "domain", None), getattr(model, "window", None)
        mapped = domain is not None and window is not None and tuple(domain) != tuple(window)
        if not isinstance(model, Polynomial1D) or mapped:
            raise AssignWcsError(
                f"{fname}: {what} is a {type(model).__name__}; expected a Polynomial1D of t "
                "(or a list of 2-D coefficient polynomials)"
            )
        return [float(v) for v in model.parameters]
    if not items or any(getattr(m, "n_inputs", None) != 2 for m in items):
        raise AssignWcsError(
            f"{fname}: {what} holds {[type(m).__name__ for m in items]}; expected a polynomial "
            "of t or a list of 2-input coefficient polynomials of (x0, y0)"
        )
    return [float(np.asarray(m(x0, y0))) for m in items]


def read_nircam_specwcs(path: str, model: Any, source_xy: tuple[float, float]
                        ) -> list[GrismOrder]:  # fmt: skip
    """Read and check a NIRCam grism ``specwcs`` reference for a time series.

    Parameters
    ----------
    path : str
        The reference (ASDF ``NIRCAMGrismModel``: ``displ``, ``dispx``, ``dispy``,
        optional ``invdispl``, ``invdispx``, ``invdispy``, and ``orders``).
    model : DataModel
        The exposure (INSTRUME, PUPIL, MODULE, FILTER, EXP_TYPE; for messages). Not
        modified.
    source_xy : tuple of float
        ``(XREF_SCI, YREF_SCI)``: where field-dependent coefficients are evaluated.

    Returns
    -------
    list of GrismOrder
        One per order of the reference.

    Raises
    ------
    AssignWcsError
        If the reference declares another EXP_TYPE, PUPIL, MODULE or FILTER than the
        exposure's, lacks a polynomial, or its lists disagree with ``orders``.
    ReferenceFileError
        If the file cannot be read as a NIRCam grism specwcs or belongs to another
        instrument.
    """
    from stdatamodels.jwst.datamodels import NIRCAMGrismModel

    fname = os.path.basename(path)
    ref = load_reference(path, NIRCAMGrismModel, model)
    try:
        _check_selection(ref, model, fname)
        orders = ref.orders.instance if ref.hasattr("orders") else None
        if orders is None or len(orders) == 0:
            raise AssignWcsError(f"{fname}: 'orders' is missing or empty; expected the list "
                                 "of spectral orders the polynomials describe")  # fmt: skip
        polys = {}
        for key in ("displ", "dispx", "dispy", "invdispl", "invdispx"):
            node = getattr(ref, key, None) if ref.hasattr(key) else None
            entries = node.instance if node is not None else None
            if entries is None:
                if key.startswith("inv"):
                    polys[key] = [None] * len(orders)
                    continue
                raise AssignWcsError(f"{fname}: '{key}' is missing; expected one polynomial "
                                     "per order")  # fmt: skip
            if len(entries) != len(orders):
                raise AssignWcsError(
                    f"{fname}: '{key}' has {len(entries)} entries but 'orders' lists "
                    f"{len(orders)} ({list(orders)}); expected one per order"
                )
            polys[key] = [_collapse(e, *source_xy, f"{key}[{i}]", fname)
                          for i, e in enumerate(entries)]  # fmt: skip
    finally:
        ref.close()
    try:
        return [
            GrismOrder(order=int(o), displ=polys["displ"][i], dispx=polys["dispx"][i],
                       dispy=polys["dispy"][i], invdispl=polys["invdispl"][i],
                       invdispx=polys["invdispx"][i])
            for i, o in enumerate(orders)
        ]  # fmt: skip
    except GrismWcsError as exc:
        raise AssignWcsError(f"{fname}: {exc}") from None


def _check_selection(ref: Any, model: Any, fname: str) -> None:
    inst, exp = model.meta.instrument, model.meta.exposure
    rmeta = ref.meta
    declared = _declared(rmeta.exposure.type, getattr(rmeta.exposure, "p_exptype", None))
    if declared and not declared & _GRISM_EXP_TYPES:
        raise AssignWcsError(
            f"{fname}: specwcs reference for EXP_TYPE in {sorted(declared)}, but {_name(model)} "
            f"has EXP_TYPE={exp.type!r}; expected a NIRCam grism specwcs (NRC_TSGRISM, "
            "NRC_WFSS or NRC_GRISM)"
        )
    rinst = rmeta.instrument
    for key, plain, pattern, value in (
        ("PUPIL", rinst.pupil, getattr(rinst, "p_pupil", None), inst.pupil),
        ("MODULE", rinst.module, None, inst.module),
        ("FILTER", rinst.filter, getattr(rinst, "p_filter", None), inst.filter),
    ):
        allowed = _declared(plain, pattern)
        if allowed and str(value or "").strip().upper() not in allowed:
            raise AssignWcsError(
                f"{fname}: specwcs reference for {key} in {sorted(allowed)}, but "
                f"{_name(model)} has {key}={value!r}; expected the specwcs of this exposure's "
                "grism and module"
            )


def _source_position(model: Any) -> tuple[float, float]:
    info = model.meta.wcsinfo
    values = []
    for key, value in (("XREF_SCI", info.siaf_xref_sci), ("YREF_SCI", info.siaf_yref_sci)):
        if value is None or not np.isfinite(float(value)):
            raise AssignWcsError(
                f"{_name(model)}: keyword {key}={value!r}; expected the aperture reference "
                "pixel (the source position of a grism time series, set at level 1b)"
            )
        if not -0.5 <= float(value) <= _FULL - 0.5:
            raise AssignWcsError(
                f"{_name(model)}: keyword {key}={value!r} is off the {_FULL}x{_FULL} detector; "
                "expected the source's full-frame pixel"
            )
        values.append(float(value))
    return values[0], values[1]


def check_tsgrism_exposure(model: Any) -> tuple[float, float]:
    """Check MODULE, PUPIL, SUBARRAY and XREF_SCI/YREF_SCI; return the source position.

    Raises
    ------
    AssignWcsError
        For module B, a pupil other than GRISMR, a DHS subarray (not implemented), or
        a missing or off-detector XREF_SCI/YREF_SCI.
    """
    inst = model.meta.instrument
    name = _name(model)
    if (inst.module or "").upper() != "A":
        raise AssignWcsError(f"{name}: MODULE={inst.module!r}; NRC_TSGRISM is defined for "
                             "module A only")  # fmt: skip
    if "DHS" in (model.meta.subarray.name or "").upper():
        raise AssignWcsError(f"{name}: SUBARRAY={model.meta.subarray.name!r}: dispersed "
                             "Hartmann sensor (DHS) time series are not implemented")  # fmt: skip
    if "GRISMR" not in (inst.pupil or "").upper():
        raise AssignWcsError(f"{name}: PUPIL={inst.pupil!r}; NRC_TSGRISM expects GRISMR")
    return _source_position(model)


def assign_tsgrism_wcs(
    model: Any,
    distortion_path: str,
    specwcs_path: str,
    filteroffset_path: str | None = None,
) -> Any:
    """Give a NIRCam grism time series its WCS, in place.

    Parameters
    ----------
    model : stdatamodels.jwst.datamodels.CubeModel or ImageModel
        ``_rateints`` / ``_rate`` of EXP_TYPE ``NRC_TSGRISM`` with pointing keywords and
        XREF_SCI/YREF_SCI. Modified: ``meta.wcs``, ``meta.wcsinfo.specsys``,
        ``meta.wcsinfo.dispersion_direction`` (1: along rows).
    distortion_path : str
        NIRCam LW imaging ``distortion`` reference (ASDF).
    specwcs_path : str
        NIRCam grism ``specwcs`` reference (ASDF).
    filteroffset_path : str or None, optional
        ``filteroffset`` reference, or None.

    Returns
    -------
    DataModel
        ``model``.

    Raises
    ------
    AssignWcsError
        On missing keywords or references of another mode, filter, pupil or module.
    ReferenceFileError
        If a reference cannot be read.

    References
    ----------
    JWST pipeline documentation, ``assign_wcs`` ("NIRCam grism time series").
    """
    from ..datamodels.io import assigning_checked_values

    instrument, exp_type = check_exposure_keywords(model)
    if exp_type not in TSGRISM_EXP_TYPES or instrument != "NIRCAM":
        raise AssignWcsError(f"{_name(model)}: INSTRUME={instrument!r}, EXP_TYPE={exp_type!r}; "
                             "expected a NIRCam NRC_TSGRISM exposure")  # fmt: skip
    source = check_tsgrism_exposure(model)
    pointing, distortion = pointing_and_distortion(model, distortion_path)
    offset = None
    if filteroffset_path is not None:
        offset = _read_filter_offset(filteroffset_path, model, instrument)
    try:
        orders = read_nircam_specwcs(specwcs_path, model, source)
    except ReferenceFileError:
        raise
    sub = model.meta.subarray
    velosys = getattr(model.meta.wcsinfo, "velosys", None)
    try:
        wcs = tsgrism_wcs(
            distortion, orders, pointing, source_xy=source,
            subarray_start=(sub.xstart or 1, sub.ystart or 1), velosys=velosys,
            filter_offset=offset,
        )  # fmt: skip
    except GrismWcsError as exc:
        raise AssignWcsError(f"{_name(model)}: {exc}") from None
    if velosys is not None:
        log.info("Added barycentric velocity correction for VELOSYS=%s m/s", velosys)
    log.info("Created a NIRCam nrc_tsgrism WCS with references distortion=%s, specwcs=%s, "
             "filteroffset=%s (orders %s)", os.path.basename(distortion_path),
             os.path.basename(specwcs_path),
             filteroffset_path and os.path.basename(filteroffset_path),
             [o.order for o in orders])  # fmt: skip
    info = model.meta.wcsinfo
    info.specsys = "BARYCENT"
    info.dispersion_direction = 1
    with assigning_checked_values(model):
        model.meta.wcs = wcs
    log.info("COMPLETED assign_wcs")
    return model
