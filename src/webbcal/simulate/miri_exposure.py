"""Simulated MIRI raw (``_uncal``) exposures with their truth.

:func:`simulate_miri_exposure` reads a :class:`~webbcal.simulate.miri_detector.
MiriDetectorModel` frame by frame (MIRI groups are single frames: NFRAMES = 1,
GROUPGAP = 0): Poisson charge from the scene and the dark current, cosmic rays (and
optional MIRI "showers"), full-well clipping, IPC, the non-linear raw level, the reset
anomaly, RSCD, first/last-frame offsets, output drifts (per output and row parity, common
with the reference columns), read noise and EMI pick-up, then the 16-bit ADC. The REFOUT
extension carries the reference output, shape (nints, ngroups, ny, nx / 4).

References
----------
Ressler et al. 2015, PASP 127, 675 (MIRI readout and reference output).
Morrison et al. 2023, PASP 135, 075004 (MIRI detector effects in flight).
JDox, "MIRI Detector Readout FASTR1", "MIRI Detector Readout SLOWR1", "Understanding
Exposure Times".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from stdatamodels.jwst.datamodels import Level1bModel

from webbcal.simulate.exposure import SimulatedExposure, Truth
from webbcal.simulate.metadata import ExposureInfo, build_level1b
from webbcal.simulate.miri_detector import (
    MIRI_READ_PATTERNS,
    MiriDetectorModel,
    MiriReadout,
    unlinearize,
)
from webbcal.simulate.miri_transients import (
    DEFAULT_EMI_AMPLITUDES,
    EMI_FREQUENCIES,
    EMI_SUBARRAY_FREQS,
    EmiTone,
    emi_pattern,
    reset_anomaly,
    rscd_skip,
)
from webbcal.simulate.ramp import CR_DTYPE, RampTiming, apply_ipc, draw_cosmic_rays
from webbcal.simulate.scene import Scene, default_scene, render_scene

__all__ = [
    "EMI_DTYPE",
    "MIRI_EXP_TYPES",
    "SHOWER_DTYPE",
    "MiriTruth",
    "simulate_miri_exposure",
]

log = logging.getLogger(__name__)

#: Structured dtype of the injected shower table.
SHOWER_DTYPE = np.dtype(
    [
        ("integ", np.int32),
        ("frame", np.int32),
        ("y", np.float32),
        ("x", np.float32),
        ("radius", np.float32),
        ("amplitude_dn", np.float32),
    ]
)
#: Structured dtype of the EMI tones in the truth.
EMI_DTYPE = np.dtype(
    [("name", "S24"), ("frequency", np.float64), ("amplitude", np.float64), ("phase", np.float64)]
)

#: Default (filter, band/channel-free) optical set-up per EXP_TYPE: (filter, coronagraph).
MIRI_EXP_TYPES: dict[str, tuple[str | None, str | None]] = {
    "MIR_IMAGE": ("F770W", None),
    "MIR_LRS-SLITLESS": ("P750L", None),
    "MIR_LRS-FIXEDSLIT": ("P750L", None),
    "MIR_4QPM": ("F1550C", "4QPM_1550"),
    "MIR_LYOT": ("F2300C", "LYOT_2300"),
    "MIR_MRS": (None, None),
    "MIR_DARKIMG": ("F770W", None),
    "MIR_FLATIMAGE": ("F770W", None),
}
_ADC_MAX = 65535


@dataclass(frozen=True, eq=False)
class MiriTruth(Truth):
    """Truth of a MIRI exposure: :class:`~webbcal.simulate.exposure.Truth` plus

    Attributes
    ----------
    showers : ndarray of SHOWER_DTYPE
        Injected showers (centre, 1/e radius in pixels, peak amplitude in linear DN).
    emi : ndarray of EMI_DTYPE
        EMI tones present in the raw data.
    """

    showers: np.ndarray
    emi: np.ndarray


def _default_exp_type(det: MiriDetectorModel) -> str:
    if det.detector != "MIRIMAGE":
        return "MIR_MRS"
    return {
        "SLITLESSPRISM": "MIR_LRS-SLITLESS",
        "MASK1065": "MIR_4QPM",
        "MASK1140": "MIR_4QPM",
        "MASK1550": "MIR_4QPM",
        "MASKLYOT": "MIR_LYOT",
    }.get(det.subarray, "MIR_IMAGE")


def _emi_tones(
    det: MiriDetectorModel, readpatt: str, amplitudes: dict[str, float] | None, rng
) -> tuple[EmiTone, ...]:
    amps = dict(DEFAULT_EMI_AMPLITUDES)
    if amplitudes:
        amps.update(amplitudes)
    names = EMI_SUBARRAY_FREQS[det.subarray]
    if readpatt.startswith("SLOW"):
        names = ("Hz10",)
    return tuple(
        EmiTone(name, EMI_FREQUENCIES[name], float(amps[name]), float(rng.uniform()))
        for name in names
        if amps.get(name, 0.0)
    )


def _draw_showers(rng, det, timing: RampTiming, nints: int, rate: float) -> np.ndarray:
    """Showers: rate per second per 1e6 pixels; radius 8-30 px; 50-300 DN peak."""
    ny, nx = det.shape
    expected = rate * (ny * nx / 1.0e6) * timing.nread * timing.frame_time
    out = []
    for integ in range(nints):
        n = int(rng.poisson(expected)) if expected > 0 else 0
        s = np.empty(n, SHOWER_DTYPE)
        s["integ"], s["frame"] = integ, rng.integers(0, timing.nread, n)
        s["y"], s["x"] = rng.uniform(0, ny, n), rng.uniform(0, nx, n)
        s["radius"] = rng.uniform(8.0, 30.0, n)
        s["amplitude_dn"] = rng.uniform(50.0, 300.0, n)
        out.append(s)
    return np.concatenate(out) if out else np.empty(0, SHOWER_DTYPE)


def _shower_image(showers: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    yy, xx = np.indices(shape, dtype=np.float32)
    img = np.zeros(shape, np.float32)
    for s in showers:
        r2 = ((yy - s["y"]) ** 2 + (xx - s["x"]) ** 2) / s["radius"] ** 2
        img += s["amplitude_dn"] * np.exp(-r2)
    return img


def simulate_miri_exposure(
    det: MiriDetectorModel,
    *,
    readpatt: str = "FASTR1",
    ngroups: int = 10,
    nints: int = 1,
    exp_type: str | None = None,
    filter: str | None = None,
    scene: Scene | None = None,
    rates: np.ndarray | None = None,
    seed: int = 0,
    cr_rate: float = 2e-5,
    showers: bool = False,
    shower_rate: float = 0.5,
    emi: bool = True,
    emi_amplitudes: dict[str, float] | None = None,
    date_obs: str = "2023-06-01",
    time_obs: str = "12:00:00.000",
    program: int = 1234,
    observation: int = 1,
    visit: int = 1,
    exposure: int = 1,
) -> SimulatedExposure:
    """Simulate a MIRI MULTIACCUM exposure, frame by frame.

    Parameters
    ----------
    det : MiriDetectorModel
        See :func:`~webbcal.simulate.miri_detector.make_miri_detector`.
    readpatt : {"FASTR1", "SLOWR1", "FAST", "SLOW"}
        SLOW patterns only for the FULL array.
    ngroups, nints : int
        Groups (= frames) per integration, and integrations.
    exp_type, filter : str, optional
        EXP_TYPE (default from the subarray/detector: MIR_IMAGE, MIR_LRS-SLITLESS,
        MIR_4QPM, MIR_LYOT, MIR_MRS) and FILTER (default per EXP_TYPE).
    scene : Scene, optional
        Default: a sky of 100 e-/s plus stars scaled to the integration.
    rates : ndarray, shape (ny, nx) or (nints, ny, nx), float, e-/s, optional
        Incident count rate of every pixel (before the detector response), instead of
        rendering ``scene``; with a leading integration axis it may change from one
        integration to the next (a time series; constant within an integration). The
        truth's ``rate`` is then the average over the integrations.
    seed : int
        Seed of the scene, cosmic rays, showers, EMI phases and all noise.
    cr_rate : float
        Cosmic rays per pixel per second.
    showers : bool
        Add large faint MIRI cosmic-ray showers at ``shower_rate`` per second per 1e6 pixels.
    emi : bool
        Add EMI pick-up at the frequencies of :data:`~webbcal.simulate.miri_transients.
        EMI_SUBARRAY_FREQS` (amplitudes ``emi_amplitudes`` override the defaults, DN).
    date_obs, time_obs : str
        UTC start of the exposure.
    program, observation, visit, exposure : int
        Identifiers of the metadata and file name (``jw..._mirimage_uncal.fits``).

    Returns
    -------
    SimulatedExposure
        ``model`` is a validated Level1bModel (SCI and REFOUT uint16), ``truth`` a
        :class:`MiriTruth`.

    Raises
    ------
    ValueError
        For an unknown pattern, SLOW on a subarray, ``ngroups < 1`` or ``nints < 1``, or
        ``rates`` of another shape.
    """
    readpatt = readpatt.upper()
    readout = det.readout(readpatt)
    for name, value in (("ngroups", ngroups), ("nints", nints)):
        if value < 1:
            raise ValueError(f"{name}={value} must be >= 1")
    exp_type = exp_type or _default_exp_type(det)
    if exp_type not in MIRI_EXP_TYPES:
        raise ValueError(f"exp_type={exp_type!r}; expected one of {sorted(MIRI_EXP_TYPES)}")
    nframes, groupgap = MIRI_READ_PATTERNS[readpatt][:2]
    timing = RampTiming(ngroups, nframes, groupgap, readout.frame_time)
    scene_seed, cr_seed, noise_seed, emi_seed, shower_seed = np.random.SeedSequence(seed).spawn(5)
    if rates is not None:
        rates = np.asarray(rates, dtype=np.float64)
        if rates.shape not in (det.shape, (nints, *det.shape)):
            raise ValueError(f"rates has shape {rates.shape}; expected {det.shape} or "
                             f"{(nints, *det.shape)} (ny, nx) or (nints, ny, nx)")  # fmt: skip
        scene = scene or Scene(sky=0.0)
    elif scene is None:
        scene = default_scene(
            det.shape,
            full_well_e=float(np.median(det.full_well * det.gain)),
            integration_time=timing.nread * timing.frame_time,
            seed=int(scene_seed.generate_state(1)[0]),
            sky=100.0,
        )
    incident = render_scene(scene, det.shape) if rates is None else rates
    rate_e = incident * det.response
    crs = draw_cosmic_rays(np.random.default_rng(cr_seed), det, timing, nints=nints,
                           cr_rate=cr_rate)  # fmt: skip
    shower_tab = (
        _draw_showers(np.random.default_rng(shower_seed), det, timing, nints, shower_rate)
        if showers
        else np.empty(0, SHOWER_DTYPE)
    )
    tones = ()
    if emi:
        tones = _emi_tones(det, readpatt, emi_amplitudes, np.random.default_rng(emi_seed))
    log.info(
        "Simulating MIRI %s %s: %d ints x %d groups (%s, TFRAME %.5f s), %d cosmic rays, "
        "%d showers, EMI %s",
        det.detector, det.subarray, nints, ngroups, readpatt, readout.frame_time, crs.size,
        shower_tab.size, [t.name for t in tones] or "off",
    )  # fmt: skip
    data, refout = _generate(
        det, rate_e, timing, readout, nints=nints, crs=crs, showers=shower_tab, tones=tones,
        rng=np.random.default_rng(noise_seed),
    )  # fmt: skip
    f_default, coron = MIRI_EXP_TYPES[exp_type]
    info = ExposureInfo(
        readpatt=readpatt, exp_type=exp_type, filter=filter or f_default, date_obs=date_obs,
        time_obs=time_obs, program=program, observation=observation, visit=visit,
        exposure=exposure,
    )  # fmt: skip
    model = _build_model(det, data, refout, timing, readout, info, coron)
    mean_rate = rate_e if rate_e.ndim == 2 else rate_e.mean(axis=0)
    truth = _make_truth(det, mean_rate, data, crs, shower_tab, tones)
    return SimulatedExposure(model=model, truth=truth, detector=det, scene=scene)


def _generate(
    det: MiriDetectorModel,
    rate_e: np.ndarray,
    timing: RampTiming,
    readout: MiriReadout,
    *,
    nints: int,
    crs: np.ndarray,
    showers: np.ndarray,
    tones: tuple[EmiTone, ...],
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Raw SCI (nints, ngroups, ny, nx) and REFOUT (nints, ngroups, ny, nx // 4), uint16.

    ``rate_e`` (e-/s) is (ny, nx), or (nints, ny, nx) for a rate per integration.
    """
    ny, nx = det.shape
    ng = timing.ngroups
    sensitive = det.response > 0
    gain = det.gain.astype(np.float32)
    dark_e = det.dark_rate * gain
    fw_e = (det.full_well * gain).astype(np.float32)
    y0 = det.linear_bias
    sigma = det.frame_readnoise(readout.readpatt) / np.sqrt(2.0)
    ref_sigma = float(np.median(sigma))
    skip = rscd_skip(det.subarray, readout.readpatt)[1]
    parity = (np.arange(ny) % 2)[:, None]
    amp = det.output_index.astype(np.intp)
    data = np.empty((nints, ng, ny, nx), np.uint16)
    refout = np.empty((nints, ng, ny, nx // 4), np.uint16)
    last_signal = np.zeros((ny, nx), np.float32)
    for integ in range(nints):
        dark_i = dark_e * (1.0 + det.dark_int1_excess) if integ == 0 else dark_e
        rate_i = rate_e[integ] if rate_e.ndim == 3 else rate_e
        lam = ((rate_i + dark_i) * timing.frame_time * sensitive).astype(np.float64)
        charge = np.zeros((ny, nx), np.float32)
        icrs = crs[crs["integ"] == integ]
        ishw = showers[showers["integ"] == integ]
        offset = det.int_offset_dn * rng.standard_normal(4)
        drift = det.bias_drift_dn * rng.standard_normal((ng, 4, 2))
        x = det.bias.astype(np.float64)
        for g in range(ng):
            charge += rng.poisson(lam).astype(np.float32)
            hits = icrs[icrs["frame"] == g]
            if hits.size:
                e = hits["amplitude_dn"].astype(np.float64) * gain[hits["y"], hits["x"]]
                np.add.at(charge, (hits["y"], hits["x"]), e.astype(np.float32))
            shw = ishw[ishw["frame"] == g]
            if shw.size:
                charge += _shower_image(shw, (ny, nx)) * gain * sensitive
            np.minimum(charge, fw_e, out=charge)
            q = apply_ipc(charge / gain, det.ipc_kernel)
            x = unlinearize(y0 + q, det.nonlin, x)
            raw = x + offset[amp] + drift[g][amp, parity]
            raw += _transients(det, integ, g, ng, skip, last_signal)
            raw += sigma * rng.standard_normal((ny, nx), dtype=np.float32)
            common = offset.mean() + drift[g].mean(axis=0)[parity]
            ref = det.refout_bias + common + ref_sigma * rng.standard_normal((ny, nx // 4))
            if tones:
                emi = emi_pattern(tones, readout, (ny, nx), ngroups=ng, integ=integ, group=g)
                raw += emi
                ref += emi[:, ::4][:, : nx // 4]
            data[integ, g] = _to_adc(raw)
            refout[integ, g] = _to_adc(ref)
        last_signal = q.astype(np.float32)
    return data, refout


def _transients(det, integ, g, ng, skip, last_signal) -> np.ndarray:
    """Reset anomaly + first/last frame + RSCD offsets (raw DN) of one group."""
    out = reset_anomaly(det.reset_amplitude, det.reset_tau, integ=integ, group=g)
    if g == 0:
        out = out + det.first_frame_dn
    if g == ng - 1 and ng > 1:
        out = out + det.last_frame_dn
    if integ > 0 and g < skip:
        out = out - det.rscd_fraction * last_signal * np.float32(np.exp(-g / 1.5))
    return out


def _to_adc(values: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(values), 0, _ADC_MAX).astype(np.uint16)


def _build_model(
    det, data, refout, timing: RampTiming, readout: MiriReadout, info: ExposureInfo, coron
) -> Level1bModel:
    model = build_level1b(det, data, None, timing, info)
    model.refout = refout
    meta = model.meta
    if det.detector != "MIRIMAGE":
        meta.instrument.channel = "12" if det.detector == "MIRIFUSHORT" else "34"
        meta.instrument.band = "SHORT"
    if coron is not None:
        meta.instrument.coronagraph = coron
    exp = meta.exposure
    exp.nsamples = readout.nsamples
    exp.sample_time = 10.0
    exp.nresets_at_start = 0
    exp.nresets_between_ints = 1 if readout.extra_reset else 0
    exp.zero_frame = False
    model.validate()
    return model


def _make_truth(det, rate_e, data, crs, showers, tones) -> MiriTruth:
    sensitive = det.response > 0
    rate = apply_ipc((rate_e / det.gain).astype(np.float32), det.ipc_kernel) * sensitive
    dark = det.dark_rate * sensitive
    saturated = np.zeros(det.shape, bool)
    for integ in range(data.shape[0]):
        saturated |= (data[integ] >= det.saturation).any(axis=0)
    saturated &= ~det.refpix
    emi = np.array([(t.name, t.frequency, t.amplitude, t.phase) for t in tones], EMI_DTYPE)
    return MiriTruth(
        rate=rate.astype(np.float32),
        dark_rate=dark.astype(np.float32),
        cosmic_rays=crs.astype(CR_DTYPE),
        saturated=saturated,
        bad=det.bad,
        pixeldq=det.pixeldq,
        showers=showers,
        emi=emi,
    )
