"""Simulated MIRI raw exposures, matching reference files and truth.

Typical use::

    from webbcal.simulate.miri import (
        make_miri_detector, simulate_miri_exposure, write_miri_reference_files,
    )

    det = make_miri_detector(detector="MIRIMAGE", subarray="SUB64", seed=1)
    sim = simulate_miri_exposure(det, readpatt="FASTR1", ngroups=10, nints=2, seed=2)
    refs = write_miri_reference_files(det, "refs/", ngroups=10, readpatt="FASTR1")
    sim.save("data/")   # jw01234001001_01101_00001_mirimage_uncal.fits + truth

The official MIRI ``calwebb_detector1`` chain (emicorr, saturation, lastframe, reset,
linearity, rscd, dark_current, refpix) run with these references recovers the true rate;
MIRI has no SUPERBIAS (``override_superbias="N/A"``), and the refpix step reads no
reference for MIRI (``override_refpix="N/A"``, ``override_sirskernel="N/A"``).
"""

from webbcal.simulate.miri_detector import (
    MIRI_DETECTORS,
    MIRI_FULL_NX,
    MIRI_FULL_NY,
    MIRI_READ_PATTERNS,
    MIRI_SUBARRAYS,
    MiriDetectorModel,
    MiriReadout,
    linearize,
    make_miri_detector,
    miri_readout,
    unlinearize,
)
from webbcal.simulate.miri_exposure import (
    EMI_DTYPE,
    MIRI_EXP_TYPES,
    SHOWER_DTYPE,
    MiriTruth,
    simulate_miri_exposure,
)
from webbcal.simulate.miri_references import MIRI_REFTYPES, write_miri_reference_files
from webbcal.simulate.miri_transients import (
    EMI_FREQUENCIES,
    EMI_SUBARRAY_FREQS,
    RSCD_GROUP_SKIP,
    EmiTone,
    emi_pattern,
    emi_waveform,
    pixel_read_clocks,
    reset_anomaly,
    rscd_skip,
)

__all__ = [
    "EMI_DTYPE",
    "EMI_FREQUENCIES",
    "EMI_SUBARRAY_FREQS",
    "MIRI_DETECTORS",
    "MIRI_EXP_TYPES",
    "MIRI_FULL_NX",
    "MIRI_FULL_NY",
    "MIRI_READ_PATTERNS",
    "MIRI_REFTYPES",
    "MIRI_SUBARRAYS",
    "RSCD_GROUP_SKIP",
    "SHOWER_DTYPE",
    "EmiTone",
    "MiriDetectorModel",
    "MiriReadout",
    "MiriTruth",
    "emi_pattern",
    "emi_waveform",
    "linearize",
    "make_miri_detector",
    "miri_readout",
    "pixel_read_clocks",
    "reset_anomaly",
    "rscd_skip",
    "simulate_miri_exposure",
    "unlinearize",
    "write_miri_reference_files",
]
