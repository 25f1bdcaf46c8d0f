"""The MIRI simulator: geometry, readout timing, metadata, transients, EMI, references."""

import numpy as np
import pytest
from stdatamodels.jwst import datamodels

from webbcal import dqflags
from webbcal.simulate.miri import (
    MIRI_REFTYPES,
    EmiTone,
    MiriTruth,
    emi_pattern,
    linearize,
    make_miri_detector,
    miri_readout,
    reset_anomaly,
    simulate_miri_exposure,
    unlinearize,
    write_miri_reference_files,
)

NG, NI = 8, 2


@pytest.fixture(scope="module")
def sub64():
    return make_miri_detector(subarray="SUB64", seed=7)


@pytest.fixture(scope="module")
def sim64(sub64):
    return simulate_miri_exposure(sub64, ngroups=NG, nints=NI, seed=3, cr_rate=1e-3)


@pytest.fixture(scope="module")
def refs64(sub64, tmp_path_factory):
    return write_miri_reference_files(sub64, tmp_path_factory.mktemp("miri64"), ngroups=NG)


def test_full_array_geometry_and_refcols():
    det = make_miri_detector(subarray="FULL", seed=7)
    assert det.shape == (1024, 1032)
    cols = np.flatnonzero(det.refpix[0])
    assert cols.tolist() == [0, 1, 2, 3, 1028, 1029, 1030, 1031]
    assert np.array_equal(det.refpix, np.broadcast_to(det.refpix[0], det.shape))
    assert np.array_equal(det.output_index[5], np.arange(1032) % 4)
    assert np.all(det.mask_dq[det.refpix] == dqflags.REFERENCE_PIXEL)
    assert np.all(det.response[det.refpix] == 0) and np.all(det.dark_rate[det.refpix] == 0)
    # Subarrays are cut-outs of the full array.
    for name in ("SUB64", "BRIGHTSKY"):
        sub = make_miri_detector(subarray=name, seed=7)
        rows, cols = sub.geometry.slices
        assert np.array_equal(sub.bias, det.bias[rows, cols])
        assert np.array_equal(sub.saturation, det.saturation[rows, cols])
        assert np.array_equal(sub.output_index, det.output_index[rows, cols])


@pytest.mark.parametrize(
    ("subarray", "readpatt", "tframe"),
    [
        ("FULL", "FASTR1", 2.77504),
        ("FULL", "SLOWR1", 23.88992),
        ("SUB64", "FASTR1", 0.08512),
        ("SLITLESSPRISM", "FASTR1", 0.15904),  # TFRAME of a real SLITLESSPRISM header
        ("BRIGHTSKY", "FASTR1", 0.86528),
    ],
)
def test_frame_times(subarray, readpatt, tframe):
    assert miri_readout(subarray, readpatt).frame_time == pytest.approx(tframe, abs=1e-9)


def test_bad_arguments():
    with pytest.raises(ValueError, match="only available for the FULL array"):
        miri_readout("SUB64", "SLOWR1")
    with pytest.raises(ValueError, match="readpatt='RAPID'"):
        miri_readout("FULL", "RAPID")
    with pytest.raises(ValueError, match="subarray='SUB32'"):
        make_miri_detector(subarray="SUB32")
    with pytest.raises(ValueError, match="detector='NRCA1'"):
        make_miri_detector(detector="NRCA1")


def test_metadata_shapes_and_determinism(sub64, sim64):
    m = sim64.model
    assert m.data.shape == (NI, NG, 64, 72) and m.data.dtype == np.uint16
    assert m.refout.shape == (NI, NG, 64, 18) and m.refout.dtype == np.uint16
    meta = m.meta
    assert (meta.instrument.name, meta.instrument.detector) == ("MIRI", "MIRIMAGE")
    assert (meta.exposure.type, meta.instrument.filter) == ("MIR_IMAGE", "F770W")
    assert meta.exposure.readpatt == "FASTR1"
    assert (meta.exposure.nframes, meta.exposure.groupgap) == (1, 0)
    assert (meta.exposure.ngroups, meta.exposure.nints, meta.exposure.nsamples) == (NG, NI, 1)
    assert meta.exposure.frame_time == pytest.approx(0.08512)
    assert meta.exposure.group_time == pytest.approx(0.08512)
    assert meta.exposure.nresets_between_ints == 1
    assert (meta.subarray.name, meta.subarray.xstart, meta.subarray.ystart) == ("SUB64", 1, 779)
    assert (meta.subarray.fastaxis, meta.subarray.slowaxis) == (1, 2)
    assert meta.filename == "jw01234001001_01101_00001_mirimage_uncal.fits"
    assert len(m.group) == NI * NG and len(m.int_times) == NI
    again = simulate_miri_exposure(sub64, ngroups=NG, nints=NI, seed=3, cr_rate=1e-3)
    assert np.array_equal(again.model.data, m.data)
    assert np.array_equal(again.model.refout, m.refout)
    other = simulate_miri_exposure(sub64, ngroups=NG, nints=NI, seed=4, cr_rate=1e-3)
    assert not np.array_equal(other.model.data, m.data)


def test_default_exposure_types():
    prism = make_miri_detector(subarray="SLITLESSPRISM", seed=1)
    sim = simulate_miri_exposure(prism, ngroups=3, seed=1)
    assert (sim.model.meta.exposure.type, sim.model.meta.instrument.filter) == (
        "MIR_LRS-SLITLESS", "P750L",
    )  # fmt: skip
    mask = make_miri_detector(subarray="MASK1550", seed=1)
    sim = simulate_miri_exposure(mask, ngroups=3, seed=1)
    assert sim.model.meta.exposure.type == "MIR_4QPM"
    assert sim.model.meta.instrument.coronagraph == "4QPM_1550"


def test_mrs_full_frame_slowr1():
    det = make_miri_detector(detector="MIRIFUSHORT", subarray="FULL", seed=2)
    sim = simulate_miri_exposure(det, readpatt="SLOWR1", ngroups=2, seed=2, cr_rate=0)
    meta = sim.model.meta
    assert sim.model.data.shape == (1, 2, 1024, 1032)
    assert sim.model.refout.shape == (1, 2, 1024, 258)
    assert (meta.exposure.type, meta.instrument.channel, meta.instrument.band) == (
        "MIR_MRS", "12", "SHORT",
    )  # fmt: skip
    assert (meta.exposure.readpatt, meta.exposure.nsamples) == ("SLOWR1", 9)
    assert meta.exposure.frame_time == pytest.approx(23.88992)
    assert "mirifushort" in meta.filename


def test_transients_in_raw_data(sub64):
    """Reset anomaly, first/last frame and RSCD: raw difference to a transient-free twin."""
    quiet = make_miri_detector(subarray="SUB64", seed=7, transients=False)
    kw = {"ngroups": NG, "nints": NI, "seed": 3, "cr_rate": 0.0, "emi": False}
    sim = simulate_miri_exposure(sub64, **kw)
    on = sim.model.data.astype(float)
    off = simulate_miri_exposure(quiet, **kw).model.data.astype(float)
    ok = ~sub64.refpix & ~sim.truth.saturated
    for integ in range(NI):
        for g in (2, 5):  # groups without first/last/RSCD offsets: the reset anomaly alone
            expect = reset_anomaly(sub64.reset_amplitude, sub64.reset_tau, integ=integ, group=g)
            assert np.abs(on[integ, g] - off[integ, g] - expect)[ok].max() <= 1.0
    first = on[0, 0] - off[0, 0] - reset_anomaly(sub64.reset_amplitude, 2.5, integ=0, group=0)
    assert np.abs(first - sub64.first_frame_dn)[ok].max() <= 1.0
    last = on[0, -1] - off[0, -1] - reset_anomaly(sub64.reset_amplitude, 2.5, integ=0, group=NG - 1)
    assert np.abs(last - sub64.last_frame_dn)[ok].max() <= 1.0
    # RSCD: the second group of integration 2 is low by a fraction of the previous
    # integration's last-frame signal (checked on bright pixels).
    rscd = on[1, 1] - off[1, 1] - reset_anomaly(sub64.reset_amplitude, 2.5, integ=1, group=1)
    signal = sim.truth.rate * sim.model.meta.exposure.frame_time * NG
    bright = ok & (signal > 2000)
    assert bright.sum() > 5
    expect = -sub64.rscd_fraction * signal * np.exp(-1 / 1.5)
    assert np.allclose(rscd[bright], expect[bright], rtol=0.1, atol=2.0)


def test_emi_in_raw_data_and_refout(sub64):
    kw = {"ngroups": 4, "nints": 1, "seed": 3, "cr_rate": 0.0}
    with_emi = simulate_miri_exposure(sub64, emi=True, **kw)
    without = simulate_miri_exposure(sub64, emi=False, **kw)
    tones = tuple(
        EmiTone(t["name"].decode(), t["frequency"], t["amplitude"], t["phase"])
        for t in with_emi.truth.emi
    )
    assert [t.name for t in tones] == ["Hz390", "Hz218a"]
    readout = sub64.readout("FASTR1")
    for g in range(4):
        expect = emi_pattern(tones, readout, sub64.shape, ngroups=4, integ=0, group=g)
        diff = with_emi.model.data[0, g].astype(float) - without.model.data[0, g]
        assert np.abs(diff - expect).max() <= 1.0
        rdiff = with_emi.model.refout[0, g].astype(float) - without.model.refout[0, g]
        assert np.abs(rdiff - expect[:, ::4]).max() <= 1.0
        # The four outputs are read together: columns 4k..4k+3 share the pick-up.
        assert np.allclose(expect[:, 0::4], expect[:, 3::4])


def test_linearity_inverse(sub64):
    y = sub64.linear_bias + np.linspace(0, 1, 5)[:, None, None] * sub64.full_well
    x = unlinearize(y, sub64.nonlin)
    assert np.allclose(linearize(x, sub64.nonlin), y, rtol=0, atol=1e-6)
    assert np.all(np.diff(x, axis=0) > 0)


def test_reference_files(sub64, refs64):
    assert sorted(refs64) == sorted(MIRI_REFTYPES)
    reset = datamodels.ResetModel(refs64["reset"])
    assert reset.data.shape == (2, NG, 64, 72)
    assert (reset.meta.exposure.nints, reset.meta.exposure.ngroups) == (2, NG)
    expect = reset_anomaly(sub64.reset_amplitude, sub64.reset_tau, integ=1, group=3)
    assert np.allclose(reset.data[1, 3], expect)
    dark = datamodels.DarkMIRIModel(refs64["dark"])
    assert dark.data.shape == (2, NG, 64, 72)
    rate = sub64.dark_rate * (sub64.response > 0)  # dead pixels collect no dark current
    assert np.allclose(dark.data[1, 4], 5 * 0.08512 * rate, rtol=1e-5)
    assert np.allclose(dark.data[0, 4], 5 * 0.08512 * rate * 1.1, rtol=1e-5)
    assert (dark.meta.exposure.nframes, dark.meta.exposure.groupgap) == (1, 0)
    lin = datamodels.LinearityModel(refs64["linearity"])
    assert np.array_equal(lin.coeffs[2:], sub64.nonlin) and np.all(lin.coeffs[1] == 1)
    rscd = datamodels.RSCDModel(refs64["rscd"])
    rows = {(r["subarray"], r["readpatt"]): (r["group_skip1"], r["group_skip"])
            for r in rscd.rscd_group_skip_table}  # fmt: skip
    assert rows[("SUB64", "FASTR1")] == (1, 2) and rows[("FULL", "SLOWR1")] == (1, 1)
    emi = datamodels.EmiModel(refs64["emicorr"])
    assert list(emi.subarray_cases.SUB64.freqs.FAST) == ["Hz390", "Hz218a"]
    assert emi.subarray_cases.SUB64.frameclocks == 8512
    assert emi.frequencies.Hz390.frequency == 390.625
    with datamodels.open(refs64["readnoise"]) as rn:
        assert np.allclose(rn.data, sub64.readnoise)
        assert rn.meta.instrument.name == "MIRI"


def test_truth_roundtrip(sim64, tmp_path):
    truth = sim64.truth
    assert isinstance(truth, MiriTruth)
    path = truth.save(tmp_path / "t.npz")
    back = MiriTruth.load(path)
    assert np.array_equal(back.rate, truth.rate) and np.array_equal(back.emi, truth.emi)
    assert np.all(truth.rate[sim64.detector.refpix] == 0)


def test_showers():
    det = make_miri_detector(subarray="SUB256", seed=2)
    sim = simulate_miri_exposure(
        det, ngroups=4, seed=5, showers=True, shower_rate=2000.0, emi=False
    )
    assert sim.truth.showers.size > 0
