"""Reference-pixel correction of MIRI full-frame ramps (left and right reference columns).

Each MIRI detector is read by four amplifiers, amplifier *k* (0-3) owning the
columns ``k, k + 4, k + 8, ...``; columns 0-3 (left) and 1028-1031 (right) are
reference pixels, one column per amplifier and side. The drift of each
amplifier in each group, measured relative to the integration's first group,
is the sigma-clipped mean of its reference column (rows of one parity at a time
with ``odd_even_rows``), averaged over the left and right sides, and is
subtracted from every pixel of that amplifier. The first group is unchanged.
Subarrays have no reference columns and are not corrected.

References
----------
JWST pipeline documentation, "refpix" step, "MIRI Detector Data" section;
Ressler et al. 2015, PASP 127, 675 (MIRI detector readout and reference pixels).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from ..dqflags import DO_NOT_USE
from .stats import clipped_mean

__all__ = ["MIRI_FULL_SHAPE", "MiriRefPixResult", "correct_miri_refpix"]

log = logging.getLogger(__name__)

#: (rows, columns) of a MIRI full frame.
MIRI_FULL_SHAPE = (1024, 1032)
_NAMP = 4
_RIGHT_START = 1028


@dataclass(frozen=True)
class MiriRefPixResult:
    """Output of :func:`correct_miri_refpix`.

    Attributes
    ----------
    data : ndarray, shape (nints, ngroups, ny, nx), float32
        Corrected ramps (the input array itself when ``status`` is SKIPPED).
    status : str
        ``"COMPLETE"`` or ``"SKIPPED"``.
    reason : str
        Why the correction was skipped (empty when complete).
    """

    data: np.ndarray
    status: str
    reason: str = ""


def _parities(odd_even_rows: bool) -> list[slice]:
    return [slice(0, None, 2), slice(1, None, 2)] if odd_even_rows else [slice(None)]


def correct_miri_refpix(
    data: np.ndarray, pixeldq: np.ndarray, *, odd_even_rows: bool = True, siglimit: float = 3.0
) -> MiriRefPixResult:
    """Subtract the per-amplifier reference-column drift from MIRI full-frame ramps.

    Parameters
    ----------
    data : ndarray, shape (nints, ngroups, 1024, 1032), float32, DN
        Ramps of a full-frame MIRI exposure.
    pixeldq : ndarray, shape (1024, 1032), uint32
        Reference pixels flagged DO_NOT_USE are ignored (non-finite values too).
    odd_even_rows : bool
        Measure the drift separately for even and odd rows.
    siglimit : float
        Clipping limit, in standard deviations, of the reference-column means.

    Returns
    -------
    MiriRefPixResult
        SKIPPED (data unchanged) for subarrays, and when a reference column (of
        a row parity) has no usable pixel.

    Raises
    ------
    ValueError
        If ``data`` is not 4-D, ``pixeldq`` does not match, or ``siglimit`` <= 0.
    """
    if data.ndim != 4 or pixeldq.shape != data.shape[-2:]:
        raise ValueError(
            f"data {data.shape} / pixeldq {pixeldq.shape}: expected (nints, ngroups, ny, nx) "
            "and (ny, nx)"
        )
    if not siglimit > 0:
        raise ValueError(f"siglimit={siglimit}; expected a positive number")
    if data.shape[-2:] != MIRI_FULL_SHAPE:
        return MiriRefPixResult(
            data, "SKIPPED", f"MIRI subarray {data.shape[-2:]} has no reference columns"
        )
    nints = data.shape[0]
    usable = (pixeldq & DO_NOT_USE) == 0
    parities = _parities(odd_even_rows)
    for amp in range(_NAMP):
        for col in (amp, _RIGHT_START + amp):
            for rows in parities:
                if not np.any(usable[rows, col]):
                    return MiriRefPixResult(
                        data, "SKIPPED",
                        f"reference column {col} (amplifier {amp + 1}) has no usable pixel",
                    )  # fmt: skip
    out = data.copy()
    for i in range(nints):
        first = data[i, 0]
        drift = data[i, 1:] - first  # (ngroups - 1, nrows, ncols), float32
        for amp in range(_NAMP):
            for rows in parities:
                sides = []
                for col in (amp, _RIGHT_START + amp):
                    ref = drift[:, rows, col]
                    valid = np.broadcast_to(usable[rows, col], ref.shape)
                    mean, _ = clipped_mean(ref, valid, low=siglimit, high=siglimit)
                    sides.append(mean)
                signal = (0.5 * (sides[0] + sides[1])).astype(np.float32)
                block = drift[:, rows, amp::_NAMP] - signal[:, None, None]
                out[i, 1:, rows, amp::_NAMP] = block + first[rows, amp::_NAMP]
    return MiriRefPixResult(out, "COMPLETE")
