"""The default stage-3 association rules (``Asn_Lv3*``).

References
----------
JWST pipeline documentation, "Level 3 Associations: Rules" and "Association Naming".
"""

from __future__ import annotations

from ._constraints import Attr, Check, Group, Work
from ._dms import (
    nissoss_calibrated_filter,
    nrccoron_valid_detector,
    nrsfss_valid_detector,
    nrsifu_valid_detector,
)
from ._level3 import (
    AuxData,
    Coron3,
    Level3Asn,
    Spectrum3,
    TypedScience3,
    l3_image,
    l3_not_wfsc,
    l3_optical_path,
    l3_target,
    l3_target_science_only,
    product_name_noopt,
    product_name_wfss,
)
from ._rulebase import (
    c_invalid,
    c_not_bkgd,
    c_not_bkgd_or_tso,
    c_not_tso,
    c_target_acq,
    c_tso,
    c_valid,
    format_product,
)

__all__ = [
    "Asn_Lv3ACQ_Reprocess",
    "Asn_Lv3AMI",
    "Asn_Lv3Image",
    "Asn_Lv3ImageBackground",
    "Asn_Lv3ImageMosaic",
    "Asn_Lv3MIRCoron",
    "Asn_Lv3MIRMRS",
    "Asn_Lv3MIRMRSBackground",
    "Asn_Lv3NRCCoron",
    "Asn_Lv3NRCCoronImage",
    "Asn_Lv3NRSFSS",
    "Asn_Lv3NRSIFU",
    "Asn_Lv3NRSIFUBackground",
    "Asn_Lv3SlitlessSpectral",
    "Asn_Lv3SpecAux",
    "Asn_Lv3SpectralSource",
    "Asn_Lv3SpectralTarget",
    "Asn_Lv3TSO",
    "Asn_Lv3WFSCMB",
    "Asn_Lv3WFSSMIR",
    "Asn_Lv3WFSSNIS",
    "Asn_Lv3WFSSNRC",
]


# =============================================================================== level 3 rules
class Asn_Lv3ACQ_Reprocess(Level3Asn):
    """Never makes an association: sends target acquisitions to existing ones."""

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


class Asn_Lv3AMI(TypedScience3):
    """NIRISS AMI (``ami3``): science with PSF references."""

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


class Asn_Lv3Image(TypedScience3):
    """Imaging (``image3``): all science of one optical path and target."""

    asn_type = "image3"

    def rule(self):
        return Group(
            [l3_optical_path(), l3_target(self), l3_image(), l3_not_wfsc(), c_not_bkgd_or_tso()]
        )


class Asn_Lv3ImageBackground(AuxData, TypedScience3):
    """Background imaging combined on its own (``image3``)."""

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


class Asn_Lv3MIRCoron(Coron3):
    """MIRI coronagraphy (``coron3``): science with PSF references."""

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


class Asn_Lv3MIRMRS(Spectrum3):
    """MIRI MRS (``spec3``): all channels and bands of one target."""

    def rule(self):
        return Group([l3_target(self), Attr("exp_type", ["exp_type"], "mir_mrs"), c_not_tso()])

    @property
    def dms_product_name(self):
        return product_name_noopt(self)


class Asn_Lv3MIRMRSBackground(AuxData, Spectrum3):
    """MIRI MRS background observations combined on their own."""

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
        return product_name_noopt(self)


class Asn_Lv3NRCCoron(Coron3):
    """NIRCam coronagraphy (``coron3``): science with PSF references."""

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


class Asn_Lv3NRCCoronImage(TypedScience3):
    """NIRCam full-frame coronagraphy short-wave images (``image3``)."""

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


class Asn_Lv3NRSFSS(Spectrum3):
    """NIRSpec fixed slits (``spec3``), one product per source and slit."""

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


class Asn_Lv3NRSIFU(Spectrum3):
    """NIRSpec IFU (``spec3``): one grating, one target."""

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


class Asn_Lv3NRSIFUBackground(AuxData, Spectrum3):
    """NIRSpec IFU background observations combined on their own."""

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


class Asn_Lv3SlitlessSpectral(Spectrum3):
    """NIRISS SOSS outside time series, without nods (``spec3``)."""

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


class Asn_Lv3SpecAux(AuxData, Spectrum3):
    """Fixed-slit background observations combined on their own."""

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


class Asn_Lv3SpectralSource(Spectrum3):
    """NIRSpec MSA (``spec3``), one product per source."""

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


class Asn_Lv3SpectralTarget(Spectrum3):
    """Nodded MIRI LRS / SOSS spectra, each nod also the others' background."""

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


class Asn_Lv3TSO(TypedScience3):
    """Time series (``tso3``) of one observation candidate."""

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


class Asn_Lv3WFSCMB(TypedScience3):
    """Wavefront-sensing image pairs (``wfs-image3``) of one activity."""

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


class Asn_Lv3WFSSNRC(Spectrum3):
    """NIRCam WFSS (``spec3``): one grism and filter."""

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
        return product_name_wfss(self)


class Asn_Lv3WFSSNIS(Spectrum3):
    """NIRISS WFSS (``spec3``): one grism and blocking filter."""

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
        return product_name_wfss(self)


class Asn_Lv3WFSSMIR(Spectrum3):
    """MIRI WFSS (``spec3``)."""

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
        return product_name_wfss(self)


class Asn_Lv3ImageMosaic(TypedScience3):
    """Mosaic candidates (``image3``): the tiles of several observations."""

    asn_type = "image3"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.validity["is_type_mosaic"] = {
            "validated": False,
            "check": lambda _m: self.acid.type.lower() == "mosaic",
        }

    def rule(self):
        return Group([l3_optical_path(), l3_image(), l3_not_wfsc(), c_not_bkgd_or_tso()])
