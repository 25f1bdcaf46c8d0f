"""The ``photom`` step adapter (imaging, coronagraphy and MIRI LRS slitless; other
spectroscopic modes are skipped)."""

from __future__ import annotations

import logging
import os

import numpy as np

from ..lib.reffiles import ReferenceFileError, file_stamp, geometry_of, load_reference
from ..lib.subarray import SubarrayError, SubarrayGeometry, cut_to_subarray
from ..stpipe import Param, Step, StepSkipped
from .imaging import (
    MJSR_TO_UJA2,
    TimeCoefficients,
    apply_conversion,
    matching_rows,
    relative_throughput,
)

__all__ = ["GRISM_TSO_EXP_TYPES", "LRS_EXP_TYPES", "SPECTROSCOPIC_EXP_TYPES", "PhotomStep"]

log = logging.getLogger(__name__)

#: Exposure types whose photometric calibration is spectroscopic (wavelength-dependent):
#: not implemented yet (except :data:`LRS_EXP_TYPES`), such exposures are skipped.
SPECTROSCOPIC_EXP_TYPES = frozenset({
    "NRC_WFSS", "NRC_GRISM", "NRC_TSGRISM", "NIS_WFSS", "NIS_SOSS", "MIR_LRS-FIXEDSLIT",
    "MIR_LRS-SLITLESS", "MIR_MRS", "MIR_WFSS",
})  # fmt: skip

#: Spectroscopic exposure types calibrated here (MIRI LRS PHOTOM table per wavelength).
LRS_EXP_TYPES = frozenset({"MIR_LRS-SLITLESS"})

#: NIRCam grism time series: PHOTOM table per filter, pupil and order, with dispersion.
GRISM_TSO_EXP_TYPES = frozenset({"NRC_TSGRISM"})

#: stdatamodels class of the imaging PHOTOM reference of each instrument.
_PHOTOM_MODEL = {
    "NIRCAM": "NrcImgPhotomModel",
    "NIRISS": "NisImgPhotomModel",
    "MIRI": "MirImgPhotomModel",
    "FGS": "FgsImgPhotomModel",
}
_TIME_LAWS = {
    "linear": ("t0", "lossperyear"),
    "exponential": ("t0", "amplitude", "tau", "const"),
    "powerlaw": ("t0", "year1value", "tsoft", "alpha"),
}


class PhotomStep(Step):
    """Convert count rates (DN/s) to surface brightness (MJy/sr) (official alias ``photom``).

    Imaging modes of NIRCam, NIRISS, the MIRI imager and FGS (rate images and,
    except NIRISS, rate cubes): the PHOTOM row of the exposure's FILTER and PUPIL
    (MIRI: FILTER and SUBARRAY, falling back to SUBARRAY=GENERIC; FGS: the single
    row) gives PHOTMJSR, divided by the relative throughput at EXPMID when the
    reference carries time-dependence tables and ``apply_time_correction`` is set.
    The AREA reference's pixel-area map, cut to the science subarray, is attached
    as ``area``, and its PIXAR_SR/PIXAR_A2 (else the PHOTOM reference's) recorded.
    MIRI LRS slitless (``MIR_LRS-SLITLESS``, after ``assign_wcs``): the row of FILTER and
    SUBARRAY of the LRS PHOTOM table gives PHOTMJSR (time-corrected as for imaging)
    times the relative response interpolated at each pixel's wavelength (the
    ``wavelength`` array); pixels without a wavelength or outside the table become NaN and
    DO_NOT_USE; the result is in MJy/sr. NIRCam grism time series (``NRC_TSGRISM``, the
    extract_2d cut-out): the row of FILTER, PUPIL and spectral order of the grism PHOTOM
    table gives PHOTMJSR times the relative response at each pixel's wavelength, divided
    by the dispersion (micron per pixel, the wavelength's gradient along the rows). NIRSpec
    and the other spectroscopic modes are skipped with a message.

    Deliberate differences from the official step: a PHOTOM table without a row (or
    with several) for the exposure is an error naming the file and the FILTER/PUPIL/
    SUBARRAY values (the official step logs a warning and marks the step COMPLETE
    with the data unconverted); an AREA reference without PIXAR_SR/PIXAR_A2 falls back
    to the PHOTOM reference's values (the official step leaves them unset).
    """

    class_alias = "photom"
    cal_step_name = "photom"
    reference_file_types = ("photom", "area")
    optional_reference_types = ("area",)
    spec = (
        Param("inverse", bool, False,
              "Divide by the conversion instead of multiplying (undo the calibration)"),
        Param("source_type", str, None,
              "Process as this source type instead of SRCTYPE (used by spectroscopic "
              "modes; imaging ignores it)", allow_none=True),
        Param("apply_time_correction", bool, True,
              "Apply the time-dependent throughput correction if the PHOTOM reference "
              "has one"),
    )  # fmt: skip

    def process(self, model):
        from stdatamodels.jwst import datamodels as dm

        if (model.meta.exposure.type or "").upper() in LRS_EXP_TYPES:
            return self._process_lrs(model)
        if (model.meta.exposure.type or "").upper() in GRISM_TSO_EXP_TYPES:
            return self._process_tsgrism(model)
        instrument = _check_supported(model, dm)
        if self.source_type is not None:
            log.info("source_type=%s has no effect on imaging data", self.source_type)
        path = self.get_reference_file(model, "photom")
        log.info("Using PHOTOM reference file %s", path)
        area_path = self.get_reference_file(model, "area")
        log.info("Using AREA reference file %s", area_path)
        ref = _open_photom(path, instrument, model)
        try:
            factor = self._conversion(ref, model, instrument, os.path.basename(path))
            pixar_sr, pixar_a2, area = self._pixel_area(model, ref, area_path)
        finally:
            ref.close()
        log.info("PHOTMJSR value: %.6g", factor)
        if self.inverse:
            log.info("Dividing by the conversion (inverse=True)")
        res = apply_conversion(
            model.data, model.err, model.dq, factor=factor, inverse=self.inverse,
            var_poisson=_array(model, "var_poisson"), var_rnoise=_array(model, "var_rnoise"),
            var_flat=_array(model, "var_flat"),
        )  # fmt: skip
        return self._store(model, res, area, factor, pixar_sr, pixar_a2)

    def _process_lrs(self, model):
        """MIRI LRS slitless: PHOTMJSR x relative response at each pixel's wavelength."""
        from stdatamodels.jwst import datamodels as dm

        from .spectroscopic import conversion_map

        name_in = model.meta.filename or "input"
        if not isinstance(model, (dm.ImageModel, dm.CubeModel, dm.SlitModel)):
            raise StepSkipped(f"input is a {type(model).__name__}; LRS photom needs an image, "
                              "cube or slit model")  # fmt: skip
        wavelength = model.wavelength if model.hasattr("wavelength") else None
        if wavelength is None or not np.any(np.isfinite(wavelength)):
            raise ValueError(
                f"{name_in}: no WAVELENGTH array (or all NaN); MIR_LRS-SLITLESS photom needs the "
                "per-pixel wavelengths that assign_wcs attaches (run assign_wcs first)"
            )
        if self.source_type is not None:
            log.info("Using source_type=%s (LRS conversion is in MJy/sr either way)",
                     self.source_type)  # fmt: skip
        factor, waves, resp, pixar_sr, pixar_a2, area = self._spectral_response(
            model, "lrs", "MIRI", "MIRI"
        )
        conv = conversion_map(wavelength, factor, waves, resp)
        return self._convert(model, conv, area, factor, pixar_sr, pixar_a2)

    def _spectral_response(self, model, kind: str, row_key: str, instrument: str):
        """PHOTMJSR, the relative response curve and the pixel area of a spectroscopic
        exposure, from its PHOTOM (``kind`` of :data:`_SPECTRAL_PHOTOM`) and AREA
        references: ``(factor, wavelengths, response, pixar_sr, pixar_a2, area)``."""
        path = self.get_reference_file(model, "photom")
        log.info("Using PHOTOM reference file %s", path)
        area_path = self.get_reference_file(model, "area")
        log.info("Using AREA reference file %s", area_path)
        # A time series calibrated in chunks runs this step once per chunk of the same
        # exposure: the response read for the previous chunk is reused when the files
        # and everything the selection reads are the same (as flat_field reuses its flat).
        key = _response_key(self, model, kind, row_key, path, area_path)
        kept = self.__dict__.get("_response_kept")
        if key is None or kept is None or kept[0] != key:
            kept = (key, self._read_spectral_response(model, kind, row_key, instrument, path,
                                                      area_path))  # fmt: skip
            self.__dict__["_response_kept"] = None if key is None else kept
        else:
            log.info("PHOTMJSR value: %.6g (response of the previous chunk)", kept[1][0])
        factor, waves, resp, pixar_sr, pixar_a2, area = kept[1]
        # the area map goes to the model: a copy, the kept one stays as read
        return factor, waves, resp, pixar_sr, pixar_a2, None if area is None else area.copy()

    def _read_spectral_response(self, model, kind, row_key, instrument, path, area_path):
        """:meth:`_spectral_response` from the reference files."""
        from .spectroscopic import response_curve

        fname = os.path.basename(path)
        ref = _open_spectral_photom(path, model, kind)
        try:
            row = _select_row(ref, model, row_key, fname)
            factor = self._conversion(ref, model, instrument, fname, row=row)
            table = ref.phot_table
            nelem = int(table["nelem"][row]) if "nelem" in table.dtype.names else None
            try:
                waves, resp = response_curve(table["wavelength"][row], table["relresponse"][row],
                                             nelem)  # fmt: skip
            except ValueError as exc:
                raise ReferenceFileError(f"{fname}: PHOTOM row {row}: {exc}") from None
            pixar_sr, pixar_a2, area = self._pixel_area(model, ref, area_path)
        finally:
            ref.close()
        log.info("PHOTMJSR value: %.6g", factor)
        return factor, waves, resp, pixar_sr, pixar_a2, area

    def _process_tsgrism(self, model):
        """NIRCam grism time series: PHOTMJSR x relative response / dispersion per pixel."""
        from stdatamodels.jwst import datamodels as dm

        from .spectroscopic import conversion_map, dispersion_map

        name_in = model.meta.filename or "input"
        if not isinstance(model, dm.SlitModel):
            raise ValueError(
                f"{name_in}: a {type(model).__name__}; NRC_TSGRISM photom expects the "
                "extract_2d cut-out (SlitModel with WAVELENGTH); run extract_2d first"
            )
        wavelength = model.wavelength if model.hasattr("wavelength") else None
        if wavelength is None or not np.any(np.isfinite(wavelength)) or not np.any(wavelength):
            raise ValueError(f"{name_in}: no WAVELENGTH array; NRC_TSGRISM photom needs the "
                             "cut-out's wavelengths (run extract_2d first)")  # fmt: skip
        if model.meta.wcsinfo.spectral_order is None:
            raise ValueError(f"{name_in}: SPORDER (meta.wcsinfo.spectral_order) is missing; "
                             "expected the order extract_2d cut out")  # fmt: skip
        if self.source_type is not None:
            log.info("Using source_type=%s (grism conversion is in MJy/sr either way)",
                     self.source_type)  # fmt: skip
        factor, waves, resp, pixar_sr, pixar_a2, area = self._spectral_response(
            model, "grism", "NIRCAM_GRISM", "NIRCAM"
        )
        log.info("Including spectral dispersion in 2-d flux calibration")
        dispaxis = model.meta.wcsinfo.dispersion_direction or 1
        conv = conversion_map(wavelength, factor, waves, resp)
        with np.errstate(divide="ignore", invalid="ignore"):
            conv = conv / np.abs(dispersion_map(wavelength, dispaxis))
        return self._convert(model, conv, area, factor, pixar_sr, pixar_a2)

    def _convert(self, model, conv, area, factor: float, pixar_sr, pixar_a2):
        """Apply a per-pixel conversion map (spectroscopic modes) and store the result."""
        from .spectroscopic import apply_conversion_map

        log.info("%d pixels have no wavelength or fall outside the relative response table",
                 int(np.count_nonzero(~np.isfinite(conv))))  # fmt: skip
        res = apply_conversion_map(
            model.data, model.err, model.dq, conversion=conv, inverse=self.inverse,
            var_poisson=_array(model, "var_poisson"), var_rnoise=_array(model, "var_rnoise"),
            var_flat=_array(model, "var_flat"),
        )  # fmt: skip
        return self._store(model, res, area, factor, pixar_sr, pixar_a2)

    def _store(self, model, res, area, factor: float, pixar_sr, pixar_a2):
        """Put the converted arrays, the AREA image and the photometry keywords in
        ``model``; BUNIT is MJy/sr (DN/s with ``inverse``)."""
        from ..datamodels.io import assigning_checked_values

        with assigning_checked_values(model):  # new float32/uint32 arrays of the SCI shape
            model.data, model.err, model.dq = res.data, res.err, res.dq
            for attr in ("var_poisson", "var_rnoise", "var_flat"):
                if getattr(res, attr) is not None:
                    setattr(model, attr, getattr(res, attr))
            if area is not None:
                model.area = area
        phot = model.meta.photometry
        phot.conversion_megajanskys = factor
        phot.conversion_microjanskys = factor * MJSR_TO_UJA2
        phot.pixelarea_steradians, phot.pixelarea_arcsecsq = pixar_sr, pixar_a2
        unit = "DN/s" if self.inverse else "MJy/sr"
        model.meta.bunit_data = model.meta.bunit_err = unit
        return model

    def _conversion(self, ref, model, instrument: str, name: str, row: int | None = None) -> float:
        """PHOTMJSR of the exposure's row, divided by the throughput at EXPMID if asked."""
        if row is None:
            row = _select_row(ref, model, instrument, name)
        photmjsr = float(ref.phot_table["photmjsr"][row])
        factor = photmjsr
        coeffs = _time_coefficients(ref, row, name)
        if self.apply_time_correction and not coeffs.empty:
            mid_time = _mid_time(model, name)
            throughput = relative_throughput(mid_time, coeffs)
            if throughput != 1.0:
                log.info("Time-dependent throughput at EXPMID %.5f: %.6g", mid_time, throughput)
                factor = photmjsr / throughput
        elif not coeffs.empty:
            log.info("Time-dependent correction not applied (apply_time_correction=False)")
        if not np.isfinite(factor) or factor == 0:
            raise ReferenceFileError(
                f"{name}: PHOTMJSR={photmjsr!r} in row {row} of the PHOTOM table gives the "
                f"conversion {factor!r}; expected a finite non-zero value"
            )
        return factor

    def _pixel_area(self, model, ref, area_path):
        """(PIXAR_SR, PIXAR_A2, area map cut to the science subarray or None)."""
        from stdatamodels.jwst import datamodels as dm

        sr = a2 = area = None
        if area_path is not None:
            area_ref = load_reference(area_path, dm.PixelAreaModel, model)
            area = _area_map(area_ref, model, os.path.basename(area_path))
            sr = area_ref.meta.photometry.pixelarea_steradians
            a2 = area_ref.meta.photometry.pixelarea_arcsecsq
            area_ref.close()
            log.info("Pixel area map attached (%d x %d)", area.shape[1], area.shape[0])
        name = os.path.basename(area_path) if area_path else None
        if sr is None or a2 is None:
            src = os.path.basename(ref.meta.filename or "PHOTOM reference")
            if name:
                log.warning("%s has no PIXAR_SR/PIXAR_A2; using those of %s", name, src)
            sr = ref.meta.photometry.pixelarea_steradians if sr is None else sr
            a2 = ref.meta.photometry.pixelarea_arcsecsq if a2 is None else a2
            if sr is None or a2 is None:
                log.warning("No PIXAR_SR/PIXAR_A2 in %s either: left unset", src)
        return (None if sr is None else float(sr)), (None if a2 is None else float(a2)), area


def _response_key(step, model, kind, row_key, path, area_path):
    """What identifies a spectroscopic response read for ``model`` (None: not reused).

    Only multi-integration products are keyed (the chunks of one exposure); the key holds
    the files (path, size, modification time), the step's parameters that change the
    conversion, and every exposure keyword that the row selection, the time-dependent
    correction and the area cut-out read.
    """
    if np.ndim(model.data) != 3:
        return None
    files = (file_stamp(path), file_stamp(area_path))
    if files[0] is None or (area_path is not None and files[1] is None):
        return None
    meta = model.meta
    exp, sub, ins = meta.exposure, meta.subarray, meta.instrument
    keywords = (exp.type, exp.start_time, exp.mid_time, exp.end_time, ins.name, ins.detector,
                ins.filter, ins.pupil, sub.name, sub.xstart, sub.ystart, sub.xsize, sub.ysize,
                meta.wcsinfo.spectral_order, meta.filename)  # fmt: skip
    return (kind, row_key, files, bool(step.apply_time_correction), keywords)


def _area_map(area_ref, model, name: str) -> np.ndarray:
    """The AREA reference's map cut to the science subarray (the map is full frame;
    one already of the science's shape is taken as is)."""
    arr = np.asarray(area_ref.data, dtype=np.float32)
    sci = geometry_of(model)
    if arr.shape == (sci.ysize, sci.xsize):
        return arr.copy()
    if arr.shape != (sci.full_ny, sci.full_nx):
        raise ReferenceFileError(
            f"{name}: extension SCI has shape {arr.shape}; expected the full frame "
            f"{(sci.full_ny, sci.full_nx)} or the science subarray's {(sci.ysize, sci.xsize)}"
        )
    full = SubarrayGeometry(1, 1, sci.full_nx, sci.full_ny, sci.full_nx, sci.full_ny)
    try:
        return cut_to_subarray(arr, full, sci, name=f"{name} SCI")
    except SubarrayError as exc:
        raise ReferenceFileError(str(exc)) from None


def _array(model, attr: str):
    return getattr(model, attr) if model.hasattr(attr) else None


def _check_supported(model, dm) -> str:
    """The instrument of an imaging exposure; StepSkipped for anything else."""
    instrument = (model.meta.instrument.name or "").upper()
    exp_type = (model.meta.exposure.type or "").upper()
    if not isinstance(model, (dm.ImageModel, dm.CubeModel)) or isinstance(model, dm.IFUImageModel):
        raise StepSkipped(
            f"input is a {type(model).__name__}; photom supports ImageModel and CubeModel"
        )
    if instrument == "NIRSPEC":
        raise StepSkipped("NIRSpec photometric calibration is not implemented")
    if exp_type in SPECTROSCOPIC_EXP_TYPES:
        raise StepSkipped(f"spectroscopic photometric calibration ({exp_type}) is not implemented")
    if instrument not in _PHOTOM_MODEL:
        raise StepSkipped(f"instrument {instrument!r} is not supported by photom")
    if instrument == "MIRI" and (model.meta.instrument.detector or "").upper() != "MIRIMAGE":
        raise StepSkipped("MIRI MRS photometric calibration is not implemented")
    if instrument == "NIRISS" and isinstance(model, dm.CubeModel):
        # As the official step: NIRISS imaging photom is defined for rate images only.
        raise StepSkipped("NIRISS photom does not apply to a CubeModel (rateints)")
    return instrument


def _open_photom(path: str, instrument: str, science):
    """Open the imaging PHOTOM reference of ``instrument``; check INSTRUME first."""
    from stdatamodels.jwst import datamodels as dm

    name = os.path.basename(path)
    if path.endswith(".fits"):
        from astropy.io import fits

        try:
            ref_inst = str(fits.getval(path, "INSTRUME", ext=0)).strip().upper()
        except (OSError, KeyError) as exc:
            raise ReferenceFileError(f"{name}: cannot read INSTRUME: {exc}") from None
        if ref_inst != instrument:
            raise ReferenceFileError(
                f"{name}: INSTRUME={ref_inst!r} but the science exposure's INSTRUME is "
                f"{instrument!r}; expected a PHOTOM reference for INSTRUME={instrument!r}"
            )
    ref = load_reference(path, getattr(dm, _PHOTOM_MODEL[instrument]), science)
    if not ref.hasattr("phot_table") or len(ref.phot_table) == 0:
        raise ReferenceFileError(f"{name}: the PHOTOM table (extension PHOTOM) is missing or "
                                 "empty; expected one row per optical configuration")  # fmt: skip
    return ref


#: Spectroscopic PHOTOM references: (INSTRUME, datamodel, table columns, what they hold).
_SPECTRAL_PHOTOM = {
    "lrs": ("MIRI", "MIRI LRS", "MirLrsPhotomModel", ("wavelength", "relresponse"),
            "relative response per wavelength"),
    "grism": ("NIRCAM", "NIRCam grism", "NrcWfssPhotomModel",
              ("order", "wavelength", "relresponse"), "response per order and wavelength"),
}  # fmt: skip


def _open_spectral_photom(path: str, science, kind: str):
    """Open a spectroscopic PHOTOM reference (``kind`` a key of :data:`_SPECTRAL_PHOTOM`);
    refuse one of another mode or instrument, or without the expected table columns."""
    from stdatamodels.jwst import datamodels as dm

    instrument, label, model_name, columns, holds = _SPECTRAL_PHOTOM[kind]
    name = os.path.basename(path)
    exp_type = (science.meta.exposure.type or "").upper()
    if path.endswith(".fits"):
        from astropy.io import fits

        try:
            head = fits.getheader(path, ext=0)
        except OSError as exc:
            raise ReferenceFileError(f"{name}: cannot read the primary header: {exc}") from None
        inst = str(head.get("INSTRUME", "")).strip().upper()
        if inst != instrument:
            raise ReferenceFileError(f"{name}: INSTRUME={inst!r}; expected a {label} PHOTOM "
                                     f"reference for the {label.split()[0]} exposure")  # fmt: skip
        declared = {v.strip().upper() for v in str(head.get("P_EXP_TY", "")).split("|")}
        declared |= {str(head.get("EXP_TYPE", "")).strip().upper()}
        declared -= {"", "N/A", "ANY", "NONE"}
        if declared and exp_type not in declared:
            raise ReferenceFileError(
                f"{name}: PHOTOM reference for EXP_TYPE in {sorted(declared)}, but "
                f"{science.meta.filename or 'the exposure'} has EXP_TYPE={exp_type!r}; expected "
                f"the {label} PHOTOM reference (a reference of another mode was given)"
            )
    ref = load_reference(path, getattr(dm, model_name), science)
    table = ref.phot_table if ref.hasattr("phot_table") else None
    names = set(table.dtype.names) if table is not None else set()
    if table is None or len(table) == 0 or not set(columns) <= names:
        ref.close()
        raise ReferenceFileError(
            f"{name}: the PHOTOM table is missing, empty or has no {'/'.join(columns)} "
            f"columns; expected the {label} PHOTOM table ({holds})"
        )
    return ref


def _columns(table) -> dict[str, np.ndarray]:
    return {n.lower(): np.asarray(table[n]) for n in table.dtype.names}


def _select_row(ref, model, instrument: str, name: str) -> int:
    """Index of the PHOTOM row for the exposure; ReferenceFileError when none or several."""
    table = ref.phot_table
    if instrument == "FGS":
        return 0
    meta = model.meta
    filt = (meta.instrument.filter or "").upper()
    sub = (meta.subarray.name or "").upper()
    columns = _columns(table)
    if instrument == "NIRCAM_GRISM":
        pupil = (meta.instrument.pupil or "").upper()
        criteria = {"filter": filt, "pupil": pupil, "order": str(meta.wcsinfo.spectral_order)}
        log.info("Matching FILTER %s, PUPIL %s, ORDER %s", filt, pupil, criteria["order"])
        rows = matching_rows(columns, criteria)
    elif instrument == "MIRI":
        log.info("Matching FILTER %s, SUBARRAY %s", filt, sub)
        criteria = {"filter": filt, "subarray": sub}
        rows = matching_rows(columns, criteria)
        if len(rows) == 0:
            rows = matching_rows(columns, {"filter": filt, "subarray": "GENERIC"})
    else:
        pupil = (meta.instrument.pupil or "").upper()
        criteria = {"filter": filt, "pupil": pupil}
        if instrument == "NIRCAM" and "subarray" in columns:
            criteria["subarray"] = sub
        log.info("Matching %s", ", ".join(f"{k.upper()} {v}" for k, v in criteria.items()))
        rows = matching_rows(columns, criteria)
    wanted = ", ".join(f"{k.upper()}={v!r}" for k, v in criteria.items())
    if len(rows) == 0:
        keys = [k for k in criteria if k in columns]
        have = sorted({"/".join(str(columns[k][i]).strip() for k in keys)
                       for i in range(len(table))})  # fmt: skip
        also = " (nor SUBARRAY='GENERIC')" if instrument == "MIRI" else ""
        raise ReferenceFileError(
            f"{name}: the PHOTOM table has no row for the exposure's {wanted}{also}; "
            f"rows ({'/'.join(k.upper() for k in keys)}): {', '.join(have[:40])}"
        )
    if len(rows) > 1:
        raise ReferenceFileError(
            f"{name}: the PHOTOM table has {len(rows)} rows (indices {rows.tolist()}) for "
            f"{wanted}; expected exactly one"
        )
    return int(rows[0])


def _time_coefficients(ref, row: int, name: str) -> TimeCoefficients:
    """Coefficients of the time-dependence tables at ``row`` (checked against PHOTOM)."""
    phot = _columns(ref.phot_table)
    laws = {}
    for law, fields in _TIME_LAWS.items():
        attr = f"timecoeff_{law}"
        table = getattr(ref, attr) if ref.hasattr(attr) else None
        if table is None:
            continue
        ext = attr.upper()
        if len(table) != len(ref.phot_table):
            raise ReferenceFileError(
                f"{name}: extension {ext} has {len(table)} rows but PHOTOM has "
                f"{len(ref.phot_table)}; expected one row per PHOTOM row"
            )
        cols = _columns(table)
        for key in ("filter", "pupil", "subarray"):
            if key in cols and key in phot:
                same = np.char.strip(cols[key].astype(str)) == np.char.strip(phot[key].astype(str))
                if not np.all(same):
                    bad = int(np.flatnonzero(~same)[0])
                    raise ReferenceFileError(
                        f"{name}: extension {ext} row {bad} has {key.upper()}="
                        f"{str(cols[key][bad]).strip()!r} but PHOTOM row {bad} has "
                        f"{str(phot[key][bad]).strip()!r}; expected the same rows in the same order"
                    )
        laws[law] = tuple(float(cols[f][row]) for f in fields)
    return TimeCoefficients(**laws)


def _mid_time(model, name: str) -> float:
    mid = model.meta.exposure.mid_time
    if mid is None or not np.isfinite(mid):
        raise ValueError(
            f"{model.meta.filename or 'input'}: EXPMID (meta.exposure.mid_time) is {mid!r}; the "
            f"PHOTOM reference {name} has a time-dependent correction, which needs the "
            "exposure mid-time in MJD (or run with apply_time_correction=False)"
        )
    return float(mid)
