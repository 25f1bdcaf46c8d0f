"""SkyMatchStep against jwst 3.0.0's on the identical association (offline, no CRDS pars)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from _skymatch_files import SKY, regroup

from webbcal.skymatch import SkyMatchStep

pytestmark = pytest.mark.jwst_oracle
pytest.importorskip("jwst")

#: Sky levels agree to this relative precision (measured: about 1e-8).
LEVEL_RTOL = 1e-6


def _collect(library):
    out = []
    with library:
        for i in range(len(library)):
            m = library.borrow(i)
            out.append((m.meta.background.level, m.meta.cal_step.skymatch,
                        m.meta.background.method, m.meta.background.subtracted,
                        np.array(m.data)))  # fmt: skip
            library.shelve(m, i, modify=False)
    return out


def both(asn, **kwargs):
    """(webbcal, jwst) results of skymatch on ``asn`` with the same parameters."""
    from jwst.skymatch import SkyMatchStep as OfficialSkyMatch

    from _stage2_inputs import _parity_module

    ours = _collect(SkyMatchStep.call(str(asn), disable_crds_steppars=True, **kwargs))
    with tempfile.TemporaryDirectory(prefix="webbcal_oracle_") as root:
        with _parity_module().offline_environment(Path(root)):
            theirs = _collect(OfficialSkyMatch.call(str(asn), **kwargs))
    return ours, theirs


def assert_same(ours, theirs, *, data=False):
    assert [o[1:4] for o in ours] == [t[1:4] for t in theirs]
    mine = np.array([o[0] for o in ours], float)
    official = np.array([t[0] for t in theirs], float)
    np.testing.assert_allclose(mine, official, rtol=LEVEL_RTOL, atol=1e-12)
    if data:
        for o, t in zip(ours, theirs, strict=True):
            np.testing.assert_allclose(o[4], t[4], rtol=1e-6, atol=1e-6 * max(SKY))


@pytest.mark.parametrize("method", ["match", "global+match", "local", "global"])
def test_each_method_gives_the_official_levels(dithers, method):
    assert_same(*both(dithers.asn_path, skymethod=method))


def test_subtracted_data_and_other_statistics(dithers):
    ours, theirs = both(dithers.asn_path, skymethod="global+match", subtract=True,
                        skystat="midpt", nclip=3, lsigma=3.0, usigma=2.5, binwidth=0.2,
                        upper=5.0, stepsize=40, match_down=False)  # fmt: skip
    assert_same(ours, theirs, data=True)


def test_exposure_groups(dithers, tmp_path):
    asn = regroup(dithers, tmp_path, (1, 1, 2, 2))
    ours, theirs = both(asn, skystat="mean")
    assert ours[0][0] == ours[1][0] and ours[2][0] == ours[3][0]
    assert_same(ours, theirs)


def test_user_sky_list(dithers, tmp_path):
    skylist = tmp_path / "sky.txt"
    skylist.write_text("".join(f"{p.name} {0.1 * (k + 1)}\n"
                               for k, p in enumerate(dithers.cal_paths)))  # fmt: skip
    ours, theirs = both(dithers.asn_path, skymethod="user", skylist=str(skylist), subtract=True)
    assert_same(ours, theirs, data=True)
