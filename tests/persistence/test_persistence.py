"""Flag-based persistence: kernel against a per-pixel loop, step behaviour, official oracle."""

from __future__ import annotations

import numpy as np
import pytest
from stdatamodels.jwst import datamodels as dm

from webbcal.dqflags import GROUP
from webbcal.persistence import PersistenceStep, flag_persistence, mjd_to_unix
from webbcal.persistence.step import read_persistence_file, write_persistence_file

SAT = GROUP["SATURATED"]
PERS = GROUP["PERSISTENCE"]
DNU = GROUP["DO_NOT_USE"]
T0_MJD = 59800.25
INT_TIMES_DTYPE = [("integration_number", "i4")] + [
    (f"int_{w}_{s}", "f8") for s in ("MJD_UTC", "BJD_TDB") for w in ("start", "mid", "end")
]
TGROUP = 10.0


def _slow_reference(data, gdq, starts, tgroup, ptime, thr, ends0, dnu):
    """Per-pixel, per-group restatement of the documented rules."""
    nints, ngroups, ny, nx = data.shape
    out = gdq.copy()
    ends = ends0.copy()
    flag = PERS | (DNU if dnu else 0)
    for y in range(ny):
        for x in range(nx):
            end = ends[y, x]
            for i in range(nints):
                nsat = 0
                for g in range(ngroups):
                    now = starts[i] + (g + 1) * tgroup
                    if end < now:
                        end = 0.0
                    if gdq[i, g, y, x] & SAT:
                        nsat += 1
                    if nsat == 1:
                        end = now + ptime
                    if thr is not None and data[i, g, y, x] > thr and end == 0.0:
                        end = now + ptime
                    if end > now + ptime:
                        end = 0.0
                    if end > 0:
                        out[i, g, y, x] |= flag
            ends[y, x] = end
    return out, ends


def _ramp_case(seed=5, nints=3, ngroups=5, ny=6, nx=7):
    rng = np.random.default_rng(seed)
    data = rng.uniform(0, 1000, (nints, ngroups, ny, nx)).astype(np.float32)
    gdq = np.zeros(data.shape, dtype=np.uint8)
    first = rng.integers(0, ngroups + 3, (nints, ny, nx))
    for g in range(ngroups):
        gdq[:, g][g >= first] |= SAT
    # A few non-monotonic saturation flags exercise the "count reaches one" rule.
    gdq[1, 3, 0, 0] = SAT
    gdq[1, 4, 0, 0] = 0
    starts = mjd_to_unix(T0_MJD) + np.arange(nints) * (ngroups * TGROUP + 7.0)
    return data, gdq, starts


@pytest.mark.parametrize("thr", [None, 900.0])
@pytest.mark.parametrize("ptime", [15.0, 60.0, 500.0])
@pytest.mark.parametrize("dnu", [False, True])
def test_kernel_matches_per_pixel_loop(thr, ptime, dnu):
    data, gdq, starts = _ramp_case()
    ends0 = np.zeros(data.shape[-2:])
    ends0[2, 3] = starts[0] + 25.0  # a window carried in from an earlier exposure
    ends0[4, 4] = starts[0] + 10 * ptime  # ends too late: discarded ("backwards")
    want, want_ends = _slow_reference(data, gdq, starts, TGROUP, ptime, thr, ends0, dnu)
    got, got_ends = flag_persistence(
        data, gdq, integration_starts=starts, group_time=TGROUP, persistence_time=ptime,
        dn_threshold=thr, window_ends=ends0, do_not_use=dnu,
    )  # fmt: skip
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(got_ends, want_ends)
    assert got is not gdq and not np.shares_memory(got_ends, ends0)
    assert np.any(got & PERS)


def test_kernel_window_closes_after_persistence_time():
    """One pixel saturates in group 1 of integration 1: flagged for persistence_time only."""
    data = np.zeros((2, 4, 1, 1), dtype=np.float32)
    gdq = np.zeros(data.shape, dtype=np.uint8)
    gdq[0, 1:, 0, 0] = SAT
    starts = np.array([0.0, 40.0])
    out, ends = flag_persistence(
        data, gdq, integration_starts=starts, group_time=TGROUP, persistence_time=45.0
    )
    # Window opens at t=20 (group 1), ends at 65: groups read at 20..40 and 50, 60 flagged.
    assert [bool(v & PERS) for v in out[:, :, 0, 0].ravel()] == [
        False, True, True, True, True, True, False, False,
    ]  # fmt: skip
    assert ends[0, 0] == 0.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"persistence_time": 0.0}, "persistence_time=0.0; expected a time > 0 s"),
        ({"group_time": -1.0}, "group_time=-1.0; expected a time > 0 s"),
        ({"integration_starts": np.zeros(3)}, r"integration_starts has shape \(3,\)"),
        ({"window_ends": np.zeros((2, 2))}, r"window_ends has shape \(2, 2\); expected"),
    ],
)
def test_kernel_bad_arguments(kwargs, match):
    args = {"integration_starts": np.zeros(2), "group_time": 1.0, "persistence_time": 5.0}
    args.update(kwargs)
    data = np.zeros((2, 3, 4, 4), dtype=np.float32)
    with pytest.raises(ValueError, match=match):
        flag_persistence(data, np.zeros(data.shape, np.uint8), **args)


def _ramp_model(data, gdq, *, with_int_times=True, detector="NRCA1"):
    nints, ngroups, ny, nx = data.shape
    m = dm.RampModel(data=data.copy(), groupdq=gdq.copy(), pixeldq=np.zeros((ny, nx), np.uint32))
    m.meta.instrument.name = "NIRCAM"
    m.meta.instrument.detector = detector
    m.meta.exposure.type = "NRC_IMAGE"
    m.meta.exposure.start_time = T0_MJD
    m.meta.exposure.group_time = TGROUP
    m.meta.exposure.integration_time = ngroups * TGROUP + 7.0
    m.meta.exposure.ngroups = ngroups
    m.meta.exposure.nints = nints
    m.meta.filename = "jw01234001001_01101_00001_nrca1_ramp.fits"
    if with_int_times:
        step = (ngroups * TGROUP + 7.0) / 86400.0
        rows = [(n + 1, T0_MJD + n * step, T0_MJD + (n + 0.5) * step, T0_MJD + (n + 1) * step,
                 0.0, 0.0, 0.0) for n in range(nints)]  # fmt: skip
        m.int_times = np.array(rows, dtype=INT_TIMES_DTYPE)
    return m


def test_step_skipped_by_default_and_failed_without_time():
    data, gdq, _ = _ramp_case()
    out = PersistenceStep.call(_ramp_model(data, gdq), disable_crds_steppars=True)
    assert out.meta.cal_step.persistence == "SKIPPED"
    out = PersistenceStep.call(_ramp_model(data, gdq), skip=False, disable_crds_steppars=True)
    assert out.meta.cal_step.persistence == "FAILED"
    np.testing.assert_array_equal(out.groupdq, gdq)


@pytest.mark.parametrize("with_int_times", [True, False])
def test_step_flags_and_chains_exposures(tmp_path, with_int_times):
    data, gdq, _ = _ramp_case()
    model = _ramp_model(data, gdq, with_int_times=with_int_times)
    pfile = tmp_path / "pers.fits"  # the extension becomes .asdf, as in the official step
    kw = {"skip": False, "persistence_time": 500, "dn_threshold": 950.0,
          "disable_crds_steppars": True}  # fmt: skip
    out = PersistenceStep.call(model, save_persistence=str(pfile), **kw)
    assert out.meta.cal_step.persistence == "COMPLETE"
    starts = mjd_to_unix(T0_MJD) + np.arange(3) * (5 * TGROUP + 7.0)
    want, want_ends = _slow_reference(data, gdq, starts, TGROUP, 500.0, 950.0,
                                      np.zeros((6, 7)), False)  # fmt: skip
    np.testing.assert_array_equal(out.groupdq, want)
    saved = tmp_path / "pers.asdf"
    got_ends = read_persistence_file(str(saved), "NRCA1", (6, 7), 500)
    np.testing.assert_allclose(got_ends, want_ends, rtol=0, atol=1e-4)  # MJD rounding
    # A later exposure 100 s after the end continues the open windows.
    later = _ramp_model(np.zeros_like(data), np.zeros_like(gdq), with_int_times=False)
    later.meta.exposure.start_time = T0_MJD + (3 * (5 * TGROUP + 7.0) + 100.0) / 86400.0
    out2 = PersistenceStep.call(later, persistence_array_file=str(saved), **kw)
    assert np.any(out2.groupdq & PERS)
    assert not np.any(out2.groupdq[:, :, want_ends == 0] & PERS)
    # Another persistence_time than the file's: the file's windows are not used.
    out3 = PersistenceStep.call(later, persistence_array_file=str(saved),
                                **{**kw, "persistence_time": 499})  # fmt: skip
    assert not np.any(out3.groupdq & PERS)


def test_persistence_file_keeps_other_detectors(tmp_path):
    path = tmp_path / "p.asdf"
    a = np.zeros((3, 3))
    a[1, 2] = 5.0
    b = np.zeros((3, 3))
    b[0, 0] = 7.0
    write_persistence_file(str(path), "NRCA1", a, filename="x", persistence_time=10)
    write_persistence_file(str(path), "NRCB1", b, filename="y", persistence_time=10)
    np.testing.assert_array_equal(read_persistence_file(str(path), "NRCA1", (3, 3), 10), a)
    np.testing.assert_array_equal(read_persistence_file(str(path), "NRCB1", (3, 3), 10), b)
    assert not read_persistence_file(str(path), "NRCA2", (3, 3), 10).any()
    assert not read_persistence_file(str(tmp_path / "none.asdf"), "NRCA1", (3, 3), 10).any()


@pytest.mark.jwst_oracle
@pytest.mark.parametrize("with_int_times", [True, False])
@pytest.mark.parametrize("dnu", [False, True])
def test_official_step_parity(tmp_path, monkeypatch, with_int_times, dnu):
    """Identical GROUPDQ and identical saved persistence windows as jwst's PersistenceStep."""
    official = pytest.importorskip("jwst.persistence")
    monkeypatch.setenv("STPIPE_DISABLE_CRDS_STEPPARS", "1")
    data, gdq, _ = _ramp_case(seed=11, nints=4, ngroups=6, ny=9, nx=8)
    prev = np.zeros((9, 8))
    prev[3, 3] = mjd_to_unix(T0_MJD) + 30.0
    prev[5, 5] = mjd_to_unix(T0_MJD) + 1e5
    for name in ("theirs", "ours"):
        write_persistence_file(str(tmp_path / f"{name}_in.asdf"), "NRCA1", prev,
                               filename="earlier", persistence_time=200)  # fmt: skip
    kw = {"skip": False, "persistence_time": 200, "dn_threshold": 920.0, "persistence_dnu": dnu}
    theirs = official.PersistenceStep.call(
        _ramp_model(data, gdq, with_int_times=with_int_times),
        persistence_array_file=str(tmp_path / "theirs_in.asdf"),
        save_persistence=str(tmp_path / "theirs_out.asdf"), **kw,
    )  # fmt: skip
    ours = PersistenceStep.call(
        _ramp_model(data, gdq, with_int_times=with_int_times),
        persistence_array_file=str(tmp_path / "ours_in.asdf"),
        save_persistence=str(tmp_path / "ours_out.asdf"), disable_crds_steppars=True, **kw,
    )  # fmt: skip
    assert theirs.meta.cal_step.persistence == ours.meta.cal_step.persistence == "COMPLETE"
    assert np.any(ours.groupdq & PERS)
    np.testing.assert_array_equal(ours.groupdq, theirs.groupdq)
    np.testing.assert_array_equal(
        read_persistence_file(str(tmp_path / "ours_out.asdf"), "NRCA1", (9, 8), 200),
        read_persistence_file(str(tmp_path / "theirs_out.asdf"), "NRCA1", (9, 8), 200),
    )
