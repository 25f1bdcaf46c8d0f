"""Level-2 associations: one product per science exposure; mixins and constraint blocks.

References
----------
JWST pipeline documentation, "Level 2 Associations: Technical Specifications"
and "Stage 2 Associations: Rules" (nods, imprints, WFSS direct images).
"""

from __future__ import annotations

import os

from ._constraints import Attr, Check, Group, Work, first_valid
from ._dms import (
    IMAGE2_NONSCIENCE_EXP_TYPES,
    IMAGE2_SCIENCE_EXP_TYPES,
    SPEC2_SCIENCE_EXP_TYPES,
    remove_suffix,
    rename_level2a,
)
from ._rulebase import (
    AsnBase,
    Member,
    c_program,
    c_target_acq,
    c_target_direct,
)

__all__ = [
    "Level2Asn",
    "Lv2Image",
    "Lv2Spectral",
    "Lv2Special",
    "l2_base",
    "l2_background",
    "l2_mode",
    "l2_image_science",
    "l2_image_nonscience",
    "l2_single_science",
    "l2_special",
    "l2_spectral_science",
    "l2_target",
    "Lv2Imprint",
    "nod_background_overlap",
    "Lv2Nod",
    "Lv2WFSS",
    "exposures_bkg_or_single",
    "not_science",
]


# =============================================================================== level 2
class Level2Asn(AsnBase):
    """Level-2b association: one product per science exposure."""

    level = 2

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.data["asn_pool"] = "none"
        self.validity["allowed_candidates"] = {
            "validated": False,
            "check": self.validate_candidates,
        }
        self.original_exposure_type = None

    def get_exposure_type(self, item, default="science"):
        self.original_exposure_type = super().get_exposure_type(item, default)
        if self.original_exposure_type == "psf":
            return default
        return self.original_exposure_type

    def members_by_type(self, role):
        try:
            members = self.current_product["members"]
        except (KeyError, IndexError):
            return []
        return [m for m in members if m["exptype"].lower() == role]

    def has_science(self) -> bool:
        return len(self.members_by_type("science")) >= 1

    def dms_product_name(self):
        science = self.members_by_type("science")
        if not science:
            return "undefined"
        path = science[0]["expname"]
        stem = os.path.splitext(os.path.basename(path))[0]
        folder = os.path.dirname(path)
        return remove_suffix(os.path.join(folder, stem) if folder else stem)

    def make_member(self, item):
        return Member(
            {
                "expname": rename_level2a(
                    item["filename"], integrations=self.uses_integrations(item)
                ),
                "exptype": self.get_exposure_type(item),
                "exposerr": item.get("exposerr"),
            },
            item,
        )

    def init_hook(self, item):
        self.data["target"] = item["targetid"]
        self.data["program"] = f"{item['program']:0>5s}"
        self.data["asn_pool"] = self.pool_name
        self.data["asn_id"] = self.acid.id
        self.new_product(self.dms_product_name())

    def _add(self, item):
        member = self.make_member(item)
        if self.is_member(member):
            return
        self.current_product["members"].append(member)
        self._filenames.add(item["filename"])
        self.update_validity(member)
        self.update_degraded()
        self.current_product["name"] = self.dms_product_name()

    def validate_candidates(self, _member) -> bool:
        ctype = self.acid.type.lower()
        if ctype == "observation":
            return True
        if ctype == "background":
            return any(
                m["exptype"].lower() == "background" for m in self.current_product["members"]
            )
        return False


class Lv2Image:
    """Mixin: ``image2`` associations."""

    def init_hook(self, item):
        super().init_hook(item)
        self.data["asn_type"] = "image2"


class Lv2Spectral:
    """Mixin: ``spec2`` associations."""

    def init_hook(self, item):
        super().init_hook(item)
        self.data["asn_type"] = "spec2"


class Lv2Special:
    """Mixin: every member is science except imprints that follow the science."""

    def get_exposure_type(self, item, default="science"):
        self.original_exposure_type = super().get_exposure_type(item, default)
        if self.has_science() and self.original_exposure_type == "imprint":
            return "imprint"
        return default


# ---- level-2 constraint blocks
def l2_base():
    return Group([c_program(), Attr("is_tso", ["tsovisit"], required=False)])


def l2_background():
    return Attr(
        "background",
        ["bkgdtarg"],
        force_unique=False,
        force_reprocess=Work.EXISTING,
        only_on_match=True,
    )


def l2_mode():
    return Group(
        [
            Attr("instrument", ["instrume"]),
            Attr("detector", ["detector"]),
            Attr("opt_elem", ["filter", "band"]),
            Attr("opt_elem2", ["pupil", "grating"], required=False),
            Attr("fxd_slit", ["fxd_slit"], required=False),
            Attr("subarray", ["subarray"], required=False),
            Attr("channel", ["channel"], required=False),
            Group(
                [Attr(None, ["detector"], "nirspec"), Attr(None, ["filter"], "opaque")], "notany"
            ),
            Group(
                [Attr(None, ["detector"], "nrcblong"), Attr(None, ["exp_type"], "nrc_tsgrism")],
                "notall",
            ),
            Group([Attr(None, ["visitype"], ".+wfsc.+")], "notany"),
            Attr("slit", ["fxd_slit"], required=False),
        ]
    )


def l2_image_science():
    return Attr("exp_type", ["exp_type"], "|".join(IMAGE2_SCIENCE_EXP_TYPES))


def l2_image_nonscience():
    return Group(
        [
            c_target_acq(),
            Attr("non_science", ["exp_type"], "|".join(IMAGE2_NONSCIENCE_EXP_TYPES)),
            Group(
                [
                    Attr("exp_type", ["exp_type"], "nrs_msaspec"),
                    Attr(None, ["msastate"], "primarypark_allopen"),
                    Attr(None, ["grating"], "mirror"),
                ]
            ),
        ],
        "any",
    )


def l2_single_science(asn, **group_kwargs):
    return Group(
        [
            Check(None, True, lambda item: asn.get_exposure_type(item) == "science"),
            Check(None, False, lambda _item: asn.has_science()),
        ],
        **group_kwargs,
    )


def l2_special():
    return Attr("is_special", ["bkgdtarg", "is_psf"])


def l2_spectral_science(exclude=None):
    if exclude is None:
        types = SPEC2_SCIENCE_EXP_TYPES
    else:
        types = set(SPEC2_SCIENCE_EXP_TYPES).symmetric_difference(exclude)
    return Group([Attr("exp_type", ["exp_type"], "|".join(types))], "any")


def l2_target():
    return Group([c_target_direct(), Attr("target", ["targetid"])], "any")


# =============================================================================== level 2 mixins
class Lv2Imprint:
    """Mixin: at finalisation keep only the imprints that go with the science."""

    def prune_imprints(self):
        members = self.data["products"][0]["members"]
        science, imprint_sci, imprint_bkg = [], [], []
        science_is_background = False
        science_targets = set()
        for member in members:
            item = member.item
            if item is None or "targetid" not in item or "bkgdtarg" not in item:
                continue
            if member["exptype"] == "science":
                science.append(member)
                science_targets.add(str(item["targetid"]))
                if item["bkgdtarg"] == "t":
                    science_is_background = True
            elif member["exptype"] == "imprint":
                (imprint_bkg if item["bkgdtarg"] == "t" else imprint_sci).append(member)
        candidates = imprint_bkg if science_is_background else imprint_sci
        matching = [m for m in candidates if str(m.item.get("targetid")) in science_targets]
        if matching:
            for member in candidates:
                if member not in matching:
                    _remove(members, member)
            candidates = matching
        if 1 <= len(science) < len(candidates):
            keep = set()
            for sci in science:
                if "dithptin" not in sci.item:
                    continue
                for imp in candidates:
                    if "dithptin" in imp.item and imp.item["dithptin"] == sci.item["dithptin"]:
                        keep.add(imp["expname"])
            if keep:
                for imp in candidates:
                    if imp["expname"] not in keep:
                        _remove(members, imp)

    def finalize(self):
        if self.is_valid:
            self.prune_imprints()
        return super().finalize()


def _remove(members, member):
    for i, m in enumerate(members):
        if m is member or dict(m) == dict(member):
            del members[i]
            return


def _int(item, column):
    return int(item[column])


def _subpx(item):
    for column in ("subpxpts", "subpxpns"):
        try:
            return int(item[column])
        except (KeyError, ValueError):
            continue
    return None


def nod_background_overlap(science, background) -> bool:
    """Whether two nod positions of a NIRSpec fixed-slit/MSA exposure overlap on the sky."""
    exptype = str(science.get("exp_type", "")).lower() if "exp_type" in science else None
    if exptype not in ("nrs_fixedslit", "nrs_msaspec"):
        return False
    try:
        sci_target = str(science["targetid"]).lower()
        bkg_target = str(background["targetid"]).lower()
    except KeyError:
        sci_target = bkg_target = None
    if sci_target != bkg_target:
        return True
    try:
        numdthpt = _int(science, "numdthpt")
        patt_num = _int(science, "patt_num")
        bkg_num = _int(background, "patt_num")
    except (KeyError, ValueError):
        numdthpt, patt_num, bkg_num = 0, None, None
    subpx, bkg_subpx = _subpx(science), _subpx(background)
    if None in (patt_num, bkg_num, subpx, bkg_subpx) or subpx == 0 or bkg_subpx == 0:
        return exptype == "nrs_fixedslit"
    sci_prim = (patt_num - 1) // subpx
    bkg_prim = (bkg_num - 1) // bkg_subpx
    if sci_prim == bkg_prim:
        return True
    if exptype == "nrs_msaspec":
        return False
    slit = str(science["fxd_slit"]).lower() if "fxd_slit" in science else None
    return slit == "s1600a1" and numdthpt // subpx == 5 and abs(sci_prim - bkg_prim) <= 1


class Lv2Nod:
    """Mixin: one association per science exposure, the other nods as background."""

    def make_nod_asns(self):
        for product in self.data["products"]:
            members = product["members"]
            science = [m for m in members if m["exptype"] == "science"]
            others = [m for m in members if m["exptype"] != "science"]
            results = []
            for sci in science:
                asn = self.clone()
                stem = os.path.splitext(os.path.basename(sci["expname"]))[0]
                asn.data["products"] = [{"name": remove_suffix(stem), "members": [sci]}]
                new_members = asn.data["products"][0]["members"]
                for other in science:
                    if other["expname"] != sci["expname"] and not nod_background_overlap(
                        sci.item, other.item
                    ):
                        bkg = other.copy_member()
                        bkg["exptype"] = "background"
                        new_members.append(bkg)
                new_members += others
                if asn.is_valid:
                    results.append(asn)
            return results
        return None

    def finalize(self):
        return self.make_nod_asns() if self.is_valid else None


class Lv2WFSS:
    """Mixin: WFSS science with its direct image replaced by the stage-3 image products."""

    direct_image = None

    def get_exposure_type(self, item, default="science"):
        role = super().get_exposure_type(item, default)
        if role == "science" and item["exp_type"] in ("nis_image", "nrc_image", "mir_image"):
            role = "direct_image"
        return role

    @staticmethod
    def find_closest_direct(science, directs):
        closest = directs[0]
        try:
            expspcin = int(first_valid(science.item, ("expspcin",))[1])
        except KeyError:
            return closest
        min_diff = 9999
        for direct in directs:
            try:
                direct_expspcin = int(first_valid(direct.item, ("expspcin",))[1])
            except KeyError:
                continue
            diff = direct_expspcin - expspcin
            if 0 < diff < min_diff:
                min_diff = diff
                closest = direct
        return closest

    def get_opt_element(self):
        item = self.direct_image.item
        elems = []
        if str(item.get("instrume", "UNKNOWN")).lower() == "miri":
            if item.get("filter") is not None:
                elems.append(str(item["filter"]))
        else:
            for columns in (("filter", "band"), ("pupil", "grating")):
                try:
                    elems.append(first_valid(item, columns)[1])
                except KeyError:
                    continue
        elems.sort(key=str.lower)
        return "-".join(elems) or "clear"

    def finalize(self):
        directs = self.members_by_type("direct_image")
        sciences = self.members_by_type("science")
        if not directs or not sciences:
            return None
        members = self.current_product["members"]
        members[:] = [m for m in members if m["exptype"] != "direct_image"]
        self.direct_image = self.find_closest_direct(sciences[0], directs)
        root = self.level3_product_name()
        members.append(Member({"expname": root + "_i2d.fits", "exptype": "direct_image"}))
        members.append(Member({"expname": root + "_cat.ecsv", "exptype": "sourcecat"}))
        members.append(Member({"expname": root + "_segm.fits", "exptype": "segmap"}))
        return super().finalize()


def exposures_bkg_or_single(asn):
    return Group([l2_background(), l2_single_science(asn)], "any")


def not_science(asn):
    return Check(
        None,
        "science",
        None,
        lambda v, item: asn.get_exposure_type(item) != v,
        force_unique=False,
    )
