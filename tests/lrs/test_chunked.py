"""calwebb_spec2 and calwebb_tso3 in chunks of integrations (``memory_limit``): products
bit-identical to the whole-array path, and peak memory independent of the number of
integrations."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from stdatamodels.jwst import datamodels as dm

from webbcal.associations.asn import write_association
from webbcal.associations.from_list import asn_from_list
from webbcal.lib.cubeio import chunk_integrations
from webbcal.pipeline.chunked import DEFAULT_MEMORY_LIMIT
from webbcal.pipeline.spec2 import Spec2Pipeline
from webbcal.pipeline.streaming import parse_memory
from webbcal.pipeline.tso3 import Tso3Pipeline

_ROOT = "jw01234001001_01101_00001_mirimage"
_ARRAYS = ("data", "dq", "err", "var_poisson", "var_rnoise", "var_flat", "wavelength")
#: A limit that leaves room for one integration per chunk (several chunks; see
#: :func:`webbcal.lib.cubeio.chunk_integrations`).
_TINY = "265MB"
#: Outliers injected into the calints (integration, row, column): +50 x ERR.
_HITS = ((2, 200, 37), (9, 300, 38), (17, 150, 36))


def _assert_same_arrays(a, b):
    for attr in _ARRAYS:
        x, y = getattr(a, attr), getattr(b, attr)
        assert x.shape == y.shape, attr
        np.testing.assert_array_equal(x, y, err_msg=attr)  # NaN equal NaN here


def _assert_same_spectra(path_a, path_b):
    with dm.open(path_a) as a, dm.open(path_b) as b:
        assert len(a.spec) == len(b.spec)
        for sa, sb in zip(a.spec, b.spec, strict=True):
            ta, tb = sa.spec_table, sb.spec_table
            assert ta.dtype.names == tb.dtype.names
            for col in ta.dtype.names:
                np.testing.assert_array_equal(ta[col], tb[col], err_msg=col)
        np.testing.assert_array_equal(a.int_times, b.int_times)


@pytest.fixture(scope="module")
def runs(lrs_transit, tmp_path_factory):
    """spec2 then tso3 on the 20-integration transit, whole and in chunks of one."""
    case, _ = lrs_transit
    out = {}
    for label, limit in (("whole", "30GB"), ("chunked", _TINY)):
        root = tmp_path_factory.mktemp(f"chunk_{label}")
        cal = Spec2Pipeline.call(os.fspath(case.rateints), steps=case.pipeline_steps(),
                                 save_results=True, output_dir=os.fspath(root),
                                 memory_limit=limit)  # fmt: skip
        shape = cal.data.shape
        cal.close()
        calints = root / f"{_ROOT}_calints.fits"
        t3 = root / "tso3"
        t3.mkdir()
        with dm.open(calints) as model:
            for i, y, x in _HITS:
                model.data[i, y, x] += 50 * model.err[i, y, x]
            model.save(t3 / calints.name)
        asn = write_association(asn_from_list([calints.name], product_name="p", acid="o001"),
                                t3 / "asn.json")  # fmt: skip
        Tso3Pipeline.call(asn, steps={"extract_1d": case.overrides("extract_1d")},
                          save_results=True, output_dir=os.fspath(t3),
                          memory_limit=limit)  # fmt: skip
        out[label] = (root, t3, shape)
    return out


def test_spec2_chunked_equals_whole(runs):
    (whole, _, whole_shape), (chunked, _, chunked_shape) = runs["whole"], runs["chunked"]
    assert whole_shape == (20, 416, 72)
    assert chunked_shape == (1, 416, 72)  # returned placeholders: chunked path taken
    assert sorted(os.listdir(whole)) == sorted(os.listdir(chunked))
    with (
        dm.open(whole / f"{_ROOT}_calints.fits") as a,
        dm.open(chunked / f"{_ROOT}_calints.fits") as b,
    ):
        _assert_same_arrays(a, b)
        assert b.meta.cal_step.photom == b.meta.cal_step.flat_field == "COMPLETE"
        assert a.meta.bunit_data == b.meta.bunit_data == "MJy/sr"
    _assert_same_spectra(whole / f"{_ROOT}_x1dints.fits", chunked / f"{_ROOT}_x1dints.fits")


def test_tso3_chunked_equals_whole(runs):
    a3, b3 = runs["whole"][1], runs["chunked"][1]
    assert sorted(os.listdir(a3)) == sorted(os.listdir(b3))
    name = f"{_ROOT}_o001_crfints.fits"
    with dm.open(a3 / name) as a, dm.open(b3 / name) as b:
        _assert_same_arrays(a, b)
        flagged = (b.dq & 16) != 0  # OUTLIER
        assert all(flagged[i, y, x] for i, y, x in _HITS)
        assert b.meta.cal_step.outlier_detection == "COMPLETE"
    _assert_same_spectra(a3 / "p_x1dints.fits", b3 / "p_x1dints.fits")
    assert (a3 / "p_whtlt.ecsv").read_text() == (b3 / "p_whtlt.ecsv").read_text()


def _peak(case, out: Path, limit: str) -> int:
    script = Path(__file__).with_name("_chunked_memory.py")
    steps = {s: case.overrides(s) for s in ("assign_wcs", "flat_field", "photom", "extract_1d")}
    env = dict(os.environ, WEBBCAL_DISABLE_CRDS_STEPPARS="1", CRDS_SERVER_URL="")
    proc = subprocess.run(
        [sys.executable, os.fspath(script), os.fspath(case.rateints), os.fspath(out),
         json.dumps(steps), limit],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    return int(proc.stdout.strip().splitlines()[-1])


def test_peak_memory_independent_of_nints(make_lrs):
    """50 and 300 integrations under a 400MB limit (both in chunks: 47 and 21
    integrations): the peak RSS of spec2 + tso3 grows by far less than one copy of the
    extra integrations' arrays (the whole-array path holds several); what grows is the
    x1dints spectra and the outlier mask (about 0.25 MB per integration, against 0.72 MB
    of arrays per integration)."""
    limit = "400MB"
    for nints in (50, 300):
        assert chunk_integrations(nints, 416 * 72, parse_memory(limit)) < nints
    peaks = {}
    for nints in (50, 300):
        case = make_lrs(f"n{nints}", nints=nints, noise=0.5)
        out = case.root / "out"
        out.mkdir()
        peaks[nints] = _peak(case, out, limit)
        assert (out / "p_x1dints.fits").is_file()
    growth = peaks[300] - peaks[50]
    cube = 250 * 416 * 72 * 4 * 6  # the 250 extra integrations' six float32/uint32 arrays
    assert growth < 0.5 * cube, (peaks, cube)


def test_chunk_length_at_default_limit():
    """At the default 1.4GB a 200-integration LRS series (416 x 72) runs whole (peak RSS
    measured 623 MiB, calwebb_spec2), 2000 integrations in chunks (221; peak measured
    below the limit, see benchmarks/bench_tso.py); a tighter limit gives shorter chunks."""
    frame = 416 * 72
    limit = parse_memory(DEFAULT_MEMORY_LIMIT)
    assert chunk_integrations(200, frame, limit) == 200
    long = chunk_integrations(2000, frame, limit)
    assert 150 < long < 400
    assert chunk_integrations(2000, frame, parse_memory("800MB")) < long
    assert chunk_integrations(2000, frame, parse_memory("100MB")) == 1
