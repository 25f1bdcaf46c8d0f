"""tweakreg's behaviour around the fit: skips, bad input, catalogs in and out, the catalog
service."""

from __future__ import annotations

import http.server
import json
import logging
import threading
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest
from _tweak_inputs import MATCH, POINTING_ERRORS, sky_errors_mas
from astropy.table import Table
from stdatamodels.jwst import datamodels as dm

from webbcal.datamodels import InputError, ModelLibrary
from webbcal.tweakreg import TweakRegStep

NOMINAL_FRAMES = ["detector", "v2v3", "v2v3vacorr", "world"]


def _models(dithers):
    return [dm.open(str(p)) for p in dithers.cal_paths]


def _summary(library):
    out = []
    with library:
        for index in range(len(library)):
            model = library.borrow(index)
            out.append((model.meta.cal_step.tweakreg, list(model.meta.wcs.available_frames),
                        model.meta.wcs, model.meta.tweakreg_catalog))  # fmt: skip
            library.shelve(model, index, modify=False)
    return out


def _call(source, **pars):
    return TweakRegStep.call(source, disable_crds_steppars=True, **pars)


def _warnings(caplog):
    return " ".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


def test_one_exposure_is_skipped_with_a_warning(dithers, caplog):
    model = dm.open(str(dithers.cal_paths[0]))
    result = _call(model, **MATCH)
    assert "At least two exposures are required for image alignment" in _warnings(caplog)
    ((status, frames, _, _),) = _summary(result)
    assert (status, frames) == ("SKIPPED", NOMINAL_FRAMES)
    assert model.meta.cal_step.tweakreg is None  # the caller's model is untouched


def test_images_without_sources_skip_the_alignment(dithers, caplog):
    models = _models(dithers)
    for model in models:
        model.data = np.random.default_rng(0).normal(0.1, 1e-3, model.data.shape).astype("f4")
    result = _call(ModelLibrary(models), **MATCH)
    text = _warnings(caplog)
    assert "No sources found in" in text
    assert "Too few input images (or groups of images) with non-empty catalogs" in text
    assert [(s, f) for s, f, _, _ in _summary(result)] == [("SKIPPED", NOMINAL_FRAMES)] * 4


def test_confusing_separation_skips_with_a_warning(dithers, caplog):
    result = _call(str(dithers.asn_path), **{**MATCH, "separation": 0.25})
    assert "separation=0.25 must exceed sqrt(2) * tolerance=0.2" in _warnings(caplog)
    assert {s for s, _, _, _ in _summary(result)} == {"SKIPPED"}


def test_input_models_are_not_modified(dithers):
    models = _models(dithers)
    result = _call(ModelLibrary(models), **MATCH)
    assert [f for _, f, _, _ in _summary(result)][1][-2] == "v2v3corr"
    for model in models:
        assert list(model.meta.wcs.available_frames) == NOMINAL_FRAMES
        assert model.meta.cal_step.tweakreg is None


def test_missing_wcs_is_refused(dithers):
    models = _models(dithers)
    models[2].meta.wcs = None
    with pytest.raises(InputError, match=r"_00003_nrca1_cal.fits: no WCS .*assign_wcs"):
        _call(ModelLibrary(models), **MATCH)


def test_missing_abs_refcat_file_is_refused_before_any_work(dithers, tmp_path):
    missing = tmp_path / "nowhere.ecsv"
    with pytest.raises(InputError, match=r"abs_refcat='.*nowhere.ecsv': no such file"):
        _call(str(dithers.asn_path), abs_refcat=str(missing), save_results=True,
              save_catalogs=True, output_dir=str(tmp_path), **MATCH)  # fmt: skip
    assert list(tmp_path.iterdir()) == []


def test_refcat_without_sky_columns_is_refused(dithers, tmp_path):
    refcat = tmp_path / "bad.ecsv"
    Table({"x": [1.0, 2.0], "y": [3.0, 4.0]}).write(refcat)
    with pytest.raises(InputError, match=r"bad.ecsv'.*expected RA and DEC .* or sky_centroid"):
        _call(str(dithers.asn_path), abs_refcat=str(refcat), **MATCH)


def test_refcat_with_too_few_sources_skips(dithers, tmp_path, caplog):
    refcat = tmp_path / "three.ecsv"
    stars = dithers.stars[:3]
    Table({"RA": [s.ra for s in stars], "DEC": [s.dec for s in stars]}).write(refcat)
    result = _call(str(dithers.asn_path), abs_refcat=str(refcat), **MATCH)
    assert "Not enough sources (3) in the reference catalog" in _warnings(caplog)
    assert [(s, f) for s, f, _, _ in _summary(result)] == [("SKIPPED", NOMINAL_FRAMES)] * 4


def test_unreachable_catalog_service_skips_with_a_warning(dithers, monkeypatch, caplog):
    monkeypatch.setenv("ASTROMETRIC_CATALOG_URL", "http://127.0.0.1:9/webservices")
    result = _call(str(dithers.asn_path), abs_refcat="GAIADR3", **MATCH)
    assert "cannot reach the catalog service http://127.0.0.1:9/webservices" in _warnings(caplog)
    assert [(s, f) for s, f, _, _ in _summary(result)] == [("SKIPPED", NOMINAL_FRAMES)] * 4


@pytest.fixture
def catalog_service(dithers):
    """A local stand-in of the STScI catalog service answering with the true stars."""
    queries = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            queries.append(urlparse(self.path))
            rows = ["ra,dec,mag,objID,epoch,pmra,pmdec"]
            rows += [f"{float(s.ra)!r},{float(s.dec)!r},{18 + i * 0.1},{i},2016.0,0.0,0.0"
                     for i, s in enumerate(dithers.stars)]  # fmt: skip
            body = ("#Gaia test answer\n" + "\n".join(rows) + "\n").encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/csv")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/webservices", queries
    finally:
        server.shutdown()
        server.server_close()


def test_gaia_catalog_from_the_service(dithers, catalog_service, monkeypatch, tmp_path):
    url, queries = catalog_service
    monkeypatch.setenv("ASTROMETRIC_CATALOG_URL", url)
    result = _call(str(dithers.asn_path), abs_refcat="GAIADR3", save_abs_catalog=True,
                   output_dir=str(tmp_path), starfinder="segmentation", abs_minobj=8,
                   abs_searchrad=0.5, abs_tolerance=0.2, abs_separation=0.5,
                   abs_fitgeometry="shift", **MATCH)  # fmt: skip
    (query,) = queries
    assert query.path == "/webservices/vo/CatalogSearch.aspx"
    args = {k: v[0] for k, v in parse_qs(query.query).items()}
    assert args["CAT"] == "GAIADR3" and args["FORMAT"] == "CSV"
    assert abs(float(args["RA"]) - 150.1) < 1e-3 and abs(float(args["DEC"]) - 2.2) < 1e-3
    assert 2.0 / 3600 < float(args["SR"]) < 6.0 / 3600
    saved = Table.read(tmp_path / "fit_gaiadr3_ref.ecsv")
    assert len(saved) == len(dithers.stars) and saved["mag"][0] > saved["mag"][-1]
    for index, (status, _, wcs, _) in enumerate(_summary(result)):
        assert status == "COMPLETE" and wcs.name == "FIT-LVL3-GAIADR3"
        err = sky_errors_mas(dithers, index, wcs)
        assert np.sqrt(np.mean(np.sum(err**2, axis=1))) < 1.0


def test_saved_catalogs(dithers, tmp_path):
    """Catalogs written beside the products; members kept on disk (``in_memory=False``)."""
    result = _call(str(dithers.asn_path), save_catalogs=True, output_dir=str(tmp_path),
                   in_memory=False, **MATCH)  # fmt: skip
    assert result.on_disk
    for path, (_, _, _, catalog_name) in zip(dithers.cal_paths, _summary(result), strict=True):
        expected = path.name.replace(".fits", "_cat.ecsv")
        assert catalog_name == expected
        table = Table.read(tmp_path / expected)
        assert table.colnames == ["id", "x", "y", "flux"]
        assert 15 <= len(table) <= 25
    assert {s for s, _, _, _ in _summary(result)} == {"COMPLETE"}


def test_one_exposure_with_save_catalogs_writes_a_fits_catalog(dithers, tmp_path, caplog):
    """Nothing to align, but the catalog asked for is written (then the step is skipped)."""
    model = dm.open(str(dithers.cal_paths[1]))
    result = _call(model, save_catalogs=True, catalog_format="fits", output_dir=str(tmp_path))
    ((status, frames, _, name),) = _summary(result)
    assert (status, frames) == ("SKIPPED", NOMINAL_FRAMES)
    assert name == dithers.cal_paths[1].name.replace(".fits", "_cat.fits")
    table = Table.read(tmp_path / name)
    assert table.colnames == ["id", "x", "y", "flux"] and len(table) > 10


def _exact_catalogs(dithers, folder):
    """Catalog files with the true pixel positions of the stars (header-free truth)."""
    lines = []
    for index, path in enumerate(dithers.cal_paths):
        xy = np.array([dithers.true_wcs[index].invert(s.ra, s.dec) for s in dithers.stars])
        keep = np.all(np.isfinite(xy), axis=1) & np.all((xy > 1) & (xy < 158), axis=1)
        name = f"exact{index}.ecsv"
        Table({"xcentroid": xy[keep, 0], "ycentroid": xy[keep, 1]}).write(folder / name)
        lines.append(f"{path.name} {name}")
    catfile = folder / "catfile.txt"
    catfile.write_text("# exposure catalog\n" + "\n".join(lines) + "\n")
    return catfile


def test_custom_catalogs_from_a_catfile(dithers, tmp_path):
    """Perfect catalogs: the fit itself recovers the relative pointing to 0.05 mas."""
    catfile = _exact_catalogs(dithers, tmp_path)
    result = _call(str(dithers.asn_path), use_custom_catalogs=True, catfile=str(catfile),
                   fitgeometry="shift", **MATCH)  # fmt: skip
    reference = np.array(POINTING_ERRORS[0]) * 1e3
    for index, (status, _, wcs, _) in enumerate(_summary(result)):
        assert status == "COMPLETE"
        err = sky_errors_mas(dithers, index, wcs)
        assert np.abs(err - reference).max() < 0.05


def test_malformed_catfile_and_catalog_are_refused(dithers, tmp_path):
    catfile = tmp_path / "catfile.txt"
    catfile.write_text(f"{dithers.cal_paths[0].name} a.ecsv b.ecsv\n")
    with pytest.raises(InputError, match=r"line 1: 3 columns; expected an exposure file name"):
        _call(str(dithers.asn_path), use_custom_catalogs=True, catfile=str(catfile))
    Table({"ra": [1.0], "dec": [2.0]}).write(tmp_path / "a.ecsv")
    catfile.write_text(f"{dithers.cal_paths[0].name} a.ecsv\n")
    with pytest.raises(InputError, match=r"a.ecsv'.*expected 'x', 'xcentroid' or 'x_centroid'"):
        _call(str(dithers.asn_path), use_custom_catalogs=True, catfile=str(catfile))


def test_catalogs_named_in_the_association(dithers, tmp_path):
    """``tweakreg_catalog`` member keys, relative to the association's folder."""
    folder = dithers.asn_path.parent
    _exact_catalogs(dithers, folder)
    asn = json.loads(dithers.asn_path.read_text())
    for index, member in enumerate(asn["products"][0]["members"]):
        member["tweakreg_catalog"] = f"exact{index}.ecsv"
    path = folder / "with_catalogs_asn.json"
    path.write_text(json.dumps(asn))
    result = _call(str(path), use_custom_catalogs=True, fitgeometry="shift", **MATCH)
    reference = np.array(POINTING_ERRORS[0]) * 1e3
    for index, (_, _, wcs, _) in enumerate(_summary(result)):
        assert np.abs(sky_errors_mas(dithers, index, wcs) - reference).max() < 0.05
