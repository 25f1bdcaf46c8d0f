"""The cut-out of a NIRCam grism time series (``NRC_TSGRISM``) and its wavelength ranges.

In a grism time series the single bright source sits at the aperture's reference pixel
(XREF_SCI, YREF_SCI), possibly moved by an offset special requirement (the dither
offsets XOFFSET/YOFFSET, arcsec in the ideal frame). The official cut-out, which this
module reproduces:

- along the dispersion: every column of the subarray (the NIRCam team asked for all the
  data; the ``wavelengthrange`` limits of the filter and order only locate the trace,
  which must fall on the subarray);
- across it: rows ``0 .. min(height, SUBSIZE2) - 1`` for an extraction height ``height``
  (64 by default; the source is expected near row 34 of the SUBGRISM subarrays, so the
  cut-out starts at the subarray's first row);
- the cut-out's WCS is the exposure's with the order fixed and the cut-out origin added
  (:func:`webbcal.wcs.grism.tso_slit_wcs`); its WAVELENGTH array is that WCS evaluated at
  every pixel; SOURCE_XPOS is the source's direct-image column (0-based, the offset
  applied), SOURCE_YPOS 34.

References
----------
JWST pipeline documentation, ``extract_2d`` ("NIRCam grism time series",
``tsgrism_extract_height``, ``extract_orders``) and the ``wavelengthrange`` reference file.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..datamodels.io import InputError

__all__ = [
    "TSO_SOURCE_ROW",
    "TsoWavelengthRanges",
    "cutout_rows",
    "extract_tso_slit",
    "read_tsgrism_wavelengthrange",
]

log = logging.getLogger(__name__)

#: Row of the cut-out where the source is expected (recorded as SOURCE_YPOS).
TSO_SOURCE_ROW = 34

_MICRON_PER = {"um": 1.0, "micron": 1.0, "m": 1.0e6, "nm": 1.0e-3, "angstrom": 1.0e-4}


@dataclass(frozen=True)
class TsoWavelengthRanges:
    """The rows of a NIRCam TSGRISM ``wavelengthrange`` reference.

    Attributes
    ----------
    rows : tuple of (int, str, float, float)
        ``(order, filter, min, max)``, micron.
    extract_orders : dict of str to tuple of int
        Orders extracted by default, per filter.
    name : str
        The file name, for messages.
    """

    rows: tuple
    extract_orders: dict
    name: str

    def limits(self, order: int, filter_name: str) -> tuple[float, float]:
        """``(min, max)`` micron of ``order`` and ``filter_name``.

        Raises
        ------
        InputError
            If the reference has no row for them.
        """
        for o, f, lo, hi in self.rows:
            if o == order and f == filter_name:
                return lo, hi
        have = sorted({f"{f}/{o}" for o, f, _, _ in self.rows})
        raise InputError(
            f"{self.name}: no wavelength range for FILTER={filter_name!r}, order {order}; "
            f"rows (filter/order): {', '.join(have)}"
        )

    def default_orders(self, filter_name: str) -> tuple[int, ...]:
        """Orders to extract for ``filter_name`` (the reference's ``extract_orders``).

        Raises
        ------
        InputError
            If ``extract_orders`` has no entry for the filter.
        """
        if filter_name not in self.extract_orders:
            raise InputError(
                f"{self.name}: extract_orders has no entry for FILTER={filter_name!r} "
                f"(filters: {sorted(self.extract_orders)}); give extract_orders explicitly"
            )
        return self.extract_orders[filter_name]


def _unit_factor(unit: Any, name: str) -> float:
    if unit is None:
        return 1.0
    text = str(unit).strip().lower()
    if text not in _MICRON_PER:
        raise InputError(f"{name}: wavelength_units={unit!r}; expected micron or metres")
    return _MICRON_PER[text]


def read_tsgrism_wavelengthrange(path: str) -> TsoWavelengthRanges:
    """Read a NIRCam TSGRISM ``wavelengthrange`` reference (ASDF).

    Rows ``[order, fieldpoint, filter, min, max]`` (the current layout) and
    ``[order, filter, min, max]`` (the older one) are both read.

    Raises
    ------
    InputError
        If the file cannot be read, declares another INSTRUME or EXP_TYPE than NIRCam
        NRC_TSGRISM, or has malformed rows.
    """
    from stdatamodels.jwst.datamodels import WavelengthrangeModel

    name = os.path.basename(path)
    try:
        ref = WavelengthrangeModel(path)
    except Exception as exc:  # stdatamodels raises several types for a wrong file
        raise InputError(f"{name}: cannot be read as a wavelengthrange reference ({exc})") from None
    try:
        inst = ref.meta.instrument.name
        exp_type = ref.meta.exposure.type
        if inst != "NIRCAM" or exp_type != "NRC_TSGRISM":
            raise InputError(
                f"{name}: INSTRUME={inst!r}, EXP_TYPE={exp_type!r}; expected the wavelengthrange "
                "reference of NIRCAM NRC_TSGRISM"
            )
        factor = _unit_factor(ref.meta.wavelength_units, name)
        rows = []
        for i, row in enumerate(list(ref.wavelengthrange or [])):
            row = list(row)
            try:
                if len(row) == 5:
                    order, _, filt, lo, hi = row
                elif len(row) == 4:
                    order, filt, lo, hi = row
                else:
                    raise ValueError(f"{len(row)} values")
                rows.append((int(order), str(filt), float(lo) * factor, float(hi) * factor))
            except (TypeError, ValueError) as exc:
                raise InputError(
                    f"{name}: wavelengthrange row {i} = {row!r} ({exc}); expected [order, "
                    "fieldpoint, filter, min, max]"
                ) from None
        orders = {}
        for entry in list(ref.extract_orders or []):
            filt, values = entry
            orders[str(filt)] = tuple(int(v) for v in values)
    finally:
        ref.close()
    if not rows:
        raise InputError(f"{name}: the wavelengthrange table is empty")
    return TsoWavelengthRanges(rows=tuple(rows), extract_orders=orders, name=name)


def cutout_rows(height: int, ysize: int) -> tuple[int, int]:
    """First and last (inclusive, 0-based) rows of the time-series cut-out.

    Parameters
    ----------
    height : int
        ``tsgrism_extract_height`` (>= 2).
    ysize : int
        Rows of the subarray.

    Returns
    -------
    tuple of int
        ``(0, min(height, ysize) - 1)``.

    Raises
    ------
    InputError
        If ``height`` < 2.
    """
    if height < 2:
        raise InputError(
            f"tsgrism_extract_height={height}; expected at least 2 rows (the official step "
            "gives 35 rows for 0 or 1, which is not reproduced)"
        )
    return 0, min(int(height), int(ysize)) - 1


def _ideal_to_v2v3(x_idl: float, y_idl: float, info: Any) -> tuple[float, float]:
    """Ideal-frame offset (arcsec) to V2V3 (arcsec) of the aperture (SIAF convention)."""
    angle = math.radians(float(info.v3yangle))
    parity = float(info.vparity)
    v2 = info.v2_ref + parity * x_idl * math.cos(angle) + y_idl * math.sin(angle)
    v3 = info.v3_ref - parity * x_idl * math.sin(angle) + y_idl * math.cos(angle)
    return v2, v3


def source_column(model: Any) -> float:
    """0-based full-frame column of the source in the direct image.

    The aperture reference point moved by the dither offsets (XOFFSET, YOFFSET; arcsec
    in the ideal frame; missing values count as 0), through the inverse distortion.

    Raises
    ------
    InputError
        If V3I_YANG, VPARITY, V2_REF or V3_REF is missing.
    """
    info = model.meta.wcsinfo
    for key, value in (("V3I_YANG", info.v3yangle), ("VPARITY", info.vparity),
                       ("V2_REF", info.v2_ref), ("V3_REF", info.v3_ref)):  # fmt: skip
        if value is None:
            raise InputError(f"{model.meta.filename or 'input'}: keyword {key} is missing; "
                             "expected the aperture's SIAF values (set at level 1b)")  # fmt: skip
    dither = model.meta.dither
    offsets = [dither.x_offset, dither.y_offset]
    if any(v is None for v in offsets):
        log.warning("XOFFSET/YOFFSET missing: the source is taken at the reference point")
    x_idl, y_idl = (0.0 if v is None else float(v) for v in offsets)
    v2, v3 = _ideal_to_v2v3(x_idl, y_idl, info)
    to_direct = model.meta.wcs.get_transform("v2v3", "direct_image")
    return float(to_direct(v2, v3, np.nan, 1)[0])


def _trace_extent(model, source_xy, limits, order):
    to_grism = model.meta.wcs.get_transform("direct_image", "grism_detector")
    ends = [to_grism(source_xy[0], source_xy[1], w, order) for w in limits]
    (x_lo, y_lo, _), (x_hi, y_hi, _) = ends
    return (float(min(x_lo, x_hi)), float(max(x_lo, x_hi)),
            float(min(y_lo, y_hi)), float(max(y_lo, y_hi)))  # fmt: skip


def _check_trace(model, extent, rows, order, limits):
    name = model.meta.filename or "input"
    x0, x1, y0, y1 = extent
    ny, nx = np.shape(model.data)[-2:]
    info, sub = model.meta.wcsinfo, model.meta.subarray
    where = (
        f"XREF_SCI={info.siaf_xref_sci}, YREF_SCI={info.siaf_yref_sci}, SUBSTRT1="
        f"{sub.xstart}, SUBSTRT2={sub.ystart}, FILTER={model.meta.instrument.filter}"
    )
    if not (np.isfinite([x0, x1, y0, y1]).all()):
        raise InputError(f"{name}: the order-{order} trace for {limits[0]:.3f}-{limits[1]:.3f} "
                         f"micron has no position ({where})")  # fmt: skip
    if x1 < -0.5 or x0 > nx - 0.5 or y1 < -0.5 or y0 > ny - 0.5:
        raise InputError(
            f"{name}: the order-{order} trace ({limits[0]:.3f}-{limits[1]:.3f} micron) spans "
            f"columns {x0:.1f}..{x1:.1f}, rows {y0:.1f}..{y1:.1f}, off the {nx}x{ny} subarray "
            f"({where}); expected a trace on the subarray"
        )
    if y0 < rows[0] - 0.5 or y1 > rows[1] + 0.5:
        log.warning("The trace (rows %.1f..%.1f) is not inside the cut-out rows %d..%d",
                    y0, y1, rows[0], rows[1])  # fmt: skip


def extract_tso_slit(model: Any, *, order: int, limits: tuple[float, float], height: int) -> Any:
    """Cut a NIRCam grism time series down to the rows of its spectrum.

    Parameters
    ----------
    model : CubeModel or ImageModel
        After assign_wcs (the grism WCS). Not modified.
    order : int
        Spectral order.
    limits : tuple of float
        ``(min, max)`` micron of the order and filter (``wavelengthrange``).
    height : int
        ``tsgrism_extract_height``.

    Returns
    -------
    stdatamodels.jwst.datamodels.SlitModel
        SCI/ERR/DQ/VAR_* of the cut-out (``(nints, rows, nx)`` or ``(rows, nx)``),
        WAVELENGTH (float, micron), the cut-out WCS, XSTART/YSTART/XSIZE/YSIZE (1-based),
        SOURCE_XPOS/SOURCE_YPOS, spectral order, INT_TIMES.

    Raises
    ------
    InputError
        If ``height`` < 2, keywords are missing, or the trace falls off the subarray.
    """
    from stdatamodels.jwst import datamodels as dm

    from ..wcs.grism import tso_slit_wcs

    info = model.meta.wcsinfo
    ny, nx = np.shape(model.data)[-2:]
    rows = cutout_rows(height, ny)
    source_x = source_column(model)
    source_y = float(info.siaf_yref_sci) - 1.0
    extent = _trace_extent(model, (source_x, source_y), limits, order)
    log.info("Spectral trace extents: (xmin: %.1f, ymin: %.1f), (xmax: %.1f, ymax: %.1f)",
             extent[0], extent[2], extent[1], extent[3])  # fmt: skip
    _check_trace(model, extent, rows, order, limits)
    log.info("Extraction limits: (xmin: 0, ymin: %d), (xmax: %d, ymax: %d)", rows[0], nx - 1,
             rows[1])  # fmt: skip
    cut = (Ellipsis, slice(rows[0], rows[1] + 1), slice(0, nx))
    out = dm.SlitModel()
    out.update(model)
    for attr in ("data", "err", "dq", "var_poisson", "var_rnoise", "var_flat"):
        value = getattr(model, attr) if model.hasattr(attr) else None
        if value is not None and np.shape(value) == np.shape(model.data):
            setattr(out, attr, np.array(value[cut]))
    shape = (rows[1] - rows[0] + 1, nx)
    wcs = tso_slit_wcs(model.meta.wcs, xstart=0, ystart=rows[0], order=order, shape=shape)
    out.meta.wcs = wcs
    y, x = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float64)
    out.wavelength = wcs.forward_transform(x, y)[2]
    out.meta.wcsinfo.siaf_xref_sci = source_x + 1.0
    out.meta.wcsinfo.siaf_yref_sci = TSO_SOURCE_ROW
    out.meta.wcsinfo.spectral_order = int(order)
    out.meta.wcsinfo.dispersion_direction = info.dispersion_direction
    out.meta.instrument.name = "NIRCAM"
    out.name = "1"
    target = model.meta.target
    out.source_type = target.source_type
    out.source_name, out.source_alias = target.catalog_name, target.proposer_name
    out.xstart, out.xsize = 1, nx
    out.ystart, out.ysize = rows[0] + 1, shape[0]
    out.source_xpos, out.source_ypos = source_x, TSO_SOURCE_ROW
    out.source_id = 1
    out.meta.bunit_data, out.meta.bunit_err = model.meta.bunit_data, model.meta.bunit_err
    if model.hasattr("int_times") and model.int_times is not None:
        out.int_times = np.array(model.int_times).copy()
    log.info("Cut-out of order %d: rows %d..%d, columns 0..%d", order, rows[0], rows[1], nx - 1)
    return out
