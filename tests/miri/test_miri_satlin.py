"""saturation and linearity on MIRI ramps: full-frame references cut to MIRI subarrays.

MIRI has no SUPERBIAS (CRDS: N/A), groups of one frame (no diluted second group), no
ZEROFRAME, and reference columns (1-4 and 1029-1032) inside full frames and the subarrays
that touch the detector's left edge (SUB64, SUB128). The official steps treat MIRI like the
near-infrared detectors otherwise; these tests check the same on MIRI inputs, against the
official steps (jwst 3.0 / stcal 1.20) where installed.
"""

import numpy as np
import pytest
from _miri import SUBARRAYS, _ref_meta, ramp_model, run_official

from webbcal.dqflags import (
    AD_FLOOR,
    DO_NOT_USE,
    NO_LIN_CORR,
    NO_SAT_CHECK,
    REFERENCE_PIXEL,
    SATURATED,
)
from webbcal.linearity import LinearityStep
from webbcal.saturation import SaturationStep

FULL_NY, FULL_NX = 1024, 1032
FULL = (1, 1, FULL_NX, FULL_NY)


def _full_frame_saturation(path, seed=3):
    """Thresholds near the ramp levels of :func:`ramp_model` so that some pixels saturate."""
    from stdatamodels.jwst.datamodels import SaturationModel

    rng = np.random.default_rng(seed)
    data = rng.uniform(10020.0, 10400.0, (FULL_NY, FULL_NX)).astype(np.float32)
    dq = np.zeros((FULL_NY, FULL_NX), np.uint32)
    data[::97, ::89] = np.nan  # NaN: not checked (NO_SAT_CHECK)
    dq[5::101, 7::83] = NO_SAT_CHECK
    dq[11::103, 3::79] = DO_NOT_USE  # propagated to PIXELDQ
    ref = SaturationModel(data=data, dq=dq)
    _ref_meta(ref, "SATURATION", subarray="FULL", geom=FULL)
    ref.save(str(path))
    return str(path)


def _full_frame_linearity(path, seed=4, ncoeffs=5):
    from stdatamodels.jwst.datamodels import LinearityModel

    rng = np.random.default_rng(seed)
    coeffs = np.zeros((ncoeffs, FULL_NY, FULL_NX), np.float32)
    coeffs[0] = rng.normal(0, 2, (FULL_NY, FULL_NX))
    coeffs[1] = rng.uniform(0.98, 1.02, (FULL_NY, FULL_NX))
    for k in range(2, ncoeffs):
        coeffs[k] = rng.normal(0, 10.0 ** (-4 * k + 3), (FULL_NY, FULL_NX))
    coeffs[-1, ::97, ::89] = np.nan  # NaN coefficients: NO_LIN_CORR
    coeffs[1, 9::107, 5::71] = 0.0  # zero linear term: NO_LIN_CORR
    dq = np.zeros((FULL_NY, FULL_NX), np.uint32)
    dq[5::101, 7::83] = NO_LIN_CORR
    dq[13::89, 1::97] = DO_NOT_USE
    ref = LinearityModel(coeffs=coeffs, dq=dq)
    _ref_meta(ref, "LINEARITY", subarray="FULL", geom=FULL)
    ref.save(str(path))
    return str(path)


def _miri_ramp(subarray, *, nints=2, ngroups=6, seed=0):
    """A MIRI ramp with reference columns (where the subarray has them), zeros and DQ."""
    model = ramp_model(nints=nints, ngroups=ngroups, subarray=subarray, seed=seed)
    xstart, _, xsize, _ = SUBARRAYS[subarray]
    cols = np.arange(xstart, xstart + xsize)
    refcols = (cols <= 4) | (cols >= FULL_NX - 3)
    model.pixeldq[:, refcols] = REFERENCE_PIXEL
    model.data[0, 2:, 3, 5] = 0.0  # A/D floor
    model.data[-1, :, 4, 6] = 70000.0  # beyond the A/D converter
    model.groupdq[:, 0] = DO_NOT_USE  # as after firstframe
    return model


SUBARRAY_CASES = ["SUB64", "BRIGHTSKY"]


@pytest.mark.jwst_oracle
@pytest.mark.parametrize("subarray", SUBARRAY_CASES)
@pytest.mark.parametrize("n_pix_grow_sat", [0, 1, 2])
def test_saturation_matches_official_on_miri(tmp_path, subarray, n_pix_grow_sat):
    pytest.importorskip("jwst.saturation")
    model = _miri_ramp(subarray)
    kw = {"override_saturation": _full_frame_saturation(tmp_path / "sat.fits"),
          "override_superbias": "N/A", "n_pix_grow_sat": n_pix_grow_sat}  # fmt: skip
    ours = SaturationStep.call(model.copy(), **kw)
    official = run_official("jwst.saturation.SaturationStep", model, **kw)
    np.testing.assert_array_equal(ours.groupdq, official.groupdq)
    np.testing.assert_array_equal(ours.pixeldq, official.pixeldq)
    np.testing.assert_array_equal(ours.data, official.data)
    assert ours.meta.cal_step.saturation == official.meta.cal_step.saturation == "COMPLETE"
    # The cases are exercised: saturation, A/D floor and unchecked pixels.
    assert np.any(ours.groupdq & SATURATED) and np.all(ours.groupdq[0, 2:, 3, 5] & AD_FLOOR)
    assert np.any(ours.pixeldq & NO_SAT_CHECK)
    assert np.all(ours.groupdq[-1, :, 4, 6] & SATURATED)


def test_miri_saturation_reads_no_superbias(tmp_path):
    """MIRI has no superbias: with N/A the thresholds apply to the raw DN as they are."""
    model = _miri_ramp("SUB64", nints=1)
    sat = _full_frame_saturation(tmp_path / "sat.fits")
    result = SaturationStep.call(model, override_saturation=sat, override_superbias="N/A",
                                 n_pix_grow_sat=0)  # fmt: skip
    from stdatamodels.jwst.datamodels import SaturationModel

    with SaturationModel(sat) as ref:
        x0, y0 = SUBARRAYS["SUB64"][:2]
        thresh = ref.data[y0 - 1 : y0 - 1 + 64, x0 - 1 : x0 - 1 + 72]
        unchecked = np.isnan(thresh) | (
            (ref.dq[y0 - 1 : y0 - 1 + 64, x0 - 1 : x0 - 1 + 72] & NO_SAT_CHECK) != 0
        )
    with np.errstate(invalid="ignore"):
        expected = np.maximum.accumulate(model.data[0] >= thresh, axis=0) & ~unchecked
    expected[:, 4, 6] = True  # beyond the A/D converter
    got = (result.groupdq[0] & SATURATED) != 0
    np.testing.assert_array_equal(got, expected | ((model.data[0] >= 65535) & unchecked))
    assert "superbias" not in {
        k for k, v in result.meta.ref_file.instance.items() if v.get("name") not in (None, "N/A")
    }


@pytest.mark.jwst_oracle
@pytest.mark.parametrize("subarray", SUBARRAY_CASES)
def test_linearity_matches_official_on_miri(tmp_path, subarray):
    pytest.importorskip("jwst.linearity")
    model = _miri_ramp(subarray)
    model.groupdq[1, 4:, 10:12, 20:22] |= SATURATED  # saturated groups are not corrected
    kw = {"override_linearity": _full_frame_linearity(tmp_path / "lin.fits")}
    ours = LinearityStep.call(model.copy(), **kw)
    official = run_official("jwst.linearity.LinearityStep", model, **kw)
    np.testing.assert_array_equal(ours.pixeldq, official.pixeldq)
    np.testing.assert_array_equal(ours.groupdq, official.groupdq)
    np.testing.assert_allclose(ours.data, official.data, rtol=1e-6, atol=1e-3)
    assert np.any(ours.pixeldq & NO_LIN_CORR)
    np.testing.assert_array_equal(ours.data[1, 4:, 10:12, 20:22], model.data[1, 4:, 10:12, 20:22])


def test_linearity_reference_columns_are_corrected(tmp_path):
    """As in the official step, MIRI reference columns are corrected like other pixels."""
    model = _miri_ramp("SUB64", nints=1)
    lin = _full_frame_linearity(tmp_path / "lin.fits", ncoeffs=2)
    result = LinearityStep.call(model.copy(), override_linearity=lin)
    from stdatamodels.jwst.datamodels import LinearityModel

    x0, y0 = SUBARRAYS["SUB64"][:2]
    with LinearityModel(lin) as ref:
        c = ref.coeffs[:, y0 - 1 : y0 - 1 + 64, x0 - 1 : x0 - 1 + 72]
    col = 2  # a reference column (detector column 3)
    good = np.isfinite(c[:, :, col]).all(axis=0) & (c[1, :, col] != 0)
    want = c[0, :, col] + c[1, :, col] * model.data[0, :, :, col]
    np.testing.assert_allclose(result.data[0, :, good, col], want[:, good].T, rtol=1e-6)
