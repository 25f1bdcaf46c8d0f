"""Split a simulated exposure into -segNNN files, as the archive delivers long exposures."""

from pathlib import Path

from stdatamodels.jwst import datamodels as dm


def write_segments(uncal: Path, root: Path, segments) -> list[Path]:
    """Write one Level 1b file per (start, end) integration range; return their paths."""
    paths = []
    with dm.Level1bModel(str(uncal)) as whole:
        for n, (start, end) in enumerate(segments, start=1):
            seg = whole.copy()
            seg.data = whole.data[start - 1 : end].copy()
            seg.int_times = whole.int_times[start - 1 : end].copy()
            seg.meta.exposure.integration_start = start
            seg.meta.exposure.integration_end = end
            seg.meta.exposure.segment_number = n
            seg.meta.exposure.segment_total = len(segments)
            seg.meta.filename = uncal.name.replace("_nrca1_uncal", f"-seg{n:03d}_nrca1_uncal")
            seg.save(root / seg.meta.filename)
            paths.append(root / seg.meta.filename)
    return paths
