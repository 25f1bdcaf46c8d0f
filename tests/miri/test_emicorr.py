"""emicorr (joint): removes injected EMI, agrees with the official step, bad references."""

import numpy as np
import pytest
from _miri import ramp_model, run_official

from webbcal.emicorr import EmiCorrStep
from webbcal.emicorr.joint import EmiTiming, correct_emi_joint

FREQ = 390.625
NB = 64  # waveform samples
ROWCLOCKS, FRAMECLOCKS = 28, 8512  # SUB64


def _inject(model, amp=8.0, phase=0.3):
    """A sine EMI at FREQ, with the documented read-time clocking."""
    nints, ngroups, ny, nx = model.data.shape
    nsamples = model.meta.exposure.nsamples
    period = 1.0 / FREQ / 10e-6
    frame = ny * ROWCLOCKS + (1024 - ny) * 7.0
    t = np.arange(ny)[:, None] * ROWCLOCKS + (np.arange(nx) // 4)[None] * nsamples
    emi = np.empty(model.data.shape, np.float32)
    for i in range(nints):
        for g in range(ngroups):
            tt = t + (i * ngroups + g) * frame + i * FRAMECLOCKS
            emi[i, g] = amp * np.sin(2 * np.pi * (tt / period + phase))
    clean = model.data.copy()
    model.data = model.data + emi
    return clean


def _write_reference(path, *, readpatts=("FAST", "SLOW")):
    from stdatamodels.jwst.datamodels import EmiModel

    wave = np.sin(2 * np.pi * (np.arange(NB) + 0.5) / NB)
    freqs = {}
    if "FAST" in readpatts:
        freqs["FAST"] = ["Hz390"]
    if "SLOW" in readpatts:
        freqs["SLOW"] = {"MIRIMAGE": ["Hz390"]}
    ref = EmiModel()
    ref.frequencies = {"Hz390": {"frequency": FREQ, "phase_amplitudes": wave}}
    ref.subarray_cases = {"SUB64": {"rowclocks": ROWCLOCKS, "frameclocks": FRAMECLOCKS,
                                    "freqs": freqs}}  # fmt: skip
    m = ref.meta
    m.reftype, m.author, m.description, m.pedigree = "emicorr", "webbcal", "test", "DUMMY"
    m.useafter = "2020-01-01T00:00:00"
    m.instrument.name = "MIRI"
    ref.save(str(path))
    return path


def _model(nints=2, ngroups=6, seed=0):
    model = ramp_model(nints=nints, ngroups=ngroups, subarray="SUB64", seed=seed)
    model.data = np.round(model.data)  # a smooth scene: the fit sees the EMI
    return model


def test_joint_removes_injected_emi():
    model = _model()
    clean = _inject(model)
    timing = EmiTiming(nsamples=1, rowclocks=ROWCLOCKS, frameclocks=FRAMECLOCKS)
    wave = np.sin(2 * np.pi * (np.arange(NB) + 0.5) / NB)
    out = correct_emi_joint(model.data, model.pixeldq, frequency=FREQ, amplitudes=wave,
                            timing=timing)  # fmt: skip
    before = np.std(model.data - clean)
    after = np.std(out - clean)
    assert before > 5.0 and after < 0.05 * before


def test_step_default_skip_and_bad_inputs(tmp_path):
    model = _model()
    assert EmiCorrStep.call(model).meta.cal_step.emicorr == "SKIPPED"  # skip=True default
    slow_only = _write_reference(tmp_path / "slow.asdf", readpatts=("SLOW",))
    out = EmiCorrStep.call(model, skip=False, override_emicorr=str(slow_only))
    assert out.meta.cal_step.emicorr == "SKIPPED"  # no FAST entry: logged skip
    np.testing.assert_array_equal(out.data, model.data)
    with pytest.raises(
        ValueError, match="onthefly_corr_freq='abc': item 'abc' is not a valid float"
    ):
        EmiCorrStep.call(model, skip=False, onthefly_corr_freq="abc")
    with pytest.raises(
        ValueError, match="onthefly_corr_freq=10.0,-1.0; expected one or more positive"
    ):
        EmiCorrStep.call(model, skip=False, onthefly_corr_freq="10,-1")
    two = _model(ngroups=2)
    ref = _write_reference(tmp_path / "ref.asdf")
    out = EmiCorrStep.call(two, skip=False, override_emicorr=str(ref))
    assert out.meta.cal_step.emicorr == "SKIPPED"


@pytest.mark.jwst_oracle
@pytest.mark.parametrize(("separately", "readpatt"), [(False, "FASTR1"), (True, "FASTR1"),
                                                      (False, "FAST")])  # fmt: skip
def test_joint_oracle(tmp_path, separately, readpatt):
    pytest.importorskip("jwst")
    model = _model(nints=3, ngroups=5, seed=2)
    model.meta.exposure.readpatt = readpatt
    _inject(model, amp=6.0, phase=0.15)
    ref = _write_reference(tmp_path / "emi.asdf")
    kw = dict(skip=False, algorithm="joint", fit_ints_separately=separately,
              override_emicorr=str(ref))  # fmt: skip
    ours = EmiCorrStep.call(model, **kw)
    official = run_official("jwst.emicorr.EmiCorrStep", model, **kw)
    assert ours.meta.cal_step.emicorr == official.meta.cal_step.emicorr == "COMPLETE"
    np.testing.assert_allclose(ours.data, official.data, rtol=1e-5, atol=1e-3)


@pytest.mark.jwst_oracle
@pytest.mark.parametrize("with_reference", [True, False])
def test_sequential_oracle(tmp_path, with_reference):
    pytest.importorskip("jwst")
    model = _model(nints=2, ngroups=10, seed=3)
    _inject(model, amp=6.0, phase=0.4)
    kw = dict(skip=False, algorithm="sequential")
    if with_reference:
        kw["override_emicorr"] = str(_write_reference(tmp_path / "emi.asdf"))
    else:
        kw["onthefly_corr_freq"] = [FREQ]
    ours = EmiCorrStep.call(model, **kw)
    official = run_official("jwst.emicorr.EmiCorrStep", model, **kw)
    assert ours.meta.cal_step.emicorr == official.meta.cal_step.emicorr == "COMPLETE"
    np.testing.assert_allclose(ours.data, official.data, rtol=1e-5, atol=1e-3)
    assert np.abs(ours.data - model.data).max() > 1.0  # a real correction was made
