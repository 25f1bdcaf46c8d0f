"""The white-light kernel: flux summed over a wavelength range, per integration.

Each spectrum of a ``TSOMultiSpecModel`` (a spectral order of a detector) holds one row
per integration (vector columns WAVELENGTH and FLUX, scalar columns MJD-AVG and
TDB-MID). For each row, the FLUX elements whose wavelength lies in
``[min_wave, max_wave]`` (inclusive; NaN fluxes ignored) are added up. Rows of one
spectrum with no time, or with a time already seen in that spectrum, are left out.

The table has one row per distinct time of a detector (sorted by MJD), and columns

* ``MJD_UTC`` and ``BJD_TDB`` (the mid-integration times; ``_<detector>`` appended when
  there are several detectors or the detector is NRS1/NRS2),
* ``whitelight_flux`` (``_order_<n>`` appended when there are several orders, then the
  detector suffix), in the unit of the FLUX column; NaN where a time of the detector has
  no spectrum of that order.

References
----------
JWST pipeline documentation, ``white_light`` step ("Description", "Step Arguments",
"Reference File": WAVELENGTHRANGE, used for NIRISS SOSS).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Spectrum", "WavelengthRange", "white_light_columns", "wavelength_limits"]

#: Limits used when neither the user nor a reference gives one (every wavelength kept).
_NO_MIN, _NO_MAX = -1.0, 1.0e10


@dataclass(frozen=True)
class Spectrum:
    """One TSO spectrum table's arrays.

    Attributes
    ----------
    wavelength, flux : ndarray, shape (nrows, nelem), float64
        Micron, and the flux unit of the product (Jy after photom).
    mjd, tdb : ndarray, shape (nrows,), float64
        Mid-integration MJD (UTC) and BJD (TDB); NaN when unknown.
    order : int or None
        Spectral order.
    detector : str or None
        Detector name.
    """

    wavelength: np.ndarray
    flux: np.ndarray
    mjd: np.ndarray
    tdb: np.ndarray
    order: int | None
    detector: str | None


@dataclass(frozen=True)
class WavelengthRange:
    """Rows of a WAVELENGTHRANGE reference: (order, filter) -> (min, max) micron."""

    order: np.ndarray
    filter: np.ndarray
    min_wave: np.ndarray
    max_wave: np.ndarray


def wavelength_limits(order, filter_name, ranges: WavelengthRange | None = None,
                      min_wave: float | None = None,
                      max_wave: float | None = None) -> tuple[float, float]:  # fmt: skip
    """The wavelength range summed for one order: the user's limits, else the reference's.

    Raises
    ------
    ValueError
        When ``ranges`` has no row, or several rows, for (order, filter).
    """
    ref_min, ref_max = _NO_MIN, _NO_MAX
    if ranges is not None:
        hit = (np.asarray(ranges.order) == int(order)) & (np.asarray(ranges.filter) == filter_name)
        if np.count_nonzero(hit) != 1:
            what = "No" if not hit.any() else "More than one"
            raise ValueError(f"{what} wavelength range in the WAVELENGTHRANGE reference for "
                             f"spectral order {order} and filter {filter_name}")  # fmt: skip
        ref_min = float(np.asarray(ranges.min_wave)[hit][0])
        ref_max = float(np.asarray(ranges.max_wave)[hit][0])
    return (ref_min if min_wave is None else float(min_wave),
            ref_max if max_wave is None else float(max_wave))  # fmt: skip


def _first_of_each_time(mjd: np.ndarray) -> np.ndarray:
    """True for rows with a time that is not NaN and not seen in an earlier row."""
    keep = np.zeros(mjd.shape, dtype=bool)
    finite = np.flatnonzero(~np.isnan(mjd))
    _, first = np.unique(mjd[finite], return_index=True)
    keep[finite[first]] = True
    return keep


def _summed(spec: Spectrum, lo: float, hi: float) -> np.ndarray:
    wave = np.broadcast_to(np.asarray(spec.wavelength, dtype=np.float64), spec.flux.shape)
    inside = (wave >= lo) & (wave <= hi)
    flux = np.where(inside, np.asarray(spec.flux, dtype=np.float64), np.nan)
    return np.nansum(flux, axis=1)


def white_light_columns(spectra: list[Spectrum], limits: list[tuple[float, float]]
                        ) -> tuple[dict[str, np.ndarray], int]:  # fmt: skip
    """The white-light columns of a list of TSO spectra.

    Parameters
    ----------
    spectra : list of Spectrum
        The spectra of the product (orders and detectors), in product order.
    limits : list of (float, float)
        The inclusive wavelength range (micron) of each spectrum.

    Returns
    -------
    columns : dict of str to ndarray
        Column name -> float64 array of one length, in table order (see module).
    dropped : int
        Rows left out (no time, or a repeated time).
    """
    orders, detectors = [], []
    for spec in spectra:
        if spec.order not in orders:
            orders.append(spec.order)
        if spec.detector not in detectors:
            detectors.append(spec.detector)
    per_spec, dropped = [], 0
    for spec, (lo, hi) in zip(spectra, limits, strict=True):
        keep = _first_of_each_time(np.asarray(spec.mjd, dtype=np.float64))
        dropped += int(keep.size - np.count_nonzero(keep))
        sums = _summed(spec, lo, hi)
        per_spec.append((spec, keep, sums))
    times = {}
    for det in detectors:
        mjd = np.concatenate([s.mjd[k] for s, k, _ in per_spec if s.detector == det])
        tdb = np.concatenate([s.tdb[k] for s, k, _ in per_spec if s.detector == det])
        mjd_u, first = np.unique(mjd, return_index=True)
        times[det] = (mjd_u, tdb[first])
    nrows = max((t[0].size for t in times.values()), default=0)
    columns: dict[str, np.ndarray] = {}
    for det in detectors:
        suffix = f"_{det}" if len(detectors) > 1 or str(det).upper() in ("NRS1", "NRS2") else ""
        mjd_u, tdb_u = times[det]
        mjd = np.full(nrows, np.nan)
        tdb = np.full(nrows, np.nan)
        mjd[: mjd_u.size], tdb[: tdb_u.size] = mjd_u, tdb_u
        columns[f"MJD_UTC{suffix}"] = mjd
        columns[f"BJD_TDB{suffix}"] = tdb
        for order in orders:
            flux = np.full(nrows, np.nan)
            for spec, keep, sums in per_spec:
                if spec.detector == det and spec.order == order:
                    rows = np.searchsorted(mjd_u, spec.mjd[keep])
                    flux[rows] = sums[keep]
            name = "whitelight_flux" + (f"_order_{order}" if len(orders) > 1 else "")
            columns[name + suffix] = flux
    return columns, dropped
