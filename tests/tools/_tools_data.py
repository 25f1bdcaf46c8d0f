"""Shared fixtures of the ``webbcal`` tool commands: real products and small constructed ones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from _shared_paths import REAL as _REAL

REAL = _REAL
MSA = sorted((REAL / "msaexp-nirspec-msa-cutouts").glob("*.fits"))
MIRI = (
    REAL
    / "jwst-wheel"
    / "miri_ground_test"
    / ("jw00623026001_03106_00005_mirimage_a3001_crfints.fits")
)
FGS = REAL / "jwst-wheel" / "fgs_acq1" / "jw01019001001_gs-acq1_2022117003102_uncal.fits"
CORON = REAL / "jwst-wheel" / "header_only_uncal" / "jw01075001001_03105_00009_nrca2_uncal.fits"
MAPPINGS_0567 = REAL / "crds-mappings" / "jwst_0567"
EUREKA = REAL / "crds-refs" / "from-eureka"


def need(*paths: Path):
    """Skip marker for tests whose real files are missing."""
    missing = [str(p) for p in paths if not Path(p).exists()]
    return pytest.mark.skipif(bool(missing), reason=f"real data not available: {missing}")


def write_product(path: Path, primary: dict, *, sci: np.ndarray | None = None,
                  sci_header: dict | None = None, dq: np.ndarray | None = None,
                  groupdq: np.ndarray | None = None) -> Path:  # fmt: skip
    """Write a minimal JWST-like FITS product with the given keywords and arrays."""
    hdus = [fits.PrimaryHDU()]
    hdus[0].header["TELESCOP"] = "JWST"
    for key, value in primary.items():
        hdus[0].header[key] = value
    if sci is not None:
        hdu = fits.ImageHDU(sci, name="SCI")
        for key, value in (sci_header or {}).items():
            hdu.header[key] = value
        hdus.append(hdu)
    if dq is not None:
        hdus.append(fits.ImageHDU(dq, name="DQ"))
    if groupdq is not None:
        hdus.append(fits.ImageHDU(groupdq, name="GROUPDQ"))
    fits.HDUList(hdus).writeto(path, overwrite=True)
    return path
