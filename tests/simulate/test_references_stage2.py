"""The stage-2 reference writers: files the official models open strictly, with the values asked."""

from __future__ import annotations

import os

import numpy as np
import pytest
from stdatamodels.jwst import datamodels as dm

from webbcal.dqflags import PIXEL
from webbcal.simulate.references_stage2 import (
    default_photom_rows,
    miri_time_coefficients,
    pixel_area,
    write_flat,
    write_photom,
)

MODELS = {"NIRCAM": dm.NrcImgPhotomModel, "NIRISS": dm.NisImgPhotomModel,
          "MIRI": dm.MirImgPhotomModel, "FGS": dm.FgsImgPhotomModel}  # fmt: skip
DETECTORS = {"NIRCAM": "NRCBLONG", "NIRISS": "NIS", "MIRI": "MIRIMAGE", "FGS": "GUIDER2"}


@pytest.mark.parametrize("instrument", list(MODELS))
def test_photom_reference_opens_strictly(instrument, tmp_path):
    rows = default_photom_rows(instrument)
    coeffs = miri_time_coefficients(rows) if instrument == "MIRI" else None
    det = DETECTORS[instrument]
    path = write_photom(tmp_path / "p.fits", instrument=instrument, detector=det, rows=rows,
                        time_coefficients=coeffs)  # fmt: skip
    with MODELS[instrument](os.fspath(path), strict_validation=True) as ref:
        ref.validate()
        assert ref.meta.reftype == "PHOTOM"
        assert ref.meta.instrument.name == instrument
        np.testing.assert_allclose(ref.phot_table["photmjsr"], [r.photmjsr for r in rows],
                                   rtol=1e-7)  # fmt: skip
        sr, a2 = pixel_area(instrument, det)
        assert ref.meta.photometry.pixelarea_steradians == pytest.approx(sr, rel=1e-12)
        assert sr == pytest.approx(a2 * (np.pi / 648000) ** 2, rel=1e-12)
        if coeffs:
            assert len(ref.timecoeff_exponential) == len(ref.phot_table)
            assert list(ref.timecoeff_powerlaw["alpha"][:2]) == pytest.approx([-0.05, -0.05])


def test_nircam_long_wavelength_pixel_area():
    assert pixel_area("NIRCAM", "NRCALONG")[1] == pytest.approx(0.063**2)
    assert pixel_area("NIRCAM", "NRCA1")[1] == pytest.approx(0.031**2)


def test_flat_flags_survive_dq_def_compression(tmp_path):
    path = write_flat(tmp_path / "f.fits", instrument="MIRI", detector="MIRIMAGE",
                      nan_fraction=1e-3, zero_fraction=5e-4, no_flat_fraction=5e-4,
                      unreliable_fraction=1e-3)  # fmt: skip
    npix = 1024 * 1032
    with dm.FlatModel(os.fspath(path)) as ref:
        assert ref.data.shape == (1024, 1032)
        assert np.isnan(ref.data).sum() == round(1e-3 * npix)
        assert (ref.data == 0).sum() == round(5e-4 * npix)
        assert ((ref.dq & PIXEL["NO_FLAT_FIELD"]) > 0).sum() == round(5e-4 * npix)
        assert ((ref.dq & PIXEL["UNRELIABLE_FLAT"]) > 0).sum() == round(1e-3 * npix)
        assert [n.strip() for n in ref.dq_def["NAME"]][:2] == ["DO_NOT_USE", "NO_FLAT_FIELD"]
        good = np.isfinite(ref.data) & (ref.data != 0)
        assert 0.9 < np.median(ref.data[good]) < 1.1


def test_unknown_instrument_is_rejected():
    with pytest.raises(ValueError, match="instrument='NIRSPEC': expected NIRCAM, NIRISS"):
        default_photom_rows("NIRSPEC")
