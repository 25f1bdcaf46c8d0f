"""pixel_replace against jwst 3.0.0 ``PixelReplaceStep`` on identical MIRI LRS slitless
calints (both algorithms, several ``n_adjacent_cols``, both dispersion directions)."""

from __future__ import annotations

import numpy as np
import pytest
from _pixrep import FLUX_ESTIMATED, OUTLIER, mark_bad, official_call

from webbcal.dqflags import DO_NOT_USE, NON_SCIENCE
from webbcal.pixel_replace import PixelReplaceStep

pytestmark = pytest.mark.jwst_oracle

ARRAYS = ("data", "err", "var_poisson", "var_rnoise", "var_flat")
#: Largest relative difference allowed (the implementations agree to float rounding).
RTOL = 1e-6


@pytest.fixture(scope="module")
def corrupted(noisy_calints):
    """The noisy calints with 2 % of the trace region bad (isolated pixels and clusters),
    a NON_SCIENCE pixel and a DO_NOT_USE pixel whose SCI stays finite."""
    from stdatamodels.jwst import datamodels as dm

    _, path = noisy_calints
    with dm.open(path) as model:
        bad = model.copy()
    rng = np.random.default_rng(11)
    shape = bad.data.shape
    hit = np.zeros(shape, bool)
    hit[:, 10:391, 28:50] = rng.random((shape[0], 381, 22)) < 0.02
    hit[1, 200:203, 37:39] = True  # a cluster
    mark_bad(bad, np.nonzero(hit))
    bad.dq[0, 150, 40] |= np.uint32(NON_SCIENCE | DO_NOT_USE)
    bad.data[0, 150, 40] = np.nan
    bad.dq[2, 250, 39] |= np.uint32(DO_NOT_USE)
    return bad


def _transposed(model):
    """The cube with x and y swapped and DISPAXIS=1 (dispersion along x)."""
    from stdatamodels.jwst import datamodels as dm

    arrays = {k: np.ascontiguousarray(getattr(model, k).transpose(0, 2, 1))
              for k in (*ARRAYS, "dq")}  # fmt: skip
    out = dm.CubeModel(**arrays)
    out.update(model)
    out.meta.wcsinfo.dispersion_direction = 1
    return out


@pytest.mark.parametrize(
    ("algorithm", "n", "dispaxis"),
    [("mingrad", 3, 2), ("fit_profile", 1, 2), ("fit_profile", 3, 2), ("fit_profile", 5, 2),
     ("mingrad", 3, 1), ("fit_profile", 2, 1)],
)  # fmt: skip
def test_parity_with_jwst(corrupted, algorithm, n, dispaxis):
    pytest.importorskip("jwst")
    from jwst.pixel_replace import PixelReplaceStep as Official

    model = corrupted if dispaxis == 2 else _transposed(corrupted)
    kwargs = {"skip": False, "algorithm": algorithm, "n_adjacent_cols": n}
    theirs = official_call(Official, model, **kwargs)
    mine = PixelReplaceStep.call(model, **kwargs)
    assert mine.meta.cal_step.pixel_replace == theirs.meta.cal_step.pixel_replace == "COMPLETE"
    np.testing.assert_array_equal(mine.dq, theirs.dq)
    for name in ARRAYS:
        a, b = getattr(mine, name), getattr(theirs, name)
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b), err_msg=name)
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=0, equal_nan=True, err_msg=name)
    injected = np.count_nonzero(model.dq & OUTLIER)
    replaced = np.count_nonzero(mine.dq & FLUX_ESTIMATED)
    assert 0.9 * injected < replaced <= injected + 1, (replaced, injected)
