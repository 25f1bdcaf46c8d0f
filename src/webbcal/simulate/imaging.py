"""Simulated imaging rate products with realistic pointing, and their WCS reference files.

An imaging exposure is described by a SIAF aperture (``NRCA1_FULL``, ``NRCA1_SUB160``,
``NIS_CEN``, ``MIRIM_FULL``, ``FGS1_FULL``...): the aperture gives the detector, the
subarray (its corner in the full frame follows from where its reference point falls on the
full-frame aperture) and the pointing keywords of the exposure (V2_REF, V3_REF, V3I_YANG,
VPARITY at the aperture's reference point, CRPIX at its reference pixel). The detector's
distortion is the full-frame aperture's SIAF transform
(:func:`webbcal.wcs.distortion_from_siaf`), written as a CRDS-style ``distortion``
reference; a ``filteroffset`` reference holds the filter's pixel offset. Stars placed at
chosen (RA, Dec) are rendered where the exposure's WCS puts them, so they are the truth of
any WCS a pipeline assigns.

Typical use::

    setup = imaging_setup("NRCA1_FULL", siaf_dir)
    sim = simulate_imaging_rate(setup, ra_ref=150.1, dec_ref=2.2, roll_ref=37.0,
                                stars=[SkyStar(150.1, 2.2, 500.0)])
    rate = sim.save("data/")
    refs = sim.write_references("refs/")   # {"distortion": ..., "filteroffset": ...}

References
----------
Cox, C. & Lallo, M. 2017, "Description and Use of the JWST Science Instrument Aperture
File", JWST-STScI-001550 (apertures, reference points, science frame).

JWST pipeline documentation, ``assign_wcs`` reference files "distortion" and
"filteroffset"; JWST keyword dictionary (V2_REF, V3_REF, V3I_YANG, VPARITY, RA_REF,
DEC_REF, ROLL_REF, VA_SCALE, SUBSTRT1/2, S_REGION).
"""

from __future__ import annotations

import functools
import logging
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from webbcal.simulate.scene import Scene, Star, render_scene
from webbcal.wcs import (
    Pointing,
    SiafAperture,
    distortion_from_siaf,
    imaging_wcs,
    pc_matrix,
    read_siaf_aperture,
    s_region_from_wcs,
)
from webbcal.wcs.siaf import packaged_siaf_aperture

log = logging.getLogger(__name__)

__all__ = [
    "IMAGING_EXP_TYPES",
    "SIAF_FILES",
    "ImagingSetup",
    "SimulatedImaging",
    "SkyStar",
    "imaging_setup",
    "set_pointing_keywords",
    "simulate_imaging_rate",
    "write_distortion_reference",
    "write_filteroffset_reference",
]

#: SIAF XML file of each instrument (PRD ``SIAFXML`` folder names).
SIAF_FILES = {
    "NIRCAM": "NIRCam_SIAF.xml",
    "NIRISS": "NIRISS_SIAF.xml",
    "MIRI": "MIRI_SIAF.xml",
    "FGS": "FGS_SIAF.xml",
}

#: Imaging exposure types a distortion reference applies to (written as P_EXP_TY).
IMAGING_EXP_TYPES = {
    "NIRCAM": ("NRC_IMAGE", "NRC_TSIMAGE", "NRC_CORON", "NRC_TACQ", "NRC_TACONFIRM",
               "NRC_FOCUS"),
    "NIRISS": ("NIS_IMAGE", "NIS_AMI", "NIS_TACQ", "NIS_TACONFIRM", "NIS_FOCUS"),
    "MIRI": ("MIR_IMAGE", "MIR_TACQ", "MIR_LYOT", "MIR_4QPM", "MIR_CORONCAL",
             "MIR_TACONFIRM"),
    "FGS": ("FGS_IMAGE", "FGS_FOCUS"),
}  # fmt: skip

# Default optical elements: (filter, pupil) of a typical imaging exposure.
_DEFAULT_ELEMENTS = {
    ("NIRCAM", "SHORT"): ("F200W", "CLEAR"),
    ("NIRCAM", "LONG"): ("F444W", "CLEAR"),
    ("NIRISS", None): ("CLEAR", "F150W"),
    ("MIRI", None): ("F770W", None),
    ("FGS", None): (None, None),
}
# SUBARRAY keyword of apertures whose name suffix is not the subarray name.
_SUBARRAY_NAMES = {"NIS_AMI1": "SUB80", "NIS_AMI2": "SUB80", "NIS_AMI3": "SUB80",
                   "NIS_AMI4": "SUB80", "NIS_AMITA": "SUBTAAMI"}  # fmt: skip
_READPATT = {"NIRCAM": "RAPID", "NIRISS": "NISRAPID", "MIRI": "FASTR1", "FGS": "FGSRAPID"}
_FULL_SHAPE = {"MIRI": (1024, 1032)}


@dataclass(frozen=True)
class ImagingSetup:
    """Instrument, detector and subarray of an imaging exposure, from a SIAF aperture.

    Attributes
    ----------
    aperture : SiafAperture
        The exposure's aperture (APERNAME).
    full_aperture : SiafAperture
        The detector's full-frame aperture, whose transform is the distortion reference.
    instrument, detector : str
        INSTRUME and DETECTOR (``"NIRCAM"``, ``"NRCA1"``).
    channel, module : str or None
        NIRCam CHANNEL (SHORT/LONG) and MODULE (A/B); None for other instruments.
    exp_type : str
        EXP_TYPE.
    filter, pupil : str or None
        FILTER and PUPIL.
    subarray : str
        SUBARRAY name (``"FULL"`` or the aperture name's suffix, e.g. ``"SUB160"``).
    xstart, ystart : int
        1-based SUBSTRT1, SUBSTRT2 of the array in the full frame (DMS orientation).
    shape : tuple of int
        ``(ny, nx)`` of the array.
    full_shape : tuple of int
        ``(ny, nx)`` of the detector's full frame.
    """

    aperture: SiafAperture
    full_aperture: SiafAperture
    instrument: str
    detector: str
    channel: str | None
    module: str | None
    exp_type: str
    filter: str | None
    pupil: str | None
    subarray: str
    xstart: int
    ystart: int
    shape: tuple[int, int]
    full_shape: tuple[int, int]

    @property
    def is_subarray(self) -> bool:
        """Whether the array is smaller than the full frame."""
        return self.shape != self.full_shape


@dataclass(frozen=True)
class SkyStar:
    """A Gaussian point source at a sky position.

    Attributes
    ----------
    ra, dec : float
        ICRS position, degrees.
    flux : float
        Total count rate, DN/s.
    sigma : float
        Gaussian sigma, pixels.
    """

    ra: float
    dec: float
    flux: float
    sigma: float = 1.2


def _detector_of(aperture: str) -> tuple[str, str, str | None, str | None, str]:
    """(instrument, detector, channel, module, full-frame aperture) of an aperture name."""
    name = aperture.upper()
    if name.startswith("NRC") and len(name) > 5 and name[4] in "12345" and name[3] in "AB":
        module, number = name[3], name[4]
        long = number == "5"
        detector = f"NRC{module}LONG" if long else f"NRC{module}{number}"
        return "NIRCAM", detector, "LONG" if long else "SHORT", module, name[:5] + "_FULL"
    if name.startswith("NIS_"):
        return "NIRISS", "NIS", None, None, "NIS_CEN"
    if name.startswith("MIRIM_"):
        return "MIRI", "MIRIMAGE", None, None, "MIRIM_FULL"
    if name.startswith(("FGS1_", "FGS2_")):
        return "FGS", f"GUIDER{name[3]}", None, None, name[:4] + "_FULL"
    raise ValueError(
        f"aperture={aperture!r}: expected a NIRCam (NRCA1_...), NIRISS (NIS_...), MIRI "
        "imager (MIRIM_...) or FGS (FGS1_/FGS2_...) imaging aperture"
    )


@functools.lru_cache(maxsize=64)
def _read_aperture(path: Path | None, name: str) -> SiafAperture:
    # SiafAperture is frozen: sharing one instance between setups is safe.
    if path is None:
        return packaged_siaf_aperture(name)
    return read_siaf_aperture(path, name)


def _subarray_corner(sub: SiafAperture, full: SiafAperture) -> tuple[int, int]:
    """0-based full-frame (x, y) of a subarray aperture's first pixel.

    The subarray's reference point (V2Ref, V3Ref) is mapped to full-frame pixels with the
    full-frame aperture's transform; the corner is that position less the subarray's own
    reference pixel, rounded to whole pixels.
    """
    if sub.name == full.name or (sub.xsci_size, sub.ysci_size) == (full.xsci_size, full.ysci_size):
        return 0, 0  # full-frame apertures (e.g. NRCA2_FULL_MASK210R) share the frame
    x_full, y_full = distortion_from_siaf(full).inverse(sub.v2_ref, sub.v3_ref)
    return round(float(x_full) - (sub.xsci_ref - 1.0)), round(float(y_full) - (sub.ysci_ref - 1.0))


def imaging_setup(
    aperture: str,
    siaf_dir: str | Path | None,
    *,
    exp_type: str | None = None,
    filter: str | None = None,
    pupil: str | None = None,
) -> ImagingSetup:
    """Describe an imaging exposure through a SIAF aperture.

    Parameters
    ----------
    aperture : str
        SIAF aperture name, e.g. ``"NRCA1_FULL"``, ``"NRCA1_SUB160"``, ``"NIS_CEN"``,
        ``"MIRIM_FULL"``, ``"FGS1_FULL"``.
    siaf_dir : str or Path or None
        Folder with the SIAF XML files (:data:`SIAF_FILES`), e.g. a PRD's ``SIAFXML``;
        None takes the apertures shipped with webbcal
        (:func:`webbcal.wcs.siaf.packaged_siaf_aperture`: the NRCA1 and MIRIM apertures of
        the demos).
    exp_type, filter, pupil : str or None, optional
        EXP_TYPE, FILTER, PUPIL; None takes the instrument's usual imaging values
        (NIRCam F200W/F444W + CLEAR, NIRISS CLEAR + F150W, MIRI F770W).

    Returns
    -------
    ImagingSetup

    Raises
    ------
    ValueError
        If the aperture is not an imaging aperture of NIRCam, NIRISS, MIRI or FGS, or
        its subarray does not fit in the full frame.
    webbcal.wcs.SiafError
        If the SIAF file or aperture cannot be read.
    """
    instrument, detector, channel, module, full_name = _detector_of(aperture)
    path = None if siaf_dir is None else Path(siaf_dir) / SIAF_FILES[instrument]
    sub = _read_aperture(path, aperture.upper())
    full = _read_aperture(path, full_name)
    full_shape = _FULL_SHAPE.get(instrument, (full.ysci_size, full.xsci_size))
    shape = (sub.ysci_size, sub.xsci_size)
    if (sub.xsci_size, sub.ysci_size) == (full.xsci_size, full.ysci_size):
        shape = full_shape
    x0, y0 = _subarray_corner(sub, full)
    if x0 < 0 or y0 < 0 or x0 + shape[1] > full_shape[1] or y0 + shape[0] > full_shape[0]:
        raise ValueError(
            f"aperture={aperture!r}: its {shape[1]}x{shape[0]} array at full-frame corner "
            f"({x0}, {y0}) does not fit in the {full_shape[1]}x{full_shape[0]} frame"
        )
    default_filter, default_pupil = _DEFAULT_ELEMENTS[(instrument, channel)]
    return ImagingSetup(
        aperture=sub,
        full_aperture=full,
        instrument=instrument,
        detector=detector,
        channel=channel,
        module=module,
        exp_type=(exp_type or IMAGING_EXP_TYPES[instrument][0]).upper(),
        filter=filter if filter is not None else default_filter,
        pupil=pupil if pupil is not None else default_pupil,
        subarray="FULL"
        if shape == full_shape
        else _SUBARRAY_NAMES.get(aperture.upper(), aperture.upper().split("_", 1)[1]),
        xstart=x0 + 1,
        ystart=y0 + 1,
        shape=shape,
        full_shape=full_shape,
    )


@dataclass
class SimulatedImaging:
    """A simulated imaging rate product with its truth and WCS references.

    Attributes
    ----------
    model : stdatamodels.jwst.datamodels.ImageModel or CubeModel
        The rate product (DN/s), stage-1 metadata and pointing keywords.
    setup : ImagingSetup
    pointing : Pointing
        The pointing written to the product.
    distortion : astropy.modeling.Model
        Full-frame detector pixels (0-based) to V2V3 (arcsec): the distortion reference.
    filter_offset : tuple of float or None
        ``(column_offset, row_offset)`` pixels of the exposure's filter.
    wcs : gwcs.WCS
        The exposure's true WCS (distortion, subarray, filter offset, pointing, VA scale).
    stars : tuple of SkyStar
        Injected stars.
    star_xy : ndarray, shape (n, 2), float64
        0-based (x, y) pixel of each star in the array; NaN when it falls outside.
    distortion_bounding_box : tuple or None
        ``((xmin, xmax), (ymin, ymax))`` stored with the distortion reference, or None.
    """

    model: object
    setup: ImagingSetup
    pointing: Pointing
    distortion: object
    filter_offset: tuple[float, float] | None
    wcs: object
    stars: tuple[SkyStar, ...] = ()
    star_xy: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    distortion_bounding_box: tuple | None = None

    def save(self, directory: str | Path) -> Path:
        """Write the rate product to ``directory`` (atomically) and return its path."""
        from webbcal.datamodels import save_model

        path = Path(directory) / self.model.meta.filename
        save_model(self.model, str(path))
        return path

    def write_references(self, directory: str | Path) -> dict[str, Path]:
        """Write the ``distortion`` (and, with a filter offset or for MIRI, the
        ``filteroffset``) reference of this exposure.

        Returns
        -------
        dict
            ``{"distortion": path, "filteroffset": path}`` (the latter only when written).
        """
        directory = Path(directory)
        s = self.setup
        det = s.detector.lower()
        refs = {
            "distortion": write_distortion_reference(
                s,
                self.distortion,
                directory / f"webbcal_{det}_distortion.asdf",
                bounding_box=self.distortion_bounding_box,
            )  # fmt: skip
        }
        if self.filter_offset is not None or s.instrument == "MIRI":
            col, row = self.filter_offset or (0.0, 0.0)
            rows = [{"filter": s.filter, "column_offset": col, "row_offset": row}]
            if s.pupil is not None:
                rows[0]["pupil"] = s.pupil
            refs["filteroffset"] = write_filteroffset_reference(
                s, rows, directory / f"webbcal_{det}_filteroffset.asdf"
            )
        return refs


def _position_angle_v3(pointing: Pointing) -> tuple[float, float, float]:
    """(RA_V1, DEC_V1, PA_V3) in degrees from the pointing."""
    from astropy import units as u
    from astropy.coordinates import SkyCoord

    from webbcal.wcs import v2v3_to_sky

    to_sky = v2v3_to_sky(pointing)
    ra1, dec1 = to_sky(0.0, 0.0)
    ra2, dec2 = to_sky(0.0, 1.0)
    v1 = SkyCoord(ra1 * u.deg, dec1 * u.deg)
    pa = v1.position_angle(SkyCoord(ra2 * u.deg, dec2 * u.deg)).to_value(u.deg)
    return float(ra1), float(dec1), float(pa)


def _set_metadata(model, setup: ImagingSetup, pointing: Pointing, wcs, nints: int) -> None:
    ap = setup.aperture
    meta = model.meta
    meta.filename = (
        f"jw01234001001_01101_00001_{setup.detector.lower()}_{'rateints' if nints else 'rate'}.fits"
    )
    meta.telescope = "JWST"
    meta.origin = "WEBBCAL"
    meta.bunit_data = "DN/s"
    meta.bunit_err = "DN/s"
    inst = meta.instrument
    inst.name, inst.detector = setup.instrument, setup.detector
    if setup.channel is not None:
        inst.channel, inst.module = setup.channel, setup.module
    if setup.filter is not None:
        inst.filter = setup.filter
    if setup.pupil is not None:
        inst.pupil = setup.pupil
    if setup.instrument == "MIRI":
        inst.band = "N/A"
    exp = meta.exposure
    exp.type = setup.exp_type
    exp.readpatt = _READPATT[setup.instrument]
    exp.nints, exp.ngroups, exp.nframes, exp.groupgap = max(nints, 1), 5, 1, 0
    exp.frame_time = exp.group_time = 10.0
    exp.start_time, exp.mid_time, exp.end_time = 60100.5, 60100.5003, 60100.5006
    exp.effective_exposure_time = exp.exposure_time = exp.duration = 40.0
    obs = meta.observation
    obs.date, obs.time = "2023-06-01", "12:00:00.000"
    obs.date_beg = "2023-06-01T12:00:00.000"
    obs.program_number, obs.observation_number, obs.visit_number = "01234", "001", "001"
    obs.visit_group, obs.sequence_id, obs.activity_id, obs.exposure_number = "01", "1", "01", "1"
    meta.aperture.name = ap.name
    meta.aperture.pps_name = ap.name
    sub = meta.subarray
    sub.name, sub.xstart, sub.ystart = setup.subarray, setup.xstart, setup.ystart
    sub.ysize, sub.xsize = setup.shape
    sub.fastaxis, sub.slowaxis = (1, 2) if setup.instrument == "MIRI" else (-1, 2)
    set_pointing_keywords(model, setup, pointing, wcs)
    for step in ("dq_init", "saturation", "linearity", "dark_sub", "jump", "ramp_fit"):
        setattr(meta.cal_step, step, "COMPLETE")


def set_pointing_keywords(model, setup: ImagingSetup, pointing: Pointing, wcs) -> None:
    """Write an exposure's pointing keywords (WCSINFO, VA_SCALE, V1 pointing, target).

    Parameters
    ----------
    model : stdatamodels.jwst.datamodels.JwstDataModel
        Product to update in place (any level: uncal, rate, ...).
    setup : ImagingSetup
        Its aperture gives CRPIX (the aperture's reference pixel) and CDELT.
    pointing : Pointing
        V2_REF, V3_REF, V3I_YANG, VPARITY, RA_REF, DEC_REF, ROLL_REF, VA_SCALE.
    wcs : gwcs.WCS
        The exposure's WCS, for S_REGION.

    References
    ----------
    JWST keyword dictionary (WCSINFO, VELOCITY_ABERRATION and POINTING keywords).
    """
    ap = setup.aperture
    info = model.meta.wcsinfo
    info.v2_ref, info.v3_ref = pointing.v2_ref, pointing.v3_ref
    info.v3yangle, info.vparity = pointing.v3i_yang, pointing.vparity
    info.ra_ref, info.dec_ref, info.roll_ref = pointing.ra_ref, pointing.dec_ref, pointing.roll_ref
    info.wcsaxes = 2
    info.crpix1, info.crpix2 = ap.xsci_ref, ap.ysci_ref
    info.crval1, info.crval2 = pointing.ra_ref, pointing.dec_ref
    info.ctype1, info.ctype2 = "RA---TAN", "DEC--TAN"
    info.cunit1 = info.cunit2 = "deg"
    scale = abs(ap.sci2idl_x.get("c1_0", 0.0)) or 0.031
    info.cdelt1 = info.cdelt2 = scale / 3600.0
    pc = pc_matrix(pointing)
    info.pc1_1, info.pc1_2, info.pc2_1, info.pc2_2 = (float(v) for v in pc.ravel())
    info.s_region = s_region_from_wcs(wcs)
    model.meta.velocity_aberration.scale_factor = pointing.va_scale
    ra_v1, dec_v1, pa_v3 = _position_angle_v3(pointing)
    model.meta.pointing.ra_v1, model.meta.pointing.dec_v1 = ra_v1, dec_v1
    model.meta.pointing.pa_v3 = pa_v3
    model.meta.target.ra, model.meta.target.dec = pointing.ra_ref, pointing.dec_ref


def _star_pixels(wcs, stars: tuple[SkyStar, ...], shape: tuple[int, int]) -> np.ndarray:
    if not stars:
        return np.zeros((0, 2))
    ra = np.array([s.ra for s in stars], dtype=float)
    dec = np.array([s.dec for s in stars], dtype=float)
    x0, y0 = (np.atleast_1d(v).astype(float) for v in wcs.invert(ra, dec, with_bounding_box=False))
    # The analytic inverse (SIAF Idl2Sci polynomials) is good to 1e-3..0.1 pixel; refine
    # so that the forward transform, which defines the WCS, puts each star exactly at its
    # (RA, Dec): x <- x + inverse(target) - inverse(forward(x)).
    x, y = x0.copy(), y0.copy()
    for _ in range(6):
        ra_k, dec_k = wcs(x, y, with_bounding_box=False)
        xk, yk = wcs.invert(ra_k, dec_k, with_bounding_box=False)
        x, y = x + (x0 - xk), y + (y0 - yk)
    xy = np.column_stack([x, y])
    ny, nx = shape
    outside = (xy[:, 0] < -0.5) | (xy[:, 0] > nx - 0.5) | (xy[:, 1] < -0.5) | (xy[:, 1] > ny - 0.5)
    if outside.any():
        log.warning("%d injected star(s) fall outside the %dx%d array", int(outside.sum()), nx, ny)
    xy[outside] = np.nan
    return xy


def simulate_imaging_rate(
    setup: ImagingSetup,
    *,
    ra_ref: float = 150.1,
    dec_ref: float = 2.2,
    roll_ref: float = 37.25,
    va_scale: float | None = 1.00003,
    stars: tuple[SkyStar, ...] | list[SkyStar] = (),
    sky: float = 0.0,
    noise: float = 0.0,
    filter_offset: tuple[float, float] | None = None,
    distortion_bounding_box: tuple | None = None,
    nints: int = 0,
    seed: int = 0,
) -> SimulatedImaging:
    """Simulate an imaging rate product whose pointing and stars follow a known WCS.

    Parameters
    ----------
    setup : ImagingSetup
        From :func:`imaging_setup`.
    ra_ref, dec_ref : float, optional
        ICRS position of the aperture's reference point, degrees (RA_REF, DEC_REF).
    roll_ref : float, optional
        Position angle of V3 at the reference point, degrees (ROLL_REF).
    va_scale : float or None, optional
        Velocity-aberration scale (VA_SCALE); None leaves it unset.
    stars : sequence of SkyStar, optional
        Point sources to render at their sky positions.
    sky : float, optional
        Uniform background, DN/s per pixel.
    noise : float, optional
        Standard deviation of Gaussian noise added to SCI, DN/s (0: noise-free).
    filter_offset : tuple of float or None, optional
        ``(column_offset, row_offset)`` pixels of the filter, applied before the
        distortion (written to the ``filteroffset`` reference).
    distortion_bounding_box : tuple or None, optional
        ``((xmin, xmax), (ymin, ymax))`` full-frame pixels to store with the distortion
        reference (as the official MIRI references do); it is also the WCS's bounding box
        of a full-frame exposure.
    nints : int, optional
        0 for a ``_rate`` ImageModel; n >= 1 for a ``_rateints`` CubeModel of n
        identical integrations (time series).
    seed : int, optional
        Seed of the noise.

    Returns
    -------
    SimulatedImaging

    Raises
    ------
    webbcal.wcs.PointingError
        If the pointing values are invalid.
    ValueError
        If ``nints`` is negative.
    """
    from stdatamodels.jwst import datamodels as dm

    if nints < 0:
        raise ValueError(f"nints={nints!r}: expected 0 (rate) or a positive count (rateints)")
    ap = setup.aperture
    pointing = Pointing(
        v2_ref=ap.v2_ref, v3_ref=ap.v3_ref, roll_ref=float(roll_ref), ra_ref=float(ra_ref),
        dec_ref=float(dec_ref), v3i_yang=ap.v3_idl_yangle, vparity=ap.vidl_parity,
        va_scale=va_scale,
    )  # fmt: skip
    distortion = distortion_from_siaf(setup.full_aperture)
    if distortion_bounding_box is not None:
        (x0, x1), (y0, y1) = distortion_bounding_box
        distortion.bounding_box = ((y0, y1), (x0, x1))  # C order on the model
    wcs = imaging_wcs(
        distortion, pointing, shape=setup.shape, subarray_start=(setup.xstart, setup.ystart),
        filter_offset=filter_offset,
    )  # fmt: skip
    stars = tuple(stars)
    xy = _star_pixels(wcs, stars, setup.shape)
    inside = [
        Star(float(x), float(y), s.flux, s.sigma)
        for s, (x, y) in zip(stars, xy, strict=True)
        if np.isfinite(x)
    ]
    image = render_scene(Scene(sky=sky, stars=tuple(inside)), setup.shape)
    if noise > 0:
        image = image + np.random.default_rng(seed).normal(0.0, noise, image.shape)
    var = np.full(setup.shape, max(noise, 1e-3) ** 2, np.float32)
    if nints:
        data = np.broadcast_to(image, (nints, *setup.shape)).astype(np.float32)
        shape3 = (nints, *setup.shape)
        model = dm.CubeModel(
            data=data, dq=np.zeros(shape3, np.uint32), err=np.sqrt(np.broadcast_to(var, shape3)),
            var_poisson=np.broadcast_to(var / 2, shape3).copy(),
            var_rnoise=np.broadcast_to(var / 2, shape3).copy(),
        )  # fmt: skip
    else:
        model = dm.ImageModel(
            data=image.astype(np.float32), dq=np.zeros(setup.shape, np.uint32),
            err=np.sqrt(var), var_poisson=var / 2, var_rnoise=var / 2,
        )  # fmt: skip
    _set_metadata(model, setup, pointing, wcs, nints)
    return SimulatedImaging(
        model=model, setup=setup, pointing=pointing, distortion=distortion,
        filter_offset=filter_offset, wcs=wcs, stars=stars, star_xy=xy,
        distortion_bounding_box=distortion_bounding_box,
    )  # fmt: skip


def _reference_meta(ref, setup: ImagingSetup, reftype: str, description: str) -> None:
    meta = ref.meta
    meta.reftype = reftype
    meta.telescope = "JWST"
    meta.author = "webbcal simulator"
    meta.pedigree = "GROUND"
    meta.useafter = "2022-01-01T00:00:00"
    meta.description = description
    meta.instrument.name = setup.instrument
    meta.instrument.detector = setup.detector


def _save_reference(ref, path: str | Path) -> Path:
    """Save an ASDF reference model atomically (temporary name, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmpdir = Path(tempfile.mkdtemp(prefix=".tmp_webbcal_", dir=path.parent))
    tmp = tmpdir / path.name
    try:
        ref.save(str(tmp))
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
        tmpdir.rmdir()
    return path


def _pattern(values) -> str:
    return "|".join(values) + "|"


def write_distortion_reference(
    setup: ImagingSetup,
    transform,
    path: str | Path,
    *,
    bounding_box: tuple | None = None,
    exp_types: tuple[str, ...] | None = None,
    filters: tuple[str, ...] | None = None,
    pupils: tuple[str, ...] | None = None,
) -> Path:
    """Write a CRDS-style imaging ``distortion`` reference (stdatamodels DistortionModel).

    Parameters
    ----------
    setup : ImagingSetup
        Gives INSTRUME, DETECTOR (and NIRCam CHANNEL, MODULE).
    transform : astropy.modeling.Model
        Full-frame detector pixels (0-based) to V2V3 (arcsec), with an inverse.
    path : str or Path
        Output ASDF file (written atomically).
    bounding_box : tuple or None, optional
        ``((xmin, xmax), (ymin, ymax))`` to store on the transform.
    exp_types : tuple of str or None, optional
        EXP_TYPEs it applies to (P_EXP_TY); None: the instrument's imaging types.
    filters, pupils : tuple of str or None, optional
        FILTER and PUPIL values it applies to (P_FILTER, P_PUPIL); None: any (FILTER
        and PUPIL ``N/A``), except that NIRCam references always declare P_PUPIL (the
        official model requires it): the exposure's pupil then.

    Returns
    -------
    Path
    """
    from astropy import units as u
    from stdatamodels.jwst.datamodels import DistortionModel

    model = transform.copy()
    if bounding_box is not None:
        (x0, x1), (y0, y1) = bounding_box
        model.bounding_box = ((y0, y1), (x0, x1))
    ref = DistortionModel(model=model, input_units=u.pix, output_units=u.arcsec)
    _reference_meta(ref, setup, "DISTORTION", f"Distortion of {setup.full_aperture.name} "
                    "from SIAF coefficients (webbcal.simulate.imaging)")  # fmt: skip
    types = exp_types or IMAGING_EXP_TYPES[setup.instrument]
    ref.meta.exposure.type = types[0]
    ref.meta.exposure.p_exptype = _pattern(types)
    inst = ref.meta.instrument
    if setup.channel is not None:
        inst.channel, inst.module = setup.channel, setup.module
    if filters:
        inst.filter, inst.p_filter = filters[0], _pattern(filters)
    if pupils is None and setup.instrument == "NIRCAM":
        pupils = (setup.pupil or "CLEAR",)
    if pupils:
        inst.pupil, inst.p_pupil = pupils[0], _pattern(pupils)
    ref.meta.subarray.name = "GENERIC"
    path = _save_reference(ref, path)
    ref.close()
    return path


def write_filteroffset_reference(setup: ImagingSetup, rows: list[dict], path: str | Path) -> Path:
    """Write a ``filteroffset`` reference (stdatamodels FilteroffsetModel).

    Parameters
    ----------
    setup : ImagingSetup
        Gives INSTRUME and DETECTOR.
    rows : list of dict
        ``{"filter", "pupil" (optional), "column_offset", "row_offset"}`` in pixels.
    path : str or Path
        Output ASDF file (written atomically).

    Returns
    -------
    Path

    Raises
    ------
    ValueError
        If a row lacks ``filter``, ``column_offset`` or ``row_offset``, an offset is
        not finite, or the instrument has no filter offsets (FGS).
    """
    from stdatamodels.jwst.datamodels import FilteroffsetModel

    clean = []
    for i, row in enumerate(rows):
        missing = [k for k in ("filter", "column_offset", "row_offset") if k not in row]
        if missing:
            raise ValueError(f"rows[{i}]={row!r}: missing {', '.join(missing)}")
        offsets = (float(row["column_offset"]), float(row["row_offset"]))
        if not all(math.isfinite(v) for v in offsets):
            raise ValueError(f"rows[{i}]={row!r}: offsets must be finite pixels")
        entry = {"filter": str(row["filter"]), "column_offset": offsets[0],
                 "row_offset": offsets[1]}  # fmt: skip
        if row.get("pupil") is not None:
            entry["pupil"] = str(row["pupil"])
        clean.append(entry)
    if setup.instrument not in ("NIRCAM", "NIRISS", "MIRI"):
        raise ValueError(
            f"instrument={setup.instrument!r}: filteroffset references exist for NIRCAM, "
            "NIRISS and MIRI only"
        )
    ref = FilteroffsetModel(filters=clean, instrument=setup.instrument)
    _reference_meta(ref, setup, "FILTEROFFSET", "Filter offsets (webbcal.simulate.imaging)")
    if setup.channel is not None:
        ref.meta.instrument.channel, ref.meta.instrument.module = setup.channel, setup.module
    types = IMAGING_EXP_TYPES[setup.instrument]
    ref.meta.exposure.type = types[0]
    ref.meta.exposure.p_exptype = _pattern(types)
    path = _save_reference(ref, path)
    ref.close()
    return path
