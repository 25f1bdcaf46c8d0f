"""photom from the command line, and bad inputs: clear errors, nothing written, input intact."""

from __future__ import annotations

import hashlib
import os
import shutil

import numpy as np
import pytest
from astropy.io import fits
from stdatamodels.jwst import datamodels as dm

from _stage2_inputs import imaging_rate
from webbcal.cli import main
from webbcal.lib.reffiles import ReferenceFileError
from webbcal.photom import MJSR_TO_UJA2, PhotomStep
from webbcal.simulate.references_stage2 import (
    PhotomRow,
    default_photom_rows,
    miri_time_coefficients,
    pixel_area,
    write_photom,
)

SHAPE = (64, 64)


@pytest.fixture(scope="module")
def refs(tmp_path_factory, area_reference):
    root = tmp_path_factory.mktemp("photom_bad")
    no_f200w = [r for r in default_photom_rows("NIRCAM") if r.filter != "F200W"]
    miri_rows = default_photom_rows("MIRI")
    return {
        "nircam": write_photom(root / "jwst_nircam_photom_sim.fits", instrument="NIRCAM",
                               detector="NRCA1"),
        "nircam_no_f200w": write_photom(root / "jwst_nircam_photom_nof200w.fits",
                                        instrument="NIRCAM", detector="NRCA1", rows=no_f200w),
        "nircam_twice": write_photom(root / "jwst_nircam_photom_twice.fits",
                                     instrument="NIRCAM", detector="NRCA1",
                                     rows=[PhotomRow("F200W", "CLEAR", 0.2, 0.01)] * 2),
        "miri": write_photom(root / "jwst_miri_photom_sim.fits", instrument="MIRI",
                             detector="MIRIMAGE", rows=miri_rows,
                             time_coefficients=miri_time_coefficients(miri_rows)),
        "area": area_reference("NIRCAM", "NRCA1"),
    }  # fmt: skip


def _nircam_rate(path=None, **kw):
    model = imaging_rate("NIRCAM", subarray="SUB64P", xstart=1985, ystart=1, shape=SHAPE, **kw)
    if path is not None:
        model.meta.filename = os.path.basename(path)
        model.save(os.fspath(path))
    return model


def _digest(path) -> str:
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def test_no_row_for_filter_and_pupil_is_a_clear_error(refs):
    model = _nircam_rate()
    before = model.data.copy()
    with pytest.raises(ReferenceFileError) as err:
        PhotomStep.call(model, override_photom=os.fspath(refs["nircam_no_f200w"]),
                        override_area="N/A", disable_crds_steppars=True)  # fmt: skip
    text = str(err.value)
    assert text.startswith("jwst_nircam_photom_nof200w.fits: the PHOTOM table has no row for ")
    assert "FILTER='F200W', PUPIL='CLEAR'" in text
    assert "F150W/CLEAR" in text  # the rows it does have
    np.testing.assert_array_equal(model.data, before)
    assert model.meta.cal_step.photom is None
    assert model.meta.bunit_data == "DN/s"


def test_two_rows_for_the_configuration_is_an_error(refs):
    with pytest.raises(ReferenceFileError, match=r"has 2 rows \(indices \[0, 1\]\) for "
                       r"FILTER='F200W', PUPIL='CLEAR'; expected exactly one"):  # fmt: skip
        PhotomStep.call(_nircam_rate(), override_photom=os.fspath(refs["nircam_twice"]),
                        override_area="N/A", disable_crds_steppars=True)  # fmt: skip


def test_reference_of_another_instrument_is_rejected(refs):
    model = _nircam_rate()
    with pytest.raises(ReferenceFileError) as err:
        PhotomStep.call(model, override_photom=os.fspath(refs["miri"]), override_area="N/A",
                        disable_crds_steppars=True)  # fmt: skip
    assert str(err.value) == (
        "jwst_miri_photom_sim.fits: INSTRUME='MIRI' but the science exposure's INSTRUME is "
        "'NIRCAM'; expected a PHOTOM reference for INSTRUME='NIRCAM'"
    )


def test_missing_mid_time_with_time_correction(refs):
    model = imaging_rate("MIRI", subarray="SUB64", xstart=1, ystart=779, shape=(64, 72),
                         mid_time=None)  # fmt: skip
    msg = r"EXPMID \(meta.exposure.mid_time\) is None; the PHOTOM reference jwst_miri_photom_sim"
    with pytest.raises(ValueError, match=msg):
        PhotomStep.call(model, override_photom=os.fspath(refs["miri"]), override_area="N/A",
                        disable_crds_steppars=True)  # fmt: skip
    out = PhotomStep.call(model, override_photom=os.fspath(refs["miri"]), override_area="N/A",
                          apply_time_correction=False, disable_crds_steppars=True)  # fmt: skip
    rows = default_photom_rows("MIRI")
    row = next(r for r in rows if (r.filter, r.subarray) == ("F770W", "SUB64"))
    assert out.meta.photometry.conversion_megajanskys == pytest.approx(row.photmjsr, rel=1e-7)
    # Without an AREA reference the pixel area comes from the PHOTOM reference.
    assert out.meta.photometry.pixelarea_steradians == pytest.approx(
        pixel_area("MIRI", "MIRIMAGE")[0], rel=1e-12
    )
    assert not out.hasattr("area")


def test_cli_run_photom(refs, tmp_path):
    src = tmp_path / "in" / "jw01234001001_01101_00001_nrca1_flat_field.fits"
    src.parent.mkdir()
    model = _nircam_rate(src)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    code = main(
        [
            "run",
            "photom",
            os.fspath(src),
            f"--override_photom={refs['nircam']}",
            f"--override_area={refs['area']}",
            "--output-dir",
            os.fspath(out_dir),
            "-q",
            "--disable-crds-steppars",
        ]
    )
    assert code == 0
    (written,) = out_dir.iterdir()
    assert written.name == "jw01234001001_01101_00001_nrca1_photom.fits"
    with dm.ImageModel(os.fspath(written)) as cal:
        assert cal.meta.cal_step.photom == "COMPLETE"
        assert cal.meta.bunit_data == cal.meta.bunit_err == "MJy/sr"
        assert cal.meta.ref_file.photom.name == os.fspath(refs["nircam"])
        assert cal.meta.ref_file.area.name == os.fspath(refs["area"])
        factor = cal.meta.photometry.conversion_megajanskys
        assert factor == pytest.approx(0.20, rel=1e-6)  # F200W/CLEAR of the simulator
        assert cal.meta.photometry.conversion_microjanskys == pytest.approx(factor * MJSR_TO_UJA2)
        np.testing.assert_allclose(cal.data, model.data * factor, rtol=1e-6)
        np.testing.assert_allclose(cal.var_rnoise, model.var_rnoise * factor**2, rtol=1e-6)
        with dm.PixelAreaModel(os.fspath(refs["area"])) as area:
            np.testing.assert_array_equal(cal.area, area.data[0:64, 1984:2048])


def test_cli_no_row_fails_cleanly(refs, tmp_path, capsys):
    src = tmp_path / "jw01234001001_01101_00001_nrca1_flat_field.fits"
    _nircam_rate(src)
    digest = _digest(src)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    code = main(
        [
            "run",
            "photom",
            os.fspath(src),
            f"--override_photom={refs['nircam_no_f200w']}",
            f"--override_area={refs['area']}",
            "--output-dir",
            os.fspath(out_dir),
            "--disable-crds-steppars",
        ]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert "jwst_nircam_photom_nof200w.fits" in err and "FILTER='F200W', PUPIL='CLEAR'" in err
    assert "Traceback" not in err
    assert list(out_dir.iterdir()) == []
    assert _digest(src) == digest
    assert sorted(p.name for p in tmp_path.iterdir()) == [src.name, "out"]


def test_photom_not_applicable_skips(refs):
    model = _nircam_rate()
    out = PhotomStep.call(model, override_photom="N/A", override_area="N/A",
                          disable_crds_steppars=True)  # fmt: skip
    assert out.meta.cal_step.photom == "SKIPPED"
    assert out.meta.bunit_data == "DN/s"
    np.testing.assert_array_equal(out.data, model.data)


def test_time_table_out_of_step_with_photom_table(refs, tmp_path):
    bad = tmp_path / "jwst_miri_photom_shuffled.fits"
    shutil.copy(refs["miri"], bad)
    with fits.open(bad, mode="update") as hdul:
        hdul["TIMECOEFF_EXPONENTIAL"].data["filter"][0] = "F770W"
    model = imaging_rate("MIRI", subarray="SUB64", xstart=1, ystart=779, shape=(64, 72))
    with pytest.raises(ReferenceFileError) as err:
        PhotomStep.call(model, override_photom=os.fspath(bad), override_area="N/A",
                        disable_crds_steppars=True)  # fmt: skip
    assert str(err.value) == (
        "jwst_miri_photom_shuffled.fits: extension TIMECOEFF_EXPONENTIAL row 0 has "
        "FILTER='F770W' but PHOTOM row 0 has 'F560W'; expected the same rows in the same order"
    )
