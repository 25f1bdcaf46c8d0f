"""Calibrated (``cal``) NIRCam exposures built in the tests: SIAF WCS, known sky, VAR_* planes."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np

from _shared_paths import REAL
from webbcal.associations import write_association
from webbcal.associations.from_list import asn_from_list
from webbcal.dqflags import DO_NOT_USE, JUMP_DET
from webbcal.wcs import (
    Pointing,
    imaging_wcs,
    s_region_from_wcs,
)

NIRCAM_SIAF = REAL / "pysiaf-siafxml" / "NIRCam_SIAF.xml"
SHAPE = (128, 128)
#: 1-based first pixel of the subarray in the full frame (near the detector centre).
START = (961, 961)
RA0, DEC0, ROLL = 150.1, 2.2, 37.25
#: Nominal NIRCam short-wavelength pixel scale (PIXAR_A2 = NOMINAL_SCALE**2), arcsec.
NOMINAL_SCALE = 0.0311


@dataclass(frozen=True)
class Source:
    """A circular Gaussian on the sky: (ra, dec) deg, sigma arcsec, peak MJy/sr."""

    ra: float
    dec: float
    sigma: float
    peak: float


def sky(ra, dec, sources, background):
    """Surface brightness (MJy/sr) of the scene at (ra, dec) degrees."""
    out = np.full(np.shape(ra), background, dtype=np.float64)
    cosd = math.cos(math.radians(DEC0))
    for s in sources:
        dx = (np.asarray(ra) - s.ra) * cosd * 3600.0
        dy = (np.asarray(dec) - s.dec) * 3600.0
        out += s.peak * np.exp(-0.5 * (dx * dx + dy * dy) / s.sigma**2)
    return out


def pointing(nrca1, dra=0.0, ddec=0.0, droll=0.0):
    """Pointing of NRCA1 offset by (dra, ddec) arcsec on the sky."""
    return Pointing(
        v2_ref=nrca1.v2_ref, v3_ref=nrca1.v3_ref, roll_ref=ROLL + droll,
        ra_ref=RA0 + dra / 3600.0 / math.cos(math.radians(DEC0)), dec_ref=DEC0 + ddec / 3600.0,
        v3i_yang=nrca1.v3_idl_yangle, vparity=nrca1.vidl_parity,
    )  # fmt: skip


def subarray_centre(wcs):
    """(ra, dec) of the centre of the 128 x 128 subarray."""
    ra, dec = wcs((SHAPE[1] - 1) / 2, (SHAPE[0] - 1) / 2)
    return float(ra), float(dec)


def make_cal(
    path, nrca1, distortion, *, dra=0.0, ddec=0.0, exposure=1, sources=(), background=1.0,
    noise=0.01, seed=0, flags=True, filt="F200W", with_wcs=True,
):  # fmt: skip
    """Write a NIRCam ``cal`` ImageModel (MJy/sr) of the scene; return its path."""
    from stdatamodels.jwst import datamodels as dm

    p = pointing(nrca1, dra, ddec)
    wcs = imaging_wcs(distortion, p, shape=SHAPE, subarray_start=START)
    y, x = np.mgrid[0 : SHAPE[0], 0 : SHAPE[1]].astype(float)
    ra, dec = wcs(x, y)
    rng = np.random.default_rng(seed)
    data = sky(ra, dec, sources, background) + noise * rng.standard_normal(SHAPE)
    model = dm.ImageModel(SHAPE)
    model.data = data.astype(np.float32)
    model.dq = np.zeros(SHAPE, np.uint32)
    model.var_rnoise = (1e-4 * (1 + 0.2 * rng.random(SHAPE))).astype(np.float32)
    model.var_poisson = (2e-4 * np.abs(model.data)).astype(np.float32)
    model.var_flat = (1e-6 * model.data.astype(np.float64) ** 2).astype(np.float32)
    if flags:
        model.dq[10, 20:25] = DO_NOT_USE
        model.dq[30, 30:40] = JUMP_DET  # still used
        model.data[50, 60] = np.nan
        model.var_poisson[70, 71] = np.nan
    model.err = np.sqrt(model.var_rnoise + model.var_poisson + model.var_flat).astype(np.float32)
    _fill_meta(model, nrca1, p, exposure, filt)
    model.meta.wcsinfo.s_region = s_region_from_wcs(wcs)
    if with_wcs:
        model.meta.wcs = wcs
    model.meta.filename = os.path.basename(os.fspath(path))
    model.save(os.fspath(path))
    model.close()
    return os.fspath(path)


def _fill_meta(model, nrca1, p, exposure, filt):
    meta = model.meta
    meta.telescope = "JWST"
    meta.instrument.name = "NIRCAM"
    meta.instrument.detector = "NRCA1"
    meta.instrument.channel = "SHORT"
    meta.instrument.module = "A"
    meta.instrument.filter = filt
    meta.instrument.pupil = "CLEAR"
    meta.exposure.type = "NRC_IMAGE"
    meta.exposure.exposure_time = 100.0 + exposure
    meta.exposure.effective_exposure_time = 100.0 + exposure
    meta.exposure.measurement_time = 90.0 + exposure
    meta.exposure.duration = 110.0 + exposure
    meta.exposure.start_time = 60000.0 + 0.01 * exposure
    meta.exposure.end_time = 60000.001 + 0.01 * exposure
    meta.subarray.name = "SUB128"
    meta.subarray.xstart, meta.subarray.ystart = START
    meta.subarray.xsize, meta.subarray.ysize = SHAPE[1], SHAPE[0]
    meta.observation.date = "2023-01-01"
    meta.observation.time = "00:00:00"
    meta.observation.program_number = "01234"
    meta.observation.observation_number = "001"
    meta.observation.visit_number = "001"
    meta.observation.visit_group = "01"
    meta.observation.sequence_id = "1"
    meta.observation.activity_id = "01"
    meta.observation.exposure_number = f"{exposure:05d}"
    meta.bunit_data = "MJy/sr"
    meta.bunit_err = "MJy/sr"
    scale = NOMINAL_SCALE
    meta.photometry.pixelarea_arcsecsq = scale**2
    meta.photometry.pixelarea_steradians = (math.radians(scale / 3600.0)) ** 2
    w = meta.wcsinfo
    w.v2_ref, w.v3_ref, w.roll_ref = p.v2_ref, p.v3_ref, p.roll_ref
    w.ra_ref, w.dec_ref = p.ra_ref, p.dec_ref
    w.v3yangle, w.vparity = p.v3i_yang, p.vparity
    meta.cal_step.assign_wcs = "COMPLETE"


def cal_name(exposure: int) -> str:
    return f"jw01234001001_01101_{exposure:05d}_nrca1_cal.fits"


def write_asn(folder, paths, product="jw01234-o001_t001_nircam_clear-f200w"):
    """A level-3 image association of the given cal files; return its path."""
    asn = asn_from_list([os.path.basename(p) for p in paths], product_name=product,
                        rule="DMS_Level3_Base")  # fmt: skip
    path = os.path.join(folder, "asn.json")
    write_association(asn, path)
    return path
