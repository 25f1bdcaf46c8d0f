"""Simulated near-infrared JWST raw exposures, matching reference files and truth.

Typical use::

    from webbcal.simulate import make_detector, simulate_exposure, write_reference_files
    from webbcal.lib.subarray import SubarrayGeometry

    det = make_detector(instrument="NIRCAM", detector="NRCA1",
                        geometry=SubarrayGeometry(1, 1, 64, 64), seed=1)
    sim = simulate_exposure(det, readpatt="RAPID", ngroups=10, seed=2)
    refs = write_reference_files(det, "refs/", ngroups=10)
    sim.save("data/")

MIRI (``MIRIMAGE``, ``MIRIFUSHORT``, ``MIRIFULONG``) has its own entry points in
:mod:`webbcal.simulate.miri`: ``make_miri_detector``, ``simulate_miri_exposure`` and
``write_miri_reference_files``.
"""

from webbcal.simulate.detector import (
    DETECTOR_AXES,
    INSTRUMENT_DETECTORS,
    KNOWN_SUBARRAYS,
    DetectorModel,
    apply_nonlinearity,
    make_detector,
)
from webbcal.simulate.exposure import (
    SimulatedExposure,
    Truth,
    detector_frame_time,
    simulate_exposure,
    simulate_from_header,
)
from webbcal.simulate.miri import (
    MIRI_SUBARRAYS,
    MiriDetectorModel,
    MiriTruth,
    make_miri_detector,
    simulate_miri_exposure,
    write_miri_reference_files,
)
from webbcal.simulate.ramp import CR_DTYPE
from webbcal.simulate.references import fit_linearity_coefficients, write_reference_files
from webbcal.simulate.scene import Scene, Star, default_scene, render_scene

__all__ = [
    "CR_DTYPE",
    "DETECTOR_AXES",
    "INSTRUMENT_DETECTORS",
    "KNOWN_SUBARRAYS",
    "MIRI_SUBARRAYS",
    "DetectorModel",
    "MiriDetectorModel",
    "MiriTruth",
    "Scene",
    "SimulatedExposure",
    "Star",
    "Truth",
    "apply_nonlinearity",
    "default_scene",
    "detector_frame_time",
    "fit_linearity_coefficients",
    "make_detector",
    "make_miri_detector",
    "render_scene",
    "simulate_exposure",
    "simulate_from_header",
    "simulate_miri_exposure",
    "write_miri_reference_files",
    "write_reference_files",
]
