"""Argument parsing shared by the ``webbcal`` tool commands."""

from __future__ import annotations

import argparse
from typing import NoReturn

from webbcal.cli import UsageError

__all__ = ["ArgumentParser"]


class ArgumentParser(argparse.ArgumentParser):
    """An argparse parser whose errors raise :class:`webbcal.cli.UsageError`.

    ``webbcal`` reports usage errors in one line with exit status 2; argparse
    would print its own text and call ``sys.exit``.
    """

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")
