"""The default association rules (stage 2 and stage 3), as constraint trees.

Each rule lists the pool columns its members must share or match, how members
get their roles and how the product is named. ``DEFAULT_RULES`` maps rule names
(``Asn_Lv2Image``...) to their classes in the order the generator tries them.

References
----------
JWST pipeline documentation, "Stage 2 Associations: Rules", "Level 3
Associations: Rules", "Association Naming"; rule names as in the official
``asn_rule`` field (``candidate_Asn_Lv3Image``...).
"""

from __future__ import annotations

import os

from ._constraints import Attr, Check, Group, Work
from ._dms import (
    nissoss_calibrated_filter,
    nrccoron_valid_detector,
    nrsfss_valid_detector,
    nrsifu_valid_detector,
    nrslamp_valid_detector,
    remove_suffix,
)
from ._rulebase import (
    AuxData,
    Level2Asn,
    Level3Asn,
    Lv2Image,
    Lv2Special,
    Lv2Spectral,
    Member,
    Science3,
    c_invalid,
    c_not_bkgd,
    c_not_bkgd_or_tso,
    c_not_tso,
    c_target_acq,
    c_tso,
    c_valid,
    c_wfsc,
    first_valid,
    format_product,
    l2_background,
    l2_base,
    l2_image_nonscience,
    l2_image_science,
    l2_mode,
    l2_single_science,
    l2_special,
    l2_spectral_science,
    l2_target,
    l3_image,
    l3_not_wfsc,
    l3_optical_path,
    l3_target,
    l3_target_science_only,
)

__all__ = ["DEFAULT_RULES"]


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


def _exposures_bkg_or_single(asn):
    return Group([l2_background(), l2_single_science(asn)], "any")


def _not_science(asn):
    return Check(
        None,
        "science",
        None,
        lambda v, item: asn.get_exposure_type(item) != v,
        force_unique=False,
    )


# =============================================================================== level 2 rules
class Asn_Lv2CoronAsRate(Lv2Image, Level2Asn):
    def build(self):
        return Group(
            [
                l2_base(),
                l2_mode(),
                Attr("exp_type", ["exp_type"], "nrc_coron"),
                Attr("subarray", ["subarray"], "full"),
                Check(None, True, nrccoron_valid_detector),
                _exposures_bkg_or_single(self),
            ]
        )

    def is_item_coron(self, item):
        return False


class Asn_Lv2Image(Lv2Image, Level2Asn):
    def build(self):
        return Group(
            [l2_base(), l2_mode(), l2_image_science(), c_not_tso(), _exposures_bkg_or_single(self)]
        )


class Asn_Lv2ImageNonScience(Lv2Special, Lv2Image, Level2Asn):
    def build(self):
        return Group([l2_base(), l2_image_nonscience(), l2_single_science(self)])


class Asn_Lv2ImageSpecial(Lv2Special, Lv2Image, Level2Asn):
    def build(self):
        return Group(
            [l2_base(), l2_mode(), l2_image_science(), l2_single_science(self), l2_special()]
        )


class Asn_Lv2ImageTSO(Lv2Image, Level2Asn):
    def build(self):
        return Group([l2_base(), l2_mode(), l2_image_science(), l2_single_science(self), c_tso()])

    def init_hook(self, item):
        super().init_hook(item)
        self.data["asn_type"] = "tso-image2"


class Asn_Lv2FGS(Lv2Image, Level2Asn):
    def build(self):
        return Group(
            [
                l2_base(),
                l2_single_science(self),
                Attr("exp_type", ["exp_type"], "fgs_image|fgs_focus"),
                Group([c_wfsc()], "notany"),
            ]
        )


class Asn_Lv2Spec(Lv2Spectral, Lv2Imprint, Level2Asn):
    def build(self):
        sci_or_imprint = Group(
            [
                Group(
                    [Attr("imprint", ["is_imprt"])],
                    reprocess_on_match=True,
                    work_over=Work.EXISTING,
                ),
                l2_single_science(self),
            ],
            "any",
        )
        same_tile = Group([sci_or_imprint, Attr("mostilno", ["mostilno"])])
        exposures = Group([l2_background(), same_tile], "any")
        not_tso_or_nod = Group(
            [c_tso(), Attr("patttype", ["patttype"], "2-point-nod|4-point-nod|along-slit-nod")],
            "notany",
        )
        exptypes = l2_spectral_science(
            exclude=[
                "nis_wfss",
                "nrc_wfss",
                "nrs_fixedslit",
                "nrs_msaspec",
                "mir_lrs-slitless",
                "mir_lrs-fixedslit",
            ]
        )
        return Group(
            [
                l2_base(),
                l2_mode(),
                exptypes,
                exposures,
                not_tso_or_nod,
                c_valid(nrsifu_valid_detector),
            ]
        )


class Asn_Lv2SpecImprint(Lv2Special, Lv2Spectral, Level2Asn):
    def build(self):
        return Group(
            [
                l2_base(),
                l2_mode(),
                l2_spectral_science(),
                l2_single_science(self),
                c_valid(nrsifu_valid_detector),
                Attr("imprint", ["is_imprt"]),
            ]
        )


class Asn_Lv2SpecSpecial(Lv2Special, Lv2Spectral, Lv2Imprint, Level2Asn):
    def build(self):
        imprint_special = Group(
            [
                Attr(
                    "imprint",
                    ["is_imprt"],
                    force_reprocess=Work.EXISTING,
                    only_on_match=True,
                ),
                Attr("mosaic_tile", ["mostilno"]),
                Check(
                    None,
                    "imprint",
                    lambda _item: self.original_exposure_type,
                    lambda v1, v2: v1 != v2,
                    force_unique=False,
                ),
            ]
        )
        exposures = Group([imprint_special, l2_single_science(self)], "any")
        return Group(
            [
                l2_base(),
                l2_mode(),
                l2_spectral_science(),
                l2_special(),
                c_valid(nrsifu_valid_detector),
                exposures,
            ]
        )


class Asn_Lv2SpecTSO(Lv2Spectral, Level2Asn):
    def build(self):
        sci = Group(
            [
                l2_base(),
                l2_mode(),
                l2_spectral_science(
                    exclude=[
                        "nrs_msaspec",
                        "nrs_fixedslit",
                        "mir_lrs-slitless",
                        "mir_lrs-fixedslit",
                    ]
                ),
                l2_single_science(self),
                c_tso(),
            ]
        )
        not_tsgrism_clear = Group(
            [
                Group(
                    [
                        Attr("exp_type", ["exp_type"], "nrc_tsgrism"),
                        Attr("pupil", ["pupil"], "clear"),
                    ]
                )
            ],
            "notany",
        )
        not_bots_bad_detector = Group(
            [
                Group(
                    [
                        Attr("exp_type", ["exp_type"], "nrs_brightobj"),
                        c_invalid(nrsfss_valid_detector),
                    ]
                )
            ],
            "notany",
        )
        not_soss_uncal = Group(
            [
                Group(
                    [
                        Attr("exp_type", ["exp_type"], "nis_soss"),
                        c_invalid(nissoss_calibrated_filter),
                    ]
                )
            ],
            "notany",
        )
        return Group([sci, not_tsgrism_clear, not_bots_bad_detector, not_soss_uncal])

    def init_hook(self, item):
        super().init_hook(item)
        self.data["asn_type"] = "tso-spec2"


class Asn_MIRLRSTAConfirm(Lv2Spectral, Level2Asn):
    def build(self):
        lrs = "mir_lrs-slitless|mir_lrs-fixedslit"
        sci = Group([l2_single_science(self), Attr("exp_type", ["exp_type"], lrs)])
        bkg = Group([l2_background(), c_not_tso(), Attr("exp_type", ["exp_type"], lrs)])
        scibkg = Group([l2_mode(), Group([sci, bkg], "any")])
        taconfirm = Attr("exp_type", ["exp_type"], "mir_taconfirm")
        scita = Group([Attr("obs_id", ["obs_id"]), Group([sci, taconfirm], "any")])
        return Group([l2_base(), Group([scibkg, scita], "any")])


class Asn_Lv2MIRLRSFixedSlitNod(Lv2Spectral, Level2Asn):
    def build(self):
        sci = Group(
            [
                Attr("exp_type", ["exp_type"], "mir_lrs-fixedslit"),
                Attr("patt_num", ["patt_num"]),
                l2_single_science(self, reprocess_on_match=True, work_over=Work.EXISTING),
                Attr("patttype", ["patttype"], "along-slit-nod", force_unique=False),
            ]
        )
        background = Group(
            [
                Attr("exp_type", ["exp_type"], "mir_lrs-fixedslit"),
                Attr(
                    "is_current_patt_num",
                    ["patt_num"],
                    lambda: "((?!{}).)*".format(self.constraints.find("patt_num").value),
                ),
                Check("force_match", None, lambda _item: False, lambda _c, _o: True),
                Attr("patttype", ["patttype"], "along-slit-nod", force_unique=False),
            ]
        )
        taconfirm = Attr("exp_type", ["exp_type"], "mir_taconfirm")
        exposures = Group([sci, background, taconfirm], "any")
        base = Group(
            [
                l2_base(),
                Check(
                    None,
                    True,
                    None,
                    lambda _v, _i: self.acid.type != "background",
                    force_unique=False,
                ),
            ]
        )
        return Group([base, exposures])

    def get_exposure_type(self, item, default="science"):
        role = super().get_exposure_type(item, default)
        if role == "science" and self.constraints.find("is_current_patt_num").matched:
            role = "background"
        return role


class Asn_Lv2NRSLAMPImage(Lv2Image, Lv2Special, Level2Asn):
    def build(self):
        return Group(
            [
                l2_base(),
                l2_single_science(self),
                Attr("exp_type", ["exp_type"], "nrs_lamp"),
                Attr(None, ["grating"], "mirror"),
                Attr(None, ["opmode"], "image", required=False),
            ]
        )


class Asn_Lv2NRSLAMPSpectral(Lv2Special, Level2Asn):
    def build(self):
        not_msaspec = Group([Attr("opmode", ["opmode"], "msaspec")], "notany")
        msa_with_meta = Group([Attr(None, ["opmode"], "msaspec"), Attr(None, ["msametfl"])])
        not_invalid_path = Group(
            [
                Attr(None, ["grating"], "mirror", force_unique=False),
                Attr(None, ["opmode"], "grating-only", force_unique=False),
                Attr(None, ["lamp"], "nolamp", force_unique=False),
            ],
            "notany",
        )
        return Group(
            [
                l2_base(),
                l2_single_science(self),
                Attr("exp_type", ["exp_type"], "nrs_autoflat|nrs_autowave|nrs_lamp"),
                Attr("opt_elem", ["filter"], "opaque"),
                c_valid(nrslamp_valid_detector),
                Group([not_msaspec, msa_with_meta], "any"),
                Attr("lamp", ["lamp"]),
                not_invalid_path,
            ]
        )

    def init_hook(self, item):
        super().init_hook(item)
        self.data["asn_type"] = "nrslamp-spec2"


def _wfss_or_direct(wfss, image):
    return Group(
        [
            Attr("exp_type", ["exp_type"], wfss),
            Attr(
                "image_exp_type",
                ["exp_type"],
                image,
                force_reprocess=Work.NONSCIENCE,
                only_on_match=True,
            ),
        ],
        "any",
    )


def _wfss_exposures(asn):
    return Group([_not_science(asn), l2_single_science(asn)], "any")


class Asn_Lv2WFSSNIS(Lv2WFSS, Lv2Spectral, Level2Asn):
    def build(self):
        return Group(
            [
                l2_base(),
                l2_target(),
                _wfss_or_direct("nis_wfss", "nis_image"),
                Attr("instrument", ["instrume"]),
                Attr("instrument", ["instrume"]),
                Attr("pupil", ["pupil"]),
                Attr("subarray", ["subarray"]),
                _wfss_exposures(self),
            ]
        )


class Asn_Lv2WFSSNRC(Lv2WFSS, Lv2Spectral, Level2Asn):
    def build(self):
        return Group(
            [
                l2_base(),
                l2_target(),
                _wfss_or_direct("nrc_wfss", "nrc_image"),
                Attr("instrument", ["instrume"]),
                Attr("detector", ["detector"]),
                _wfss_exposures(self),
            ]
        )


class Asn_Lv2WFSSMIR(Lv2WFSS, Lv2Spectral, Level2Asn):
    def build(self):
        return Group(
            [
                l2_base(),
                l2_target(),
                _wfss_or_direct("mir_wfss", "mir_image"),
                Attr("instrument", ["instrume"]),
                Attr("detector", ["detector"]),
                _wfss_exposures(self),
            ]
        )


class Asn_Lv2NRSMSA(Lv2Nod, Lv2Spectral, Level2Asn):
    def build(self):
        msa_sci = Group(
            [
                Attr("exp_type", ["exp_type"], "nrs_msaspec"),
                Attr(None, ["msametfl"]),
                Attr("expspcin", ["expspcin"]),
            ]
        )
        return Group([l2_base(), l2_mode(), msa_sci])


class Asn_Lv2NRSFSS(Lv2Nod, Lv2Spectral, Level2Asn):
    def build(self):
        nod_science = Group(
            [
                Attr("expspcin", ["expspcin"]),
                Attr("nods", ["numdthpt"]),
                Attr("subpxpts", ["subpxpns", "subpxpts"]),
                Check(
                    None,
                    "science",
                    None,
                    lambda v, item: self.get_exposure_type(item) == v,
                    force_unique=False,
                ),
            ]
        )
        return Group(
            [
                l2_base(),
                l2_mode(),
                Attr("exp_type", ["exp_type"], "nrs_fixedslit"),
                c_valid(nrsfss_valid_detector),
                Group([_not_science(self), nod_science], "any"),
            ]
        )


class Asn_Lv2NRSIFUNod(Lv2Imprint, Lv2Nod, Lv2Spectral, Level2Asn):
    def build(self):
        return Group(
            [
                l2_base(),
                l2_mode(),
                Attr("exp_type", ["exp_type"], "nrs_ifu"),
                c_valid(nrsifu_valid_detector),
                Attr("patttype", ["patttype"], "2-point-nod|4-point-nod"),
                Attr("mosaic_tile", ["mostilno"]),
            ]
        )


class Asn_Lv2WFSC(Level2Asn):
    def build(self):
        not_los_jitter = Group(
            [
                Attr("dms_note", ["dms_note"], "wfsc_los_jitter"),
                Attr("exp_type", ["exp_type"], "nrc_image"),
            ],
            "notall",
        )
        return Group(
            [l2_base(), l2_image_science(), l2_single_science(self), c_wfsc(), not_los_jitter]
        )

    def init_hook(self, item):
        super().init_hook(item)
        self.data["asn_type"] = "image2"


class Asn_Lv2WFSSParallel(Lv2WFSS, Lv2Spectral, Level2Asn):
    def build(self):
        return Group(
            [
                Attr("acdirect", ["asn_candidate"], r"\[\('c\d{4}', 'direct_image'\)\]"),
                _wfss_or_direct("nis_wfss|nrc_wfss|mir_wfss", "nis_image|nrc_image|mir_image"),
                _wfss_exposures(self),
                l2_target(),
                Attr("instrument", ["instrume"]),
            ]
        )

    @staticmethod
    def find_closest_direct(_science, directs):
        longs = [d for d in directs if "long" in d["expname"]]
        return longs[0] if longs else directs[0]

    def validate_candidates(self, _member):
        return True


# =============================================================================== level 3 rules
class Asn_Lv3ACQ_Reprocess(Level3Asn):
    def build(self):
        return Group(
            [
                c_target_acq(),
                Check(
                    "force_fail",
                    "anything but None",
                    None,
                    lambda _x, _y: False,
                    reprocess_on_fail=True,
                    work_over=Work.NONSCIENCE,
                    reprocess_rules=[],
                ),
            ]
        )


class _Typed3(Science3):
    asn_type = "None"

    def init_hook(self, item):
        self.data["asn_type"] = self.asn_type
        super().init_hook(item)


class Asn_Lv3AMI(_Typed3):
    asn_type = "ami3"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.validity["has_psf"] = {"validated": False, "check": lambda m: m["exptype"] == "psf"}

    def rule(self):
        return Group(
            [
                l3_optical_path(),
                Attr("exp_type", ["exp_type"], "nis_ami"),
                l3_target_science_only(self),
            ]
        )


class Asn_Lv3Image(_Typed3):
    asn_type = "image3"

    def rule(self):
        return Group(
            [l3_optical_path(), l3_target(self), l3_image(), l3_not_wfsc(), c_not_bkgd_or_tso()]
        )


class Asn_Lv3ImageBackground(AuxData, _Typed3):
    asn_type = "image3"

    def rule(self):
        return Group(
            [
                l3_optical_path(),
                l3_target(self),
                l3_image(),
                l3_not_wfsc(),
                Attr("bkgdtarg", ["bkgdtarg"]),
                c_not_tso(),
            ]
        )


class _Coron3(_Typed3):
    asn_type = "coron3"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.validity["has_psf"] = {"validated": False, "check": lambda m: m["exptype"] == "psf"}


class Asn_Lv3MIRCoron(_Coron3):
    def rule(self):
        return Group(
            [
                l3_optical_path(),
                Attr("exp_type", ["exp_type"], "mir_lyot|mir_4qpm"),
                l3_target_science_only(self),
                c_not_bkgd(),
            ],
            name="asn_coron",
        )


class _Spec3(_Typed3):
    asn_type = "spec3"


def _name_noopt(asn):
    return (
        f"jw{asn.data['program']}-{asn.acid.id}_{asn.get_target()}_{asn.get_instrument()}"
    ).lower()


class Asn_Lv3MIRMRS(_Spec3):
    def rule(self):
        return Group([l3_target(self), Attr("exp_type", ["exp_type"], "mir_mrs"), c_not_tso()])

    @property
    def dms_product_name(self):
        return _name_noopt(self)


class Asn_Lv3MIRMRSBackground(AuxData, _Spec3):
    def rule(self):
        return Group(
            [
                l3_target(),
                Attr("exp_type", ["exp_type"], "mir_mrs"),
                c_not_tso(),
                Attr("bkgdtarg", ["bkgdtarg"], "T"),
            ]
        )

    @property
    def dms_product_name(self):
        return _name_noopt(self)


class Asn_Lv3NRCCoron(_Coron3):
    def rule(self):
        return Group(
            [
                l3_optical_path(),
                Attr("exp_type", ["exp_type"], "nrc_coron"),
                l3_target_science_only(self),
                c_not_bkgd(),
                c_valid(nrccoron_valid_detector),
            ],
            name="asn_coron",
        )


class Asn_Lv3NRCCoronImage(_Typed3):
    asn_type = "image3"

    def rule(self):
        not_bkgd_or_psf = Group(
            [Attr("bkgdtarg", ["bkgdtarg"], force_unique=False), Attr("is_psf", ["is_psf"], "T")],
            "notany",
        )
        return Group(
            [
                l3_optical_path(),
                Attr("exp_type", ["exp_type"], "nrc_coron"),
                l3_target_science_only(self),
                not_bkgd_or_psf,
                Attr("channel", ["channel"], "short"),
                Attr("subarray", ["subarray"], "full"),
            ]
        )

    @property
    def dms_product_name(self):
        subarray = self.get_subarray()
        return (
            f"jw{self.data['program']}-{self.acid.id}_{self.get_target()}_"
            f"{self.get_instrument()}_{self.get_opt_element()}"
            f"{'-' + subarray if subarray else ''}-image3"
        ).lower()

    def is_item_coron(self, item):
        return False


class Asn_Lv3NRSFSS(_Spec3):
    def rule(self):
        return Group(
            [
                c_not_tso(),
                Attr(
                    "exp_type",
                    ["exp_type"],
                    "nrs_autoflat|nrs_autowave|nrs_fixedslit",
                    force_unique=False,
                ),
                c_valid(nrsfss_valid_detector),
                l3_optical_path(),
                l3_target(self),
            ]
        )

    @property
    def dms_product_name(self):
        subarray = self.get_subarray()
        return format_product(
            "jw{program}-{acid}_{target}-{source_id}_{instrument}_{opt_elem}-{slit_name}{subarray}",
            program=self.data["program"],
            acid=self.acid.id,
            target=self.get_target(),
            instrument=self.get_instrument(),
            opt_elem=self.get_opt_element(),
            subarray="-" + subarray if subarray else subarray,
        ).lower()


class Asn_Lv3NRSIFU(_Spec3):
    def rule(self):
        return Group(
            [
                l3_target(self),
                Attr("exp_type", ["exp_type"], "nrs_autowave|nrs_ifu", force_unique=False),
                c_valid(nrsifu_valid_detector),
                Attr("patttype", ["patttype"], required=True),
                c_not_tso(),
                Attr("opt_elem", ["grating"]),
            ]
        )


class Asn_Lv3NRSIFUBackground(AuxData, _Spec3):
    def rule(self):
        return Group(
            [
                l3_target(self),
                c_not_tso(),
                Attr("bkgdtarg", ["bkgdtarg"], "T"),
                Attr("allowed_bkgdtarg", ["exp_type"], "nrs_ifu"),
                c_valid(nrsifu_valid_detector),
                Attr("opt_elem", ["grating"]),
            ]
        )


class Asn_Lv3SlitlessSpectral(_Spec3):
    def rule(self):
        not_nod = Group([Attr("patttype_spectarg", ["patttype"])], "notany")
        not_lrs_slitless_tso = Group(
            [Attr("restricted_slitless", ["exp_type"], "mir_lrs-slitless"), c_tso()], "notany"
        )
        return Group(
            [
                c_not_tso(),
                l3_optical_path(),
                l3_target(self),
                Attr("exp_type", ["exp_type"], "nis_soss", force_unique=False),
                not_nod,
                not_lrs_slitless_tso,
            ]
        )


class Asn_Lv3SpecAux(AuxData, _Spec3):
    def rule(self):
        return Group(
            [
                l3_target(self),
                c_not_tso(),
                Attr("bkgdtarg", ["bkgdtarg"], "T"),
                Attr("allowed_bkgdtarg", ["exp_type"], "mir_lrs-fixedslit|nrs_fixedslit"),
                l3_optical_path(),
            ]
        )


class Asn_Lv3SpectralSource(_Spec3):
    def rule(self):
        msa = Group(
            [
                Attr("exp_type", ["exp_type"], "nrs_msaspec", force_unique=False),
                Attr("is_msa", ["msametfl"], force_unique=False),
            ],
            name="msa_spectral",
        )
        msa_or_calib = Group(
            [Attr("exp_type", ["exp_type"], "nrs_autoflat|nrs_autowave", force_unique=False), msa],
            "any",
        )
        return Group([c_not_tso(), l3_optical_path(), l3_target(self), msa_or_calib])

    @property
    def dms_product_name(self):
        subarray = self.get_subarray()
        slit = self.get_slit_name()
        return format_product(
            "jw{program}-{acid}_{source_id}_{instrument}_{opt_elem}{slit_name}{subarray}",
            program=self.data["program"],
            acid=self.acid.id,
            instrument=self.get_instrument(),
            opt_elem=self.get_opt_element(),
            slit_name="-" + slit if slit else slit,
            subarray="-" + subarray if subarray else subarray,
        ).lower()


class Asn_Lv3SpectralTarget(_Spec3):
    def rule(self):
        nod = Group(
            [Attr("patttype_spectarg", ["patttype"], "2-point-nod|4-point-nod|along-slit-nod")],
            "any",
        )
        return Group(
            [
                c_not_tso(),
                l3_optical_path(),
                l3_target(self),
                Attr("exp_type", ["exp_type"], "mir_lrs-fixedslit|nis_soss", force_unique=False),
                nod,
            ]
        )

    def finalize(self):
        return self.make_fixedslit_bkg() if self.is_valid else None


class Asn_Lv3TSO(_Typed3):
    asn_type = "tso3"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.validity["is_type_observation"] = {
            "validated": False,
            "check": lambda _m: self.acid.type.lower() == "observation",
        }

    def rule(self):
        not_ifu = Group(
            [
                Attr(
                    "exp_type",
                    ["exp_type"],
                    "mir_mrs|mir_flatmrs|nrs_autowave|nrs_ifu",
                    force_unique=False,
                )
            ],
            "notany",
        )
        not_tsgrism_invalid = Group(
            [
                Group(
                    [
                        Attr("restricted_grism", ["exp_type"], "nrc_tsgrism"),
                        Attr("grism_clear", ["pupil"], "clear|gdhs0|gdhs60"),
                    ]
                ),
                Group(
                    [
                        Attr("restricted_ts", ["exp_type"], "nrc_tsgrism"),
                        Attr("module", ["detector"], "nrcblong"),
                    ]
                ),
                Attr(
                    "subarray",
                    ["subarray"],
                    "sub260stripe4_dhs|sub41stripe1_dhs|sub82stripe2_dhs|sub164stripe4_dhs",
                ),
            ],
            "notany",
        )
        not_soss_invalid = Group(
            [
                Group([Attr("exp_type", ["exp_type"], "nis_soss"), Attr("nints", ["nints"], "1")]),
                Group(
                    [
                        Attr("exp_type", ["exp_type"], "nis_soss"),
                        c_invalid(nissoss_calibrated_filter),
                    ]
                ),
            ],
            "notany",
        )
        not_bots_invalid = Group(
            [
                Group(
                    [
                        Attr("exp_type", ["exp_type"], "nrs_brightobj"),
                        c_invalid(nrsfss_valid_detector),
                    ]
                )
            ],
            "notany",
        )
        return Group(
            [
                l3_target(self),
                l3_optical_path(),
                c_tso(),
                Attr("exp_type", ["exp_type"]),
                not_ifu,
                not_tsgrism_invalid,
                not_soss_invalid,
                not_bots_invalid,
            ]
        )


class Asn_Lv3WFSCMB(_Typed3):
    asn_type = "wfs-image3"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.validity["has_pair"] = {
            "validated": False,
            "check": lambda _m: len(self.current_product["members"]) == 1,
        }
        self.validity["is_not_group"] = {
            "validated": False,
            "check": lambda _m: self.acid.type.lower() != "group",
        }

    def rule(self):
        return Group(
            [
                l3_optical_path(),
                l3_target(self),
                l3_image(),
                Attr("patttype", ["patttype"], "wfsc"),
                Attr("detector", ["detector"]),
                Attr("obs_id", ["obs_id"]),
                Attr("act_id", ["act_id"]),
                Group([Attr("dms_note", ["dms_note"], "wfsc_los_jitter")], "notany"),
            ]
        )

    @property
    def dms_product_name(self):
        return format_product(
            "{existing}-{detector}_{suffix}-{expspcin}",
            existing=self.level3_product_name(),
            detector=self.constraints.find("detector").value,
            expspcin=self.constraints.find("act_id").value,
        ).lower()


def _name_wfss(asn):
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


class Asn_Lv3WFSSNRC(_Spec3):
    def rule(self):
        return Group(
            [
                l3_target(self),
                Attr("exp_type", ["exp_type"], "nrc_wfss"),
                Attr("opt_elem", ["pupil"], "GRISMR|GRISMC"),
                Attr("opt_elem2", ["filter"]),
            ]
        )

    @property
    def dms_product_name(self):
        return _name_wfss(self)


class Asn_Lv3WFSSNIS(_Spec3):
    def rule(self):
        return Group(
            [
                l3_target(self),
                Attr("exp_type", ["exp_type"], "nis_wfss"),
                Attr("opt_elem", ["filter"], "gr150r|gr150c"),
                Attr("opt_elem2", ["pupil"]),
            ]
        )

    @property
    def dms_product_name(self):
        return _name_wfss(self)


class Asn_Lv3WFSSMIR(_Spec3):
    def rule(self):
        return Group(
            [
                l3_target(self),
                Attr("exp_type", ["exp_type"], "mir_wfss"),
                Attr("opt_elem", ["filter"], "P750L"),
            ]
        )

    @property
    def dms_product_name(self):
        return _name_wfss(self)


class Asn_Lv3ImageMosaic(_Typed3):
    asn_type = "image3"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.validity["is_type_mosaic"] = {
            "validated": False,
            "check": lambda _m: self.acid.type.lower() == "mosaic",
        }

    def rule(self):
        return Group([l3_optical_path(), l3_image(), l3_not_wfsc(), c_not_bkgd_or_tso()])


def _collect():
    rules = {
        name: obj
        for name, obj in globals().items()
        if name.startswith("Asn_") and isinstance(obj, type)
    }
    lv2 = sorted(n for n, r in rules.items() if issubclass(r, Level2Asn))
    lv3 = sorted(n for n, r in rules.items() if issubclass(r, Level3Asn))
    return {n: rules[n] for n in lv2 + lv3}


#: Rule name -> class, in the order rules are tried (level 2, then level 3, each by name).
DEFAULT_RULES: dict[str, type] = _collect()
