"""FITS TAN-SIP approximation of an imaging gwcs, with the official parameters.

Calibrated imaging products carry, besides the exact gwcs object, a FITS WCS
with SIP distortion polynomials (keywords CRPIX, CRVAL, CD, A_p_q, B_p_q,
AP_p_q, BP_p_q) for software that reads only FITS headers. The fit itself is
gwcs's ``WCS.to_fits_sip``; this module fixes the official defaults
(``sip_max_pix_error`` 0.01, ``sip_max_inv_pix_error`` 0.01, ``sip_npoints``
12, degrees 1-5 tried in turn when not given) and turns fit failures into one
clear error.

References
----------
Shupe, D. L. et al. 2005, "The SIP Convention for Representing Distortion in
FITS Image Headers", ASP Conf. Ser. 347, 491.

JWST pipeline documentation, ``assign_wcs`` step arguments ``sip_approx``,
``sip_max_pix_error``, ``sip_degree``, ``sip_max_inv_pix_error``,
``sip_inv_degree``, ``sip_npoints``.

gwcs documentation, ``WCS.to_fits_sip``.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from typing import Any

from astropy.io import fits

log = logging.getLogger(__name__)

__all__ = [
    "MAX_SIP_DEGREE",
    "STALE_WCSINFO_KEYS",
    "SipFitError",
    "SipParams",
    "sip_header",
    "sip_wcsinfo",
    "update_sip_wcsinfo",
]

MAX_SIP_DEGREE = 6
# Degrees tried when none is given: 1 .. MAX_SIP_DEGREE - 1, as the official does.
_DEFAULT_DEGREES = range(1, MAX_SIP_DEGREE)


# ``meta.wcsinfo`` entries that a new SIP header replaces: remove them before the update so a
# lower-degree fit leaves no coefficients of an earlier one behind (the official does the same).
STALE_WCSINFO_KEYS = (
    "naxis",
    "cdelt1",
    "cdelt2",
    "pc1_1",
    "pc1_2",
    "pc2_1",
    "pc2_2",
    "a_order",
    "b_order",
    "ap_order",
    "bp_order",
    *(f"{s}_{i}_{j}" for s in ("a", "b", "ap", "bp") for i in range(10) for j in range(10)),
)


class SipFitError(ValueError):
    """The SIP approximation could not reach the requested accuracy (or inputs are bad)."""


@dataclass(frozen=True)
class SipParams:
    """SIP-approximation options, named and defaulted as the official step's.

    Attributes
    ----------
    approx : bool
        Whether to compute the SIP approximation at all (``sip_approx``).
    max_pix_error : float
        Largest allowed forward error, pixels (``sip_max_pix_error``), > 0.
    degree : int or None
        Forward SIP degree 1..6, or None to take the lowest degree in 1..5 that
        meets ``max_pix_error`` (``sip_degree``).
    max_inv_pix_error : float
        Largest allowed inverse error, pixels (``sip_max_inv_pix_error``), > 0.
    inv_degree : int or None
        Inverse degree 1..6, or None as for ``degree`` (``sip_inv_degree``).
    npoints : int
        Sample points per axis for the fit, >= 8 (``sip_npoints``).
    """

    approx: bool = True
    max_pix_error: float = 0.01
    degree: int | None = None
    max_inv_pix_error: float = 0.01
    inv_degree: int | None = None
    npoints: int = 12

    def __post_init__(self):
        for name in ("max_pix_error", "max_inv_pix_error"):
            value = getattr(self, name)
            if not value > 0:
                raise SipFitError(f"sip_{name}={value!r}: expected a positive number")
        for name in ("degree", "inv_degree"):
            value = getattr(self, name)
            if value is not None and not (1 <= int(value) <= MAX_SIP_DEGREE):
                raise SipFitError(f"sip_{name}={value!r}: expected None or 1..{MAX_SIP_DEGREE}")
        if int(self.npoints) < 8:
            raise SipFitError(f"sip_npoints={self.npoints!r}: expected >= 8")


def _check_accuracy(header, params: SipParams, strict: bool = True) -> None:
    """Raise (``strict``) or log a warning when a free-degree fit missed its target."""
    checks = [
        ("SIPMXERR", params.degree, params.max_pix_error, "sip_max_pix_error"),
        ("SIPIVERR", params.inv_degree, params.max_inv_pix_error, "sip_max_inv_pix_error"),
    ]
    for key, fixed, target, name in checks:
        achieved = header.get(key)
        if fixed is None and achieved is not None and achieved > target:
            message = (
                f"SIP approximation failed ({name}={target}, degrees 1..{MAX_SIP_DEGREE - 1} "
                f"tried, sip_npoints={params.npoints}): best {key}={achieved:.3g} pixel"
            )
            if strict:
                raise SipFitError(message)
            log.warning("%s; keeping the best fit", message)


def sip_header(
    wcs,
    params: SipParams = SipParams(),
    *,
    crpix: tuple[float, float] | None = None,
    bounding_box=None,
    strict: bool = True,
) -> fits.Header:
    """FITS TAN-SIP header approximating an imaging gwcs.

    Parameters
    ----------
    wcs : gwcs.WCS
        Imaging WCS with a celestial output frame and a bounding box (or give
        ``bounding_box``). Not modified.
    params : SipParams, optional
        Accuracy and degree options (official defaults).
    crpix : tuple of float or None, optional
        1-based reference pixel; None puts it near the bounding-box centre.
    bounding_box : tuple or None, optional
        ``((xmin, xmax), (ymin, ymax))`` to fit over instead of the WCS's.
    strict : bool, optional
        Raise when a free-degree fit misses its accuracy (default); False logs a
        warning and returns the best fit, as the official step keeps it.

    Returns
    -------
    astropy.io.fits.Header
        WCSAXES, CRPIX, CRVAL, CTYPE (``RA---TAN-SIP``), CD, A/B and AP/BP
        polynomials, and the fit's reported errors (``SIPMXERR``,
        ``SIPIVERR``).

    Raises
    ------
    SipFitError
        If a fit of free degree (``degree`` or ``inv_degree`` None) misses
        ``max_pix_error`` / ``max_inv_pix_error`` with ``strict`` (gwcs and the official step
        only warn and keep the inaccurate header; the step adapter decides what
        to do), or the WCS has no celestial frame or bounding box. A fixed
        degree is fitted as asked and a missed accuracy is logged as a warning.

    References
    ----------
    Shupe et al. 2005 (SIP); gwcs ``WCS.to_fits_sip``.
    """
    degree = _DEFAULT_DEGREES if params.degree is None else int(params.degree)
    inv_degree = _DEFAULT_DEGREES if params.inv_degree is None else int(params.inv_degree)
    if bounding_box is None and wcs.bounding_box is None:
        raise SipFitError("the WCS has no bounding_box; give bounding_box=((x0, x1), (y0, y1))")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            header = wcs.to_fits_sip(
                bounding_box=bounding_box,
                max_pix_error=params.max_pix_error,
                degree=degree,
                max_inv_pix_error=params.max_inv_pix_error,
                inv_degree=inv_degree,
                npoints=int(params.npoints),
                crpix=None if crpix is None else [float(crpix[0]), float(crpix[1])],
                projection="TAN",
            )
    except (ValueError, RuntimeError, TypeError) as exc:
        raise SipFitError(
            f"SIP approximation failed (sip_max_pix_error={params.max_pix_error}, "
            f"sip_degree={params.degree}, sip_max_inv_pix_error={params.max_inv_pix_error}, "
            f"sip_inv_degree={params.inv_degree}, sip_npoints={params.npoints}): {exc}"
        ) from exc
    _check_accuracy(header, params, strict)
    # With a fixed degree the accuracy is not enforced (as in the official step): gwcs's
    # warnings go to our log instead.
    for item in caught:
        log.warning("SIP approximation: %s", item.message)
    log.debug(
        "SIP fit: degrees A=%s AP=%s, max errors %s / %s pix",
        header.get("A_ORDER"),
        header.get("AP_ORDER"),
        header.get("SIPMXERR"),
        header.get("SIPIVERR"),
    )
    return header


def sip_wcsinfo(header: fits.Header) -> dict:
    """The ``meta.wcsinfo`` entries of a SIP header (lower-case keys, no NAXIS*).

    Parameters
    ----------
    header : astropy.io.fits.Header
        From :func:`sip_header`.

    Returns
    -------
    dict
        ``{keyword.lower(): value}`` for every keyword except NAXIS, NAXIS1,
        NAXIS2. Remove :data:`STALE_WCSINFO_KEYS` from ``meta.wcsinfo`` before
        applying it.

    References
    ----------
    JWST pipeline documentation, ``assign_wcs`` (FITS WCS + SIP keywords in
    ``meta.wcsinfo`` of imaging products).
    """
    return {
        key.lower(): value for key, value in header.items() if not key.upper().startswith("NAXIS")
    }


def wcsinfo_crpix(model) -> tuple[float, float] | None:
    """CRPIX1, CRPIX2 of ``model.meta.wcsinfo`` (1-based pixels), or None where unset."""
    info = model.meta.wcsinfo
    if info.crpix1 is not None and info.crpix2 is not None:
        return float(info.crpix1), float(info.crpix2)
    return None


def update_sip_wcsinfo(model, wcs, params: SipParams, *, fitted: Any = None) -> bool:
    """Refit the FITS SIP approximation of ``wcs`` into ``model.meta.wcsinfo``, in place.

    CRPIX is kept where ``meta.wcsinfo`` has one; earlier SIP keywords
    (:data:`STALE_WCSINFO_KEYS`) are removed first. A fit that misses its accuracy
    targets only warns and leaves ``meta.wcsinfo`` as it was, as the official
    ``assign_wcs`` and ``tweakreg`` do.

    Parameters
    ----------
    model : stdatamodels.jwst.datamodels.JwstDataModel
        Imaging product; ``meta.wcsinfo`` is updated.
    wcs : gwcs.WCS
        Its (new) WCS.
    params : SipParams
        Fit options (the steps' ``sip_*`` parameters).
    fitted : callable, optional
        Gives the fit already made elsewhere (e.g. in a worker process):
        ``sip_header(wcs, params, crpix=wcsinfo_crpix(model), strict=False)``, or
        raises its :class:`SipFitError`. By default the fit is made here.

    Returns
    -------
    bool
        Whether ``meta.wcsinfo`` was updated.
    """
    info = model.meta.wcsinfo
    try:
        if fitted is None:
            header = sip_header(wcs, params, crpix=wcsinfo_crpix(model), strict=False)
        else:
            header = fitted()
    except SipFitError as exc:
        log.warning("Failed to update 'meta.wcsinfo' with FITS SIP approximation. "
                    "Reported error is:")  # fmt: skip
        log.warning('"%s"', exc)
        return False
    stored = info.instance
    for key in STALE_WCSINFO_KEYS:
        stored.pop(key, None)
    stored.update(sip_wcsinfo(header))
    log.info(
        "FITS approximation %s: SIP degree %s (inverse %s), max error %.3g (inverse %.3g) pix",
        header.get("CTYPE1"), header.get("A_ORDER", "-"), header.get("AP_ORDER", "-"),
        header.get("SIPMXERR", 0.0), header.get("SIPIVERR", 0.0),
    )  # fmt: skip
    return True
