"""The compiled pass of image flat fielding (kept apart so that importing flat_field does
not load numba: time series take the numpy path).

Serial: a memory-bound pass of a few milliseconds per block, where numba's parallel
regions cost more CPU time than they save (worker start-up, and workers spinning after
every call on a shared machine)."""

import numba
import numpy as np

from ..dqflags import PIXEL

DNU = PIXEL["DO_NOT_USE"]
NO_FLAT = PIXEL["NO_FLAT_FIELD"]


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _flat_image(
    data, dq, var_poisson, var_rnoise, flat, flat_dq, flat_err, out, new_dq, err, var_flat, vp, vr
):  # pragma: no cover - compiled
    n = data.shape[0]
    dnu = np.uint32(DNU)
    no_flat = np.uint32(NO_FLAT)
    for p in range(n):
        f = flat[p]
        fdq = np.uint32(flat_dq[p])
        if np.isnan(f) or f == 0:
            fdq |= dnu | no_flat
        if fdq & no_flat:
            fdq |= dnu
        if fdq & dnu:
            f = np.float32(1.0)
        f2 = f * f
        sci = data[p] / f
        vf = ((sci * sci) / f2) * (flat_err[p] * flat_err[p])
        a = var_poisson[p] / f2
        b = var_rnoise[p] / f2
        e = np.sqrt((a + b) + vf)
        q = dq[p] | fdq
        if (np.isnan(sci) or np.isnan(e) or np.isnan(vf) or np.isnan(a) or np.isnan(b)
                or (q & dnu)):  # fmt: skip
            nan = np.float32(np.nan)
            sci = e = vf = a = b = nan
            q |= dnu
        out[p], err[p], var_flat[p], vp[p], vr[p], new_dq[p] = sci, e, vf, a, b, q
