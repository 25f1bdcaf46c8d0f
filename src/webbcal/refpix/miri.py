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

__all__ = [
    "MIRI_FULL_SHAPE",
    "MIRI_REFERENCE_COLUMNS",
    "MiriRefPixResult",
    "correct_miri_refpix",
    "reference_column_signals",
    "subtract_reference_signals",
    "unusable_reference_column",
]

log = logging.getLogger(__name__)

#: (rows, columns) of a MIRI full frame.
MIRI_FULL_SHAPE = (1024, 1032)
_NAMP = 4
_RIGHT_START = 1028
#: The reference columns, amplifiers 1-4 on the left then on the right.
MIRI_REFERENCE_COLUMNS = (0, 1, 2, 3, 1028, 1029, 1030, 1031)


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
    usable = (pixeldq & DO_NOT_USE) == 0
    cols = list(MIRI_REFERENCE_COLUMNS)
    reason = unusable_reference_column(usable[:, cols], odd_even_rows=odd_even_rows)
    if reason:
        return MiriRefPixResult(data, "SKIPPED", reason)
    out = data.copy()
    for i in range(data.shape[0]):
        ramp = data[i][..., cols]  # the reference columns, (ngroups, nrows, 8)
        drift = ramp[1:] - ramp[0]  # float32
        signals = reference_column_signals(
            drift, usable[:, cols], odd_even_rows=odd_even_rows, siglimit=siglimit
        )
        out[i] = subtract_reference_signals(data[i : i + 1], signals[None],
                                            odd_even_rows=odd_even_rows)[0]  # fmt: skip
    return MiriRefPixResult(out, "COMPLETE")


def unusable_reference_column(usable: np.ndarray, *, odd_even_rows: bool = True) -> str:
    """Why the correction cannot be made (a reference column without usable pixel), or "".

    Parameters
    ----------
    usable : ndarray, shape (1024, 8), bool
        Usable pixels (not DO_NOT_USE) of the columns :data:`MIRI_REFERENCE_COLUMNS`.
    odd_even_rows : bool
        Each row parity of a column needs a usable pixel.
    """
    for amp in range(_NAMP):
        for k in (amp, _NAMP + amp):
            for rows in _parities(odd_even_rows):
                if not np.any(usable[rows, k]):
                    col = MIRI_REFERENCE_COLUMNS[k]
                    return f"reference column {col} (amplifier {amp + 1}) has no usable pixel"
    return ""


def reference_column_signals(
    drift: np.ndarray, usable: np.ndarray, *, odd_even_rows: bool = True, siglimit: float = 3.0
) -> np.ndarray:
    """Drift of each amplifier (and row parity) measured on the reference columns.

    Parameters
    ----------
    drift : ndarray, shape (..., 1024, 8), float32, DN
        Reference columns (:data:`MIRI_REFERENCE_COLUMNS`) of the groups after the
        first, minus the first group, over the whole frame height; the leading
        axes (groups, integrations) are independent planes.
    usable : ndarray, shape (1024, 8), bool
        Pixels that may be used.
    odd_even_rows, siglimit
        As in :func:`correct_miri_refpix`.

    Returns
    -------
    ndarray, shape (..., 4, nparities), float32
        Mean of the left and right sigma-clipped means of each plane, per
        amplifier and row parity (even rows first; one parity without
        ``odd_even_rows``).
    """
    parities = _parities(odd_even_rows)
    out = np.empty(drift.shape[:-2] + (_NAMP, len(parities)), dtype=np.float32)
    for amp in range(_NAMP):
        for p, rows in enumerate(parities):
            sides = []
            for k in (amp, _NAMP + amp):
                ref = drift[..., rows, k]
                valid = np.broadcast_to(usable[rows, k], ref.shape)
                mean, _ = clipped_mean(ref, valid, low=siglimit, high=siglimit)
                sides.append(mean)
            out[..., amp, p] = (0.5 * (sides[0] + sides[1])).astype(np.float32)
    return out


def subtract_reference_signals(
    data: np.ndarray, signals: np.ndarray, *, odd_even_rows: bool = True, row0: int = 0
) -> np.ndarray:
    """Subtract per-amplifier drifts from full-width rows of MIRI ramps.

    Parameters
    ----------
    data : ndarray, shape (nints, ngroups, nrows, 1032), float32, DN
        Rows ``row0:row0 + nrows`` of the ramps.
    signals : ndarray, shape (nints, ngroups - 1, 4, nparities), float32
        Output of :func:`reference_column_signals` for these integrations.
    odd_even_rows : bool
        Whether ``signals`` holds one value per row parity.
    row0 : int
        Detector row of the first row of ``data`` (sets the parity of the rows).

    Returns
    -------
    ndarray, shape (nints, ngroups, nrows, 1032), float32
        New array: group 1 unchanged, later groups corrected as
        ``(group - first) - signal + first``.
    """
    out = data.copy()
    if odd_even_rows:
        parities = [slice(row0 % 2, None, 2), slice((row0 + 1) % 2, None, 2)]
    else:
        parities = [slice(None)]
    for i in range(data.shape[0]):
        first = data[i, 0]
        drift = data[i, 1:] - first  # (ngroups - 1, nrows, ncols), float32
        for amp in range(_NAMP):
            for p, rows in enumerate(parities):
                block = drift[:, rows, amp::_NAMP] - signals[i, :, amp, p][:, None, None]
                out[i, 1:, rows, amp::_NAMP] = block + first[rows, amp::_NAMP]
    return out
