"""Small simulated ramps with known rates, read noise and injected jumps."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from webbcal.dqflags import SATURATED


@dataclass
class Ramps:
    data: np.ndarray  # (nints, ngroups, ny, nx) float32 DN
    groupdq: np.ndarray  # uint8
    pixeldq: np.ndarray  # uint32
    gain: np.ndarray  # float32 e-/DN
    readnoise: np.ndarray  # float32 DN (CDS)
    crs: list  # (int, group, y, x, amplitude DN)
    sigma_dn: np.ndarray  # (ny, nx) noise of one group difference, DN


def simulate(
    nints,
    ngroups,
    ny=32,
    nx=32,
    *,
    seed=0,
    rate=10.0,
    readnoise=10.0,
    gain=2.0,
    ncr=30,
    amp_sigma=(5.0, 100.0),
    nframes=1,
):
    """Ramps of ``rate`` DN/group with Poisson + read noise and ``ncr`` jumps.

    Jump amplitudes are uniform in ``amp_sigma`` times the noise of one
    group difference; at most one jump per pixel.
    """
    rng = np.random.default_rng(seed)
    gain2d = (gain * (1 + 0.05 * rng.uniform(-1, 1, (ny, nx)))).astype(np.float32)
    rn2d = (readnoise * (1 + 0.05 * rng.uniform(-1, 1, (ny, nx)))).astype(np.float32)
    electrons = rng.poisson(rate * gain2d, size=(nints, ngroups, ny, nx)).cumsum(axis=1)
    group_noise = rn2d / np.sqrt(2 * nframes)
    data = electrons / gain2d + rng.normal(size=electrons.shape) * group_noise
    sigma_dn = np.sqrt(rate / gain2d + rn2d.astype(float) ** 2 / nframes)
    crs = []
    pix = rng.choice(ny * nx, size=ncr, replace=False)
    for p in pix:
        y, x = divmod(int(p), nx)
        i = int(rng.integers(nints))
        g = int(rng.integers(1, ngroups))
        amp = float(rng.uniform(*amp_sigma) * sigma_dn[y, x])
        data[i, g:, y, x] += amp
        crs.append((i, g, y, x, amp))
    return Ramps(
        data.astype(np.float32),
        np.zeros(data.shape, np.uint8),
        np.zeros((ny, nx), np.uint32),
        gain2d,
        rn2d,
        crs,
        sigma_dn.astype(np.float32),
    )


def add_snowball(ramps, i, g, cy, cx, r_halo, r_core, amp=800.0):
    """A round halo of jumps with a saturated core, appearing in group ``g``."""
    ny, nx = ramps.data.shape[2:]
    yy, xx = np.mgrid[:ny, :nx]
    rr = np.hypot(yy - cy, xx - cx)
    halo = rr <= r_halo
    ramps.data[i, g:][:, halo] += (amp * (1.2 - rr[halo] / (r_halo + 1))).astype(np.float32)
    ramps.groupdq[i, g:, rr <= r_core] |= SATURATED
    return halo


def add_shower(ramps, i, g, cy, cx, radius, amp):
    """A faint disk of extra charge appearing in group ``g``."""
    ny, nx = ramps.data.shape[2:]
    yy, xx = np.mgrid[:ny, :nx]
    disk = np.hypot(yy - cy, xx - cx) <= radius
    ramps.data[i, g:, disk] += np.float32(amp)
    return disk
