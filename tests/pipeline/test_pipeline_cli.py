"""The webbcal command line: official option grammar, parameter files, list, errors."""

import os
import subprocess
import sys

import asdf
import numpy as np
import pytest
from stdatamodels.jwst import datamodels as dm

from webbcal.cli import main


def _run(args, crds_path):
    env = dict(os.environ, CRDS_PATH=str(crds_path), CRDS_SERVER_URL="")
    return subprocess.run(
        [sys.executable, "-m", "webbcal.cli", *args], capture_output=True, text=True, env=env,
        timeout=600,
    )  # fmt: skip


@pytest.fixture(scope="module")
def cli_run(nircam_case, tmp_path_factory):
    out = tmp_path_factory.mktemp("cli_out")
    pars = out / "saved_pars.asdf"
    proc = _run(
        ["run", "calwebb_detector1", str(nircam_case.uncal), "--output-dir", str(out),
         "--steps.jump.rejection_threshold=5", "--save-calibrated-ramp",
         f"--steps.dark_current.override_dark={nircam_case.refs['dark']}",
         "--save-parameters", str(pars), "--quiet"],
        nircam_case.crds_path,
    )  # fmt: skip
    return proc, out, pars


def test_cli_runs_pipeline_with_official_grammar(nircam_case, cli_run):
    proc, out, _ = cli_run
    assert proc.returncode == 0, proc.stderr
    root = nircam_case.uncal.name.removesuffix("_uncal.fits")
    for suffix in ("rate", "rateints", "ramp"):
        assert (out / f"{root}_{suffix}.fits").exists(), suffix
    with dm.open(out / f"{root}_rate.fits") as rate:
        assert rate.meta.ref_file.dark.name == os.path.abspath(nircam_case.refs["dark"])


def test_save_parameters_writes_official_layout(cli_run):
    _, _, pars = cli_run
    with asdf.open(pars) as af:
        assert af.tree["class"].endswith("Detector1Pipeline")
        steps = {s["name"]: s["parameters"] for s in af.tree["steps"]}
        assert af.tree["parameters"]["save_calibrated_ramp"] is True
    assert steps["jump"]["rejection_threshold"] == 5.0


def test_config_file_round_trip(nircam_case, cli_run, tmp_path):
    _, _, pars = cli_run
    proc = _run(
        ["run", "calwebb_detector1", str(nircam_case.uncal), "--config", str(pars),
         "--output-dir", str(tmp_path), "--steps.jump.rejection_threshold=6", "-q",
         "--save-parameters", str(tmp_path / "again.asdf")],
        nircam_case.crds_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    with asdf.open(tmp_path / "again.asdf") as af:
        steps = {s["name"]: s["parameters"] for s in af.tree["steps"]}
        assert steps["jump"]["rejection_threshold"] == 6.0  # command line beats the file
        assert af.tree["parameters"]["save_calibrated_ramp"] is True  # from the file


def test_single_step_run_names_output_after_alias(nircam_case, cli_run, tmp_path):
    _, out, _ = cli_run
    root = nircam_case.uncal.name.removesuffix("_uncal.fits")
    proc = _run(
        ["run", "jump", str(out / f"{root}_ramp.fits"), "--output-dir", str(tmp_path), "-q"],
        nircam_case.crds_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / f"{root}_jump.fits").exists()


def test_list_shows_steps_and_parameters(capsys):
    assert main(["list"]) == 0
    text = capsys.readouterr().out
    assert "calwebb_detector1" in text
    assert "rejection_threshold" in text
    assert "dq_init" in text and "reftypes: mask" in text


def test_run_help_is_generated_from_declarations(capsys):
    assert main(["run", "calwebb_detector1", "--help"]) == 0
    text = capsys.readouterr().out
    assert "--steps.jump.rejection_threshold=VALUE" in text
    assert "--steps.dark_current.override_dark=VALUE" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "nosuchstep", "x.fits"], "unknown step or pipeline 'nosuchstep'"),
        (["run", "calwebb_detector1", "IN", "--steps.jmp.rejection_threshold=5"],
         "unknown step 'jmp'"),
        (["run", "calwebb_detector1", "IN", "--steps.jump.rejection_thresh=5"],
         "step jump has no parameter 'rejection_thresh'"),
        (["run", "calwebb_detector1", "IN", "--steps.jump.rejection_threshold=abc"],
         "jump.rejection_threshold='abc' is not a valid float"),
    ],
)  # fmt: skip
def test_bad_command_lines_fail_cleanly(nircam_case, args, message, capsys, tmp_path):
    args = [str(nircam_case.uncal) if a == "IN" else a for a in args]
    os.chdir(tmp_path)
    assert main(args) in (1, 2)  # 2 for command-line usage errors
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_help_starts_fast():
    code = "import sys, webbcal.cli; sys.exit(webbcal.cli.main(['--help']))"
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", code],
                          capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 0
    imported = proc.stderr
    for heavy in ("stdatamodels", "crds", "numba", "astropy"):
        assert f" {heavy}\n" not in imported and f"| {heavy}" not in imported, heavy
    assert np.isfinite(1.0)


def test_log_file_and_verbose(nircam_case, tmp_path):
    log_file = tmp_path / "run.log"
    proc = _run(
        ["run", "calwebb_detector1", str(nircam_case.uncal), "--output-dir", str(tmp_path),
         "--verbose", "--log-file", str(log_file)],
        nircam_case.crds_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    text = log_file.read_text()
    assert "Step jump running" in text
    assert "DEBUG" in text or "INFO" in text
    assert "Step jump running" in proc.stderr


def test_demo_runs_offline_and_reports(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "demo"), "--subarray", "SUB160P", "-q"]) == 0
    text = capsys.readouterr().out
    assert "CRDS context jwst_9001.pmap" in text
    assert "median (rate - true)/ERR" in text
    assert "9 stars at known RA/Dec, centroids on the cal through its WCS" in text
    products = sorted(p.name for p in (tmp_path / "demo").glob("jw*"))
    assert products == [
        f"jw01234001001_01101_00001_nrca1_{kind}"
        for kind in ("cal.fits", "i2d.fits", "i2d.png", "rate.fits", "rateints.fits",
                     "truth.npz", "uncal.fits")
    ]  # fmt: skip
    # Each reference is stored once, in the cache the demo's context serves.
    refs = sorted(p.relative_to(tmp_path / "demo") for p in (tmp_path / "demo").rglob("*_sim_*"))
    assert len(refs) == 8
    assert {str(p.parent) for p in refs} == {"crds_cache/references/jwst/nircam"}
    cache = tmp_path / "demo" / "crds_cache"
    assert text.splitlines()[-2:] == [
        f"  export CRDS_PATH={cache}",
        "  export CRDS_SERVER_URL=https://jwst-serverless-mode.stsci.edu",
    ]


def test_demo_unknown_subarray_creates_nothing(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--subarray", "FOO"]) == 2
    assert capsys.readouterr().err == (
        "webbcal: error: webbcal demo: --subarray FOO: not available for the nircam demo; "
        "expected one of FULL, SUB160P, SUB400P, SUB64P\n"
    )
    assert main(["demo", "--out", str(out), "--instrument", "miri", "--subarray", "SUB64P"]) == 2
    assert capsys.readouterr().err == (
        "webbcal: error: webbcal demo: --subarray SUB64P: not available for the miri demo; "
        "expected one of FULL, BRIGHTSKY, SUB256, SUB128, SUB64, SLITLESSPRISM, MASK1065, "
        "MASK1140, MASK1550, MASKLYOT\n"
    )
    assert not out.exists()


def test_demo_help_keeps_options_and_descriptions_apart(monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "80")
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--help"])
    assert exc.value.code == 0
    options = capsys.readouterr().out.split("options:\n", 1)[1]
    assert options.splitlines() == [
        "  -h, --help         show this help message and exit",
        "  --out DIR          output directory (default webbcal_demo)",
        "  --seed N           random seed of the simulation (default 1)",
        "  --instrument NAME  nircam (NRCA1, default), miri (the imager) or fgs (a",
        "                     guider exposure)",
        "  --subarray NAME    FULL (default) or a subarray: nircam SUB64P, SUB160P,",
        "                     SUB400P; miri SUB64, SUB128, SUB256, BRIGHTSKY...",
        "  --ngroups N        groups per integration (nircam 6, miri 10)",
        "  --nints N          integrations (nircam 1, miri 2, lrs-tso 100)",
        "  --stage N          1 (default): one exposure from raw ramps (stage 1, and",
        "                     stage 2 for NIRCam); 3: calwebb_image3 on four dithered",
        "                     NIRCam exposures (mosaic, catalog, picture)",
        "  --mode NAME        lrs-tso (with --instrument miri): a MIRI LRS slitless",
        "                     time series with a transit, stages 1-3 and a transit fit",
        "  --quiet, -q        less output",
    ]


def test_list_imports_no_heavy_modules():
    code = "import sys, webbcal.cli; webbcal.cli.main(['list']); print(sorted(sys.modules))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    loaded = proc.stdout.strip().splitlines()[-1]
    for heavy in ("'stdatamodels'", "'numba'", "'crds'", "'scipy'"):
        assert heavy not in loaded, heavy


def test_quiet_run_prints_nothing_on_success(nircam_case, tmp_path):
    proc = _run(
        ["run", "calwebb_detector1", str(nircam_case.uncal), "--output-dir", str(tmp_path), "-q"],
        nircam_case.crds_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""


def test_demo_fgs_guider(tmp_path, capsys):
    assert main(["demo", "--instrument", "fgs", "--out", str(tmp_path / "fgs"), "-q"]) == 0
    text = capsys.readouterr().out
    assert "dq_init=COMPLETE, guider_cds=COMPLETE, flat_field=COMPLETE" in text
    assert "_cal peak at x=65, y=97" in text
    assert "calwebb_image2: not run" in text


def test_external_commands_are_importable():
    import importlib

    from webbcal.cli import EXTERNAL_COMMANDS

    for name, (target, _) in EXTERNAL_COMMANDS.items():
        module, func = target.split(":")
        assert callable(getattr(importlib.import_module(module), func)), name


def test_command_in_process_leaves_logging_as_it_was(tmp_path, capsys):
    """``main`` called from Python (a notebook, a test) removes the console handler it added.

    A handler left bound to a replaced or closed ``sys.stderr`` turned every later log
    record of the process into a "--- Logging error ---" report.
    """
    import logging

    logger = logging.getLogger("webbcal")
    before = (list(logger.handlers), logger.level)
    missing = tmp_path / "missing_uncal.fits"
    assert main(["run", "calwebb_detector1", str(missing), "--log-level", "DEBUG"]) == 1
    assert "missing_uncal.fits" in capsys.readouterr().err
    assert (list(logger.handlers), logger.level) == before
    assert main(["asn", "generate", str(missing), "-v"]) != 0
    assert (list(logger.handlers), logger.level) == before
