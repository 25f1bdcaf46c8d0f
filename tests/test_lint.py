"""Lint and run-time import rules checked as tests."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


RUFF = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")


@pytest.mark.skipif(RUFF is None, reason="ruff not installed")
def test_ruff_clean():
    ruff = RUFF
    proc = subprocess.run([ruff, "check", "src", "tests"], cwd=ROOT, capture_output=True,
                          text=True)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_reference_implementation_is_never_imported_at_run_time():
    """Running the whole pipeline must not import jwst, stcal or stpipe."""
    code = (
        "import sys, webbcal.cli, webbcal.demo, webbcal.simulate\n"
        # webbcal.pipeline imports each pipeline's module when it is asked for.
        "import webbcal.pipeline.dark, webbcal.pipeline.detector1, webbcal.pipeline.guider\n"
        "import webbcal.pipeline.image2\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('jwst', 'stcal', 'stpipe')]\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_sources_do_not_mention_reference_packages_in_imports():
    offenders = []
    for path in (ROOT / "src" / "webbcal").rglob("*.py"):
        for line in path.read_text().splitlines():
            s = line.strip()
            if s.startswith(("import ", "from ")) and any(
                s.split()[1].split(".")[0] == pkg for pkg in ("jwst", "stcal", "stpipe")
            ):
                offenders.append(f"{path}: {s}")
    assert offenders == []


def test_test_module_names_are_unique():
    """pytest imports test modules by basename (no packages): duplicates break collection."""
    names = [p.name for p in (ROOT / "tests").rglob("*.py") if p.name != "conftest.py"]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    assert duplicates == []
