"""The README's two set-up commands: separate environments, and CI runs the second."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _setup_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Set-up", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.*?)\n```", section, flags=re.S)


def test_demo_and_tests_use_separate_environments():
    demo, tests = _setup_commands()
    assert demo == "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/webbcal demo"
    assert tests == (
        "python3 -m venv .venv-test && .venv-test/bin/pip install -q -e '.[test]' && "
        '.venv-test/bin/python -m pytest -q -m "not slow" -n 2 --dist loadfile'
    )
    assert ".venv-test/" in (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()


def test_ci_runs_exactly_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()
    commands = [line for line in ci if line and not line.startswith("#")]
    # The README's command, then the slow tests.
    assert _setup_commands()[1] in commands
    assert commands[-1] == ".venv-test/bin/python -m pytest -q -m slow -n 2 --dist loadfile"
    assert commands[-1] in (ROOT / "README.md").read_text(encoding="utf-8")
