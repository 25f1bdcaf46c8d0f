"""Time series calibrated in chunks of integrations (calwebb_spec2, calwebb_tso3).

A multi-integration product opened from a file is opened lazily
(:func:`webbcal.lib.cubeio.open_lazy_cube`): its metadata and tables in memory, its
(nints, ny, nx) arrays on disk. The per-integration steps (flat_field and photom in
calwebb_spec2; outlier flagging in calwebb_tso3) and the spectral extraction then run
on chunks of integrations sized from ``memory_limit``; each calibrated chunk is
extracted and written straight into its product, laid out from the first chunk's
metadata under a temporary name (:class:`~webbcal.lib.cubeio.ProductSpill`; a raw spill,
:class:`~webbcal.lib.cubeio.IntegrationSpill`, when the product's path is not known),
whose headers are rewritten once its metadata is final (:func:`save_spilled`). Peak
memory is that of one chunk plus the x1dints spectra, whatever the number of
integrations; an exposure whose integrations all fit in one chunk is processed whole.

Every step runs unchanged on each chunk (a copy of the exposure's metadata holding the
chunk's integrations), and the extraction of an integration does not depend on the
integrations extracted with it, so the products equal those of the whole-array path
(tested bit for bit).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ..lib.cubeio import IntegrationSpill, LazyCube, ProductSpill, chunk_integrations, lazy_cube_of

__all__ = ["calibrate_chunks", "extractor_of", "materialize", "memory_limit_bytes",
           "needs_chunks", "open_lazily", "save_spilled", "spill_of"]  # fmt: skip

log = logging.getLogger(__name__)

#: Default ``memory_limit`` of the stage-2/3 time-series pipelines (as calwebb_detector1).
DEFAULT_MEMORY_LIMIT = "1.4GB"


def memory_limit_bytes(step: Any) -> int:
    """``step.memory_limit`` in bytes (ParameterError for bad text)."""
    from ..stpipe import ParameterError
    from .streaming import parse_memory

    try:
        return parse_memory(step.memory_limit)
    except ValueError as exc:
        raise ParameterError(str(exc)) from None


def open_lazily(path: Any) -> Any:
    """A ``.fits`` product of several integrations opened lazily, else None."""
    from ..lib.cubeio import open_lazy_cube

    if not str(path).endswith(".fits"):
        return None
    model = open_lazy_cube(path)
    if model is not None and lazy_cube_of(model).nints < 2:
        return None
    return model


def extractor_of(step: Any) -> Callable[[Any], Any]:
    """``extractor`` for :func:`calibrate_chunks` from an Extract1dStep (None when
    skipped or when the exposure is not extracted)."""
    from ..stpipe import StepSkipped

    def make(piece: Any) -> Any:
        if step.skip:
            return None
        try:
            return step.extractor(piece)
        except StepSkipped as why:
            log.info("Step extract_1d skipped: %s", why)
            return None

    return make


def needs_chunks(step: Any, cube: LazyCube) -> bool:
    """Whether ``step`` (a pipeline saving its products) processes ``cube`` in chunks:
    with ``save_results`` and more integrations than fit in its ``memory_limit``."""
    if not step.save_results:
        return False
    _, ny, nx = cube.shape
    return chunk_integrations(cube.nints, ny * nx, memory_limit_bytes(step)) < cube.nints


def materialize(model: Any) -> Any:
    """Read every integration of a lazily opened ``model`` into it (no-op otherwise)."""
    from ..datamodels.io import assigning_checked_values
    from ..lib.cubeio import attach_lazy_cube

    cube = lazy_cube_of(model)
    if cube is not None:
        with assigning_checked_values(model):  # the file's own arrays; checked when saved
            for attribute in cube.attributes:
                setattr(model, attribute, cube.read(attribute, 0, cube.nints))
        attach_lazy_cube(model, None)
    return model


def spill_of(model: Any) -> tuple[IntegrationSpill | ProductSpill, int] | None:
    """The spill (and chunk length) holding the arrays of a chunked product, or None."""
    return getattr(model, "__dict__", {}).get("_webbcal_spill")


def _placeholders(model: Any, attributes) -> None:
    from ..datamodels.io import assigning_checked_values

    with assigning_checked_values(model):  # zeros of the arrays' own dtypes
        for attribute in attributes:
            value = getattr(model, attribute)
            setattr(model, attribute, np.zeros((1,) + value.shape[1:], dtype=value.dtype))


def calibrate_chunks(
    template: Any, cube: LazyCube, steps: list[Callable[[Any], Any]], *,
    memory_limit: int, spill_dir: str, extractor: Callable[[Any], Any] | None = None,
    product_path: str | None = None,
) -> tuple[Any, Any]:  # fmt: skip
    """Run ``steps`` on chunks of integrations, spill the results, extract them.

    Parameters
    ----------
    template : DataModel
        The exposure's metadata after the whole-exposure steps, with (1, ny, nx)
        placeholder arrays; not modified.
    cube : LazyCube
        The exposure's integrations on disk.
    steps : list of callables
        ``(chunk model, index of its first integration) -> model``, run in order on
        each chunk.
    memory_limit : int
        Bytes; sets the chunk length (:func:`~webbcal.lib.cubeio.chunk_integrations`).
    spill_dir : str
        Folder of the products (the spill is made inside it).
    extractor : callable or None
        Called with the first calibrated chunk, returns an object whose ``add(arrays)``
        extracts each chunk (:class:`~webbcal.extract_1d.extract.LrsExtractor`), or None.
    product_path : str or None
        Where the product will be saved (:func:`save_spilled`), when known: the chunks
        are then written straight into it (:class:`~webbcal.lib.cubeio.ProductSpill`)
        instead of a raw spill copied into it at the end.

    Returns
    -------
    product : DataModel
        The calibrated product's metadata with (1, ny, nx) placeholders and its spill
        attached (:func:`spill_of`; write it with :func:`save_spilled`).
    extraction : object or None
        The extractor fed with every integration.
    """
    from ..extract_1d.extract import clean_chunk, integration_chunks

    nints, ny, nx = cube.shape
    chunk = chunk_integrations(nints, ny * nx, memory_limit)
    log.info("Calibrating %d integrations in chunks of %d (memory_limit %.2f GB)", nints,
             chunk, memory_limit / 2**30)  # fmt: skip
    spill, extraction, last = None, None, None
    try:
        for a, piece in _chunks(template, cube, chunk):
            # The steps' messages once, for the first chunk (not once per chunk).
            with _quiet(a > 0):
                for step in steps:
                    piece = step(piece, a)
            if spill is None:
                arrays = {k: v.dtype for k, v in _cubes(piece)}
                if product_path is not None:
                    spill = ProductSpill(piece, product_path, cube.shape, list(arrays))
                else:
                    spill = IntegrationSpill(spill_dir, cube.shape, arrays)
                extraction = extractor(piece) if extractor is not None else None
            for attribute, value in _cubes(piece):
                spill.write(attribute, a, value)
            if extraction is not None:
                # In the extraction's own (smaller) chunks: its float64 work arrays stay
                # in cache and are reused instead of faulted in for every chunk.
                window = getattr(extraction, "window", None)
                for sl in integration_chunks(len(piece.data), ny * nx):
                    extraction.add(clean_chunk(piece, sl, window))
            if last is not None:
                last.close()
            last = piece
    except BaseException:
        if spill is not None:
            spill.close()
        raise
    _placeholders(last, [k for k, _ in _cubes(last)])
    last.__dict__["_webbcal_spill"] = (spill, chunk)
    return last, extraction


@contextlib.contextmanager
def _quiet(quiet: bool) -> Iterator[None]:
    logger = logging.getLogger("webbcal")
    level = logger.level
    if quiet:
        logger.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        logger.setLevel(level)


def _chunks(template: Any, cube: LazyCube, chunk: int) -> Iterator[tuple[int, Any]]:
    for a in range(0, cube.nints, chunk):
        b = min(cube.nints, a + chunk)
        # The WCS object is shared, not deep-copied for every chunk (a gwcs copy is ~0.1 s,
        # most of the copy; no chunk step changes it).
        wcs = template.meta.wcs
        piece = template.copy(memo=None if wcs is None else {id(wcs): wcs})
        # The file's own arrays (validated when it was opened): assigned unchecked, as
        # an eager open assigns them; the steps' assignments are validated as usual.
        piece._validate_on_assignment = False
        for attribute in cube.attributes:
            setattr(piece, attribute, cube.read(attribute, a, b))
        piece._validate_on_assignment = template._validate_on_assignment
        yield a, piece


def _cubes(model: Any) -> list[tuple[str, np.ndarray]]:
    """The per-integration arrays of a chunk (3-D arrays of the chunk's SCI shape)."""
    shape = np.shape(model.data)
    out = []
    for attribute in ("data", "dq", "err", "var_poisson", "var_rnoise", "var_flat"):
        value = getattr(model, attribute) if model.hasattr(attribute) else None
        if value is not None and np.shape(value) == shape:
            out.append((attribute, value))
    return out


def save_spilled(model: Any, path: str) -> str:
    """Write a chunked product (see :func:`calibrate_chunks`) at ``path``, atomically,
    and remove its spill."""
    spill, chunk = spill_of(model)
    try:
        spill.write_product(model, path, chunk)
    finally:
        spill.close()
        model.__dict__.pop("_webbcal_spill", None)
    log.info("Saved %s", path)
    return os.fspath(path)
