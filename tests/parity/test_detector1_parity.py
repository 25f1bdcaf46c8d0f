"""Step-by-step parity of webbcal's calwebb_detector1 with the official jwst 3.0.0 pipeline.

Both sides get identical inputs (simulated exposures) and identical references (every
one through ``override_<reftype>``; the official pipeline runs offline from a CRDS cache
holding only its server configuration). Per case, three chains are compared (see
``_parity.run_chains``): each webbcal step on the official previous-step output
(*isolated*: the step alone), and the webbcal and official chains each fed their own
previous output (*chained*: accumulated differences).

Tolerances
----------
* Ramp steps (dq_init ... jump): SCI within ``1e-5 |official| + 1e-3 DN`` (the absolute
  term covers float32 round-off of values near zero: refpix means summed in another
  order differ by ~1e-6 DN; 1e-3 DN is 1e-4 of the read noise); NaNs at the same
  places; PIXELDQ and GROUPDQ identical in at least 99.9% of the elements.
* ramp_fit isolated: every array within ``1e-5`` relative to ``max(|official|, scale)``
  with ``scale`` the official ERR (SCI, ERR) or total variance (VAR_*), so that rates
  and variances near zero are compared at 1e-5 of their uncertainty.
* Final rate / rateints chained: the same with ``1e-4``, on good pixels (DQ == 0 on
  both sides); DQ identical in at least 99.9% of the pixels.

Deliberate difference
---------------------
The official DarkCurrentStep (jwst 3.0.0, ``DarkCurrentStep.set_average_dark_current``)
compares ``np.shape(input_model.average_dark_current)`` with the reference's 2-D
``average_dark_current`` before copying it; on a RampModel whose
``average_dark_current`` was never set that shape is ``()``, so it logs "DarkModel
average_dark_current does not match shape of data" and drops the reference's 2-D dark
current. ramp_fit then uses a zero dark current in the Poisson variance. webbcal
applies the reference's 2-D array as the official documentation describes (step
parameter > 2-D reference array > reference scalar). The chained VAR_POISSON/ERR are
therefore compared with the official ramp_fit run on the official ramp *given* the
reference's 2-D array, and the difference itself is asserted.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("jwst")

from _parity import (
    CASES,
    IMAGE_ARRAYS,
    dq_agreement,
    nan_mismatch,
    offline_environment,
    run_official_pipeline,
    run_webbcal_pipeline,
    snapshot,
)

from webbcal.dqflags import SATURATED

pytestmark = pytest.mark.jwst_oracle

#: Relative tolerance of the deterministic ramp steps and of ramp_fit on identical input.
RTOL_STEP = 1e-5
#: Absolute tolerance (DN) of the ramp steps, for float32 round-off near zero.
ATOL_RAMP_DN = 1e-3
#: Relative tolerance of the chained final rate products.
RTOL_RATE = 1e-4
#: Required fraction of identical DQ values.
DQ_AGREEMENT = 0.999

RAMP_STEPS = (
    "dq_init", "saturation", "ipc", "superbias", "refpix", "linearity", "dark_current",
    "charge_migration", "jump",
)  # fmt: skip
#: cal_step keyword of each alias.
STATUS = {"dark_current": "dark_sub"}


def _ramp_cases():
    for name, (_, chain_kw) in CASES.items():
        for alias in RAMP_STEPS:
            if alias == "charge_migration" and not chain_kw.get("charge_migration"):
                continue
            yield pytest.param(name, alias, id=f"{name}-{alias}")


def _products():
    for name in CASES:
        for product in ("rate", "rateints"):
            yield pytest.param(name, product, id=f"{name}-{product}")


def _assert_ramp_close(ours: dict, official: dict, where: str) -> None:
    a = ours["data"].astype(np.float64)
    b = official["data"].astype(np.float64)
    assert a.shape == b.shape, where
    assert nan_mismatch(a, b) == 0, f"{where}: NaNs at different places"
    finite = np.isfinite(b)
    excess = np.abs(a - b)[finite] - (RTOL_STEP * np.abs(b[finite]) + ATOL_RAMP_DN)
    if excess.size and excess.max() > 0:
        idx = np.argwhere(finite)[np.argmax(excess)]
        raise AssertionError(
            f"{where}: SCI differs at {tuple(idx)}: webbcal {a[tuple(idx)]!r}, "
            f"official {b[tuple(idx)]!r}; {int((excess > 0).sum())} elements beyond tolerance"
        )
    for name in ("groupdq", "pixeldq"):
        agree = dq_agreement(ours[name], official[name])
        assert agree >= DQ_AGREEMENT, f"{where}: {name} agrees in {agree:.5f} only"
    assert ("zeroframe" in ours) == ("zeroframe" in official), where
    if "zeroframe" in official:
        a, b = ours["zeroframe"].astype(np.float64), official["zeroframe"].astype(np.float64)
        assert nan_mismatch(a, b) == 0, f"{where}: ZEROFRAME NaNs at different places"
        np.testing.assert_allclose(a, b, rtol=RTOL_STEP, atol=ATOL_RAMP_DN, err_msg=where)


def _scale(official: dict, name: str) -> np.ndarray:
    if name in ("data", "err"):
        return np.abs(official["err"]).astype(np.float64)
    return np.abs(official["var_poisson"] + official["var_rnoise"]).astype(np.float64)


def _assert_image_close(ours, official, where, *, rtol, names=None, good=None) -> None:
    agree = dq_agreement(ours["dq"], official["dq"])
    assert agree >= DQ_AGREEMENT, f"{where}: DQ agrees in {agree:.5f} only"
    if good is None:
        good = np.ones(official["dq"].shape, bool)
    for name in names or ("data", "err", "var_poisson", "var_rnoise"):
        a = ours[name].astype(np.float64)
        b = official[name].astype(np.float64)
        assert nan_mismatch(a, b, good) == 0, f"{where}: {name} NaNs at different places"
        use = good & np.isfinite(b)
        tol = rtol * np.maximum(np.abs(b), _scale(official, name))
        excess = (np.abs(a - b) - tol)[use]
        if excess.size and excess.max() > 0:
            idx = tuple(np.argwhere(use)[np.argmax(excess)])
            raise AssertionError(
                f"{where}: {name} differs at {idx}: webbcal {a[idx]!r}, official {b[idx]!r}; "
                f"{int((excess > 0).sum())} pixels beyond tolerance"
            )


def _good(ours: dict, official: dict) -> np.ndarray:
    return (ours["dq"] == 0) & (official["dq"] == 0)


# --------------------------------------------------------------------------- ramp steps


@pytest.mark.parametrize(("case", "alias"), list(_ramp_cases()))
def test_ramp_step_isolated(parity_chains, case, alias):
    """Each webbcal step on the official previous-step output matches the official step."""
    _, res = parity_chains(case)
    ours, official = res.isolated[alias], res.official[alias]
    key = STATUS.get(alias, alias)
    assert ours["status"].get(key) == official["status"].get(key)
    _assert_ramp_close(ours, official, f"{case} {alias} (isolated)")


@pytest.mark.parametrize(("case", "alias"), list(_ramp_cases()))
def test_ramp_step_chained(parity_chains, case, alias):
    """The webbcal chain agrees with the official chain after every ramp step."""
    _, res = parity_chains(case)
    ours, official = res.webbcal[alias], res.official[alias]
    key = STATUS.get(alias, alias)
    assert ours["status"].get(key) == official["status"].get(key)
    _assert_ramp_close(ours, official, f"{case} {alias} (chained)")


def test_jump_is_skipped_for_two_groups(parity_chains):
    _, res = parity_chains("nrca1_sub64p_2groups")
    assert res.official["jump"]["status"]["jump"] == "SKIPPED"
    assert res.webbcal["jump"]["status"]["jump"] == "SKIPPED"


def test_charge_migration_ran_and_flagged(parity_chains):
    """charge_migration enabled on both sides (skip=True is the default of both)."""
    _, res = parity_chains("nrca1_sub160p_medium8_zeroframe_cm")
    assert res.official["charge_migration"]["status"]["charge_migration"] == "COMPLETE"
    before = res.official["dark_current"]["groupdq"]
    after = res.official["charge_migration"]["groupdq"]
    assert np.count_nonzero(after != before) > 0, "the case exercises no charge migration"


def test_zeroframe_is_processed(parity_chains):
    """The ZEROFRAME case carries a ZEROFRAME through every step, zeroed where saturated."""
    _, res = parity_chains("nrca1_sub160p_medium8_zeroframe_cm")
    zf = res.official["saturation"]["zeroframe"]
    assert np.count_nonzero(zf == 0) > 0, "no saturated ZEROFRAME pixel in the case"
    assert np.count_nonzero(res.official["saturation"]["groupdq"][:, 0] & SATURATED) > 0


# --------------------------------------------------------------------------- ramp_fit


def test_ramp_fit_uses_zeroframe(parity_chains, tmp_path):
    """ramp_fit on ramps saturated in group 0 whose ZEROFRAME is good: rate from ZEROFRAME.

    The simulator cannot make such pixels (group 0 averages 8 frames of which the first
    is the ZEROFRAME, and saturation grows to the neighbours in both), so the official
    jump output gets a valid ZEROFRAME value (1/8 of its group-0 signal) at every pixel
    saturated in group 0; both ramp_fit steps run on that same model with
    ``suppress_one_group=False`` (with the default True neither uses the ZEROFRAME).
    """
    from jwst.ramp_fitting import RampFitStep as OfficialRampFit

    from webbcal.ramp_fitting import RampFitStep

    case, res = parity_chains("nrca1_sub160p_medium8_zeroframe_cm")
    model = res.official_ramp.copy()
    sat0 = (model.groupdq[:, 0] & SATURATED) != 0
    assert sat0.sum() > 0
    model.zeroframe[sat0] = model.data[:, 0][sat0] / 8.0
    kw = {f"override_{r}": str(case.refs[r]) for r in ("readnoise", "gain")}
    kw["suppress_one_group"] = False  # the ZEROFRAME is used only then, on both sides
    with offline_environment(tmp_path / "crds"):
        official = [snapshot(m) for m in OfficialRampFit.call(model.copy(), **kw)]
        ours = [snapshot(m) for m in RampFitStep.call(model, **kw)]
    rate = official[0]["data"][sat0[0]]
    assert np.all(np.isfinite(rate)) and np.all(rate > 0)
    for n, product in enumerate(("rate", "rateints")):
        _assert_image_close(ours[n], official[n], f"ZEROFRAME {product}", rtol=RTOL_STEP)


@pytest.mark.parametrize(("case", "product"), list(_products()))
def test_ramp_fit_isolated(parity_chains, case, product):
    """webbcal ramp_fit on the official jump output: all arrays to 1e-5, DQ identical."""
    _, res = parity_chains(case)
    key = "ramp_fit" if product == "rate" else "ramp_fit_ints"
    ours, official = res.isolated[key], res.official[key]
    _assert_image_close(ours, official, f"{case} {product} (isolated)", rtol=RTOL_STEP)
    assert dq_agreement(ours["dq"], official["dq"]) == 1.0


@pytest.mark.parametrize(("case", "product"), list(_products()))
def test_gain_scale(parity_chains, case, product):
    """gain_scale (GAINFACT absent: skipped by both) leaves the products unchanged."""
    _, res = parity_chains(case)
    key = "gain_scale" if product == "rate" else "gain_scale_ints"
    before = "ramp_fit" if product == "rate" else "ramp_fit_ints"
    ours, official = res.isolated[key], res.official[key]
    assert ours["status"].get("gain_scale") == official["status"].get("gain_scale")
    assert res.webbcal[key]["status"].get("gain_scale") == official["status"].get("gain_scale")
    for name in IMAGE_ARRAYS:
        np.testing.assert_array_equal(ours[name], res.official[before][name])
        np.testing.assert_array_equal(official[name], res.official[before][name])
        np.testing.assert_array_equal(res.webbcal[key][name], res.webbcal[before][name])


@pytest.mark.parametrize(("case", "product"), list(_products()))
def test_rate_chained(parity_chains, case, product):
    """The final webbcal products match the official ones on good pixels to 1e-4.

    VAR_POISSON and ERR are compared with the official ramp_fit given the DARK
    reference's 2-D average dark current, which the official dark_current step drops
    (module docstring); SCI, VAR_RNOISE and DQ with the official chain as it is.
    """
    _, res = parity_chains(case)
    suffix = "" if product == "rate" else "_ints"
    ours, official = res.webbcal["gain_scale" + suffix], res.official["gain_scale" + suffix]
    where = f"{case} {product} (chained)"
    good = _good(ours, official)
    assert good.mean() > 0.5
    _assert_image_close(
        ours, official, where, rtol=RTOL_RATE, names=("data", "var_rnoise"), good=good
    )
    with_dark = res.official["ramp_fit+dark" + suffix]
    _assert_image_close(ours, with_dark, where + " vs official+2-D dark", rtol=RTOL_RATE,
                        good=_good(ours, with_dark))  # fmt: skip


@pytest.mark.parametrize("case", list(CASES))
def test_official_dark_current_drops_2d_average_dark(parity_chains, case):
    """Deliberate difference: webbcal keeps the DARK reference's 2-D average dark current.

    The official step leaves ``average_dark_current`` unset (module docstring), so its
    Poisson variance lacks the dark-current term: official VAR_POISSON <= webbcal's,
    strictly smaller where the rate is small.
    """
    case_obj, res = parity_chains(case)
    assert res.official["dark_current"]["average_dark_current"] is None
    from stdatamodels.jwst import datamodels as dm

    with dm.DarkModel(str(case_obj.refs["dark"])) as dark:
        expected = np.asarray(dark.average_dark_current, dtype=np.float32)
    for chain in (res.webbcal, res.isolated):
        np.testing.assert_array_equal(chain["dark_current"]["average_dark_current"], expected)
    ours, official = res.webbcal["gain_scale"], res.official["gain_scale"]
    good = _good(ours, official)
    diff = ours["var_poisson"][good].astype(np.float64) - official["var_poisson"][good]
    assert (
        diff.min() > -RTOL_RATE * np.abs(ours["var_poisson"][good] + ours["var_rnoise"][good]).max()
    )
    assert np.count_nonzero(diff > 0) > 0


# --------------------------------------------------------------------------- pipelines


@pytest.fixture(scope="module")
def pipelines(parity_chains, tmp_path_factory):
    case, res = parity_chains("nrca1_sub160p_rapid")
    work = tmp_path_factory.mktemp("pipelines")
    official = run_official_pipeline(case.uncal, case.refs, work)
    ours = run_webbcal_pipeline(case.uncal, case.refs, work)
    return res, official, ours


@pytest.mark.parametrize("product", ["rate", "rateints"])
def test_pipeline_end_to_end(pipelines, product):
    """Official Detector1Pipeline vs webbcal Detector1Pipeline on the same exposure."""
    res, official, ours = pipelines
    n = 0 if product == "rate" else 1
    suffix = "" if product == "rate" else "_ints"
    where = f"Detector1Pipeline {product}"
    # Each pipeline reproduces its own step chain exactly.
    for name in IMAGE_ARRAYS:
        np.testing.assert_array_equal(official[n][name], res.official["gain_scale" + suffix][name])
        np.testing.assert_array_equal(ours[n][name], res.webbcal["gain_scale" + suffix][name])
    good = _good(ours[n], official[n])
    _assert_image_close(
        ours[n], official[n], where, rtol=RTOL_RATE, names=("data", "var_rnoise"), good=good
    )
    with_dark = res.official["ramp_fit+dark" + suffix]
    _assert_image_close(ours[n], with_dark, where + " vs official+2-D dark", rtol=RTOL_RATE,
                        good=_good(ours[n], with_dark))  # fmt: skip
