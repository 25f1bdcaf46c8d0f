"""The gwcs object of a MIRI LRS slitless exposure: detector -> v2v3 -> v2v3vacorr -> world.

The MIRI low-resolution spectrometer disperses along detector rows (DISPAXIS=2): the
wavelength of a pixel depends on its row only, and the trace leans slightly, so its column
moves with the row. The ``specwcs`` reference of LRS (``MiriLRSSpecwcsModel``) tabulates
the trace: for each wavelength element the trace centre (``x_center``, ``y_center``,
pixels from the reference position ``IMXSLTL``/``IMYSLTL``), the wavelength (um) and the
corners of the box in which the calibration was made (``x0..x3``, ``y0..y3``).

The official model of this table, which we follow so that wavelengths agree to 1e-6 um:

- the trace column offset ``dx(y)`` and the wavelength ``lambda(y)`` are smoothing splines
  (``scipy.interpolate.UnivariateSpline`` with smoothing factor 0.002) through the table,
  evaluated at the tabulated rows and interpolated linearly between them (NaN outside);
- a pixel ``(x, y)`` of the subarray sees the sky through the imager distortion at the
  point ``(x - dx(y), y_ref)`` of the slit (the spatial offset across the trace is measured
  from the trace; along the dispersion all rows look at the reference row);
- the wavelength is ``lambda(y)`` divided by ``1 + VELOSYS/c`` when VELOSYS is known
  (barycentric correction);
- the bounding box runs from the fifth column (the first four are reference pixels) to the
  last column of the subarray, and over the rows of the calibration boxes.

References
----------
JWST pipeline documentation, ``assign_wcs``: "MIRI LRS" (WCS of LRS fixed-slit and slitless
data) and the ``specwcs`` reference file for MIRI LRS (``WAVETABLE`` columns, ``IMXSLTL``,
``IMYSLTL``).

Dierckx, P. 1993, *Curve and Surface Fitting with Splines* (smoothing splines, as in
``scipy.interpolate.UnivariateSpline``).
"""

from __future__ import annotations

from dataclasses import dataclass

import gwcs
import numpy as np
from astropy import coordinates
from astropy import units as u
from astropy.modeling import bind_bounding_box, models
from gwcs import coordinate_frames as cf

from .pointing import Pointing, v2v3_to_sky, va_correction

__all__ = [
    "LRS_SPLINE_SMOOTHING",
    "LrsTraceTable",
    "LrsWcsError",
    "lrs_slitless_wcs",
    "lrs_wavelength_map",
]

#: Smoothing factor of the spline fits through the specwcs table (official value).
LRS_SPLINE_SMOOTHING = 0.002

#: Columns at the left edge of the slitless subarray that are reference pixels.
_REFERENCE_COLUMNS = 4

_C_M_PER_S = 299792458.0


class LrsWcsError(ValueError):
    """Inputs that cannot make an LRS WCS (names the value and what was expected)."""


@dataclass(frozen=True)
class LrsTraceTable:
    """The ``WAVETABLE`` of a MIRI LRS ``specwcs`` reference, as float64 arrays.

    Attributes
    ----------
    x_center, y_center : ndarray, shape (n,)
        Trace centre of each wavelength element, pixels from the reference position.
    wavelength : ndarray, shape (n,)
        Wavelength at the trace centre, micron.
    y0, y2 : ndarray, shape (n,)
        Rows (from the reference position) of the upper-left and lower-right corners of
        each element's calibration box; they bound the WCS along the rows.
    x_ref, y_ref : float
        1-based full-frame pixel of the reference position (``IMXSLTL``, ``IMYSLTL`` for
        slitless).
    """

    x_center: np.ndarray
    y_center: np.ndarray
    wavelength: np.ndarray
    y0: np.ndarray
    y2: np.ndarray
    x_ref: float
    y_ref: float

    def __post_init__(self) -> None:
        n = None
        for name in ("x_center", "y_center", "wavelength", "y0", "y2"):
            arr = np.asarray(getattr(self, name), dtype=np.float64)
            if arr.ndim != 1 or (n is not None and arr.size != n):
                raise LrsWcsError(
                    f"{name}: shape {arr.shape}; expected one value per wavelength element "
                    f"({n if n is not None else 'same length as x_center'})"
                )
            if not np.all(np.isfinite(arr)):
                raise LrsWcsError(f"{name}: non-finite values; expected finite pixels/microns")
            n = arr.size
            object.__setattr__(self, name, arr)
        if n < 4:
            raise LrsWcsError(f"the trace table has {n} rows; a spline fit needs at least 4")
        for name in ("x_ref", "y_ref"):
            value = getattr(self, name)
            if value is None or not np.isfinite(float(value)):
                raise LrsWcsError(f"{name}={value!r}: expected the 1-based full-frame pixel")
            object.__setattr__(self, name, float(value))
        steps = np.diff(self.y_center)
        if not (np.all(steps < 0) or np.all(steps > 0)):
            raise LrsWcsError(
                "y_center is not strictly monotonic; expected one trace row per wavelength "
                "element, in order along the dispersion"
            )


def _spline_on_table(y: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The smoothing spline of ``values(y)`` evaluated at the tabulated ``y``."""
    from scipy.interpolate import UnivariateSpline

    order = np.argsort(y)
    spline = UnivariateSpline(y[order], values[order], s=LRS_SPLINE_SMOOTHING)
    return spline(y)


def _tabular(points: np.ndarray, values: np.ndarray, name: str) -> models.Tabular1D:
    return models.Tabular1D(
        points=points, lookup_table=values, name=name, bounds_error=False, fill_value=np.nan
    )


def _velocity_factor(velosys: float | None) -> float:
    if velosys is None:
        return 1.0
    v = float(velosys)
    if not np.isfinite(v):
        raise LrsWcsError(f"VELOSYS={velosys!r}: expected a finite velocity in m/s")
    return 1.0 / (1.0 + v / _C_M_PER_S)


def _frames():
    spec = cf.SpectralFrame(name="spec", axes_order=(2,), unit=(u.micron,), axes_names=("lambda",))

    def telescope(name):
        spatial = cf.Frame2D(name=f"{name}_spatial", axes_order=(0, 1),
                             unit=(u.arcsec, u.arcsec), axes_names=("v2", "v3"))  # fmt: skip
        return cf.CompositeFrame([spatial, spec], name=name)

    icrs = cf.CelestialFrame(name="icrs", reference_frame=coordinates.ICRS(), axes_order=(0, 1),
                             unit=(u.deg, u.deg), axes_names=("RA", "DEC"))  # fmt: skip
    detector = cf.Frame2D(name="detector", axes_order=(0, 1), unit=(u.pix, u.pix))
    world = cf.CompositeFrame([icrs, spec], name="world")
    return detector, telescope("v2v3"), telescope("v2v3vacorr"), world


def lrs_slitless_wcs(
    distortion,
    table: LrsTraceTable,
    pointing: Pointing,
    *,
    shape: tuple[int, int],
    subarray_start: tuple[int, int],
    velosys: float | None = None,
) -> gwcs.WCS:
    """Build the WCS of a MIRI LRS slitless exposure.

    Parameters
    ----------
    distortion : astropy.modeling.Model
        MIRI imager distortion: full-frame pixels (0-based x, y) to (V2, V3) arcsec, with
        an inverse (the ``model`` of the ``distortion`` reference). Not modified.
    table : LrsTraceTable
        The ``specwcs`` trace table and reference position.
    pointing : Pointing
        Exposure pointing and velocity-aberration scale.
    shape : tuple of int
        ``(ny, nx)`` of the stored science array (one integration).
    subarray_start : tuple of int
        1-based ``(SUBSTRT1, SUBSTRT2)``.
    velosys : float or None, optional
        Barycentric radial velocity of the observatory, m/s (VELOSYS); None: none.

    Returns
    -------
    gwcs.WCS
        Inputs 0-based subarray ``(x, y)`` pixels; outputs ``(ra, dec, wavelength)`` in
        degrees and micron. Frames ``detector``, ``v2v3``, ``v2v3vacorr``, ``world``
        (``world`` = ICRS ``icrs`` + spectral ``spec``). NaN outside the trace table.

    Raises
    ------
    LrsWcsError
        If the shape, subarray start or velocity are invalid, or the reference position
        falls outside the subarray.

    References
    ----------
    JWST pipeline documentation, ``assign_wcs``, "MIRI LRS".
    """
    try:
        ny, nx = (int(n) for n in shape)
        xstart, ystart = (int(v) for v in subarray_start)
    except (TypeError, ValueError):
        raise LrsWcsError(
            f"shape={shape!r}, subarray_start={subarray_start!r}: expected "
            "(ny, nx) and 1-based (SUBSTRT1, SUBSTRT2) integers"
        ) from None
    if ny <= 0 or nx <= 0 or xstart < 1 or ystart < 1:
        raise LrsWcsError(f"shape={shape!r}, subarray_start={subarray_start!r}: expected "
                          "positive sizes and starts >= 1")  # fmt: skip
    # Reference position in 0-based subarray pixels.
    x_zero = table.x_ref - xstart
    y_zero = table.y_ref - ystart
    if not (-0.5 <= x_zero <= nx - 0.5 and -0.5 <= y_zero <= ny - 0.5):
        raise LrsWcsError(
            f"specwcs reference position (IMXSLTL={table.x_ref}, IMYSLTL={table.y_ref}) falls at "
            f"subarray pixel ({x_zero:.1f}, {y_zero:.1f}), outside the {nx}x{ny} subarray "
            f"starting at ({xstart}, {ystart}); expected a slitless subarray containing it"
        )
    factor = _velocity_factor(velosys)
    sub_distortion = (models.Shift(xstart - 1) & models.Shift(ystart - 1)) | distortion
    rows = table.y_center + y_zero
    dx = _spline_on_table(rows, table.x_center)
    wave = _spline_on_table(rows, table.wavelength)
    dx_model = _tabular(rows, dx, "xshiftref")
    wave_model = _tabular(rows, wave, "waveref")
    if factor != 1.0:
        wave_model = wave_model | models.Scale(factor, name="velocity_correction")

    # detector (x, y) -> slit point (x - dx(y), y_zero) -> (v2, v3); y -> wavelength.
    slit_x = models.Mapping((0,), n_inputs=2) - (models.Mapping((1,), n_inputs=2) | dx_model)
    slit_y = models.Mapping((1,), n_inputs=2) | models.Const1D(y_zero)
    spatial = models.Mapping((0, 1, 0, 1)) | (slit_x & slit_y) | sub_distortion
    forward = models.Mapping((0, 1, 0, 1)) | spatial & (
        models.Mapping((1,), n_inputs=2) | wave_model
    )

    # (v2, v3, wavelength) -> detector: row from the wavelength, column from the slit point.
    to_row = models.Mapping((2,), n_inputs=3) | wave_model.inverse
    slit_col = (
        models.Mapping((0, 1), n_inputs=3)
        | sub_distortion.inverse
        | models.Mapping((0,), n_inputs=2)
    )
    to_col = slit_col + (to_row | dx_model)
    forward.inverse = models.Mapping((0, 1, 2, 0, 1, 2)) | to_col & to_row

    y_low = float(np.floor(np.min(table.y2) + y_zero)) - 0.5
    y_high = float(np.ceil(np.max(table.y0) + y_zero)) + 0.5
    bbox = ((xstart - 1 + _REFERENCE_COLUMNS - 0.5, nx - 1 + 0.5), (y_low, y_high))
    bind_bounding_box(forward, bbox, order="F")

    detector, v2v3, v2v3vacorr, world = _frames()
    pipeline = [
        (detector, forward),
        (v2v3, va_correction(pointing) & models.Identity(1)),
        (v2v3vacorr, v2v3_to_sky(pointing) & models.Identity(1)),
        (world, None),
    ]
    wcs = gwcs.WCS(pipeline)
    wcs.bounding_box = bbox
    return wcs


def lrs_wavelength_map(wcs: gwcs.WCS, shape: tuple[int, int]) -> np.ndarray:
    """Wavelength of every pixel of one integration, NaN outside the bounding box.

    Parameters
    ----------
    wcs : gwcs.WCS
        From :func:`lrs_slitless_wcs`.
    shape : tuple of int
        ``(ny, nx)``.

    Returns
    -------
    ndarray, shape (ny, nx), float64
        Micron.
    """
    ny, nx = shape
    y, x = np.mgrid[0:ny, 0:nx]
    return np.asarray(wcs(x.astype(float), y.astype(float))[2], dtype=np.float64)
