"""Reading what a JWST product says about itself: mode, versions, context, references.

Only the FITS headers are read (astropy), so any JWST product can be described,
from a raw ``_uncal`` ramp to a stage-3 ``_i2d`` mosaic or a spectral cut-out,
whatever data model it uses. The facts read here feed the ``inspect``,
``refs`` and ``cite`` commands and the rule tables in ``webbcal/data``.

References
----------
JDox, "JWST Calibration Pipeline Caveats", section "Tracking the pedigree of
data products" (CAL_VER, CRDS_CTX and the SDP version keyword).
stdatamodels ``core.schema.yaml`` (``meta.ref_file``: ``R_*`` keywords).
"""

from __future__ import annotations

import functools
import logging
import os
import re
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "PRODUCT_STAGES",
    "Product",
    "ProductError",
    "context_number",
    "exposure_root",
    "read_product",
    "reference_keywords",
]

log = logging.getLogger(__name__)

#: Product file suffixes and the pipeline stage (0 = raw) that writes them.
PRODUCT_STAGES: dict[str, int] = {
    "uncal": 0,
    "ramp": 1,
    "rate": 1,
    "rateints": 1,
    "trapsfilled": 1,
    "cal": 2,
    "calints": 2,
    "bsub": 2,
    "bsubints": 2,
    "s2d": 2,
    "x1d": 2,
    "x1dints": 2,
    "i2d": 3,
    "s3d": 3,
    "crf": 3,
    "crfints": 3,
    "c1d": 3,
    "psfstack": 3,
    "psfsub": 3,
    "whtlt": 3,
}

#: ``S_*`` keywords of steps run only in stage 2 or 3: their presence dates the product.
_LATER_STEP_KEYS = ("S_WCS", "S_FLAT", "S_PHOTOM", "S_SRCTYP", "S_MSAFLG", "S_EXTR1D")
_STAGE3_STEP_KEYS = ("S_RESAMP", "S_OUTLIR", "S_TWKREG", "S_SKYMAT", "S_CUBEBL")
_SUFFIX_RE = re.compile(r"_([a-z0-9]+)(?:\.[A-Za-z0-9_]+)*\.fits(?:\.gz)?$")
_EXPOSURE_RE = re.compile(r"^(jw\d{11}_\d{5}_\d{5}_[a-z0-9]+)", re.IGNORECASE)
_CONTEXT_RE = re.compile(r"^jwst_(\d{4})\.pmap$")
#: Keywords that may name the CRDS server used; none is in the standard schema today.
_SERVER_KEYS = ("CRDS_SRV", "CRDS_SERVER", "CRDS_URL", "CRDSSRV")
_SERVER_RE = re.compile(r"(https?://)?jwst-crds(-pub)?[a-z.\-]*\.stsci\.edu", re.IGNORECASE)
#: stdatamodels ``meta.ref_file`` names that differ from the CRDS reference type.
_SCHEMA_TO_REFTYPE = {"badshutter": "msaoper", "resolution": "resol", "tso_photometry": "tsophot"}


class ProductError(ValueError):
    """A file that cannot be described as a JWST product; the message says why."""


@dataclass(frozen=True)
class Product:
    """What a JWST product's headers say.

    Attributes
    ----------
    path : str
        The file.
    primary : dict
        Primary-header keywords (no COMMENT/HISTORY), values as astropy reads them.
    science : dict
        Keywords of the SCI extension header, empty when there is none.
    extensions : tuple of str
        Extension names in file order (primary excluded).
    sci_shape : tuple of int or None
        Shape of the SCI array (numpy order), ``None`` when absent.
    history : tuple of str
        HISTORY and COMMENT text of the primary header.
    """

    path: str
    primary: dict[str, Any]
    science: dict[str, Any]
    extensions: tuple[str, ...]
    sci_shape: tuple[int, ...] | None
    history: tuple[str, ...] = field(default=())

    def get(self, key: str, default: Any = None) -> Any:
        """Primary-header value of ``key`` (upper case), or ``default``."""
        return self.primary.get(key.upper(), default)

    @property
    def name(self) -> str:
        """Base name of the file."""
        return os.path.basename(self.path)

    @property
    def instrument(self) -> str:
        """``INSTRUME``, upper case."""
        return str(self.get("INSTRUME", "")).upper()

    @property
    def exp_type(self) -> str:
        """``EXP_TYPE``, upper case ("" when missing)."""
        return str(self.get("EXP_TYPE", "") or "").upper()

    @property
    def cal_ver(self) -> str | None:
        """``CAL_VER``: the calibration software version (``None`` for raw products)."""
        value = self.get("CAL_VER")
        return str(value) if value not in (None, "") else None

    @property
    def made_by_webbcal(self) -> bool:
        """Whether webbcal wrote the product (``CAL_VCS`` = ``webbcal-<version>``)."""
        return str(self.get("CAL_VCS", "")).startswith("webbcal-")

    @property
    def crds_context(self) -> str | None:
        """``CRDS_CTX``: the CRDS context of the processing (``None`` if never processed)."""
        value = self.get("CRDS_CTX")
        return str(value) if value not in (None, "") else None

    @property
    def sdp_version(self) -> str | None:
        """Science Data Processing version (``SDP_VER``; JDox spells it ``SPD_VER``)."""
        for key in ("SDP_VER", "SPD_VER"):
            value = self.get(key)
            if value not in (None, ""):
                return str(value)
        return None

    @property
    def crds_server(self) -> str | None:
        """The CRDS server named by the header (keyword or HISTORY), else ``None``."""
        for key in _SERVER_KEYS:
            value = self.get(key)
            if value:
                return str(value)
        for text in self.history:
            found = _SERVER_RE.search(text)
            if found:
                return found.group(0)
        return None

    @property
    def suffix(self) -> str | None:
        """The product suffix of the file name (``"rate"``, ``"cal"``...), if a known one."""
        found = _SUFFIX_RE.search(self.name)
        if found and found.group(1).lower() in PRODUCT_STAGES:
            return found.group(1).lower()
        return None

    @property
    def stage(self) -> int:
        """Pipeline stage that made the product: 0 raw, 1, 2 or 3."""
        if self.suffix is not None:
            return PRODUCT_STAGES[self.suffix]
        if str(self.get("DATAMODL", "")) == "Level1bModel":
            return 0
        if any(key in self.primary for key in _STAGE3_STEP_KEYS):
            return 3
        if any(key in self.primary for key in _LATER_STEP_KEYS):
            return 2
        if "S_RAMP" in self.primary:
            return 1
        return 0 if self.cal_ver is None else 1

    @property
    def references(self) -> dict[str, str]:
        """Reference files recorded in the product: ``{reftype: name}`` from ``R_*``.

        ``crds://`` prefixes are removed; ``N/A`` entries are kept as ``"N/A"``.
        """
        mapping = reference_keywords()
        out = {}
        for key, value in self.primary.items():
            if key.startswith("R_") and value not in (None, ""):
                reftype = mapping.get(key, key[2:].lower())
                out[reftype] = str(value).removeprefix("crds://")
        return out

    @property
    def steps(self) -> dict[str, str]:
        """Step status keywords (``S_*``): ``{keyword: "COMPLETE"|"SKIPPED"...}``."""
        return {k: str(v) for k, v in self.primary.items() if k.startswith("S_")}

    def facts(self) -> dict[str, Any]:
        """Flat keyword table the rules are evaluated on.

        Primary keywords as they are, SCI-extension keywords as ``SCI.<KEY>``,
        and derived facts ``PRODUCT`` (file suffix or ``""``), ``STAGE`` (0-3),
        ``WEBBCAL_VER`` (in place of ``CAL_VER`` for products webbcal made),
        ``SDP_VERSION`` and ``CRDS_SERVER`` (when known).
        """
        out: dict[str, Any] = dict(self.primary)
        out.update({f"SCI.{k}": v for k, v in self.science.items()})
        if self.made_by_webbcal:
            # CAL_VER rules describe releases of the official pipeline, not webbcal's.
            out.pop("CAL_VER", None)
            out["WEBBCAL_VER"] = self.cal_ver
        out["PRODUCT"] = self.suffix or ""
        out["STAGE"] = self.stage
        if self.sdp_version is not None:
            out["SDP_VERSION"] = self.sdp_version
        if self.crds_server is not None:
            out["CRDS_SERVER"] = self.crds_server
        return out


def read_product(path: str | os.PathLike[str]) -> Product:
    """Read the headers of a JWST product.

    Parameters
    ----------
    path : path-like
        A JWST FITS product (any stage).

    Returns
    -------
    Product

    Raises
    ------
    ProductError
        When the file does not exist, is not FITS, or is not a JWST product
        (``TELESCOP`` other than JWST, or no ``INSTRUME``).
    """
    from astropy.io import fits

    path = os.fspath(path)
    if not os.path.exists(path):
        raise ProductError(f"{path}: file not found")
    if os.path.isdir(path):
        raise ProductError(f"{path}: is a directory, expected a JWST FITS product")
    try:
        with fits.open(path, memmap=False, lazy_load_hdus=True) as hdul:
            primary = hdul[0].header
            extnames = tuple(str(h.name) for h in hdul[1:])
            sci_header, sci_shape = _science(hdul)
            cards = {k: v for k, v in primary.items() if k not in ("COMMENT", "HISTORY", "")}
            history = tuple(str(v) for k, v in primary.items() if k in ("COMMENT", "HISTORY"))
    except OSError as exc:
        raise ProductError(f"{path}: not a readable FITS file ({exc})") from None
    except Exception as exc:  # astropy raises many types for damaged files
        raise ProductError(f"{path}: damaged FITS file ({type(exc).__name__}: {exc})") from None
    telescope = str(cards.get("TELESCOP", "")).strip().upper()
    if telescope and telescope != "JWST":
        raise ProductError(f"{path}: not a JWST product (TELESCOP={cards['TELESCOP']!r})")
    if not str(cards.get("INSTRUME", "")).strip():
        raise ProductError(
            f"{path}: not a JWST product (the primary header has no INSTRUME keyword)"
        )
    return Product(path, cards, sci_header, extnames, sci_shape, history)


def _science(hdul) -> tuple[dict[str, Any], tuple[int, ...] | None]:
    if "SCI" not in hdul:
        return {}, None
    hdu = hdul["SCI"]
    header = {k: v for k, v in hdu.header.items() if k not in ("COMMENT", "HISTORY", "")}
    naxis = int(header.get("NAXIS", 0))
    shape = tuple(int(header.get(f"NAXIS{i}", 0)) for i in range(naxis, 0, -1))
    return header, (shape or None)


def context_number(context: str | None) -> int | None:
    """Serial number of a pipeline context: ``"jwst_1225.pmap"`` -> 1225; else ``None``."""
    if not context:
        return None
    found = _CONTEXT_RE.match(os.path.basename(str(context).strip()))
    return int(found.group(1)) if found else None


def exposure_root(name: str) -> str | None:
    """Exposure name of a product (``jw01345062001_03101_00001_nrs2``), ``None`` for level 3."""
    found = _EXPOSURE_RE.match(os.path.basename(name))
    return found.group(1) if found else None


@functools.lru_cache(maxsize=1)
def reference_keywords() -> dict[str, str]:
    """Map ``R_*`` header keywords to CRDS reference types, from the stdatamodels schema."""
    import importlib.resources

    import yaml

    text = (
        importlib.resources.files("stdatamodels.jwst.datamodels") / "schemas" / "core.schema.yaml"
    ).read_text(encoding="utf-8")
    node = _find_ref_file(yaml.safe_load(text))
    out = {}
    for name, sub in (node or {}).get("properties", {}).items():
        keyword = sub.get("properties", {}).get("name", {}).get("fits_keyword")
        if keyword:
            out[keyword] = _SCHEMA_TO_REFTYPE.get(name, name)
    return out


def _find_ref_file(node: Any) -> dict | None:
    if isinstance(node, dict):
        props = node.get("properties")
        if isinstance(props, dict) and "ref_file" in props:
            return props["ref_file"]
        children = node.values()
    elif isinstance(node, list):
        children = node
    else:
        return None
    for child in children:
        found = _find_ref_file(child)
        if found is not None:
            return found
    return None
