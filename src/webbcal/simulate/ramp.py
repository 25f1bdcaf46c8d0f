"""Frame-by-frame MULTIACCUM ramp generator (the physics of the raw-exposure simulator).

Each frame read accumulates Poisson electrons from the scene and the dark current, cosmic
rays deposited in that frame, clips the charge at the full well, couples it to neighbours by
IPC, applies the detector non-linearity, adds the static bias, a bias drift common to each
output, single-frame read noise and (optionally) correlated 1/f read noise. Groups are the
average of ``nframes`` consecutive frames followed by ``groupgap`` skipped frames; the result
is rounded and clipped to the 16-bit ADC.

References
----------
Rauscher et al. 2007, PASP 119, 768 (MULTIACCUM sampling of H2RG detectors).
Robberto 2009, JWST-STScI-001853, "NIRCam Noise Model" (frame-averaged groups and noise).
JDox, "Understanding Exposure Times" (frames, groups, integrations and their timing).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import convolve

from webbcal.simulate.detector import DetectorModel, apply_nonlinearity

__all__ = ["CR_DTYPE", "RampTiming", "apply_ipc", "draw_cosmic_rays", "generate_ramps"]

#: Structured dtype of the injected cosmic-ray table.
CR_DTYPE = np.dtype(
    [
        ("integ", np.int32),
        ("group", np.int32),
        ("y", np.int32),
        ("x", np.int32),
        ("amplitude_dn", np.float32),
        ("frame", np.int32),
    ]
)

_ADC_MAX = 65535


@dataclass(frozen=True)
class RampTiming:
    """Frame/group structure of one integration.

    Attributes
    ----------
    ngroups, nframes, groupgap : int
    frame_time : float
        Seconds between frame reads.
    """

    ngroups: int
    nframes: int
    groupgap: int
    frame_time: float

    @property
    def nread(self) -> int:
        """Frames from the reset to the last frame of the last group."""
        return self.ngroups * self.nframes + (self.ngroups - 1) * self.groupgap

    @property
    def group_time(self) -> float:
        """Seconds between the starts of consecutive groups."""
        return (self.nframes + self.groupgap) * self.frame_time

    def group_of_frame(self, frame: np.ndarray) -> np.ndarray:
        """First group whose averaged frames include signal deposited in ``frame`` (0-based)."""
        return np.asarray(frame) // (self.nframes + self.groupgap)


def apply_ipc(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Convolve an image with a 3x3 IPC kernel (zero signal assumed outside the array)."""
    if kernel[1, 1] == 1.0:
        return image
    return convolve(image, kernel, mode="constant", cval=0.0).astype(image.dtype, copy=False)


def draw_cosmic_rays(
    rng: np.random.Generator,
    det: DetectorModel,
    timing: RampTiming,
    *,
    nints: int,
    cr_rate: float,
) -> np.ndarray:
    """Draw cosmic-ray hits on light-sensitive pixels.

    Events arrive at ``cr_rate`` per pixel per second during the ``nread`` frames of each
    integration; their charge is log-normal with a median of 1000 e- (clipped to
    200-30000 e-), the range of energy deposits of minimum-ionising particles and
    secondaries in a HgCdTe layer.

    Returns
    -------
    ndarray of CR_DTYPE, shape (ncr,)
        Sorted by integration and frame. ``group`` is the first group that contains any of
        the charge; ``amplitude_dn`` is the full deposit in linear DN.
    """
    sensitive = np.flatnonzero(det.response.ravel() > 0)
    expected = cr_rate * sensitive.size * timing.nread * timing.frame_time
    out = []
    for integ in range(nints):
        n = int(rng.poisson(expected)) if expected > 0 else 0
        pix = (
            sensitive[rng.integers(0, sensitive.size, n)]
            if sensitive.size
            else np.empty(0, np.int64)
        )
        frame = rng.integers(0, timing.nread, n)
        electrons = np.clip(rng.lognormal(np.log(1000.0), 0.8, n), 200.0, 30000.0)
        y, x = np.divmod(pix, det.shape[1])
        cr = np.empty(n, CR_DTYPE)
        cr["integ"], cr["frame"], cr["y"], cr["x"] = integ, frame, y, x
        cr["group"] = timing.group_of_frame(frame)
        cr["amplitude_dn"] = electrons / det.gain[y, x]
        out.append(np.sort(cr, order=["frame", "y", "x"]))
    return np.concatenate(out) if out else np.empty(0, CR_DTYPE)


def _deposit(charge: np.ndarray, crs: np.ndarray, gain: np.ndarray) -> None:
    """Add the electrons of ``crs`` to ``charge`` (ny, nx) in place."""
    if crs.size:
        electrons = crs["amplitude_dn"].astype(np.float64) * gain[crs["y"], crs["x"]]
        np.add.at(charge, (crs["y"], crs["x"]), electrons.astype(charge.dtype))


def generate_ramps(
    det: DetectorModel,
    rate_e: np.ndarray,
    timing: RampTiming,
    *,
    nints: int,
    crs: np.ndarray,
    rng: np.random.Generator,
    zeroframe: bool = False,
    flicker_rng: np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Simulate the raw ramps frame by frame.

    Parameters
    ----------
    det : DetectorModel
    rate_e : ndarray, shape (ny, nx), e-/s
        Photo-electron rate from the scene after the detector response (no dark current).
    timing : RampTiming
    nints : int
    crs : ndarray of CR_DTYPE
        Cosmic rays to deposit (see :func:`draw_cosmic_rays`).
    rng : numpy.random.Generator
        Source of Poisson, read and bias-drift noise.
    zeroframe : bool
        Also return the first frame of each integration.
    flicker_rng : numpy.random.Generator, optional
        Source of the 1/f read noise when ``det.flicker_noise_dn > 0`` (default ``rng``).
        A separate generator keeps every other noise draw identical with and without 1/f
        noise, so the white-noise limit can be measured on the same realisation.

    Returns
    -------
    data : ndarray, shape (nints, ngroups, ny, nx), uint16, DN
    zero : ndarray, shape (nints, ny, nx), uint16, DN, or None
    """
    ny, nx = det.shape
    sensitive = det.response > 0
    gain = det.gain.astype(np.float32)
    lam = ((rate_e + det.dark_rate * det.gain) * timing.frame_time * sensitive).astype(np.float64)
    full_well_e = (det.full_well * gain).astype(np.float32)
    frame_sigma = (det.readnoise / np.sqrt(2.0)).astype(np.float32)
    data = np.empty((nints, timing.ngroups, ny, nx), np.uint16)
    zero = np.empty((nints, ny, nx), np.uint16) if zeroframe else None
    step = timing.nframes + timing.groupgap

    for integ in range(nints):
        charge = np.zeros((ny, nx), np.float32)
        icrs = crs[crs["integ"] == integ]
        offset = det.int_offset_dn * rng.standard_normal(det.noutputs)
        drift = det.bias_drift_dn * rng.standard_normal((timing.nread, det.noutputs))
        level = det.superbias + offset[det.output_index].astype(np.float32)
        for group in range(timing.ngroups):
            acc = np.zeros((ny, nx), np.float32)
            first = group * step
            for frame in range(first, first + timing.nframes):
                read = _read_frame(det, charge, lam, icrs, frame, full_well_e, frame_sigma, rng)
                read += drift[frame][det.output_index]
                if det.flicker_noise_dn > 0:
                    read += _flicker(det, flicker_rng or rng)
                acc += read
                if zero is not None and frame == 0:
                    zero[integ] = _to_adc(level + read)
            data[integ, group] = _to_adc(level + acc / timing.nframes)
            if group < timing.ngroups - 1 and timing.groupgap:
                # Skipped frames only accumulate charge: one Poisson draw for the whole gap.
                gap = slice(first + timing.nframes, first + step)
                charge += rng.poisson(lam * timing.groupgap).astype(np.float32)
                in_gap = (icrs["frame"] >= gap.start) & (icrs["frame"] < gap.stop)
                _deposit(charge, icrs[in_gap], gain)
                np.minimum(charge, full_well_e, out=charge)
    return data, zero


def _read_frame(
    det: DetectorModel,
    charge: np.ndarray,
    lam: np.ndarray,
    crs: np.ndarray,
    frame: int,
    full_well_e: np.ndarray,
    frame_sigma: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Accumulate one frame into ``charge`` (in place) and return its bias-free read, DN."""
    charge += rng.poisson(lam).astype(np.float32)
    _deposit(charge, crs[crs["frame"] == frame], det.gain)
    np.minimum(charge, full_well_e, out=charge)
    signal = apply_ipc(charge / det.gain, det.ipc_kernel)
    read = apply_nonlinearity(signal, det.nonlin)
    read += frame_sigma * rng.standard_normal(charge.shape, dtype=np.float32)
    return read


def _flicker(det: DetectorModel, rng: np.random.Generator) -> np.ndarray:
    """One frame of correlated 1/f read noise of ``det``, DN."""
    from webbcal.simulate.flicker import flicker_frame

    return flicker_frame(
        rng, det.geometry, fastaxis=det.fastaxis, slowaxis=det.slowaxis,
        noutputs=det.noutputs, output_index=det.output_index, rms_dn=det.flicker_noise_dn,
        common_fraction=det.flicker_common_fraction,
    )  # fmt: skip


def _to_adc(values: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(values), 0, _ADC_MAX).astype(np.uint16)
