"""calwebb_image3 end to end on four dithered NIRCam exposures: against the truth of the
simulation and against jwst 3.0.0's Image3Pipeline on the identical association.

The simulated exposures (NRCA1_SUB320, 36 stars on a jittered grid 1.4 arcsec apart, 20-90
microjansky) have header pointings off the truth by 40-90 mas, different sky levels and
25 unflagged cosmic-ray hits each. What calwebb_image3 must do with them: tweakreg
re-aligns the exposures, skymatch equalises the skies, outlier_detection flags the hits,
resample combines them into the ``_i2d`` mosaic, source_catalog measures the stars.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.table import Table
from stdatamodels.jwst import datamodels as dm

from _shared_paths import REAL
from webbcal.dqflags import PIXEL

SIAF_DIR = REAL / "pysiaf-siafxml"
RA0, DEC0 = 150.1, 2.2
ERRORS = ((0.05, -0.03), (-0.04, 0.08), (0.02, 0.06), (-0.07, -0.01))
SKY = (0.10, 0.18, 0.14, 0.25)
MATCH = {"tolerance": 0.2, "separation": 0.5, "searchrad": 0.5, "minobj": 8}


def _stars(rate_per_ujy: float):
    from webbcal.simulate.imaging import SkyStar

    rng = np.random.default_rng(5)
    stars, fluxes = [], []
    for gx in np.arange(-2.5, 3) * 1.4:
        for gy in np.arange(-2.5, 3) * 1.4:
            dx, dy = gx + rng.uniform(-0.2, 0.2), gy + rng.uniform(-0.2, 0.2)
            ujy = 20 * 10 ** rng.uniform(0, 0.65)
            stars.append(SkyStar(RA0 + dx / 3600 / np.cos(np.radians(DEC0)), DEC0 + dy / 3600,
                                 ujy * rate_per_ujy, 1.2))  # fmt: skip
            fluxes.append(ujy)
    return tuple(stars), np.array(fluxes)


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    """Simulated association, stage-3 references and webbcal's products."""
    if not (SIAF_DIR / "NIRCam_SIAF.xml").is_file():
        pytest.skip("shared SIAF XML not found")
    from webbcal.pipeline.image3 import Image3Pipeline
    from webbcal.simulate.dithers import simulate_dithered_cals
    from webbcal.simulate.imaging import imaging_setup
    from webbcal.simulate.references_stage2 import default_photom_rows, pixel_area
    from webbcal.simulate.references_stage3 import (
        gaussian_apcorr_rows,
        write_abvegaoffset,
        write_apcorr,
    )

    folder = tmp_path_factory.mktemp("image3")
    setup = imaging_setup("NRCA1_SUB320", SIAF_DIR)
    row = next(r for r in default_photom_rows("NIRCAM")
               if r.filter == setup.filter and r.pupil == setup.pupil)  # fmt: skip
    rate_per_ujy = 1e-12 / (row.photmjsr * pixel_area("NIRCAM", "NRCA1")[0])
    stars, fluxes = _stars(rate_per_ujy)
    dithers = simulate_dithered_cals(
        folder, SIAF_DIR, aperture="NRCA1_SUB320", stars=stars, pointing_errors=ERRORS,
        sky=SKY, n_cosmic_rays=25, noise=0.02, seed=3, ra0=RA0, dec0=DEC0,
    )  # fmt: skip
    refs = folder / "refs"
    apcorr = write_apcorr(refs / "apcorr.fits", instrument="NIRCAM",
                          rows=gaussian_apcorr_rows(sigma=1.2, n_boxes=4, filter=setup.filter,
                                                    pupil=setup.pupil))  # fmt: skip
    abvega = write_abvegaoffset(refs / "abvega.asdf", instrument="NIRCAM",
                                rows=[{"filter": setup.filter, "pupil": setup.pupil,
                                       "abvega_offset": 1.75}])  # fmt: skip
    steps = {
        "tweakreg": dict(MATCH),
        "source_catalog": {"override_apcorr": str(apcorr), "override_abvegaoffset": str(abvega)},
    }
    out = folder / "webbcal"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WEBBCAL_DISABLE_CRDS_STEPPARS", "1")
        mosaic = Image3Pipeline.call(str(dithers.asn_path), output_dir=str(out),
                                     save_results=True, steps=steps)  # fmt: skip
    return {"dithers": dithers, "fluxes": fluxes, "steps": steps, "out": out, "mosaic": mosaic}


def _products(out: Path, product: str):
    cat = Table.read(out / f"{product}_cat.ecsv")
    i2d = dm.ImageModel(str(out / f"{product}_i2d.fits"))
    crf = sorted(out.glob("*_crf.fits"))
    return cat, i2d, crf


def test_products_are_named_as_the_official_pipeline_names_them(case):
    d = case["dithers"]
    names = sorted(os.listdir(case["out"]))
    product = d.product_name
    expected = [f"{product}_cat.ecsv", f"{product}_i2d.fits", f"{product}_segm.fits"]
    expected += [p.name.replace("_cal.fits", "_o001_crf.fits") for p in d.cal_paths]
    assert names == sorted(expected)
    status = case["mosaic"].meta.cal_step
    assert (status.tweakreg, status.skymatch, status.outlier_detection, status.resample) == (
        "COMPLETE", "COMPLETE", "COMPLETE", "COMPLETE")  # fmt: skip


def test_catalog_recovers_the_injected_stars(case):
    """Every star inside the mosaic is found where it was injected, with its flux.

    tweakreg aligns the exposures to one of them (relative alignment), so the mosaic
    keeps that exposure's pointing error: the stars must sit at the truth shifted by one
    exposure's error, all by the same amount.
    """
    d = case["dithers"]
    cat, i2d, _ = _products(case["out"], d.product_name)
    with i2d:
        x, y = i2d.meta.wcs.invert([s.ra for s in d.stars], [s.dec for s in d.stars])
        ny, nx = i2d.data.shape
    truth = SkyCoord([s.ra for s in d.stars] * u.deg, [s.dec for s in d.stars] * u.deg)
    idx, sep, _ = truth.match_to_catalog_sky(cat["sky_centroid"])
    inside = (x > 10) & (x < nx - 10) & (y > 10) & (y < ny - 10)
    found = sep < 200 * u.mas
    assert found[inside].all(), f"missing {np.count_nonzero(inside & ~found)} star(s)"
    sky = cat["sky_centroid"][idx[found]]
    cos_dec = np.cos(truth.dec[found].radian)
    offset = np.column_stack([((sky.ra - truth.ra[found]) * cos_dec).to_value(u.mas),
                              (sky.dec - truth.dec[found]).to_value(u.mas)])  # fmt: skip
    shift = np.median(offset, axis=0)
    residual = np.hypot(*(offset - shift).T)
    nearest = np.min(np.hypot(*(np.array(d.pointing_errors) * 1000 - shift).T))
    ratio = cat["aper_total_flux"][idx[found]].to(u.uJy).value / case["fluxes"][found]
    print(f"\nstars {found.sum()}: common shift {np.round(shift, 2)} mas ({nearest:.2f} mas from "
          f"one exposure's pointing error); residual offsets median {np.median(residual):.2f} "
          f"mas, max {residual.max():.2f}; aperture-corrected flux ratio median "
          f"{np.median(ratio):.4f}, range {ratio.min():.4f}-{ratio.max():.4f}")  # fmt: skip
    # Unaligned, the 40-90 mas pointing errors would spread the stars by as much.
    assert nearest < 3.0
    assert np.median(residual) < 3.0 and residual.max() < 8.0
    assert abs(np.median(ratio) - 1) < 0.03


def test_outliers_are_the_cosmic_rays(case):
    d = case["dithers"]
    _, _, crf = _products(case["out"], d.product_name)
    hit_frac, false = [], []
    for k, path in enumerate(crf):
        with dm.open(str(path)) as m:
            flagged = (m.dq & PIXEL["OUTLIER"]) != 0
            hits = d.cosmic_rays[k]
            hit_frac.append(flagged[hits[:, 0], hits[:, 1]].mean())
            mask = np.zeros_like(flagged)
            mask[hits[:, 0], hits[:, 1]] = True
            # a hit's neighbours may be flagged too (derivative test)
            grown = mask.copy()
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    grown |= np.roll(np.roll(mask, dy, 0), dx, 1)
            false.append(int(np.count_nonzero(flagged & ~grown)))
    print(f"\ncosmic rays flagged: {np.round(hit_frac, 3)}; other pixels flagged: {false}")
    assert min(hit_frac) >= 0.9
    assert max(false) < 0.002 * 320 * 320


@pytest.mark.jwst_oracle
def test_parity_with_the_official_image3_pipeline(case, tmp_path):
    """jwst 3.0.0's Image3Pipeline on the same association and references."""
    pytest.importorskip("jwst")
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "parity"))
    from _parity import offline_environment
    from jwst.pipeline import Image3Pipeline as Official

    d = case["dithers"]
    out = tmp_path / "jwst"
    with tempfile.TemporaryDirectory(prefix="webbcal_oracle_") as root:
        with offline_environment(Path(root)):
            Official.call(str(d.asn_path), output_dir=str(out), save_results=True,
                          steps=case["steps"])  # fmt: skip
    ours_cat, ours, ours_crf = _products(case["out"], d.product_name)
    theirs_cat, theirs, theirs_crf = _products(out, d.product_name)
    assert [p.name for p in ours_crf] == [p.name for p in theirs_crf]
    agree = []
    for a, b in zip(ours_crf, theirs_crf, strict=True):
        with dm.open(str(a)) as ma, dm.open(str(b)) as mb:
            fa = (ma.dq & PIXEL["OUTLIER"]) != 0
            fb = (mb.dq & PIXEL["OUTLIER"]) != 0
            agree.append(np.mean(fa == fb))
    assert ours.data.shape == theirs.data.shape
    both = np.isfinite(ours.data) & np.isfinite(theirs.data) & (theirs.data != 0)
    rel = np.abs(ours.data[both] - theirs.data[both]) / np.abs(theirs.data[both])
    idx, sep, _ = theirs_cat["sky_centroid"].match_to_catalog_sky(ours_cat["sky_centroid"])
    matched = sep < 5 * u.mas
    dflux = (ours_cat["aper_total_flux"][idx[matched]] / theirs_cat["aper_total_flux"][matched]
             - 1).value  # fmt: skip
    mine = ours_cat[idx[matched]]
    dx = np.hypot(mine["xcentroid"] - theirs_cat["xcentroid"][matched],
                  mine["ycentroid"] - theirs_cat["ycentroid"][matched])  # fmt: skip
    print(f"\n_crf OUTLIER agreement {np.round(agree, 5)}; _i2d SCI relative difference "
          f"median {np.median(rel):.2e}, 99% {np.percentile(rel, 99):.2e}; catalog: ours "
          f"{len(ours_cat)}, jwst {len(theirs_cat)}, matched {matched.sum()}, centroid "
          f"max {dx.max():.4f} px, flux median {np.median(np.abs(dflux)):.2e} max "
          f"{np.abs(dflux).max():.2e}")  # fmt: skip
    assert min(agree) >= 0.999
    assert np.median(rel) < 1e-3
    assert matched.sum() == len(theirs_cat) == len(ours_cat)
    assert dx.max() < 0.1
    assert np.median(np.abs(dflux)) < 1e-3
    ours.close()
    theirs.close()


def test_one_thread_gives_the_same_products(case, tmp_path, monkeypatch):
    """WEBBCAL_OVERLAP=0 (no worker thread or process): the same files, bit for bit.

    A process whose numba OpenMP threads are running may not fork (an earlier test's
    parallel kernel), and the case's products were then made without worker
    processes too: ``tests/lib_forkmap/test_forked_paths.py`` runs this test in a
    fresh process.
    """
    from astropy.io import fits

    from webbcal.lib.forkmap import fork_available
    from webbcal.pipeline.image3 import Image3Pipeline

    if os.environ.get("WEBBCAL_TEST_REQUIRE_FORK"):
        assert fork_available(), "the case's products were made without worker processes"

    monkeypatch.setenv("WEBBCAL_DISABLE_CRDS_STEPPARS", "1")
    monkeypatch.setenv("WEBBCAL_OVERLAP", "0")
    Image3Pipeline.call(str(case["dithers"].asn_path), output_dir=str(tmp_path),
                        save_results=True, steps=case["steps"])  # fmt: skip
    names = sorted(p.name for p in case["out"].iterdir() if p.suffix in (".fits", ".ecsv"))
    assert names == sorted(p.name for p in tmp_path.iterdir() if p.suffix in (".fits", ".ecsv"))
    for name in names:
        if name.endswith(".ecsv"):
            ours, one = ([x for x in (d / name).read_text().splitlines()
                          if "date" not in x.lower()] for d in (case["out"], tmp_path))  # fmt: skip
            assert ours == one
            continue
        with fits.open(case["out"] / name) as a, fits.open(tmp_path / name) as b:
            for ha, hb in zip(a, b, strict=True):
                if ha.name in ("ASDF", "HDRTAB"):
                    continue
                # the headers too: e.g. tweakreg's SIP fits, made in worker processes
                cards_a, cards_b = ({k: v for k, v in h.header.items() if "DATE" not in k}
                                    for h in (ha, hb))  # fmt: skip
                assert cards_a == cards_b, f"{name} {ha.name}"
                if ha.data is not None:
                    np.testing.assert_array_equal(ha.data, hb.data, err_msg=f"{name} {ha.name}")


def test_a_failure_after_outlier_detection_leaves_no_crf(case, tmp_path, monkeypatch, caplog):
    """The _crf files written beside resample are removed when the run fails."""
    import logging

    from webbcal.pipeline.image3 import Image3Pipeline
    from webbcal.resample import ResampleStep

    def broken(self, model):
        raise RuntimeError("resample failed on purpose")

    monkeypatch.setenv("WEBBCAL_DISABLE_CRDS_STEPPARS", "1")
    monkeypatch.setattr(ResampleStep, "process", broken)
    with caplog.at_level(logging.INFO), pytest.raises(RuntimeError, match="on purpose"):
        Image3Pipeline.call(str(case["dithers"].asn_path), output_dir=str(tmp_path),
                            save_results=True, steps=case["steps"])  # fmt: skip
    removed = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Removed")]
    assert len([m for m in removed if m.endswith("_crf.fits written before the failure")]) == 4
    assert not list(tmp_path.glob("*_crf.fits"))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp_webbcal_")]
