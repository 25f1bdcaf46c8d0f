"""DMS conventions used by the association rules: exposure roles, file and product names.

References
----------
JWST pipeline documentation, "Association Naming", "Level 2 Associations:
Technical Specifications", "Level 3 Associations: Technical Specifications"
and "Level 3 Associations: Rules" (member roles, optical paths of NIRSpec
fixed slits and IFU, coronagraph detectors).
"""

from __future__ import annotations

import re

from ._constraints import first_valid

__all__ = [
    "ACQ_EXP_TYPES",
    "CORON_EXP_TYPES",
    "IMAGE2_NONSCIENCE_EXP_TYPES",
    "IMAGE2_SCIENCE_EXP_TYPES",
    "SPEC2_SCIENCE_EXP_TYPES",
    "TSO_EXP_TYPES",
    "exposure_role",
    "nrccoron_valid_detector",
    "nrsfss_valid_detector",
    "nrsifu_valid_detector",
    "nrslamp_valid_detector",
    "nissoss_calibrated_filter",
    "remove_suffix",
    "rename_level2",
    "rename_level2a",
]

ACQ_EXP_TYPES = frozenset(
    "mir_tacq mir_taconfirm nis_taconfirm nis_tacq nrc_taconfirm nrc_tacq nrs_confirm nrs_msata "
    "nrs_taconfirm nrs_tacq nrs_taslit nrs_verify nrs_wata".split()
)

#: Exposure types whose members are not science (role given by the value).
_ROLE_OF_EXP_TYPE = {
    **dict.fromkeys(
        ["mir_darkall", "mir_darkimg", "mir_darkmrs", "nis_dark", "nrc_dark", "nrs_dark"], "dark"
    ),
    **dict.fromkeys(
        ["mir_flatimage", "mir_flatmrs", "mir_flatimage-ext", "mir_flatmrs-ext", "nrc_flat"], "flat"
    ),
    **dict.fromkeys(
        [
            "mir_tacq",
            "mir_taconfirm",
            "nis_tacq",
            "nis_taconfirm",
            "nrc_tacq",
            "nrc_taconfirm",
            "nrs_confirm",
            "nrs_msata",
            "nrs_tacq",
            "nrs_taconfirm",
            "nrs_taslit",
            "nrs_wata",
        ],
        "target_acquisition",
    ),
    **dict.fromkeys(
        ["nis_focus", "nis_lamp", "nrc_focus", "nrc_led", "nrs_focus", "nrs_image", "nrs_lamp"],
        "engineering",
    ),
    "nrs_autoflat": "autoflat",
    "nrs_autowave": "autowave",
}

CORON_EXP_TYPES = ("mir_4qpm", "mir_lyot", "nrc_coron")
IMAGE2_SCIENCE_EXP_TYPES = (
    "fgs_image",
    "mir_4qpm",
    "mir_image",
    "mir_lyot",
    "nis_ami",
    "nis_image",
    "nrc_coron",
    "nrc_image",
    "nrs_mimf",
    "nrc_tsimage",
)
IMAGE2_NONSCIENCE_EXP_TYPES = (
    "mir_coroncal",
    "nis_focus",
    "nrc_focus",
    "nrs_focus",
    "nrs_image",
    *sorted(ACQ_EXP_TYPES),
)
SPEC2_SCIENCE_EXP_TYPES = (
    "mir_lrs-fixedslit",
    "mir_lrs-slitless",
    "mir_mrs",
    "mir_wfss",
    "nis_soss",
    "nis_wfss",
    "nrc_tsgrism",
    "nrc_wfss",
    "nrs_fixedslit",
    "nrs_ifu",
    "nrs_msaspec",
    "nrs_brightobj",
)
LEVEL2B_EXP_TYPES = frozenset(
    IMAGE2_SCIENCE_EXP_TYPES + IMAGE2_NONSCIENCE_EXP_TYPES + SPEC2_SCIENCE_EXP_TYPES
)
TSO_EXP_TYPES = ("nrc_tsimage", "nrc_tsgrism", "nrs_brightobj")

#: Flags that turn a science exposure into another role (checked in this order).
_SPECIAL_ROLES = (("psf", "is_psf"), ("imprint", "is_imprt"), ("background", "bkgdtarg"))

# Valid NIRSpec optical paths: (slit, grating, filter, detector) for fixed slits
# ("a" stands for every slit but S200B1), (grating, filter, detector) for the IFU,
# (grating, lamp, detector) for fixed-slit lamps.
_NRS_FSS_PATHS = frozenset(
    tuple(p.split(":"))
    for p in (
        "a:prism:clear:nrs1 a:g395h:f290lp:nrs1 a:g395h:f290lp:nrs2 a:g235h:f170lp:nrs1 "
        "a:g235h:f170lp:nrs2 a:g140h:f100lp:nrs1 a:g140h:f100lp:nrs2 a:g140h:f070lp:nrs1 "
        "a:g395m:f290lp:nrs1 a:g235m:f170lp:nrs1 a:g140m:f100lp:nrs1 a:g140m:f070lp:nrs1 "
        "s200b1:prism:clear:nrs2 s200b1:g395h:f290lp:nrs2 s200b1:g235h:f170lp:nrs2 "
        "s200b1:g140h:f100lp:nrs2 s200b1:g140h:f070lp:nrs1 s200b1:g140h:f070lp:nrs2 "
        "s200b1:g395m:f290lp:nrs2 s200b1:g235m:f170lp:nrs2 s200b1:g140m:f100lp:nrs2 "
        "s200b1:g140m:f070lp:nrs1 s200b1:g140m:f070lp:nrs2"
    ).split()
)
_NRS_FSS_LAMP_PATHS = frozenset(
    (grating, lamp, det)
    for grating, lamps in (
        ("prism", "line4 flat5 test"),
        ("g395h", "flat3 line3"),
        ("g235h", "flat2 line2"),
        ("g140h", "flat1 ref line1 flat4"),
        ("g395m", "flat3 line3"),
        ("g235m", "flat2 line2"),
        ("g140m", "flat1 line1 flat4"),
    )
    for lamp in lamps.split()
    for det in ("nrs1", "nrs2")
)
_NRS_IFU_PATHS = frozenset(
    tuple(p.split(":"))
    for p in (
        "prism:clear:nrs1 g140m:f070lp:nrs1 g140m:f100lp:nrs1 g235m:f170lp:nrs1 "
        "g395m:f290lp:nrs1 g140h:f070lp:nrs1 g140h:f100lp:nrs1 g140h:f100lp:nrs2 "
        "g235h:f170lp:nrs1 g235h:f170lp:nrs2 g395h:f290lp:nrs1 g395h:f290lp:nrs2"
    ).split()
)
_NIS_SOSS_UNCALIBRATED = ("f277w",)

#: File-name suffixes of pipeline products that ``remove_suffix`` strips.
_KNOWN_SUFFIXES = (
    "uncal",
    "rate",
    "rateints",
    "cal",
    "calints",
    "x1d",
    "x1dints",
    "c1d",
    "i2d",
    "s2d",
    "s3d",
    "crf",
    "crfints",
    "bsub",
    "bsubints",
    "psfsub",
    "psfalign",
    "psfstack",
    "ami",
    "aminorm",
    "ami-oi",
    "aminorm-oi",
    "cat",
    "segm",
    "whtlt",
    "phot",
    "wfscmb",
    "median",
    "outlier_i2d",
    "outlier_s2d",
    "trapsfilled",
    "ramp",
    "dark",
    "fitopt",
    "spec3",
    "image3",
    "image2",
    "spec2",
    "tso3",
    "coron3",
    "ami3",
)
_SUFFIX_RE = re.compile(
    "^(?P<root>.+?)((?P<sep>_|-)(" + "|".join(re.escape(s) for s in _KNOWN_SUFFIXES) + "))?$"
)
_UNCAL_RE = re.compile(r"(?P<path>.+)(?P<type>_uncal)(?P<ext>\..+)")


def remove_suffix(name: str) -> str:
    """``name`` without a trailing known product suffix (``_rate``, ``_cal``...)."""
    match = _SUFFIX_RE.match(name)
    return match.group("root") if match else name


def rename_level2a(filename: str, *, integrations: bool = False) -> str:
    """The stage-1 product of a raw file: ``*_uncal.ext`` -> ``*_rate[ints].ext``."""
    match = _UNCAL_RE.match(filename)
    if match is None:
        return filename
    suffix = "rateints" if integrations else "rate"
    return f"{match.group('path')}_{suffix}{match.group('ext')}"


def rename_level2(filename: str, *, exp_type: str, integrations: bool, role: str) -> str:
    """The stage-2 product of a raw file as a stage-3 member.

    Backgrounds become ``_x1d``, stage-2 exposure types ``_cal``, others
    ``_rate``; ``ints`` is added for per-integration products.
    """
    match = _UNCAL_RE.match(filename)
    if match is None:
        return filename
    if role == "background":
        suffix = "x1d"
    else:
        suffix = "cal" if exp_type in LEVEL2B_EXP_TYPES else "rate"
    if integrations:
        suffix += "ints"
    return f"{match.group('path')}_{suffix}{match.group('ext')}"


def exposure_role(item: dict, default: str = "science") -> str:
    """Member role of a pool row: pointing type, exposure type, then PSF/imprint/background flags.

    Raises
    ------
    LookupError
        If the row has no exposure type.
    """
    try:
        _, pntg = first_valid(item, ("pntgtype",))
    except KeyError:
        pass
    else:
        if pntg != "science":
            return pntg
    try:
        _, exp_type = first_valid(item, ("exp_type",))
    except KeyError:
        raise LookupError("Exposure type cannot be determined") from None
    role = _ROLE_OF_EXP_TYPE.get(exp_type, default)
    if role != "science":
        return role
    for special, column in _SPECIAL_ROLES:
        try:
            first_valid(item, (column,))
        except KeyError:
            continue
        return special
    return role


def _values(item, *columns):
    return tuple(first_valid(item, (c,))[1] for c in columns)


def nrsfss_valid_detector(item: dict) -> bool:
    """Whether a NIRSpec fixed-slit exposure's slit/grating/filter fall on its detector."""
    try:
        detector, nrs_filter, grating, slit = _values(
            item, "detector", "filter", "grating", "fxd_slit"
        )
    except KeyError:
        return False
    slit = slit if slit == "s200b1" else "a"
    return (slit, grating, nrs_filter, detector) in _NRS_FSS_PATHS


def nrsifu_valid_detector(item: dict) -> bool:
    """Whether a NIRSpec IFU exposure's grating/filter fall on its detector (others: True)."""
    if first_valid(item, ("exp_type",))[1] != "nrs_ifu":
        return True
    try:
        detector, nrs_filter, grating = _values(item, "detector", "filter", "grating")
    except KeyError:
        return False
    return (grating, nrs_filter, detector) in _NRS_IFU_PATHS


def nrslamp_valid_detector(item: dict) -> bool:
    """Whether a NIRSpec lamp exposure illuminates its detector."""
    try:
        detector, grating, opmode = _values(item, "detector", "grating", "opmode")
    except KeyError:
        return False
    if opmode == "msaspec":
        return True
    if opmode not in ("ifu", "fixedslit"):
        return False
    try:
        (lamp,) = _values(item, "lamp")
    except KeyError:
        return False
    if opmode == "fixedslit":
        return (grating, lamp, detector) in _NRS_FSS_LAMP_PATHS
    if grating in ("g395h", "g235h"):
        return True
    if grating in ("g395m", "g235m", "g140m", "prism"):
        return detector == "nrs1"
    if grating == "g140h":
        return not (detector == "nrs2" and lamp == "flat4")
    return False


def nrccoron_valid_detector(item: dict) -> bool:
    """Whether a full-frame NIRCam coronagraphic exposure's detector sees the mask."""
    try:
        detector, subarray, pupil = _values(item, "detector", "subarray", "pupil")
    except KeyError:
        return False
    if subarray != "full":
        return True
    if pupil == "maskbar":
        return detector not in ("nrca1", "nrca2", "nrca3")
    if pupil == "maskrnd":
        return detector not in ("nrca1", "nrca3", "nrca4")
    return True


def nissoss_calibrated_filter(item: dict) -> bool:
    """Whether a NIRISS SOSS exposure uses a calibrated filter (others: True)."""
    if first_valid(item, ("exp_type",))[1] != "nis_soss":
        return True
    try:
        (nis_filter,) = _values(item, "filter")
    except KeyError:
        return False
    return nis_filter not in _NIS_SOSS_UNCALIBRATED
