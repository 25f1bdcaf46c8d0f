"""The default stage-2 association rules (``Asn_Lv2*``, ``Asn_MIRLRSTAConfirm``).

References
----------
JWST pipeline documentation, "Stage 2 Associations: Rules" and "Association Naming".
"""

from __future__ import annotations

from ._constraints import Attr, Check, Group, Work
from ._dms import (
    nissoss_calibrated_filter,
    nrccoron_valid_detector,
    nrsfss_valid_detector,
    nrsifu_valid_detector,
    nrslamp_valid_detector,
)
from ._level2 import (
    Level2Asn,
    Lv2Image,
    Lv2Imprint,
    Lv2Nod,
    Lv2Special,
    Lv2Spectral,
    Lv2WFSS,
    exposures_bkg_or_single,
    l2_background,
    l2_base,
    l2_image_nonscience,
    l2_image_science,
    l2_mode,
    l2_single_science,
    l2_special,
    l2_spectral_science,
    l2_target,
    not_science,
)
from ._rulebase import (
    c_invalid,
    c_not_tso,
    c_tso,
    c_valid,
    c_wfsc,
)

__all__ = [
    "Asn_Lv2CoronAsRate",
    "Asn_Lv2FGS",
    "Asn_Lv2Image",
    "Asn_Lv2ImageNonScience",
    "Asn_Lv2ImageSpecial",
    "Asn_Lv2ImageTSO",
    "Asn_Lv2MIRLRSFixedSlitNod",
    "Asn_Lv2NRSFSS",
    "Asn_Lv2NRSIFUNod",
    "Asn_Lv2NRSLAMPImage",
    "Asn_Lv2NRSLAMPSpectral",
    "Asn_Lv2NRSMSA",
    "Asn_Lv2Spec",
    "Asn_Lv2SpecImprint",
    "Asn_Lv2SpecSpecial",
    "Asn_Lv2SpecTSO",
    "Asn_Lv2WFSC",
    "Asn_Lv2WFSSMIR",
    "Asn_Lv2WFSSNIS",
    "Asn_Lv2WFSSNRC",
    "Asn_Lv2WFSSParallel",
    "Asn_MIRLRSTAConfirm",
]


# =============================================================================== level 2 rules
class Asn_Lv2CoronAsRate(Lv2Image, Level2Asn):
    """NIRCam full-frame coronagraphy as plain images (``_rate``): one science exposure."""

    def build(self):
        return Group(
            [
                l2_base(),
                l2_mode(),
                Attr("exp_type", ["exp_type"], "nrc_coron"),
                Attr("subarray", ["subarray"], "full"),
                Check(None, True, nrccoron_valid_detector),
                exposures_bkg_or_single(self),
            ]
        )

    def is_item_coron(self, item):
        return False


class Asn_Lv2Image(Lv2Image, Level2Asn):
    """Imaging: one science exposure (not time series) with its backgrounds."""

    def build(self):
        return Group(
            [l2_base(), l2_mode(), l2_image_science(), c_not_tso(), exposures_bkg_or_single(self)]
        )


class Asn_Lv2ImageNonScience(Lv2Special, Lv2Image, Level2Asn):
    """Target acquisitions, focus and other non-science images: one each."""

    def build(self):
        return Group([l2_base(), l2_image_nonscience(), l2_single_science(self)])


class Asn_Lv2ImageSpecial(Lv2Special, Lv2Image, Level2Asn):
    """Background and PSF-reference images, each as its own science."""

    def build(self):
        return Group(
            [l2_base(), l2_mode(), l2_image_science(), l2_single_science(self), l2_special()]
        )


class Asn_Lv2ImageTSO(Lv2Image, Level2Asn):
    """Time-series imaging (``tso-image2``): one exposure."""

    def build(self):
        return Group([l2_base(), l2_mode(), l2_image_science(), l2_single_science(self), c_tso()])

    def init_hook(self, item):
        super().init_hook(item)
        self.data["asn_type"] = "tso-image2"


class Asn_Lv2FGS(Lv2Image, Level2Asn):
    """FGS images outside wavefront sensing: one exposure."""

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
    """Spectroscopy (not nods, slits, MSA or WFSS): science with backgrounds and imprints."""

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
    """NIRSpec imprint exposures as their own science."""

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
    """Background spectra as science, with the imprints of the same tile."""

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
    """Time-series spectroscopy (``tso-spec2``): one exposure."""

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
    """MIRI LRS science with its backgrounds or its target-acquisition confirmation."""

    def build(self):
        lrs = "mir_lrs-slitless|mir_lrs-fixedslit"
        sci = Group([l2_single_science(self), Attr("exp_type", ["exp_type"], lrs)])
        bkg = Group([l2_background(), c_not_tso(), Attr("exp_type", ["exp_type"], lrs)])
        scibkg = Group([l2_mode(), Group([sci, bkg], "any")])
        taconfirm = Attr("exp_type", ["exp_type"], "mir_taconfirm")
        scita = Group([Attr("obs_id", ["obs_id"]), Group([sci, taconfirm], "any")])
        return Group([l2_base(), Group([scibkg, scita], "any")])


class Asn_Lv2MIRLRSFixedSlitNod(Lv2Spectral, Level2Asn):
    """MIRI LRS fixed-slit nods: each nod with the other as background."""

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
    """NIRSpec lamp images (mirror): one exposure."""

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
    """NIRSpec lamp spectra on illuminated detectors (``nrslamp-spec2``)."""

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
    return Group([not_science(asn), l2_single_science(asn)], "any")


class Asn_Lv2WFSSNIS(Lv2WFSS, Lv2Spectral, Level2Asn):
    """NIRISS WFSS: one grism exposure with its direct-image products."""

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
    """NIRCam WFSS: one grism exposure with its direct-image products."""

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
    """MIRI WFSS: one grism exposure with its direct-image products."""

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
    """NIRSpec MSA: each exposure with the other nods as backgrounds."""

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
    """NIRSpec fixed slits: each exposure with the non-overlapping nods as backgrounds."""

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
                Group([not_science(self), nod_science], "any"),
            ]
        )


class Asn_Lv2NRSIFUNod(Lv2Imprint, Lv2Nod, Lv2Spectral, Level2Asn):
    """NIRSpec IFU nods: each exposure with the other nods as backgrounds."""

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
    """Wavefront-sensing images (``image2``): one exposure."""

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
    """Parallel WFSS with direct images of a ``direct_image`` candidate."""

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
