"""Level-3 associations: one combined product; science wrapper and constraint blocks.

References
----------
JWST pipeline documentation, "Level 3 Associations: Technical Specifications"
and "Level 3 Associations: Rules".
"""

from __future__ import annotations

import os

from ._constraints import Attr, Group, Work
from ._dms import (
    remove_suffix,
    rename_level2,
)
from ._rulebase import (
    MULTI_OBS_AC_TYPES,
    AsnBase,
    Member,
    c_program,
    c_target_acq,
    c_target_direct,
    format_product,
)

__all__ = [
    "Level3Asn",
    "Science3",
    "AuxData",
    "l3_optical_path",
    "l3_target",
    "l3_target_science_only",
    "l3_image",
    "l3_not_wfsc",
    "TypedScience3",
    "Coron3",
    "Spectrum3",
    "product_name_noopt",
    "product_name_wfss",
]


# =============================================================================== level 3
class Level3Asn(AsnBase):
    """Level-3 association: one combined product."""

    level = 3

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.data["target"] = "none"
        self.data["asn_pool"] = "none"

    @property
    def dms_product_name(self):
        return self.level3_product_name()

    def update_asn(self, item=None):
        self.update_degraded()
        self.data["asn_id"] = self.acid.id
        self.data["target"] = self.get_target()
        if item is not None:
            if self.data["program"] == "noprogram":
                self.data["program"] = f"{item['program']:0>5s}"
            if self.data["asn_pool"] == "none":
                self.data["asn_pool"] = self.pool_name
        self.current_product["name"] = self.dms_product_name

    def make_member(self, item):
        role = self.get_exposure_type(item)
        return Member(
            {
                "expname": rename_level2(
                    item["filename"],
                    exp_type=item["exp_type"],
                    integrations=self.uses_integrations(item),
                    role=role,
                ),
                "exptype": role,
                "exposerr": item.get("exposerr"),
                "asn_candidate": item["asn_candidate"],
            },
            item,
        )

    def init_hook(self, item):
        self.new_product()
        self.update_asn(item)

    def _add(self, item):
        member = self.make_member(item)
        if self.is_member(member):
            return
        self.update_validity(member)
        self.current_product["members"].append(member)
        self._filenames.add(item["filename"])
        self.update_asn(item)

    def make_fixedslit_bkg(self):
        patterns = self.constraints.find("patttype_spectarg").found_values
        if "nod" not in next(iter(patterns)):
            return [self]
        for product in self.data["products"]:
            members = product["members"]
            science = [m for m in members if m["exptype"] == "science"]
            if len(science) < 2:
                return [self]
            for member in science:
                stem = os.path.splitext(os.path.basename(member["expname"]))[0]
                background = member.copy_member()
                background["expname"] = remove_suffix(stem) + "_x1d.fits"
                background["exptype"] = "background"
                members.append(background)
            return [self] if self.is_valid else []
        return None


class Science3(Level3Asn):
    """Level-3 science association: the rule's constraints, same observation, plus target acqs."""

    def build(self):
        acqs = Group(
            [
                c_target_acq(),
                Attr(
                    "acq_obsnum",
                    ["obs_num"],
                    lambda: "(" + "|".join(self.constraints.find("obs_num").found_values) + ")",
                    force_unique=False,
                ),
            ],
            name="acq_constraint",
            work_over=Work.EXISTING,
        )
        obsnum = Attr("obs_num", ["obs_num"], force_unique=False, required=False)
        return Group(
            [
                Group([c_program(), Attr("instrument", ["instrume"])], name="base"),
                Attr(None, ["is_imprt"], force_undefined=True),
                Group([Group([self.rule(), obsnum], name="rule"), acqs], "any", name="acq_check"),
            ],
            name="dmsbase_top",
        )

    def rule(self) -> Group:
        raise NotImplementedError

    def finalize(self):
        if self.acid.type.lower() in MULTI_OBS_AC_TYPES:
            if len(self.constraints.find("obs_num").found_values) <= 1:
                return None
        return super().finalize()


class AuxData:
    """Mixin: every member is science except target acquisitions."""

    def get_exposure_type(self, item, default="science"):
        role = super().get_exposure_type(item, default)
        return role if role == "target_acquisition" else "science"


# ---- level-3 constraint blocks
def l3_optical_path():
    return Group(
        [
            Attr("opt_elem", ["filter"], required=False),
            Attr("opt_elem2", ["pupil", "grating"], required=False),
            Group(
                [
                    Attr(
                        "fxd_slit2",
                        ["fxd_slit"],
                        ["s200a1|s200a2"],
                        force_unique=False,
                        required=False,
                    ),
                    Attr("fxd_slit", ["fxd_slit"], required=False),
                ],
                "any",
            ),
            Attr("subarray", ["subarray"]),
        ]
    )


def l3_target(asn=None):
    if asn is None:
        target = Attr("target", ["targetid"])
    else:
        target = Attr(
            "target",
            ["targetid"],
            onlyif=lambda item: asn.get_exposure_type(item) != "background",
            force_reprocess=Work.EXISTING,
            only_on_match=True,
        )
    return Group([c_target_direct(), target], "any")


def l3_target_science_only(asn):
    return Attr(
        "target",
        ["targetid"],
        onlyif=lambda item: asn.get_exposure_type(item) == "science",
        force_reprocess=Work.EXISTING,
        only_on_match=True,
    )


def l3_image():
    return Attr("exp_type", ["exp_type"], "nrc_image|mir_image|nis_image|fgs_image|nrs_mimf")


def l3_not_wfsc():
    return Attr("wfsvisit", ["visitype"], "((?!wfsc).)*", required=False)


class TypedScience3(Science3):
    asn_type = "None"

    def init_hook(self, item):
        self.data["asn_type"] = self.asn_type
        super().init_hook(item)


class Coron3(TypedScience3):
    asn_type = "coron3"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.validity["has_psf"] = {"validated": False, "check": lambda m: m["exptype"] == "psf"}


class Spectrum3(TypedScience3):
    asn_type = "spec3"


def product_name_noopt(asn):
    return (
        f"jw{asn.data['program']}-{asn.acid.id}_{asn.get_target()}_{asn.get_instrument()}"
    ).lower()


def product_name_wfss(asn):
    subarray = asn.get_subarray()
    slit = asn.get_slit_name()
    return format_product(
        "jw{program}-{acid}_{target}_{instrument}_{opt_elem}{slit_name}{subarray}",
        program=asn.data["program"],
        acid=asn.acid.id,
        target=asn.get_target(),
        instrument=asn.get_instrument(),
        opt_elem=asn.get_opt_element(),
        slit_name="-" + slit if slit else slit,
        subarray="-" + subarray if subarray else subarray,
    ).lower()
