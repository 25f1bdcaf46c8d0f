"""Relative and absolute alignment of exposure groups with tweakwcs.

Each exposure's gwcs is wrapped in a ``tweakwcs`` ``JWSTWCSCorrector`` with its source
catalog and exposure group. Relative alignment matches the catalogs of the groups to each
other (``XYXYMatch``: a 2-D histogram of offsets for the first guess, then matching within
``tolerance``) and fits a linear correction (``fitgeometry``) in the V2/V3 tangent plane of
each group, which the corrector inserts in the gwcs as a ``v2v3corr`` frame. Absolute
alignment does the same against a reference catalog of sky positions, every exposure fitted
as one group.

``tweakwcs.imalign.align_wcs`` uses the overlap areas of the groups' footprints (spherical
polygons) only where the reference catalog grows with each aligned group
(``expand_refcat``: they order the groups and decide whether the sources of a failed fit
join the catalog); otherwise the order is the given one, the areas change nothing, and
the same tweakwcs steps run here without that geometry (``_align_in_order``, with the same
results, bit for bit).

Failures the official step turns into "skip the alignment with a warning" raise
:class:`AlignmentSkipped` here: too few non-empty catalogs, an ambiguous match, a correction
larger than the matching could have found, too few reference sources, or
``separation``/``tolerance`` that would confuse sources.

References
----------
JWST pipeline documentation, ``tweakreg`` step ("Alignment", "Absolute astrometric
alignment"); tweakwcs documentation (``align_wcs``, ``XYXYMatch``, ``JWSTWCSCorrector``).
"""

from __future__ import annotations

import functools
import logging
import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "ABSOLUTE_GROUP_ID",
    "AlignmentSkipped",
    "MatchFit",
    "absolute_align",
    "fit_succeeded",
    "make_corrector",
    "relative_align",
    "within_bounding_box",
]

log = logging.getLogger(__name__)

#: Group id given to every exposure for the absolute fit (they move as one).
ABSOLUTE_GROUP_ID = "absolute-alignment"
_FITGEOMETRIES = ("shift", "rshift", "rscale", "general")


class AlignmentSkipped(Exception):
    """The alignment cannot be done on these data; the step skips it with this message."""


@dataclass(frozen=True)
class MatchFit:
    """Matching and fitting options of one alignment (official names without ``abs_``).

    Attributes
    ----------
    searchrad : float
        Search radius of the first guess, arcsec.
    separation : float
        Smallest separation of sources kept for matching, arcsec; must exceed
        ``sqrt(2) * tolerance``.
    use2dhist : bool
        Find the first guess with a 2-D histogram of offsets.
    tolerance : float
        Matching radius, arcsec.
    xoffset, yoffset : float
        First guess of the offset, arcsec (used when ``use2dhist`` is False).
    minobj : int
        Fewest matches a fit accepts.
    fitgeometry : str
        ``shift``, ``rshift`` (shift + rotation), ``rscale`` (+ scale) or ``general``.
    nclip : int
        Sigma-clipping iterations of the fit.
    sigma : float
        Clipping limit in units of the fit RMSE.
    """

    searchrad: float = 2.0
    separation: float = 1.0
    use2dhist: bool = True
    tolerance: float = 0.7
    xoffset: float = 0.0
    yoffset: float = 0.0
    minobj: int = 15
    fitgeometry: str = "rshift"
    nclip: int = 3
    sigma: float = 3.0

    def __post_init__(self):
        if self.fitgeometry not in _FITGEOMETRIES:
            raise ValueError(
                f"fitgeometry={self.fitgeometry!r}: expected one of {', '.join(_FITGEOMETRIES)}"
            )

    def matcher(self):
        """The tweakwcs matcher with these options."""
        from tweakwcs.matchutils import XYXYMatch

        return XYXYMatch(
            searchrad=self.searchrad, separation=self.separation, use2dhist=self.use2dhist,
            tolerance=self.tolerance, xoffset=self.xoffset, yoffset=self.yoffset,
        )  # fmt: skip

    def check_separation(self, prefix: str = "") -> None:
        """Raise :class:`AlignmentSkipped` when separation <= sqrt(2) * tolerance."""
        if self.separation <= math.sqrt(2.0) * self.tolerance:
            raise AlignmentSkipped(
                f"{prefix}separation={self.separation} must exceed sqrt(2) * "
                f"{prefix}tolerance={self.tolerance} (= {math.sqrt(2) * self.tolerance:.3f}) "
                "to avoid source confusion"
            )

    @property
    def largest_correction(self) -> float:
        """Largest correction (arcsec) a correct match can produce: twice the search window."""
        if self.use2dhist:
            return 2.0 * (self.searchrad + self.tolerance)
        return 2.0 * (max(abs(self.xoffset), abs(self.yoffset)) + self.tolerance)


def within_bounding_box(catalog, bounding_box):
    """Rows of ``catalog`` (columns ``x``, ``y``) strictly inside ``bounding_box``.

    Parameters
    ----------
    catalog : astropy.table.Table
        Source catalog with 0-based pixel columns ``x`` and ``y``.
    bounding_box : tuple or None
        ``((xmin, xmax), (ymin, ymax))``; None keeps every row.

    Returns
    -------
    astropy.table.Table
        A new table.
    """
    if bounding_box is None or len(catalog) == 0:
        return catalog[:]
    (x0, x1), (y0, y1) = bounding_box
    x, y = np.asarray(catalog["x"], float), np.asarray(catalog["y"], float)
    return catalog[(x > x0) & (x < x1) & (y > y0) & (y < y1)]


def make_corrector(wcs, wcsinfo: dict, catalog, group_id: str, name: str):
    """A tweakwcs ``JWSTWCSCorrector`` of one exposure.

    Parameters
    ----------
    wcs : gwcs.WCS
        Imaging WCS with the frames ``detector``, ``v2v3`` (``v2v3vacorr``), ``world``.
        Not modified (the corrector builds new WCS objects).
    wcsinfo : dict
        ``v2_ref``, ``v3_ref`` (arcsec) and ``roll_ref`` (degrees).
    catalog : astropy.table.Table
        Sources (columns ``x``, ``y``, 0-based pixels); rows outside the WCS bounding box
        are dropped.
    group_id : str
        Exposure group (exposures of one group are fitted together).
    name : str
        Catalog name in the log.

    Raises
    ------
    ValueError
        If the WCS has not the structure of an imaging WCS (tweakwcs' message).
    """
    from tweakwcs.correctors import JWSTWCSCorrector

    bbox = None
    if wcs.bounding_box is not None:
        bbox = wcs.bounding_box.bounding_box(order="F")
    catalog = within_bounding_box(catalog, bbox)
    catalog.meta["name"] = name
    return JWSTWCSCorrector(
        wcs=wcs,
        wcsinfo={k: float(wcsinfo[k]) for k in ("v2_ref", "v3_ref", "roll_ref")},
        meta={"catalog": catalog, "name": name, "group_id": group_id},
    )


def _align(correctors, refcat, match: MatchFit, *, enforce_user_order, expand_refcat, what):
    """Run the tweakwcs alignment; its failures the step skips as :class:`AlignmentSkipped`.

    Without ``expand_refcat`` the groups are aligned in the given order and no overlap area
    can change a result: :func:`_align_in_order` runs the steps of ``align_wcs`` without
    the footprint geometry. With it, ``tweakwcs.imalign.align_wcs`` itself runs (the
    areas order the groups and decide which sources join the reference catalog).
    """
    from astropy.table import Table
    from tweakwcs.imalign import NotEnoughCatalogs, align_wcs

    options = dict(
        minobj=int(match.minobj), match=match.matcher(), fitgeom=match.fitgeometry,
        nclip=int(match.nclip), sigma=(float(match.sigma), "rmse"), clip_accum=False,
    )  # fmt: skip
    try:
        if expand_refcat or not (refcat is None or isinstance(refcat, Table)):
            align_wcs(correctors, refcat=refcat, enforce_user_order=enforce_user_order,
                      expand_refcat=expand_refcat, **options)  # fmt: skip
        else:
            _align_in_order(correctors, refcat, **options)
    except NotEnoughCatalogs as exc:
        raise AlignmentSkipped(f"{exc} {what}") from None
    except RuntimeError as exc:
        if str(exc).startswith("Number of output coordinates exceeded allocation"):
            raise AlignmentSkipped(
                f"{exc} Several sources matched one reference source within the tolerance; "
                "adjust 'tolerance' and/or 'separation'."
            ) from None
        raise


@functools.cache
def _catalog_classes():
    """tweakwcs' image, group and reference catalog classes without footprint polygons.

    tweakwcs bounds each catalog by a spherical polygon (an exposure's footprint and the
    hull of its sources, the union of a group's members, the hull of the reference
    sources) only to compute the overlap areas that order the alignment: the unions
    take ~0.1 s for one full-frame footprint and ~15 s for four overlapping ones. They
    are left unset (None) here, where the order is given.

    Returns
    -------
    tuple of type
        Subclasses of ``WCSImageCatalog``, ``WCSGroupCatalog`` and ``RefCatalog``.
    """
    from tweakwcs.wcsimage import RefCatalog, WCSGroupCatalog, WCSImageCatalog

    class ImageCatalog(WCSImageCatalog):
        def calc_bounding_polygon(self):
            self._polygon = None

    class GroupCatalog(WCSGroupCatalog):
        def update_bounding_polygon(self):
            self._polygon = None
            self._poly_area = None

    class ReferenceCatalog(RefCatalog):
        def calc_bounding_polygon(self):
            self._polygon = None

    return ImageCatalog, GroupCatalog, ReferenceCatalog


def _align_in_order(correctors, refcat=None, *, minobj, match, fitgeom, nclip, sigma,
                    clip_accum):  # fmt: skip
    """Align the exposure groups of ``correctors`` in their order, as ``align_wcs`` does.

    The result of ``tweakwcs.imalign.align_wcs(correctors, refcat, expand_refcat=False,
    ...)``, whose alignment order is then the given one: the same tweakwcs operations
    run here in the same order (an image catalog per corrector, a group catalog per
    ``group_id``, a reference catalog of the first group or of ``refcat``, then
    ``WCSGroupCatalog.align_to_ref`` of each group against it), with the same
    ``fit_info`` records and exceptions, and the messages of tweakwcs' fits (the
    choices of reference and order logged here, on this module's logger), but
    without what only serves to choose an order: the catalogs' footprint polygons
    (:func:`_catalog_classes`) and their overlap areas. A group of one exposure is
    fitted in the tangent plane of its own corrector, where ``align_to_ref`` would use
    a deep copy of it (the copy protects the plane from the corrections of the group's
    other members; with none, the numbers are the same).

    Parameters
    ----------
    correctors : list of tweakwcs.correctors.WCSCorrector
        From :func:`make_corrector` (``meta['catalog']``, ``name``, ``group_id``); their
        ``wcs`` and ``meta['fit_info']`` are updated.
    refcat : astropy.table.Table or None
        Reference sources (``RA``, ``DEC``, degrees; the table is not modified); None:
        the first group is the reference (``fit_info`` status ``REFERENCE``).
    minobj : int
        Fewest matches a fit accepts.
    match, fitgeom, nclip, sigma, clip_accum
        As for ``align_wcs``.

    Raises
    ------
    tweakwcs.imalign.NotEnoughCatalogs
        If fewer than two groups (one with ``refcat``) have sources.

    References
    ----------
    tweakwcs 0.9 (``tweakwcs.imalign.align_wcs`` with ``expand_refcat=False``;
    ``tweakwcs.wcsimage``).
    """
    from tweakwcs.imalign import NotEnoughCatalogs

    image_catalog, group_catalog, reference_catalog = _catalog_classes()
    images = []
    for corrector in correctors:  # from make_corrector: each has its catalog
        image = image_catalog(
            catalog=corrector.meta["catalog"], corrector=corrector,
            name=corrector.meta.get("name", "Unknown"),
            group_id=corrector.meta.get("group_id", None),
        )  # fmt: skip
        image.fit_status = "FAILED: Unknown error"
        images.append(image)

    fitgeom = fitgeom.lower()  # (align_wcs checks it only to choose a default minobj)
    if refcat is not None:
        if "RA" not in refcat.colnames or "DEC" not in refcat.colnames:
            raise KeyError("Reference catalogs *must* contain *both* 'RA' and 'DEC' columns.")
        refcat = reference_catalog(refcat, name=refcat.meta.get("name", "Unnamed"))

    by_group: dict[Any, list] = {}
    for image in images:
        by_group.setdefault(image.group_id, []).append(image)
    groups = []
    for group_id, members in by_group.items():
        if group_id is None:  # no group: each exposure is aligned alone
            groups.extend(group_catalog(m, name="GROUP ID: None") for m in members)
            continue
        group = group_catalog(members, name=f"GROUP ID: {group_id}")
        if not len(group.catalog):
            log.warning("Group with ID '%s' will not be aligned: empty source catalog",
                        group_id)  # fmt: skip
            for image in members:
                image.corrector.meta["fit_info"] = {"status": "FAILED: empty source catalog"}
            continue
        groups.append(group)

    if len(groups) < (2 if refcat is None else 1):
        raise NotEnoughCatalogs(
            "Too few input images (or groups of images) with non-empty catalogs."
        )
    if refcat is None:
        reference = groups.pop(0)
        log.info("Selected image '%s' as reference image", reference.name)
        refcat = reference_catalog(reference.catalog, name=reference[0].name)
        for image in reference:
            image.corrector.meta["fit_info"] = {"status": "REFERENCE"}

    for group in groups:
        log.info("Aligning image catalog '%s' to the reference catalog.", group.name)
        group.align_to_ref(
            refcat=refcat, ref_tpwcs=group[0].corrector if len(group) == 1 else None,
            match=match, minobj=minobj, fitgeom=fitgeom, nclip=nclip, sigma=sigma,
            clip_accum=clip_accum,
        )  # fmt: skip
        for image in group:
            image.corrector.meta["fit_info"] = image.fit_info


def _corner_separations(corrector) -> np.ndarray:
    """Angular distance (arcsec) between the corners of the corrected and original WCS."""
    from astropy.coordinates import SkyCoord

    new = corrector.wcs.footprint(axis_type="spatial")
    old = corrector.original_wcs.footprint(axis_type="spatial")
    a = SkyCoord(new[:, 0], new[:, 1], unit="deg")
    b = SkyCoord(old[:, 0], old[:, 1], unit="deg")
    return a.separation(b).arcsec


def relative_align(correctors: list, match: MatchFit, *, enforce_user_order: bool = False,
                   expand_refcat: bool = False) -> list:  # fmt: skip
    """Align the exposure groups of ``correctors`` to each other (in place).

    Parameters
    ----------
    correctors : list of tweakwcs.correctors.JWSTWCSCorrector
        From :func:`make_corrector`; their ``wcs`` and ``meta['fit_info']`` are updated.
    match : MatchFit
        Matching and fit options.
    enforce_user_order : bool, optional
        Align the groups in the given order (else the largest overlaps first).
    expand_refcat : bool, optional
        Add the sources of each aligned group to the reference catalog.

    Returns
    -------
    list
        ``correctors``.

    Raises
    ------
    AlignmentSkipped
        If the options could confuse sources, fewer than two groups have sources, a
        match is ambiguous, or a correction exceeds :attr:`MatchFit.largest_correction`
        (a mismatch or an ill-conditioned fit).
    """
    match.check_separation()
    what = "At least two exposures with sources are needed for relative alignment."
    _align(correctors, None, match, enforce_user_order=enforce_user_order,
           expand_refcat=expand_refcat, what=what)  # fmt: skip
    limit = match.largest_correction
    for corrector in correctors:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            moved = _corner_separations(corrector)
        if not np.all(moved < limit):
            raise AlignmentSkipped(
                f"the WCS of {corrector.meta.get('name')} moved by {np.max(moved):.3f} arcsec, "
                f"more than {limit:.3f} arcsec (2 x (searchrad + tolerance)): skipping the "
                "relative alignment"
            )
    return correctors


def absolute_align(correctors: list, refcat, match: MatchFit) -> list:
    """Align every exposure, as one group, to a reference catalog of sky positions (in place).

    Parameters
    ----------
    correctors : list of tweakwcs.correctors.JWSTWCSCorrector
        After :func:`relative_align` (or fresh); their group ids are replaced by
        :data:`ABSOLUTE_GROUP_ID` and the ``REFERENCE`` status of relative alignment
        dropped, so every exposure receives the fitted correction.
    refcat : astropy.table.Table
        Reference sources with ``RA`` and ``DEC`` columns, degrees.
    match : MatchFit
        The ``abs_*`` options (``xoffset``/``yoffset`` are not used: zero).

    Returns
    -------
    list
        ``correctors``.

    Raises
    ------
    AlignmentSkipped
        If the options could confuse sources, the catalog has fewer than ``minobj``
        sources, no exposure has sources, or a match is ambiguous.
    """
    match.check_separation("abs_")
    if len(refcat) < match.minobj:
        raise AlignmentSkipped(
            f"Not enough sources ({len(refcat)}) in the reference catalog for the "
            f"absolute alignment (abs_minobj={match.minobj}); skipping alignment to the "
            "reference catalog"
        )
    for corrector in correctors:
        corrector.meta["group_id"] = ABSOLUTE_GROUP_ID
        fit_info = corrector.meta.get("fit_info")
        if fit_info is not None and "REFERENCE" in fit_info.get("status", ""):
            del corrector.meta["fit_info"]
    # The first guess of an absolute match is always zero (use2dhist finds the offset).
    zero = MatchFit(**{**match.__dict__, "xoffset": 0.0, "yoffset": 0.0})
    _align(correctors, refcat, zero, enforce_user_order=True, expand_refcat=False,
           what="At least one exposure with sources is needed for absolute alignment.")  # fmt: skip
    return correctors


def fit_succeeded(corrector: Any) -> bool:
    """Whether tweakwcs fitted a correction for this exposure."""
    fit_info = corrector.meta.get("fit_info")
    return fit_info is not None and "SUCCESS" in fit_info.get("status", "")
