"""Slow, per-pixel pure-Python reference of the two-point difference method.

Written from the algorithm description (JWST "Jump Detection" docs; Anderson &
Gordon 2011) with plain loops and the ``statistics`` module.
"""

from __future__ import annotations

import math
import statistics

import numpy as np

from webbcal.dqflags import DO_NOT_USE, JUMP_DET, SATURATED


def _electron_diffs(data, gdq, gain, i, y, x):
    e = (data[i, :, y, x] * gain[y, x]).astype(np.float32)
    out = []
    for k in range(data.shape[1] - 1):
        bad = (gdq[i, k, y, x] | gdq[i, k + 1, y, x]) & (SATURATED | DO_NOT_USE)
        out.append(None if bad or not np.isfinite(e[k + 1] - e[k]) else float(e[k + 1] - e[k]))
    return out


def _iterative(values, rn_var, p):
    """values: {(int, diff): electrons}; returns the set of flagged keys."""
    flagged = set()
    live = {k: abs(v) for k, v in values.items()}
    while len(live) >= 2:
        n = len(live)
        vals = list(live.values())
        if n >= 4:
            top = max(vals)
            med = statistics.median([v for v in vals if v != top])
        elif n == 3:
            med = statistics.median(vals)
        else:
            med = min(vals)
        sigma = math.sqrt(abs(med) + rn_var)
        if sigma == 0:
            break
        ratio = {k: abs(v - med) / sigma for k, v in live.items()}
        worst = max(ratio.values())
        limit = {2: p.three_group_rejection_threshold, 3: p.four_group_rejection_threshold}
        if not worst > limit.get(n, p.rejection_threshold):
            break
        for k in [k for k, r in ratio.items() if r == worst]:
            flagged.add(k)
            del live[k]
    return flagged


def reference_two_point(data, gdq, gain, readnoise, nframes, p, after_groups=(0, 0)):
    """Group DQ after two-point detection, neighbour and after-jump flagging."""
    nints, ngroups, ny, nx = data.shape
    out = gdq.copy()
    ratio_cube = np.full((nints, ngroups, ny, nx), np.nan)
    excess_cube = np.full((nints, ngroups, ny, nx), np.nan)
    for y in range(ny):
        for x in range(nx):
            values = {}
            for i in range(nints):
                for k, v in enumerate(_electron_diffs(data, gdq, gain, i, y, x)):
                    if v is not None:
                        values[(i, k)] = v
            rn_var = float(readnoise[y, x] * gain[y, x]) ** 2 / nframes
            med = statistics.median(values.values()) if values else math.nan
            sigma = math.sqrt(abs(med) + rn_var) if values else math.nan
            for (i, k), v in values.items():
                ratio_cube[i, k + 1, y, x] = abs(v - med) / sigma if sigma > 0 else math.nan
                excess_cube[i, k + 1, y, x] = v - med
            # (Assumes no group is DO_NOT_USE in every pixel.)
            if ngroups - 1 >= p.min_diffs_single_pass:
                jumps = {
                    k
                    for k, v in values.items()
                    if sigma > 0 and abs(v - med) / sigma > p.rejection_threshold
                }
            else:
                jumps = _iterative(values, rn_var, p)
            for i, k in jumps:
                out[i, k + 1, y, x] |= JUMP_DET
    after_detection = out.copy()
    if p.flag_4_neighbors:
        for i in range(nints):
            for g in range(1, ngroups):
                for y in range(ny):
                    for x in range(nx):
                        r = ratio_cube[i, g, y, x]
                        is_jump = after_detection[i, g, y, x] & JUMP_DET
                        if (
                            is_jump
                            and p.min_jump_to_flag_neighbors < r < p.max_jump_to_flag_neighbors
                        ):
                            for yy, xx in ((y, x), (y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
                                if 0 <= yy < ny and 0 <= xx < nx:
                                    if not out[i, g, yy, xx] & (SATURATED | DO_NOT_USE):
                                        out[i, g, yy, xx] |= JUMP_DET
    gain_med = float(np.median(gain))
    thresholds = (p.after_jump_flag_dn1 * gain_med, p.after_jump_flag_dn2 * gain_med)
    if any(after_groups):
        jump_set = (out & JUMP_DET) != 0
        for i in range(nints):
            for y in range(ny):
                for x in range(nx):
                    for g in range(1, ngroups):
                        if not jump_set[i, g, y, x]:
                            continue
                        for thr, n in zip(thresholds, after_groups):
                            if excess_cube[i, g, y, x] >= thr:
                                last = min(g + min(n, ngroups - 2), ngroups - 1)
                                for gg in range(g + 1, last + 1):
                                    if not out[i, gg, y, x] & (SATURATED | DO_NOT_USE):
                                        out[i, gg, y, x] |= JUMP_DET
    for other in (DO_NOT_USE, SATURATED):
        both = (out & (JUMP_DET | other)) == (JUMP_DET | other)
        out[both] ^= JUMP_DET
    return out
