"""Benchmark clean_flicker_noise on a full 2048 x 2048 NIRCam frame, per fit method.

Builds a synthetic full-frame ramp (white read noise, row stripes per output, a sky and
Gaussian stars) and times:

* the kernel on one rate image (``clean_flicker_noise`` with a 2-D input),
* the kernel on a ramp of ``--ngroups`` groups (``ngroups - 1`` group differences),
* the whole step on the ramp (draft rate + scene mask + cleaning),

for ``median`` and ``fft`` (with and without ``fit_by_channel``), and, when ``jwst`` is
installed, the official ``median`` correction of the same rate image.

Usage::

    python benchmarks/bench_flicker.py [--ngroups 5] [--repeat 3]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time

import numpy as np


def _synthetic(ngroups: int, seed: int = 1):
    from stdatamodels.jwst.datamodels import ImageModel, RampModel

    rng = np.random.default_rng(seed)
    n = 2048
    yy, xx = np.mgrid[:n, :n]
    rate = np.full((n, n), 1.0, np.float32)
    for _ in range(200):
        x0, y0 = rng.uniform(0, n, 2)
        rate += (rng.uniform(50, 2000) * np.exp(-((xx - x0) ** 2 + (yy - y0) ** 2) / 4.0)).astype(
            np.float32
        )
    tgroup = 10.737
    t = np.arange(ngroups, dtype=np.float32)[:, None, None] * tgroup
    data = rate[None] * t + rng.normal(0, 8, (ngroups, n, n)).astype(np.float32)
    stripes = rng.normal(0, 4, (ngroups, n, 4)).astype(np.float32)
    data += np.repeat(stripes, 512, axis=2)
    ramp = RampModel(data=data[None].astype(np.float32),
                     groupdq=np.zeros((1, ngroups, n, n), np.uint8),
                     pixeldq=np.zeros((n, n), np.uint32))  # fmt: skip
    meta = ramp.meta
    meta.instrument.name, meta.instrument.detector = "NIRCAM", "NRCA1"
    meta.exposure.type, meta.exposure.readpatt = "NRC_IMAGE", "RAPID"
    meta.exposure.nints, meta.exposure.ngroups = 1, ngroups
    meta.exposure.nframes, meta.exposure.groupgap = 1, 0
    meta.exposure.frame_time = meta.exposure.group_time = tgroup
    meta.exposure.noutputs = 4
    meta.subarray.name = "FULL"
    meta.subarray.xstart = meta.subarray.ystart = 1
    meta.subarray.xsize = meta.subarray.ysize = n
    meta.subarray.fastaxis, meta.subarray.slowaxis = -1, 2
    image = ImageModel(data=(data[-1] - data[0]) / (tgroup * (ngroups - 1)),
                       dq=np.zeros((n, n), np.uint32))  # fmt: skip
    image.update(ramp)
    return ramp, image


def _time(func, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ngroups", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    from webbcal.clean_flicker_noise import (
        CleanFlickerNoiseStep,
        FlickerParameters,
        ReadoutLayout,
        clean_flicker_noise,
        scene_mask,
    )
    from webbcal.lib.subarray import SubarrayGeometry

    ramp, image = _synthetic(args.ngroups)
    layout = ReadoutLayout.from_geometry(SubarrayGeometry(1, 1, 2048, 2048), fastaxis=-1,
                                         slowaxis=2, noutputs=4)  # fmt: skip
    mask = scene_mask(image.data)
    print(f"full frame 2048x2048, {args.ngroups} groups; median of {args.repeat} runs (s)")
    print(f"{'method':<22}{'rate image':>12}{'ramp':>10}{'step (ramp)':>14}")
    for method, by_channel in (("median", False), ("median", True), ("fft", False),
                               ("fft", True)):  # fmt: skip
        params = FlickerParameters(fit_method=method, fit_by_channel=by_channel)
        t_img = _time(lambda p=params: clean_flicker_noise(image.data, mask, layout, params=p),
                      args.repeat)  # fmt: skip

        def ramp_run(p=params):
            return clean_flicker_noise(ramp.data, mask, layout, params=p, groupdq=ramp.groupdq)

        t_ramp = _time(ramp_run, args.repeat)
        t_step = _time(lambda m=method, b=by_channel: CleanFlickerNoiseStep.call(
            ramp, skip=False, fit_method=m, fit_by_channel=b, disable_crds_steppars=True),
            1)  # fmt: skip
        label = method + (" by channel" if by_channel else "")
        print(f"{label:<22}{t_img:>12.2f}{t_ramp:>10.2f}{t_step:>14.2f}")
    try:
        from jwst.clean_flicker_noise import clean_flicker_noise as cfn
    except ImportError:
        return
    logging.getLogger("jwst").setLevel(logging.ERROR)
    t_off = _time(lambda: cfn.do_correction(image.copy(), fit_method="median"), args.repeat)
    print(f"{'official median':<22}{t_off:>12.2f}")


if __name__ == "__main__":
    main()
