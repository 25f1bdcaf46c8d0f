"""MIRI calwebb_detector1 against the simulation's truth: rate pulls and cosmic-ray recovery.

The bars of issue #4 on a simulated MIRIMAGE BRIGHTSKY exposure (512 x 512, FASTR1,
10 groups x 2 integrations, all MIRI effects on: reset anomaly, RSCD, first/last frame,
EMI, output drifts, non-linearity) run through the MIRI branch with CRDS selection of the
simulated references:

* median of (rate - true rate) / ERR within +-0.05,
* robust scatter (1.4826 MAD) of that pull within 1 +- 0.05,
* at least 99 % of the cosmic rays above 5 sigma, in groups the jump step can use,
  flagged JUMP_DET in the group they hit.
"""

import numpy as np
import pytest
from stdatamodels.jwst import datamodels as dm

from webbcal.crds_client import crds_environment
from webbcal.demo import _demo_context, detectable_cosmic_rays, miri_unusable_groups
from webbcal.dqflags import DO_NOT_USE, JUMP_DET, SATURATED
from webbcal.pipeline import Detector1Pipeline
from webbcal.simulate.miri import (
    linearize,
    make_miri_detector,
    simulate_miri_exposure,
    unlinearize,
    write_miri_reference_files,
)

NGROUPS, NINTS = 10, 2
#: Enough hits for a 1 % bar (about 900 detectable), few enough to leave most pixels clean.
CR_RATE = 3e-4


def _robust_sigma(x):
    return 1.4826 * np.median(np.abs(x - np.median(x)))


@pytest.fixture(scope="module")
def brightsky(tmp_path_factory):
    root = tmp_path_factory.mktemp("miri_accuracy")
    det = make_miri_detector(subarray="BRIGHTSKY", seed=1)
    refs = write_miri_reference_files(det, root / "refs", ngroups=NGROUPS, nints=NINTS)
    context = _demo_context(root / "crds", refs, det.detector, det.subarray, "MIRI")
    sim = simulate_miri_exposure(det, ngroups=NGROUPS, nints=NINTS, seed=2, cr_rate=CR_RATE)
    uncal = sim.save(root)["uncal"]
    with crds_environment(root / "crds"):
        rate = Detector1Pipeline.call(
            str(uncal), output_dir=str(root), save_calibrated_ramp=True, progress=False,
            steps={"emicorr": {"skip": False}},
        )  # fmt: skip
    with dm.open(root / f"{sim.name}_ramp.fits") as ramp:
        groupdq = ramp.groupdq.copy()
    assert rate.meta.ref_file.crds.context_used == context
    return sim, rate, groupdq


def test_linearity_correction_is_identity_at_the_pedestal():
    """The simulated non-linearity acts on collected signal: unit slope at the pedestal."""
    det = make_miri_detector(subarray="SUB256", seed=3)
    a2, a3 = det.nonlin.astype(np.float64)
    bias = det.bias.astype(np.float64)
    slope = 1.0 + 2.0 * a2 * bias + 3.0 * a3 * bias**2
    assert np.abs(slope - 1.0).max() < 1e-6
    # ... and the reference polynomial still undoes the simulated response at every level.
    signal = np.linspace(0.0, 1.0, 6)[:, None, None] * det.full_well
    raw = unlinearize(det.linear_bias + signal, det.nonlin)
    recovered = linearize(raw, det.nonlin) - det.linear_bias
    assert np.abs(recovered - signal).max() < 1e-6
    # The correction is strongly non-linear near full well (about 13 % of the signal).
    excess = signal[-1] / (raw[-1] - bias) - 1.0
    assert 0.08 < np.median(excess) < 0.2


def test_rate_pull_within_bars(brightsky):
    sim, rate, _ = brightsky
    truth = sim.truth
    good = (rate.dq == 0) & ~truth.saturated & ~truth.bad & np.isfinite(rate.data)
    good &= rate.err > 0
    assert good.sum() > 200_000
    pull = (rate.data[good] - truth.rate[good]) / rate.err[good]
    assert abs(np.median(pull)) < 0.05
    assert abs(_robust_sigma(pull) - 1.0) < 0.05


def test_cosmic_rays_above_5_sigma_are_flagged(brightsky):
    sim, _, groupdq = brightsky
    crs = sim.truth.cosmic_rays
    usable = detectable_cosmic_rays(sim, groupdq=groupdq)
    assert usable.sum() > 500
    hit = (groupdq[crs["integ"], crs["group"], crs["y"], crs["x"]] & JUMP_DET) != 0
    assert hit[usable].mean() >= 0.99


def test_detectable_mask_follows_the_miri_flags(brightsky):
    """Hits in RSCD/lastframe DO_NOT_USE or saturated groups are not counted."""
    sim, _, groupdq = brightsky
    crs = sim.truth.cosmic_rays
    dnu = miri_unusable_groups(sim)
    # BRIGHTSKY FASTR1: group 1 of integration 1 and groups 1-2 later are RSCD groups.
    assert dnu[0].tolist() == [True] + [False] * 8 + [True]
    assert dnu[1].tolist() == [True, True] + [False] * 7 + [True]
    # The pipeline flags them everywhere except on a few saturating pixels (rscd lowers
    # their flagged groups so that a usable group follows).
    pipeline_dnu = ((groupdq & DO_NOT_USE) != 0).mean(axis=(2, 3))
    assert np.array_equal(pipeline_dnu > 0.99, dnu)
    from_sim = detectable_cosmic_rays(sim)
    from_ramp = detectable_cosmic_rays(sim, groupdq=groupdq)
    assert np.mean(from_sim == from_ramp) > 0.995
    integ, group = crs["integ"], crs["group"]
    blind = dnu[integ, group] | dnu[integ, np.maximum(group - 1, 0)] | (group == 0)
    assert blind.sum() > 100 and not from_sim[blind].any()
    sat = (groupdq[integ, group, crs["y"], crs["x"]] & SATURATED) != 0
    assert not from_ramp[sat].any()


def test_groupdq_shape_is_checked(brightsky):
    sim, _, groupdq = brightsky
    with pytest.raises(ValueError, match=r"groupdq has shape \(1, 10, 512, 512\); expected"):
        detectable_cosmic_rays(sim, groupdq=groupdq[:1])
