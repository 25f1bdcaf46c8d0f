"""source_catalog on bad input: a clear error naming the file, keyword and value, nothing
written, the input untouched."""

from __future__ import annotations

import numpy as np
import pytest

from webbcal.datamodels.io import InputError
from webbcal.simulate.references_stage3 import (
    gaussian_apcorr_rows,
    write_abvegaoffset,
    write_apcorr,
)
from webbcal.source_catalog import SourceCatalogStep


@pytest.fixture()
def image(field):
    from stdatamodels.jwst import datamodels as dm

    model = dm.open(str(field.i2d))
    yield model
    model.close()


def _call(model, out, refs, **kw):
    return SourceCatalogStep.call(model, output_dir=str(out), save_results=True,
                                  disable_crds_steppars=True, **refs, **kw)  # fmt: skip


def test_image_without_wcs(image, refs, tmp_path):
    image.meta.wcs = None
    with pytest.raises(InputError, match=r"_i2d\.fits: meta\.wcs is missing; source_catalog "
                       r"needs the image's WCS"):  # fmt: skip
        _call(image, tmp_path, refs)
    assert list(tmp_path.iterdir()) == []


def test_apcorr_without_a_row_for_the_filter(image, refs, tmp_path):
    rows = gaussian_apcorr_rows(sigma=2.0, filter="F444W", pupil="CLEAR")
    path = write_apcorr(tmp_path / "refs_apcorr.fits", instrument="NIRCAM", rows=rows)
    out = tmp_path / "out"
    before = image.data.copy()
    with pytest.raises(InputError, match=r"source_catalog: refs_apcorr\.fits: no aperture-"
                       r"correction row for FILTER='F200W', PUPIL='CLEAR'; the table has: "
                       r"F444W/CLEAR"):  # fmt: skip
        _call(image, out, {**refs, "override_apcorr": str(path)})
    assert not out.exists() or list(out.iterdir()) == []
    np.testing.assert_array_equal(image.data, before)


def test_aperture_ee_missing_from_apcorr(image, refs, tmp_path):
    with pytest.raises(InputError, match=r"no row with eefraction=0\.35 .*aperture_ee=35"):
        _call(image, tmp_path, refs, aperture_ee2=35)
    assert list(tmp_path.iterdir()) == []


def test_abvegaoffset_without_a_row_for_the_filter(image, refs, tmp_path):
    path = write_abvegaoffset(tmp_path / "abv.asdf", instrument="NIRCAM",
                              rows=[{"filter": "F090W", "pupil": "CLEAR",
                                     "abvega_offset": 0.5}])  # fmt: skip
    out = tmp_path / "out"
    with pytest.raises(InputError, match=r"abv\.asdf: no row for FILTER='F200W', "
                       r"PUPIL='CLEAR'; the table has: F090W/CLEAR"):  # fmt: skip
        _call(image, out, {**refs, "override_abvegaoffset": str(path)})
    assert not out.exists() or list(out.iterdir()) == []


def test_image_not_in_mjy_per_sr(image, refs, tmp_path):
    image.meta.bunit_data = "DN/s"
    with pytest.raises(InputError, match=r"BUNIT of SCI is 'DN/s'; expected 'MJy/sr'"):
        _call(image, tmp_path, refs)


def test_association_is_refused(field, refs, tmp_path):
    from webbcal.datamodels import ModelLibrary

    asn = next(field.folder.glob("data/*_asn.json"))
    with pytest.raises(InputError, match="expected one resampled image"):
        _call(ModelLibrary(str(asn)), tmp_path, refs)


def test_no_source_gives_none_and_writes_nothing(image, refs, tmp_path):
    rng = np.random.default_rng(0)
    finite = np.isfinite(image.data)
    image.data = np.where(finite, rng.normal(0.0, 0.01, image.data.shape), np.nan).astype(
        np.float32
    )
    assert _call(image, tmp_path, refs) is None
    assert list(tmp_path.iterdir()) == []


def test_invalid_parameter_value(image, refs, tmp_path):
    from webbcal.stpipe.params import ParameterError

    with pytest.raises(ParameterError, match="connectivity"):
        _call(image, tmp_path, refs, connectivity="6")


def test_skipped_step_writes_nothing_and_leaves_the_image_alone(image, refs, tmp_path):
    before = image.meta.instance.copy()
    result = _call(image, tmp_path, refs, skip=True)
    assert result is image
    assert image.meta.instance == before
    assert list(tmp_path.iterdir()) == []


def test_not_applicable_reference_skips(image, refs, tmp_path):
    result = _call(image, tmp_path, {**refs, "override_apcorr": "N/A"})
    assert result is image
    assert list(tmp_path.iterdir()) == []
