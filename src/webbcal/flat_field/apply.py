"""Image flat fielding: divide by the flat, propagate its error and its DQ.

References
----------
JWST Science Calibration Pipeline documentation, "Flat Field" (flat_field step,
imaging and guider modes): flat pixels that are NaN or zero get DO_NOT_USE +
NO_FLAT_FIELD; NO_FLAT_FIELD implies DO_NOT_USE; DO_NOT_USE flat pixels are not
corrected (flat taken as 1); SCI /= FLAT; VAR_FLAT = (SCI_corrected / FLAT)^2 *
FLAT_ERR^2; VAR_POISSON and VAR_RNOISE are divided by FLAT^2 and ERR recomputed from
the three variances, except for guider data (no ramp-fit variances), whose ERR is the
input ERR and sqrt(VAR_FLAT) added in quadrature; DQ |= flat DQ; finally NaN values
and DO_NOT_USE are made consistent across the arrays of the same shape.

The inverse operation (step parameter ``inverse``, which undoes a flat field):
SCI *= FLAT; VAR_FLAT = 0; VAR_POISSON and VAR_RNOISE are multiplied by FLAT^2 and
ERR recomputed from them; guider ERR is left as it was. Flags and NaN are handled
as in the forward operation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..dqflags import PIXEL
from ..lib.invalid import match_nans_and_flags

__all__ = ["FlatResult", "apply_flat", "prepare_flat"]

DNU = PIXEL["DO_NOT_USE"]
NO_FLAT = PIXEL["NO_FLAT_FIELD"]


@dataclass(frozen=True)
class FlatResult:
    """Arrays after flat fielding (None where the input had none)."""

    data: np.ndarray
    dq: np.ndarray
    err: np.ndarray
    var_flat: np.ndarray
    var_poisson: np.ndarray | None = None
    var_rnoise: np.ndarray | None = None


def prepare_flat(flat: np.ndarray, flat_dq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flag unusable flat pixels and set them to 1 (no correction).

    Returns
    -------
    flat : ndarray, shape (ny, nx), float32
    flat_dq : ndarray, shape (ny, nx), uint32
    """
    flat = np.array(flat, dtype=np.float32)
    fdq = np.array(flat_dq, dtype=np.uint32)
    fdq[np.isnan(flat) | (flat == 0)] |= DNU | NO_FLAT
    fdq[(fdq & NO_FLAT) > 0] |= DNU
    flat[(fdq & DNU) > 0] = 1.0
    return flat, fdq


#: Pixels per block of the compiled pass (inputs converted to native byte order a block at
#: a time, into reused buffers: no full-frame temporaries).
_BLOCK = 2**18


def _apply_flat_compiled(data, dq, var_poisson, var_rnoise, flat, flat_dq, flat_err):
    """:func:`apply_flat` for an image with both variances, block by block."""
    from ._kernel import _flat_image  # numba: imported when first needed

    shape = np.shape(data)
    arrays = {k: np.empty(shape, dtype=np.float32)
              for k in ("data", "err", "var_flat", "var_poisson", "var_rnoise")}  # fmt: skip
    new_dq = np.empty(shape, dtype=np.uint32)
    inputs = [(data, np.float32), (dq, np.uint32), (var_poisson, np.float32),
              (var_rnoise, np.float32), (flat, np.float32), (flat_dq, np.uint32),
              (flat_err, np.float32)]  # fmt: skip
    inputs = [np.asarray(a).reshape(-1) for a, _ in inputs], [t for _, t in inputs]
    outputs = [a.reshape(-1) for a in (arrays["data"], new_dq, arrays["err"],
                                       arrays["var_flat"], arrays["var_poisson"],
                                       arrays["var_rnoise"])]  # fmt: skip
    n = outputs[0].size
    # arrays already native, of the kernel's type, are passed as they are
    buffers = [None if a.dtype == t and a.dtype.isnative and a.flags.c_contiguous
               else np.empty(min(n, _BLOCK), dtype=t)
               for a, t in zip(*inputs, strict=True)]  # fmt: skip
    for start in range(0, n, _BLOCK):
        stop = min(n, start + _BLOCK)
        args = []
        for a, buf in zip(inputs[0], buffers, strict=True):
            if buf is None:
                args.append(a[start:stop])
            else:
                np.copyto(buf[: stop - start], a[start:stop], casting="unsafe")
                args.append(buf[: stop - start])
        _flat_image(*args, *(o[start:stop] for o in outputs))
    return FlatResult(dq=new_dq, **arrays)


def apply_flat(
    data: np.ndarray,
    dq: np.ndarray,
    err: np.ndarray,
    flat: np.ndarray,
    flat_dq: np.ndarray,
    flat_err: np.ndarray,
    *,
    var_poisson: np.ndarray | None = None,
    var_rnoise: np.ndarray | None = None,
    inverse: bool = False,
) -> FlatResult:
    """Flat-field an image or a cube of images (or, with ``inverse``, undo it).

    Parameters
    ----------
    data, err : ndarray, shape (..., ny, nx), float32
        Science values and errors (any units).
    dq : ndarray, shape (ny, nx) or (..., ny, nx), uint32
    flat, flat_err : ndarray, shape (ny, nx), float32
        Flat (cut to the science subarray) and its error.
    flat_dq : ndarray, shape (ny, nx), uint32
    var_poisson, var_rnoise : ndarray, shape (..., ny, nx), float32, or None
        Ramp-fit variances; None for guider data (ERR then gains VAR_FLAT in quadrature).
    inverse : bool
        Multiply by the flat instead of dividing; VAR_FLAT is then zero and the
        flat's error is not propagated.

    Returns
    -------
    FlatResult
    """
    shape = np.shape(data)
    if (
        not inverse
        and var_poisson is not None
        and var_rnoise is not None
        and len(shape) == 2
        and all(
            np.shape(a) == shape for a in (dq, flat, flat_dq, flat_err, var_poisson, var_rnoise)
        )
    ):
        # The common image case in one compiled pass: same float32 operations in the
        # same order as the numpy code below (its reference), same bits.
        return _apply_flat_compiled(data, dq, var_poisson, var_rnoise, flat, flat_dq, flat_err)
    return _apply_flat_numpy(data, dq, err, flat, flat_dq, flat_err, var_poisson=var_poisson,
                             var_rnoise=var_rnoise, inverse=inverse)  # fmt: skip


def _apply_flat_numpy(data, dq, err, flat, flat_dq, flat_err, *, var_poisson=None,
                      var_rnoise=None, inverse=False) -> FlatResult:  # fmt: skip
    """The numpy implementation of :func:`apply_flat` (every case; the compiled image
    path's reference)."""
    f, fdq = prepare_flat(flat, flat_dq)
    ferr = np.asarray(flat_err, dtype=np.float32)
    f2 = f * f
    # In-place float32 operations in the same order as the formulas (no full-frame
    # temporaries): VAR_FLAT = ((SCI / FLAT)^2 / FLAT^2) * FLAT_ERR^2.
    if inverse:
        out = np.asarray(data, dtype=np.float32) * f
        var_flat = np.zeros_like(out)
    else:
        out = np.asarray(data, dtype=np.float32) / f
        var_flat = np.square(out)
        var_flat /= f2
        ferr2 = np.square(ferr)
        var_flat *= ferr2
        del ferr2
    vp = vr = None
    if var_poisson is not None and var_rnoise is not None:
        if inverse:
            vp = np.asarray(var_poisson, dtype=np.float32) * f2
            vr = np.asarray(var_rnoise, dtype=np.float32) * f2
            new_err = vp + vr
        else:
            vp = np.asarray(var_poisson, dtype=np.float32) / f2
            vr = np.asarray(var_rnoise, dtype=np.float32) / f2
            new_err = vp + vr
            new_err += var_flat
        np.sqrt(new_err, out=new_err)
    elif inverse:
        new_err = np.array(err, dtype=np.float32)
    else:
        new_err = np.sqrt(np.asarray(err, dtype=np.float32) ** 2 + var_flat)
    new_dq = np.asarray(dq, dtype=np.uint32) | fdq
    arrays = {"data": out, "err": new_err, "var_flat": var_flat, "var_poisson": vp,
              "var_rnoise": vr}  # fmt: skip
    new_dq = match_nans_and_flags(arrays, new_dq)
    return FlatResult(dq=new_dq, **arrays)
