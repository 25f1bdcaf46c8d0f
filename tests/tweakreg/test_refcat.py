"""Reference catalogs of the absolute alignment: files in the accepted layouts, the field of
view asked of the catalog service."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.table import QTable, Table

from webbcal.datamodels import InputError
from webbcal.tweakreg.refcat import field_of_view, read_reference_catalog

RA = np.array([150.1, 150.2, 150.3])
DEC = np.array([2.1, 2.2, 2.3])


@pytest.mark.parametrize("names", [("RA", "DEC"), ("ra", "dec"), ("Ra", "Dec")])
def test_ra_dec_columns_in_any_case(tmp_path, names):
    path = tmp_path / "cat.ecsv"
    Table({names[0]: RA, names[1]: DEC, "mag": [1.0, 2.0, 3.0]}).write(path)
    table = read_reference_catalog(path)
    assert table.colnames == ["RA", "DEC", "mag"]
    np.testing.assert_array_equal(table["RA"], RA)
    assert table.meta["name"] == "cat.ecsv"


def test_sky_centroid_of_a_source_catalog(tmp_path):
    path = tmp_path / "jw_i2d_cat.ecsv"
    QTable({"label": [1, 2, 3], "sky_centroid": SkyCoord(RA, DEC, unit="deg")}).write(path)
    table = read_reference_catalog(path)
    np.testing.assert_allclose(table["RA"], RA, rtol=0, atol=1e-12)
    np.testing.assert_allclose(table["DEC"], DEC, rtol=0, atol=1e-12)


def test_fits_catalog(tmp_path):
    path = tmp_path / "cat.fits"
    Table({"RA": RA, "DEC": DEC}).write(path)
    assert len(read_reference_catalog(path)) == 3


def test_ambiguous_and_unreadable_catalogs(tmp_path):
    path = tmp_path / "two.ecsv"
    Table({"RA": RA, "ra": RA, "DEC": DEC}).write(path)
    with pytest.raises(InputError, match=r"several RA, DEC or sky_centroid columns \(RA, ra"):
        read_reference_catalog(path)
    junk = tmp_path / "junk.ecsv"
    junk.write_bytes(b"\x00\x01 not a table")
    with pytest.raises(InputError, match=r"junk.ecsv'.*cannot read the catalog"):
        read_reference_catalog(junk)


def test_field_of_view_across_ra_zero():
    square = np.array([[359.99, -0.01], [359.99, 0.01], [0.01, 0.01], [0.01, -0.01]])
    ra, dec, radius = field_of_view([square])
    assert min(ra, 360 - ra) < 1e-9 and abs(dec) < 1e-9
    assert radius == pytest.approx(np.hypot(0.01, 0.01), rel=1e-4)
