"""Process the segments of a split exposure together.

Long exposures (time series) are delivered as segments ``-seg001``, ``-seg002``,
... of one exposure. Processed one by one, a segment's jump detection (median
difference over the integrations of the input) and ramp fitting (median rate
averaged over the integrations of the input) see only its own integrations, so
their results differ slightly from processing the exposure at once; the official
pipeline behaves the same way. :func:`run_segments` joins the segments, runs
calwebb_detector1 once, and writes each segment's ``_rateints`` with its own
integrations, INT_TIMES rows and INTSTART/INTEND, plus the exposure's ``_rate``,
so every integration is calibrated exactly as in the whole exposure.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..datamodels import InputError, open_ramp_input, save_model

__all__ = ["SegmentProducts", "join_segments", "run_segments"]

log = logging.getLogger(__name__)

_SEG = re.compile(r"-seg\d{3}")


def _both_products_class():
    from .detector1 import Detector1Pipeline

    class BothProducts(Detector1Pipeline):
        """calwebb_detector1 whose result is both products (rate, rateints)."""

        def process(self, model: Any) -> Any:
            products = self.calibrate(model)
            self.finalize_result(products.rate)
            return products.rate, products.rateints

    return BothProducts


@dataclass(frozen=True)
class SegmentProducts:
    """What :func:`run_segments` made."""

    rate: Any
    rateints: list
    paths: list[str]


def _exposure_name(name: str) -> str:
    return _SEG.sub("", os.path.basename(name))


def join_segments(sources: list) -> tuple[Any, list]:
    """Join the segments of one exposure into one Level 1b model.

    Parameters
    ----------
    sources : list of str or Level1bModel
        The segments, in any order.

    Returns
    -------
    joined : Level1bModel
        SCI (nints_total, ngroups, ny, nx), INT_TIMES and ZEROFRAME of all segments,
        INTSTART/INTEND spanning them, the file name without ``-segNNN``.
    segments : list of Level1bModel
        The segments sorted by INTSTART.

    Raises
    ------
    InputError
        If the files belong to different exposures, overlap or leave a gap, or
        differ in shape.
    """
    segments = [open_ramp_input(s) for s in sources]
    if len(segments) < 2:
        raise InputError("run_segments needs at least two segments of one exposure")
    names = {_exposure_name(s.meta.filename or "") for s in segments}
    if len(names) != 1:
        raise InputError(f"the segments belong to different exposures: {sorted(names)}")
    segments.sort(key=lambda s: int(s.meta.exposure.integration_start or 1))
    prev_end = None
    for seg in segments:
        start = seg.meta.exposure.integration_start
        end = seg.meta.exposure.integration_end
        if start is None or end is None:
            raise InputError(
                f"{seg.meta.filename}: INTSTART/INTEND missing; a segment must declare its "
                "integrations"
            )
        if prev_end is not None and start != prev_end + 1:
            raise InputError(
                f"{seg.meta.filename}: INTSTART={start} does not follow the previous segment's "
                f"INTEND={prev_end}; expected {prev_end + 1}"
            )
        if seg.data.shape[1:] != segments[0].data.shape[1:]:
            raise InputError(
                f"{seg.meta.filename}: SCI shape {seg.data.shape} differs from "
                f"{segments[0].data.shape} of {segments[0].meta.filename}"
            )
        prev_end = end
    joined = segments[0].copy()
    joined.data = np.concatenate([s.data for s in segments])
    if all(s.int_times is not None and len(s.int_times) for s in segments):
        joined.int_times = np.concatenate([np.asarray(s.int_times) for s in segments])
    if all(s.hasattr("zeroframe") and np.ndim(s.zeroframe) == 3 for s in segments):
        joined.zeroframe = np.concatenate([s.zeroframe for s in segments])
    joined.meta.exposure.integration_start = segments[0].meta.exposure.integration_start
    joined.meta.exposure.integration_end = segments[-1].meta.exposure.integration_end
    joined.meta.filename = names.pop()
    return joined, segments


def run_segments(
    sources: list,
    *,
    output_dir: str | None = None,
    save_results: bool = True,
    config_file: str | None = None,
    **parameters,
) -> SegmentProducts:
    """Run calwebb_detector1 on the segments of one exposure together.

    Parameters
    ----------
    sources : list of str or Level1bModel
        Two or more segments (``-segNNN``) of one exposure.
    output_dir : str or None
        Where the products go.
    save_results : bool
        Write ``<segment>_rateints.fits`` per segment and ``<exposure>_rate.fits``.
    config_file : str or None
        ASDF parameter file (official layout).
    **parameters
        Detector1Pipeline parameters (``steps={...}`` included).

    Returns
    -------
    SegmentProducts
        The exposure's rate, one rateints per segment, and the paths written.
    """
    from ..stpipe.config import build_configuration
    from .detector1 import Detector1Pipeline

    _BothProducts = _both_products_class()
    joined, segments = join_segments(sources)
    disable = bool(parameters.pop("disable_crds_steppars", False))
    config = build_configuration(
        Detector1Pipeline, joined, config_file=config_file, overrides=dict(parameters),
        use_crds=not disable,
    )  # fmt: skip
    config.update(save_results=False, output_dir=output_dir)
    pipe = _BothProducts.from_configuration(config)
    log.info("Processing %d segments of %s together", len(segments), joined.meta.filename)
    rate, whole = pipe.run(joined)
    products, paths = [], []
    first = int(joined.meta.exposure.integration_start or 1)
    for seg in segments:
        i0 = int(seg.meta.exposure.integration_start) - first
        i1 = int(seg.meta.exposure.integration_end) - first + 1
        part = whole.copy()
        for name in ("data", "dq", "err", "var_poisson", "var_rnoise"):
            setattr(part, name, getattr(whole, name)[i0:i1].copy())
        if seg.int_times is not None and len(seg.int_times):
            part.int_times = np.asarray(seg.int_times).copy()
        for key in ("integration_start", "integration_end", "segment_number", "segment_total"):
            setattr(part.meta.exposure, key, getattr(seg.meta.exposure, key, None))
        part.meta.filename = seg.meta.filename
        products.append(part)
    if save_results:
        from ..stpipe.naming import output_path

        for seg, part in zip(segments, products):
            path = output_path(seg.meta.filename, "rateints", output_dir=output_dir)
            paths.append(save_model(part, path))
        paths.append(save_model(rate, output_path(joined.meta.filename, "rate",
                                                  output_dir=output_dir)))  # fmt: skip
    return SegmentProducts(rate, products, paths)
