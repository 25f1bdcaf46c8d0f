"""The refpix step's work on blocks of rows (near-infrared and MIRI).

A first pass over the reference pixels, calibrated by the steps before
refpix, computes the whole-frame terms (near-infrared: per-plane column and
row terms, :func:`webbcal.refpix.nir.refpix_terms`; MIRI: per-amplifier drifts,
:func:`webbcal.refpix.miri.reference_column_signals`); blocks then subtract
them bit for bit as the whole-array correction does.

References
----------
``docs/streaming-design.md``; JWST pipeline documentation, "refpix" step.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np

from ..stpipe import StepSkipped
from ..stpipe.blocks import BlockStage, NotStreamable

__all__ = ["miri_refpix_stage", "nir_refpix_stage"]

log = logging.getLogger(__name__)

#: Bytes of working memory per ramp sample while reference pixels are calibrated.
_BYTES_PER_SAMPLE = 40


def nir_refpix_stage(step, ctx, params) -> BlockStage:
    """The near-infrared stage: terms from a first pass, applied to blocks."""
    from .nir import NRS_EDGELESS_SUBARRAYS, apply_refpix_terms, reference_pixel_mask, refpix_terms

    model = ctx.model
    sub, exp = model.meta.subarray, model.meta.exposure
    kw = dict(
        geometry=ctx.geometry, fastaxis=int(sub.fastaxis), slowaxis=int(sub.slowaxis),
        noutputs=int(exp.noutputs or 1), params=params,
        edge_columns_as_reference=(sub.name or "").upper() in NRS_EDGELESS_SUBARRAYS,
    )  # fmt: skip
    found = {}

    def first_pass(up):
        from ..dqflags import DO_NOT_USE

        nints, ngroups, ny, nx = ctx.nints, ctx.ngroups, ctx.ny, ctx.nx
        predicted = up.predicted_pixeldq
        # DO_NOT_USE removed: the mask is then a superset of the reference pixels used.
        mask = reference_pixel_mask(predicted & np.uint32(~DO_NOT_USE & 0xFFFFFFFF), **kw)
        yy, xx = np.nonzero(mask)
        vals = np.empty((nints, ngroups, len(yy)), dtype=np.float32)
        # The zero frames are corrected when ZEROFRAM says they are used, as the step does.
        zvals = np.empty((nints, len(yy)), dtype=np.float32) if ctx.uses_zeroframe() else None
        actual = predicted.copy()
        for a, b in _reference_row_chunks(mask):
            cols = np.nonzero(mask[a:b].any(axis=0))[0]
            if cols.size == 0:
                continue
            sel = (yy >= a) & (yy < b)
            where = np.searchsorted(cols, xx[sel])
            per_int = ngroups * (b - a) * len(cols) * 8
            chunk = int(max(1, min(nints, (64 * 2**20) // per_int)))
            for i0 in range(0, nints, chunk):
                ints = slice(i0, min(nints, i0 + chunk))
                blk = up.read(a, b, cols, ints)
                vals[ints, :, sel] = blk.data[:, :, yy[sel] - a, where]
                if zvals is not None:
                    zvals[ints, sel] = blk.zeroframe[:, yy[sel] - a, where]
            actual[a:b, cols] = blk.pixeldq
            if not np.array_equal(actual[a:b, cols], predicted[a:b, cols]):
                raise NotStreamable("pixel DQ of the reference pixels differs from the prediction")
        # The terms of all groups of all integrations, as planes (i * ngroups + g), for as
        # many planes at a time as 64 MB of whole planes hold.
        flat = vals.reshape(nints * ngroups, -1)
        nplanes = flat.shape[0]
        chunk = min(nplanes, max(1, (64 * 2**20) // (ny * nx * 4)))
        parts = []
        # Only the reference pixels are read: one buffer, its other pixels left at zero.
        planes = np.zeros((chunk, ny, nx), dtype=np.float32)
        for p0 in range(0, nplanes, chunk):
            n = min(chunk, nplanes - p0)
            planes[:n, yy, xx] = flat[p0 : p0 + n]
            parts.append(refpix_terms(planes[:n], actual, verbose=p0 == 0, **kw))
        del planes
        terms = _concat_terms(parts)
        zterms = None
        if zvals is not None and terms.status == "COMPLETE":
            log.info("Correcting the zero frame")
            planes = np.zeros((nints, ny, nx), dtype=np.float32)
            planes[:, yy, xx] = zvals
            zterms = refpix_terms(planes, actual, verbose=False, **kw)
        found["terms"] = (terms, zterms)
        return None if terms.status == "COMPLETE" else terms.reason

    def apply(b):
        terms, zterms = found["terms"]
        ng = b.data.shape[1]
        for i in range(b.data.shape[0]):
            planes = slice((b.i0 + i) * ng, (b.i0 + i + 1) * ng)
            b.data[i] = apply_refpix_terms(b.data[i], terms, planes, b.rows)
        if b.zeroframe is not None and zterms is not None:
            zf = b.zeroframe
            zero = zf == 0.0
            n = zf.shape[0]
            out = apply_refpix_terms(zf, zterms, slice(b.i0, b.i0 + n), b.rows)
            out[zero] = 0.0
            b.zeroframe = out

    return BlockStage(apply, first_pass=first_pass)


def _reference_row_chunks(mask: np.ndarray, max_rows: int = 64) -> list[tuple[int, int]]:
    """Row ranges of at most ``max_rows`` rows whose reference pixels are alike.

    Rows that are mostly reference pixels (reference rows) and rows with only a few
    (the side columns) go to separate ranges, so that the side-column rows are read
    and calibrated for their reference columns alone.
    """
    wide = mask.sum(axis=1) > mask.shape[1] // 2
    chunks = []
    a = 0
    while a < mask.shape[0]:
        b = a + 1
        while b < mask.shape[0] and b - a < max_rows and wide[b] == wide[a]:
            b += 1
        chunks.append((a, b))
        a = b
    return chunks


def _concat_terms(parts):
    first = parts[0]
    if len(parts) == 1 or first.status != "COMPLETE":
        return first

    def cat(name):
        if getattr(first, name) is None:
            return None
        return np.concatenate([getattr(p, name) for p in parts], axis=0)

    return replace(first, first=cat("first"), second=cat("second"))


def miri_refpix_stage(step, ctx) -> BlockStage:
    """The MIRI stage: per-amplifier drifts from the reference columns, subtracted by blocks.

    Raises
    ------
    StepSkipped
        For a subarray (no reference columns).
    """
    from .miri import (
        MIRI_FULL_SHAPE,
        MIRI_REFERENCE_COLUMNS,
        reference_column_signals,
        subtract_reference_signals,
        unusable_reference_column,
    )

    if step.refpix_algorithm == "sirs":
        log.info("The SIRS algorithm does not apply to MIRI data; using the MIRI correction")
    if (ctx.ny, ctx.nx) != MIRI_FULL_SHAPE:
        raise StepSkipped(f"MIRI subarray {(ctx.ny, ctx.nx)} has no reference columns")
    odd_even = bool(step.odd_even_rows)
    siglimit = float(step.siglimit)
    found = {}

    def first_pass(up):
        """The steps before refpix on the reference columns only (with as many
        neighbouring columns as saturation growth needs, twice through the
        frame-averaging pass), over all rows, a few integrations at a time."""
        from ..dqflags import DO_NOT_USE

        nints, ngroups, ny, nx = ctx.nints, ctx.ngroups, ctx.ny, ctx.nx
        halo = 2 * up.halo
        refcols = np.asarray(MIRI_REFERENCE_COLUMNS)
        sides = [np.arange(0, min(nx, 4 + halo)), np.arange(max(0, 1028 - halo), nx)]
        picks = [np.searchsorted(c, refcols[4 * k : 4 * k + 4]) for k, c in enumerate(sides)]
        ncols = sum(len(c) for c in sides)
        per_int = ngroups * ny * ncols * _BYTES_PER_SAMPLE
        chunk = int(max(1, min(nints, (64 * 2**20) // per_int)))
        npar = 2 if odd_even else 1
        signals = np.empty((nints, max(ngroups - 1, 0), 4, npar), dtype=np.float32)
        usable = None
        pixeldq = [None, None]
        for i0 in range(0, nints, chunk):
            ints = slice(i0, min(nints, i0 + chunk))
            ramp = np.empty((ints.stop - ints.start, ngroups, ny, 8), dtype=np.float32)
            for k, cols in enumerate(sides):
                blk = up.read(0, ny, cols, ints)
                ramp[..., 4 * k : 4 * k + 4] = blk.data[..., picks[k]]
                pixeldq[k] = up.merge_pixeldq(pixeldq[k], blk.pixeldq[:, picks[k]])
            if usable is None:
                usable = (np.concatenate(pixeldq, axis=1) & DO_NOT_USE) == 0
                reason = unusable_reference_column(usable, odd_even_rows=odd_even)
                if reason:
                    return reason
            drift = ramp[:, 1:] - ramp[:, :1]  # float32, as the step computes it
            signals[ints] = reference_column_signals(
                drift, usable, odd_even_rows=odd_even, siglimit=siglimit
            )
        found["signals"] = signals
        return None

    def apply(b):
        signals = found["signals"]
        n = b.data.shape[0]
        b.data = subtract_reference_signals(
            b.data, signals[b.i0 : b.i0 + n], odd_even_rows=odd_even, row0=b.r0
        )

    return BlockStage(apply, first_pass=first_pass)
