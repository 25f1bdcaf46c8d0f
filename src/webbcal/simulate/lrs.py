"""Simulated MIRI LRS slitless time series (``_rateints``) and their stage-2 references.

The exposure is the SLITLESSPRISM subarray (416 rows x 72 columns, SUBSTRT 1/529) of the
MIRI imager, EXP_TYPE ``MIR_LRS-SLITLESS``, FILTER ``P750L``, TSOVISIT true. The truth is
analytic so that the tests compare against values not computed by the code under test:

- the wavelength of subarray row ``y`` (0-based) is :func:`true_wavelength` (micron,
  decreasing with the row, 3.6 um at row 390 to 14 um at row 10, a cubic so that
  the official smoothing spline through the table reproduces it);
- the trace column is :func:`true_trace_x`;
- the source's flux density is :func:`true_flux_density` (Jy) times a per-integration
  factor (a light curve), spread across columns as a pixel-integrated Gaussian;
- the count rate (DN/s) is what the references turn back into that flux density: the
  flat-field value times ``F / (1e6 * PIXAR_SR * PHOTMJSR * relresponse(lambda))``.

The references written with :meth:`SimulatedLrs.write_references` are a ``specwcs`` (FITS
``MiriLRSSpecwcsModel`` sampling the analytic trace), the imager ``distortion`` from the
SIAF (the MIRIM_FULL aperture), a full-frame ``flat``, an LRS ``photom``
(``MirLrsPhotomModel``, relative response per wavelength) and an ``extract1d`` (JSON,
aperture ``MIR_LRS-SLITLESS``: a box around the trace and two background strips).

References
----------
JWST pipeline documentation: ``assign_wcs`` ("MIRI LRS"), reference files ``specwcs``
(MIRI LRS), ``photom`` (MIRI LRS table), ``extract1d`` (JSON apertures: ``xstart``,
``xstop``, ``bkg_coeff``, ``bkg_order``); the INT_TIMES table (int_times.schema).

Kendrew, S. et al. 2015, PASP 127, 623 (MIRI LRS: P750L prism, slitless subarray).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = [
    "LRS_ROW_RANGE",
    "SimulatedLrs",
    "simulate_lrs_slitless",
    "true_flux_density",
    "true_relative_response",
    "true_trace_x",
    "true_wavelength",
]

#: First and last subarray rows (0-based) of the trace table.
LRS_ROW_RANGE = (10, 390)
_Y_ZERO = 300.0  # reference row in the subarray (IMYSLTL 829 - SUBSTRT2 529)
_X_ZERO = 37.5  # reference column in the subarray (IMXSLTL 38.5 - SUBSTRT1 1)
_PHOTMJSR = 0.02
_NINT_SECONDS = 9.5


def true_wavelength(y):
    """Wavelength (micron) of 0-based subarray row ``y``; strictly decreasing with ``y``."""
    lo, hi = LRS_ROW_RANGE
    t = (hi - np.asarray(y, dtype=np.float64)) / (hi - lo)
    return 3.6 + 10.4 * (0.6 * t + 0.3 * t * t + 0.1 * t**3)


def true_trace_x(y):
    """0-based subarray column of the trace centre at row ``y``."""
    d = np.asarray(y, dtype=np.float64) - _Y_ZERO
    return _X_ZERO + 0.004 * d + 2.0e-6 * d * d


def true_flux_density(wavelength):
    """Flux density (Jy) of the simulated source at ``wavelength`` (micron)."""
    w = np.asarray(wavelength, dtype=np.float64)
    return 0.012 * (w / 7.0) ** -1.6 * (1.0 + 0.08 * np.sin(w))


def true_relative_response(wavelength):
    """The photom reference's relative response at ``wavelength`` (micron)."""
    w = np.asarray(wavelength, dtype=np.float64)
    return 0.6 + 0.4 * np.exp(-0.5 * ((w - 8.0) / 3.5) ** 2)


@dataclass
class SimulatedLrs:
    """A simulated LRS slitless rateints product, its truth and its references.

    Attributes
    ----------
    model : stdatamodels.jwst.datamodels.CubeModel
        ``_rateints`` (DN/s), shape (nints, 416, 72), with INT_TIMES and stage-1 metadata.
    setup : webbcal.simulate.imaging.ImagingSetup
        The SIAF aperture ``MIRIM_SLITLESSPRISM`` and detector geometry.
    pointing : webbcal.wcs.Pointing
    distortion : astropy.modeling.Model
        Full-frame MIRI imager distortion (SIAF).
    rows : ndarray of int
        Subarray rows that hold the spectrum (the trace table's rows).
    wavelength : ndarray, float64
        True wavelength of each of ``rows`` (micron).
    flux : ndarray, shape (nints, len(rows)), float64
        True flux density per integration and row (Jy), light curve included.
    light_curve : ndarray, shape (nints,)
        Relative brightness of each integration.
    flat : ndarray, shape (1024, 1032), float32
        Full-frame flat field written to the ``flat`` reference.
    pixar_sr : float
        Pixel solid angle (PIXAR_SR of the photom reference), steradian.
    extract : dict
        The ``extract1d`` aperture (JSON entry) written with the references.
    """

    model: object
    setup: object
    pointing: object
    distortion: object
    rows: np.ndarray
    wavelength: np.ndarray
    flux: np.ndarray
    light_curve: np.ndarray
    flat: np.ndarray
    pixar_sr: float
    extract: dict = field(default_factory=dict)

    def save(self, directory: str | Path) -> Path:
        """Write the rateints product to ``directory`` (atomically) and return its path."""
        from webbcal.datamodels import save_model

        path = Path(directory) / self.model.meta.filename
        path.parent.mkdir(parents=True, exist_ok=True)
        save_model(self.model, str(path))
        return path

    def write_references(self, directory: str | Path) -> dict[str, Path]:
        """Write ``distortion``, ``specwcs``, ``flat``, ``photom``, ``extract1d``, ``apcorr``.

        Returns
        -------
        dict
            Reference type -> path.
        """
        from webbcal.simulate.imaging import write_distortion_reference

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        types = ("MIR_IMAGE", "MIR_LRS-FIXEDSLIT", "MIR_LRS-SLITLESS", "MIR_TACQ")
        return {
            "distortion": write_distortion_reference(
                self.setup,
                self.distortion,
                directory / "webbcal_mirimage_distortion.asdf",
                exp_types=types,
            ),  # fmt: skip
            "specwcs": write_lrs_specwcs(directory / "webbcal_miri_lrs_specwcs.fits"),
            "flat": _write_flat(self.flat, directory / "webbcal_miri_lrs_flat.fits"),
            "photom": write_lrs_photom(
                directory / "webbcal_miri_lrs_photom.fits", pixar_sr=self.pixar_sr
            ),  # fmt: skip
            "extract1d": write_lrs_extract1d(
                directory / "webbcal_miri_extract1d.json", self.extract
            ),
            "apcorr": write_lrs_apcorr(directory / "webbcal_miri_lrs_apcorr.fits"),  # fmt: skip
        }


def _reference_meta(model, reftype: str, exp_type: str, p_exptype: str) -> None:
    meta = model.meta
    meta.reftype = reftype
    meta.telescope = "JWST"
    meta.author = "webbcal simulator"
    meta.pedigree = "GROUND"
    meta.useafter = "2022-01-01T00:00:00"
    meta.description = f"webbcal simulated MIRI LRS {reftype}"
    meta.instrument.name = "MIRI"
    meta.instrument.detector = "MIRIMAGE"
    meta.exposure.type = exp_type
    meta.exposure.p_exptype = p_exptype


def lrs_trace_table() -> np.ndarray:
    """The ``WAVETABLE`` rows sampling the analytic trace (one per subarray row).

    Returns
    -------
    ndarray
        Structured array with the ``specwcs`` columns, ``y_center`` decreasing (as in the
        flight files: wavelength increasing down the table).
    """
    lo, hi = LRS_ROW_RANGE
    y = np.arange(hi, lo - 1, -1, dtype=np.float64)
    xc = true_trace_x(y) - _X_ZERO
    yc = y - _Y_ZERO
    names = ("x_center", "y_center", "wavelength", "x0", "y0", "x1", "y1", "x2", "y2", "x3", "y3")
    table = np.zeros(y.size, dtype=[(n, "<f8") for n in names])
    table["x_center"], table["y_center"] = xc, yc
    table["wavelength"] = true_wavelength(y)
    half = 2.0  # half-width of the calibration box in columns
    table["x0"], table["y0"] = xc - half, yc + 0.5
    table["x1"], table["y1"] = xc + half, yc + 0.5
    table["x2"], table["y2"] = xc + half, yc - 0.5
    table["x3"], table["y3"] = xc - half, yc - 0.5
    return table


def write_lrs_specwcs(path: str | os.PathLike, *, exp_type: str = "MIR_LRS-SLITLESS") -> Path:
    """Write the LRS ``specwcs`` reference (FITS, ``MiriLRSSpecwcsModel``).

    Parameters
    ----------
    path : path-like
        Output FITS file.
    exp_type : str, optional
        EXP_TYPE the reference declares (P_EXP_TY lists both LRS modes when it is an LRS
        type; another value makes a reference of another mode, for bad-input tests).

    Returns
    -------
    Path
    """
    from stdatamodels.jwst.datamodels import MiriLRSSpecwcsModel

    ref = MiriLRSSpecwcsModel(wavetable=lrs_trace_table())
    lrs = exp_type.upper().startswith("MIR_LRS")
    _reference_meta(ref, "SPECWCS", exp_type,
                    "MIR_LRS-FIXEDSLIT|MIR_LRS-SLITLESS|" if lrs else f"{exp_type}|")  # fmt: skip
    ref.meta.instrument.filter = "P750L"
    ref.meta.subarray.name = "GENERIC"
    ref.meta.x_ref, ref.meta.y_ref = 326.13, 300.70
    ref.meta.x_ref_slitless, ref.meta.y_ref_slitless = _X_ZERO + 1.0, _Y_ZERO + 529.0
    return _save(ref, path)


def write_lrs_photom(
    path: str | os.PathLike,
    *,
    pixar_sr: float,
    photmjsr: float = _PHOTMJSR,
    subarrays: tuple[str, ...] = ("SLITLESSPRISM", "FULL"),
    wavelength_unit: str = "micron",
) -> Path:
    """Write an LRS ``photom`` reference (``MirLrsPhotomModel``) with PIXAR_SR/PIXAR_A2.

    Each row (FILTER P750L, one per subarray) holds PHOTMJSR and the relative response
    :func:`true_relative_response` on a 0.02-um grid from 3 to 15 um.

    Parameters
    ----------
    path : path-like
        Output FITS file.
    pixar_sr : float
        Pixel solid angle, steradian.
    photmjsr : float, optional
        (MJy/sr) / (DN/s).
    subarrays : tuple of str, optional
        SUBARRAY of each row.
    wavelength_unit : {"micron", "meter"}, optional
        Unit of the wavelength column (old references used metres).

    Returns
    -------
    Path
    """
    from stdatamodels.jwst.datamodels import MirLrsPhotomModel

    grid = np.arange(3.0, 15.0 + 1e-9, 0.02)
    n = grid.size
    scale = 1e-6 if wavelength_unit == "meter" else 1.0
    dtype = [("filter", "S12"), ("subarray", "S17"), ("photmjsr", "<f4"), ("uncertainty", "<f4"),
             ("nelem", "<i2"), ("wavelength", "<f4", (n,)), ("relresponse", "<f4", (n,)),
             ("reluncertainty", "<f4", (n,))]  # fmt: skip
    rows = [("P750L", sub, photmjsr, 0.01 * photmjsr, n, grid * scale,
             true_relative_response(grid), np.full(n, 0.01)) for sub in subarrays]  # fmt: skip
    ref = MirLrsPhotomModel(phot_table=np.array(rows, dtype=dtype))
    _reference_meta(ref, "PHOTOM", "MIR_LRS-SLITLESS", "MIR_LRS-FIXEDSLIT|MIR_LRS-SLITLESS|")
    ref.meta.instrument.filter = "P750L"
    ref.meta.photometry.pixelarea_steradians = pixar_sr
    ref.meta.photometry.pixelarea_arcsecsq = pixar_sr / (math.pi / 180 / 3600) ** 2
    return _save(ref, path)


def write_lrs_apcorr(path: str | os.PathLike, *, subarrays=("SLITLESSPRISM", "FULL")) -> Path:
    """Write a MIRI LRS ``apcorr`` reference (``MirLrsApcorrModel``, sizes in pixels).

    The correction grows towards small apertures and long wavelengths (a wider PSF):
    ``1 + 0.3 * (lambda / 10 um) * exp(-size / 2.5)`` on 25 wavelengths (3-15 um) and
    sizes 1..20 pixels.

    Returns
    -------
    Path
    """
    from stdatamodels.jwst.datamodels import MirLrsApcorrModel

    wl = np.linspace(3.0, 15.0, 25)
    size = np.arange(1, 21)
    corr = 1.0 + 0.3 * (wl[:, None] / 10.0) * np.exp(-size[None, :] / 2.5)
    dtype = [("subarray", "S17"), ("wavelength", "<f4", (wl.size,)), ("nelem_wl", "<i2"),
             ("size", "u1", (size.size,)), ("nelem_size", "<i2"),
             ("apcorr", "<f4", (wl.size, size.size)),
             ("apcorr_err", "<f4", (wl.size, size.size))]  # fmt: skip
    rows = [(sub, wl, wl.size, size, size.size, corr, 0.01 * corr) for sub in subarrays]
    ref = MirLrsApcorrModel(apcorr_table=np.array(rows, dtype=dtype))
    ref.sizeunit = "pixels"
    _reference_meta(ref, "APCORR", "MIR_LRS-SLITLESS", "MIR_LRS-FIXEDSLIT|MIR_LRS-SLITLESS|")
    return _save(ref, path)


def default_extract_aperture() -> dict:
    """The ``MIR_LRS-SLITLESS`` aperture of the simulated ``extract1d`` reference."""
    lo, hi = LRS_ROW_RANGE
    return {
        "id": "MIR_LRS-SLITLESS",
        "region_type": "target",
        "disp_axis": 2,
        "xstart": 33,
        "xstop": 42,
        "ystart": lo,
        "ystop": hi,
        "bkg_coeff": [[19.5], [28.5], [46.5], [55.5]],
        "bkg_order": 0,
        "extract_width": None,
    }


def write_lrs_extract1d(path: str | os.PathLike, aperture: dict | None = None) -> Path:
    """Write an ``extract1d`` reference (JSON) with one LRS slitless aperture.

    Returns
    -------
    Path
    """
    aperture = dict(aperture or default_extract_aperture())
    aperture = {k: v for k, v in aperture.items() if v is not None}
    doc = {
        "reftype": "EXTRACT1D",
        "instrument": "MIRI",
        "telescope": "JWST",
        "exp_type": "MIR_LRS-FIXEDSLIT|MIR_LRS-SLITLESS",
        "pedigree": "GROUND",
        "useafter": "2022-01-01T00:00:00",
        "author": "webbcal simulator",
        "description": "webbcal simulated MIRI LRS extraction apertures",
        "apertures": [
            {"id": "MIR_LRS-FIXEDSLIT", "region_type": "target", "disp_axis": 2,
             "xstart": 27, "xstop": 34, "bkg_order": 0},
            aperture,
        ],
    }  # fmt: skip
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(doc, indent=2))
    os.replace(tmp, path)
    return path


def _save(model, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(os.fspath(path))
    model.close()
    return path


def _write_flat(flat: np.ndarray, path: Path) -> Path:
    from stdatamodels.jwst.datamodels import FlatModel

    ref = FlatModel(data=flat, err=(0.005 * flat).astype(np.float32),
                    dq=np.zeros(flat.shape, np.uint32))  # fmt: skip
    _reference_meta(ref, "FLAT", "MIR_LRS-SLITLESS", "MIR_LRS-FIXEDSLIT|MIR_LRS-SLITLESS|")
    ref.meta.instrument.filter = "P750L"
    sub = ref.meta.subarray
    sub.name, sub.xstart, sub.ystart = "FULL", 1, 1
    sub.ysize, sub.xsize = flat.shape
    return _save(ref, path)


def _gaussian_columns(centre: np.ndarray, sigma: float, nx: int) -> np.ndarray:
    """Fraction of a unit Gaussian (per row centre) falling in each column, (nrows, nx)."""
    from scipy.special import erf

    edges = np.arange(nx + 1) - 0.5
    z = (edges[None, :] - centre[:, None]) / (sigma * math.sqrt(2.0))
    cdf = 0.5 * (1.0 + erf(z))
    return np.diff(cdf, axis=1)


def _int_times(nints: int, start_mjd: float, seconds: float, first: int = 1) -> np.ndarray:
    from stdatamodels.jwst.datamodels import CubeModel

    names = [c["name"] for c in CubeModel().schema["properties"]["int_times"]["datatype"]]
    table = np.zeros(nints, dtype=[(n, "<i4" if n == "integration_number" else "<f8")
                                   for n in names])  # fmt: skip
    k = np.arange(nints)
    table["integration_number"] = first + k
    start = start_mjd + (first - 1 + k) * seconds / 86400.0
    end = start + seconds / 86400.0
    table["int_start_MJD_UTC"], table["int_end_MJD_UTC"] = start, end
    table["int_mid_MJD_UTC"] = 0.5 * (start + end)
    offset = 69.184 / 86400.0
    for col in ("start", "mid", "end"):
        table[f"int_{col}_BJD_TDB"] = table[f"int_{col}_MJD_UTC"] + offset + 0.0021
    return table


def simulate_lrs_slitless(
    siaf_dir: str | Path | None,
    *,
    nints: int = 12,
    sky: float = 4.0,
    noise: float = 0.0,
    light_curve: np.ndarray | None = None,
    flat_spread: float = 0.02,
    sigma: float = 0.9,
    ra_ref: float = 80.4875,
    dec_ref: float = -69.4986,
    roll_ref: float = 255.0,
    seed: int = 0,
) -> SimulatedLrs:
    """Simulate a MIRI LRS slitless ``_rateints`` whose truth is analytic.

    Parameters
    ----------
    siaf_dir : str or Path or None
        Folder with ``MIRI_SIAF.xml`` (PRD SIAFXML folder).
    nints : int, optional
        Number of integrations (>= 1).
    sky : float, optional
        Background, DN/s per pixel before the flat (a gentle slope along the rows).
    noise : float, optional
        Gaussian noise per pixel, DN/s (0: noise-free); VAR_RNOISE holds its square.
    light_curve : ndarray or None, optional
        Relative brightness per integration (default: a 1 % box-shaped transit in the
        middle third).
    flat_spread : float, optional
        Pixel-to-pixel scatter of the flat field.
    sigma : float, optional
        Gaussian width of the trace across columns, pixels.
    ra_ref, dec_ref, roll_ref : float, optional
        Pointing at the aperture's reference point, degrees.
    seed : int, optional
        Seed of the noise and flat.

    Returns
    -------
    SimulatedLrs

    Raises
    ------
    ValueError
        If ``nints`` < 1 or ``light_curve`` has the wrong length.
    """
    from stdatamodels.jwst import datamodels as dm

    from webbcal.simulate.imaging import _set_metadata, imaging_setup
    from webbcal.simulate.references_stage2 import pixel_area
    from webbcal.wcs import Pointing, distortion_from_siaf, imaging_wcs

    if nints < 1:
        raise ValueError(f"nints={nints!r}: expected at least 1 integration")
    if light_curve is None:
        light_curve = np.ones(nints)
        light_curve[nints // 3 : 2 * nints // 3] = 0.99
    light_curve = np.asarray(light_curve, dtype=np.float64)
    if light_curve.shape != (nints,):
        raise ValueError(f"light_curve has shape {light_curve.shape}; expected ({nints},)")
    setup = imaging_setup("MIRIM_SLITLESSPRISM", siaf_dir, exp_type="MIR_LRS-SLITLESS",
                          filter="P750L")  # fmt: skip
    ap = setup.aperture
    pointing = Pointing(
        v2_ref=ap.v2_ref, v3_ref=ap.v3_ref, roll_ref=float(roll_ref), ra_ref=float(ra_ref),
        dec_ref=float(dec_ref), v3i_yang=ap.v3_idl_yangle, vparity=ap.vidl_parity,
        va_scale=1.00002,
    )  # fmt: skip
    distortion = distortion_from_siaf(setup.full_aperture)
    image_wcs = imaging_wcs(distortion, pointing, shape=setup.shape,
                            subarray_start=(setup.xstart, setup.ystart))  # fmt: skip
    ny, nx = setup.shape
    rng = np.random.default_rng(seed)
    full = setup.full_shape
    yy, xx = np.mgrid[0 : full[0], 0 : full[1]] / np.array(full)[:, None, None]
    flat = (1 + flat_spread * (0.5 * np.sin(3.0 * xx) * np.cos(2.0 * yy) - 0.1 * yy)
            * (1 + 0.5 * rng.standard_normal(full))).astype(np.float32)  # fmt: skip
    flat_sub = flat[
        setup.ystart - 1 : setup.ystart - 1 + ny, setup.xstart - 1 : setup.xstart - 1 + nx
    ]
    pixar_sr, _ = pixel_area("MIRI", "MIRIMAGE")

    lo, hi = LRS_ROW_RANGE
    rows = np.arange(lo, hi + 1)
    wave = true_wavelength(rows)
    fnu = true_flux_density(wave)  # Jy
    rate_row = fnu / (1e6 * pixar_sr * _PHOTMJSR * true_relative_response(wave))  # DN/s
    profile = _gaussian_columns(true_trace_x(rows), sigma, nx)
    source = np.zeros((ny, nx))
    source[rows] = rate_row[:, None] * profile
    y_all = np.arange(ny, dtype=np.float64)[:, None]
    background = sky * (1.0 + 0.2 * y_all / ny) * np.ones((1, nx))
    data = (light_curve[:, None, None] * source[None] + background[None]) * flat_sub[None]
    if noise > 0:
        data = data + rng.normal(0.0, noise, data.shape)
    shape3 = (nints, ny, nx)
    var_rn = np.full(shape3, max(noise, 1e-3) ** 2, np.float32)
    var_p = (np.abs(data) * 1e-3).astype(np.float32)
    model = dm.CubeModel(
        data=data.astype(np.float32), dq=np.zeros(shape3, np.uint32),
        err=np.sqrt(var_rn + var_p), var_poisson=var_p, var_rnoise=var_rn,
    )  # fmt: skip
    _set_metadata(model, setup, pointing, image_wcs, nints)
    meta = model.meta
    meta.filename = "jw01234001001_01101_00001_mirimage_rateints.fits"
    meta.exposure.readpatt = "FASTR1"
    meta.exposure.ngroups, meta.exposure.nframes = 10, 1
    meta.exposure.frame_time = meta.exposure.group_time = 0.159
    meta.exposure.integration_time = _NINT_SECONDS
    meta.exposure.integration_start, meta.exposure.integration_end = 1, nints
    meta.exposure.segment_number = 1
    start = 60100.5
    meta.exposure.start_time = start
    meta.exposure.end_time = start + nints * _NINT_SECONDS / 86400.0
    meta.exposure.mid_time = 0.5 * (meta.exposure.start_time + meta.exposure.end_time)
    meta.visit.tsovisit = True
    meta.target.source_type_apt = "POINT"
    meta.target.proposer_name = "SIM-LRS-1"
    meta.target.catalog_name = "SIM-LRS-1"
    meta.dither.primary_type = "NONE"
    meta.observation.bkgdtarg = False
    meta.wcsinfo.velosys = -12345.0
    meta.wcsinfo.spectral_order = None
    model.int_times = _int_times(nints, start, _NINT_SECONDS)
    return SimulatedLrs(
        model=model, setup=setup, pointing=pointing, distortion=distortion, rows=rows,
        wavelength=wave, flux=light_curve[:, None] * fnu[None, :], light_curve=light_curve,
        flat=flat, pixar_sr=float(pixar_sr), extract=default_extract_aperture(),
    )  # fmt: skip
