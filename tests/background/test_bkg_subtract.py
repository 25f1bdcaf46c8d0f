"""bkg_subtract: sigma-clipped average of background exposures, against truth and jwst."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from _rate_files import make_rate, rate_name
from webbcal.associations import write_association
from webbcal.associations.asn import Association, Member, Product
from webbcal.background import BackgroundStep, SubarrayBox, average_background, on_science_grid
from webbcal.datamodels.io import InputError


def test_average_rejects_an_outlier_exposure_and_gives_the_error_of_the_mean():
    rng = np.random.default_rng(5)
    truth = 3.0
    data = [truth + 0.01 * rng.standard_normal((20, 20)) for _ in range(5)]
    data[2] = data[2] + 50.0  # e.g. a bright source in one background exposure
    err = [np.full((20, 20), 0.2) for _ in range(5)]
    dq = [np.zeros((20, 20), np.uint32) for _ in range(5)]
    dq[1][3, 4] = 4
    # With 5 exposures a single outlier lies at most 2(n-1)/n = 1.6... 2.5 standard
    # deviations from the median, so it is rejected only below that threshold.
    assert np.allclose(average_background(data, err, dq, sigma=3.0)[0], truth + 10.0, atol=0.03)
    mean, sigma_mean, flags = average_background(data, err, dq, sigma=1.5)
    assert np.allclose(mean, truth, atol=0.03)
    # k unclipped exposures of ERR 0.2 give sqrt(k * 0.04) / k = 0.2 / sqrt(k); the
    # outlier is never among them, so k <= 4.
    k = np.round((0.2 / sigma_mean) ** 2)
    assert np.allclose(sigma_mean, 0.2 / np.sqrt(k)) and k.max() == 4 and k.min() >= 2
    assert flags[3, 4] == 4 and flags.sum() == 4


def test_background_with_integrations_is_clipped_over_them():
    rng = np.random.default_rng(6)
    cube = 2.0 + 0.01 * rng.standard_normal((6, 8, 8))
    cube[4] += 30.0
    dq = np.zeros((6, 8, 8), np.uint32)
    dq[5, 0, 0] = 2
    mean, _, flags = average_background([cube], [np.ones_like(cube)], [dq], sigma=2.0)
    assert np.allclose(mean, 2.0, atol=0.02) and flags[0, 0] == 2


def test_background_placed_on_the_science_subarray():
    science = SubarrayBox(row0=10, col0=20, nrows=4, ncols=5)
    full = SubarrayBox(row0=0, col0=0, nrows=30, ncols=30)
    frame = np.arange(900.0).reshape(30, 30)
    data, err, dq = on_science_grid(science, full, frame, frame, np.ones((30, 30), np.uint32))
    assert np.array_equal(data, frame[10:14, 20:25]) and dq.all()
    # A background covering only part of the science subarray: the rest is NaN, at the
    # science pixels it does cover (not shifted to the corner).
    part = SubarrayBox(row0=12, col0=22, nrows=10, ncols=10)
    data, _, dq = on_science_grid(science, part, frame[:10, :10], frame[:10, :10],
                                  np.ones((10, 10), np.uint32))  # fmt: skip
    assert np.isnan(data[:2]).all() and np.isnan(data[:, :2]).all()
    assert np.array_equal(data[2:, 2:], frame[:2, :3]) and dq[:2].sum() == 0


@pytest.fixture
def exposures(tmp_path):
    sci = make_rate(tmp_path / rate_name(1), exposure=1, level=10.0, seed=1)
    bkgs = [make_rate(tmp_path / rate_name(e), exposure=e, level=4.0, seed=e) for e in (2, 3, 4)]
    return tmp_path, sci, bkgs


def test_subtracts_the_average_background(exposures):
    folder, sci, bkgs = exposures
    result = BackgroundStep.call(sci, bkg_list=bkgs, disable_crds_steppars=True)
    assert result.meta.cal_step.bkg_subtract == "COMPLETE"
    assert np.median(result.data) == pytest.approx(6.0, abs=0.1)


def test_level2_association_with_background_members(exposures):
    folder, sci, bkgs = exposures
    asn = Association(
        products=[Product(rate_name(1).replace("_rate.fits", ""), [
            Member(rate_name(1), "science"),
            *[Member(rate_name(e), "background") for e in (2, 3, 4)],
        ])],
        asn_type="image2", asn_rule="DMSLevel2bBase", asn_id="c1000",
    )  # fmt: skip
    path = write_association(asn, folder / "l2_asn.json")
    from_asn = BackgroundStep.call(str(path), disable_crds_steppars=True)
    from_list = BackgroundStep.call(sci, bkg_list=bkgs, disable_crds_steppars=True)
    assert np.array_equal(from_asn.data, from_list.data)
    assert from_asn.meta.filename == rate_name(1)


def test_no_background_skips(exposures):
    folder, sci, _ = exposures
    result = BackgroundStep.call(sci, disable_crds_steppars=True)
    assert result.meta.cal_step.bkg_subtract == "SKIPPED"


def test_background_of_another_filter_is_refused(exposures):
    folder, sci, bkgs = exposures
    other = make_rate(folder / rate_name(5), exposure=5, filt="F444W")
    before = Path(sci).read_bytes()
    with pytest.raises(InputError, match=r"_00005_nrca1_rate.fits: background FILTER='F444W' "
                       r"but the science exposure .* has FILTER='F200W'"):  # fmt: skip
        BackgroundStep.call(sci, bkg_list=[*bkgs, other], disable_crds_steppars=True)
    with pytest.raises(InputError, match="nope_rate.fits: background exposure not found"):
        BackgroundStep.call(sci, bkg_list=[str(folder / "nope_rate.fits")],
                            disable_crds_steppars=True)  # fmt: skip
    assert Path(sci).read_bytes() == before


@pytest.mark.jwst_oracle
@pytest.mark.parametrize("maxiters", [None, 1])
def test_matches_the_official_step(exposures, maxiters):
    pytest.importorskip("jwst")
    from jwst.background import BackgroundStep as Official

    folder, sci, bkgs = exposures
    # A bright outlier in one background and flagged pixels, so clipping and DQ matter.
    from stdatamodels.jwst import datamodels as dm

    with dm.open(bkgs[1]) as m:
        m.data[5:8, 5:8] += 100.0
        m.dq[0, 0] = 4
        m.save(bkgs[1])
    theirs = Official.call(sci, bkg_list=bkgs, maxiters=maxiters, save_combined_background=True,
                           output_dir=str(folder / "j"))  # fmt: skip
    ours = BackgroundStep.call(
        sci, bkg_list=bkgs, maxiters=maxiters, disable_crds_steppars=True,
        save_combined_background=True, output_dir=str(folder / "w"),
    )  # fmt: skip
    np.testing.assert_allclose(ours.data, theirs.data, rtol=1e-6, atol=1e-6)
    assert np.array_equal(ours.dq, theirs.dq)
    assert np.array_equal(ours.err, theirs.err)
    name = rate_name(1).replace("_rate", "_combinedbackground")
    with dm.open(str(folder / "j" / name)) as a, dm.open(str(folder / "w" / name)) as b:
        np.testing.assert_allclose(b.data, a.data, rtol=1e-6)
        np.testing.assert_allclose(b.err, a.err, rtol=1e-6)
