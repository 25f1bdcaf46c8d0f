"""The gwcs object of a NIRCam grism time series (``NRC_TSGRISM``) and of its cut-out.

A NIRCam grism disperses the light of a source at direct-image pixel ``(x0, y0)`` along a
trace parametrised by ``t`` (nominally 0..1): the trace point is
``(x0 + dispx(t), y0 + dispy(t))`` and its wavelength ``displ(t)``. The ``specwcs``
reference (``NIRCAMGrismModel``) holds, per spectral order, these polynomials and
usually their inverses ``invdispx`` (``t`` from the offset ``dx``) and ``invdispl`` (``t``
from the wavelength). Each polynomial is either a plain polynomial of ``t`` (older files,
such as the ground reference ``jwst_nircam_specwcs_0010``) or a list of coefficient
polynomials in ``(x0, y0)``, the k-th giving the coefficient of ``t**k``. In a time series
the source sits at a fixed direct-image position (XREF_SCI, YREF_SCI), so every polynomial
reduces to a plain one whose coefficients are fixed numbers (:class:`GrismOrder`).

The WCS follows the official time-series grism model so that wavelengths and positions
agree with it:

- input ``(x, y, order)``: 0-based subarray pixel of the dispersed image and the order;
- forward (row dispersion, GRISMR): ``dx = (x + SUBSTRT1 - 1) - x0``, ``t = invdispx(dx)``
  (without ``invdispx``: the exact inverse of a linear ``dispx``, else linear
  interpolation in 40 samples of ``dispx`` over ``t`` in [0, 1], clamped at the ends),
  ``lambda = displ(t)``, divided by ``1 + VELOSYS/c`` when VELOSYS is known; the outputs
  are ``(x0, y0, lambda, order)`` with ``(x0, y0)`` = (XREF_SCI, YREF_SCI) used as
  0-based full-frame pixels, as the official pipeline does;
- ``(x0, y0)`` goes through the imaging distortion (with the filter offset when given),
  the velocity-aberration scale and the pointing to the sky; ``lambda`` and ``order``
  pass through; the output is ``(ra, dec, lambda, order)``;
- inverse: ``t = invdispl(lambda)`` (without it: interpolation in 40 samples of
  ``displ``), ``x = x0 + dispx(t) - (SUBSTRT1 - 1)``, ``y = y0 + dispy(t) - (SUBSTRT2 - 1)``;
- orders are told apart with a :class:`gwcs.selector.RegionsSelector` keyed by the order
  input (NaN for an order the reference does not describe), so the object is written to
  ASDF with standard converters;
- frames ``grism_detector``, ``direct_image``, ``v2v3``, ``v2v3vacorr``, ``world`` (the
  last four with a spectral axis ``wavelength``); no bounding box (the official one has
  none before extract_2d).

:func:`tso_slit_wcs` makes the WCS of an extract_2d cut-out: inputs ``(x, y)`` of the
cut-out, the order fixed, bounding box the cut-out.

References
----------
JWST pipeline documentation, ``assign_wcs`` ("NIRCam grism time series": the
``grism_detector`` -> ``direct_image`` -> ``v2v3`` -> ``world`` pipeline, XREF_SCI /
YREF_SCI as the source position) and the ``specwcs`` reference for NIRCam grisms
(``displ``, ``dispx``, ``dispy``, ``invdispl``, ``invdispx``, ``invdispy``, ``orders``).

Pirzkal, N. & Ryan, R. 2017, "A More Generalized Coordinate Transformation Approach for
Grisms", WFC3 ISR 2017-01 (the ``t``-parametrised trace and dispersion polynomials).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import gwcs
import numpy as np
from astropy import coordinates
from astropy import units as u
from astropy.modeling import models
from gwcs import coordinate_frames as cf
from gwcs import selector

from .pointing import Pointing, v2v3_to_sky, va_correction

__all__ = [
    "GRISM_SAMPLES",
    "GrismOrder",
    "GrismWcsError",
    "grism_frames",
    "tso_slit_wcs",
    "tsgrism_wcs",
]

#: Samples of ``t`` in [0, 1] when a polynomial has no inverse in the reference
#: (the official sampling).
GRISM_SAMPLES = 40

_C_M_PER_S = 299792458.0
# Abscissae standing for minus/plus infinity in the sampled inverses (clamping).
_FAR = 1.0e30


class GrismWcsError(ValueError):
    """Inputs that cannot make a grism WCS (names the value and what was expected)."""


def _coefficients(values, name: str, order: int, *, optional: bool = False):
    if values is None:
        if optional:
            return None
        raise GrismWcsError(f"order {order}: {name} is missing; expected its coefficients")
    arr = tuple(float(v) for v in np.ravel(np.asarray(values, dtype=np.float64)))
    if not arr or not all(math.isfinite(v) for v in arr):
        raise GrismWcsError(
            f"order {order}: {name}={values!r}; expected finite polynomial coefficients"
        )
    return arr


@dataclass(frozen=True)
class GrismOrder:
    """The dispersion polynomials of one order at the source's direct-image position.

    Coefficients are in increasing powers of the polynomial's variable.

    Attributes
    ----------
    order : int
        Spectral order.
    displ : tuple of float
        Wavelength (micron) as a polynomial of ``t``.
    dispx, dispy : tuple of float
        Trace offset from the source, pixels, as polynomials of ``t``.
    invdispl : tuple of float or None
        ``t`` as a polynomial of the wavelength (micron); None if the reference has none.
    invdispx : tuple of float or None
        ``t`` as a polynomial of ``dx`` (pixels); None if the reference has none.
    """

    order: int
    displ: tuple
    dispx: tuple
    dispy: tuple
    invdispl: tuple | None = None
    invdispx: tuple | None = None

    def __post_init__(self) -> None:
        try:
            order = int(self.order)
        except (TypeError, ValueError):
            raise GrismWcsError(f"order={self.order!r}: expected an integer") from None
        object.__setattr__(self, "order", order)
        for name in ("displ", "dispx", "dispy"):
            object.__setattr__(self, name, _coefficients(getattr(self, name), name, order))
        for name in ("invdispl", "invdispx"):
            value = _coefficients(getattr(self, name), name, order, optional=True)
            object.__setattr__(self, name, value)


def _polynomial(coeffs: Sequence[float], name: str) -> models.Polynomial1D:
    params = {f"c{i}": c for i, c in enumerate(coeffs)}
    return models.Polynomial1D(len(coeffs) - 1, name=name, **params)


def _sampled_inverse(coeffs: Sequence[float], what: str, order: int) -> models.Tabular1D:
    """``t`` from the polynomial's value, by linear interpolation in
    :data:`GRISM_SAMPLES` samples over [0, 1], clamped beyond the sampled range."""
    t = np.linspace(0.0, 1.0, GRISM_SAMPLES)
    values = np.polynomial.polynomial.polyval(t, np.asarray(coeffs))
    sort = np.argsort(values)
    values, t = values[sort], t[sort]
    if np.any(np.diff(values) <= 0):
        raise GrismWcsError(
            f"order {order}: {what} is not monotonic over t in [0, 1]; its inverse cannot be "
            "sampled (expected a reference with the inverse polynomial)"
        )
    points = np.concatenate(([-_FAR], values, [_FAR]))
    table = np.concatenate(([t[0]], t, [t[-1]]))
    return models.Tabular1D(points=points, lookup_table=table, method="linear",
                            bounds_error=False, fill_value=None, name=f"t_from_{what}")  # fmt: skip


def _t_from_dx(o: GrismOrder) -> models.Model:
    if o.invdispx is not None:
        return _polynomial(o.invdispx, "invdispx")
    if len(o.dispx) <= 2:
        c0, c1 = o.dispx[0], (o.dispx[1] if len(o.dispx) > 1 else 0.0)
        if c1 == 0:
            raise GrismWcsError(f"order {o.order}: dispx is constant; expected a dispersion")
        return models.Shift(-c0) | models.Scale(1.0 / c1, name="invdispx")
    return _sampled_inverse(o.dispx, "dispx", o.order)


def _t_from_wavelength(o: GrismOrder) -> models.Model:
    if o.invdispl is not None:
        return _polynomial(o.invdispl, "invdispl")
    return _sampled_inverse(o.displ, "displ", o.order)


def _order_transform(o: GrismOrder, *, x0: float, y0: float, xoff: float, yoff: float,
                     factor: float) -> models.Model:  # fmt: skip
    """(x, y, order) -> (x0, y0, lambda, order) for one order, with its inverse."""
    wave = models.Shift(xoff) | models.Shift(-x0) | _t_from_dx(o) | _polynomial(o.displ, "displ")
    if factor != 1.0:
        wave = wave | models.Scale(factor, name="velocity_correction")
    forward = models.Mapping((0, 0, 0, 2)) | (
        models.Const1D(x0, name="x0") & models.Const1D(y0, name="y0") & wave & models.Identity(1)
    )
    to_t = _t_from_wavelength(o)
    if factor != 1.0:
        to_t = models.Scale(1.0 / factor, name="inv_velocity_correction") | to_t
    x = models.Mapping((0,), n_inputs=4) + (
        models.Mapping((2,), n_inputs=4) | to_t | _polynomial(o.dispx, "dispx")
    )
    y = models.Mapping((1,), n_inputs=4) + (
        models.Mapping((2,), n_inputs=4) | to_t | _polynomial(o.dispy, "dispy")
    )
    inverse = models.Mapping((0, 1, 2, 3, 0, 1, 2, 3, 3)) | (
        (x | models.Shift(-xoff)) & (y | models.Shift(-yoff)) & models.Identity(1)
    )
    forward.inverse = inverse
    return forward


def _order_selector(transforms: dict[int, models.Model]) -> selector.RegionsSelector:
    labels = {k: models.Mapping((2,), n_inputs=3) | models.Const1D(k) for k in transforms}
    mapper = selector.LabelMapperDict(("x", "y", "order"), labels,
                                      inputs_mapping=models.Mapping((2,), n_inputs=3))  # fmt: skip
    inv_labels = {k: models.Mapping((3,), n_inputs=4) | models.Const1D(k) for k in transforms}
    mapper.inverse = selector.LabelMapperDict(
        ("x0", "y0", "lam", "order"), inv_labels, inputs_mapping=models.Mapping((3,), n_inputs=4)
    )
    return selector.RegionsSelector(("x", "y", "order"), ("x0", "y0", "lam", "order"),
                                    transforms, mapper, name="grism_dispersion")  # fmt: skip


def grism_frames() -> dict[str, cf.CoordinateFrame]:
    """The official frames of a NIRCam grism WCS.

    Returns
    -------
    dict
        ``grism_detector`` (pixels), ``direct_image`` (full-frame pixels + wavelength),
        ``v2v3`` and ``v2v3vacorr`` (arcsec + wavelength), ``world`` (ICRS + wavelength).
    """
    spec = cf.SpectralFrame(name="spectral", axes_order=(2,), unit=(u.micron,),
                            axes_names=("wavelength",))  # fmt: skip

    def spatial(name, names, unit):
        return cf.Frame2D(name=name, axes_order=(0, 1), axes_names=names, unit=(unit, unit))

    icrs = cf.CelestialFrame(reference_frame=coordinates.ICRS(), name="icrs")
    return {
        "grism_detector": cf.Frame2D(name="grism_detector", axes_order=(0, 1),
                                     unit=(u.pix, u.pix)),
        "direct_image": cf.CompositeFrame(
            [spatial("full_detector", ("dx", "dy"), u.pix), spec], name="direct_image"),
        "v2v3": cf.CompositeFrame(
            [spatial("v2v3_spatial", ("v2", "v3"), u.arcsec), spec], name="v2v3"),
        "v2v3vacorr": cf.CompositeFrame(
            [spatial("v2v3vacorr_spatial", ("v2", "v3"), u.arcsec), spec], name="v2v3vacorr"),
        "world": cf.CompositeFrame([icrs, spec], name="world"),
    }  # fmt: skip


def _velocity_factor(velosys: float | None) -> float:
    if velosys is None:
        return 1.0
    v = float(velosys)
    if not math.isfinite(v):
        raise GrismWcsError(f"VELOSYS={velosys!r}: expected a finite velocity in m/s")
    return 1.0 / (1.0 + v / _C_M_PER_S)


def tsgrism_wcs(
    distortion,
    orders: Sequence[GrismOrder],
    pointing: Pointing,
    *,
    source_xy: tuple[float, float],
    subarray_start: tuple[int, int],
    velosys: float | None = None,
    filter_offset: tuple[float, float] | None = None,
) -> gwcs.WCS:
    """Build the WCS of a NIRCam grism time series (row dispersion, GRISMR).

    Parameters
    ----------
    distortion : astropy.modeling.Model
        NIRCam imaging distortion: full-frame pixels (0-based x, y) to (V2, V3) arcsec, with
        an inverse (the ``distortion`` reference's ``model``). Not modified.
    orders : sequence of GrismOrder
        The orders of the ``specwcs`` reference, at the source position.
    pointing : Pointing
        Exposure pointing and velocity-aberration scale.
    source_xy : tuple of float
        ``(XREF_SCI, YREF_SCI)``: the source's direct-image position, used as 0-based
        full-frame pixels (the official convention).
    subarray_start : tuple of int
        1-based ``(SUBSTRT1, SUBSTRT2)``.
    velosys : float or None, optional
        Barycentric radial velocity of the observatory, m/s (VELOSYS); None: none.
    filter_offset : tuple of float or None, optional
        ``(column_offset, row_offset)`` pixels added before the distortion.

    Returns
    -------
    gwcs.WCS
        Inputs ``(x, y, order)`` (0-based subarray pixels, order); outputs
        ``(ra, dec, wavelength, order)`` in degrees, degrees, micron. NaN for an order not in
        ``orders``. Frames as :func:`grism_frames`.

    Raises
    ------
    GrismWcsError
        If ``orders`` is empty or repeats an order, the source position, subarray start or
        velocity is invalid, or the distortion is not a 2-in/2-out model.

    References
    ----------
    JWST pipeline documentation, ``assign_wcs`` ("NIRCam grism time series").
    """
    if getattr(distortion, "n_inputs", None) != 2 or getattr(distortion, "n_outputs", None) != 2:
        raise GrismWcsError(
            f"distortion={distortion!r}: expected an imaging distortion with 2 inputs and 2 outputs"
        )
    orders = tuple(orders)
    numbers = [o.order for o in orders]
    if not orders or len(set(numbers)) != len(numbers):
        raise GrismWcsError(f"orders {numbers}: expected at least one order, each once")
    try:
        x0, y0 = (float(v) for v in source_xy)
        xstart, ystart = (int(v) for v in subarray_start)
    except (TypeError, ValueError):
        raise GrismWcsError(
            f"source_xy={source_xy!r}, subarray_start={subarray_start!r}: expected numbers "
            "(XREF_SCI, YREF_SCI) and 1-based integers (SUBSTRT1, SUBSTRT2)"
        ) from None
    if not (math.isfinite(x0) and math.isfinite(y0)) or xstart < 1 or ystart < 1:
        raise GrismWcsError(
            f"source_xy={source_xy!r}, subarray_start={subarray_start!r}: expected finite "
            "XREF_SCI/YREF_SCI and SUBSTRT1/SUBSTRT2 >= 1"
        )
    factor = _velocity_factor(velosys)
    transforms = {
        o.order: _order_transform(o, x0=x0, y0=y0, xoff=float(xstart - 1),
                                  yoff=float(ystart - 1), factor=factor)
        for o in orders
    }  # fmt: skip
    spatial = distortion.copy()
    if filter_offset is not None:
        col, row = (float(v) for v in filter_offset)
        spatial = (models.Shift(col) & models.Shift(row)) | spatial
    frames = grism_frames()
    pipeline = [
        (frames["grism_detector"], _order_selector(transforms)),
        (frames["direct_image"], spatial & models.Identity(2)),
        (frames["v2v3"], va_correction(pointing) & models.Identity(2)),
        (frames["v2v3vacorr"], v2v3_to_sky(pointing) & models.Identity(2)),
        (frames["world"], None),
    ]
    return gwcs.WCS(pipeline)


def tso_slit_wcs(wcs: gwcs.WCS, *, xstart: int, ystart: int, order: int,
                 shape: tuple[int, int]) -> gwcs.WCS:  # fmt: skip
    """The WCS of a cut-out of a grism time series, for one order.

    Parameters
    ----------
    wcs : gwcs.WCS
        From :func:`tsgrism_wcs`. Not modified.
    xstart, ystart : int
        0-based subarray column and row of the cut-out's first pixel.
    order : int
        The spectral order the cut-out holds.
    shape : tuple of int
        ``(ny, nx)`` of the cut-out.

    Returns
    -------
    gwcs.WCS
        Inputs ``(x, y)`` (0-based cut-out pixels); outputs ``(ra, dec, wavelength,
        order)``; bounding box the cut-out, ``((-0.5, nx - 0.5), (-0.5, ny - 0.5))``.
    """
    ny, nx = (int(n) for n in shape)
    order_model = models.Const1D(int(order), name="order")
    order_model.inverse = models.Const1D(int(order), name="order")
    to_direct = wcs.get_transform("grism_detector", "direct_image")
    forward = (
        models.Mapping((0, 1, 0))
        | (models.Shift(int(xstart)) & models.Shift(int(ystart)) & order_model)
        | to_direct
    )
    frames = {f.name: f for f in (step.frame for step in wcs.pipeline)}
    pipeline = [
        (frames["grism_detector"], forward),
        (frames["direct_image"], wcs.get_transform("direct_image", "v2v3")),
        (frames["v2v3"], wcs.get_transform("v2v3", "v2v3vacorr")),
        (frames["v2v3vacorr"], wcs.get_transform("v2v3vacorr", "world")),
        (frames["world"], None),
    ]
    out = gwcs.WCS(pipeline)
    out.bounding_box = ((-0.5, nx - 0.5), (-0.5, ny - 0.5))
    return out
