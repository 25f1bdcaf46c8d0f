"""source_catalog against truth: the injected stars of a simulated mosaic.

Measured (four dithered NRCA1_SUB160 exposures drizzled by webbcal, a grid of 8 isolated
Gaussian stars of 5-80 microjansky, noise 0.02 DN/s; bounds asserted in brackets):

- every grid star is found, its ``sky_centroid`` 0.007-0.021 mas from the injected RA/Dec
  [< 1 mas];
- ``aper_total_flux`` (the 70 % aperture times its APCORR correction) over the injected
  flux density: 0.992-1.015, median 0.9999, rms 0.7 % [each within 2 %, median within
  0.5 %]; the scatter is the drizzled PSF's sub-pixel phase in a 2-pixel aperture;
- ``isophotal_flux`` over the injected flux density: 1.0021-1.0030 [0.998-1.006]: the
  drizzled flux is ``F * Omega / PIXAR_SR`` with Omega / PIXAR_SR = 1.002-1.003 here (see
  tests/pipeline/test_image2_truth.py);
- magnitudes: ``aper_total_abmag = 8.9 - 2.5 log10(F/Jy)`` and ``vegamag = abmag -
  ABVEGAOFFSET`` to 1e-9 mag of the catalog's own fluxes; -0.016 to +0.009 mag from the
  injected AB magnitudes [0.022];
- the grid stars are point-like (``is_extended`` False: CI_50_30 1.59-1.75, CI_70_50
  1.36-1.44) and their segments are labelled in the ``_segm`` map at the catalog positions.
"""

from __future__ import annotations

import numpy as np
import pytest
from astropy.table import QTable

from webbcal.source_catalog import SourceCatalogStep

MAS = 3.6e6


@pytest.fixture(scope="module")
def measured(field, tmp_path_factory):
    out = tmp_path_factory.mktemp("cat_out")
    result = SourceCatalogStep.call(
        str(field.i2d), override_apcorr=str(field.apcorr),
        override_abvegaoffset=str(field.abvegaoffset), save_results=True,
        output_dir=str(out), disable_crds_steppars=True,
    )  # fmt: skip
    return result, out


def _match(field, catalog):
    from astropy.coordinates import SkyCoord

    truth = SkyCoord(field.radec[:, 0], field.radec[:, 1], unit="deg")
    idx, sep, _ = truth.match_to_catalog_sky(catalog["sky_centroid"])
    return idx, sep.to_value("mas")


def test_every_star_found_at_its_sky_position(field, measured):
    catalog, _ = measured
    idx, sep = _match(field, catalog)
    assert len(set(idx)) == len(field.radec)
    assert sep.max() < 1.0, sep


def test_aperture_corrected_flux_matches_injected(field, measured):
    catalog, _ = measured
    idx, _ = _match(field, catalog)
    ratio = catalog["aper_total_flux"][idx].to_value("Jy") / (field.flux_mjy * 1e6)
    assert np.all(np.abs(ratio - 1) < 0.02), ratio
    assert abs(np.median(ratio) - 1) < 0.005, ratio
    iso = catalog["isophotal_flux"][idx].to_value("Jy") / (field.flux_mjy * 1e6)
    assert np.all((iso > 0.998) & (iso < 1.006)), iso


def test_kron_flux_of_the_point_sources(field, measured):
    """Kron photometry (a webbcal extension): the elliptical aperture of 2.5 Kron radii
    (the official kron_params) holds the whole star to within the isophotal flux's
    pixel-area factor (measured 1.0019-1.0028 of the injected flux, like isophotal_flux)."""
    catalog, _ = measured
    idx, _ = _match(field, catalog)
    kron = catalog["kron_flux"][idx].to_value("Jy") / (field.flux_mjy * 1e6)
    print(f"\nKron flux / injected: {np.round(kron, 4)}")
    assert np.all((kron > 0.99) & (kron < 1.006)), kron
    mag = catalog["kron_abmag"][idx]
    np.testing.assert_allclose(mag, 8.9 - 2.5 * np.log10(catalog["kron_flux"][idx].to_value("Jy")),
                               atol=1e-9)  # fmt: skip
    np.testing.assert_allclose(catalog["kron_vegamag"][idx], mag - field.abvega_offset, atol=1e-6)


def test_magnitudes(field, measured):
    catalog, _ = measured
    idx, _ = _match(field, catalog)
    flux = catalog["aper_total_flux"].to_value("Jy")
    np.testing.assert_allclose(catalog["aper_total_abmag"], 8.9 - 2.5 * np.log10(flux),
                               atol=1e-9)  # fmt: skip
    vega = catalog["aper_total_abmag"] - field.abvega_offset
    np.testing.assert_allclose(catalog["aper_total_vegamag"], vega, atol=1e-6)
    injected_ab = -2.5 * np.log10(field.flux_mjy * 1e6 / 3631.0)
    assert np.abs(catalog["aper_total_abmag"][idx] - injected_ab).max() < 0.022
    err = catalog["aper_total_flux_err"].to_value("Jy")
    np.testing.assert_allclose(catalog["aper_total_abmag_err"],
                               2.5 * np.log10(1 + err / flux), rtol=1e-9)  # fmt: skip


def test_grid_stars_are_point_sources_with_segments(field, measured):
    from stdatamodels.jwst import datamodels as dm

    catalog, out = measured
    idx, _ = _match(field, catalog)
    assert not catalog["is_extended"][idx].any()
    assert (catalog["nn_dist"][idx].value > 15).all()
    segm_path = out / field.i2d.name.replace("_i2d", "_segm")
    with dm.SegmentationMapModel(str(segm_path)) as segm:
        labels = segm.data
        assert labels.dtype == np.uint32
        x = np.round(catalog["xcentroid"][idx]).astype(int)
        y = np.round(catalog["ycentroid"][idx]).astype(int)
        np.testing.assert_array_equal(labels[y, x], catalog["label"][idx])
        assert set(np.unique(labels)) - {0} == set(catalog["label"])


def test_ecsv_reads_back_with_units(field, measured):
    catalog, out = measured
    path = out / field.i2d.name.replace("_i2d.fits", "_cat.ecsv")
    back = QTable.read(path, format="ascii.ecsv")
    assert back.colnames == catalog.colnames
    assert str(back["aper_total_flux"].unit) == "Jy"
    assert back["sky_centroid"].frame.name == "icrs"
    np.testing.assert_array_equal(back["label"], catalog["label"])
    assert back.meta["abvega_offset"] == pytest.approx(field.abvega_offset)
    assert list(back.meta["aperture_params"]["aperture_ee"]) == [30, 50, 70]
