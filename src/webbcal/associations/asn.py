"""The association object: read, validate and write official JSON association files.

An association file is a JSON object::

    {"asn_type": "image3", "asn_rule": "candidate_Asn_Lv3Image", "asn_id": "c1000",
     "program": "01234", "target": "t001", "asn_pool": "jw01234_..._pool",
     "version_id": null,
     "products": [{"name": "jw01234-c1000_t001_nircam_clear-f200w",
                   "members": [{"expname": "jw..._cal.fits", "exptype": "science"}, ...]}]}

Member paths (``expname``) are relative to the association's directory unless
absolute. Extra keys (``code_version``, ``degraded_status``, ``constraints``,
member ``exposerr``, ``asn_candidate``, ...) are kept as read and written back.

References
----------
JWST pipeline documentation, "Association Files", "Level 2 Associations:
Technical Specifications" and "Level 3 Associations: Technical Specifications";
the JSON schemas of level-2b and level-3 associations published with them.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "MEMBER_ROLES",
    "Association",
    "AssociationError",
    "Member",
    "Product",
    "load_association",
    "write_association",
]

#: Member roles (``exptype`` values) the official pipelines act on.
MEMBER_ROLES: tuple[str, ...] = (
    "science",
    "background",
    "imprint",
    "psf",
    "selfcal",
    "sourcecat",
    "segmap",
    "direct_image",
    "target_acquisition",
)

#: Top-level fields in the order the official tools write them.
_TOP_FIELDS = (
    "asn_type",
    "asn_rule",
    "version_id",
    "code_version",
    "degraded_status",
    "program",
    "constraints",
    "asn_id",
    "target",
    "asn_pool",
)

#: Top-level fields that must be strings when present (``version_id`` may be null).
_STRING_FIELDS = ("asn_type", "asn_rule", "asn_id", "program", "target", "asn_pool")


class AssociationError(ValueError):
    """An association file or object is malformed, or names members that do not exist."""


@dataclass
class Member:
    """One member of an association product.

    Attributes
    ----------
    expname : str
        File name as written in the association (relative to its directory or absolute).
    exptype : str
        Member role (``science``, ``background``, ...), lower case.
    extra : dict
        Other keys of the member entry, kept as read (``exposerr``, ``asn_candidate``...).
    """

    expname: str
    exptype: str = "science"
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The member as the official JSON entry."""
        return {"expname": self.expname, "exptype": self.exptype, **self.extra}


@dataclass
class Product:
    """One product of an association: its name and its members."""

    name: str
    members: list[Member] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def members_of(self, *roles: str) -> list[Member]:
        """Members whose ``exptype`` is one of ``roles`` (all members when none given)."""
        wanted = {r.lower() for r in roles}
        return [m for m in self.members if not wanted or m.exptype in wanted]

    def to_dict(self) -> dict[str, Any]:
        """The product as the official JSON entry."""
        return {"name": self.name, **self.extra, "members": [m.to_dict() for m in self.members]}


@dataclass
class Association:
    """An association: identification fields and products.

    Attributes
    ----------
    products : list of Product
    asn_type, asn_rule, asn_id, program, target, asn_pool : str or None
    version_id : str or None
    extra : dict
        Other top-level keys, kept as read.
    path : str or None
        File the association was read from (member paths are relative to its folder).
    """

    products: list[Product] = field(default_factory=list)
    asn_type: str | None = None
    asn_rule: str | None = None
    asn_id: str | None = None
    program: str | None = None
    target: str | None = None
    asn_pool: str | None = None
    version_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    path: str | None = None

    @property
    def base_dir(self) -> str:
        """Folder against which relative member names are resolved."""
        return os.path.dirname(os.path.abspath(self.path)) if self.path else os.getcwd()

    def member_path(self, member: Member) -> str:
        """Absolute path of ``member``'s file."""
        if os.path.isabs(member.expname):
            return member.expname
        return os.path.normpath(os.path.join(self.base_dir, member.expname))

    def members(self, *roles: str) -> Iterator[tuple[Product, Member]]:
        """Every (product, member) pair, optionally only those with the given roles."""
        for product in self.products:
            for member in product.members_of(*roles):
                yield product, member

    def member_paths(self, *roles: str) -> list[str]:
        """Absolute paths of the members with the given roles, in order, without repeats."""
        seen: dict[str, None] = {}
        for _, member in self.members(*roles):
            seen.setdefault(self.member_path(member), None)
        return list(seen)

    def check_members_exist(self, *roles: str) -> None:
        """Raise if any member (with the given roles) has no file.

        Raises
        ------
        AssociationError
            Naming every missing member as written, relative to the association.
        """
        missing = [
            m.expname for _, m in self.members(*roles) if not os.path.exists(self.member_path(m))
        ]
        if missing:
            where = self.path or "<association>"
            raise AssociationError(
                f"{where}: {len(missing)} member(s) not found (paths relative to "
                f"{self.base_dir}): {', '.join(missing)}"
            )

    def to_dict(self) -> dict[str, Any]:
        """The association as the official JSON object (field order as the official tools)."""
        out: dict[str, Any] = {}
        values = {
            "asn_type": self.asn_type,
            "asn_rule": self.asn_rule,
            "asn_id": self.asn_id,
            "program": self.program,
            "target": self.target,
            "asn_pool": self.asn_pool,
            "version_id": self.version_id,
            **self.extra,
        }
        for key in _TOP_FIELDS:
            if key in values and (values[key] is not None or key == "version_id"):
                out[key] = values[key]
        for key, value in values.items():
            if key not in out and value is not None:
                out[key] = value
        out["products"] = [p.to_dict() for p in self.products]
        return out

    @classmethod
    def from_dict(cls, tree: Any, *, source: str = "<association>") -> Association:
        """Build and validate an association from its JSON object.

        Raises
        ------
        AssociationError
            Naming ``source`` and the bad field, its value and what was expected.
        """
        if not isinstance(tree, dict):
            raise AssociationError(
                f"{source}: an association is a JSON object, found {type(tree).__name__}"
            )
        for key in _STRING_FIELDS:
            value = tree.get(key)
            if value is not None and not isinstance(value, str):
                raise AssociationError(f"{source}: field {key!r}={value!r}; expected a string")
        version = tree.get("version_id")
        if version is not None and not isinstance(version, str):
            raise AssociationError(
                f"{source}: field 'version_id'={version!r}; expected a string or null"
            )
        if "products" not in tree:
            raise AssociationError(f"{source}: missing required field 'products'")
        products = tree["products"]
        if not isinstance(products, list):
            raise AssociationError(
                f"{source}: field 'products' is a {type(products).__name__}; expected a list"
            )
        known = {*_STRING_FIELDS, "version_id", "products"}
        asn = cls(
            products=[_product(p, i, source) for i, p in enumerate(products)],
            version_id=version,
            extra={k: v for k, v in tree.items() if k not in known},
            **{k: tree.get(k) for k in _STRING_FIELDS},
        )
        return asn


def _product(entry: Any, index: int, source: str) -> Product:
    where = f"{source}: products[{index}]"
    if not isinstance(entry, dict):
        raise AssociationError(f"{where} is a {type(entry).__name__}; expected an object")
    if "members" not in entry:
        raise AssociationError(f"{where}: missing required field 'members'")
    members = entry["members"]
    if not isinstance(members, list):
        raise AssociationError(
            f"{where}: field 'members' is a {type(members).__name__}; expected a list"
        )
    name = entry.get("name", "")
    if not isinstance(name, str):
        raise AssociationError(f"{where}: field 'name'={name!r}; expected a string")
    return Product(
        name=name,
        members=[_member(m, f"{where}.members[{j}]") for j, m in enumerate(members)],
        extra={k: v for k, v in entry.items() if k not in ("name", "members")},
    )


def _member(entry: Any, where: str) -> Member:
    if not isinstance(entry, dict):
        raise AssociationError(f"{where} is a {type(entry).__name__}; expected an object")
    for key in ("expname", "exptype"):
        if key not in entry:
            raise AssociationError(f"{where}: missing required field {key!r}")
        value = entry[key]
        if not isinstance(value, str) or not value.strip():
            raise AssociationError(f"{where}: field {key!r}={value!r}; expected a non-empty string")
    return Member(
        expname=entry["expname"],
        exptype=entry["exptype"].strip().lower(),
        extra={k: v for k, v in entry.items() if k not in ("expname", "exptype")},
    )


def load_association(
    path: str | os.PathLike, *, check_members: bool = False, roles: Iterable[str] = ()
) -> Association:
    """Read and validate a JSON association file.

    Parameters
    ----------
    path : str or path-like
        The ``_asn.json`` file.
    check_members : bool
        Also check that every member (with ``roles``, or all) exists.
    roles : iterable of str
        Roles checked by ``check_members``; every member when empty.

    Returns
    -------
    Association
        With ``path`` set, so relative member names resolve against its folder.

    Raises
    ------
    AssociationError
        If the file is missing, not JSON, misses a required field, has a field of
        the wrong type, or (``check_members``) names members that do not exist.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise AssociationError(f"{path}: association file not found")
    try:
        with open(path, encoding="utf-8") as fh:
            tree = json.load(fh)
    except UnicodeDecodeError:
        raise AssociationError(f"{path}: not a text (UTF-8 JSON) association file") from None
    except json.JSONDecodeError as exc:
        raise AssociationError(
            f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    except OSError as exc:
        raise AssociationError(f"{path}: cannot read the association: {exc.strerror}") from None
    asn = Association.from_dict(tree, source=path)
    asn.path = os.path.abspath(path)
    if check_members:
        asn.check_members_exist(*roles)
    return asn


def write_association(asn: Association | dict, path: str | os.PathLike) -> str:
    """Write ``asn`` as a JSON association file, atomically; return the path.

    Raises
    ------
    AssociationError
        If ``asn`` is a dict that is not a valid association.
    """
    if isinstance(asn, dict):
        asn = Association.from_dict(asn, source="<association to write>")
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp_webbcal_asn_", suffix=".json", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(asn.to_dict(), fh, indent=4)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path
