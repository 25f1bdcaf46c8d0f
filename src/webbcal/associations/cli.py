"""``webbcal asn``: make association files (from a list, from a pool, pools from files).

``webbcal asn from-list``, ``webbcal asn generate`` and ``webbcal asn make-pool``
take the options of the official ``asn_from_list``, ``asn_generate`` and
``asn_make_pool`` commands.
"""

from __future__ import annotations

import importlib
import sys

__all__ = ["main"]

#: Sub-command -> ("module:function", one-line help).
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "from-list": (
        "webbcal.associations.from_list:main",
        "an association from a list of files (official asn_from_list)",
    ),
    "generate": (
        "webbcal.associations.generate:main",
        "level-2 and level-3 associations from a DMS pool (official asn_generate)",
    ),
    "make-pool": (
        "webbcal.associations.make_pool:main",
        "an association pool from the headers of files (official asn_make_pool)",
    ),
}


def main(argv: list[str]) -> int:
    """Run ``webbcal asn <sub-command> ...``; return the exit status."""
    usage = "usage: webbcal asn <sub-command> ...\n\n" + "".join(
        f"  {name:<11s}{text}\n" for name, (_, text) in SUBCOMMANDS.items()
    )
    if not argv or argv[0] in ("-h", "--help"):
        print(usage)
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in SUBCOMMANDS:
        print(
            f"webbcal asn: error: unknown sub-command {name!r}; expected one of "
            f"{', '.join(SUBCOMMANDS)}",
            file=sys.stderr,
        )
        return 2
    module, func = SUBCOMMANDS[name][0].split(":")
    return int(getattr(importlib.import_module(module), func)(rest) or 0)
