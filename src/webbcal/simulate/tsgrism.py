"""Simulated NIRCam grism time series (``NRC_TSGRISM``) and their stage-2 references.

The exposure is the SUBGRISM64 subarray (64 rows x 2048 columns, SUBSTRT 1/1) of NRCALONG,
aperture ``NRCA5_GRISM64_F444W`` (XREF_SCI 858, YREF_SCI 35), FILTER ``F444W``, PUPIL
``GRISMR``, TSOVISIT true. The spectrum is placed with the dispersion polynomials of a
real ``specwcs`` reference, evaluated here independently of the pipeline's WCS: the
wavelength of 0-based subarray column ``x`` is :meth:`SimulatedTsgrism.true_wavelength`,
``displ(t)`` at the ``t`` where ``dispx(t) = x + SUBSTRT1 - 1 - XREF_SCI`` (solved
numerically from the forward ``dispx``, not from the reference's ``invdispx``), divided by
``1 + VELOSYS/c`` (the official conventions: XREF_SCI taken as a 0-based full-frame
column, velocity correction of the wavelengths).

The count rates are those the references turn back into the true flux density: a
source of flux density :func:`true_flux_density` (Jy, times a per-integration light
curve) spread over rows as a pixel-integrated Gaussian centred on row 34 (0-based; the
official cut-out puts the source there), so that column ``x`` holds, summed over rows,
``F(lambda) * D / (1e6 * PIXAR_SR * PHOTMJSR * R(lambda))`` DN/s before the flat, with
``D`` the dispersion (micron per pixel) and ``R`` the photom reference's relative
response; plus a sky of a few DN/s per pixel, constant across the rows.

:meth:`SimulatedTsgrism.write_references` writes the imaging ``distortion`` of
NRCA5_FULL from the SIAF, a ``wavelengthrange`` (:func:`write_nircam_wavelengthrange`),
a subarray ``flat``, a grism ``photom`` (``NrcWfssPhotomModel``, analytic relative
response :func:`true_relative_response`) and an ``extract1d`` (JSON, aperture
``NRC_TSGRISM`` with background strips); the ``specwcs`` is the one given.

References
----------
JWST pipeline documentation: ``assign_wcs`` ("NIRCam grism time series"), ``extract_2d``
("NIRCam grism time series"), reference files ``specwcs`` (NIRCam grisms),
``wavelengthrange``, ``photom`` (NIRCam WFSS/TSGRISM table with ``order``,
``wavelength``, ``relresponse``), ``extract1d``.

Greene, T. P. et al. 2017, JATIS 3, 035001 (NIRCam grism time series: SUBGRISM64, F444W).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .lrs import _gaussian_columns, _int_times, _save

__all__ = [
    "SimulatedTsgrism",
    "simulate_tsgrism",
    "true_flux_density",
    "true_relative_response",
    "write_nircam_wavelengthrange",
    "write_tsgrism_extract1d",
    "write_tsgrism_photom",
]

_APERTURE = "NRCA5_GRISM64_F444W"
_PHOTMJSR = 840.0
_SOURCE_ROW = 34.0
_NINT_SECONDS = 11.2
_C_M_PER_S = 299792458.0

#: The F444W order-1 and order-2 wavelength ranges (micron) of the ground reference tools
#: (jwreftools, NIRCam TSGRISM wavelengthrange), as (order, filter, min, max).
NIRCAM_TSGRISM_RANGES = (
    (1, "F277W", 2.500411072, 3.807062006),
    (1, "F322W2", 2.5011293930000003, 4.215842089),
    (1, "F356W", 3.001085025, 4.302320901),
    (1, "F444W", 3.696969216, 4.899565197),
    (2, "F277W", 2.500411072, 3.2642254050000004),
    (2, "F322W2", 2.5011293930000003, 4.136119434),
    (2, "F356W", 2.529505253, 4.133416971),
    (2, "F444W", 2.5011293930000003, 4.899565197),
)


def true_flux_density(wavelength):
    """Flux density (Jy) of the simulated source at ``wavelength`` (micron): a power law
    with a gentle ripple and an absorption line at 4.3 micron."""
    w = np.asarray(wavelength, dtype=np.float64)
    line = 1.0 - 0.08 * np.exp(-0.5 * ((w - 4.3) / 0.02) ** 2)
    return 2.0 * (w / 4.0) ** -2.0 * (1.0 + 0.05 * np.sin(6.0 * w)) * line


def true_relative_response(wavelength):
    """Relative response of the simulated grism photom reference (F444W, order 1): near 1
    in the band, rising steeply outside it (the reference is an inverse sensitivity)."""
    w = np.asarray(wavelength, dtype=np.float64)
    return 0.9 + 0.1 * (w - 4.4) ** 2 + 0.02 * np.exp(4.0 * np.abs(w - 4.4))


def _specwcs_order(path: str | os.PathLike, order: int) -> dict[str, np.ndarray]:
    """The forward polynomials of one order of a NIRCam specwcs (plain ``t`` polynomials),
    read with asdf alone (not through the pipeline's reader)."""
    import asdf

    with asdf.open(os.fspath(path), lazy_load=False, memmap=False) as af:
        orders = [int(o) for o in af.tree["orders"]]
        k = orders.index(order)
        out = {}
        for key in ("displ", "dispx", "dispy"):
            model = af.tree[key][k]
            if getattr(model, "n_inputs", None) != 1:
                raise ValueError(
                    f"{os.path.basename(os.fspath(path))}: {key} of order {order} depends on the "
                    "source position; the simulator expects plain polynomials of t"
                )
            out[key] = np.array(model.parameters, dtype=np.float64)
    return out


@dataclass
class SimulatedTsgrism:
    """A simulated NRC_TSGRISM rateints product, its truth and its references.

    Attributes
    ----------
    model : stdatamodels.jwst.datamodels.CubeModel
        ``_rateints`` (DN/s), shape (nints, 64, 2048), with INT_TIMES and metadata.
    setup : webbcal.simulate.imaging.ImagingSetup
    pointing : webbcal.wcs.Pointing
    distortion : astropy.modeling.Model
        NRCA5_FULL distortion (SIAF).
    specwcs : Path
        The ``specwcs`` reference the spectrum was placed with.
    dispersion : dict
        Order-1 ``displ``, ``dispx``, ``dispy`` coefficients (increasing powers of t).
    wavelength : ndarray, shape (2048,), float64
        True wavelength of each column (micron).
    dispersion_um : ndarray, shape (2048,), float64
        True |d lambda / dx| of each column (micron per pixel).
    flux : ndarray, shape (nints, 2048), float64
        True flux density per integration and column (Jy), light curve included.
    light_curve : ndarray, shape (nints,)
    flat : ndarray, shape (64, 2048), float32
        The flat field of the subarray (the ``flat`` reference).
    pixar_sr : float
        PIXAR_SR of the photom reference.
    extract : dict
        The ``extract1d`` aperture written with the references.
    """

    model: object
    setup: object
    pointing: object
    distortion: object
    specwcs: Path
    dispersion: dict
    wavelength: np.ndarray
    dispersion_um: np.ndarray
    flux: np.ndarray
    light_curve: np.ndarray
    flat: np.ndarray
    pixar_sr: float
    extract: dict = field(default_factory=dict)

    @property
    def source_xy(self) -> tuple[float, float]:
        """(XREF_SCI, YREF_SCI) of the exposure."""
        info = self.model.meta.wcsinfo
        return float(info.siaf_xref_sci), float(info.siaf_yref_sci)

    def true_wavelength(self, x) -> np.ndarray:
        """True wavelength (micron) of 0-based subarray column(s) ``x`` (order 1)."""
        return _wavelength_of_columns(np.asarray(x, dtype=np.float64), self.dispersion,
                                      self.source_xy[0], self.model.meta.subarray.xstart,
                                      self.model.meta.wcsinfo.velosys)  # fmt: skip

    def save(self, directory: str | Path) -> Path:
        """Write the rateints product to ``directory`` (atomically) and return its path."""
        from webbcal.datamodels import save_model

        path = Path(directory) / self.model.meta.filename
        path.parent.mkdir(parents=True, exist_ok=True)
        save_model(self.model, str(path))
        return path

    def write_references(self, directory: str | Path) -> dict[str, Path]:
        """Write ``distortion``, ``wavelengthrange``, ``flat``, ``photom``, ``extract1d``
        (and return the given ``specwcs`` with them).

        Returns
        -------
        dict
            Reference type -> path.
        """
        from webbcal.simulate.imaging import write_distortion_reference

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        types = ("NRC_IMAGE", "NRC_TSIMAGE", "NRC_TSGRISM", "NRC_WFSS", "NRC_TACQ")
        return {
            "distortion": write_distortion_reference(
                self.setup,
                self.distortion,
                directory / "webbcal_nrcalong_distortion.asdf",
                exp_types=types,
                pupils=("CLEAR", "GRISMR", "GRISMC"),
            ),  # fmt: skip
            "specwcs": self.specwcs,
            "wavelengthrange": write_nircam_wavelengthrange(
                directory / "webbcal_nircam_tsgrism_wavelengthrange.asdf"
            ),
            "flat": _write_flat(self.flat, directory / "webbcal_nrcalong_grism_flat.fits"),
            "photom": write_tsgrism_photom(
                directory / "webbcal_nrcalong_grism_photom.fits", pixar_sr=self.pixar_sr
            ),
            "extract1d": write_tsgrism_extract1d(
                directory / "webbcal_nircam_extract1d.json", self.extract
            ),
        }


def _wavelength_of_columns(x, disp, x_source, xstart, velosys) -> np.ndarray:
    from numpy.polynomial import polynomial as P

    dx = x + (int(xstart or 1) - 1) - x_source
    cx = disp["dispx"]
    if cx.size == 2:
        t = (dx - cx[0]) / cx[1]
    else:  # Newton iterations from the linear guess
        t = (dx - cx[0]) / cx[1]
        for _ in range(50):
            t = t - (P.polyval(t, cx) - dx) / P.polyval(t, P.polyder(cx))
    wave = P.polyval(t, disp["displ"])
    if velosys is not None:
        wave = wave / (1.0 + float(velosys) / _C_M_PER_S)
    return wave


def _reference_meta(model, reftype: str, p_exptype: str) -> None:
    meta = model.meta
    meta.reftype = reftype
    meta.telescope = "JWST"
    meta.author = "webbcal simulator"
    meta.pedigree = "GROUND"
    meta.useafter = "2022-01-01T00:00:00"
    meta.description = f"webbcal simulated NIRCam grism {reftype}"
    meta.instrument.name = "NIRCAM"
    meta.instrument.detector = "NRCALONG"
    meta.exposure.type = p_exptype.split("|")[0]
    meta.exposure.p_exptype = p_exptype + "|"


def write_nircam_wavelengthrange(
    path: str | os.PathLike,
    *,
    ranges=NIRCAM_TSGRISM_RANGES,
    exp_type: str = "NRC_TSGRISM",
    instrument: str = "NIRCAM",
) -> Path:
    """Write a NIRCam TSGRISM ``wavelengthrange`` reference (ASDF ``WavelengthrangeModel``).

    Rows are ``[order, fieldpoint, filter, min, max]`` (micron), the layout the jwst 3.0.0
    TSGRISM extraction reads (``fieldpoint`` "N/A": one field point); ``extract_orders``
    lists order 1 for every filter, ``order`` and ``waverange_selector`` the orders and
    filters present.

    Parameters
    ----------
    path : path-like
        Output file.
    ranges : sequence of (order, filter, min, max), optional
        Default: the ground ranges of F277W, F322W2, F356W, F444W, orders 1 and 2.
    exp_type, instrument : str, optional
        EXP_TYPE and INSTRUME declared (another value makes a reference of another mode,
        for bad-input tests).

    Returns
    -------
    Path
    """
    from astropy import units as u
    from stdatamodels.jwst.datamodels import WavelengthrangeModel

    rows = [[int(o), "N/A", str(f), float(lo), float(hi)] for o, f, lo, hi in ranges]
    filters = sorted({r[2] for r in rows})
    ref = WavelengthrangeModel()
    ref.meta.reftype = "WAVELENGTHRANGE"
    ref.meta.telescope = "JWST"
    ref.meta.author = "webbcal simulator"
    ref.meta.pedigree = "GROUND"
    ref.meta.useafter = "2014-01-01T00:00:00"
    ref.meta.description = "NIRCam grism time-series wavelength ranges (webbcal simulator)"
    ref.meta.instrument.name = instrument
    ref.meta.instrument.pupil = "ANY"
    ref.meta.exposure.type = exp_type
    ref.meta.exposure.p_exptype = exp_type + "|"
    ref.meta.wavelength_units = u.micron
    ref.wavelengthrange = rows
    ref.extract_orders = [[f, [1]] for f in filters]
    ref.order = sorted({r[0] for r in rows})
    ref.waverange_selector = filters
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{path.name}")
    ref.save(os.fspath(tmp))
    ref.close()
    os.replace(tmp, path)
    return path


def write_tsgrism_photom(
    path: str | os.PathLike,
    *,
    pixar_sr: float,
    photmjsr: float = _PHOTMJSR,
    filters: tuple[str, ...] = ("F444W", "F322W2"),
) -> Path:
    """Write a NIRCam grism ``photom`` reference (``NrcWfssPhotomModel``).

    One row per filter (PUPIL GRISMR) and order (1, 2): PHOTMJSR (order 2: 10x) and the
    relative response :func:`true_relative_response` on a 0.001-micron grid from 2.4 to
    5.2 micron; PIXAR_SR / PIXAR_A2 in the header.

    Returns
    -------
    Path
    """
    from stdatamodels.jwst.datamodels import NrcWfssPhotomModel

    grid = np.arange(2.4, 5.2 + 1e-9, 0.001)
    n = grid.size
    dtype = [("filter", "S12"), ("pupil", "S15"), ("order", "<i2"), ("photmjsr", "<f4"),
             ("uncertainty", "<f4"), ("nelem", "<i2"), ("wavelength", "<f4", (n,)),
             ("relresponse", "<f4", (n,)), ("reluncertainty", "<f4", (n,))]  # fmt: skip
    rows = []
    for filt in filters:
        for order in (1, 2):
            value = photmjsr * (1.0 if order == 1 else 10.0)
            rows.append((filt, "GRISMR", order, value, 0.01 * value, n, grid,
                         true_relative_response(grid), np.full(n, 0.01)))  # fmt: skip
    ref = NrcWfssPhotomModel(phot_table=np.array(rows, dtype=dtype))
    _reference_meta(ref, "PHOTOM", "NRC_WFSS|NRC_TSGRISM|NRC_GRISM")
    ref.meta.photometry.pixelarea_steradians = pixar_sr
    ref.meta.photometry.pixelarea_arcsecsq = pixar_sr / (math.pi / 180 / 3600) ** 2
    return _save(ref, path)


def default_extract_aperture() -> dict:
    """The ``NRC_TSGRISM`` aperture of the simulated ``extract1d`` reference: rows 28..40
    (the source at row 34) and background strips of rows 5..15 and 53..60."""
    return {
        "id": "NRC_TSGRISM",
        "region_type": "target",
        "disp_axis": 1,
        "xstart": 0,
        "xstop": 2047,
        "ystart": 28,
        "ystop": 40,
        "bkg_coeff": [[4.5], [15.5], [52.5], [60.5]],
        "bkg_order": 0,
    }


def write_tsgrism_extract1d(path: str | os.PathLike, aperture: dict | None = None) -> Path:
    """Write an ``extract1d`` reference (JSON) with one NIRCam grism time-series aperture.

    Returns
    -------
    Path
    """
    aperture = dict(aperture or default_extract_aperture())
    doc = {
        "reftype": "EXTRACT1D", "instrument": "NIRCAM", "telescope": "JWST",
        "exp_type": "NRC_TSGRISM", "pedigree": "GROUND", "useafter": "2022-01-01T00:00:00",
        "author": "webbcal simulator",
        "description": "webbcal simulated NIRCam grism time-series extraction aperture",
        "apertures": [aperture],
    }  # fmt: skip
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(doc, indent=2))
    os.replace(tmp, path)
    return path


def _write_flat(flat: np.ndarray, path: Path) -> Path:
    from stdatamodels.jwst.datamodels import FlatModel

    ref = FlatModel(data=flat, err=(0.005 * flat).astype(np.float32),
                    dq=np.zeros(flat.shape, np.uint32))  # fmt: skip
    _reference_meta(ref, "FLAT", "NRC_TSGRISM|NRC_WFSS")
    ref.meta.instrument.filter = "F444W"
    ref.meta.instrument.pupil = "GRISMR"
    ref.meta.instrument.channel, ref.meta.instrument.module = "LONG", "A"
    sub = ref.meta.subarray
    sub.name, sub.xstart, sub.ystart = "SUBGRISM64", 1, 1
    sub.ysize, sub.xsize = flat.shape
    return _save(ref, path)


def simulate_tsgrism(
    siaf_dir: str | Path,
    specwcs: str | os.PathLike,
    *,
    nints: int = 6,
    sky: float = 3.0,
    noise: float = 0.0,
    light_curve: np.ndarray | None = None,
    flat_spread: float = 0.02,
    sigma: float = 1.2,
    velosys: float | None = 8765.0,
    ra_ref: float = 86.9875,
    dec_ref: float = 23.423,
    roll_ref: float = 359.9521,
    seed: int = 0,
) -> SimulatedTsgrism:
    """Simulate a NIRCam grism time-series ``_rateints`` whose truth is analytic.

    Parameters
    ----------
    siaf_dir : str or Path
        Folder with ``NIRCam_SIAF.xml``.
    specwcs : path-like
        NIRCam GRISMR module-A ``specwcs`` (plain polynomials of ``t``), used to place the
        spectrum and returned as the reference.
    nints : int, optional
        Number of integrations (>= 1).
    sky : float, optional
        Background, DN/s per pixel before the flat (constant across rows, a gentle slope
        along them).
    noise : float, optional
        Gaussian noise per pixel, DN/s (0: noise-free); VAR_RNOISE holds its square.
    light_curve : ndarray or None, optional
        Relative brightness per integration (default: a 1 % transit in the middle third).
    flat_spread : float, optional
        Pixel-to-pixel scatter of the flat field.
    sigma : float, optional
        Gaussian width of the trace across rows, pixels.
    velosys : float or None, optional
        VELOSYS (m/s) of the exposure.
    ra_ref, dec_ref, roll_ref : float, optional
        Pointing at the aperture's reference point, degrees.
    seed : int, optional
        Seed of the noise and flat.

    Returns
    -------
    SimulatedTsgrism

    Raises
    ------
    ValueError
        If ``nints`` < 1, ``light_curve`` has the wrong length, or the specwcs has no
        order 1 of plain polynomials.
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
    setup = imaging_setup(_APERTURE, siaf_dir, exp_type="NRC_TSGRISM", filter="F444W",
                          pupil="GRISMR")  # fmt: skip
    setup = dataclasses.replace(setup, subarray="SUBGRISM64")
    ap = setup.aperture
    pointing = Pointing(
        v2_ref=ap.v2_ref, v3_ref=ap.v3_ref, roll_ref=float(roll_ref), ra_ref=float(ra_ref),
        dec_ref=float(dec_ref), v3i_yang=ap.v3_idl_yangle, vparity=ap.vidl_parity,
        va_scale=1.00001,
    )  # fmt: skip
    distortion = distortion_from_siaf(setup.full_aperture)
    image_wcs = imaging_wcs(distortion, pointing, shape=setup.shape,
                            subarray_start=(setup.xstart, setup.ystart))  # fmt: skip
    ny, nx = setup.shape
    disp = _specwcs_order(specwcs, 1)
    x = np.arange(nx, dtype=np.float64)
    wave = _wavelength_of_columns(x, disp, ap.xsci_ref, setup.xstart, velosys)
    dwave = np.abs(np.gradient(wave))
    pixar_sr, _ = pixel_area("NIRCAM", "NRCALONG")
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:ny, 0:nx] / np.array([ny, nx], dtype=float)[:, None, None]
    flat = (1 + flat_spread * (0.5 * np.sin(7.0 * xx) * np.cos(3.0 * yy) - 0.1 * yy)
            * (1 + 0.5 * rng.standard_normal((ny, nx)))).astype(np.float32)  # fmt: skip
    fnu = true_flux_density(wave)
    column_rate = fnu * dwave / (1e6 * pixar_sr * _PHOTMJSR * true_relative_response(wave))
    profile = _gaussian_columns(np.full(nx, _SOURCE_ROW), sigma, ny).T  # (ny, nx)
    source = profile * column_rate[None, :]
    background = sky * (1.0 + 0.1 * x / nx)[None, :] * np.ones((ny, 1))
    data = (light_curve[:, None, None] * source[None] + background[None]) * flat[None]
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
    meta.filename = "jw01366002001_04103_00001-seg001_nrcalong_rateints.fits"
    meta.exposure.readpatt = "BRIGHT1"
    meta.exposure.ngroups, meta.exposure.nframes = 8, 1
    meta.exposure.frame_time = meta.exposure.group_time = 0.34061
    meta.exposure.integration_time = _NINT_SECONDS
    meta.exposure.integration_start, meta.exposure.integration_end = 1, nints
    meta.exposure.segment_number = 1
    start = 60100.5
    meta.exposure.start_time = start
    meta.exposure.end_time = start + nints * _NINT_SECONDS / 86400.0
    meta.exposure.mid_time = 0.5 * (meta.exposure.start_time + meta.exposure.end_time)
    meta.visit.tsovisit = True
    meta.target.source_type_apt = "POINT"
    meta.target.proposer_name = "SIM-TSGRISM-1"
    meta.target.catalog_name = "SIM-TSGRISM-1"
    meta.dither.primary_type = "NONE"
    meta.dither.x_offset, meta.dither.y_offset = 0.0, 0.0
    meta.observation.bkgdtarg = False
    info = meta.wcsinfo
    info.siaf_xref_sci, info.siaf_yref_sci = ap.xsci_ref, ap.ysci_ref
    info.velosys = velosys
    info.spectral_order = None
    model.int_times = _int_times(nints, start, _NINT_SECONDS)
    extract = default_extract_aperture()
    return SimulatedTsgrism(
        model=model, setup=setup, pointing=pointing, distortion=distortion,
        specwcs=Path(specwcs), dispersion=disp, wavelength=wave, dispersion_um=dwave,
        flux=light_curve[:, None] * fnu[None, :], light_curve=light_curve, flat=flat,
        pixar_sr=float(pixar_sr), extract=extract,
    )  # fmt: skip
