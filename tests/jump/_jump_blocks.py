"""Small blocks of ramps with every awkward case the jump detection must handle."""

import numpy as np

from webbcal import dqflags

_SAT = np.uint8(dqflags.SATURATED)
_DNU = np.uint8(dqflags.DO_NOT_USE)
_NROWS = 7
_NCOLS = 64


def make_block(seed, nints, ngroups):
    """Random ramps with every awkward case the detection must handle.

    Returns (data, groupdq, gain, readnoise) with one extra leading row, so
    that ``arr[:, :, 1:]`` is a strided view like the blocks of rows that
    :func:`two_point_jumps` passes.
    """
    rng = np.random.default_rng(seed)
    shape = (nints, ngroups, _NROWS + 1, _NCOLS)
    rate = rng.uniform(-5.0, 300.0, shape[2:])
    steps = rate + rng.normal(0.0, 8.0, shape)
    hits = rng.random(shape) < 0.08
    steps += hits * rng.choice([15.0, 40.0, 200.0, 5000.0], shape)
    data = np.cumsum(steps, axis=1).astype(np.float32)
    # Quantised ramps and exact linear ramps: many identical differences (ties).
    quant = rng.random(shape[2:]) < 0.3
    data[:, :, quant] = np.round(data[:, :, quant] / 16.0) * 16.0
    flat = rng.random(shape[2:]) < 0.08
    slope = rng.integers(0, 4, shape[2:])[flat].astype(np.float32)
    data[:, :, flat] = np.arange(ngroups, dtype=np.float32)[:, None] * slope
    # Two identical jumps in a perfectly flat ramp: tied largest outliers.
    if ngroups >= 5:
        data[:, :, 1, :4] = 0.0
        data[:, 2:, 1, :4] += 64.0
        data[:, ngroups - 1 :, 1, :4] += 64.0
    data[rng.random(shape) < 0.02] = np.nan
    data[rng.random(shape) < 0.005] = np.inf
    data[rng.random(shape) < 0.005] = -np.inf
    data[rng.random(shape) < 0.005] = 3e38  # overflows to inf in electrons

    groupdq = np.zeros(shape, dtype=np.uint8)
    groupdq[rng.random(shape) < 0.08] |= _DNU
    sat_from = rng.integers(1, 3 * ngroups, shape[2:])
    groupdq |= np.where(np.arange(ngroups)[None, :, None, None] >= sat_from, _SAT, 0).astype(
        np.uint8
    )
    groupdq[:, :, 2, :3] = _DNU  # no usable difference at all
    groupdq[:, 1:, 3, :3] = _SAT  # a single usable group
    # Pixels with every possible number of usable groups.
    for c in range(min(ngroups, _NCOLS)):
        groupdq[:, c:, 4, c] |= _SAT

    gain = rng.uniform(0.5, 6.0, shape[2:]).astype(np.float32)
    readnoise = rng.uniform(2.0, 30.0, shape[2:]).astype(np.float32)
    readnoise[rng.random(shape[2:]) < 0.15] = 0.0
    gain[5, :2] = 0.0
    gain[5, 2:4] = np.nan
    gain[5, 4:6] = -1.5
    # Zero read noise and a flat ramp: zero noise, NaN significance.
    readnoise[6, :8] = 0.0
    data[:, :, 6, :8] = 7.0
    readnoise[6, 8:10] = 1e20  # infinite noise in electrons
    return data, groupdq, gain, readnoise
