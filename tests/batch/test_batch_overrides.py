"""``webbcal batch`` accepts what ``webbcal run`` accepts: every reference overridden,
offline, with no CRDS context cached at all."""

from __future__ import annotations

import os
import re

import numpy as np
import pytest
from astropy.io import fits

from webbcal.batch import run_batch
from webbcal.batch.plan import plan_exposures
from webbcal.crds_client import CrdsUnavailableError, crds_environment
from webbcal.crds_client.client import CRDS_SETUP_HELP
from webbcal.pipeline import Detector1Pipeline

distributed = pytest.importorskip("distributed")

ARRAYS = ("SCI", "ERR", "DQ", "VAR_POISSON", "VAR_RNOISE")


def _overrides(refdir):
    """Every reference of the NIRCam detector1 steps, overridden with the simulated ones."""
    ref = {
        r: str(next(refdir.glob(f"*_{r}.fits")))
        for r in (
            "mask",
            "saturation",
            "superbias",
            "ipc",
            "linearity",
            "dark",
            "gain",
            "readnoise",
        )
    }
    return {
        "dq_init": {"override_mask": ref["mask"]},
        "saturation": {"override_saturation": ref["saturation"],
                       "override_superbias": ref["superbias"]},
        "ipc": {"override_ipc": ref["ipc"]},
        "superbias": {"override_superbias": ref["superbias"]},
        "linearity": {"override_linearity": ref["linearity"]},
        "dark_current": {"override_dark": ref["dark"]},
        "jump": {"override_gain": ref["gain"], "override_readnoise": ref["readnoise"]},
        "ramp_fit": {"override_gain": ref["gain"], "override_readnoise": ref["readnoise"]},
        "gain_scale": {"override_gain": ref["gain"]},
    }  # fmt: skip


@pytest.fixture(scope="module")
def program(tmp_path_factory, program_builder):
    """One SUB64P exposure (its references are given explicitly, its CRDS cache unused)."""
    return program_builder(tmp_path_factory.mktemp("program"), {"SUB64P": 1}, ngroups=3)


def test_batch_runs_with_every_reference_overridden_and_no_crds(program, tmp_path):
    steps = _overrides(program.crds_path.parent / "refs" / "SUB64P")
    empty = tmp_path / "empty_cache"
    empty.mkdir()
    path = str(program.uncal[0])
    out, serial = tmp_path / "batch", tmp_path / "serial"
    cfg = empty / "config" / "jwst" / "server_config"
    unavailable = (
        "CRDS is unavailable: CRDS is set to work offline (CRDS_SERVER_URL empty or serverless) "
        f"and the cache at CRDS_PATH='{empty}' cannot be used (server_config missing: {cfg}). "
        f"{CRDS_SETUP_HELP} Detail: [Errno 2] No such file or directory: '{cfg}'"
    )
    with crds_environment(empty):
        # A reference that is not overridden still needs CRDS, and says so.
        partial = {k: v for k, v in steps.items() if k != "dark_current"}
        _, failures = plan_exposures(Detector1Pipeline, [path], output_dir=str(out),
                                     overrides={"steps": partial}, use_crds_pars=False)  # fmt: skip
        assert [f.error for f in failures] == [unavailable + " [CrdsUnavailableError]"]
        with pytest.raises(CrdsUnavailableError, match=re.escape(unavailable) + "$"):
            Detector1Pipeline.call(path, output_dir=str(serial), disable_crds_steppars=True,
                                   progress=False, steps=partial)  # fmt: skip

        Detector1Pipeline.call(path, output_dir=str(serial), save_results=True,
                               disable_crds_steppars=True, progress=False, steps=steps)  # fmt: skip
        with distributed.Client(processes=False, n_workers=1, threads_per_worker=1,
                                dashboard_address=":0") as client:  # fmt: skip
            result = run_batch([path], output_dir=out, client=client, steps=steps,
                               use_crds_pars=False)  # fmt: skip
    assert result.ok, result.summary()
    assert [o.status for o in result.outcomes] == ["succeeded"]
    names = sorted(n for n in os.listdir(out) if n.endswith(".fits"))
    assert names == sorted(os.listdir(serial)) and len(names) == 2
    for name in names:
        with fits.open(out / name) as hb, fits.open(serial / name) as hs:
            for ext in ARRAYS:
                np.testing.assert_array_equal(hb[ext].data, hs[ext].data, err_msg=name)
            assert hb[0].header["R_DARK"] == hs[0].header["R_DARK"]
            assert hb[0].header["R_DARK"].endswith("_sim_dark.fits")


@pytest.mark.parametrize("env, expected", [(None, True), ("1", False), ("true", False)])
def test_batch_honours_the_crds_pars_environment_switch(tmp_path, monkeypatch, env, expected):
    """WEBBCAL_/STPIPE_DISABLE_CRDS_STEPPARS turn the pars-* lookup off as for webbcal run."""
    import webbcal.batch.runner as runner

    seen = []

    def fake_plan(cls, paths, **kwargs):
        seen.append(kwargs["use_crds_pars"])
        return [], []

    monkeypatch.setattr(runner, "plan_exposures", fake_plan)
    for name in ("WEBBCAL_DISABLE_CRDS_STEPPARS", "STPIPE_DISABLE_CRDS_STEPPARS"):
        monkeypatch.delenv(name, raising=False)
    if env is not None:
        monkeypatch.setenv("STPIPE_DISABLE_CRDS_STEPPARS", env)
    exposure = tmp_path / "jw01234001001_01101_00001_nrca1_uncal.fits"
    exposure.write_bytes(b"")
    run_batch([str(exposure)], output_dir=tmp_path / "out", pipeline="calwebb_detector1")
    assert seen == [expected]


def test_planning_asks_for_an_unavailable_context_once(program, tmp_path, monkeypatch):
    """Every reference overridden, CRDS unavailable: one question (and one "No CRDS context"
    log line) per batch, not one per exposure."""
    import webbcal.crds_client as crds_client

    steps = _overrides(program.crds_path.parent / "refs" / "SUB64P")
    empty = tmp_path / "empty_cache"
    empty.mkdir()
    asked = []
    real = crds_client.get_context_name

    def counting(*args, **kwargs):
        asked.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(crds_client, "get_context_name", counting)
    paths = []
    for k in range(3):
        paths.append(tmp_path / f"jw01234001001_01101_0000{k + 1}_nrca1_uncal.fits")
        paths[-1].write_bytes(program.uncal[0].read_bytes())
    with crds_environment(empty):
        tasks, failures = plan_exposures(
            Detector1Pipeline, [str(p) for p in paths], output_dir=str(tmp_path / "out"),
            overrides={"steps": steps}, use_crds_pars=False,
        )  # fmt: skip
    assert failures == [] and len(tasks) == 3
    assert [t.context for t in tasks] == [None, None, None]
    assert len(asked) == 1
