"""assign_mtwcs: the moving-target frame puts the target at one sky position in every
exposure; jwst 3.0.0's AssignMTWcsStep on the same files agrees."""

from __future__ import annotations

import logging
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
from astropy.modeling.models import Shift
from gwcs import WCS
from gwcs import coordinate_frames as cf
from stdatamodels.jwst import datamodels as dm

from _shared_paths import REAL
from webbcal.assign_mtwcs import (
    AssignMTWcsStep,
    add_moving_target_frame,
    is_moving_target,
    mean_position,
)
from webbcal.associations.asn import write_association
from webbcal.associations.from_list import asn_from_list
from webbcal.datamodels import ModelLibrary
from webbcal.simulate.dithers import simulate_dithered_cals
from webbcal.wcs import world_frame

SIAF_DIR = REAL / "pysiaf-siafxml"
#: The target's ephemeris position at each exposure: it moves 0.4"/exposure in RA, -0.25" in Dec.
TRACK = np.array([(0.4 * k, -0.25 * k) for k in range(3)]) / 3600.0
GRID = np.meshgrid(np.linspace(0, 159, 9), np.linspace(0, 159, 9))


@pytest.fixture(scope="module")
def moving(tmp_path_factory):
    """Three dithered _cal files marked as a moving-target observation (TARGTYPE=MOVING)."""
    if not (SIAF_DIR / "NIRCam_SIAF.xml").is_file():
        pytest.skip(f"shared SIAF XML not found: {SIAF_DIR}")
    folder = tmp_path_factory.mktemp("mtwcs")
    sim = simulate_dithered_cals(folder / "sim", SIAF_DIR, n_stars=5,
                                 dithers=((0.0, 0.0), (0.5, 0.2), (-0.3, 0.4)))  # fmt: skip
    paths = []
    for k, path in enumerate(sim.cal_paths):
        with dm.open(str(path)) as model:
            model.meta.target.type = "MOVING"
            model.meta.wcsinfo.mt_ra = 150.1 + TRACK[k, 0] / np.cos(np.radians(2.2))
            model.meta.wcsinfo.mt_dec = 2.2 + TRACK[k, 1]
            out = folder / path.name
            model.save(str(out))
            paths.append(out)
    asn = asn_from_list([p.name for p in paths], product_name="jw01234-o001_t001_nircam",
                        acid="o001", program="01234")  # fmt: skip
    asn_path = folder / "jw01234-o001_image3_00001_asn.json"
    write_association(asn, asn_path)
    return asn_path, paths


def _members(library):
    out = []
    with library:
        for index in range(len(library)):
            model = library.borrow(index)
            out.append(model)
            library.shelve(model, index, modify=False)
    return out


def test_frame_shifts_world_coordinates():
    world = world_frame()
    base = WCS([(cf.Frame2D(name="detector"), Shift(10.0) & Shift(20.0)), (world, None)])
    new = add_moving_target_frame(base, 100.5, -3.0, 100.0, -2.0)
    assert new.available_frames == ["detector", "world", "moving_target"]
    np.testing.assert_allclose(new(1.0, 2.0), (11.5, 21.0))
    assert base.available_frames == ["detector", "world"]  # not modified
    spec = cf.SpectralFrame(name="spec", axes_order=(2,), unit=u.um)
    spectral = cf.CompositeFrame([world, spec], name="world")
    base3 = WCS([(cf.CoordinateFrame(3, ["SPATIAL"] * 3, (0, 1, 2), name="detector"),
                  Shift(0) & Shift(0) & Shift(0)), (spectral, None)])  # fmt: skip
    np.testing.assert_allclose(add_moving_target_frame(base3, 1.0, 1.0, 0.5, 0.0)(0, 0, 7),
                               (0.5, 1.0, 7.0))  # fmt: skip


def test_mean_position():
    assert mean_position([10.0, 10.2, 10.4], [1.0, 2.0, 3.0]) == pytest.approx((10.2, 2.0))
    ra, _ = mean_position([359.9, 0.1, 0.3], [0.0, 0.0, 0.0])
    assert ra == pytest.approx(0.1)
    with pytest.raises(ValueError, match="expected finite RA/Dec pairs"):
        mean_position([], [])


def test_target_has_one_position_in_every_exposure(moving):
    asn_path, paths = moving
    result = AssignMTWcsStep.call(str(asn_path), disable_crds_steppars=True)
    members = _members(result)
    mean_ra, mean_dec = mean_position(
        [m.meta.wcsinfo.mt_ra for m in members], [m.meta.wcsinfo.mt_dec for m in members]
    )
    for model in members:
        assert is_moving_target(model)
        assert model.meta.cal_step.assign_mtwcs == "COMPLETE"
        assert model.meta.wcs.available_frames[-1] == "moving_target"
        assert (model.meta.wcsinfo.mt_avra, model.meta.wcsinfo.mt_avdec) == (mean_ra, mean_dec)
        # The target's pixel in this exposure (from its sky position)...
        to_pixel = model.meta.wcs.get_transform("world", "detector")
        x, y = to_pixel(model.meta.wcsinfo.mt_ra, model.meta.wcsinfo.mt_dec)
        # ...is at the mean target position in the moving-target frame.
        ra, dec = model.meta.wcs(x, y, with_bounding_box=False)
        # (the distortion inverse is good to about 1e-3 mas here)
        assert abs(ra - mean_ra) * 3.6e6 < 0.01 and abs(dec - mean_dec) * 3.6e6 < 0.01
    with dm.open(str(paths[2])) as original:
        assert original.meta.wcs.available_frames[-1] == "world"  # input untouched
        shift = members[2].meta.wcsinfo.mt_avdec - original.meta.wcsinfo.mt_dec
        old = np.array(original.meta.wcsinfo.s_region.split()[2:], float)[1::2]
        new = np.array(members[2].meta.wcsinfo.s_region.split()[2:], float)[1::2]
        np.testing.assert_allclose(new - old, shift, atol=1e-9)


def test_missing_target_position_skips(moving, caplog):
    _, paths = moving
    models = [dm.open(str(p)) for p in paths]
    models[1].meta.wcsinfo.mt_dec = None
    result = AssignMTWcsStep.call(ModelLibrary(models), disable_crds_steppars=True)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "One or more MT RA/Dec values missing in input images." in warnings
    for model in _members(result):
        assert model.meta.cal_step.assign_mtwcs == "SKIPPED"
        assert model.meta.wcs.available_frames[-1] == "world"


@pytest.mark.jwst_oracle
def test_matches_official(moving, tmp_path, monkeypatch):
    pytest.importorskip("jwst")
    from jwst.assign_mtwcs import AssignMTWcsStep as Official

    from _stage2_inputs import _parity_module

    asn_path, _ = moving
    ours = _members(AssignMTWcsStep.call(str(asn_path), disable_crds_steppars=True))
    with _parity_module().offline_environment(Path(tmp_path)):
        theirs = _members(Official.call(str(asn_path)))
    for mine, official in zip(ours, theirs, strict=True):
        assert mine.meta.wcs.available_frames == official.meta.wcs.available_frames
        np.testing.assert_array_equal(mine.meta.wcs(*GRID), official.meta.wcs(*GRID))
        assert mine.meta.wcsinfo.mt_avra == official.meta.wcsinfo.mt_avra
        assert mine.meta.wcsinfo.mt_avdec == official.meta.wcsinfo.mt_avdec
        assert mine.meta.wcsinfo.s_region == official.meta.wcsinfo.s_region
        assert mine.meta.cal_step.assign_mtwcs == official.meta.cal_step.assign_mtwcs
