"""Tests of the simulated reference files."""

import os

import numpy as np
import pytest
from astropy.io import fits
from stdatamodels.jwst import datamodels

from webbcal import dqflags
from webbcal.simulate import apply_nonlinearity, make_detector, write_reference_files

MODELS = {
    "mask": datamodels.MaskModel,
    "saturation": datamodels.SaturationModel,
    "superbias": datamodels.SuperBiasModel,
    "linearity": datamodels.LinearityModel,
    "dark": datamodels.DarkModel,
    "gain": datamodels.GainModel,
    "readnoise": datamodels.ReadnoiseModel,
    "ipc": datamodels.IPCModel,
}


def test_references_validate_and_have_keywords(refs64, det64):
    assert set(refs64) == set(MODELS)
    for reftype, path in refs64.items():
        with MODELS[reftype](os.fspath(path)) as model:
            model.validate()
            assert model.meta.reftype == reftype.upper()
            assert model.meta.instrument.detector == "NRCA1"
        hdr = fits.getheader(path)
        for key in ("TELESCOP", "INSTRUME", "DETECTOR", "USEAFTER", "PEDIGREE", "AUTHOR",
                    "DESCRIP", "SUBARRAY", "SUBSTRT1", "SUBSIZE2", "FASTAXIS", "SLOWAXIS",
                    "EXP_TYPE", "P_EXP_TY"):  # fmt: skip
            assert key in hdr, (reftype, key)
        assert "NRC_IMAGE|" in hdr["P_EXP_TY"]
        assert (hdr["FASTAXIS"], hdr["SLOWAXIS"]) == (-1, 2)


def test_array_contents(refs64, det64):
    with datamodels.SaturationModel(os.fspath(refs64["saturation"])) as sat:
        assert sat.data.dtype.newbyteorder("=") == np.float32
        assert np.array_equal(sat.dq, det64.sat_dq)
    with datamodels.MaskModel(os.fspath(refs64["mask"])) as mask:
        assert np.all(mask.dq[det64.refpix] & dqflags.REFERENCE_PIXEL)
    with datamodels.DarkModel(os.fspath(refs64["dark"])) as dark:
        # RAPID x 8 groups -> 8 single frames, NFRAMES=1, GROUPGAP=0.
        assert dark.data.shape == (8, 64, 64)
        assert (dark.meta.exposure.nframes, dark.meta.exposure.groupgap) == (1, 0)
        assert np.allclose(np.diff(dark.data, axis=0), dark.data[0], rtol=1e-4, atol=1e-6)


def test_dark_covers_longest_pattern(det64, tmp_path):
    refs = write_reference_files(det64, tmp_path, readpatt="MEDIUM8", ngroups=3)
    with datamodels.DarkModel(os.fspath(refs["dark"])) as dark:
        assert dark.data.shape[0] == 3 * (8 + 2)


def test_linearity_inverts_nonlinearity(refs64, det64):
    with datamodels.LinearityModel(os.fspath(refs64["linearity"])) as lin:
        coeffs = lin.coeffs.astype(np.float64)
        assert np.array_equal(lin.dq, det64.lin_dq)
    frac = np.linspace(0.001, 1.0, 300)[:, None, None]
    q = frac * det64.full_well[None].astype(np.float64)
    measured = apply_nonlinearity(q, det64.nonlin.astype(np.float64))
    corrected = sum(c * measured**k for k, c in enumerate(coeffs))
    assert np.max(np.abs(corrected / q - 1.0)) < 1e-3
    # The non-linearity itself is substantial, so the test is meaningful.
    assert np.max(np.abs(measured / q - 1.0)) > 0.05


@pytest.mark.parametrize(
    ("instrument", "detector", "subarray", "dark_cls"),
    [
        ("NIRSPEC", "NRS1", "SUB512", datamodels.DarkNirspecModel),
        ("NIRISS", "NIS", "SUB64", datamodels.DarkModel),
        ("FGS", "GUIDER1", "128X128", datamodels.DarkModel),
    ],
)
def test_other_instruments(instrument, detector, subarray, dark_cls, tmp_path):
    det = make_detector(instrument=instrument, detector=detector, subarray=subarray, seed=3)
    refs = write_reference_files(det, tmp_path, ngroups=2)
    with dark_cls(os.fspath(refs["dark"])) as dark:
        dark.validate()
        assert dark.data.shape[1:] == det.shape
    hdr = fits.getheader(refs["superbias"])
    g = det.geometry
    assert (hdr["SUBSTRT1"], hdr["SUBSTRT2"], hdr["SUBSIZE1"], hdr["SUBSIZE2"]) == (
        g.xstart,
        g.ystart,
        g.xsize,
        g.ysize,
    )
    assert hdr["SUBARRAY"] == subarray and hdr["INSTRUME"] == instrument
