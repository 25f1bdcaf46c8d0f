"""Fixtures for the wcs tests: real SIAF apertures and real pointing headers."""

from __future__ import annotations

import pytest
from astropy.io import fits

from _shared_paths import REAL
from webbcal.wcs import Pointing, distortion_from_siaf, imaging_wcs, read_siaf_aperture

NIRCAM_SIAF = REAL / "pysiaf-siafxml" / "NIRCam_SIAF.xml"
UNCAL_DIR = REAL / "jwst-wheel" / "header_only_uncal"


@pytest.fixture(scope="session")
def nircam_siaf():
    if not NIRCAM_SIAF.is_file():
        pytest.skip(f"shared SIAF XML not found: {NIRCAM_SIAF}")
    return NIRCAM_SIAF


@pytest.fixture(scope="session")
def nrca1(nircam_siaf):
    """SIAF parameters of NRCA1_FULL (accurate Idl2Sci inverse: 6e-4 pix)."""
    return read_siaf_aperture(nircam_siaf, "NRCA1_FULL")


@pytest.fixture(scope="session")
def nrca1_pointing(nrca1):
    """A pointing with the aperture's reference point at a chosen sky position."""
    return Pointing(
        v2_ref=nrca1.v2_ref,
        v3_ref=nrca1.v3_ref,
        roll_ref=37.25,
        ra_ref=150.1,
        dec_ref=2.2,
        v3i_yang=nrca1.v3_idl_yangle,
        vparity=nrca1.vidl_parity,
        va_scale=1.00004,
    )


@pytest.fixture(scope="session")
def nrca1_wcs(nrca1, nrca1_pointing):
    return imaging_wcs(distortion_from_siaf(nrca1), nrca1_pointing, shape=(2048, 2048))


@pytest.fixture(scope="session")
def uncal_headers():
    """Function: detector name -> (primary, SCI) headers of a real NIRCam coronagraphy uncal."""

    def read(detector: str):
        path = UNCAL_DIR / f"jw01075001001_03105_00009_{detector}_uncal.fits"
        if not path.is_file():
            pytest.skip(f"shared uncal header not found: {path}")
        return fits.getheader(path, 0), fits.getheader(path, 1)

    return read


@pytest.fixture(scope="session")
def write_distortion_reference():
    """Function: (transform, path, detector) -> path of a CRDS-style NIRCam distortion ASDF."""

    def write(transform, path, detector="NRCA1"):
        from astropy import units as u
        from stdatamodels.jwst.datamodels import DistortionModel

        ref = DistortionModel(model=transform, input_units=u.pix, output_units=u.arcsec)
        meta = ref.meta
        meta.instrument.name = "NIRCAM"
        meta.instrument.detector = detector
        meta.instrument.module = detector[3]
        meta.instrument.channel = "LONG" if detector.endswith(("5", "LONG")) else "SHORT"
        meta.exposure.p_exptype = "NRC_IMAGE|NRC_CORON|"
        meta.instrument.p_pupil = "CLEAR|MASKRND|"
        meta.exposure.type = "NRC_IMAGE"
        meta.reftype = "DISTORTION"
        meta.author = "webbcal tests"
        meta.pedigree = "GROUND"
        meta.description = "Distortion from SIAF coefficients (webbcal.wcs.siaf)"
        meta.useafter = "2022-01-01T00:00:00"
        meta.telescope = "JWST"
        ref.save(path)
        ref.close()
        return path

    return write
