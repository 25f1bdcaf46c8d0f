"""calwebb_tso3 on a simulated MIRI LRS slitless transit: spec2 -> tso3 (two segments),
products, white-light depth against the truth, jwst 3.0.0 parity, bad input."""

from __future__ import annotations

import os

import numpy as np
import pytest

from webbcal.associations.asn import write_association
from webbcal.associations.from_list import asn_from_list
from webbcal.datamodels.io import InputError
from webbcal.pipeline.spec2 import Spec2Pipeline
from webbcal.pipeline.tso3 import Tso3Pipeline
from webbcal.stpipe.registry import get_step_class

_EXPO = "jw01234001001_01101_00001"
_PRODUCT = "jw01234-o001_t001_miri_p750l-slitlessprism"


#: Injected outliers (integration, row, column) on the trace: +50 x ERR.
HITS = ((2, 200, 37), (5, 300, 38), (12, 150, 36), (17, 250, 37), (17, 100, 60))


def _segments(calints, out):
    """Split a calints into -seg001 (integrations 1..10) and -seg002 (11..20), with
    outliers injected at :data:`HITS`."""
    from stdatamodels.jwst import datamodels as dm

    paths = []
    with dm.open(calints) as whole:
        for i, y, x in HITS:
            whole.data[i, y, x] += 50 * whole.err[i, y, x]
        for k, (a, b) in enumerate(((0, 10), (10, 20)), start=1):
            seg = whole.copy()
            for name in ("data", "dq", "err", "var_poisson", "var_rnoise", "var_flat"):
                setattr(seg, name, getattr(whole, name)[a:b].copy())
            seg.meta.exposure.integration_start, seg.meta.exposure.integration_end = a + 1, b
            seg.meta.exposure.segment_number = k
            seg.int_times = whole.int_times[a:b]
            path = out / f"{_EXPO}-seg{k:03d}_mirimage_calints.fits"
            seg.meta.filename = path.name
            seg.save(path)
            paths.append(path)
        (out / "whole").mkdir()
        whole.save(out / "whole" / calints.name)
    return paths


def _asn(paths, out, name="tso3_asn.json", product=_PRODUCT):
    asn = asn_from_list([os.fspath(p.name) for p in paths], product_name=product,
                        acid="o001")  # fmt: skip
    return write_association(asn, out / name)


@pytest.fixture(scope="module")
def series(lrs_transit, tmp_path_factory):
    """calints of the 20-integration transit, its two segments and their association."""
    case, curve = lrs_transit
    root = tmp_path_factory.mktemp("tso3")
    Spec2Pipeline.call(os.fspath(case.rateints), steps=case.pipeline_steps(),
                       save_results=True, output_dir=os.fspath(root))  # fmt: skip
    calints = root / f"{_EXPO}_mirimage_calints.fits"
    segs = _segments(calints, root)
    return case, curve, calints, segs, _asn(segs, root)


@pytest.fixture(scope="module")
def ours(series, tmp_path_factory):
    case, _, _, _, asn = series
    out = tmp_path_factory.mktemp("tso3_ours")
    pipe_steps = {"extract_1d": case.overrides("extract_1d")}
    x1d = Tso3Pipeline.call(os.fspath(asn), steps=pipe_steps, save_results=True,
                            output_dir=os.fspath(out))  # fmt: skip
    return x1d, out


def test_products(ours, series):
    from astropy.table import QTable
    from stdatamodels.jwst import datamodels as dm

    x1d, out = ours
    assert get_step_class("calwebb_tso3") is Tso3Pipeline
    assert sorted(os.listdir(out)) == sorted([
        f"{_EXPO}-seg001_mirimage_o001_crfints.fits",
        f"{_EXPO}-seg002_mirimage_o001_crfints.fits",
        f"{_PRODUCT}_x1dints.fits", f"{_PRODUCT}_whtlt.ecsv",
    ])  # fmt: skip
    with dm.open(out / f"{_PRODUCT}_x1dints.fits") as saved:
        assert isinstance(saved, dm.TSOMultiSpecModel) and len(saved.spec) == 2
        ints = np.concatenate([s.spec_table["INT_NUM"] for s in saved.spec])
        np.testing.assert_array_equal(ints, np.arange(1, 21))
        assert [s.spec_table["SEGMENT"][0] for s in saved.spec] == [1, 2]
        assert len(saved.int_times) == 20
        np.testing.assert_array_equal(saved.int_times["integration_number"], np.arange(1, 21))
    outlier = 16  # OUTLIER
    for seg in (1, 2):
        with dm.open(out / f"{_EXPO}-seg{seg:03d}_mirimage_o001_crfints.fits") as crf:
            assert crf.meta.cal_step.outlier_detection == "COMPLETE"
            assert crf.data.shape[0] == 10
            flagged = set(zip(*np.nonzero(crf.dq & outlier), strict=True))
            hits = {(i - 10 * (seg - 1), y, x) for i, y, x in HITS if (i // 10) == seg - 1}
            assert hits <= flagged and len(flagged - hits) <= 3, (hits, flagged)
    table = QTable.read(out / f"{_PRODUCT}_whtlt.ecsv", format="ascii.ecsv")
    assert table.colnames == ["MJD_UTC", "BJD_TDB", "whitelight_flux"]
    assert len(table) == 20 and table.meta["number_of_integrations"] == 20
    assert np.all(np.diff(table["MJD_UTC"]) > 0)


def test_segments_equal_the_whole_exposure(ours, series, tmp_path):
    """Segments give the white-light curve of the unsplit exposure (same flags here)."""
    case, _, calints, _, _ = series
    x1d, out = ours
    whole = Tso3Pipeline.call(os.fspath(calints.parent / "whole" / calints.name),
                              steps={"extract_1d": case.overrides("extract_1d")})  # fmt: skip
    a = np.concatenate([s.spec_table["FLUX"] for s in x1d.spec])
    b = whole.spec[0].spec_table["FLUX"]
    np.testing.assert_allclose(a, b, rtol=1e-12, equal_nan=True)


def test_command_line(series, ours, tmp_path):
    """``webbcal run calwebb_tso3 <asn>``: the same products as the Python call."""
    from webbcal.cli import main

    case, _, _, _, asn = series
    _, out = ours
    args = ["run", "calwebb_tso3", os.fspath(asn), "--output-dir", os.fspath(tmp_path),
            "--quiet"]  # fmt: skip
    args += [f"--steps.extract_1d.{k}={v}" for k, v in case.overrides("extract_1d").items()]
    assert main(args) == 0
    assert sorted(os.listdir(tmp_path)) == sorted(os.listdir(out))


def test_white_light_depth(ours, series):
    from astropy.table import QTable

    _, curve, _, _, _ = series
    x1d, out = ours
    flux = QTable.read(out / f"{_PRODUCT}_whtlt.ecsv", format="ascii.ecsv")
    flux = flux["whitelight_flux"].value
    inside, outside = flux[curve < 1], flux[curve == 1]
    depth = 1 - inside.mean() / outside.mean()
    sigma = np.hypot(inside.std(ddof=1) / np.sqrt(inside.size),
                     outside.std(ddof=1) / np.sqrt(outside.size)) / outside.mean()  # fmt: skip
    assert 0 < sigma < 2e-3 and abs(depth - 0.01) < 3 * sigma, (depth, sigma)


def test_bad_input(series, tmp_path):
    from stdatamodels.jwst import datamodels as dm

    case, _, calints, segs, _ = series
    other = tmp_path / segs[1].name
    with dm.open(segs[1]) as seg:
        seg.meta.target.catalog_name = "ANOTHER-STAR"
        seg.save(other)
    first = tmp_path / segs[0].name
    with dm.open(segs[0]) as seg:
        seg.save(first)
    asn = _asn([first, other], tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(InputError, match="ANOTHER-STAR"):
        Tso3Pipeline.call(os.fspath(asn), steps={"extract_1d": case.overrides("extract_1d")},
                          save_results=True, output_dir=os.fspath(out))  # fmt: skip
    assert os.listdir(out) == []
    with dm.open(calints) as model:
        model.meta.visit.tsovisit = False
        model.meta.exposure.type = "MIR_IMAGE"
        with pytest.raises(InputError, match="not time-series data"):
            Tso3Pipeline.call(model, steps={"extract_1d": case.overrides("extract_1d")})


@pytest.mark.jwst_oracle
def test_parity_with_jwst(ours, series, tmp_path):
    pytest.importorskip("jwst")
    from _lrs_oracle import official_call
    from astropy.table import QTable
    from jwst.pipeline import Tso3Pipeline as Official
    from stdatamodels.jwst import datamodels as dm

    case, _, _, _, asn = series
    x1d, out = ours
    offline = type("OfflineTso3", (Official,), {"prefetch_references": False})
    steps = {"extract_1d": case.official_overrides("extract_1d")}
    official_call(offline, os.fspath(asn), steps=steps, save_results=True,
                  output_dir=os.fspath(tmp_path))  # fmt: skip
    assert sorted(p for p in os.listdir(tmp_path) if not p.endswith(".json")) == sorted(
        os.listdir(out))  # fmt: skip
    theirs = QTable.read(tmp_path / f"{_PRODUCT}_whtlt.ecsv", format="ascii.ecsv")
    mine = QTable.read(out / f"{_PRODUCT}_whtlt.ecsv", format="ascii.ecsv")
    assert mine.colnames == theirs.colnames
    np.testing.assert_allclose(mine["MJD_UTC"], theirs["MJD_UTC"], rtol=1e-12)
    np.testing.assert_allclose(mine["whitelight_flux"].value, theirs["whitelight_flux"].value,
                               rtol=1e-5)  # fmt: skip
    assert mine.meta["number_of_integrations"] == theirs.meta["number_of_integrations"]
    for seg in (1, 2):
        name = f"{_EXPO}-seg{seg:03d}_mirimage_o001_crfints.fits"
        with dm.open(out / name) as a, dm.open(tmp_path / name) as b:
            assert np.mean(a.dq == b.dq) >= 0.999
    with dm.open(tmp_path / f"{_PRODUCT}_x1dints.fits") as b:
        assert len(b.spec) == len(x1d.spec)
        for sa, sb in zip(x1d.spec, b.spec, strict=True):
            fa, fb = sa.spec_table["FLUX"], sb.spec_table["FLUX"]
            assert np.nanmedian(np.abs(fa / fb - 1)) < 1e-4
            np.testing.assert_array_equal(sa.spec_table["INT_NUM"], sb.spec_table["INT_NUM"])
