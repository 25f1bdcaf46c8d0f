"""The ``x1dints`` product: one TSO spectrum table, a row per integration.

The official layout (``TSOMultiSpecModel``): extension EXTRACT1D holds one row per
integration with vector columns (WAVELENGTH, FLUX, ..., NPIXELS, one element per
dispersion element with a valid wavelength) and scalar columns INT_NUM, N_ALONGDISP,
SEGMENT and the integration times MJD-BEG/-AVG/-END and TDB-BEG/-MID/-END (from the
INT_TIMES table; NaN when it cannot be used); INT_TIMES is copied as its own extension.

References
----------
JWST pipeline documentation, "Extract_1d: output products" (x1dints, TSOMultiSpecModel,
time columns); stdatamodels ``tso_spectable.schema``.
"""

from __future__ import annotations

import logging

import numpy as np

__all__ = ["VECTOR_COLUMNS", "spectral_wcs", "time_columns", "tso_spec_table"]

log = logging.getLogger(__name__)

#: Vector columns of a TSO spectrum table, in order.
VECTOR_COLUMNS = (
    "WAVELENGTH", "FLUX", "FLUX_ERROR", "FLUX_VAR_POISSON", "FLUX_VAR_RNOISE",
    "FLUX_VAR_FLAT", "SURF_BRIGHT", "SB_ERROR", "SB_VAR_POISSON", "SB_VAR_RNOISE",
    "SB_VAR_FLAT", "DQ", "BACKGROUND", "BKGD_ERROR", "BKGD_VAR_POISSON", "BKGD_VAR_RNOISE",
    "BKGD_VAR_FLAT", "NPIXELS",
)  # fmt: skip
_TIME_COLUMNS = ("MJD-BEG", "MJD-AVG", "MJD-END", "TDB-BEG", "TDB-MID", "TDB-END")
_INT_TIMES_COLUMNS = ("int_start_MJD_UTC", "int_mid_MJD_UTC", "int_end_MJD_UTC",
                      "int_start_BJD_TDB", "int_mid_BJD_TDB", "int_end_BJD_TDB")  # fmt: skip


def _dtype(nelem: int) -> np.dtype:
    from stdatamodels.jwst.datamodels import TSOSpecModel

    kinds = {"int32": "<i4", "uint32": "<u4", "float64": "<f8"}
    fields = []
    for col in TSOSpecModel().schema["properties"]["spec_table"]["datatype"]:
        kind = kinds[col["datatype"]]
        name = col["name"]
        fields.append((name, kind, (nelem,)) if name in VECTOR_COLUMNS else (name, kind))
    return np.dtype(fields)


def tso_spec_table(columns: dict[str, np.ndarray], *, segment: int | None) -> np.ndarray:
    """The EXTRACT1D table of a TSO spectrum.

    Parameters
    ----------
    columns : dict of str to ndarray
        Each of :data:`VECTOR_COLUMNS`: shape (nints, nelem) (WAVELENGTH may be (nelem,)).
    segment : int or None
        Exposure segment number (None: 1).

    Returns
    -------
    ndarray
        Structured array with the ``tso_spectable`` columns; INT_NUM 1..nints and the
        time columns NaN (see :func:`time_columns`).
    """
    flux = columns["FLUX"]
    nints, nelem = flux.shape
    table = np.zeros(nints, dtype=_dtype(nelem))
    for name in VECTOR_COLUMNS:
        table[name] = np.broadcast_to(columns[name], (nints, nelem))
    table["N_ALONGDISP"] = nelem
    table["SEGMENT"] = 1 if segment is None else int(segment)
    table["INT_NUM"] = np.arange(1, nints + 1)
    for name in _TIME_COLUMNS:
        table[name] = np.nan
    return table


def time_columns(table: np.ndarray, int_times, *, int_start: int | None, int_end: int | None,
                 nints: int | None) -> bool:  # fmt: skip
    """Fill INT_NUM and the time columns of ``table`` (in place) from INT_TIMES.

    The table's rows are the integrations INTSTART..INTEND of the exposure (1-based);
    INT_TIMES rows are matched by ``integration_number``.

    Returns
    -------
    bool
        False (and the columns left as they are, with a warning) when the INT_TIMES
        table is missing or does not cover every integration.
    """
    if int_times is None or len(int_times) == 0:
        log.warning("INT_TIMES table not found - time keywords will not be populated.")
        return False
    first = 1 if int_start is None else int(int_start)
    if int_start is None:
        log.warning("INTSTART not found; assuming a value of 1.")
    numbers = np.asarray(int_times["integration_number"], dtype=np.int64)
    wanted = first + np.arange(len(table))
    if int_end is None:
        int_end = nints
    rows = np.searchsorted(numbers, wanted)
    ok = (rows < numbers.size) & (numbers[np.minimum(rows, numbers.size - 1)] == wanted)
    if not np.all(ok) or np.any(np.diff(numbers) <= 0):
        log.warning("Not using the INT_TIMES table because it does not include rows for all "
                    "integrations in the data.")  # fmt: skip
        return False
    table["INT_NUM"] = numbers[rows]
    for out, col in zip(_TIME_COLUMNS, _INT_TIMES_COLUMNS, strict=True):
        table[out] = np.asarray(int_times[col], dtype=np.float64)[rows]
    return True


def spectral_wcs(ra: float | None, dec: float | None, wavelength: np.ndarray):
    """A 1-D gwcs: spectral element index -> (ra, dec, wavelength) (as the official x1d).

    Returns
    -------
    gwcs.WCS
        Frames ``pixel_frame`` and ``world`` (``sky`` + ``spectral``, micron).
    """
    import gwcs
    from astropy import coordinates
    from astropy import units as u
    from astropy.modeling.models import Const1D, Mapping, Tabular1D
    from gwcs import coordinate_frames as cf

    pixel_frame = cf.CoordinateFrame(naxes=1, axes_type=("SPATIAL",), axes_order=(0,),
                                     unit=(u.pix,), name="pixel_frame")  # fmt: skip
    sky = cf.CelestialFrame(name="sky", axes_order=(0, 1), reference_frame=coordinates.ICRS())
    spec = cf.SpectralFrame(name="spectral", axes_order=(2,), unit=(u.micron,),
                            axes_names=("wavelength",))  # fmt: skip
    world = cf.CompositeFrame([sky, spec], name="world")
    index = np.arange(len(wavelength), dtype=float)
    wl = np.asarray(wavelength, dtype=np.float64)
    transform = Mapping((0, 0, 0)) | (
        Const1D(np.nan if ra is None else ra) & Const1D(np.nan if dec is None else dec)
        & Tabular1D(points=index, lookup_table=wl, bounds_error=False, fill_value=None)
    )  # fmt: skip
    transform.name = "pixel_to_world"
    steps = np.diff(wl)
    if wl.size > 1 and (np.all(steps > 0) or np.all(steps < 0)):
        order = slice(None) if steps[0] > 0 else slice(None, None, -1)
        transform.inverse = Mapping((2,)) | Tabular1D(
            points=wl[order], lookup_table=index[order], bounds_error=False
        )
    return gwcs.WCS([(pixel_frame, transform), (world, None)])
