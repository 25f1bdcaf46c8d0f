"""The ``skymatch`` step adapter: sky levels of the exposures of a level-3 association.

The members are read one at a time (borrowed and shelved), so memory does not
grow with their number: a first pass measures each image's footprint on the sky
(and, where the method needs it, its whole-image sky); for ``match`` a second
pass measures each image's sky in its overlap with every other image or exposure
group, using that image alone and the (small) footprints of the others; a last
pass writes the results: in place in an association this run opened, otherwise into a
new library of copies (a caller's library or models are never modified). With the
members in memory, the overlap skies of every second image (or group) are measured in a
forked worker process (:mod:`webbcal.lib.forkmap`) while this one measures the one
before it; the results are the same, bit for bit.

Where webbcal deliberately differs from jwst 3.0.0 (same levels otherwise, to ~1e-8):

- ``global`` with some images whose sky cannot be measured uses the lowest of the others
  (jwst fails comparing None with a number);
- ``lsigma``, ``usigma`` or ``binwidth`` of 0 is refused with a named error (jwst accepts
  it and then measures no sky at all, skipping every image);
- ``skystat='midpt'`` of values that fall in a single histogram bin gives that bin's
  centre (jwst returns the bin's pixel count);
- ``user``: sky-list names are matched to the association's member names, and every
  problem (missing image, duplicate, wrong count, unreadable line) is reported before
  anything is changed.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..datamodels.io import InputError
from ..stpipe import Param, Step
from ..stpipe.params import ParameterError
from .geometry import PairOverlaps, bounding_polygon, overlap_pixels
from .matching import global_minimum, match_skies
from .statistics import SKY_STATISTICS, SkyStatistics, sky_value

__all__ = ["SKY_METHODS", "SkyMatchStep", "read_skylist"]

log = logging.getLogger(__name__)

#: Official ``skymethod`` options.
SKY_METHODS = ("local", "global", "match", "global+match", "user")


@dataclass
class _Image:
    """What is kept of one member between passes (no pixel data)."""

    index: int
    name: str
    base: float = 0.0  # sky already subtracted from the data by an earlier run
    polygon: Any = None
    whole: tuple[float | None, int] = (None, 0)
    deltas: list[float] = field(default_factory=list)  # corrections of this run, in order
    valid: bool = False

    @property
    def level(self) -> float:
        return self.base + sum(self.deltas)


class SkyMatchStep(Step):
    """Measure, equalise and optionally subtract the sky of overlapping images (``skymatch``).

    Input: a level-3 association (or list) of calibrated images with a WCS. Images of
    one exposure group (same ``group_id``: the detectors of one exposure) are
    treated as one: they get one sky correction. Methods (``skymethod``):

    * ``local``: the sky of each image (a group: the lowest of its images);
    * ``global``: the lowest of the ``local`` skies, for every image;
    * ``match``: corrections that equalise the sky in the overlaps
      (:func:`~.matching.match_skies`), relative to the lowest (``match_down``)
      or highest;
    * ``global+match``: ``match``, then the ``global`` sky of the matched images
      added;
    * ``user``: levels read from ``skylist`` (lines ``<file name> <sky>``).

    Sky statistics (``skystat``, clipping, ``lower``/``upper``) use pixels whose
    DQ has none of the bits named by ``dqbits`` rejected (default: DO_NOT_USE and
    NON_SCIENCE rejected) and whose data are finite. Results go to
    ``meta.background`` (``level``, ``subtracted``, ``method``) and, with
    ``subtract``, the level is subtracted from SCI; images whose sky could not be
    measured are left unchanged with ``S_SKYMAT=SKIPPED``.

    References
    ----------
    JWST pipeline documentation, "Sky Match" (skymatch step and its arguments).
    DrizzlePac handbook (Gonzaga et al. 2012, STScI), sky matching in astrodrizzle.
    """

    class_alias = "skymatch"
    cal_step_name = "skymatch"
    library_mode = "library"
    spec = (
        Param("skymethod", str, "match", "Sky computation method", choices=SKY_METHODS),
        Param("match_down", bool, True, "Match the sky down to the lowest measured value "
              "(else up to the highest)"),
        Param("subtract", bool, False, "Subtract the computed sky from the image data"),
        Param("skylist", str, None, "File of (image name, sky value) pairs for skymethod='user'",
              allow_none=True),
        Param("stepsize", int, None, "Largest separation of footprint vertices, pixels",
              allow_none=True),
        Param("skystat", str, "mode", "Sky statistic", choices=SKY_STATISTICS),
        Param("dqbits", str, "~DO_NOT_USE+NON_SCIENCE", "DQ bits of good pixels (official "
              "bit-flag syntax; None: every finite pixel)", allow_none=True),
        Param("lower", float, None, "Lowest pixel value used", allow_none=True),
        Param("upper", float, None, "Highest pixel value used", allow_none=True),
        Param("nclip", int, 5, "Sky clipping iterations", minimum=0),
        Param("lsigma", float, 4.0, "Lower clipping limit", minimum=0.0, unit="sigma"),
        Param("usigma", float, 4.0, "Upper clipping limit", minimum=0.0, unit="sigma"),
        Param("binwidth", float, 0.1, "Histogram bin width for 'mode' and 'midpt'",
              minimum=0.0, unit="sigma"),
        Param("in_memory", bool, True, "Keep the images in memory (False: temporary files)"),
    )  # fmt: skip

    def _resolve_references(self, model: Any) -> None:
        # skymatch uses no reference file
        self._references_used.clear()

    def required_reference_types(self) -> tuple[str, ...]:
        return ()

    # ------------------------------------------------------------------ process
    def process(self, model: Any) -> Any:
        """Compute the sky of every member; return a new library with the results.

        Raises
        ------
        InputError
            If a member has no WCS, background metadata inconsistent with
            ``subtract``, or (``user``) the sky list is missing, malformed, has
            another number of entries than members or lacks a member.
        ParameterError
            If ``dqbits`` is not valid bit-flag text, or ``lsigma``, ``usigma`` or
            ``binwidth`` is 0.
        """
        library = _as_library(model)
        if self.skymethod == "user":
            levels = self._user_levels(library)
            images = [_Image(i, library.member_name(i)) for i in range(len(library))]
            for image in images:
                image.deltas, image.valid = [levels[image.index]], True
                log.info("Image %s: sky background %g (from %s)", image.name,
                         levels[image.index], self.skylist)  # fmt: skip
            return self._write(library, images)
        groups = [list(g) for g in library.group_indices.values()]
        try:
            stats = SkyStatistics(
                skystat=self.skystat, lower=self.lower, upper=self.upper, nclip=self.nclip,
                lsigma=self.lsigma, usigma=self.usigma, binwidth=self.binwidth,
            )  # fmt: skip
        except ValueError as exc:
            # the official step accepts 0 here, and then measures no sky at all
            raise ParameterError(f"{self.name}: {exc}") from None
        bits = self._good_bits()
        do_match = "match" in self.skymethod
        do_global = "global" in self.skymethod
        images = [_Image(i, library.member_name(i)) for i in range(len(library))]
        log.info("Sky computation method: %r; matching %s; subtraction from the data %s",
                 self.skymethod, "down" if self.match_down else "up",
                 "on" if self.subtract else "off")  # fmt: skip
        # whole-image skies now unless they must be measured on match-corrected data
        whole_now = (do_global or not do_match) and not (do_match and self.subtract)
        self._survey(library, images, stats, bits, polygons=do_match, whole=whole_now,
                     check_meta=True)  # fmt: skip
        entities = [[images[i] for i in g] for g in groups]
        if do_match:
            pair_sky, pair_npix = self._pair_skies(library, entities, stats, bits)
            deltas = match_skies(pair_sky, pair_npix, match_down=self.match_down)
            for entity, delta in zip(entities, deltas, strict=True):
                _apply(entity, None if not np.isfinite(delta) else float(delta), "match")
        if do_global or not do_match:
            if do_global and do_match and self.subtract:
                self._survey(library, images, stats, bits, polygons=False, whole=True,
                             check_meta=False)  # fmt: skip
            skies = [_entity_sky(e, self.subtract) for e in entities]
            if do_global:
                lowest = global_minimum(skies)
                if lowest is None:
                    log.warning("Unable to compute the global sky value: no image has a "
                                "measurable sky")  # fmt: skip
                log.info("Global sky value (lowest of all images): %s", lowest)
                for entity in entities:
                    _apply(entity, lowest, "global")
            else:
                for entity, sky in zip(entities, skies, strict=True):
                    _apply(entity, sky, "local")
        return self._write(library, images)

    # ------------------------------------------------------------------ passes
    def _survey(self, library: Any, images: list[_Image], stats: SkyStatistics,
                bits: int | None, *, polygons: bool, whole: bool,
                check_meta: bool) -> None:  # fmt: skip
        """One pass over the members: footprints and/or whole-image skies."""
        with library:
            for image in images:
                model = library.borrow(image.index)
                try:
                    if check_meta:
                        image.base = self._previous_level(model, image.name)
                    wcs = _wcs_of(model, image.name)
                    data = self._current_data(model, image)
                    if polygons:
                        image.polygon = bounding_polygon(data.shape, wcs.__call__,
                                                         stepsize=self.stepsize)  # fmt: skip
                    if whole:
                        good = _good_pixels(model, data, bits)
                        image.whole = sky_value(data[good], stats)
                finally:
                    library.shelve(model, image.index, modify=False)

    def _current_data(self, model: Any, image: _Image) -> np.ndarray:
        """SCI as the official step would see it now (corrections of this run subtracted)."""
        data = np.asarray(model.data, dtype=np.float32)
        if self.subtract:
            for delta in image.deltas:
                data = data - np.float32(delta)
        return data

    def _pair_skies(self, library: Any, entities: list[list[_Image]], stats: SkyStatistics,
                    bits: int | None) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """Sky of each entity (image or group) in its overlap with each other entity.

        Each member is borrowed once; its masks are built from its own WCS and the
        footprints of the others, which are kept from the survey. With the members
        in memory, every second entity is measured in a forked worker
        (:class:`~webbcal.lib.forkmap.ForkPool`) while this process measures the one
        before it. The footprint intersections are kept
        (:class:`~.geometry.PairOverlaps`), those of the worker's entity computed
        before it is forked (:meth:`~.geometry.PairOverlaps.prepare`), so both sides
        of a pair measure the same overlap whichever process measures them, and the
        sums are those of measuring the entities in turn.
        """
        from ..lib.forkmap import ForkPool

        n = len(entities)
        weighted = np.zeros((n, n))
        npix = np.zeros((n, n), dtype=np.int64)
        log.info("Computing sky differences in the overlaps of %d images or groups", n)
        beside = not library.on_disk and n > 1
        shared = PairOverlaps(keep=beside)
        footprints = [[image.polygon for image in entity] for entity in entities]
        with library, ForkPool(1 if beside else 0) as pool:
            for e in range(0, n, 2 if beside else 1):
                other = None
                if beside and e + 1 < n:
                    # this process computes the other pairs of entity e as it measures it,
                    # before the next worker is forked
                    shared.prepare(footprints, of=[e + 1])
                    other = pool.submit(_overlap_sums, library, entities, e + 1, stats, bits,
                                        shared)  # fmt: skip
                weighted[e], npix[e] = _overlap_sums(library, entities, e, stats, bits, shared)
                if other is not None:
                    weighted[e + 1], npix[e + 1] = other()
        with np.errstate(invalid="ignore", divide="ignore"):
            pair_sky = np.where(npix > 0, weighted / np.maximum(npix, 1), np.nan)
        return pair_sky, npix

    def _write(self, library: Any, images: list[_Image]) -> Any:
        """Each member with its sky recorded (and subtracted): in place in a library this
        run opened, else in a new library of copies."""
        in_place = self.owns_input()
        results = library if in_place else library.derived()
        with library:
            for image in images:
                if in_place:
                    model = library.borrow(image.index)
                    self._record(model, image)
                    library.shelve(model, image.index)
                else:
                    model = library.copy_of(image.index)
                    self._record(model, image)
                    results.add_result(image.index, model)
        return results

    def _record(self, model: Any, image: _Image) -> None:
        """Write one member's sky into its metadata (and subtract it from SCI)."""
        if image.valid:
            model.meta.background.method = str(self.skymethod)
            model.meta.background.level = float(image.level)
            model.meta.background.subtracted = bool(self.subtract)
            if self.subtract:
                data = np.asarray(model.data, dtype=np.float32)
                for delta in image.deltas:  # in turn, in float32, as measured
                    data = data - np.float32(delta)
                model.data = data
        else:
            log.warning("Image %s: sky could not be computed; left unchanged", image.name)
        model.meta.cal_step.skymatch = "COMPLETE" if image.valid else "SKIPPED"
        self.finalize_result(model)

    def _copy_input(self, model: Any) -> Any:
        # a list of images becomes a library (whose members are copied when written)
        if isinstance(model, (list, tuple)):
            return _as_library(model)
        return super()._copy_input(model)

    def _finalize_library(self, library: Any, status: str) -> None:
        # Each member's S_SKYMAT (COMPLETE, or SKIPPED where its sky could not be
        # measured) and provenance were recorded when the result was written.
        return None

    # ------------------------------------------------------------------ helpers
    def _good_bits(self) -> int | None:
        from astropy.nddata.bitmask import interpret_bit_flags

        from ..dqflags import PIXEL

        if self.dqbits is None or str(self.dqbits).strip().lower() == "none":
            return None
        try:
            return interpret_bit_flags(self.dqbits, flag_name_map=dict(PIXEL))
        except (ValueError, TypeError, KeyError) as exc:
            raise ParameterError(
                f"{self.name}: dqbits={self.dqbits!r} is not valid bit-flag text ({exc}); "
                "expected DQ flag names or integers joined by '+' or ',', optionally after "
                "'~' (e.g. '~DO_NOT_USE+NON_SCIENCE'), or None"
            ) from None

    def _previous_level(self, model: Any, name: str) -> float:
        """Sky an earlier skymatch run already subtracted from the data (0 if none)."""
        bkg = model.meta.background
        if bkg.subtracted is None:
            if bkg.level is not None:
                raise InputError(f"{name}: meta.background.level (BKGLEVEL) is set but "
                                 "BKGSUB is undefined; expected both or neither")  # fmt: skip
            return 0.0
        if bkg.level is None:
            raise InputError(f"{name}: BKGSUB={bkg.subtracted} but BKGLEVEL is undefined; "
                             "expected the level of the subtracted sky")  # fmt: skip
        if bool(bkg.subtracted) != bool(self.subtract):
            raise InputError(
                f"{name}: BKGSUB={bkg.subtracted} from an earlier sky matching, but "
                f"subtract={self.subtract}; expected the same subtract setting"
            )
        return float(bkg.level) if self.subtract else 0.0

    def _user_levels(self, library: Any) -> list[float]:
        if self.skylist is None:
            raise InputError("skymethod='user' needs skylist: a file of '<image name> <sky>' "
                             "lines, one per input image")  # fmt: skip
        names, values = read_skylist(self.skylist)
        if len(values) != len(library):
            raise InputError(
                f"{self.skylist}: {len(values)} sky value(s) for {len(library)} input image(s); "
                "expected one line per input image"
            )
        from ..stpipe.naming import remove_suffix

        stems = [remove_suffix(os.path.splitext(os.path.basename(n))[0]) for n in names]
        levels = []
        for index in range(len(library)):
            stem = remove_suffix(os.path.splitext(library.member_name(index))[0])
            found = [v for s, v in zip(stems, values, strict=True) if s == stem]
            if len(found) != 1:
                what = "is not listed" if not found else f"is listed {len(found)} times"
                raise InputError(f"{self.skylist}: image {stem!r} {what}; expected exactly "
                                 "one line for each input image")  # fmt: skip
            levels.append(found[0])
        return levels


def read_skylist(path: str) -> tuple[list[str], list[float]]:
    """Read a ``skylist`` file: one ``<image file name> <sky value>`` pair per line.

    Blank lines and text after ``#`` are ignored. Values are read as single
    precision, as the official step reads them.

    Returns
    -------
    names : list of str
    values : list of float

    Raises
    ------
    InputError
        If the file cannot be read or a line is not a name and a number.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except OSError as exc:
        raise InputError(f"{path}: cannot read the sky list ({exc.strerror})") from None
    names, values = [], []
    for number, line in enumerate(lines, start=1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        try:
            if len(words) != 2:
                raise ValueError
            value = float(np.float32(words[1]))
        except ValueError:
            raise InputError(
                f"{path}, line {number}: {line.strip()!r}; expected '<image name> <sky value>'"
            ) from None
        names.append(words[0])
        values.append(value)
    return names, values


def _apply(entity: list[_Image], sky: float | None, how: str) -> None:
    """Add a correction to every image of an entity (or mark it unmeasured)."""
    if how == "global":
        valid = entity[0].valid if sky is None else True
    else:
        valid = sky is not None
        if not valid:
            log.warning("Images %s: unable to compute the sky value",
                        ", ".join(i.name for i in entity))  # fmt: skip
    for image in entity:
        if sky is not None:
            image.deltas.append(sky)
        image.valid = valid
        log.info("Image %s: sky background %.6g (%s correction %s)", image.name, image.level,
                 how, "none" if sky is None else f"{sky:.6g}")  # fmt: skip


def _entity_sky(entity: list[_Image], subtract: bool) -> float | None:
    """Whole-image sky of an image or group (a group: the lowest of its images).

    Relative to the corrections already made in this run: measured on the
    corrected data with ``subtract``, otherwise the corrections are taken off
    the measured value.
    """
    skies = []
    for image in entity:
        sky = image.whole[0]
        if sky is None:
            continue
        skies.append(sky if subtract else sky - sum(image.deltas))
    return min(skies) if skies else None


def _overlap_sums(
    library: Any,
    entities: list[list[_Image]],
    e: int,
    stats: SkyStatistics,
    bits: int | None,
    intersect: PairOverlaps,
) -> tuple[np.ndarray, np.ndarray]:
    """Sky sums of entity ``e`` in its overlap with each entity (one row of the pair sums).

    Parameters
    ----------
    library : ModelLibrary
        Open (inside ``with library:``); each image of the entity is borrowed and
        shelved unmodified in turn.
    entities : list of list of _Image
        The images of each entity, with their footprints.
    e : int
        The entity measured.
    stats : SkyStatistics
        Sky statistic and clipping.
    bits : int or None
        DQ bits of good pixels (None: every finite pixel).
    intersect : PairOverlaps
        Footprint intersections shared by the two sides of each pair.

    Returns
    -------
    weighted : ndarray, shape (n,), float64
        Sum over the entity's images of sky times pixel count in the overlap with
        each entity (data units times pixels; 0 for itself and where nothing is
        measured).
    npix : ndarray, shape (n,), int64
        Pixels measured in each overlap.
    """
    n = len(entities)
    weighted = np.zeros(n)
    npix = np.zeros(n, dtype=np.int64)
    targets = [f for f in range(n) if f != e]
    others = [[o.polygon for o in entities[f]] for f in targets]
    for image in entities[e]:
        model = library.borrow(image.index)
        try:
            data = np.asarray(model.data, dtype=np.float32)
            good = _good_pixels(model, data, bits)
            inverse = _wcs_of(model, image.name).invert
            found = overlap_pixels(data.shape, inverse, image.polygon, others,
                                   intersect=intersect)  # fmt: skip
            for f, (mask, area) in zip(targets, found, strict=True):
                if area == 0.0:
                    continue
                sky, count = sky_value(data[np.logical_and(mask, good, out=mask)], stats)
                if sky is not None and count > 0:
                    weighted[f] += sky * count
                    npix[f] += count
        finally:
            library.shelve(model, image.index, modify=False)
    return weighted, npix


def _good_pixels(model: Any, data: np.ndarray, bits: int | None) -> np.ndarray:
    good = np.isfinite(data)
    if bits is not None:
        # bits names the flags ignored (as astropy's bit-flag masks do): a pixel is
        # good when it has none of the other flags
        dq = np.asarray(model.dq)
        if dq.dtype.kind == "u":
            # the other flags in the DQ's own unsigned type: no 64-bit copy of the DQ
            good &= (dq & dq.dtype.type(~int(bits) & np.iinfo(dq.dtype).max)) == 0
        else:
            good &= (dq.astype(np.int64, copy=False) & ~np.int64(bits)) == 0
    return good


def _wcs_of(model: Any, name: str) -> Any:
    wcs = getattr(model.meta, "wcs", None)
    if wcs is None:
        raise InputError(f"{name}: no WCS (meta.wcs); run assign_wcs (calwebb_image2) first")
    return wcs


def _as_library(model: Any) -> Any:
    from ..datamodels import ModelLibrary

    if isinstance(model, ModelLibrary):
        return model
    if isinstance(model, (list, tuple)):
        return ModelLibrary(list(model))
    raise InputError(
        f"skymatch works on an association or a list of images, not a single "
        f"{type(model).__name__}; give the level-3 association"
    )
