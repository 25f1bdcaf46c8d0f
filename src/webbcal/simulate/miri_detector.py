"""Synthetic MIRI Si:As detector: geometry, readout clocks, per-pixel properties.

The MIRI arrays (MIRIMAGE, MIRIFUSHORT, MIRIFULONG) are 1032 columns x 1024 rows in the
science (DMS) frame, read by four outputs interleaved by column (output = column mod 4,
0-based) plus a fifth *reference output* (REFOUT extension, one value per row and per
group of four columns). Columns 1-4 and 1029-1032 (1-based) are reference columns: they
are read like the others but are not light-sensitive. There are no reference rows.

A :class:`MiriDetectorModel` holds what the MIRI raw-exposure simulator needs on one
(sub)array. Random per-pixel properties come from the same counter-based hash of (seed,
detector, property, full-frame position) as the near-infrared simulator, so a subarray is
an exact cut-out of the full array made with the same seed.

Non-linearity convention: MIRI has no superbias step; the LINEARITY correction is applied
to the raw level (pedestal included). The simulator defines the detector through the
*linearised* level ``y = P(x) = x + a2 x**2 + a3 x**3`` of the raw level ``x`` (DN).
Accumulated charge ``q`` (DN) raises the linearised level linearly, ``y = P(bias) + q``,
and the raw level is ``x = P^-1(y)``. The LINEARITY reference stores ``(0, 1, a2, a3)``
exactly, so the official polynomial correction inverts the simulation.

The non-linearity of the Si:As arrays is a function of the *collected* signal (the
de-biasing of the detector as charge accumulates), not of the absolute raw level: the
response is linear just after the reset and falls as the well fills. Each pixel's
coefficients are therefore tied to its own pedestal ``b`` by ``a2 = -1.5 a3 b``, which
gives ``P'(b) = 1`` and, in terms of the collected raw signal ``s = x - b``,
``P(b + s) - P(b) = s + 1.5 a3 b s**2 + a3 s**3``. Near the pedestal the correction is the
identity (read and shot noise of faint pixels are not rescaled; MIRI references are
fitted to the ratio of measured to linearised ramps, which is 1 at the start of a ramp),
and it grows to about 13 % of the signal near full well. A polynomial in the raw level
with its unit slope at zero DN instead of the pedestal would amplify the noise of every
pixel by ``P'(b) - 1`` (4-5 % for ``a2 ~ 2e-6``), an error the ramp-fit variance cannot
know of.

References
----------
Morrison et al. 2023, PASP 135, 075004, "JWST MIRI flight performance: Detector Effects
and Data Reduction Algorithms" (non-linearity as a function of collected signal).
Rieke et al. 2015, PASP 127, 665, "The Mid-Infrared Instrument for JWST, VII: The MIRI
Detectors" (Si:As IBC arrays, outputs, reference pixels and output).
Ressler et al. 2015, PASP 127, 675, "The Mid-Infrared Instrument for JWST, VIII: The MIRI
Focal Plane System" (readout clocking, subarrays, frame times).
JDox, "MIRI Detector Subarrays" and "MIRI Detector Readout FASTR1 / SLOWR1".
JWST pipeline documentation, "Reference Pixel Correction" (MIRI reference columns and
amplifiers) and "EMI Correction" (10 us pixel clock, row and frame clocks per subarray).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from webbcal.lib.subarray import SubarrayGeometry
from webbcal.simulate.detector import (
    _ArrayProperties,
    _Fields,
    _identity_kernel,
    _make_bad_pixels,
)

__all__ = [
    "MIRI_DETECTORS",
    "MIRI_FULL_NX",
    "MIRI_FULL_NY",
    "MIRI_READ_PATTERNS",
    "MIRI_SUBARRAYS",
    "MiriDetectorModel",
    "MiriReadout",
    "linearize",
    "make_miri_detector",
    "miri_readout",
    "unlinearize",
]

#: Full MIRI array: columns (SUBSIZE1) and rows (SUBSIZE2).
MIRI_FULL_NX = 1032
MIRI_FULL_NY = 1024
#: Reference columns on each side of the full array.
MIRI_NREF_COLS = 4
#: Pixel clock of the MIRI focal-plane electronics, s.
PIXEL_CLOCK = 10.0e-6

MIRI_DETECTORS = ("MIRIMAGE", "MIRIFUSHORT", "MIRIFULONG")

#: MIRI readout patterns: (NFRAMES, GROUPGAP, NSAMPLES, extra reset between integrations).
MIRI_READ_PATTERNS: dict[str, tuple[int, int, int, bool]] = {
    "FAST": (1, 0, 1, False),
    "FASTR1": (1, 0, 1, True),
    "SLOW": (1, 0, 9, False),
    "SLOWR1": (1, 0, 9, True),
}

#: Named MIRIMAGE subarrays: SUBSTRT1, SUBSTRT2, SUBSIZE1, SUBSIZE2 (1-based, DMS frame),
#: from the MIRI subarray definitions (JDox "MIRI Detector Subarrays"; SLITLESSPRISM as in
#: real headers).
MIRI_SUBARRAYS: dict[str, tuple[int, int, int, int]] = {
    "FULL": (1, 1, MIRI_FULL_NX, MIRI_FULL_NY),
    "BRIGHTSKY": (457, 51, 512, 512),
    "SUB256": (413, 51, 256, 256),
    "SUB128": (1, 889, 136, 128),
    "SUB64": (1, 779, 72, 64),
    "SLITLESSPRISM": (1, 529, 72, 416),
    "MASK1065": (1, 19, 288, 224),
    "MASK1140": (1, 245, 288, 224),
    "MASK1550": (1, 467, 288, 224),
    "MASKLYOT": (1, 717, 320, 304),
}

#: Pixel clocks per row read and per frame of each subarray (10 us units); the frame time
#: is ``frameclocks * 10 us`` (e.g. 2.77504 s FULL FAST, 0.08512 s SUB64). ``FULL`` has a
#: FAST and a SLOW entry (9 samples per pixel).
_CLOCKS: dict[str, tuple[int, int]] = {
    "FULL_FAST": (271, 277504),
    "FULL_SLOW": (2333, 2388992),
    "BRIGHTSKY": (162, 86528),
    "SUB256": (96, 29952),
    "SUB128": (44, 11904),
    "SUB64": (28, 8512),
    "SLITLESSPRISM": (28, 15904),
    "MASK1065": (82, 23968),
    "MASK1140": (82, 23968),
    "MASK1550": (82, 23968),
    "MASKLYOT": (90, 32400),
}

# Typical values: gain e-/DN, CDS read noise DN (FAST), pedestal DN.
_GAIN, _READNOISE, _PEDESTAL = 5.5, 8.0, 11000.0
#: Read-noise factor of SLOW readout (8 averaged samples) relative to FAST.
SLOW_NOISE_FACTOR = 0.5
#: Typical cubic coefficient ``a3`` (DN**-2) of the linearised level: with ``a2 = -1.5 a3 b``
#: the correction reaches about 13 % of the signal at full well (49,000 raw DN collected).
_NL_CUBIC = 4.0e-11
#: Fraction of the physical full well at which the SATURATION reference level is set.
SATURATION_FRACTION = 0.95


@dataclass(frozen=True)
class MiriReadout:
    """Clocking of one MIRI (sub)array and readout pattern.

    Attributes
    ----------
    readpatt : str
        READPATT (FAST, FASTR1, SLOW, SLOWR1).
    nsamples : int
        Samples per pixel (NSAMPLES): 1 for FAST, 9 for SLOW.
    rowclocks, frameclocks : int
        Pixel clocks (10 us) per row and per frame.
    extra_reset : bool
        An additional reset frame between integrations (the ``R1`` patterns).
    """

    readpatt: str
    nsamples: int
    rowclocks: int
    frameclocks: int
    extra_reset: bool

    @property
    def frame_time(self) -> float:
        """TFRAME, s."""
        return self.frameclocks * PIXEL_CLOCK


def miri_readout(subarray: str, readpatt: str) -> MiriReadout:
    """Clocking of a named MIRI subarray read with ``readpatt``.

    Raises
    ------
    ValueError
        For an unknown pattern or subarray, or SLOW patterns on a subarray (SLOW is full
        array only).
    """
    readpatt = readpatt.upper()
    if readpatt not in MIRI_READ_PATTERNS:
        raise ValueError(f"readpatt={readpatt!r}; expected one of {sorted(MIRI_READ_PATTERNS)}")
    _, _, nsamples, extra = MIRI_READ_PATTERNS[readpatt]
    key = subarray
    if subarray == "FULL":
        key = "FULL_SLOW" if readpatt.startswith("SLOW") else "FULL_FAST"
    elif readpatt.startswith("SLOW"):
        raise ValueError(f"readpatt={readpatt!r} is only available for the FULL array, "
                         f"not subarray={subarray!r}")  # fmt: skip
    if key not in _CLOCKS:
        raise ValueError(f"subarray={subarray!r}; expected one of {sorted(MIRI_SUBARRAYS)}")
    rowclocks, frameclocks = _CLOCKS[key]
    return MiriReadout(readpatt, nsamples, rowclocks, frameclocks, extra)


def linearize(x: np.ndarray, coeffs: np.ndarray) -> np.ndarray:
    """Linearised level ``P(x) = x + a2 x**2 + a3 x**3`` (the LINEARITY polynomial).

    Parameters
    ----------
    x : ndarray, DN
        Raw level (pedestal included).
    coeffs : ndarray, shape (2, ...)
        ``(a2, a3)`` broadcastable against ``x``.
    """
    x = np.asarray(x, np.float64)
    return x * (1.0 + x * (coeffs[0] + x * coeffs[1]))


def unlinearize(y: np.ndarray, coeffs: np.ndarray, x0: np.ndarray | None = None) -> np.ndarray:
    """Raw level ``x`` with ``P(x) = y`` (Newton iterations; P is monotonic here).

    Parameters
    ----------
    y : ndarray, DN
        Linearised level.
    coeffs : ndarray, shape (2, ...)
        ``(a2, a3)``.
    x0 : ndarray, optional
        Starting guess (default ``y``).

    Returns
    -------
    ndarray, float64, DN
    """
    y = np.asarray(y, np.float64)
    a2, a3 = coeffs[0].astype(np.float64), coeffs[1].astype(np.float64)
    x = y.copy() if x0 is None else np.array(x0, np.float64)
    for _ in range(6):
        f = x * (1.0 + x * (a2 + x * a3)) - y
        x -= f / (1.0 + x * (2.0 * a2 + 3.0 * x * a3))
    return x


def _signal_nonlinearity(bias: np.ndarray, a3: np.ndarray) -> np.ndarray:
    """``(a2, a3)``, float32 (2, ny, nx), with unit slope of ``P`` at the pedestal ``bias``.

    ``P'(x) = 1 + 2 a2 x + 3 a3 x**2`` equals 1 at ``x = bias`` for
    ``a2 = -1.5 a3 bias``; both coefficients are rounded to float32 first, as the
    LINEARITY reference stores them, so the simulation uses exactly what the reference holds.
    """
    a3 = np.asarray(a3, np.float32)
    a2 = (-1.5 * a3.astype(np.float64) * np.asarray(bias, np.float64)).astype(np.float32)
    return np.stack([a2, a3])


@dataclass(frozen=True, eq=False)
class MiriDetectorModel(_ArrayProperties):
    """Per-pixel properties of a simulated MIRI (sub)array.

    2-D arrays have shape ``(ny, nx) = (geometry.ysize, geometry.xsize)``.

    Attributes
    ----------
    instrument, detector, subarray : str
        ``"MIRI"``, DETECTOR and SUBARRAY.
    geometry : SubarrayGeometry
        Position on the 1032 x 1024 array.
    fastaxis, slowaxis : int
        FASTAXIS/SLOWAXIS (1, 2 for all MIRI arrays).
    noutputs : int
        4 science outputs (the reference output comes on top, in REFOUT).
    output_index : ndarray of int8
        Output reading each pixel: full-frame column mod 4.
    bias : ndarray of float32, DN
        Raw pedestal level after the reset (the level of zero accumulated charge).
    dark_rate : ndarray of float32, DN/s
        Dark current (linear DN; zero on reference columns).
    gain : ndarray of float32, e-/DN
    readnoise : ndarray of float32, DN
        CDS read noise of single FAST frames (multiply by :data:`SLOW_NOISE_FACTOR` for SLOW).
    response : ndarray of float32
        Relative quantum efficiency (0 on reference columns and dead pixels).
    nonlin : ndarray of float32, shape (2, ny, nx)
        ``(a2, a3)`` of the linearised level ``y = x + a2 x**2 + a3 x**3``, with
        ``a2 = -1.5 a3 bias`` so that the correction has unit slope at the pedestal.
    full_well : ndarray of float32, DN
        Linear accumulated charge (DN) at which the pixel saturates.
    saturation : ndarray of float32, DN
        Raw level of the SATURATION reference.
    mask_dq, sat_dq, lin_dq : ndarray of uint32
        DQ of the MASK, SATURATION and LINEARITY references.
    refpix : ndarray of bool
        Reference columns.
    reset_amplitude : ndarray of float32, shape (2, ny, nx), DN
        Reset-anomaly offset of the first frame of integration 1 and of later integrations.
    reset_tau : float
        e-folding length of the reset anomaly, frames.
    rscd_fraction : ndarray of float32, DN per DN
        RSCD: first-frame deficit of integrations >= 2 per DN of the previous integration's
        last-frame signal.
    first_frame_dn, last_frame_dn : ndarray of float32, DN
        Offsets of the first and of the last frame of every integration.
    dark_int1_excess : float
        Relative excess of the dark current in integration 1 (MIRI darks depend on the
        integration).
    refout_bias : ndarray of float32, shape (ny, nx // 4), DN
        Pedestal of the reference output.
    ipc_kernel : ndarray of float32, shape (3, 3)
    bias_drift_dn, int_offset_dn : float
        RMS of the per-frame drift of each output and row parity, and of the per-integration
        offset of each output, DN.
    seed : int
    """

    instrument: str
    detector: str
    subarray: str
    geometry: SubarrayGeometry
    fastaxis: int
    slowaxis: int
    noutputs: int
    output_index: np.ndarray
    bias: np.ndarray
    dark_rate: np.ndarray
    gain: np.ndarray
    readnoise: np.ndarray
    response: np.ndarray
    nonlin: np.ndarray
    full_well: np.ndarray
    saturation: np.ndarray
    mask_dq: np.ndarray
    sat_dq: np.ndarray
    lin_dq: np.ndarray
    refpix: np.ndarray
    reset_amplitude: np.ndarray
    reset_tau: float
    rscd_fraction: np.ndarray
    first_frame_dn: np.ndarray
    last_frame_dn: np.ndarray
    dark_int1_excess: float
    refout_bias: np.ndarray
    ipc_kernel: np.ndarray = field(default_factory=_identity_kernel)
    bias_drift_dn: float = 0.5
    int_offset_dn: float = 3.0
    seed: int = 0

    @property
    def linear_bias(self) -> np.ndarray:
        """Linearised level of zero charge, ``P(bias)``, float64 (ny, nx)."""
        return linearize(self.bias, self.nonlin)

    def readout(self, readpatt: str) -> MiriReadout:
        """Clocking of this (sub)array for ``readpatt``."""
        return miri_readout(self.subarray, readpatt)

    def frame_readnoise(self, readpatt: str) -> np.ndarray:
        """CDS read noise (DN) for ``readpatt`` (the READNOISE reference values)."""
        factor = SLOW_NOISE_FACTOR if readpatt.upper().startswith("SLOW") else 1.0
        return (self.readnoise * factor).astype(np.float32)


def _geometry(subarray: str) -> SubarrayGeometry:
    try:
        x0, y0, nx, ny = MIRI_SUBARRAYS[subarray]
    except KeyError:
        raise ValueError(
            f"subarray={subarray!r}; expected one of {sorted(MIRI_SUBARRAYS)}"
        ) from None
    return SubarrayGeometry(x0, y0, nx, ny, full_nx=MIRI_FULL_NX, full_ny=MIRI_FULL_NY)


def make_miri_detector(
    *,
    detector: str = "MIRIMAGE",
    subarray: str = "FULL",
    seed: int = 0,
    bad_fraction: float = 2e-3,
    ipc_alpha: float = 0.0,
    bias_drift_dn: float = 0.5,
    int_offset_dn: float = 3.0,
    transients: bool = True,
) -> MiriDetectorModel:
    """Make a synthetic MIRI detector (sub)array, deterministic per ``seed``.

    Parameters
    ----------
    detector : {"MIRIMAGE", "MIRIFUSHORT", "MIRIFULONG"}
    subarray : str
        ``"FULL"`` or a key of :data:`MIRI_SUBARRAYS` (the MRS detectors: FULL only).
    seed : int
        Seed of every per-pixel property; subarrays are cut-outs of the full array.
    bad_fraction : float
        Fraction of light-sensitive pixels that are bad (dead, hot, warm, low QE).
    ipc_alpha : float
        Coupling to each of the 4 nearest neighbours (0: identity IPC kernel).
    bias_drift_dn, int_offset_dn : float
        RMS (DN) of the per-frame output drift and of the per-integration output offset.
    transients : bool
        Give the detector a reset anomaly, RSCD and first/last-frame offsets; ``False``
        zeroes them (and so the RESET reference). Nothing else changes.

    Returns
    -------
    MiriDetectorModel

    Raises
    ------
    ValueError
        For an unknown detector or subarray.
    """
    detector, subarray = detector.upper(), subarray.upper()
    if detector not in MIRI_DETECTORS:
        raise ValueError(f"detector={detector!r}; expected one of {list(MIRI_DETECTORS)}")
    if detector != "MIRIMAGE" and subarray != "FULL":
        raise ValueError(f"subarray={subarray!r}: the MRS detector {detector} reads FULL only")
    g = _geometry(subarray)
    f = _Fields(seed, detector, g)
    ny, nx = g.ysize, g.xsize
    cols = f.cols[None, :]
    refpix = np.broadcast_to(
        (cols < MIRI_NREF_COLS) | (cols >= MIRI_FULL_NX - MIRI_NREF_COLS), (ny, nx)
    ).copy()
    output_index = np.broadcast_to((cols % 4).astype(np.int8), (ny, nx)).copy()

    amp_offsets = 250.0 * f.scalar_normal("amp_offset", 4)
    bias = (
        _PEDESTAL
        + 500.0 * f.scalar_normal("level")[0]
        + amp_offsets[output_index]
        + 20.0 * f.col_normal("bias_col")
        + 10.0 * f.row_normal("bias_row")
        + 100.0 * f.normal("bias_pix")
    )
    gain = _GAIN * (1.0 + 0.03 * f.normal("gain"))
    readnoise = _READNOISE * (1.0 + 0.08 * f.normal("readnoise"))
    dark = np.abs(0.05 + 0.01 * f.normal("dark"))
    response = 1.0 + 0.01 * f.normal("response")
    bias = bias.astype(np.float32)
    nonlin = _signal_nonlinearity(bias, _NL_CUBIC * (1.0 + 0.1 * f.normal("nl_c")))
    raw_full = np.minimum(60000.0 + 1000.0 * f.normal("full_well"), 63000.0)
    y0 = linearize(bias, nonlin)
    full_well = (linearize(raw_full, nonlin) - y0).astype(np.float32)
    saturation = unlinearize(y0 + SATURATION_FRACTION * full_well, nonlin, raw_full)

    # MIRI's hot and warm pixels are brighter than the near-infrared ones.
    mask_dq, sat_dq, lin_dq = _make_bad_pixels(
        f, bad_fraction, refpix, response, dark, hot_dark=(5.0, 20.0), warm_dark=(0.5, 1.5)
    )
    dark[refpix] = 0.0
    response[refpix] = 0.0
    reset_amplitude = np.stack(
        [
            -(300.0 + 30.0 * f.normal("reset_int1")),
            -(120.0 + 15.0 * f.normal("reset_int2")),
        ]
    ).astype(np.float32)
    kernel = _identity_kernel()
    if ipc_alpha:
        kernel[1, 1] = 1.0 - 4.0 * ipc_alpha
        kernel[0, 1] = kernel[2, 1] = kernel[1, 0] = kernel[1, 2] = ipc_alpha
    refout_rows = f.rows[:, None]
    refout_bias = (_PEDESTAL - 1500.0 + 5.0 * _normal_rows(f, refout_rows, nx // 4)).astype(
        np.float32
    )

    on = 1.0 if transients else 0.0
    return MiriDetectorModel(
        instrument="MIRI",
        detector=detector,
        subarray=subarray,
        geometry=g,
        fastaxis=1,
        slowaxis=2,
        noutputs=4,
        output_index=output_index,
        bias=bias.astype(np.float32),
        dark_rate=dark.astype(np.float32),
        gain=gain.astype(np.float32),
        readnoise=readnoise.astype(np.float32),
        response=response.astype(np.float32),
        nonlin=nonlin,
        full_well=full_well,
        saturation=saturation.astype(np.float32),
        mask_dq=mask_dq,
        sat_dq=sat_dq,
        lin_dq=lin_dq,
        refpix=refpix,
        reset_amplitude=reset_amplitude * np.float32(on),
        reset_tau=2.5,
        rscd_fraction=(on * np.abs(0.01 + 0.002 * f.normal("rscd"))).astype(np.float32),
        first_frame_dn=(on * (-40.0 + 5.0 * f.normal("first_frame"))).astype(np.float32),
        last_frame_dn=(on * (-60.0 + 8.0 * f.normal("last_frame"))).astype(np.float32),
        dark_int1_excess=0.1,
        refout_bias=refout_bias,
        ipc_kernel=kernel,
        bias_drift_dn=float(bias_drift_dn),
        int_offset_dn=float(int_offset_dn),
        seed=int(seed),
    )


def _normal_rows(f: _Fields, rows: np.ndarray, ncols: int) -> np.ndarray:
    """Hash-normal field on (full-frame row, reference-output column)."""
    from webbcal.simulate.detector import _key, _normal

    index = rows.astype(np.int64) * 1024 + np.arange(ncols)[None, :]
    return _normal(_key(f.seed, f.detector, "refout"), index)
