"""Simulated MIRI LRS slitless *raw* time series (``_uncal``) with a transit, and its truth.

The exposure is the SLITLESSPRISM subarray (416 rows x 72 columns) of MIRIMAGE read with
FASTR1, EXP_TYPE ``MIR_LRS-SLITLESS``, TSOVISIT true. Its ramps are made by the MIRI
stage-1 simulator (:func:`webbcal.simulate.miri_exposure.simulate_miri_exposure`: Poisson
charge, read noise, non-linearity, reset anomaly, RSCD, first/last-frame offsets, output
drifts, EMI, cosmic rays) from a count rate that changes from one integration to the next.

The source is the analytic spectrum of :mod:`webbcal.simulate.lrs`: row ``y`` (0-based)
holds wavelength :func:`~webbcal.simulate.lrs.true_wavelength` and flux density
:func:`~webbcal.simulate.lrs.true_flux_density`, spread across columns as a
pixel-integrated Gaussian centred on :func:`~webbcal.simulate.lrs.true_trace_x`. The
flat-fielded count rate of a row is ``F / (1e6 * PIXAR_SR * PHOTMJSR * relresponse)``, so
the ``photom`` reference written here (PHOTMJSR :data:`TSO_PHOTMJSR`, relative response
:func:`~webbcal.simulate.lrs.true_relative_response`) turns it back into ``F``.

The transit (:class:`Transit`) is a trapezoid in time without limb darkening: the relative
flux is ``1 - depth(lambda) * s(t)``, with ``s`` rising linearly from 0 at first contact
to 1 at the end of ingress, 1 until egress starts and back to 0 at last contact. The
depth is a constant plus a Gaussian band (a methane-like feature at 7.7 micron). The
shape is the same at every wavelength, so a fit of ``a * (1 - depth * s(t))`` with the
shape known recovers the depth of each wavelength bin. The rate is constant within an
integration, at the shape's value at the integration's mid-time (INT_TIMES
``int_mid_MJD_UTC``); the demo's time scale is compressed (a transit of tens of seconds).

Detector and references: the flat field written here is the simulated detector's
response with its pixel-to-pixel gain variations (``response * gain_ref / gain``), so the
flat-fielded rate in DN/s is the incident rate in electrons divided by one gain
``gain_ref``; the stage-1 references are those of
:func:`~webbcal.simulate.miri_references.write_miri_reference_files`.

References
----------
Kendrew, S. et al. 2015, PASP 127, 623 (MIRI LRS, slitless subarray).
Seager, S. & Mallen-Ornelas, G. 2003, ApJ 585, 1038 (transit shape: total and full
durations, a trapezoid without limb darkening).
Fixsen, D. J. et al. 2000, PASP 112, 1350 (optimal weights of up-the-ramp slopes) and the
JWST pipeline documentation, ``ramp_fitting`` (their signal-to-noise table), for
:func:`expected_slope_variance`.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from webbcal.simulate.lrs import (
    LRS_ROW_RANGE,
    _gaussian_columns,
    _write_flat,
    default_extract_aperture,
    true_flux_density,
    true_relative_response,
    true_trace_x,
    true_wavelength,
    write_lrs_extract1d,
    write_lrs_photom,
    write_lrs_specwcs,
)

__all__ = [
    "TSO_PHOTMJSR",
    "SimulatedLrsTso",
    "Transit",
    "aperture_columns",
    "expected_slope_variance",
    "simulate_lrs_tso",
]

#: PHOTMJSR ((MJy/sr) / (DN/s)) of the time-series photom reference: the analytic source
#: then peaks near 11,000 DN/s per pixel (a third of the full well in 10 FASTR1 groups).
TSO_PHOTMJSR = 6.0
#: Powers of the optimal weights and the signal-to-noise limits that select them
#: (Fixsen et al. 2000, as tabulated in the jwst ramp_fitting documentation).
_WEIGHT_POWERS = (0.0, 0.4, 1.0, 3.0, 6.0, 10.0)
_SNR_LIMITS = (5.0, 10.0, 20.0, 50.0, 100.0)
_EXPOSURE = {"program": 1234, "observation": 1, "visit": 1, "exposure": 1}


@dataclass(frozen=True)
class Transit:
    """A trapezoidal transit whose depth depends on wavelength.

    Times are seconds after the start of the exposure; the simulation compresses a
    transit into a short exposure (tens of seconds), which changes nothing in the
    calibration.

    Attributes
    ----------
    mid_time : float
        Mid-transit time, seconds after the start of the exposure (EXPSTART).
    duration : float
        First to last contact, seconds.
    ingress : float
        First to second contact (and third to fourth), seconds; at most half the duration.
    depth : float
        Fractional depth outside the band.
    band_depth, band_center, band_width : float
        Extra depth at the centre of a Gaussian band, its centre and its sigma (micron).
    """

    mid_time: float
    duration: float
    ingress: float
    depth: float = 0.010
    band_depth: float = 0.002
    band_center: float = 7.7
    band_width: float = 0.8

    @classmethod
    def centred(cls, exposure_seconds: float, **kwargs) -> Transit:
        """The default transit of an exposure: mid-time at its middle, first to last
        contact over 40 % of it, ingress and egress each 15 % of that; ``kwargs`` (depth,
        band) as the attributes."""
        duration = 0.4 * float(exposure_seconds)
        return cls(mid_time=0.5 * float(exposure_seconds), duration=duration,
                   ingress=0.15 * duration, **kwargs)  # fmt: skip

    def __post_init__(self) -> None:
        if not 0 < self.ingress <= 0.5 * self.duration:
            raise ValueError(f"ingress={self.ingress!r} s: expected 0 < ingress <= "
                             f"duration / 2 = {0.5 * self.duration!r} s")  # fmt: skip

    def depth_at(self, wavelength) -> np.ndarray:
        """Fractional depth at ``wavelength`` (micron), float64 of its shape."""
        w = np.asarray(wavelength, dtype=np.float64)
        band = np.exp(-0.5 * ((w - self.band_center) / self.band_width) ** 2)
        return self.depth + self.band_depth * band

    def shape(self, t) -> np.ndarray:
        """Fraction ``s(t)`` of the full depth at ``t`` (seconds after EXPSTART), 0..1."""
        edge = 0.5 * self.duration - np.abs(np.asarray(t, dtype=np.float64) - self.mid_time)
        return np.clip(edge / self.ingress, 0.0, 1.0)

    def relative_flux(self, t, wavelength) -> np.ndarray:
        """``1 - depth(lambda) * s(t)``, shape ``(len(t), len(wavelength))``."""
        s = self.shape(np.atleast_1d(t))
        return 1.0 - s[:, None] * self.depth_at(np.atleast_1d(wavelength))[None, :]


@dataclass(frozen=True, eq=False)
class SimulatedLrsTso:
    """A simulated LRS slitless raw time series, its truth and its references.

    Attributes
    ----------
    exposure : webbcal.simulate.exposure.SimulatedExposure
        The ``_uncal`` model (uint16, shape (nints, ngroups, 416, 72)), the stage-1 truth
        and the detector.
    setup, pointing, distortion
        SIAF aperture MIRIM_SLITLESSPRISM, the pointing, the full-frame distortion.
    transit : Transit
    times : ndarray, shape (nints,), float64
        Mid-integration times, seconds after EXPSTART.
    rows : ndarray of int
        Subarray rows holding the spectrum.
    wavelength : ndarray, float64
        Their true wavelength, micron.
    flux : ndarray, float64
        True out-of-transit flux density of each row, Jy.
    light_curve : ndarray, shape (nints, len(rows)), float64
        Relative flux of each row in each integration.
    source, background : ndarray, shape (416, 72), float64
        Out-of-transit flat-fielded count rate of the source and of the sky, DN/s.
    flat : ndarray, shape (1024, 1032), float32
        The full-frame flat-field reference.
    gain_ref : float
        Gain (e-/DN) that turns the incident electrons into the flat-fielded rate.
    pixar_sr, photmjsr : float
        Pixel solid angle (sr) and PHOTMJSR of the photom reference.
    extract : dict
        The ``extract1d`` aperture.
    """

    exposure: object
    setup: object
    pointing: object
    distortion: object
    transit: Transit
    times: np.ndarray
    rows: np.ndarray
    wavelength: np.ndarray
    flux: np.ndarray
    light_curve: np.ndarray
    source: np.ndarray
    background: np.ndarray
    flat: np.ndarray
    gain_ref: float
    pixar_sr: float
    photmjsr: float
    extract: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        """File-name root, ``jw01234001001_01101_00001_mirimage``."""
        return self.exposure.name

    def save(self, directory: str | os.PathLike) -> Path:
        """Write ``<name>_uncal.fits`` (and the stage-1 truth) and return the uncal's path."""
        return self.exposure.save(directory)["uncal"]

    def write_references(self, directory: str | os.PathLike, *, readpatt: str = "FASTR1"
                         ) -> dict[str, Path]:  # fmt: skip
        """Write the stage-1 and stage-2 references of the exposure into ``directory``.

        Stage 1: mask, saturation, ipc, reset, linearity, rscd, dark, gain, readnoise,
        emicorr. Stage 2: distortion, specwcs, flat, photom, extract1d.

        Returns
        -------
        dict
            Reference type -> path.
        """
        from webbcal.simulate.imaging import write_distortion_reference
        from webbcal.simulate.miri_references import write_miri_reference_files

        directory = Path(directory)
        det = self.exposure.detector
        ngroups = int(self.exposure.model.meta.exposure.ngroups)
        refs = write_miri_reference_files(det, directory, ngroups=ngroups, nints=2,
                                          readpatt=readpatt)  # fmt: skip
        types = ("MIR_IMAGE", "MIR_LRS-FIXEDSLIT", "MIR_LRS-SLITLESS", "MIR_TACQ")
        refs["distortion"] = write_distortion_reference(
            self.setup, self.distortion, directory / "webbcal_mirimage_distortion.asdf",
            exp_types=types,
        )  # fmt: skip
        refs["specwcs"] = write_lrs_specwcs(directory / "webbcal_miri_lrs_specwcs.fits")
        refs["flat"] = _write_flat(self.flat, directory / "webbcal_miri_lrs_tso_flat.fits")
        photom = directory / "webbcal_miri_lrs_tso_photom.fits"
        refs["photom"] = write_lrs_photom(photom, pixar_sr=self.pixar_sr, photmjsr=self.photmjsr)
        refs["extract1d"] = write_lrs_extract1d(directory / "webbcal_miri_extract1d.json",
                                                self.extract)  # fmt: skip
        return refs


def _lrs_pointing(setup, ra_ref: float, dec_ref: float, roll_ref: float):
    from webbcal.wcs import Pointing, distortion_from_siaf, imaging_wcs

    ap = setup.aperture
    pointing = Pointing(
        v2_ref=ap.v2_ref, v3_ref=ap.v3_ref, roll_ref=float(roll_ref), ra_ref=float(ra_ref),
        dec_ref=float(dec_ref), v3i_yang=ap.v3_idl_yangle, vparity=ap.vidl_parity,
        va_scale=1.00002,
    )  # fmt: skip
    distortion = distortion_from_siaf(setup.full_aperture)
    wcs = imaging_wcs(distortion, pointing, shape=setup.shape,
                      subarray_start=(setup.xstart, setup.ystart))  # fmt: skip
    return pointing, distortion, wcs


def _full_frame_flat(det, gain_ref: float, full_shape: tuple[int, int]) -> np.ndarray:
    """Ones, with the subarray window holding ``response * gain_ref / gain``."""
    flat = np.ones(full_shape, np.float32)
    g = det.geometry
    sensitive = det.response > 0
    window = np.where(sensitive, det.response * gain_ref / det.gain, 1.0)
    flat[g.ystart - 1 : g.ystart - 1 + g.ysize, g.xstart - 1 : g.xstart - 1 + g.xsize] = window
    return flat


def _mid_times(nints: int, ngroups: int, tframe: float) -> np.ndarray:
    """Mid-integration times (s after EXPSTART) of the INT_TIMES table the exposure gets."""
    from webbcal.simulate.metadata import ExposureInfo, _timing_table
    from webbcal.simulate.ramp import RampTiming

    info = ExposureInfo(readpatt="FASTR1", exp_type="MIR_LRS-SLITLESS", **_EXPOSURE)
    keywords, _, table = _timing_table(info, RampTiming(ngroups, 1, 0, tframe), nints, (1, 1))
    return (np.asarray(table["int_mid_MJD_UTC"]) - keywords["EXPSTART"]) * 86400.0


def simulate_lrs_tso(
    *,
    nints: int = 50,
    ngroups: int = 10,
    transit: Transit | None = None,
    seed: int = 1,
    siaf_dir: str | Path | None = None,
    sky: float = 20.0,
    sigma: float = 0.9,
    photmjsr: float = TSO_PHOTMJSR,
    cr_rate: float = 2e-5,
    emi: bool = True,
    output_drift: float = 0.0,
    ra_ref: float = 80.4875,
    dec_ref: float = -69.4986,
    roll_ref: float = 255.0,
) -> SimulatedLrsTso:
    """Simulate a MIRI LRS slitless raw time series with a transit (FASTR1).

    Parameters
    ----------
    nints, ngroups : int
        Integrations and groups per integration (groups = frames, TFRAME 0.15904 s).
    transit : Transit or None
        The transit; None: :meth:`Transit.centred` on the exposure (1 % deep, 0.2 % more
        in the 7.7-micron band).
    seed : int
        Seed of the detector's pixels and of every noise draw.
    siaf_dir : str or Path or None
        Folder with ``MIRI_SIAF.xml``; None takes the apertures shipped with webbcal.
    sky : float
        Background, flat-fielded DN/s per pixel (rising by 20 % along the rows).
    sigma : float
        Gaussian width of the trace across columns, pixels.
    photmjsr : float
        PHOTMJSR of the photom reference; it sets the source's count rate.
    cr_rate : float
        Cosmic rays per pixel per second.
    emi : bool
        Add the EMI pick-up of the MIRI simulator.
    output_drift : float
        RMS (DN) of the MIRI simulator's frame-to-frame drift of each output and row
        parity. The refpix step does not correct MIRI subarrays (as officially: their
        reference columns are not used), so a drift stays in the slopes as noise common
        to many pixels, outside the photon + read noise budget; off by default.
    ra_ref, dec_ref, roll_ref : float
        Pointing at the aperture's reference point, degrees.

    Returns
    -------
    SimulatedLrsTso

    Raises
    ------
    ValueError
        If ``nints`` or ``ngroups`` is below 1, or the brightest pixel would saturate.
    """
    from webbcal.simulate.imaging import imaging_setup, set_pointing_keywords
    from webbcal.simulate.miri_detector import make_miri_detector, miri_readout
    from webbcal.simulate.references_stage2 import pixel_area

    for name, value in (("nints", nints), ("ngroups", ngroups)):
        if value < 1:
            raise ValueError(f"{name}={value!r}: expected at least 1")
    setup = imaging_setup("MIRIM_SLITLESSPRISM", siaf_dir, exp_type="MIR_LRS-SLITLESS",
                          filter="P750L")  # fmt: skip
    pointing, distortion, wcs = _lrs_pointing(setup, ra_ref, dec_ref, roll_ref)
    det = make_miri_detector(
        detector="MIRIMAGE", subarray="SLITLESSPRISM", seed=seed, bias_drift_dn=output_drift
    )
    gain_ref = float(np.median(det.gain[det.response > 0]))
    pixar_sr = float(pixel_area("MIRI", "MIRIMAGE")[0])
    rows = np.arange(LRS_ROW_RANGE[0], LRS_ROW_RANGE[1] + 1)
    wave = true_wavelength(rows)
    fnu = true_flux_density(wave)
    rate_row = fnu / (1e6 * pixar_sr * photmjsr * true_relative_response(wave))
    ny, nx = det.shape
    source = np.zeros((ny, nx))
    source[rows] = rate_row[:, None] * _gaussian_columns(true_trace_x(rows), sigma, nx)
    background = sky * (1.0 + 0.2 * np.arange(ny)[:, None] / ny) * np.ones((1, nx))
    tframe = miri_readout("SLITLESSPRISM", "FASTR1").frame_time
    raw_rate = (source + background) * gain_ref * det.response / det.gain
    peak = raw_rate.max() * tframe * ngroups
    if peak > 0.8 * float(det.full_well.min()):
        raise ValueError(f"ngroups={ngroups}: the brightest pixel would collect {peak:.0f} DN, "
                         "near saturation; use fewer groups")  # fmt: skip
    times = _mid_times(nints, ngroups, tframe)
    if transit is None:
        transit = Transit.centred(nints * (ngroups + 1) * tframe)
    curve = transit.relative_flux(times, wave)  # (nints, nrows)
    incident = np.broadcast_to(background, (nints, ny, nx)).copy()
    incident[:, rows] += curve[:, :, None] * source[rows][None]
    incident *= gain_ref  # e-/s before the detector response
    sim = _exposure(det, incident, ngroups, nints, cr_rate, emi, seed)
    _set_tso_metadata(sim.model, setup, pointing, wcs, set_pointing_keywords)
    return SimulatedLrsTso(
        exposure=sim, setup=setup, pointing=pointing, distortion=distortion, transit=transit,
        times=times, rows=rows, wavelength=wave, flux=fnu, light_curve=curve,
        source=source, background=background,
        flat=_full_frame_flat(det, gain_ref, setup.full_shape), gain_ref=gain_ref,
        pixar_sr=pixar_sr, photmjsr=float(photmjsr), extract=default_extract_aperture(),
    )  # fmt: skip


def _exposure(det, incident, ngroups, nints, cr_rate, emi, seed):
    from webbcal.simulate.miri_exposure import simulate_miri_exposure

    return simulate_miri_exposure(
        det, readpatt="FASTR1", ngroups=ngroups, nints=nints, exp_type="MIR_LRS-SLITLESS",
        filter="P750L", rates=incident, seed=seed + 1, cr_rate=cr_rate, emi=emi, **_EXPOSURE,
    )  # fmt: skip


def _set_tso_metadata(model, setup, pointing, wcs, set_pointing_keywords) -> None:
    """Time-series, target and pointing keywords of the raw exposure."""
    meta = model.meta
    meta.visit.tsovisit = True
    meta.aperture.name = meta.aperture.pps_name = setup.aperture.name
    meta.instrument.band = "N/A"
    meta.target.source_type_apt = "POINT"
    meta.target.proposer_name = meta.target.catalog_name = "SIM-LRS-TSO-1"
    meta.dither.primary_type = "NONE"
    meta.observation.bkgdtarg = False
    meta.exposure.segment_number = 1
    set_pointing_keywords(model, setup, pointing, wcs)
    model.validate()


def aperture_columns(aperture: dict) -> tuple[np.ndarray, np.ndarray]:
    """Source and background columns (0-based) of an LRS ``extract1d`` aperture.

    The source box holds the columns ``xstart..xstop`` (inclusive); each background
    strip ``[lower], [upper]`` of ``bkg_coeff`` holds the pixels whose centres lie
    within ``lower + 0.5 .. upper - 0.5`` (the jwst convention for coefficients).

    Returns
    -------
    source, background : ndarray of int
    """
    source = np.arange(int(aperture["xstart"]), int(aperture["xstop"]) + 1)
    coeff = [float(c[0]) for c in aperture.get("bkg_coeff") or []]
    strips = [np.arange(math.ceil(lo + 0.5), math.floor(hi - 0.5) + 1)
              for lo, hi in zip(coeff[::2], coeff[1::2], strict=True)]  # fmt: skip
    return source, np.concatenate(strips) if strips else np.zeros(0, int)


def expected_slope_variance(rate, gain, frame_noise, readnoise_ref, dt: float, n: int
                            ) -> np.ndarray:  # fmt: skip
    """Variance (DN/s)**2 of an optimally weighted least-squares slope of ``n`` reads.

    Reads ``k = 0..n-1`` at times ``k * dt`` carry the accumulated Poisson charge
    (covariance ``rate / gain * dt * min(k, l)`` in DN**2) and independent read noise
    ``frame_noise`` (DN). The slope is the weighted least-squares fit with weights
    ``|(k - m) / m| ** P``, ``m = (n - 1) / 2``, the power ``P`` chosen from the
    signal-to-noise ratio ``S * gain / sqrt(readnoise_ref**2 + S * gain)`` of the
    expected signal ``S = rate * (n - 1) * dt`` (Fixsen et al. 2000 table in the jwst
    ramp_fitting documentation). The variance is ``c^T C c`` for the slope's linear
    coefficients ``c``: exact for that estimator, no approximation of the weights.

    Parameters
    ----------
    rate : ndarray, DN/s
        True count rate (signal plus dark current) of each pixel.
    gain : ndarray, e-/DN
    frame_noise : ndarray, DN
        Read noise of one read.
    readnoise_ref : ndarray, DN
        READNOISE reference value (CDS), which the signal-to-noise table uses.
    dt : float
        Time between reads (TGROUP), seconds.
    n : int
        Usable reads (>= 2).

    Returns
    -------
    ndarray, float64, broadcast shape of the inputs

    Raises
    ------
    ValueError
        If ``n`` < 2.
    """
    if n < 2:
        raise ValueError(f"n={n!r}: a slope needs at least 2 reads")
    arrays = (rate, gain, frame_noise, readnoise_ref)
    rate, gain, sig, rn = np.broadcast_arrays(*(np.asarray(a, np.float64) for a in arrays))
    k = np.arange(n, dtype=np.float64)
    kmin = np.minimum.outer(k, k)
    signal_e = np.maximum(rate * (n - 1) * dt * gain, 0.0)
    snr = signal_e / np.sqrt(rn**2 + signal_e)
    power = np.searchsorted(np.asarray(_SNR_LIMITS), snr, side="right")
    out = np.empty(rate.shape)
    for p, exponent in enumerate(_WEIGHT_POWERS):
        sel = power == p
        if not sel.any():
            continue
        mid = 0.5 * (n - 1)
        w = np.abs((k - mid) / mid) ** exponent if n > 2 else np.ones(n)
        kbar = np.sum(w * k) / np.sum(w)
        c = w * (k - kbar) / np.sum(w * (k - kbar) ** 2) / dt
        poisson = float(c @ kmin @ c) * dt
        read = float(c @ c)
        out[sel] = rate[sel] / gain[sel] * poisson + sig[sel] ** 2 * read
    return out
