"""The ``white_light`` step adapter: ``x1dints`` -> white-light curve (``_whtlt.ecsv``)."""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any

import numpy as np

from ..datamodels.io import InputError
from ..stpipe import Param, Step

__all__ = ["WhiteLightStep", "white_light_table"]

log = logging.getLogger(__name__)


def _name(model: Any) -> str:
    return getattr(model.meta, "filename", None) or "<model>"


def _spectra(model: Any):
    from .curve import Spectrum

    out = []
    for spec in model.spec:
        table = spec.spec_table
        names = table.dtype.names or ()
        for col in ("WAVELENGTH", "FLUX", "MJD-AVG", "TDB-MID"):
            if col not in names:
                raise InputError(f"{_name(model)}: spectrum table has no {col} column; "
                                 "expected a TSO x1dints (TSOMultiSpecModel) product")  # fmt: skip
        flux = np.asarray(table["FLUX"], dtype=np.float64)
        if flux.ndim == 1:
            flux = flux[None, :]
        out.append(Spectrum(
            wavelength=np.asarray(table["WAVELENGTH"], dtype=np.float64), flux=flux,
            mjd=np.asarray(table["MJD-AVG"], dtype=np.float64).ravel(),
            tdb=np.asarray(table["TDB-MID"], dtype=np.float64).ravel(),
            order=getattr(spec, "spectral_order", None),
            detector=getattr(spec, "detector", None),
        ))  # fmt: skip
    return out


def _flux_unit(model: Any) -> str | None:
    try:
        return model.spec[0].spec_table.columns["FLUX"].unit
    except (AttributeError, KeyError, IndexError):
        return None


def white_light_table(model: Any, *, ranges=None, min_wave: float | None = None,
                      max_wave: float | None = None):  # fmt: skip
    """The white-light table of a ``TSOMultiSpecModel`` (see :mod:`webbcal.white_light.curve`).

    Parameters
    ----------
    model : TSOMultiSpecModel
        The ``x1dints`` product (not modified).
    ranges : WavelengthRange or None
        WAVELENGTHRANGE rows (NIRISS SOSS), used where the user gives no limit.
    min_wave, max_wave : float or None
        Inclusive wavelength limits, micron.

    Returns
    -------
    astropy.table.QTable
        Columns MJD_UTC, BJD_TDB, whitelight_flux (unit of the FLUX column); meta
        instrument, exp_type, subarray, filter, pupil, target_name.
    """
    from astropy import units as u
    from astropy.table import QTable

    from .curve import wavelength_limits, white_light_columns

    spectra = _spectra(model)
    filt = model.meta.instrument.filter
    limits = []
    for spec in spectra:
        try:
            limits.append(wavelength_limits(spec.order, filt, ranges, min_wave, max_wave))
        except ValueError as exc:
            raise InputError(f"{_name(model)}: {exc}") from None
    columns, dropped = white_light_columns(spectra, limits)
    if dropped:
        log.warning("%d spectra have no mid time or a repeated one; they are left out of "
                    "the white-light table", dropped)  # fmt: skip
    meta = OrderedDict(
        instrument=model.meta.instrument.name, exp_type=model.meta.exposure.type,
        subarray=model.meta.subarray.name, filter=filt, pupil=model.meta.instrument.pupil,
        target_name=model.meta.target.catalog_name,
    )  # fmt: skip
    table = QTable(meta=meta)
    unit = _flux_unit(model)
    for name, values in columns.items():
        if name.startswith("whitelight_flux") and unit is not None:
            table[name] = values << u.Unit(unit)
        else:
            table[name] = values
    return table


class WhiteLightStep(Step):
    """Sum the flux of each integration's spectra over wavelength (official alias
    ``white_light``).

    Input: an ``x1dints`` product (``TSOMultiSpecModel``, one row per integration).
    Output: an astropy ``QTable`` (saved as ``<product>_whtlt.ecsv``) with the
    mid-integration times ``MJD_UTC`` and ``BJD_TDB`` and the summed flux
    ``whitelight_flux`` per order and detector (:mod:`webbcal.white_light.curve`).

    The wavelength range is ``[min_wavelength, max_wavelength]`` micron (inclusive);
    a limit not given comes, for NIRISS SOSS, from the ``wavelengthrange`` reference
    (per order and filter), else every wavelength is used. Fluxes that are NaN (for
    example pixels flagged by outlier detection and left out of the box) add nothing.

    Differences from the official step, by design: an input without spectra, or a
    spectrum table without WAVELENGTH/FLUX/MJD-AVG/TDB-MID, raises
    :class:`~webbcal.datamodels.io.InputError` (officially: an error logged and None
    returned); fluxes are placed by time even when the integrations are not in time
    order.

    References
    ----------
    JWST pipeline documentation, ``white_light`` step (description, arguments,
    WAVELENGTHRANGE reference, output table).
    """

    class_alias = "white_light"
    reference_file_types = ("wavelengthrange",)
    optional_reference_types = ("wavelengthrange",)
    spec = (
        Param("min_wavelength", float, None, "Minimum wavelength summed", unit="micron",
              allow_none=True),
        Param("max_wavelength", float, None, "Maximum wavelength summed", unit="micron",
              allow_none=True),
        Param("output_ext", str, ".ecsv", "Output file type"),
        Param("suffix", str, "whtlt", "Default suffix for output files"),
    )  # fmt: skip

    def _copy_input(self, model: Any) -> Any:
        return model  # only read

    def _set_status(self, model: Any, status: str) -> None:
        return None

    def finalize_result(self, result: Any) -> None:
        return None

    def _store_logs(self, result: Any) -> None:
        return None

    def _resolve_references(self, model: Any) -> None:
        self._references_used.clear()  # only NIRISS SOSS uses one: looked up in process()

    def required_reference_types_for(self, model: Any) -> tuple[str, ...]:
        exp_type = (getattr(model.meta.exposure, "type", None) or "").upper()
        if self.skip or exp_type != "NIS_SOSS":
            return ()
        return super().required_reference_types()

    def required_reference_types(self) -> tuple[str, ...]:
        return ()

    def process(self, model: Any) -> Any:
        """The white-light table of ``model`` (an x1dints product).

        Raises
        ------
        InputError
            If ``model`` holds no spectra, a spectrum lacks a needed column, or the
            WAVELENGTHRANGE reference has no single row for an order and filter.
        """
        from ..datamodels import ModelLibrary

        if isinstance(model, ModelLibrary):
            raise InputError("white_light: expected one x1dints product, got an association")
        if not model.hasattr("spec") or len(model.spec) == 0:
            raise InputError(f"{_name(model)}: no spectra found; expected an x1dints "
                             "(TSOMultiSpecModel) product")  # fmt: skip
        object.__setattr__(self, "_input_meta", model)
        ranges = self._wavelength_ranges(model)
        table = white_light_table(model, ranges=ranges, min_wave=self.min_wavelength,
                                  max_wave=self.max_wavelength)  # fmt: skip
        log.info("White-light curve: %d integrations", len(table))
        return table

    def _wavelength_ranges(self, model: Any):
        from .curve import WavelengthRange

        if (model.meta.exposure.type or "").upper() != "NIS_SOSS":
            return None
        path = self.get_reference_file(model, "wavelengthrange")
        if path is None:
            log.warning("No WAVELENGTHRANGE reference applies; every wavelength of each "
                        "spectral order is used")  # fmt: skip
            return None
        log.info("Using WAVELENGTHRANGE reference file %s", path)
        from stdatamodels.jwst import datamodels as dm

        with dm.WavelengthrangeModel(path) as ref:
            rows = list(ref.wavelengthrange.instance)
        if not rows:
            raise InputError(f"{path}: WAVELENGTHRANGE reference has no wavelengthrange rows")
        return WavelengthRange(
            order=np.array([int(r[0]) for r in rows]), filter=np.array([str(r[1]) for r in rows]),
            min_wave=np.array([float(r[2]) for r in rows]),
            max_wave=np.array([float(r[3]) for r in rows]),
        )  # fmt: skip

    # ------------------------------------------------------------------ saving
    def save_result(self, result: Any, suffix: str | None = None) -> list[str]:
        """Write the table as ``<product>_whtlt.ecsv`` (atomic)."""
        if result is None or not hasattr(result, "colnames"):
            return []
        return [self.save_ecsv(result, self.product_path(self.__dict__.get("_input_meta"), suffix))]
