"""OutlierDetectionStep against jwst 3.0.0's on identical associations of ``_cal`` files.

Both sides run offline (no CRDS references; CRDS parameter references disabled).
The DQ OUTLIER flags must agree on at least 99.9% of the pixels of every exposure.
Measured here: 100% (identical DQ arrays) for the default parameters, for non-default
ones, for exposure groups of two members and for ``resample_data=False``; the blotted
medians differ by at most 2e-3 MJy/sr (of up to 330) from the 0.001-pixel pixel maps.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from stdatamodels.jwst import datamodels as dm

from webbcal.dqflags import PIXEL
from webbcal.outlier_detection import OutlierDetectionStep

pytestmark = pytest.mark.jwst_oracle

OUTLIER = PIXEL["OUTLIER"]
#: Least fraction of pixels whose OUTLIER flag agrees with jwst's (issue 16).
AGREEMENT = 0.999


def _official(source, **pars):
    pytest.importorskip("jwst")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "parity"))
    from _parity import offline_environment
    from jwst.outlier_detection import OutlierDetectionStep as Official

    with tempfile.TemporaryDirectory(prefix="webbcal_oracle_") as root:
        with offline_environment(Path(root)):
            result = Official.call(source, **pars)
            return _arrays(result)


def _arrays(library):
    out = []
    with library:
        for index in range(len(library)):
            model = library.borrow(index)
            out.append((np.array(model.dq), np.array(model.data)))
            library.shelve(model, index, modify=False)
    return out


def _compare(source, label, **pars):
    ours = _arrays(OutlierDetectionStep.call(source, disable_crds_steppars=True, **pars))
    theirs = _official(source, **pars)
    assert len(ours) == len(theirs)
    for k, ((dq_a, sci_a), (dq_b, sci_b)) in enumerate(zip(ours, theirs, strict=True)):
        fa, fb = (dq_a & OUTLIER) > 0, (dq_b & OUTLIER) > 0
        agree = float(np.mean(fa == fb))
        print(f"\n{label} member {k}: OUTLIER flags ours {fa.sum()}, jwst {fb.sum()}, "
              f"agreement {agree:.6f}")  # fmt: skip
        assert fb.sum() > 10
        assert agree >= AGREEMENT
        assert np.mean(np.isnan(sci_a) == np.isnan(sci_b)) >= AGREEMENT
    return ours, theirs


def test_default_parameters_and_intermediate_products(dithered, tmp_path):
    ours_dir, theirs_dir = tmp_path / "ours", tmp_path / "jwst"
    ours_dir.mkdir()
    theirs_dir.mkdir()
    pars = dict(save_intermediate_results=True, save_results=True, suffix="crf")
    ours = _arrays(OutlierDetectionStep.call(str(dithered.asn_path), disable_crds_steppars=True,
                                             output_dir=str(ours_dir), **pars))  # fmt: skip
    theirs = _official(str(dithered.asn_path), output_dir=str(theirs_dir), **pars)
    for k, ((dq_a, sci_a), (dq_b, sci_b)) in enumerate(zip(ours, theirs, strict=True)):
        fa, fb = (dq_a & OUTLIER) > 0, (dq_b & OUTLIER) > 0
        print(f"\ndefault member {k}: OUTLIER flags ours {fa.sum()}, jwst {fb.sum()}, "
              f"agreement {np.mean(fa == fb):.6f}")  # fmt: skip
        assert fb.sum() > 10
        np.testing.assert_array_equal(dq_a, dq_b)  # measured: identical
        np.testing.assert_array_equal(np.isnan(sci_a), np.isnan(sci_b))
    names = sorted(p.name for p in ours_dir.iterdir())
    assert names == sorted(p.name for p in theirs_dir.iterdir())
    assert len(names) == 4 * 3 + 1  # crf, blot, outlier_i2d per exposure; one median
    median = "jw01234001001_01101_00001_nrca1_o001_median.fits"
    with dm.open(str(ours_dir / median)) as a, dm.open(str(theirs_dir / median)) as b:
        assert a.data.shape == b.data.shape
        ok = np.isfinite(a.data) & np.isfinite(b.data)
        assert np.array_equal(np.isnan(a.data), np.isnan(b.data))
        assert np.max(np.abs(a.data[ok] - b.data[ok])) < 2e-3


def test_other_parameters(dithered):
    _compare(str(dithered.asn_path), "non-default", snr="4.0 3.0", scale="0.5 0.4", maskpt=0.5,
             weight_type="exptime", pixfrac=0.8, backg=0.01)  # fmt: skip


def test_without_resampling(dithered):
    _compare(str(dithered.asn_path), "resample_data=False", resample_data=False)


def test_exposure_groups(dithered, tmp_path):
    """Members 1 and 2 made one exposure group (as two detectors of one exposure)."""
    names = []
    for k, path in enumerate(dithered.cal_paths):
        with dm.open(str(path)) as model:
            model.meta.observation.exposure_number = "1" if k < 2 else str(k)
            model.save(str(tmp_path / path.name))
        names.append(path.name)
    asn = json.loads(dithered.asn_path.read_text())
    (tmp_path / "asn.json").write_text(json.dumps(asn))
    _compare(str(tmp_path / "asn.json"), "groups")


def _random_images(seed, shape=(37, 41)):
    rng = np.random.default_rng(seed)
    blot = rng.normal(1.0, 0.5, shape).astype(np.float32)
    blot[rng.random(shape) < 0.05] = np.nan
    sci = blot + rng.normal(0, 0.05, shape).astype(np.float32)
    sci.reshape(-1)[rng.choice(sci.size, 40, replace=False)] += 3.0
    sci[rng.random(shape) < 0.02] = np.nan
    err = np.full(shape, 0.05, np.float32)
    err[rng.random(shape) < 0.02] = np.nan
    return sci, err, blot


@pytest.mark.parametrize("seed", [0, 1])
def test_kernels_equal_stcal_bit_for_bit(seed):
    utils = pytest.importorskip("stcal.outlier_detection.utils")
    from webbcal.outlier_detection.flagging import (
        abs_derivative,
        flag_direct,
        flag_resampled,
        weight_threshold,
    )

    sci, err, blot = _random_images(seed)
    np.testing.assert_array_equal(abs_derivative(blot), utils._abs_deriv(blot))
    pars = (5.0, 4.0, 1.2, 0.7, 0.02)
    ours = flag_resampled(sci, err, blot, snr1=pars[0], snr2=pars[1], scale1=pars[2],
                          scale2=pars[3], backg=pars[4])  # fmt: skip
    theirs = utils.flag_resampled_crs(sci, err, blot, *pars)
    assert theirs.sum() > 20
    np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(flag_direct(sci, err, blot, snr=5.0),
                                  utils.flag_crs(sci, err, blot, 5.0))  # fmt: skip
    weight = np.abs(blot) * 10
    weight[:3] = 0
    assert weight_threshold(weight, 0.7) == utils.compute_weight_threshold(weight, 0.7)


def test_median_equals_stcal_on_disk_median(tmp_path):
    median_mod = pytest.importorskip("stcal.outlier_detection.median")
    from webbcal.outlier_detection.median import ImageStack

    rng = np.random.default_rng(6)
    planes = rng.normal(size=(6, 29, 33)).astype(np.float32)
    planes[rng.random(planes.shape) < 0.3] = np.nan
    computer = median_mod.MedianComputer(planes.shape, False, 29 * 33 * 4, np.float32,
                                         tempdir=str(tmp_path))  # fmt: skip
    with ImageStack(6, (29, 33), block_bytes=3 * 33 * 4 * 6) as stack:
        for k, plane in enumerate(planes):
            computer.append(plane, k)
            stack.write(k, plane)
        ours = stack.median()
    np.testing.assert_array_equal(ours, computer.evaluate())
