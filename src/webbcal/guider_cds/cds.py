"""Count rates of FGS guider exposures from correlated double sampling.

References
----------
JWST Science Calibration Pipeline documentation, "Guider CDS" (guider_cds step) and
"calwebb_guider: Guide Star Processing". ACQ1, ACQ2 and TRACK: the second group minus
the first, per integration, divided by the group time. FINEGUIDE: the mean of the last
four groups minus the mean of the first four, divided by the group time. ID (IMAGE and
STACK): the smaller of the two integrations' CDS differences, one plane, divided by the
group time. Read-noise variance ``2 (RN / TGROUP)^2``; Poisson variance, as the
official pipeline computes it, the CDS difference (DN) divided by ``GAIN * TGROUP``,
negative values set to 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["FINEGUIDE_NAVG", "GuiderRates", "guider_countrate"]

#: Groups averaged at each end of a FINEGUIDE ramp.
FINEGUIDE_NAVG = 4


@dataclass(frozen=True)
class GuiderRates:
    """Result of :func:`guider_countrate`.

    Attributes
    ----------
    data : ndarray, shape (nplanes, ny, nx), float32, DN/s
        Count rate per integration (one plane for ID exposures).
    err : ndarray, shape (nplanes, ny, nx), float32, DN/s
        Square root of the read-noise plus Poisson variance.
    """

    data: np.ndarray
    err: np.ndarray


def guider_countrate(
    data: np.ndarray,
    *,
    exp_type: str,
    group_time: float,
    gain: np.ndarray,
    readnoise: np.ndarray,
) -> GuiderRates:
    """Compute the count rate of each integration of a guider exposure.

    Parameters
    ----------
    data : ndarray, shape (nints, ngroups, ny, nx), DN
        Raw guider ramps.
    exp_type : str
        EXP_TYPE: FGS_ACQ1, FGS_ACQ2, FGS_TRACK, FGS_FINEGUIDE, FGS_ID-IMAGE or
        FGS_ID-STACK.
    group_time : float, s
        TGROUP.
    gain : ndarray, shape (ny, nx), float, e-/DN
    readnoise : ndarray, shape (ny, nx), float, DN

    Returns
    -------
    GuiderRates

    Raises
    ------
    ValueError
        If ``data`` is not 4-D, has fewer than 2 groups, an ID exposure has fewer
        than 2 integrations, ``group_time`` is not positive or ``exp_type`` is not a
        guider type.
    """
    data = np.asarray(data, dtype=np.float32)
    if data.ndim != 4:
        raise ValueError(f"data has shape {data.shape}; expected (nints, ngroups, ny, nx)")
    nints, ngroups = data.shape[:2]
    if ngroups < 2:
        raise ValueError(f"data has {ngroups} group(s); a CDS difference needs at least 2")
    if not group_time > 0:
        raise ValueError(f"group_time={group_time!r}; expected a time > 0 s")
    kind = exp_type.upper()
    if kind == "FGS_FINEGUIDE":
        diff = data[:, -FINEGUIDE_NAVG:].mean(axis=1) - data[:, :FINEGUIDE_NAVG].mean(axis=1)
    elif kind.startswith("FGS_ID"):
        if nints < 2:
            raise ValueError(f"{kind} data have {nints} integration(s); expected 2")
        diff = np.minimum(data[1, 1] - data[1, 0], data[0, 1] - data[0, 0])[np.newaxis]
    elif kind in ("FGS_ACQ1", "FGS_ACQ2", "FGS_TRACK"):
        diff = data[:, 1] - data[:, 0]
    else:
        raise ValueError(
            f"exp_type={exp_type!r}; expected one of FGS_ACQ1, FGS_ACQ2, FGS_TRACK, "
            "FGS_FINEGUIDE, FGS_ID-IMAGE, FGS_ID-STACK"
        )
    gain = np.asarray(gain, dtype=np.float32)
    readnoise = np.asarray(readnoise, dtype=np.float32)
    var_rn = 2 * (readnoise / np.float32(group_time)) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        var_pn = diff / (gain * np.float32(group_time))
    var_pn = np.where(var_pn < 0, np.float32(0), var_pn)
    rate = (diff / np.float32(group_time)).astype(np.float32)
    err = np.sqrt(var_rn + var_pn).astype(np.float32)
    return GuiderRates(rate, err)
