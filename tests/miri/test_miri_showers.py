"""jump on MIRI ramps with cosmic-ray showers: the step against the official JumpStep."""

import numpy as np
import pytest
from _miri import _geom, _ref_meta, ramp_model, run_official
from scipy import ndimage

from webbcal.dqflags import DO_NOT_USE, JUMP_DET
from webbcal.jump import JumpStep

GAIN = 5.5  # e-/DN, typical MIRI
#: The official step's fixed shower-revert threshold (electrons per second), see JumpStep.
OFFICIAL_REVERT_E_PER_S = 6.0


def _ramps(nints, ngroups, ny, nx, *, seed, rate, readnoise, gain, ncr):
    """Poisson + read-noise ramps (DN) with ``ncr`` single-pixel jumps; per-pixel gain."""
    rng = np.random.default_rng(seed)
    gain2d = (gain * (1 + 0.05 * rng.uniform(-1, 1, (ny, nx)))).astype(np.float32)
    rn2d = (readnoise * (1 + 0.05 * rng.uniform(-1, 1, (ny, nx)))).astype(np.float32)
    electrons = rng.poisson(rate * gain2d, (nints, ngroups, ny, nx)).cumsum(axis=1)
    data = electrons / gain2d + rng.normal(size=electrons.shape) * rn2d / np.sqrt(2)
    for p in rng.choice(ny * nx, size=ncr, replace=False):
        y, x = divmod(int(p), nx)
        data[rng.integers(nints), rng.integers(1, ngroups) :, y, x] += rng.uniform(50, 800)
    return data.astype(np.float32), gain2d, rn2d


def _add_shower(data, i, g, cy, cx, radius, amp):
    """A faint disk of ``amp`` DN appearing in group ``g`` of integration ``i``."""
    yy, xx = np.mgrid[: data.shape[2], : data.shape[3]]
    disk = np.hypot(yy - cy, xx - cx) <= radius
    data[i, g:, disk] += np.float32(amp)
    return disk


def _write_refs(model, root, gain, readnoise):
    from stdatamodels.jwst.datamodels import GainModel, ReadnoiseModel

    paths = {}
    for reftype, cls, data in (("gain", GainModel, gain), ("readnoise", ReadnoiseModel, readnoise)):
        ref = cls(data=np.asarray(data, np.float32))
        _ref_meta(ref, reftype.upper(), subarray=model.meta.subarray.name, geom=_geom(model))
        paths[f"override_{reftype}"] = str(root / f"{reftype}.fits")
        ref.save(paths[f"override_{reftype}"])
    return paths


def _shower_group(ngroups):
    """Group in which the first shower appears (after the DO_NOT_USE first group)."""
    return max(2, ngroups // 3)


def _shower_case(tmp_path, nints, ngroups, *, uniform_gain=True):
    """SUB64 FASTR1 ramp, first and last groups DO_NOT_USE (as after firstframe/lastframe)."""
    model = ramp_model(nints=nints, ngroups=ngroups, subarray="SUB64")
    ny, nx = model.data.shape[-2:]
    data, gain, readnoise = _ramps(nints, ngroups, ny, nx, seed=5, rate=3.0, readnoise=8.0,
                                   gain=GAIN, ncr=20)  # fmt: skip
    if uniform_gain:
        gain[:] = GAIN
    disks = [
        _add_shower(data, 0, _shower_group(ngroups), 30, 30, 12, 15.0),
        _add_shower(data, nints - 1, 3, 12, 50, 9, 20.0),
    ]
    model.data = data
    model.groupdq[:, 0] = DO_NOT_USE
    model.groupdq[:, -1] = DO_NOT_USE
    return model, _write_refs(model, tmp_path, gain, readnoise), disks


def _run_both(model, refs, **ours_kw):
    pytest.importorskip("jwst.jump")
    ours = JumpStep.call(model.copy(), find_showers=True, **refs, **ours_kw)
    official = run_official("jwst.jump.JumpStep", model, find_showers=True, **refs)
    return ours, official


@pytest.mark.jwst_oracle
# 100 integrations: sigma clipping across integrations (jumps and showers), as in MIRI TSOs.
@pytest.mark.parametrize(("nints", "ngroups"), [(1, 20), (2, 10), (100, 5)])
def test_showers_identical_to_official_at_its_revert_threshold(tmp_path, nints, ngroups):
    model, refs, disks = _shower_case(tmp_path, nints, ngroups)
    amplitude = OFFICIAL_REVERT_E_PER_S / GAIN  # DN/s giving the official's threshold
    ours, official = _run_both(model, refs, max_shower_amplitude=amplitude)
    np.testing.assert_array_equal(ours.groupdq, official.groupdq)
    np.testing.assert_array_equal(ours.pixeldq, official.pixeldq)
    exp, oexp = ours.meta.exposure, official.meta.exposure
    assert exp.extended_emission_events == pytest.approx(oexp.extended_emission_events, rel=1e-12)
    assert exp.extended_emission_events > 0
    assert exp.primary_cosmic_rays == pytest.approx(oexp.primary_cosmic_rays, rel=1e-12)
    assert ours.meta.cal_step.jump == "COMPLETE"
    # Most of the disk is flagged in its first group; in 5-group ramps the flags would
    # leave no usable difference, so they are reverted (max_shower_amplitude check).
    flagged = np.mean(ours.groupdq[0, _shower_group(ngroups)][disks[0]] & JUMP_DET)
    assert flagged > 0.9 if ngroups >= 10 else flagged < 0.1


@pytest.mark.jwst_oracle
def test_defaults_differ_from_official_only_by_the_revert_threshold(tmp_path):
    """Default max_shower_amplitude (4 DN/s) reverts fewer shower flags than jwst's 6 e-/s.

    Every differing group-DQ value is a JUMP_DET that we keep and the official
    step reverted; everything else is identical.
    """
    model, refs, disks = _shower_case(tmp_path, 2, 10, uniform_gain=False)
    ours, official = _run_both(model, refs)
    differ = ours.groupdq != official.groupdq
    assert np.all((ours.groupdq ^ official.groupdq)[differ] == JUMP_DET)
    assert np.all(ours.groupdq[differ] & JUMP_DET)
    assert np.mean(~differ) > 0.95  # ~3 % of group-pixels: the shower disks
    # ... and they lie in the (expanded) shower ellipses.
    near = ndimage.binary_dilation(np.logical_or(*disks), iterations=6)
    assert not differ[:, :, ~near].any()
    np.testing.assert_array_equal(ours.pixeldq, official.pixeldq)


@pytest.mark.jwst_oracle
def test_no_shower_flagging_without_find_showers(tmp_path):
    pytest.importorskip("jwst.jump")
    model, refs, disks = _shower_case(tmp_path, 1, 20)
    ours = JumpStep.call(model.copy(), **refs)
    official = run_official("jwst.jump.JumpStep", model, **refs)
    np.testing.assert_array_equal(ours.groupdq, official.groupdq)
    assert np.mean(ours.groupdq[0, _shower_group(20)][disks[0]] & JUMP_DET) < 0.2
    assert ours.meta.exposure.extended_emission_events == 0


def test_shower_flags_last_for_time_masked_after_shower(tmp_path):
    model, refs, disks = _shower_case(tmp_path, 1, 20)
    g0 = _shower_group(20)
    group_time = model.meta.exposure.group_time
    result = JumpStep.call(model.copy(), find_showers=True, time_masked_after_shower=12.0,
                           max_shower_amplitude=100.0, **refs)  # fmt: skip
    n_after = int(12.0 // group_time)  # 4 groups of 2.775 s
    flagged = (result.groupdq[0][:, disks[0]] & JUMP_DET) != 0
    assert np.all(flagged[g0 : g0 + n_after + 1].mean(axis=1) > 0.9)
    assert flagged[g0 + n_after + 1 :].mean() < 0.1
    assert flagged[:g0].mean() < 0.1
