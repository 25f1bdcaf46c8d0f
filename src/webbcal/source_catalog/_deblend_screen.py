"""Which segments photutils' deblending could split, in one compiled pass (kept apart
so that importing source_catalog does not load numba).

Private module behind :func:`webbcal.source_catalog.detection.deblend_candidates`.
photutils' ``deblend_sources`` thresholds each segment at ``n_levels`` levels and
splits it only where, at some level, the pixels above it form two or more
connected groups within the segment. Each such group holds a pixel with no
neighbour (with the same connectivity) in the segment of greater value: the
group's own largest value (a greater neighbour would be above the level too, so in
the group). A segment with a single such pixel therefore can never be split, and
deblending it returns it unchanged; those segments can be left out of
``deblend_sources(labels=...)`` without changing the result.

References
----------
photutils 3.0 ``deblend_sources`` (multi-thresholding and watershed), Bertin, E. &
Arnouts, S. 1996, A&AS 117, 393 (SExtractor deblending).
"""

import numba
import numpy as np

__all__ = ["segment_peaks"]


@numba.njit(cache=True, nogil=True)
def segment_peaks(data, labels, n_labels, diagonal):  # pragma: no cover - compiled
    """Per label ``1..n_labels`` (index = label): the number of its pixels with no
    neighbour of the same label holding a greater value (8 neighbours with
    ``diagonal``, else 4), and its smallest value (+inf where absent; NaN values are
    ignored). ``data`` float (ny, nx), ``labels`` integer (ny, nx)."""
    ny, nx = data.shape
    peaks = np.zeros(n_labels + 1, dtype=np.int64)
    low = np.full(n_labels + 1, np.inf)
    for y in range(ny):
        for x in range(nx):
            lab = labels[y, x]
            if lab <= 0:
                continue
            v = data[y, x]
            if v < low[lab]:
                low[lab] = v
            top = True
            for dy in range(-1, 2):
                yy = y + dy
                if yy < 0 or yy >= ny:
                    continue
                for dx in range(-1, 2):
                    if dy == 0 and dx == 0:
                        continue
                    if not diagonal and dy != 0 and dx != 0:
                        continue
                    xx = x + dx
                    if xx < 0 or xx >= nx or labels[yy, xx] != lab:
                        continue
                    if data[yy, xx] > v:
                        top = False
            if top:
                peaks[lab] += 1
    return peaks, low
