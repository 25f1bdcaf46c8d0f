"""Synthetic near-infrared detector: bias, dark, gain, noise, non-linearity and bad pixels.

A :class:`DetectorModel` holds every per-pixel property the raw-exposure simulator needs,
on the (sub)array described by a :class:`~webbcal.lib.subarray.SubarrayGeometry`. All
random per-pixel properties are drawn from a counter-based hash of (seed, detector, property,
full-frame pixel position), so a subarray detector is exactly the cut-out of the full-frame
detector made with the same seed, and reference files written from either agree.

Orientation (FASTAXIS/SLOWAXIS) follows the JWST science-frame (DMS) conventions of each
detector (values as in the real headers and the JWST refpix step). A full-frame read uses four
outputs, each a 512-pixel stripe along the fast-read direction: column blocks when
``|FASTAXIS| == 1`` (NIRCam), row blocks when ``|FASTAXIS| == 2`` (NIRSpec, NIRISS, FGS).

References
----------
Rauscher et al. 2007, PASP 119, 768, "Detectors for the James Webb Space Telescope
Near-Infrared Spectrograph" (H2RG readout, reference pixels, outputs).
JDox, "NIRCam Detector Readout Patterns"; "NIRSpec Detector Readout"; JWST pipeline
documentation, "Reference Pixel Correction" (refpix step: outputs and odd/even columns).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from webbcal import dqflags
from webbcal.lib.subarray import FULL_FRAME_NIR, NREF, SubarrayGeometry

__all__ = [
    "DETECTOR_AXES",
    "INSTRUMENT_DETECTORS",
    "KNOWN_SUBARRAYS",
    "DetectorModel",
    "apply_nonlinearity",
    "make_detector",
]

#: (FASTAXIS, SLOWAXIS) of every near-infrared science detector in DMS orientation.
DETECTOR_AXES: dict[str, tuple[int, int]] = {
    "NRCA1": (-1, 2),
    "NRCA2": (1, -2),
    "NRCA3": (-1, 2),
    "NRCA4": (1, -2),
    "NRCALONG": (-1, 2),
    "NRCB1": (1, -2),
    "NRCB2": (-1, 2),
    "NRCB3": (1, -2),
    "NRCB4": (-1, 2),
    "NRCBLONG": (1, -2),
    "NRS1": (2, 1),
    "NRS2": (-2, -1),
    "NIS": (-2, -1),
    "GUIDER1": (-2, -1),
    "GUIDER2": (2, -1),
}

#: Detectors of each near-infrared instrument (INSTRUME keyword).
INSTRUMENT_DETECTORS: dict[str, tuple[str, ...]] = {
    "NIRCAM": tuple(d for d in DETECTOR_AXES if d.startswith("NRC")),
    "NIRSPEC": ("NRS1", "NRS2"),
    "NIRISS": ("NIS",),
    "FGS": ("GUIDER1", "GUIDER2"),
}

#: A few named subarrays with their real DMS geometry, keyed by (INSTRUME, SUBARRAY).
KNOWN_SUBARRAYS: dict[tuple[str, str], SubarrayGeometry] = {
    # From the CRDS rules jwst_nirspec_superbias_0036.rmap and the superbias_0075/dark_0046 refs.
    ("NIRSPEC", "SUB512"): SubarrayGeometry(1025, 957, 512, 32),
    # Corner subarrays that include reference pixels on two edges.
    ("NIRCAM", "SUB64P"): SubarrayGeometry(1, 1, 64, 64),
    ("NIRCAM", "SUB160P"): SubarrayGeometry(1, 1, 160, 160),
    ("NIRCAM", "SUB400P"): SubarrayGeometry(1, 1, 400, 400),
    ("NIRISS", "SUB64"): SubarrayGeometry(1, 1985, 64, 64),
    ("NIRISS", "SUB128"): SubarrayGeometry(1, 1921, 128, 128),
    ("FGS", "128X128"): SubarrayGeometry(887, 1022, 128, 128),
}

# Detector-wide typical values: (gain e-/DN, CDS read noise DN, bias level DN).
_INSTRUMENT_TYPICAL = {
    "NIRCAM": (2.0, 11.0, 12000.0),
    "NIRSPEC": (1.0, 13.0, 11000.0),
    "NIRISS": (1.6, 12.0, 12500.0),
    "FGS": (2.0, 12.0, 13000.0),
}

#: Fraction of the physical full well at which the SATURATION reference level is set.
SATURATION_FRACTION = 0.95
_AMP_WIDTH = 512


class _ArrayProperties:
    """Properties shared by the simulated detector models (needs ``geometry``, the
    reference DQ arrays ``mask_dq``, ``sat_dq``, ``lin_dq`` and ``refpix``)."""

    @property
    def shape(self) -> tuple[int, int]:
        """(ny, nx) of the array."""
        return (self.geometry.ysize, self.geometry.xsize)

    @property
    def pixeldq(self) -> np.ndarray:
        """Union of the MASK, SATURATION and LINEARITY reference DQ, uint32 (ny, nx)."""
        return self.mask_dq | self.sat_dq | self.lin_dq

    @property
    def bad(self) -> np.ndarray:
        """Pixels whose rate cannot be trusted (any reference DQ or a reference pixel)."""
        return (self.pixeldq != 0) | self.refpix


@dataclass(frozen=True, eq=False)
class DetectorModel(_ArrayProperties):
    """Per-pixel properties of a simulated near-infrared detector (sub)array.

    All 2-D arrays have shape ``(ny, nx) = (geometry.ysize, geometry.xsize)``.

    Attributes
    ----------
    instrument, detector, subarray : str
        INSTRUME, DETECTOR and SUBARRAY keyword values.
    geometry : SubarrayGeometry
        Position of the array on the full detector (SUBSTRT/SUBSIZE).
    fastaxis, slowaxis : int
        FASTAXIS / SLOWAXIS keywords.
    noutputs : int
        Number of readout outputs (NOUTPUTS): 4 for full-width reads, otherwise 1.
    output_index : ndarray of int8
        Output (amplifier) that reads each pixel, ``0 .. noutputs-1``.
    superbias : ndarray of float32, DN
        Static bias level of each pixel, including output and odd/even offsets.
    dark_rate : ndarray of float32, DN/s
        Dark current (zero on reference pixels).
    gain : ndarray of float32, e-/DN
    readnoise : ndarray of float32, DN
        CDS read noise of single frames; one frame read has noise ``readnoise / sqrt(2)``.
    response : ndarray of float32
        Relative quantum efficiency (0 for dead and reference pixels).
    full_well : ndarray of float32, DN
        Linear (true) accumulated signal at which the pixel's charge saturates.
    nonlin : ndarray of float32, shape (2, ny, nx)
        Coefficients ``(a2, a3)`` of the non-linearity ``measured = q + a2 q**2 + a3 q**3``
        for bias-subtracted linear signal ``q`` in DN (see :func:`apply_nonlinearity`).
    saturation : ndarray of float32, DN
        Raw level (bias included) above which a group is saturated (SATURATION reference).
    mask_dq, sat_dq, lin_dq : ndarray of uint32
        DQ of the MASK, SATURATION (NO_SAT_CHECK) and LINEARITY (NO_LIN_CORR) references.
    refpix : ndarray of bool
        Reference pixels (4-pixel border of the full frame).
    ipc_kernel : ndarray of float32, shape (3, 3)
        Inter-pixel capacitance kernel (sums to 1; identity when IPC is off).
    bias_drift_dn : float
        RMS (DN) of the per-frame bias drift common to one output.
    int_offset_dn : float
        RMS (DN) of the per-integration bias offset of each output.
    seed : int
        Seed the detector was made with.
    flicker_noise_dn : float
        RMS (DN) of the correlated 1/f read noise of one frame read (0: none); see
        :mod:`webbcal.simulate.flicker`.
    flicker_common_fraction : float
        Fraction of the 1/f noise variance common to all outputs.
    """

    instrument: str
    detector: str
    subarray: str
    geometry: SubarrayGeometry
    fastaxis: int
    slowaxis: int
    noutputs: int
    output_index: np.ndarray
    superbias: np.ndarray
    dark_rate: np.ndarray
    gain: np.ndarray
    readnoise: np.ndarray
    response: np.ndarray
    full_well: np.ndarray
    nonlin: np.ndarray
    saturation: np.ndarray
    mask_dq: np.ndarray
    sat_dq: np.ndarray
    lin_dq: np.ndarray
    refpix: np.ndarray
    ipc_kernel: np.ndarray = field(default_factory=lambda: _identity_kernel())
    bias_drift_dn: float = 1.0
    int_offset_dn: float = 5.0
    seed: int = 0
    flicker_noise_dn: float = 0.0
    flicker_common_fraction: float = 0.5

    def saturation_signal(self) -> np.ndarray:
        """Linear signal (DN, bias-subtracted) at which the SATURATION level is reached."""
        return (SATURATION_FRACTION * self.full_well).astype(np.float32)


def _identity_kernel() -> np.ndarray:
    k = np.zeros((3, 3), np.float32)
    k[1, 1] = 1.0
    return k


def apply_nonlinearity(q: np.ndarray, nonlin: np.ndarray) -> np.ndarray:
    """Measured (non-linear) signal from the linear signal.

    Parameters
    ----------
    q : ndarray, shape (ny, nx), DN
        Bias-subtracted linear signal (accumulated charge divided by the gain).
    nonlin : ndarray, shape (2, ny, nx)
        ``(a2, a3)`` of ``measured = q + a2 q**2 + a3 q**3`` (both negative: the response
        falls as the depletion region fills).

    Returns
    -------
    ndarray, shape (ny, nx), float32, DN
    """
    return (q * (1.0 + q * (nonlin[0] + q * nonlin[1]))).astype(np.float32, copy=False)


# ----------------------------------------------------------------------------- hashing
_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def _key(seed: int, detector: str, name: str) -> np.uint64:
    digest = hashlib.blake2b(f"{seed}/{detector}/{name}".encode(), digest_size=8).digest()
    return np.uint64(int.from_bytes(digest, "little"))


def _splitmix(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def _uniform(key: np.uint64, index: np.ndarray) -> np.ndarray:
    """Uniform (0, 1) numbers that depend only on ``key`` and the integer ``index``."""
    with np.errstate(over="ignore"):
        h = _splitmix(index.astype(np.uint64) ^ key)
    return ((h >> np.uint64(11)).astype(np.float64) + 0.5) / float(1 << 53)


def _normal(key: np.uint64, index: np.ndarray) -> np.ndarray:
    """Standard normal numbers (Box-Muller) keyed by ``key`` and ``index``."""
    u1 = _uniform(key, index)
    u2 = _uniform(_splitmix(np.asarray(key)).astype(np.uint64), index)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


class _Fields:
    """Hash-based random fields on full-frame pixel positions of one (sub)array."""

    def __init__(self, seed: int, detector: str, geometry: SubarrayGeometry):
        self.seed, self.detector = seed, detector
        self.rows = np.arange(geometry.ystart - 1, geometry.ystart - 1 + geometry.ysize)
        self.cols = np.arange(geometry.xstart - 1, geometry.xstart - 1 + geometry.xsize)
        self.index = self.rows[:, None].astype(np.int64) * geometry.full_nx + self.cols[None, :]

    def normal(self, name: str) -> np.ndarray:
        return _normal(_key(self.seed, self.detector, name), self.index)

    def uniform(self, name: str) -> np.ndarray:
        return _uniform(_key(self.seed, self.detector, name), self.index)

    def scalar_normal(self, name: str, n: int = 1) -> np.ndarray:
        return _normal(_key(self.seed, self.detector, name), np.arange(n))

    def col_normal(self, name: str) -> np.ndarray:
        return _normal(_key(self.seed, self.detector, name), self.cols)[None, :]

    def row_normal(self, name: str) -> np.ndarray:
        return _normal(_key(self.seed, self.detector, name), self.rows)[:, None]


# ----------------------------------------------------------------------------- geometry
def _fast_coordinate(geometry: SubarrayGeometry, fastaxis: int) -> np.ndarray:
    """Full-frame coordinate along the fast-read direction, in read order, shape (ny, nx)."""
    rows = np.arange(geometry.ystart - 1, geometry.ystart - 1 + geometry.ysize)
    cols = np.arange(geometry.xstart - 1, geometry.xstart - 1 + geometry.xsize)
    if abs(fastaxis) == 1:
        coord = cols if fastaxis > 0 else geometry.full_nx - 1 - cols
        return np.broadcast_to(coord[None, :], (geometry.ysize, geometry.xsize))
    coord = rows if fastaxis > 0 else geometry.full_ny - 1 - rows
    return np.broadcast_to(coord[:, None], (geometry.ysize, geometry.xsize))


def _check_args(instrument: str, detector: str, fastaxis: int, slowaxis: int) -> None:
    if instrument not in INSTRUMENT_DETECTORS:
        raise ValueError(
            f"instrument={instrument!r} is not a near-infrared instrument; expected one of "
            f"{sorted(INSTRUMENT_DETECTORS)}"
        )
    if detector not in INSTRUMENT_DETECTORS[instrument]:
        raise ValueError(
            f"detector={detector!r} is not a {instrument} detector; expected one of "
            f"{list(INSTRUMENT_DETECTORS[instrument])}"
        )
    if {abs(fastaxis), abs(slowaxis)} != {1, 2}:
        raise ValueError(
            f"fastaxis={fastaxis}, slowaxis={slowaxis}: expected one of +-1 and one of +-2"
        )


def _resolve_geometry(
    instrument: str, geometry: SubarrayGeometry | None, subarray: str | None
) -> tuple[SubarrayGeometry, str]:
    if geometry is None:
        if subarray is None or subarray == "FULL":
            return SubarrayGeometry(1, 1, FULL_FRAME_NIR, FULL_FRAME_NIR), "FULL"
        try:
            return KNOWN_SUBARRAYS[(instrument, subarray)], subarray
        except KeyError:
            raise ValueError(
                f"subarray={subarray!r} has no known geometry for {instrument}; pass geometry= "
                f"or one of {sorted(n for i, n in KNOWN_SUBARRAYS if i == instrument)}"
            ) from None
    if subarray is None:
        known = [n for (i, n), g in KNOWN_SUBARRAYS.items() if i == instrument and g == geometry]
        subarray = "FULL" if geometry.is_full_frame else (known[0] if known else "GENERIC")
    return geometry, subarray


# ----------------------------------------------------------------------------- builder
def make_detector(
    *,
    instrument: str = "NIRCAM",
    detector: str = "NRCA1",
    geometry: SubarrayGeometry | None = None,
    subarray: str | None = None,
    fastaxis: int | None = None,
    slowaxis: int | None = None,
    noutputs: int | None = None,
    seed: int = 0,
    ipc_alpha: float = 0.0,
    bad_fraction: float = 2e-3,
    bias_drift_dn: float = 1.0,
    int_offset_dn: float = 5.0,
    flicker_noise_dn: float = 0.0,
    flicker_common_fraction: float = 0.5,
) -> DetectorModel:
    """Make a synthetic near-infrared detector, deterministic per ``seed``.

    Parameters
    ----------
    instrument : {"NIRCAM", "NIRSPEC", "NIRISS", "FGS"}
    detector : str
        DETECTOR keyword, e.g. ``"NRCA1"``, ``"NRS1"``, ``"NIS"``, ``"GUIDER2"``.
    geometry : SubarrayGeometry, optional
        Array to simulate; default: the named ``subarray`` or the full 2048 x 2048 frame.
    subarray : str, optional
        SUBARRAY name. With ``geometry=None`` it selects a :data:`KNOWN_SUBARRAYS` entry;
        otherwise it only names ``geometry`` (default ``"FULL"``, the matching
        :data:`KNOWN_SUBARRAYS` name, or ``"GENERIC"``).
    fastaxis, slowaxis : int, optional
        Readout directions; default from :data:`DETECTOR_AXES`.
    noutputs : {1, 4}, optional
        Outputs used; default 4 when the array spans the full fast-read length, else 1.
    seed : int
        Seed of every random per-pixel property. Properties depend only on (seed, detector,
        full-frame position), so subarrays are exact cut-outs of the full frame.
    ipc_alpha : float
        Coupling to each of the four nearest neighbours; 0 gives an identity IPC kernel.
    bad_fraction : float
        Fraction of light-sensitive pixels that are bad (dead, hot, warm or low-QE).
    bias_drift_dn, int_offset_dn : float
        RMS of the per-frame and per-integration bias offsets common to one output (DN).
    flicker_noise_dn : float
        RMS (DN) of correlated 1/f read noise added to every frame read, sampled along the
        fast-read direction of each output (:func:`webbcal.simulate.flicker.flicker_frame`).
        The default 0 adds none and leaves every other simulated value unchanged.
    flicker_common_fraction : float
        Fraction (0-1) of the 1/f noise variance shared by all outputs; the rest is
        independent per output.

    Returns
    -------
    DetectorModel

    Raises
    ------
    ValueError
        For an unknown instrument/detector/subarray, invalid axes or ``noutputs``, or a
        negative ``flicker_noise_dn`` / ``flicker_common_fraction`` outside [0, 1].
    """
    if not np.isfinite(flicker_noise_dn) or flicker_noise_dn < 0:
        raise ValueError(f"flicker_noise_dn={flicker_noise_dn!r} must be a finite value >= 0")
    if not 0.0 <= flicker_common_fraction <= 1.0:
        raise ValueError(
            f"flicker_common_fraction={flicker_common_fraction!r} must be between 0 and 1"
        )
    instrument, detector = instrument.upper(), detector.upper()
    fast0, slow0 = DETECTOR_AXES.get(detector, (1, 2))
    fastaxis = fast0 if fastaxis is None else int(fastaxis)
    slowaxis = slow0 if slowaxis is None else int(slowaxis)
    _check_args(instrument, detector, fastaxis, slowaxis)
    geometry, subarray = _resolve_geometry(instrument, geometry, subarray)
    fast_len = geometry.xsize if abs(fastaxis) == 1 else geometry.ysize
    full_fast = geometry.full_nx if abs(fastaxis) == 1 else geometry.full_ny
    if noutputs is None:
        noutputs = 4 if fast_len == full_fast else 1
    if noutputs not in (1, 4) or (noutputs == 4 and fast_len != full_fast):
        raise ValueError(
            f"noutputs={noutputs} is not possible for a {fast_len}-pixel fast-axis read; "
            "expected 1, or 4 for a full-length read"
        )

    f = _Fields(seed, detector, geometry)
    ny, nx = geometry.ysize, geometry.xsize
    gain0, rn0, bias0 = _INSTRUMENT_TYPICAL[instrument]
    refpix = geometry.reference_pixel_mask(NREF)
    fast = _fast_coordinate(geometry, fastaxis)
    region = (fast // _AMP_WIDTH).astype(np.int8)
    output_index = region.copy() if noutputs == 4 else np.zeros((ny, nx), np.int8)

    superbias = _make_bias(f, bias0, region, fast, fastaxis)
    gain = gain0 * (1.0 + 0.03 * f.normal("gain"))
    readnoise = rn0 * (1.0 + 0.08 * f.normal("readnoise"))
    dark = np.abs(0.003 + 0.001 * f.normal("dark"))
    full_well = np.minimum(50000.0 + 2000.0 * f.normal("full_well"), 62000.0 - superbias)
    a2 = -(0.06 + 0.01 * f.normal("nl_b")) / full_well
    a3 = -(0.02 + 0.005 * f.normal("nl_c")) / full_well**2
    nonlin = np.stack([a2, a3]).astype(np.float32)
    response = 1.0 + 0.01 * f.normal("response")

    mask_dq, sat_dq, lin_dq = _make_bad_pixels(f, bad_fraction, refpix, response, dark)
    dark[refpix] = 0.0
    response[refpix] = 0.0
    full_well = full_well.astype(np.float32)
    sat_signal = SATURATION_FRACTION * full_well
    saturation = superbias + apply_nonlinearity(sat_signal, nonlin)
    kernel = _identity_kernel()
    if ipc_alpha:
        kernel[1, 1] = 1.0 - 4.0 * ipc_alpha
        kernel[0, 1] = kernel[2, 1] = kernel[1, 0] = kernel[1, 2] = ipc_alpha

    return DetectorModel(
        instrument=instrument,
        detector=detector,
        subarray=subarray,
        geometry=geometry,
        fastaxis=fastaxis,
        slowaxis=slowaxis,
        noutputs=noutputs,
        output_index=output_index,
        superbias=superbias.astype(np.float32),
        dark_rate=dark.astype(np.float32),
        gain=gain.astype(np.float32),
        readnoise=readnoise.astype(np.float32),
        response=response.astype(np.float32),
        full_well=full_well,
        nonlin=nonlin,
        saturation=saturation.astype(np.float32),
        mask_dq=mask_dq,
        sat_dq=sat_dq,
        lin_dq=lin_dq,
        refpix=refpix,
        ipc_kernel=kernel,
        bias_drift_dn=float(bias_drift_dn),
        int_offset_dn=float(int_offset_dn),
        seed=int(seed),
        flicker_noise_dn=float(flicker_noise_dn),
        flicker_common_fraction=float(flicker_common_fraction),
    )


def _make_bias(
    f: _Fields, bias0: float, region: np.ndarray, fast: np.ndarray, fastaxis: int
) -> np.ndarray:
    """Superbias: level + slow gradient + column/row structure + pixel scatter + offsets."""
    y = (f.rows[:, None] / FULL_FRAME_NIR) - 0.5
    x = (f.cols[None, :] / FULL_FRAME_NIR) - 0.5
    bias = bias0 + 800.0 * f.scalar_normal("level")[0] + 300.0 * x + 200.0 * y**2
    bias = bias + 25.0 * f.col_normal("bias_col") + 8.0 * f.row_normal("bias_row")
    bias = bias + 120.0 * f.normal("bias_pix")
    amp_offsets = 400.0 * f.scalar_normal("amp_offset", 4)
    odd_even = 15.0 * f.scalar_normal("odd_even", 8).reshape(4, 2)
    bias = bias + amp_offsets[region] + odd_even[region, fast % 2]
    return bias


def _make_bad_pixels(
    f: _Fields,
    bad_fraction: float,
    refpix: np.ndarray,
    response: np.ndarray,
    dark: np.ndarray,
    *,
    hot_dark: tuple[float, float] = (1.0, 4.0),
    warm_dark: tuple[float, float] = (0.05, 0.15),
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw bad pixels; modify ``response`` and ``dark`` in place; return the three DQ arrays.

    ``hot_dark`` and ``warm_dark`` give (offset, spread) of the dark current (DN/s) of
    hot and warm pixels.
    """
    u = f.uniform("bad")
    kind = f.uniform("bad_kind")
    bad = (u < bad_fraction) & ~refpix
    dead = bad & (kind < 0.2)
    hot = bad & (kind >= 0.2) & (kind < 0.5)
    warm = bad & (kind >= 0.5) & (kind < 0.75)
    low_qe = bad & (kind >= 0.75)
    response[dead] = 0.0
    response[low_qe] *= 0.5
    dark[hot] = hot_dark[0] + hot_dark[1] * f.uniform("hot_level")[hot]
    dark[warm] = warm_dark[0] + warm_dark[1] * f.uniform("warm_level")[warm]

    mask_dq = np.zeros(refpix.shape, np.uint32)
    # As in flight masks: no DO_NOT_USE on reference pixels, so refpix can use them.
    mask_dq[refpix] = dqflags.REFERENCE_PIXEL
    mask_dq[dead] |= dqflags.DEAD | dqflags.DO_NOT_USE
    mask_dq[hot] |= dqflags.HOT | dqflags.DO_NOT_USE
    mask_dq[warm] |= dqflags.WARM
    mask_dq[low_qe] |= dqflags.LOW_QE
    special = f.uniform("special")
    sat_dq = np.where((special < bad_fraction / 4) & ~refpix, dqflags.NO_SAT_CHECK, 0)
    lin_dq = np.where((special > 1.0 - bad_fraction / 4) & ~refpix, dqflags.NO_LIN_CORR, 0)
    return mask_dq, sat_dq.astype(np.uint32), lin_dq.astype(np.uint32)
