"""Absolute reference catalogs of tweakreg: a user file, or the STScI catalog service.

``abs_refcat`` is either a table file (ECSV, FITS or any format astropy reads) with sky
positions in ``RA``/``DEC`` columns (any letter case) or a ``sky_centroid`` column (the
``_cat.ecsv`` of source_catalog), or the name of a Gaia catalog served by the STScI
Guide Star Catalog web service (``GAIAREFCAT``, ``GAIADR3``, ``GAIADR2``, ``GAIADR1``;
the URL may be changed with the ``ASTROMETRIC_CATALOG_URL`` environment variable, as for
the official pipeline). The service is asked for the sources within the exposures'
field of view, at the epoch of the observation.

References
----------
JWST pipeline documentation, ``tweakreg`` ("Absolute astrometric alignment",
``abs_refcat``); STScI Guide Star Catalog VO web service (``vo/CatalogSearch.aspx``).
"""

from __future__ import annotations

import logging
import os
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np
from astropy.table import Table

from ..datamodels.io import InputError

__all__ = [
    "CATALOG_URL_ENV",
    "DEFAULT_CATALOG_URL",
    "S3_CATALOGS",
    "SERVICE_CATALOGS",
    "CatalogServiceError",
    "field_of_view",
    "query_catalog_service",
    "read_reference_catalog",
]

log = logging.getLogger(__name__)

#: Catalog names served by the STScI catalog web service.
SERVICE_CATALOGS = ("GAIAREFCAT", "GAIADR3", "GAIADR2", "GAIADR1")
#: Catalog names the official pipeline reads from cloud storage (not supported here).
S3_CATALOGS = ("GAIADR3_S3",)
CATALOG_URL_ENV = "ASTROMETRIC_CATALOG_URL"
DEFAULT_CATALOG_URL = "https://gsss.stsci.edu/webservices"
#: Seconds to wait for the catalog service.
TIMEOUT = 30.0


class CatalogServiceError(RuntimeError):
    """The catalog service could not be reached or gave an unreadable answer."""


def read_reference_catalog(path: str | os.PathLike) -> Table:
    """Read an absolute reference catalog file.

    Parameters
    ----------
    path : str or PathLike
        Table file astropy can read (format guessed from the name and contents).

    Returns
    -------
    astropy.table.Table
        The catalog with ``RA`` and ``DEC`` columns (degrees, float64); a
        ``sky_centroid`` column is turned into them. ``meta['name']`` is the file name.

    Raises
    ------
    InputError
        If the file does not exist or cannot be read, or it has no ``RA``/``DEC`` pair
        nor a ``sky_centroid`` column, or more than one of either (names compared
        without letter case).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(
            f"abs_refcat={str(path)!r}: no such file; expected a catalog file with RA/DEC "
            f"columns or one of {', '.join(SERVICE_CATALOGS)}"
        )
    try:
        table = Table.read(path)
    except Exception as exc:  # astropy raises many types for unreadable tables
        raise InputError(f"abs_refcat={str(path)!r}: cannot read the catalog: {exc}") from None
    out = _sky_columns(table, str(path))
    out.meta["name"] = path.name
    return out


def _sky_columns(table: Table, where: str) -> Table:
    by_upper: dict[str, list[str]] = {}
    for name in table.colnames:
        by_upper.setdefault(name.upper(), []).append(name)
    ra, dec, sky = by_upper.get("RA", []), by_upper.get("DEC", []), by_upper.get("SKY_CENTROID", [])
    if len(ra) > 1 or len(dec) > 1 or len(sky) > 1:
        raise InputError(
            f"abs_refcat={where!r}: several RA, DEC or sky_centroid columns "
            f"({', '.join(ra + dec + sky)}; names are compared without letter case); "
            "expected one of each"
        )
    out = Table(meta=dict(table.meta))
    if len(ra) == 1 and len(dec) == 1:
        if sky:
            log.warning("Absolute reference catalog %s has RA/DEC and sky_centroid columns; "
                        "using RA/DEC", where)  # fmt: skip
        ra_values, dec_values = table[ra[0]], table[dec[0]]
    elif sky and not ra and not dec:
        coords = table[sky[0]]
        ra_values, dec_values = coords.ra.deg, coords.dec.deg
    else:
        raise InputError(
            f"abs_refcat={where!r}: columns {table.colnames}: expected RA and DEC (degrees) "
            "or sky_centroid"
        )
    out["RA"] = _degrees(ra_values)
    out["DEC"] = _degrees(dec_values)
    for name in table.colnames:
        if name not in (*ra, *dec, *sky):
            out[name] = table[name]
    return out


def _degrees(column) -> np.ndarray:
    unit = getattr(column, "unit", None)
    values = column.to_value("deg") if unit is not None and hasattr(column, "to_value") else column
    return np.asarray(values, dtype=np.float64)


def field_of_view(footprints) -> tuple[float, float, float]:
    """Centre and radius of a circle holding every footprint.

    Parameters
    ----------
    footprints : sequence of array_like, shape (n, 2)
        Corners ``(ra, dec)`` in degrees of each exposure.

    Returns
    -------
    tuple of float
        ``(ra, dec, radius)``, degrees: the mean direction of the corners and the
        largest angular distance of a corner from it.
    """
    corners = np.vstack([np.asarray(f, float)[:, :2] for f in footprints])
    ra, dec = np.radians(corners[:, 0]), np.radians(corners[:, 1])
    xyz = np.column_stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)])
    centre = xyz.mean(axis=0)
    centre /= np.linalg.norm(centre)
    radius = np.degrees(np.arccos(np.clip(xyz @ centre, -1.0, 1.0))).max()
    ra0 = np.degrees(np.arctan2(centre[1], centre[0])) % 360.0
    dec0 = np.degrees(np.arcsin(centre[2]))
    return float(ra0), float(dec0), float(radius)


def query_catalog_service(
    catalog: str,
    ra: float,
    dec: float,
    radius: float,
    *,
    epoch: float | None,
    url: str | None = None,
    timeout: float = TIMEOUT,
) -> Table:
    """Sources of a Gaia catalog within ``radius`` of (ra, dec), from the STScI service.

    Parameters
    ----------
    catalog : str
        One of :data:`SERVICE_CATALOGS`.
    ra, dec, radius : float
        Search circle, degrees.
    epoch : float or None
        Decimal year the positions are moved to with their proper motions (only
        sources with proper motions are kept); None: catalog positions.
    url : str or None, optional
        Service root; None: ``$ASTROMETRIC_CATALOG_URL`` or :data:`DEFAULT_CATALOG_URL`.
    timeout : float, optional
        Seconds to wait for the answer.

    Returns
    -------
    astropy.table.Table
        Columns ``RA``, ``DEC`` (degrees), ``mag``, ``objID``, ``epoch``, faintest first.

    Raises
    ------
    CatalogServiceError
        If the service cannot be reached, times out, or answers with an unreadable table.
    """
    root = url or os.environ.get(CATALOG_URL_ENV, DEFAULT_CATALOG_URL)
    query = {"RA": ra, "DEC": dec}
    if epoch is not None:
        query["EPOCH"] = epoch
    query.update({"SR": radius, "FORMAT": "CSV", "CAT": catalog})
    address = f"{root.rstrip('/')}/vo/CatalogSearch.aspx?{urllib.parse.urlencode(query)}"
    log.info("Querying %s for %s sources within %.4f deg of (%.6f, %.6f)", root, catalog,
             radius, ra, dec)  # fmt: skip
    request = urllib.request.Request(address, headers={"Content-Type": "text/csv"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            text = answer.read().decode()
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise CatalogServiceError(f"cannot reach the catalog service {root}: {exc}") from None
    if text.startswith("No data records") or not text.strip():
        return Table(names=("RA", "DEC", "mag", "objID", "epoch"), dtype=(float,) * 5)
    try:
        table = Table.read(text, format="ascii.csv", comment="#")
        if epoch is not None:
            keep = np.ones(len(table), bool)
            for name in ("pmra", "pmdec"):
                if name in table.colnames and hasattr(table[name], "mask"):
                    keep &= ~np.asarray(table[name].mask)
            table = table[keep]
        out = table["ra", "dec", "mag", "objID", "epoch"]
    except (KeyError, ValueError) as exc:
        raise CatalogServiceError(f"unreadable answer of the catalog service: {exc}") from None
    out.rename_columns(["ra", "dec"], ["RA", "DEC"])
    out.sort("mag", reverse=True)
    out.meta["catalog"] = catalog
    out.meta["name"] = catalog
    return out
