"""The ``webbcal`` console script exits promptly, after the usual exit handlers."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=120)  # fmt: skip


def test_prompt_exit_runs_exit_handlers_and_flushes(tmp_path):
    log = tmp_path / "x.log"
    done = _run(f"""
        import atexit, logging, sys, weakref
        from webbcal.cli import _exit_promptly
        atexit.register(lambda: print("atexit handler ran"))
        class Box: pass
        box = Box()
        weakref.finalize(box, print, "finalizer ran")
        handler = logging.FileHandler({str(log)!r}, delay=False)
        logging.getLogger("t").addHandler(handler)
        logging.getLogger("t").error("logged before the exit")
        print("x" * 100000, end="")  # block-buffered stdout: flushed at the exit
        print()
        print("to stderr", file=sys.stderr)
        _exit_promptly(3)
        print("never reached")
    """)
    assert done.returncode == 3, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "x" * 100000
    assert set(lines[1:]) == {"atexit handler ran", "finalizer ran"}
    assert "never reached" not in done.stdout
    assert done.stderr.strip() == "to stderr"
    assert log.read_text() == "logged before the exit\n"


def test_prompt_exit_waits_for_a_running_thread_as_a_normal_exit_does():
    done = _run("""
        import threading, time
        from webbcal.cli import _exit_promptly
        def work():
            time.sleep(0.5)
            print("thread finished")
        threading.Thread(target=work).start()
        _exit_promptly(4)
    """)
    assert done.returncode == 4, done.stderr
    assert done.stdout.strip() == "thread finished"


def test_console_script_uses_the_prompt_exit():
    from importlib.metadata import entry_points

    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "webbcal"]
    assert script.value == "webbcal.cli:entry"
    done = subprocess.run([sys.executable, "-m", "webbcal.cli", "--version"], capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0 and done.stdout.startswith("webbcal ")
