"""The compiled pass of image flat fielding (kept apart so that importing flat_field does
not load numba: time series take the numpy path)."""

import numba
import numpy as np

from ..dqflags import PIXEL

DNU = PIXEL["DO_NOT_USE"]
NO_FLAT = PIXEL["NO_FLAT_FIELD"]


@numba.njit(parallel=True, cache=True, nogil=True)
def _flat_image(
    data, dq, var_poisson, var_rnoise, flat, flat_dq, flat_err, out, new_dq, err, var_flat, vp, vr
):  # pragma: no cover - compiled
    n = data.shape[0]
    dnu = np.uint32(DNU)
    no_flat = np.uint32(NO_FLAT)
    nchunks = (n + 65535) // 65536
    for k in numba.prange(nchunks):
        for p in range(k * 65536, min(n, (k + 1) * 65536)):
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
