"""Simulated raw (``_uncal``) exposures with their truth.

:func:`simulate_exposure` turns a :class:`~webbcal.simulate.detector.DetectorModel` and a
:class:`~webbcal.simulate.scene.Scene` into a Level 1b data model plus a :class:`Truth`;
:func:`simulate_from_header` fills the shape and metadata declared by a real Level 1b header.

References
----------
JDox, "Understanding Exposure Times"; JWST pipeline documentation, "Level 1b data" and
"calwebb_detector1" (what a perfect stage-1 pipeline should recover).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits
from stdatamodels.jwst.datamodels import Level1bModel

from webbcal.lib.readout import READ_PATTERNS, frame_time, read_pattern
from webbcal.lib.subarray import SubarrayGeometry
from webbcal.simulate.detector import DetectorModel, make_detector
from webbcal.simulate.metadata import ExposureInfo, build_level1b, default_optical_elements
from webbcal.simulate.ramp import CR_DTYPE, RampTiming, apply_ipc, draw_cosmic_rays, generate_ramps
from webbcal.simulate.scene import Scene, default_scene, render_scene

__all__ = [
    "SimulatedExposure",
    "Truth",
    "detector_frame_time",
    "simulate_exposure",
    "simulate_from_header",
]

log = logging.getLogger(__name__)

_RAPID = {"NIRCAM": "RAPID", "NIRSPEC": "NRSRAPID", "NIRISS": "NISRAPID", "FGS": "FGSRAPID"}


@dataclass(frozen=True, eq=False)
class Truth:
    """What a perfect stage-1 pipeline should recover from a simulated exposure.

    Attributes
    ----------
    rate : ndarray, shape (ny, nx), float32, DN/s
        Linear signal rate from the scene (after the detector response and IPC, without dark
        current, which dark subtraction removes); 0 on reference and dead pixels.
    dark_rate : ndarray, shape (ny, nx), float32, DN/s
        Dark current as present in the data (after IPC).
    cosmic_rays : ndarray of CR_DTYPE
        Injected hits: ``integ``, ``group`` (first group with any of the charge), ``y``,
        ``x``, ``amplitude_dn`` (linear DN) and ``frame`` (0-based frame after the reset).
    saturated : ndarray, shape (ny, nx), bool
        Pixels whose raw level reaches the SATURATION reference in at least one group.
    bad : ndarray, shape (ny, nx), bool
        Reference pixels and pixels with any reference-file DQ flag.
    pixeldq : ndarray, shape (ny, nx), uint32
        Union of the MASK, SATURATION and LINEARITY reference DQ.
    """

    rate: np.ndarray
    dark_rate: np.ndarray
    cosmic_rays: np.ndarray
    saturated: np.ndarray
    bad: np.ndarray
    pixeldq: np.ndarray

    def save(self, path: str | os.PathLike) -> Path:
        """Write the truth to a ``.npz`` file and return its path."""
        path = Path(path)
        np.savez_compressed(path, **{k: getattr(self, k) for k in self.__dataclass_fields__})
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> Truth:
        """Read a truth written by :meth:`save`."""
        with np.load(path) as f:
            return cls(**{k: f[k] for k in cls.__dataclass_fields__})


@dataclass(frozen=True, eq=False)
class SimulatedExposure:
    """A simulated raw exposure.

    Attributes
    ----------
    model : stdatamodels.jwst.datamodels.Level1bModel
        SCI uint16 (nints, ngroups, ny, nx) DN, GROUP and INT_TIMES tables, full metadata.
    truth : Truth
    detector : DetectorModel
        The detector that produced it (to write matching reference files).
    scene : Scene
    """

    model: Level1bModel
    truth: Truth
    detector: DetectorModel
    scene: Scene

    @property
    def name(self) -> str:
        """File-name root, e.g. ``jw01234001001_01101_00001_nrca1``."""
        return self.model.meta.filename.removesuffix("_uncal.fits")

    def save(self, outdir: str | os.PathLike) -> dict[str, Path]:
        """Write ``<name>_uncal.fits`` and ``<name>_truth.npz`` into ``outdir``.

        Returns
        -------
        dict
            ``{"uncal": path, "truth": path}``.
        """
        outdir = Path(outdir)
        outdir.mkdir(parents=True, exist_ok=True)
        uncal = outdir / f"{self.name}_uncal.fits"
        self.model.save(uncal)
        truth = self.truth.save(outdir / f"{self.name}_truth.npz")
        return {"uncal": uncal, "truth": truth}


def detector_frame_time(det: DetectorModel) -> float:
    """Frame time (s) of ``det``: sizes along its fast and slow axes and its outputs."""
    g = det.geometry
    fast, slow = (g.xsize, g.ysize) if abs(det.fastaxis) == 1 else (g.ysize, g.xsize)
    return frame_time(fast, slow, det.noutputs)


def _resolve_pattern(readpatt: str, nframes: int | None, groupgap: int | None) -> tuple[int, int]:
    if readpatt.upper() in READ_PATTERNS:
        p = read_pattern(readpatt)
        return (p.nframes if nframes is None else nframes), (
            p.groupgap if groupgap is None else groupgap
        )
    if nframes is None or groupgap is None:
        read_pattern(readpatt)  # raises ValueError naming the known patterns
    return nframes, groupgap


def simulate_exposure(
    det: DetectorModel,
    *,
    readpatt: str | None = None,
    ngroups: int = 10,
    nints: int = 1,
    scene: Scene | None = None,
    cr_rate: float = 2e-5,
    seed: int = 0,
    date_obs: str = "2023-06-01",
    time_obs: str = "12:00:00.000",
    exp_type: str | None = None,
    filter: str | None = None,
    pupil: str | None = None,
    grating: str | None = None,
    zeroframe: bool = False,
    nframes: int | None = None,
    groupgap: int | None = None,
    tframe: float | None = None,
    program: int = 1234,
    observation: int = 1,
    visit: int = 1,
    exposure: int = 1,
) -> SimulatedExposure:
    """Simulate a near-infrared MULTIACCUM exposure, frame by frame.

    Parameters
    ----------
    det : DetectorModel
        Detector (and subarray) to simulate; see :func:`make_detector`.
    readpatt : str, optional
        READPATT (default the instrument's RAPID pattern). Patterns unknown to
        :mod:`webbcal.lib.readout` need explicit ``nframes`` and ``groupgap``.
    ngroups, nints : int
        Groups per integration and integrations.
    scene : Scene, optional
        Default: :func:`~webbcal.simulate.scene.default_scene` scaled to the integration.
    cr_rate : float
        Cosmic-ray events per pixel per second.
    seed : int
        Seed of the scene, cosmic rays and all noise; the same inputs give identical data.
    date_obs, time_obs : str
        UTC exposure start (``YYYY-MM-DD``, ``hh:mm:ss.sss``).
    exp_type, filter, pupil, grating : str, optional
        Default per instrument (e.g. NRC_IMAGE, F200W, CLEAR for NIRCam short wavelength).
    zeroframe : bool
        Add a ZEROFRAME extension with the first frame of each integration.
    nframes, groupgap : int, optional
        Override the pattern's frames per group and skipped frames.
    tframe : float, optional
        Frame time in s; default from the array size and outputs.
    program, observation, visit, exposure : int
        Identifiers used in the metadata and the file name.

    Returns
    -------
    SimulatedExposure

    Raises
    ------
    ValueError
        For an unknown pattern or non-positive ``ngroups``/``nints``.
    """
    instrument = det.instrument
    readpatt = (readpatt or _RAPID[instrument]).upper()
    nframes, groupgap = _resolve_pattern(readpatt, nframes, groupgap)
    for name, value, low in (("ngroups", ngroups, 1), ("nints", nints, 1), ("nframes", nframes, 1)):
        if value < low:
            raise ValueError(f"{name}={value} must be >= {low}")
    if groupgap < 0:
        raise ValueError(f"groupgap={groupgap} must be >= 0")
    timing = RampTiming(ngroups, nframes, groupgap, tframe or detector_frame_time(det))
    d_exp, d_filter, d_pupil, d_grating = default_optical_elements(det)
    info = ExposureInfo(
        readpatt=readpatt,
        exp_type=exp_type or d_exp,
        filter=filter or d_filter,
        pupil=pupil or d_pupil,
        grating=grating or d_grating,
        date_obs=date_obs,
        time_obs=time_obs,
        program=program,
        observation=observation,
        visit=visit,
        exposure=exposure,
    )
    # The 4th stream only feeds the optional 1/f noise: the first three are unchanged by it.
    scene_seed, cr_seed, noise_seed, flicker_seed = np.random.SeedSequence(seed).spawn(4)
    if scene is None:
        scene = default_scene(
            det.shape,
            full_well_e=float(np.median(det.full_well * det.gain)),
            integration_time=timing.nread * timing.frame_time,
            seed=int(scene_seed.generate_state(1)[0]),
        )
    rate_e = render_scene(scene, det.shape) * det.response
    crs = draw_cosmic_rays(
        np.random.default_rng(cr_seed), det, timing, nints=nints, cr_rate=cr_rate
    )
    log.info(
        "Simulating %s %s %s: %d ints x %d groups (%s), %d cosmic rays",
        det.instrument,
        det.detector,
        det.subarray,
        nints,
        ngroups,
        readpatt,
        crs.size,
    )
    data, zero = generate_ramps(
        det,
        rate_e,
        timing,
        nints=nints,
        crs=crs,
        rng=np.random.default_rng(noise_seed),
        zeroframe=zeroframe,
        flicker_rng=np.random.default_rng(flicker_seed),
    )
    model = build_level1b(det, data, zero, timing, info)
    truth = _make_truth(det, rate_e, data, crs)
    return SimulatedExposure(model=model, truth=truth, detector=det, scene=scene)


def _make_truth(det: DetectorModel, rate_e: np.ndarray, data: np.ndarray, crs: np.ndarray) -> Truth:
    sensitive = det.response > 0
    rate = apply_ipc((rate_e / det.gain).astype(np.float32), det.ipc_kernel) * sensitive
    dark = apply_ipc(det.dark_rate * sensitive, det.ipc_kernel) * sensitive
    saturated = np.zeros(det.shape, bool)
    for integ in range(data.shape[0]):
        saturated |= (data[integ] >= det.saturation).any(axis=0)
    saturated &= ~det.refpix
    return Truth(
        rate=rate.astype(np.float32),
        dark_rate=dark.astype(np.float32),
        cosmic_rays=crs.astype(CR_DTYPE),
        saturated=saturated,
        bad=det.bad,
        pixeldq=det.pixeldq,
    )


# ----------------------------------------------------------------------------- headers
def _as_level1b(source: str | os.PathLike | fits.Header | Level1bModel) -> Level1bModel:
    if isinstance(source, Level1bModel):
        return source
    if isinstance(source, fits.Header):
        sci = fits.ImageHDU(np.zeros((1, 1, 1, 1), np.uint16), name="SCI")
        return Level1bModel(fits.HDUList([fits.PrimaryHDU(header=source), sci]))
    return Level1bModel(source)


def simulate_from_header(
    header_or_model: str | os.PathLike | fits.Header | Level1bModel,
    det: DetectorModel | None = None,
    *,
    seed: int = 0,
    **kwargs,
) -> SimulatedExposure:
    """Simulate an exposure with the shape and metadata declared by a real Level 1b header.

    The output has shape (NINTS, NGROUPS, SUBSIZE2, SUBSIZE1), the header's readout
    (READPATT, NFRAMES, GROUPGAP, TFRAME) and carries every metadata value of the input,
    while the pixel data, GROUP and INT_TIMES tables are simulated.

    Parameters
    ----------
    header_or_model : path, astropy.io.fits.Header or Level1bModel
        A real ``_uncal`` file (its data may be cut to 1x1x1x1), its primary header, or the
        opened model.
    det : DetectorModel, optional
        Default: :func:`make_detector` for the header's instrument, detector and subarray.
    seed : int
        Seed of the detector (when made here) and of the exposure.
    **kwargs
        Passed on to :func:`simulate_exposure` (e.g. ``scene``, ``cr_rate``).

    Returns
    -------
    SimulatedExposure

    Raises
    ------
    ValueError
        If ``det`` does not match the header's subarray geometry.
    """
    real = _as_level1b(header_or_model)
    m = real.meta
    geometry = SubarrayGeometry(
        m.subarray.xstart, m.subarray.ystart, m.subarray.xsize, m.subarray.ysize
    )
    if det is None:
        det = make_detector(
            instrument=m.instrument.name,
            detector=m.instrument.detector,
            geometry=geometry,
            subarray=m.subarray.name,
            fastaxis=m.subarray.fastaxis,
            slowaxis=m.subarray.slowaxis,
            noutputs=m.exposure.noutputs,
            seed=seed,
        )
    elif det.geometry != geometry:
        raise ValueError(f"det covers {det.geometry}, but the header declares {geometry}")
    sim = simulate_exposure(
        det,
        readpatt=m.exposure.readpatt,
        ngroups=m.exposure.ngroups,
        nints=m.exposure.nints,
        nframes=m.exposure.nframes,
        groupgap=m.exposure.groupgap,
        tframe=m.exposure.frame_time,
        exp_type=m.exposure.type,
        seed=seed,
        **kwargs,
    )
    sim.model.update(real)
    sim.model.meta.exposure.zero_frame = bool(kwargs.get("zeroframe", False))
    sim.model.validate()
    return sim
