"""Tests of simulated exposures against their truth."""

import numpy as np
import pytest
from astropy.io import fits
from stdatamodels.jwst import datamodels

from _shared_paths import REAL as _REAL
from webbcal import dqflags
from webbcal.lib.readout import read_pattern
from webbcal.lib.subarray import SubarrayGeometry
from webbcal.simulate import (
    CR_DTYPE,
    Scene,
    Truth,
    make_detector,
    simulate_exposure,
    simulate_from_header,
)

REAL = _REAL / "jwst-wheel"
FGS_ACQ1 = REAL / "fgs_acq1/jw01019001001_gs-acq1_2022117003102_uncal.fits"
NRCA3 = REAL / "header_only_uncal/jw01075001001_03105_00009_nrca3_uncal.fits"


def test_deterministic_per_seed(det64):
    a = simulate_exposure(det64, ngroups=3, seed=1, cr_rate=1e-2)
    b = simulate_exposure(det64, ngroups=3, seed=1, cr_rate=1e-2)
    c = simulate_exposure(det64, ngroups=3, seed=2, cr_rate=1e-2)
    assert np.array_equal(a.model.data, b.model.data)
    assert np.array_equal(a.truth.cosmic_rays, b.truth.cosmic_rays)
    assert not np.array_equal(a.model.data, c.model.data)


def test_shapes_dtypes_metadata(sim64, tmp_path):
    m = sim64.model
    assert m.data.shape == (2, 8, 64, 64) and m.data.dtype == np.uint16
    assert len(m.group) == 16 and len(m.int_times) == 2
    meta = m.meta
    assert meta.filename == "jw01234001001_01101_00001_nrca1_uncal.fits"
    assert (meta.instrument.name, meta.instrument.detector) == ("NIRCAM", "NRCA1")
    assert (meta.instrument.channel, meta.instrument.module) == ("SHORT", "A")
    assert meta.exposure.readpatt == "RAPID" and meta.exposure.nframes == 1
    assert meta.exposure.group_time == pytest.approx(meta.exposure.frame_time)
    assert meta.exposure.start_time < meta.exposure.mid_time < meta.exposure.end_time
    assert (meta.subarray.name, meta.subarray.fastaxis, meta.subarray.slowaxis) == (
        "SUB64P",
        -1,
        2,
    )
    assert sim64.truth.rate.shape == (64, 64) and sim64.truth.rate.dtype == np.float32
    assert sim64.truth.cosmic_rays.dtype == CR_DTYPE
    paths = sim64.save(tmp_path)
    assert paths["uncal"].name == meta.filename
    with datamodels.open(paths["uncal"]) as back:
        assert isinstance(back, datamodels.Level1bModel)
        assert np.array_equal(back.data, m.data)
        assert back.meta.exposure.ngroups == 8
    truth = Truth.load(paths["truth"])
    assert np.array_equal(truth.cosmic_rays, sim64.truth.cosmic_rays)
    assert fits.getval(paths["uncal"], "DATAMODL") == "Level1bModel"


def test_zeroframe(det64):
    sim = simulate_exposure(det64, ngroups=2, readpatt="BRIGHT2", seed=1, zeroframe=True)
    assert sim.model.zeroframe.shape == (1, 64, 64)
    assert sim.model.meta.exposure.zero_frame is True


def _linearize(data, det, coeffs):
    m = data.astype(np.float64) - det.superbias
    return sum(c.astype(np.float64) * m**k for k, c in enumerate(coeffs))


def test_perfect_knowledge_slope_recovers_truth(tmp_path):
    det = make_detector(geometry=SubarrayGeometry(5, 5, 64, 64), seed=2, bias_drift_dn=0.0)
    sim = simulate_exposure(det, readpatt="RAPID", ngroups=20, nints=2, seed=9, cr_rate=0.0)
    coeffs = fit_coeffs(det)
    t = sim.model.meta.exposure.group_time * np.arange(1, 21)
    dark = det.dark_rate * t[:, None, None]
    good = ~sim.truth.bad & ~sim.truth.saturated
    tc = t - t.mean()
    slopes = []
    for integ in range(2):
        lin = _linearize(sim.model.data[integ], det, coeffs) - dark
        slopes.append(np.tensordot(tc, lin - lin.mean(axis=0), axes=1) / (tc**2).sum())
    slope = np.mean(slopes, axis=0)
    n = t.size
    sig_r = det.readnoise / np.sqrt(2.0)
    var_read = 12 * sig_r**2 / (n * (n**2 - 1) * sim.model.meta.exposure.group_time**2)
    var_pois = 6 * (n**2 + 1) / (5 * n * (n**2 - 1)) * sim.truth.rate / (det.gain * t[0])
    z = ((slope - sim.truth.rate) / np.sqrt((var_read + var_pois) / 2))[good]
    assert abs(np.median(z)) < 0.1
    assert np.std(z) == pytest.approx(1.0, abs=0.1)
    assert sim.truth.rate.max() * t[-1] > 0.02 * np.median(det.full_well)  # real signal


def fit_coeffs(det):
    from webbcal.simulate import fit_linearity_coefficients

    return fit_linearity_coefficients(det.nonlin, det.full_well)


@pytest.mark.parametrize("readpatt", ["RAPID", "MEDIUM8"])
def test_group_noise_matches_readnoise(readpatt):
    det = make_detector(geometry=SubarrayGeometry(200, 200, 48, 48), seed=4, bias_drift_dn=0.0)
    sim = simulate_exposure(
        det, readpatt=readpatt, ngroups=6, nints=4, seed=3, cr_rate=0.0, scene=Scene(sky=0.0)
    )
    nframes = read_pattern(readpatt).nframes
    diffs = np.diff(sim.model.data.astype(np.float64), axis=1)
    good = ~sim.truth.bad
    # A difference of two groups of nframes frames has variance 2 * readnoise**2 / (2 nframes).
    z = diffs / (det.readnoise / np.sqrt(nframes))
    z = z - z.mean(axis=(0, 1))
    ratio = np.std(z[:, :, good]) * np.sqrt(diffs.shape[0] * diffs.shape[1])
    ratio /= np.sqrt(diffs.shape[0] * diffs.shape[1] - 1)
    assert ratio == pytest.approx(1.0, abs=0.04)


def test_cosmic_rays_and_saturation(sim64, det64):
    crs = sim64.truth.cosmic_rays
    assert crs.size > 10
    assert np.all(det64.response[crs["y"], crs["x"]] > 0)
    assert np.all((crs["amplitude_dn"] > 50) & (crs["amplitude_dn"] < 20000))
    assert np.all(crs["group"] == crs["frame"])  # RAPID: one frame per group
    # A large hit shows as a jump of its amplitude between groups.
    big = crs[(crs["amplitude_dn"] > 500) & (crs["group"] > 0)]
    big = big[~sim64.truth.saturated[big["y"], big["x"]]]
    cr = big[0]
    ramp = sim64.model.data[cr["integ"], :, cr["y"], cr["x"]].astype(float)
    jump = ramp[cr["group"]] - ramp[cr["group"] - 1]
    assert jump == pytest.approx(cr["amplitude_dn"], rel=0.15, abs=60)
    sat = sim64.truth.saturated
    assert sat.any()
    assert np.all(sim64.model.data.max(axis=(0, 1))[sat] >= det64.saturation[sat])
    assert np.all(sim64.model.data <= 65535)


def test_bad_pattern_and_counts(det64):
    with pytest.raises(ValueError, match="READPATT='NOPE'"):
        simulate_exposure(det64, readpatt="NOPE")
    with pytest.raises(ValueError, match="ngroups=0"):
        simulate_exposure(det64, ngroups=0)


def test_from_real_fgs_header():
    sim = simulate_from_header(FGS_ACQ1, seed=1)
    m = sim.model
    assert m.data.shape == (6, 2, 128, 128)
    assert m.meta.exposure.type == "FGS_ACQ1" and m.meta.exposure.readpatt == "ACQ1"
    assert (m.meta.subarray.fastaxis, m.meta.subarray.slowaxis) == (2, -1)
    assert m.meta.observation.program_number == "01019"
    assert m.meta.exposure.frame_time == pytest.approx(0.182)
    m.validate()


def test_from_real_nircam_header_resized():
    hdr = fits.getheader(NRCA3)
    hdr["SUBARRAY"], hdr["SUBSIZE1"], hdr["SUBSIZE2"], hdr["NGROUPS"] = "GENERIC", 32, 24, 3
    hdr["NOUTPUTS"] = 1
    sim = simulate_from_header(hdr, seed=2)
    assert sim.model.data.shape == (1, 3, 24, 32)
    assert sim.model.meta.exposure.type == "NRC_CORON"
    assert sim.model.meta.filename == "jw01075001001_03105_00009_nrca3_uncal.fits"
    assert sim.model.meta.instrument.pupil == "MASKRND"


def test_nirspec_sub512_and_niriss():
    nrs = make_detector(instrument="NIRSPEC", detector="NRS1", subarray="SUB512", seed=1)
    sim = simulate_exposure(nrs, ngroups=3, seed=1)
    assert sim.model.data.shape == (1, 3, 32, 512)
    assert sim.model.meta.exposure.readpatt == "NRSRAPID"
    assert sim.model.meta.subarray.name == "SUB512"
    nis = make_detector(instrument="NIRISS", detector="NIS", subarray="SUB64", seed=1)
    sim = simulate_exposure(nis, readpatt="NIS", ngroups=2, seed=1)
    assert sim.model.meta.exposure.nframes == 4
    assert sim.truth.pixeldq[sim.truth.bad].any() or not sim.truth.bad.any()
    assert (sim.truth.pixeldq & dqflags.REFERENCE_PIXEL).any()
