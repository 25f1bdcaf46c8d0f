"""Associations from a list of files (the official ``asn_from_list``).

Level 3 (rule ``DMS_Level3_Base``, the default): one product named by the user
holding every file. Level 2 (rule ``DMSLevel2bBase``): one product per file,
named after the file without its suffix. Members are ``science`` unless a role
is given.

References
----------
JWST pipeline documentation, "asn_from_list" (command-line and Python use,
rules ``DMS_Level3_Base`` and ``DMSLevel2bBase``).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Iterable, Sequence

from .._version import __version__
from .asn import MEMBER_ROLES, Association, AssociationError, Member, Product, write_association

__all__ = ["LEVEL2_RULE", "LEVEL3_RULE", "asn_from_list", "main"]

LEVEL3_RULE = "DMS_Level3_Base"
LEVEL2_RULE = "DMSLevel2bBase"
_RULE_ALIASES = {
    "dms_level3_base": LEVEL3_RULE,
    "level3": LEVEL3_RULE,
    "3": LEVEL3_RULE,
    "dmslevel2bbase": LEVEL2_RULE,
    "level2": LEVEL2_RULE,
    "level2b": LEVEL2_RULE,
    "2": LEVEL2_RULE,
}

#: Candidate ids the official tools accept: observation (oNNN), candidate (cNNNN) or
#: association (aNNNN) numbers.
_ACID = re.compile(r"^[oca]\d{3,5}$")


def _root(name: str) -> str:
    """File root without folder, extension and the product suffix (``_rate``...)."""
    from ..stpipe.naming import remove_suffix

    base = os.path.basename(name)
    for ext in (".fits.gz", ".fits", ".fit"):
        if base.endswith(ext):
            base = base[: -len(ext)]
            break
    return remove_suffix(base)


def asn_from_list(
    items: Iterable[str | tuple[str, str]],
    *,
    rule: str = LEVEL3_RULE,
    product_name: str | None = None,
    acid: str = "o999",
    program: str = "noprogram",
    target: str = "none",
    asn_pool: str = "none",
) -> Association:
    """Make an association from file names.

    Parameters
    ----------
    items : iterable of str or (str, str)
        File names, or (file name, member role) pairs; a bare name is ``science``.
    rule : str
        ``DMS_Level3_Base`` (one product with every member) or ``DMSLevel2bBase``
        (one product per file). ``level3``/``level2`` are accepted too.
    product_name : str or None
        Name of the level-3 product (required for level 3; ignored for level 2,
        whose products are named after their files).
    acid : str
        Association candidate id (``o999``, ``c1000``, ``a3001``...).
    program, target, asn_pool : str
        Identification fields written into the association.

    Returns
    -------
    Association

    Raises
    ------
    AssociationError
        For an unknown rule, a missing level-3 product name, an empty list, a bad
        candidate id or an unknown member role.
    """
    canonical = _RULE_ALIASES.get(rule.lower())
    if canonical is None:
        raise AssociationError(
            f"rule={rule!r} is not known; expected {LEVEL3_RULE} or {LEVEL2_RULE}"
        )
    if not _ACID.match(acid):
        raise AssociationError(
            f"association candidate id {acid!r} is not valid; expected oNNN, cNNNN or aNNNN"
        )
    members: list[Member] = []
    for item in items:
        name, role = (item, "science") if isinstance(item, str) else item
        role = role.lower()
        if role not in MEMBER_ROLES:
            raise AssociationError(
                f"{name}: member role {role!r} is not known; expected one of "
                f"{', '.join(MEMBER_ROLES)}"
            )
        members.append(Member(os.fspath(name), role))
    if not members:
        raise AssociationError("no files given: an association needs at least one member")
    extra = {
        "code_version": f"webbcal-{__version__}",
        "degraded_status": "No known degraded exposures in association.",
        "constraints": "No constraints",
    }
    common = dict(asn_type="None", asn_rule=canonical, asn_id=acid, asn_pool=asn_pool)
    if canonical == LEVEL3_RULE:
        if not product_name:
            raise AssociationError("a level-3 association needs a product name (--product-name)")
        return Association(
            products=[Product(product_name, members)],
            program=program,
            target=target,
            extra=extra,
            **common,
        )
    products = [Product(_root(m.expname), [m]) for m in members]
    return Association(products=products, program=program, extra=extra, **common)


def _member_arg(text: str) -> tuple[str, str]:
    name, sep, role = text.rpartition(":")
    if not sep or not name:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected FILE:ROLE, e.g. bkg_rate.fits:background"
        )
    return name, role


def main(argv: Sequence[str] | None = None) -> int:
    """``webbcal asn from-list``: write an association made from a list of files."""
    parser = argparse.ArgumentParser(
        prog="webbcal asn from-list",
        description="Create an association from a list of files (as the official asn_from_list).",
    )
    parser.add_argument("filelist", nargs="*", help="files to include as science members")
    parser.add_argument("-o", "--output-file", required=True, help="association file to write")
    parser.add_argument("--product-name", help="product name of a level-3 association")
    parser.add_argument(
        "-r", "--rule", default=LEVEL3_RULE,
        help=f"{LEVEL3_RULE} (default, one product) or {LEVEL2_RULE} (a product per file)",
    )  # fmt: skip
    parser.add_argument("-i", "--id", dest="acid", default="o999",
                        help="association candidate id (default o999)")  # fmt: skip
    parser.add_argument(
        "-m", "--member", action="append", default=[], type=_member_arg, metavar="FILE:ROLE",
        help=f"add FILE with a role ({', '.join(MEMBER_ROLES)}); may be repeated",
    )  # fmt: skip
    parser.add_argument("-f", "--format", default="json", choices=["json"],
                        help="format of the association file (json)")  # fmt: skip
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    items: list[str | tuple[str, str]] = [*args.filelist, *args.member]
    try:
        asn = asn_from_list(items, rule=args.rule, product_name=args.product_name, acid=args.acid)
        path = write_association(asn, args.output_file)
    except AssociationError as exc:
        print(f"webbcal asn from-list: error: {exc}", file=sys.stderr)
        return 2
    n = sum(len(p.members) for p in asn.products)
    print(f"Wrote {path}: {asn.asn_rule}, {len(asn.products)} product(s), {n} member(s)")
    return 0
