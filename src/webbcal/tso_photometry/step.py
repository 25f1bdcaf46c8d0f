"""The ``tso_photometry`` step adapter: ``_calints`` imaging time series -> ``_phot.ecsv``."""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any

import numpy as np

from ..datamodels.io import InputError
from ..stpipe import Param, Step

__all__ = ["TSOPhotometryStep"]

log = logging.getLogger(__name__)


def _name(model: Any) -> str:
    return getattr(model.meta, "filename", None) or "<model>"


def _mid_times(model: Any) -> tuple[np.ndarray, np.ndarray]:
    """Mid-integration MJD (UTC) and BJD (TDB) of the cube's integrations."""
    table = model.int_times if model.hasattr("int_times") else None
    if table is None or len(table) == 0:
        raise InputError(f"{_name(model)}: no INT_TIMES table (or an empty one); "
                         "tso_photometry needs the integration times")  # fmt: skip
    nints = model.data.shape[0] if model.data.ndim == 3 else 1
    start = model.meta.exposure.integration_start or 1
    first = int(np.asarray(table["integration_number"])[0])
    offset = int(start) - first
    utc = np.asarray(table["int_mid_MJD_UTC"], dtype=np.float64)[offset : offset + nints]
    tdb = np.asarray(table["int_mid_BJD_TDB"], dtype=np.float64)[offset : offset + nints]
    if offset < 0 or utc.size != nints:
        raise InputError(f"{_name(model)}: INT_TIMES rows {first}..{first + len(table) - 1} "
                         f"do not cover integrations {start}..{start + nints - 1}")  # fmt: skip
    return utc, tdb


class TSOPhotometryStep(Step):
    """Circular-aperture photometry of each integration of an imaging time series
    (official alias ``tso_photometry``).

    Input: a ``_calints``/``_crfints`` cube (NRC_TSIMAGE, MIR_IMAGE TSO) with INT_TIMES,
    XREF_SCI/YREF_SCI and a WCS. The data are converted to Jy (from MJy/sr) or electrons
    (from DN/s, with the ``gain`` reference); with ``centroid_source`` the source is
    centroided in every integration (:func:`~.photometry.locate_source`) and the
    aperture placed at the median centroid (or at each integration's centroid with
    ``moving_centroid``), else at XREF_SCI/YREF_SCI. Sums in the aperture and the
    background annulus: :func:`~.photometry.aperture_sums`. NIRCam SUB64P with the WLP8
    pupil: the sum of the whole subarray, no background.

    Returns the table (astropy ``QTable``): MJD, BJD_TDB, aperture_sum(_err),
    annulus_sum(_err), annulus_mean(_err), aperture_bkg(_err), net_aperture_sum(_err),
    aperture_x/y (0-based), aperture_ra/dec_icrs, and with centroiding centroid_x/y,
    psf_width_x/y, psf_flux. ``save_catalog`` writes ``<input root>_phot.ecsv``.

    Differences from the official step, by design: a missing XREF_SCI/YREF_SCI, BUNIT
    or INT_TIMES raises :class:`~webbcal.datamodels.io.InputError` naming the file.

    References
    ----------
    JWST pipeline documentation, ``tso_photometry`` step (description, arguments,
    GAIN reference, output table).
    """

    class_alias = "tso_photometry"
    reference_file_types = ("gain",)
    spec = (
        Param("save_catalog", bool, False, "Save exposure-level catalog"),
        Param("radius", float, 3.0, "Aperture radius in pixels", unit="pixel"),
        Param("radius_inner", float, 4.0, "Background annulus inner radius in pixels",
              unit="pixel"),
        Param("radius_outer", float, 5.0, "Background annulus outer radius in pixels",
              unit="pixel"),
        Param("centroid_source", bool, True, "Centroid source before photometry"),
        Param("search_box_width", int, 41, "Box width for initial source search; must be "
              "odd"),
        Param("fit_box_width", int, 11, "Box width for centroid fit; must be odd"),
        Param("moving_centroid", bool, False, "Fit centroid values for each integration"),
    )  # fmt: skip

    def _copy_input(self, model: Any) -> Any:
        return model  # only read; converted arrays are new

    def _set_status(self, model: Any, status: str) -> None:
        return None

    def finalize_result(self, result: Any) -> None:
        return None

    def _store_logs(self, result: Any) -> None:
        return None

    def _resolve_references(self, model: Any) -> None:
        self._references_used.clear()  # the gain is needed only for DN/s data

    def process(self, model: Any) -> Any:
        """The photometry table of ``model`` (see class).

        Raises
        ------
        InputError
            Not a cube, missing XREF_SCI/YREF_SCI, BUNIT or INT_TIMES.
        """
        from astropy import units as u
        from astropy.table import QTable

        from .photometry import aperture_sums, locate_source, to_flux_units

        name = _name(model)
        if np.ndim(model.data) != 3:
            raise InputError(f"{name}: SCI has shape {np.shape(model.data)}; tso_photometry "
                             "needs a cube of integrations (nints, ny, nx)")  # fmt: skip
        wcsinfo = model.meta.wcsinfo
        for key, value in (("XREF_SCI", wcsinfo.siaf_xref_sci),
                           ("YREF_SCI", wcsinfo.siaf_yref_sci),
                           ("BUNIT (SCI)", model.meta.bunit_data),
                           ("BUNIT (ERR)", model.meta.bunit_err)):  # fmt: skip
            if value is None:
                raise InputError(f"{name}: keyword {key} is missing; tso_photometry needs it")
        x0, y0 = wcsinfo.siaf_xref_sci - 1.0, wcsinfo.siaf_yref_sci - 1.0
        utc, tdb = _mid_times(model)
        gain = None
        if model.meta.bunit_data == "DN/s":
            gain = self._gain(model)
        data, err, unit = to_flux_units(
            model.data, model.err, model.meta.bunit_data,
            pixar_sr=model.meta.photometry.pixelarea_steradians,
            integration_time=model.meta.exposure.integration_time, gain=gain,
        )  # fmt: skip
        nints = data.shape[0]
        fits: dict[str, Any] = {}
        x, y = np.full(nints, x0), np.full(nints, y0)
        if self.centroid_source:
            boxes = {}
            for key in ("search_box_width", "fit_box_width"):
                width = int(getattr(self, key))
                if width % 2 == 0:
                    log.warning("Even box widths are not supported. Rounding the %s down to "
                                "%d.", key, width - 1)  # fmt: skip
                    width -= 1
                boxes[key] = width
            bad = ((np.asarray(model.dq) & 1) != 0) | np.isnan(data)
            fits = locate_source(data, bad, x0, y0, source_radius=self.radius_inner, **boxes)
            cx, cy = fits["centroid_x"], fits["centroid_y"]
            if np.all(np.isnan(cx)) or np.all(np.isnan(cy)):
                log.warning("Centroid fit failed. Using initial estimate for source location.")
            elif self.moving_centroid:
                x, y = cx, cy
            else:
                x, y = np.full(nints, np.nanmedian(cx)), np.full(nints, np.nanmedian(cy))
        log.info("Aperture centre (median) x,y = %.2f,%.2f", np.nanmedian(x), np.nanmedian(y))
        whole = (model.meta.instrument.pupil == "WLP8"
                 and model.meta.subarray.name == "SUB64P")  # fmt: skip
        if whole:
            info = ("Photometry measured as the sum of all values in the subarray.  No "
                    "background subtraction was performed.")  # fmt: skip
            ap = np.nansum(data, axis=(1, 2), dtype=np.float64)
            ap_err = np.sqrt(np.nansum(np.asarray(err, np.float64) ** 2, axis=(1, 2)))
            nan = np.full(nints, np.nan)
            sums = {"aperture_sum": ap, "aperture_sum_err": ap_err, "annulus_sum": nan,
                    "annulus_sum_err": nan, "annulus_mean": nan, "annulus_mean_err": nan,
                    "aperture_bkg": nan, "aperture_bkg_err": nan, "net_aperture_sum": ap,
                    "net_aperture_sum_err": ap_err}  # fmt: skip
        else:
            info = (f"Photometry measured in a circular aperture of r={self.radius} pixels.  "
                    "Background calculated as the mean in a circular annulus with "
                    f"r_inner={self.radius_inner} pixels and r_outer={self.radius_outer} "
                    "pixels.")  # fmt: skip
            sums = aperture_sums(data, err, x, y, radius=self.radius,
                                 radius_inner=self.radius_inner,
                                 radius_outer=self.radius_outer)  # fmt: skip
        meta = OrderedDict(
            instrument=model.meta.instrument.name, detector=model.meta.instrument.detector,
            channel=model.meta.instrument.channel, subarray=model.meta.subarray.name,
            filter=model.meta.instrument.filter, pupil=model.meta.instrument.pupil,
            target_name=model.meta.target.catalog_name, apertures=info,
        )  # fmt: skip
        table = QTable(meta=meta)
        table["MJD"] = utc
        table["BJD_TDB"] = tdb
        flux_unit = u.Unit(unit) if unit else u.dimensionless_unscaled
        measured = ("aperture_sum", "aperture_sum_err", "net_aperture_sum",
                    "net_aperture_sum_err")  # fmt: skip
        for key, values in sums.items():
            nan_only = whole and key not in measured
            table[key] = values if nan_only else values << flux_unit
        table["aperture_x"] = x << u.pix
        table["aperture_y"] = y << u.pix
        if model.meta.wcs is None:
            raise InputError(f"{name}: no WCS (meta.wcs); run assign_wcs first")
        ra, dec = model.meta.wcs(x, y)
        table["aperture_ra_icrs"] = np.asarray(ra) << u.deg
        table["aperture_dec_icrs"] = np.asarray(dec) << u.deg
        if fits:
            table["centroid_x"] = fits["centroid_x"] << u.pix
            table["centroid_y"] = fits["centroid_y"] << u.pix
            if fits["psf_width_x"] is not None:
                table["psf_width_x"] = fits["psf_width_x"] << u.pix
                table["psf_width_y"] = fits["psf_width_y"] << u.pix
                table["psf_flux"] = fits["psf_flux"] << flux_unit
        object.__setattr__(self, "_input_meta", model)
        return table

    def _gain(self, model: Any) -> np.ndarray | None:
        from stdatamodels.jwst.datamodels import GainModel

        from ..lib.reffiles import geometry_of, reference_array

        path = self.get_reference_file(model, "gain")
        if path is None:
            return None
        ref = self.open_reference(model, "gain", GainModel)
        try:
            geometry = geometry_of(model, shape=model.data.shape[1:])
            return np.array(reference_array(ref, "data", geometry))
        finally:
            ref.close()

    # ------------------------------------------------------------------ saving
    def save_result(self, result: Any, suffix: str | None = None) -> list[str]:
        """With ``save_catalog``: ``<input root>_phot.ecsv``."""
        if not self.save_catalog or result is None or not hasattr(result, "colnames"):
            return []

        model = self.__dict__.get("_input_meta")
        return [self.save_ecsv(result, self.product_path(model, suffix or "phot"))]

    def run(self, input: Any, *, _owned: bool = False) -> Any:
        result = super().run(input, _owned=_owned)
        if self.parent is None and not self.save_results and self.save_catalog:
            self.save_result(result)
        return result
