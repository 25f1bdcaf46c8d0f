"""Argument parsing shared by the ``webbcal`` tool commands."""

from __future__ import annotations

import argparse
from typing import NoReturn

from webbcal.cli import UsageError

__all__ = ["ArgumentParser", "quiet_crds"]


class ArgumentParser(argparse.ArgumentParser):
    """An argparse parser whose errors raise :class:`webbcal.cli.UsageError`.

    ``webbcal`` reports usage errors in one line with exit status 2; argparse
    would print its own text and call ``sys.exit``.
    """

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


def quiet_crds(verbose: bool = False) -> None:
    """Let the crds client speak only with ``--verbose``.

    crds logs its own warnings and FATAL lines before raising; the tools report
    failures themselves in one line. crds sets its logger up when imported, so
    it is imported first.
    """
    import logging

    import crds.core.log  # noqa: F401

    for name in ("CRDS", "crds"):
        logging.getLogger(name).setLevel(logging.INFO if verbose else logging.CRITICAL + 1)
