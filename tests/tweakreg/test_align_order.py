"""The in-order alignment (``align._align_in_order``) against ``tweakwcs.imalign.align_wcs``.

Without ``expand_refcat`` the groups are aligned in the given order and the footprint
geometry of ``align_wcs`` (group polygon unions, overlap areas) changes nothing: the same
corrected WCSs (bit for bit at a grid of pixels), ``fit_info`` records, exceptions and
log messages are expected, for exposures aligned alone, in groups, without group ids,
with an empty group, with too few matches, against a reference catalog, and twice in a
row (a second fit on top of the first).
"""

from __future__ import annotations

import logging

import numpy as np
import pytest
from _tweak_inputs import MATCH
from astropy.table import Table
from stdatamodels.jwst import datamodels as dm

from webbcal.tweakreg import align

_GRID = np.meshgrid(np.linspace(0, 159, 9), np.linspace(0, 159, 9))
_OPTIONS = dict(minobj=8, fitgeom="rshift", nclip=3, sigma=(3.0, "rmse"), clip_accum=False)


@pytest.fixture(scope="module")
def inputs(dithers):
    """(wcs, wcsinfo, catalog, name) per exposure: the true star pixels, 0.02 px noise."""
    rng = np.random.default_rng(5)
    out = []
    for index, path in enumerate(dithers.cal_paths):
        with dm.open(str(path)) as model:
            wcs = model.meta.wcs
            info = model.meta.wcsinfo
            wcsinfo = {"v2_ref": info.v2_ref, "v3_ref": info.v3_ref, "roll_ref": info.roll_ref}
        ra = np.array([s.ra for s in dithers.stars])
        dec = np.array([s.dec for s in dithers.stars])
        x, y = dithers.true_wcs[index].invert(ra, dec)
        keep = np.isfinite(x) & np.isfinite(y)
        x, y = x[keep], y[keep]
        catalog = Table({"x": x + rng.normal(0, 0.02, x.size),
                         "y": y + rng.normal(0, 0.02, y.size)})  # fmt: skip
        out.append((wcs, wcsinfo, catalog, path.stem))
    return out


def _correctors(inputs, groups, empty=()):
    out = []
    for index, ((wcs, wcsinfo, catalog, name), group) in enumerate(zip(inputs, groups)):
        catalog = catalog[:0] if index in empty else catalog.copy()
        out.append(align.make_corrector(wcs, wcsinfo, catalog, group, name))
    return out


def _true_refcat(dithers):
    return Table({"RA": [s.ra for s in dithers.stars], "DEC": [s.dec for s in dithers.stars]})


#: Where each side logs the choices of reference and order (align_wcs' own records,
#: ours on the align module's logger), and the banner lines only align_wcs writes.
_ORDER_LOGGERS = ("tweakwcs.imalign", "webbcal.tweakreg.align")
_BANNER = ("started on", "Version", "ended on", "RUN TIME")


def _messages(caplog):
    """The log records of tweakwcs' fits and of the order chosen (the same messages from
    either side), without align_wcs' banner."""
    out = []
    for r in caplog.records:
        if not (r.name.startswith("tweakwcs") or r.name in _ORDER_LOGGERS):
            continue
        text = r.getMessage()
        if r.name in _ORDER_LOGGERS and (not text.strip() or any(k in text for k in _BANNER)):
            continue
        out.append(("order" if r.name in _ORDER_LOGGERS else r.name, r.levelno, text))
    caplog.clear()
    return out


def _same(a, b, where):
    if isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), where
        for key in a:
            _same(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        assert type(a) is type(b) and a.dtype == b.dtype and a.shape == b.shape, where
        assert np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"), where
    elif isinstance(a, (tuple, list)):
        assert type(a) is type(b) and len(a) == len(b), where
        for i, (p, q) in enumerate(zip(a, b)):
            _same(p, q, f"{where}[{i}]")
    else:
        assert type(a) is type(b) and (a == b or (a != a and b != b)), (where, a, b)


def _assert_same_results(ours, theirs):
    for index, (mine, official) in enumerate(zip(ours, theirs, strict=True)):
        _same(mine.meta.get("fit_info"), official.meta.get("fit_info"), f"{index}: fit_info")
        _same({k: mine.meta[k] for k in ("matrix", "shift") if k in mine.meta},
              {k: official.meta[k] for k in ("matrix", "shift") if k in official.meta},
              f"{index}: meta")  # fmt: skip
        assert mine.wcs.available_frames == official.wcs.available_frames
        sky = np.array(mine.wcs(*_GRID))
        _same(sky, np.array(official.wcs(*_GRID)), f"{index}: sky")
        _same(np.array(mine.wcs.invert(*sky)), np.array(official.wcs.invert(*sky)),
              f"{index}: pixels")  # fmt: skip


def _run_both(inputs, caplog, groups, *, refcat=None, empty=(), times=1, **options):
    from tweakwcs.imalign import align_wcs

    options = {**_OPTIONS, **options}
    theirs = _correctors(inputs, groups, empty)
    ours = _correctors(inputs, groups, empty)
    caplog.set_level(logging.DEBUG, logger="tweakwcs")
    caplog.set_level(logging.DEBUG, logger="webbcal.tweakreg.align")
    for _ in range(times):
        align_wcs(theirs, refcat=refcat, enforce_user_order=True, expand_refcat=False,
                  match=align.MatchFit(**MATCH).matcher(), **options)  # fmt: skip
        official_log = _messages(caplog)
        align._align_in_order(ours, refcat, match=align.MatchFit(**MATCH).matcher(), **options)
        assert _messages(caplog) == official_log
    _assert_same_results(ours, theirs)
    return ours


@pytest.mark.parametrize(
    ("groups", "empty", "times"),
    [
        (("a", "b", "c", "d"), (), 1),
        (("a", "b", "c", "d"), (), 2),
        (("a", "a", "b", "b"), (), 1),
        (("a", "b", "a", "b"), (), 2),
        ((None, None, None, None), (), 1),
        (("a", "b", "c", "d"), (1,), 1),
        (("a", "b", "b", "c"), (1, 2), 1),
        ((None, None, None, None), (2,), 1),
    ],
)
def test_relative_alignment_is_align_wcs(inputs, caplog, groups, empty, times):
    ours = _run_both(inputs, caplog, groups, empty=empty, times=times)
    statuses = [c.meta["fit_info"]["status"] for c in ours]
    assert statuses[0] == "REFERENCE"
    assert "SUCCESS" in statuses


def test_failed_fits_are_recorded_as_align_wcs_does(inputs, caplog):
    ours = _run_both(inputs, caplog, ("a", "b", "c", "d"), minobj=1000)
    statuses = [c.meta["fit_info"]["status"] for c in ours]
    assert statuses == ["REFERENCE"] + ["FAILED: not enough matches"] * 3


@pytest.mark.parametrize("times", [1, 2])
def test_absolute_alignment_is_align_wcs(inputs, dithers, caplog, times):
    refcat = _true_refcat(dithers)
    ours = _run_both(inputs, caplog, [align.ABSOLUTE_GROUP_ID] * 4, refcat=refcat, times=times)
    assert {c.meta["fit_info"]["status"] for c in ours} == {"SUCCESS"}
    _run_both(inputs, caplog, ("a", "b", "c", "d"), refcat=refcat, empty=(0,))


@pytest.mark.parametrize(
    ("groups", "empty", "refcat"),
    [(("a", "b", "c", "d"), (0, 1, 2), False), (("a", "a", "a", "a"), (), False),
     (("a", "b", "c", "d"), (0, 1, 2, 3), True)],
)  # fmt: skip
def test_too_few_catalogs_raise_as_align_wcs_does(inputs, dithers, caplog, groups, empty,
                                                  refcat):  # fmt: skip
    from tweakwcs.imalign import NotEnoughCatalogs, align_wcs

    refcat = _true_refcat(dithers) if refcat else None
    match = align.MatchFit(**MATCH).matcher()
    caplog.set_level(logging.DEBUG, logger="tweakwcs")
    caplog.set_level(logging.DEBUG, logger="webbcal.tweakreg.align")
    theirs = _correctors(inputs, groups, empty)
    with pytest.raises(NotEnoughCatalogs) as official:
        align_wcs(theirs, refcat=refcat, enforce_user_order=True, match=match, **_OPTIONS)
    official_log = _messages(caplog)
    ours = _correctors(inputs, groups, empty)
    with pytest.raises(NotEnoughCatalogs) as mine:
        align._align_in_order(ours, refcat, match=match, **_OPTIONS)
    assert str(mine.value) == str(official.value)
    assert _messages(caplog) == official_log
    _assert_same_results(ours, theirs)


def test_no_footprint_geometry_without_expand_refcat(inputs, dithers, monkeypatch):
    """The in-order path makes no footprint polygon, union (~0.1-15 s) or intersection."""
    from spherical_geometry.polygon import SphericalPolygon

    def refuse(*args, **kwargs):
        raise AssertionError("footprint geometry computed")

    for name in ("from_radec", "multi_union", "intersection"):
        monkeypatch.setattr(SphericalPolygon, name, refuse)
    correctors = _correctors(inputs, ("a", "b", "c", "d"))
    align.relative_align(correctors, align.MatchFit(**MATCH))
    assert [c.meta["fit_info"]["status"] for c in correctors] == ["REFERENCE"] + ["SUCCESS"] * 3
    align.absolute_align(correctors, _true_refcat(dithers), align.MatchFit(**MATCH))
    assert {c.meta["fit_info"]["status"] for c in correctors} == {"SUCCESS"}
    with pytest.raises(AssertionError, match="footprint geometry computed"):
        align.relative_align(_correctors(inputs, ("a", "b", "c", "d")),
                             align.MatchFit(**MATCH), expand_refcat=True)  # fmt: skip
