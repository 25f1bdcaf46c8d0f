"""Rows of big references read by sections: the arrays stdatamodels gives, and its checks."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits

from webbcal.lib.reffiles import ReferenceFileError
from webbcal.lib.refsection import ReferenceSection, SectionUnsupported
from webbcal.lib.subarray import SubarrayGeometry


def _dark(path, *, detector="NRCA1", dq_def=((1, "DO_NOT_USE"), (4, "HOT"), (8, "WARM"),
                                             (16, "NOT_A_FLAG"))):  # fmt: skip
    rng = np.random.default_rng(5)
    sci = rng.normal(0.0, 1.0, (3, 2048, 2048)).astype(np.float32)
    dq = rng.integers(0, 32, (2048, 2048)).astype(np.uint32)
    table = fits.BinTableHDU.from_columns(
        [fits.Column("BIT", "J", array=[int(np.log2(v)) for v, _ in dq_def]),
         fits.Column("VALUE", "J", array=[v for v, _ in dq_def]),
         fits.Column("NAME", "40A", array=[n for _, n in dq_def]),
         fits.Column("DESCRIPTION", "80A", array=["" for _ in dq_def])],
        name="DQ_DEF",
    )  # fmt: skip
    primary = fits.PrimaryHDU()
    primary.header.update(TELESCOP="JWST", INSTRUME="NIRCAM", DETECTOR=detector,
                          REFTYPE="DARK", DATAMODL="DarkModel", NFRAMES=1, GROUPGAP=0)  # fmt: skip
    fits.HDUList([primary, fits.ImageHDU(sci, name="SCI"), fits.ImageHDU(dq, name="DQ"),
                  table]).writeto(path)  # fmt: skip
    return sci, dq


def _science(detector="NRCA1"):
    from stdatamodels.jwst.datamodels import RampModel

    model = RampModel()
    model.meta.instrument.name = "NIRCAM"
    model.meta.instrument.detector = detector
    return model


def test_rows_and_dq_equal_stdatamodels(tmp_path):
    from stdatamodels.jwst.datamodels import DarkModel

    path = tmp_path / "dark.fits"
    sci, _ = _dark(path)
    geom = SubarrayGeometry(101, 201, 160, 64, 2048, 2048)  # 1-based start
    section = ReferenceSection(str(path), _science(), geom, ndim=3)
    try:
        rows = slice(10, 30)
        got = section.read("SCI", rows, planes=slice(0, 2))
        dq = section.read_dq(rows)
    finally:
        section.close()
    with DarkModel(str(path)) as ref:
        want_dq = np.asarray(ref.dq)[210:230, 100:260]
    np.testing.assert_array_equal(got, sci[:2, 210:230, 100:260])
    assert got.dtype.isnative
    np.testing.assert_array_equal(dq, want_dq)
    assert np.count_nonzero(dq & 2048) > 0  # HOT translated from the file's bit 4


def test_other_detector_is_rejected(tmp_path):
    path = tmp_path / "dark.fits"
    _dark(path, detector="NRCB2")
    geom = SubarrayGeometry(1, 1, 2048, 2048, 2048, 2048)
    with pytest.raises(ReferenceFileError, match="dark.fits: DETECTOR='NRCB2' but the science"):
        ReferenceSection(str(path), _science(), geom, ndim=3)


def test_wrong_dimensions_are_left_to_the_step(tmp_path):
    path = tmp_path / "dark.fits"
    _dark(path)
    geom = SubarrayGeometry(1, 1, 2048, 2048, 2048, 2048)
    with pytest.raises(SectionUnsupported, match=r"reset reference SCI of shape \(3, 2048, 2048\)"):
        ReferenceSection(str(path), _science(), geom, ndim=4, what="reset")
