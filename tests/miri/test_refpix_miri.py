"""MIRI refpix: left/right reference columns, against scipy loops and the official step."""

import numpy as np
import pytest
from _miri import assert_ramp_equal, ramp_model, run_official
from scipy import stats

from webbcal.dqflags import DO_NOT_USE
from webbcal.refpix import RefPixStep
from webbcal.refpix.miri import correct_miri_refpix


def _full_frame(nints=2, ngroups=3, seed=0):
    model = ramp_model(nints=nints, ngroups=ngroups, subarray="FULL", seed=seed)
    rng = np.random.default_rng(seed + 10)
    # per-amplifier, per-parity drifts that grow with the group, plus outliers in the refs
    drift = rng.normal(0, 20, (nints, ngroups, 2, 4)).astype(np.float32)
    drift[:, 0] = 0
    rows = np.arange(1024) % 2
    amp = np.arange(1032) % 4
    model.data = model.data + drift[:, :, rows][..., amp]
    model.data[:, :, 17, 1028] += 5000.0
    model.pixeldq[40:60, 2] = DO_NOT_USE
    model.data[:, :, 40:60, 2] += 1e4  # ignored: DO_NOT_USE
    return model


def _slow(data, pdq, odd_even, siglimit):
    out = data.astype(np.float64).copy()
    parities = [slice(0, None, 2), slice(1, None, 2)] if odd_even else [slice(None)]
    for i in range(data.shape[0]):
        for g in range(1, data.shape[1]):
            diff = data[i, g].astype(np.float64) - data[i, 0]
            for amp in range(4):
                for rows in parities:
                    means = []
                    for col in (amp, 1028 + amp):
                        ok = (pdq[rows, col] & DO_NOT_USE) == 0
                        clipped = stats.sigmaclip(diff[rows, col][ok], siglimit, siglimit)[0]
                        means.append(clipped.mean())
                    out[i, g, rows, amp::4] -= 0.5 * (means[0] + means[1])
    return out


@pytest.mark.parametrize("odd_even", [True, False])
def test_kernel_against_scipy_loops(odd_even):
    model = _full_frame(nints=1, ngroups=3)
    res = correct_miri_refpix(model.data, model.pixeldq, odd_even_rows=odd_even, siglimit=3.0)
    assert res.status == "COMPLETE"
    want = _slow(model.data, model.pixeldq, odd_even, 3.0)
    np.testing.assert_allclose(res.data, want, rtol=1e-6, atol=2e-3)
    np.testing.assert_array_equal(res.data[:, 0], model.data[:, 0])


def test_kernel_skips():
    sub = ramp_model(nints=1, ngroups=3, subarray="SUB64")
    res = correct_miri_refpix(sub.data, sub.pixeldq)
    assert res.status == "SKIPPED" and "has no reference columns" in res.reason
    full = _full_frame(nints=1, ngroups=2)
    full.pixeldq[1::2, 1029] = DO_NOT_USE
    res = correct_miri_refpix(full.data, full.pixeldq)
    assert res.reason == "reference column 1029 (amplifier 2) has no usable pixel"
    with pytest.raises(ValueError, match="siglimit=0.0; expected a positive number"):
        correct_miri_refpix(full.data, full.pixeldq, siglimit=0.0)


def test_step_subarray_skipped():
    out = RefPixStep.call(ramp_model(nints=1, ngroups=3, subarray="BRIGHTSKY"))
    assert out.meta.cal_step.refpix == "SKIPPED"


@pytest.mark.jwst_oracle
@pytest.mark.parametrize("odd_even", [True, False])
def test_oracle(odd_even):
    pytest.importorskip("jwst")
    model = _full_frame(nints=2, ngroups=3)
    ours = RefPixStep.call(model, odd_even_rows=odd_even)
    official = run_official(
        "jwst.refpix.RefPixStep", model, odd_even_rows=odd_even,
        override_refpix="N/A", override_sirskernel="N/A",
    )  # fmt: skip
    assert_ramp_equal(ours, official, rtol=1e-6)
    assert ours.meta.cal_step.refpix == official.meta.cal_step.refpix == "COMPLETE"
