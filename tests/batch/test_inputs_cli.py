"""Batch inputs (files, globs, associations), cluster sizing and command-line errors."""

from __future__ import annotations

import json

import pytest

from _shared_paths import REAL as _REAL
from webbcal.batch import BatchInputError, cluster_size, expand_inputs, exposure_root
from webbcal.cli import main

GiB = 2**30


def _touch(directory, *names):
    for name in names:
        (directory / name).write_bytes(b"")
    return [str(directory / n) for n in names]


def test_exposure_root():
    assert exposure_root("/d/jw01234001001_01101_00001_nrca1_uncal.fits") == (
        "jw01234001001_01101_00001_nrca1"
    )
    assert exposure_root("x_ramp.fits") == "x"


def test_globs_files_and_associations(tmp_path):
    a, b, c = _touch(tmp_path, "a_uncal.fits", "b_uncal.fits", "c_uncal.fits")
    asn = tmp_path / "asn.json"
    asn.write_text(json.dumps({"products": [{"name": "p", "members": [
        {"expname": "c_uncal.fits", "exptype": "science"},
        {"expname": "bg_uncal.fits", "exptype": "background"},
    ]}]}))  # fmt: skip
    assert expand_inputs([str(tmp_path / "[ab]_uncal.fits"), str(asn), a]) == [a, b, c]


def test_real_level2_association_members():
    path = str(_REAL / "jwst-docs-asn" / "jw00623_20210610t121508_pool_image2_o037_asn.json")
    try:
        members = expand_inputs([path])
    except BatchInputError as exc:  # pragma: no cover - shared data absent
        pytest.skip(str(exc))
    assert [m.rsplit("/", 1)[1] for m in members] == [
        "jw00623037001_02101_00001_mirimage_rate.fits"
    ]


def test_input_errors(tmp_path):
    with pytest.raises(BatchInputError, match=r"nothing\*_uncal.fits: pattern matches no file"):
        expand_inputs([str(tmp_path / "nothing*_uncal.fits")])
    (tmp_path / "x").mkdir()
    one, two = _touch(tmp_path, "y_uncal.fits", "x/y_uncal.fits")
    with pytest.raises(BatchInputError, match="have the same exposure root 'y'"):
        expand_inputs([one, two])
    asn = tmp_path / "bad.json"
    asn.write_text(json.dumps({"products": [{"members": [{"expname": "z", "exptype": "bg"}]}]}))
    with pytest.raises(BatchInputError, match="no member with exptype 'science'"):
        expand_inputs([str(asn)])


@pytest.mark.parametrize(
    ("n_tasks", "need", "cpus", "memory", "expected"),
    [
        (16, 1 * GiB, 2, 16 * GiB, 2),  # cores limit
        (16, 6 * GiB, 8, 16 * GiB, 2),  # memory limits: 13.6 GiB usable / 6 GiB
        (1, 1 * GiB, 8, 16 * GiB, 1),  # never more workers than exposures
        (4, 64 * GiB, 8, 16 * GiB, 1),  # at least one
    ],
)
def test_cluster_size(n_tasks, need, cpus, memory, expected):
    n, limit = cluster_size(n_tasks, need, cpus=cpus, memory=memory)
    assert n == expected
    assert limit == int(memory * 0.85) // n


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["calwebb_detector1", "x.fits"], "webbcal batch needs --output-dir DIR"),
        (["calwebb_detector1", "--output-dir", "o"], "needs a pipeline and at least one input"),
        (["jump", "x.fits", "--output-dir", "o"], "jump is a step; webbcal batch runs a pipeline"),
        (["calwebb_detector1", "x.fits", "--output-dir", "o", "--steps.jump.nope=1"],
         "step jump has no parameter 'nope'"),
        (["calwebb_detector1", "x.fits", "--output-dir", "o", "--workers", "0"],
         "--workers 0: expected a positive integer"),
        (["calwebb_detector1", "x.fits", "--output-dir", "o", "--memory-limit", "lots"],
         "--memory-limit lots: expected a size such as 4GB"),
        (["calwebb_detector1", "x.fits", "--output-dir", "o", "--output-file", "f"],
         "--output-file: not available in batch mode"),
    ],
)  # fmt: skip
def test_usage_errors_exit_2(argv, message, capsys):
    assert main(["batch", *argv]) == 2
    assert message in capsys.readouterr().err


def test_help(capsys):
    assert main(["batch", "--help"]) == 0
    assert "--scheduler ADDRESS" in capsys.readouterr().out
