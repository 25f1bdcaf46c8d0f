"""Association under construction: members, products, naming, validity, finalisation.

Each rule is a subclass of ``Level2Asn`` (:mod:`._level2`) or ``Level3Asn``
(:mod:`._level3`) that builds its constraint tree in ``build`` and may change
the member role, the product name or what happens at finalisation. Here: what
both levels share, and the constraint blocks used by rules of both levels.

References
----------
JWST pipeline documentation, "Association Naming", "Level 2 Associations:
Technical Specifications", "Level 3 Associations: Technical Specifications",
"Stage 2 Associations: Rules" and "Level 3 Associations: Rules".
"""

from __future__ import annotations

import copy
import re
import string
from typing import Any

from ._constraints import EMPTY, Attr, Check, Group, first_valid
from ._dms import (
    ACQ_EXP_TYPES,
    CORON_EXP_TYPES,
    TSO_EXP_TYPES,
    exposure_role,
)

__all__ = ["AsnBase", "Member", "format_product"]

DEGRADED_OK = "No known degraded exposures in association."
DEGRADED_NOTOK = (
    "One or more members have an error associated with them."
    "\nDetails can be found in the member.exposerr attribute."
)
MULTI_OBS_AC_TYPES = ("group", "background", "mosaic")


class Member(dict):
    """A product member (``expname``, ``exptype``, ...) with the pool row it came from."""

    def __init__(self, data, item=None):
        super().__init__(data)
        self.item = dict(item) if item is not None else None

    def copy_member(self):
        return Member(dict(self), self.item)

    def same(self, other) -> bool:
        return self["expname"] == other["expname"] and self["exptype"] == other["exptype"]


class Acid:
    """Association candidate identifier: id (``o001``, ``c1000``, ``a3001``) and type."""

    __slots__ = ("id", "type")

    def __init__(self, ident: str, ctype: str):
        self.id, self.type = ident, ctype

    @classmethod
    def parse(cls, text: str):
        import ast

        try:
            ident, ctype = ast.literal_eval(text)
        except (ValueError, SyntaxError, TypeError):
            raise ValueError(text) from None
        return cls(ident, ctype)


def _join(values) -> str:
    return "-".join(values)


class _Template(string.Formatter):
    """Format with named fields; unknown fields stay as ``{name}``, unused values are appended."""

    def __init__(self, key_formats=None):
        super().__init__()
        self.key_formats = key_formats or {}

    def get_value(self, key, args, kwargs):
        self._used.append(key)
        value = kwargs.get(key, "{" + key + "}")
        return "" if value is None else value

    def __call__(self, fmt: str, **kwargs) -> str:
        self._used = []
        values = {}
        for key, value in kwargs.items():
            if value is not None:
                value = self.key_formats.get(key, "{:s}").format(str(value))
            values[key] = value
        result = self.format(fmt, **values)
        unused = [values[k] for k in sorted(set(values) - set(self._used)) if values[k] is not None]
        return "_".join([result, *unused])


format_product = _Template({"expspcin": "{:0>2s}"})


# ---------------------------------------------------------------------------- constraints
def c_program():
    return Attr("program", ["program"])


def c_tso():
    return Group(
        [
            Attr(None, ["pntgtype"], "science"),
            Group(
                [Attr(None, ["tsovisit"], "t"), Attr(None, ["exp_type"], "|".join(TSO_EXP_TYPES))],
                "any",
            ),
        ],
        name="is_tso",
    )


def c_not_tso():
    return Group([c_tso()], "notany")


def c_not_bkgd():
    return Group([Attr("bkgdtarg", ["bkgdtarg"], force_unique=False)], "notany")


def c_not_bkgd_or_tso():
    return Group([Attr("bkgdtarg", ["bkgdtarg"]), c_tso()], "notany")


def c_target_acq():
    return Check("target_acq", "target_acquisition", exposure_role)


def c_wfsc():
    return Group([Group([Attr("wfsc", ["visitype"], ".+wfsc.+")])])


def c_valid(func):
    """A pass/fail test of one pool row that pins nothing."""
    return Check(None, True, None, lambda _v, item: func(item), force_unique=False)


def c_invalid(func):
    """Matches rows for which ``func`` is False."""
    return Check(None, False, None, lambda v, item: func(item) == v, force_unique=False)


def c_target_direct():
    """Direct-image candidates share target ``000``."""
    return Group(
        [
            Attr("acdirect", ["asn_candidate"], r"\[\('c\d{4}', 'direct_image'\)\]"),
            Check("target", None, lambda _item: "000"),
        ]
    )


class AsnBase:
    """State and behaviour common to level-2 and level-3 associations."""

    level = 0
    rule_name = "AsnBase"  # set per registry
    asn_type_default = "None"

    def __init__(self, version_id=None, global_constraint=None):
        self.version_id = version_id
        self.data: dict[str, Any] = {
            "asn_type": "None",
            "asn_rule": self.rule_name,
            "version_id": version_id,
            "code_version": _code_version(),
            "degraded_status": DEGRADED_OK,
            "program": "noprogram",
            "constraints": "No constraints",
            "asn_id": "a3001",
        }
        self.validity: dict[str, dict] = {
            "has_science": {"validated": False, "check": lambda m: m["exptype"] == "science"}
        }
        self.run_init_hook = True
        self.current_sequence = None
        self._acid = None
        self.pool_name = "in-memory"
        self._filenames: set[str] = set()
        self.constraints = self.build()
        if global_constraint is not None:
            self.constraints.append(global_constraint())

    # --------------------------------------------------------------- rule hooks
    def build(self) -> Group:
        raise NotImplementedError

    # --------------------------------------------------------------- adding
    @classmethod
    def create(cls, item, version_id=None, global_constraint=None, pool_name="in-memory"):
        asn = cls(version_id, global_constraint)
        asn.pool_name = pool_name
        ok, again = asn.add(item)
        return (asn if ok else None), again

    def add(self, item):
        if self.is_item_member(item):
            return True, []
        self.constraints.save()
        ok, again = self.constraints.check(item)
        if not ok:
            self.constraints.restore()
        for worklist in again:
            if worklist.rules is None:
                worklist.rules = [self.rule_name]
        if ok:
            if self.run_init_hook:
                self.init_hook(item)
                self.run_init_hook = False
            self._add(item)
        try:
            force = self.constraints.find("force_match").value
        except (KeyError, AttributeError):
            pass
        else:
            if force is not None:
                ok = force
        return ok, again

    @property
    def from_items(self):
        return [m.item for p in self.data.get("products", []) for m in p["members"]]

    def is_item_member(self, item) -> bool:
        return item["filename"] in self._filenames

    @property
    def current_product(self):
        return self.data["products"][-1]

    def new_product(self, name="undefined"):
        self.data.setdefault("products", []).append({"name": name, "members": []})

    def is_member(self, member) -> bool:
        try:
            members = self.current_product["members"]
        except (KeyError, IndexError):
            return False
        return any(m.same(member) for m in members)

    def update_validity(self, member):
        for test in self.validity.values():
            if not test["validated"]:
                test["validated"] = test["check"](member)

    def update_degraded(self):
        if self.data["degraded_status"] == DEGRADED_OK:
            for product in self.data["products"]:
                for member in product["members"]:
                    if member.get("exposerr", None) not in EMPTY:
                        self.data["degraded_status"] = DEGRADED_NOTOK
                        break

    # --------------------------------------------------------------- properties of items
    def get_exposure_type(self, item, default="science"):
        return exposure_role(item, default)

    def is_item_coron(self, item) -> bool:
        if item["pntgtype"] != "science" or item["exp_type"] in ACQ_EXP_TYPES:
            return False
        try:
            coron = first_valid(item, ("exp_type",))[1] in CORON_EXP_TYPES
        except KeyError:
            return False
        if item["exp_type"] == "nrc_coron" and item["subarray"] == "full":
            if item["pupil"] == "maskbar" and item["detector"] in ("nrca1", "nrca2", "nrca3"):
                coron = False
            if item["pupil"] == "maskrnd" and item["detector"] in ("nrca1", "nrca3", "nrca4"):
                coron = False
        return coron

    def is_item_ami(self, item) -> bool:
        if item["pntgtype"] != "science" or item["exp_type"] in ACQ_EXP_TYPES:
            return False
        try:
            return first_valid(item, ("exp_type",))[1] == "nis_ami"
        except KeyError:
            return False

    def is_item_tso(self, item) -> bool:
        if item["pntgtype"] != "science" or item["exp_type"] in ACQ_EXP_TYPES:
            return False
        try:
            tso = self.constraints.find("is_tso").value == "t"
        except (KeyError, AttributeError):
            tso = False
        try:
            tso = tso or first_valid(item, ("tsovisit",))[1] == "t"
        except KeyError:
            pass
        try:
            tso = tso or first_valid(item, ("exp_type",))[1] in TSO_EXP_TYPES
        except KeyError:
            pass
        return tso

    def uses_integrations(self, item) -> bool:
        return self.is_item_coron(item) | self.is_item_ami(item) | self.is_item_tso(item)

    # --------------------------------------------------------------- naming
    @property
    def acid(self) -> Acid:
        if self._acid is not None:
            return self._acid
        for leaf in self.constraints.leaves():
            if leaf.is_acid:
                value = re.sub(r"\\", "", _join(leaf.found_values))
                try:
                    return Acid.parse(value)
                except ValueError:
                    pass
        return Acid("a3001", "DISCOVERED")

    def asn_name(self) -> str:
        stamp = f"_{self.version_id}" if self.version_id else ""
        name = (
            f"jw{self.data['program']}-{self.acid.id}{stamp}_{self.data['asn_type']}_"
            f"{self.current_sequence:05d}_asn"
        )
        return name.lower()

    def get_instrument(self):
        return _join(self.constraints.find("instrument").found_values)

    def get_target(self):
        return f"t{_join(self.constraints.found('target')):0>3s}"

    def get_opt_element(self):
        elems = []
        for name in ("opt_elem", "opt_elem2"):
            try:
                values = list(self.constraints.find(name).found_values)
            except KeyError:
                continue
            values.sort(key=str.lower)
            value = _join(values)
            if value not in EMPTY:
                elems.append(value)
        elems.sort(key=str.lower)
        return "-".join(elems) or "clear"

    def get_slit_name(self):
        names = []
        for name in ("fxd_slit", "fxd_slit2"):
            try:
                values = list(self.constraints.find(name).found_values)
            except KeyError:
                continue
            values.sort(key=str.lower)
            value = _join(values)
            if value not in EMPTY and value not in names:
                names.append(value)
        names.sort(key=str.lower)
        return "-".join(names)

    def get_subarray(self):
        try:
            subarray = _join(self.constraints.find("subarray").found_values)
        except KeyError:
            return ""
        return "" if subarray == "full" else subarray

    def get_exposure(self):
        try:
            activity = _join(self.constraints.find("activity_id").found_values)
        except KeyError:
            return ""
        return f"{activity:0>2s}" if activity not in EMPTY else ""

    def level3_product_name(self) -> str:
        """``jw<program>-<acid>_<target>_<instrument>_<optical elements>[-<slit>][-<subarray>]``."""
        slit = self.get_slit_name()
        subarray = self.get_subarray()
        name = (
            f"jw{self.data['program']}-{self.acid.id}_{self.get_target()}_"
            f"{self.get_instrument()}_{self.get_opt_element()}"
            f"{'-' + slit if slit else ''}{'-' + subarray if subarray else ''}"
        )
        return name.lower()

    # --------------------------------------------------------------- validity
    def validate_extra(self) -> bool:
        return True

    @property
    def is_valid(self) -> bool:
        if "products" not in self.data:
            return False
        return self.validate_extra() and all(t["validated"] for t in self.validity.values())

    def finalize(self):
        return [self] if self.is_valid else None

    def clone(self):
        """A copy with its own data and validity (members and constraints shared)."""
        new = copy.copy(self)
        new.data = dict(self.data)
        new.validity = {k: dict(v) for k, v in self.validity.items()}
        return new

    def to_dict(self) -> dict:
        out = {k: v for k, v in self.data.items() if k != "products"}
        out["products"] = [
            {"name": p["name"], "members": [dict(m) for m in p["members"]]}
            for p in self.data.get("products", [])
        ]
        return out


_VERSION = None


def _code_version():
    global _VERSION
    if _VERSION is None:
        from .. import __version__

        _VERSION = f"webbcal {__version__}"
    return _VERSION
