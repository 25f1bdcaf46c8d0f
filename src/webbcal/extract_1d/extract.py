"""Model-level work of ``extract_1d`` for MIRI LRS slitless: aperture, chunks, product.

References
----------
JWST pipeline documentation, ``extract_1d`` step ("Box extraction", "Output product":
FLUX in Jy = summed surface brightness x PIXAR_SR, SURF_BRIGHT = mean surface brightness
of the aperture, BACKGROUND per pixel, DQ DO_NOT_USE where FLUX is NaN).
"""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np

from .. import dqflags
from .box import box_weights, extract_box
from .product import VECTOR_COLUMNS, spectral_wcs, time_columns, tso_spec_table
from .reference import ExtractReferenceError, extraction_parameters, read_extract1d, shifted

__all__ = [
    "ExtractionError",
    "LrsExtractor",
    "clean_chunk",
    "extract_lrs",
    "extract_model",
    "integration_chunks",
    "prepare_lrs",
]

log = logging.getLogger(__name__)

_DNU = np.uint32(dqflags.PIXEL["DO_NOT_USE"])
CHUNK_BYTES = 48 * 1024 * 1024
_ARRAYS_PER_INTEGRATION = 14


class ExtractionError(ValueError):
    """Input that cannot be extracted (names file, keyword, value, expectation)."""


def integration_chunks(nints: int, frame_pixels: int, budget: int = CHUNK_BYTES):
    """Slices of integrations whose working arrays fit in ``budget`` bytes."""
    per = max(1, frame_pixels * 8 * _ARRAYS_PER_INTEGRATION)
    size = max(1, int(budget // per))
    return [slice(i, min(i + size, nints)) for i in range(0, nints, size)]


def _oriented(arr, dispaxis: int):
    """(…, ny, nx) -> (…, ndisp, ncross)."""
    if arr is None:
        return None
    return arr if dispaxis == 2 else np.swapaxes(arr, -1, -2)


def _wavelength_map(model, name: str) -> np.ndarray:
    wl = model.wavelength if model.hasattr("wavelength") else None
    if wl is not None and np.any(np.isfinite(wl)) and np.any(wl != 0):
        return np.asarray(wl, dtype=np.float64)
    if model.meta.wcs is None:
        raise ExtractionError(f"{name}: no WAVELENGTH array and no WCS; run assign_wcs first")
    ny, nx = np.shape(model.data)[-2:]
    y, x = np.mgrid[0:ny, 0:nx]
    return np.asarray(model.meta.wcs(x.astype(float), y.astype(float))[2], dtype=np.float64)


def clean_chunk(model, sl, window: tuple[slice, slice] | None = None
                ) -> dict[str, np.ndarray | None]:  # fmt: skip
    """Float64 copies of integrations ``sl`` of ``model``'s SCI, ERR and VAR_* with NaN
    where a pixel is invalid (DQ DO_NOT_USE or a NaN in any of them); a 2-D model gives
    arrays of one integration.

    ``window``: (rows, columns) slices of the image to copy (an extractor's
    :attr:`LrsExtractor.window`: the pixels its sums can use); None: the whole image.
    """
    three_d = np.ndim(model.data) == 3
    region = (Ellipsis,) if window is None else (Ellipsis, *window)
    arrays = {}
    for attr in ("data", "err", "var_poisson", "var_rnoise", "var_flat"):
        value = getattr(model, attr) if model.hasattr(attr) else None
        if value is None or np.shape(value) != np.shape(model.data):
            arrays[attr] = None
            continue
        chunk = value[sl] if three_d else value[None]
        arrays[attr] = np.array(chunk[region], dtype=np.float64)
    dq = np.asarray(model.dq)
    dq = dq[sl] if three_d else dq[None]
    bad = (dq[region] & _DNU) != 0
    for value in arrays.values():
        if value is not None:
            bad |= np.isnan(value)
    for value in arrays.values():
        if value is not None:
            value[bad] = np.nan
    return arrays


def extract_lrs(model: Any, ext_path: str | None, step, *, apcorr_path: str | None = None) -> Any:
    """Box-extract a MIRI LRS slitless image or cube into an x1d / x1dints model.

    Parameters
    ----------
    model : CubeModel, SlitModel or ImageModel
        After assign_wcs (``wavelength``, DISPAXIS) and, normally, photom (MJy/sr). Not
        modified.
    ext_path : str or None
        ``extract1d`` reference (JSON) or None.
    step : Extract1dStep
        Gives the extraction parameters (``subtract_background``, ``bkg_fit``...).
    apcorr_path : str or None, optional
        MIRI LRS ``apcorr`` reference: point-source spectra are aperture-corrected.

    Returns
    -------
    TSOMultiSpecModel or MultiSpecModel

    Raises
    ------
    ExtractionError
        If DISPAXIS or the wavelengths are missing, or the aperture holds no valid pixel.
    ExtractReferenceError
        If the reference has no aperture for the mode or malformed values.
    """
    return extract_model(model, prepare_lrs(model, ext_path, step, apcorr_path=apcorr_path))


def extract_model(model: Any, extractor: LrsExtractor) -> Any:
    """Extract every integration of ``model`` (in chunks) with ``extractor``: the
    x1d/x1dints model (see :func:`extract_lrs`)."""
    three_d = np.ndim(model.data) == 3
    nints = np.shape(model.data)[0] if three_d else 1
    if three_d and nints > 1:
        log.info("Beginning loop over %d integrations ...", nints)
    for sl in integration_chunks(nints, int(np.prod(np.shape(model.data)[-2:]))):
        extractor.add(clean_chunk(model, sl, extractor.window))
    if three_d and nints > 1:
        log.info("All %d integrations done", nints)
    return extractor.product(model, three_d)


def prepare_lrs(model: Any, ext_path: str | None, step, *,
                apcorr_path: str | None = None) -> LrsExtractor:  # fmt: skip
    """The aperture, wavelengths and corrections of an LRS extraction, ready for chunks.

    ``model`` gives the metadata, WCS and WAVELENGTH (its SCI is not read; a
    placeholder of one integration will do). Parameters and errors as
    :func:`extract_lrs`.
    """
    from stdatamodels.jwst import datamodels as dm

    name = model.meta.filename or "input"
    exp_type = (model.meta.exposure.type or "").upper()
    dispaxis = model.meta.wcsinfo.dispersion_direction
    if dispaxis not in (1, 2):
        raise ExtractionError(f"{name}: DISPAXIS={dispaxis!r}; expected 1 or 2 (set by assign_wcs)")
    photom_done = (model.meta.cal_step.photom or "").upper() == "COMPLETE"
    if not photom_done:
        log.warning("The photom step has not been run.")
    source_type = getattr(model, "source_type", None) if isinstance(model, dm.SlitModel) else None
    source_type = source_type or model.meta.target.source_type
    solid_angle = 1.0
    if photom_done:
        solid_angle = model.meta.photometry.pixelarea_steradians
        if solid_angle is None:
            log.warning("Pixel area (solid angle) is not populated; the flux will not be correct.")
            solid_angle = 1.0
    shape = tuple(np.shape(model.data)[-2:])
    doc = read_extract1d(ext_path)
    ref_name = os.path.basename(ext_path) if ext_path else "no extract1d reference"
    order = model.meta.wcsinfo.spectral_order
    if order is None:
        log.warning("spectral_order is None; using 1")
        order = 1
    bkg_fit = step.bkg_fit
    params = extraction_parameters(
        doc, name=ref_name, slit_name=exp_type, spectral_order=int(order), shape=shape,
        dispaxis=int(dispaxis), exp_type=exp_type, smoothing_length=step.smoothing_length,
        bkg_fit=bkg_fit, bkg_order=step.bkg_order,
        subtract_background=step.subtract_background,
        use_source_posn=False if source_type != "POINT" and step.use_source_posn is None
        else step.use_source_posn,
        position_offset=step.position_offset,
    )  # fmt: skip
    if params is None:
        raise ExtractionError(f"{name}: {ref_name} has no aperture for spectral order {order}")
    if params.use_source_posn:
        log.warning("use_source_posn is not implemented; the nominal aperture is used")
    if params.position_offset:
        log.info("Applying additional cross-dispersion offset %.2f pixels",
                 params.position_offset)  # fmt: skip
        params = shifted(params, params.position_offset)
    wl = _wavelength_map(model, name)
    wl_o = _oriented(wl, params.dispaxis)
    if params.dispaxis == 2:
        disp_limits, cross_limits = (params.ystart, params.ystop), (params.xstart, params.xstop)
    else:
        disp_limits, cross_limits = (params.xstart, params.xstop), (params.ystart, params.ystop)
    indep = wl_o if params.independent_var.startswith("wavelength") else None
    try:
        profile, lower, upper = box_weights(
            wl_o.shape, disp_limits=disp_limits, cross_limits=cross_limits,
            coefficients=params.src_coeff, extract_width=params.extract_width, independent=indep,
        )  # fmt: skip
        log.info("Aperture start/stop: %.2f -> %.2f (inclusive)", lower, upper)
        bg_profile = None
        if params.subtract_background and params.bkg_coeff is not None:
            bg_profile, blo, bhi = box_weights(
                wl_o.shape, disp_limits=disp_limits, cross_limits=cross_limits,
                coefficients=params.bkg_coeff, independent=indep,
                partial=params.bkg_fit != "median",
            )  # fmt: skip
            log.info("Background regions from bkg_coeff: %.2f -> %.2f (inclusive)", blo, bhi)
    except ValueError as exc:
        raise ExtractReferenceError(f"{ref_name}: {exc}") from None
    profile[~np.isfinite(wl_o)] = 0.0
    used = np.flatnonzero(profile.sum(axis=1) > 0)
    if used.size == 0:
        raise ExtractionError(
            f"{name}: the extraction aperture of {ref_name} holds no pixel with a wavelength; "
            "the trace falls off the subarray or the aperture misses it"
        )
    left, right = int(used[0]), int(used[-1])
    with np.errstate(invalid="ignore", divide="ignore"):
        keep = np.isfinite(wl_o) & (profile > 0)
        wsum = np.where(keep, profile, 0.0).sum(axis=1)
        wavelength = np.where(keep, wl_o * profile, 0.0).sum(axis=1) / wsum
    wavelength[wsum == 0] = np.nan
    valid = np.isfinite(wavelength)
    ra, dec = _aperture_sky(model, profile, params.dispaxis)
    correction = None
    if apcorr_path is not None and source_type == "POINT":
        from .apcorr import lrs_aperture_correction

        log.info("Creating aperture correction.")
        correction = lrs_aperture_correction(apcorr_path, model)

    meta = {
        "name": exp_type, "source_type": source_type, "slit_ra": ra, "slit_dec": dec,
        "spectral_order": int(order), "dispersion_direction": params.dispaxis,
        "detector": model.meta.instrument.detector,
        "position_angle": model.meta.aperture.position_angle,
    }  # fmt: skip
    if params.dispaxis == 1:
        meta.update(extraction_xstart=left + 1, extraction_xstop=right + 1,
                    extraction_ystart=lower + 1, extraction_ystop=upper + 1)  # fmt: skip
    else:
        meta.update(extraction_xstart=lower + 1, extraction_xstop=upper + 1,
                    extraction_ystart=left + 1, extraction_ystop=right + 1)  # fmt: skip
    return LrsExtractor(params, profile, bg_profile, wavelength, valid, correction,
                        photom_done, solid_angle, meta, ra, dec,
                        step.log_increment)  # fmt: skip


#: numpy sums a row of at most this many float64 values with eight interleaved partial
#: sums (pairwise summation beyond): dropping leading columns in steps of 8 and trailing
#: ones in steps of 8 (or to the end) leaves every partial sum, hence the result,
#: unchanged when the dropped values are zeros.
_PAIRWISE_BLOCK = 128


def _sum_window(profile, bg_profile, params) -> tuple[slice, slice]:
    """The (dispersion, cross-dispersion) slices of an oriented image outside which
    neither the aperture nor the background region has weight.

    Only the pixels inside enter the box sums and background fits, so extracting the
    window gives the spectra of the whole image, bit for bit: dispersion elements are
    independent (all of them kept when the image is smoothed along the dispersion);
    across the dispersion the window is cut at multiples of 8 columns, for images at
    most :data:`_PAIRWISE_BLOCK` wide, and not for a polynomial background of order > 0
    (its basis spans the whole width).
    """
    ndisp, ncross = profile.shape
    weight = profile != 0
    if bg_profile is not None:
        weight = weight | (bg_profile != 0)
    rows = np.flatnonzero(weight.any(axis=1))
    cols = np.flatnonzero(weight.any(axis=0))
    if rows.size == 0 or (params.smoothing_length or 0) > 1:
        row_slice = slice(0, ndisp)
    else:
        row_slice = slice(int(rows[0]), int(rows[-1]) + 1)
    polynomial = (bg_profile is not None and (params.bkg_fit or "poly") == "poly"
                  and int(params.bkg_order or 0) > 0)  # fmt: skip
    if cols.size == 0 or ncross > _PAIRWISE_BLOCK or polynomial:
        return row_slice, slice(0, ncross)
    c0 = int(cols[0]) // 8 * 8
    c1 = min(ncross, -(-(int(cols[-1]) + 1) // 8) * 8)
    return row_slice, slice(c0, c1)


class LrsExtractor:
    """Box extraction of an LRS exposure fed chunk by chunk (see :func:`prepare_lrs`).

    :meth:`add` extracts the spectra of a chunk of integrations; :meth:`product` makes
    the x1d/x1dints model of all chunks added. The spectra of an integration do not
    depend on the chunks it was extracted with.
    """

    def __init__(self, params, profile, bg_profile, wavelength, valid, correction,
                 photom_done, solid_angle, meta, ra, dec, log_increment) -> None:  # fmt: skip
        self.params, self.profile, self.bg_profile = params, profile, bg_profile
        self.wavelength, self.valid, self.correction = wavelength, valid, correction
        self.photom_done, self.solid_angle, self.meta = photom_done, solid_angle, meta
        self.ra, self.dec, self.log_increment = ra, dec, log_increment
        self.columns = {c: [] for c in VECTOR_COLUMNS if c != "WAVELENGTH"}
        self.done = 0
        rows, cols = _sum_window(profile, bg_profile, params)
        self._oriented_window = (rows, cols)
        #: (rows, columns) of the stored image whose pixels the sums use (the others get
        #: no weight): the part :func:`clean_chunk` needs to copy.
        self.window = (rows, cols) if params.dispaxis == 2 else (cols, rows)

    def add(self, arrays: dict[str, np.ndarray | None]) -> None:
        """Extract one chunk: ``arrays`` from :func:`clean_chunk` (float64, NaN where
        invalid), shape (k, ny, nx) each."""
        params = self.params
        rows, cols = self._oriented_window
        full = self.profile.shape
        oriented = {}
        for key in ("data", "var_rnoise", "var_poisson", "var_flat"):
            value = _oriented(arrays[key], params.dispaxis)
            if value is not None and value.shape[-2:] == full:
                value = value[:, rows, cols]  # whole images: the window's part
            oriented[key] = value
        bg_profile = None if self.bg_profile is None else self.bg_profile[rows, cols]
        res = extract_box(
            oriented["data"], self.profile[rows, cols], var_rnoise=oriented["var_rnoise"],
            var_poisson=oriented["var_poisson"], var_flat=oriented["var_flat"],
            bg_profile=bg_profile, bkg_fit=params.bkg_fit or "poly",
            bkg_order=params.bkg_order, smoothing_length=params.smoothing_length,
        )  # fmt: skip
        valid = self.valid[rows]
        columns = _spectrum_columns(res, self.photom_done, self.solid_angle)
        if self.correction is not None:
            _apply_correction(columns, self.correction(columns["NPIXELS"],
                                                       self.wavelength[None, rows]))  # fmt: skip
        for key, value in columns.items():
            self.columns[key].append(value[:, valid])
        k = len(arrays["data"])
        self.done += k
        step = self.log_increment
        if step > 0 and self.done // step != (self.done - k) // step:
            log.info("... %d integrations done", self.done)

    def product(self, model: Any, three_d: bool) -> Any:
        """The x1dints (``three_d``) or x1d model of the chunks added, metadata from
        ``model``."""
        table_cols = {k: np.concatenate(v, axis=0) for k, v in self.columns.items()}
        table_cols["WAVELENGTH"] = self.wavelength[self.valid]
        return _product(model, table_cols, _units(self.photom_done), self.meta, self.ra,
                        self.dec, three_d)  # fmt: skip


def _aperture_sky(model, profile_o, dispaxis):
    """(RA, Dec) at the weighted centre of the aperture (None when off the sky)."""
    weights = np.where(profile_o > 0, profile_o, 0.0)
    if dispaxis == 1:
        weights = weights.T
    if weights.sum() == 0:
        weights = np.ones_like(weights)
    yy, xx = np.mgrid[0 : weights.shape[0], 0 : weights.shape[1]]
    cy = float(np.average(yy, weights=weights))
    cx = float(np.average(xx, weights=weights))
    coords = model.meta.wcs(cx, cy)
    if np.any(np.isnan(coords)):
        return None, None
    return float(coords[0]), float(coords[1])


def _spectrum_columns(res, photom_done: bool, solid_angle: float) -> dict[str, np.ndarray]:
    npix = np.where(res.npixels > 0.0, res.npixels, 1.0)
    n2 = npix * npix
    sb = res.flux / npix
    sb_vars = (res.var_poisson / n2, res.var_rnoise / n2, res.var_flat / n2)
    bkg = res.background / npix
    b_vars = (res.bkg_var_poisson / n2, res.bkg_var_rnoise / n2, res.bkg_var_flat / n2)
    if photom_done:
        # MJy/sr summed over pixels x sr -> MJy -> Jy.
        scale = solid_angle * 1.0e6
        flux = res.flux * scale
        f_vars = (res.var_poisson * scale**2, res.var_rnoise * scale**2,
                  res.var_flat * scale**2)  # fmt: skip
    else:
        flux = res.flux
        f_vars = (res.var_poisson, res.var_rnoise, res.var_flat)
    dq = np.where(np.isnan(flux), _DNU, np.uint32(0)).astype(np.uint32)
    return {
        "FLUX": flux, "FLUX_ERROR": np.sqrt(sum(f_vars)), "FLUX_VAR_POISSON": f_vars[0],
        "FLUX_VAR_RNOISE": f_vars[1], "FLUX_VAR_FLAT": f_vars[2], "SURF_BRIGHT": sb,
        "SB_ERROR": np.sqrt(sum(sb_vars)), "SB_VAR_POISSON": sb_vars[0],
        "SB_VAR_RNOISE": sb_vars[1], "SB_VAR_FLAT": sb_vars[2], "DQ": dq, "BACKGROUND": bkg,
        "BKGD_ERROR": np.sqrt(sum(b_vars)), "BKGD_VAR_POISSON": b_vars[0],
        "BKGD_VAR_RNOISE": b_vars[1], "BKGD_VAR_FLAT": b_vars[2], "NPIXELS": res.npixels,
    }  # fmt: skip


def _apply_correction(cols: dict[str, np.ndarray], factor: np.ndarray) -> None:
    """Aperture correction (in place on the chunk's own columns): fluxes and surface
    brightnesses times ``factor``, their variances times its square (not the background)."""
    for key in ("FLUX", "FLUX_ERROR", "SURF_BRIGHT", "SB_ERROR"):
        cols[key] = cols[key] * factor
    for key in ("FLUX_VAR_POISSON", "FLUX_VAR_RNOISE", "FLUX_VAR_FLAT", "SB_VAR_POISSON",
                "SB_VAR_RNOISE", "SB_VAR_FLAT"):  # fmt: skip
        cols[key] = cols[key] * factor * factor


def _units(photom_done: bool) -> dict[str, str]:
    if photom_done:
        flux, fvar, sb, sbvar = "Jy", "Jy^2", "MJy/sr", "MJy^2 / sr^2"
    else:
        flux, fvar, sb, sbvar = "DN/s", "DN^2 / s^2", "DN/s", "DN^2 / s^2"
    out = {"WAVELENGTH": "um"}
    for c in ("FLUX", "FLUX_ERROR"):
        out[c] = flux
    for c in ("FLUX_VAR_POISSON", "FLUX_VAR_RNOISE", "FLUX_VAR_FLAT"):
        out[c] = fvar
    for c in ("SURF_BRIGHT", "SB_ERROR", "BACKGROUND", "BKGD_ERROR"):
        out[c] = sb
    for c in ("SB_VAR_POISSON", "SB_VAR_RNOISE", "SB_VAR_FLAT", "BKGD_VAR_POISSON",
              "BKGD_VAR_RNOISE", "BKGD_VAR_FLAT"):  # fmt: skip
        out[c] = sbvar
    return out


def _product(model, cols, units, meta, ra, dec, three_d):
    from stdatamodels.jwst import datamodels as dm

    from ..datamodels.io import assigning_checked_values

    wcs = spectral_wcs(ra, dec, cols["WAVELENGTH"])
    # Built from our own tables (the schema's dtypes) and a gwcs object: the per-assignment
    # schema checks are skipped; the whole product is validated when it is saved.
    out = dm.TSOMultiSpecModel() if three_d else dm.MultiSpecModel()
    spec = dm.TSOSpecModel() if three_d else dm.SpecModel()
    with assigning_checked_values(out), assigning_checked_values(spec):
        _fill_product(out, spec, model, cols, units, meta, wcs, three_d)
    return out


def _fill_product(out, spec, model, cols, units, meta, wcs, three_d):
    """Put the spectrum table, its units, metadata and WCS in ``spec``, it in ``out``."""
    if three_d:
        table = tso_spec_table(cols, segment=model.meta.exposure.segment_number)
        int_times = model.int_times if model.hasattr("int_times") else None
        if int_times is not None and len(int_times):
            out.int_times = np.array(int_times).copy()
        exp = model.meta.exposure
        timed = time_columns(table, int_times, int_start=exp.integration_start,
                             int_end=exp.integration_end, nints=exp.nints)  # fmt: skip
        spec.spec_table = table
        if timed:
            spec.time_scale = "UTC"
        units = dict(units, **{c: "d" for c in ("MJD-BEG", "MJD-AVG", "MJD-END", "TDB-BEG",
                                                "TDB-MID", "TDB-END")})  # fmt: skip
    else:
        dtype = spec.get_dtype("spec_table") if hasattr(spec, "get_dtype") else None
        table = np.zeros(cols["WAVELENGTH"].size, dtype=dtype)
        for c in table.dtype.names:
            if c.upper() in cols:
                table[c] = cols[c.upper()].reshape(-1)
        spec.spec_table = table
    columns = spec.spec_table.columns  # fetched once: each access validates the table
    for col, unit in units.items():
        columns[col if three_d else col.lower()].unit = unit
    for key, value in meta.items():
        if value is not None:
            setattr(spec, key, value)
    spec.meta.wcs = wcs
    out.update(model, only="PRIMARY")
    out.spec.append(spec)
    out.meta.wcs = None
    out.meta.target.source_type = None
    out.meta.filename = model.meta.filename
