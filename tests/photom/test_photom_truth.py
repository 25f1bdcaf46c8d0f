"""photom against truth: simulated sources of known surface brightness come back in MJy/sr.

A scene in MJy/sr becomes a count rate through the simulator's PHOTMJSR (and, for
MIRI, the throughput loss at the exposure mid-time and the flat field):
``rate = scene * throughput * flat / PHOTMJSR``; flat_field then photom must return
the scene within 0.5 %. The time-dependence laws are also checked against the
official functions and against their closed forms.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

from _stage2_inputs import imaging_rate
from webbcal.flat_field import FlatFieldStep
from webbcal.photom import PhotomStep, TimeCoefficients, relative_throughput
from webbcal.photom.imaging import (
    exponential_throughput,
    linear_throughput,
    powerlaw_throughput,
)
from webbcal.simulate.references_stage2 import (
    default_photom_rows,
    miri_time_coefficients,
    write_area,
    write_flat,
    write_photom,
)

MID_TIME = 60350.25  # MJD, about two years after the MIRI reference day
SIGMA = 1.8  # source width, pixels


def _scene(shape, seed):
    """Background plus Gaussian sources; returns (image MJy/sr, list of (y, x, total))."""
    rng = np.random.default_rng(seed)
    ny, nx = shape
    y, x = np.mgrid[0:ny, 0:nx]
    image = np.full(shape, 0.8)
    sources = []
    for _ in range(6):
        cy, cx = rng.uniform(12, ny - 12), rng.uniform(12, nx - 12)
        total = rng.uniform(300, 3000)  # MJy/sr summed over pixels
        image += (
            total
            / (2 * np.pi * SIGMA**2)
            * np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * SIGMA**2))
        )
        sources.append((cy, cx, total))
    return image, sources


def _miri_throughput(record_exp, record_pl, t):
    """Closed forms, written from the reference-file documentation."""
    _, _, t0, amp, tau, const = record_exp
    exp_part = amp * math.exp(-(t - t0) / tau) + const
    _, _, t0p, year1, tsoft, alpha = record_pl
    pl_part = year1 * ((t - t0p + tsoft) / (365.0 + tsoft)) ** alpha
    return exp_part * pl_part


def _aperture_sums(image, sources, valid, half=7):
    """Background-subtracted sums in boxes around the sources, over ``valid`` pixels."""
    out = []
    for cy, cx, _ in sources:
        iy, ix = round(cy), round(cx)
        box = (slice(iy - half, iy + half + 1), slice(ix - half, ix + half + 1))
        out.append(np.sum((image[box] - 0.8)[valid[box]]))
    return np.array(out)


@pytest.mark.parametrize(
    ("instrument", "detector", "filt", "pupil", "subarray", "start", "shape", "use_flat"),
    [
        ("MIRI", "MIRIMAGE", "F1500W", None, "BRIGHTSKY", (457, 51), (512, 512), True),
        ("MIRI", "MIRIMAGE", "F2550W", None, "SUB256", (413, 51), (256, 256), True),
        ("NIRCAM", "NRCA1", "F200W", "CLEAR", "SUB400P", (1649, 1), (400, 400), False),
        ("NIRISS", "NIS", "CLEAR", "F150W", "SUB256", (1793, 1793), (256, 256), False),
        ("FGS", "GUIDER1", None, None, "SUB128", (961, 961), (128, 128), False),
    ],
)  # fmt: skip
def test_scene_in_mjy_per_sr_is_recovered(
    instrument, detector, filt, pupil, subarray, start, shape, use_flat, tmp_path
):
    rows = default_photom_rows(instrument)
    coeffs = miri_time_coefficients(rows) if instrument == "MIRI" else None
    photom = write_photom(tmp_path / "photom.fits", instrument=instrument, detector=detector,
                          rows=rows, time_coefficients=coeffs)  # fmt: skip
    # The truth: PHOTMJSR and throughput from the simulator's own tables.
    if instrument == "FGS":
        index = 0
    else:
        want = (filt, subarray) if instrument == "MIRI" else (filt, pupil)
        have = [(r.filter, r.subarray if instrument == "MIRI" else r.pupil) for r in rows]
        index = have.index(want)
    photmjsr = float(np.float32(rows[index].photmjsr))
    throughput = 1.0
    if coeffs:
        throughput = _miri_throughput(coeffs["exponential"][index], coeffs["powerlaw"][index],
                                      MID_TIME)  # fmt: skip
        assert throughput < 0.97  # the correction matters at this date
    scene, sources = _scene(shape, seed=3)
    flat = np.ones(shape)
    refs = {"override_photom": os.fspath(photom)}
    if use_flat:
        flat_path = write_flat(tmp_path / "flat.fits", instrument=instrument, detector=detector)
        from stdatamodels.jwst import datamodels as dm

        with dm.FlatModel(os.fspath(flat_path)) as ref:
            cut = ref.data[start[1] - 1 : start[1] - 1 + shape[0],
                           start[0] - 1 : start[0] - 1 + shape[1]]  # fmt: skip
            flat = np.where(np.isfinite(cut) & (cut != 0), cut, 1.0)
    rate = scene * throughput * flat / photmjsr
    model = imaging_rate(instrument, detector=detector, filt=filt, pupil=pupil,
                         subarray=subarray, xstart=start[0], ystart=start[1], shape=shape,
                         scene=rate, mid_time=MID_TIME, seed=4)  # fmt: skip
    if use_flat:
        model = FlatFieldStep.call(model, override_flat=os.fspath(flat_path),
                                   disable_crds_steppars=True)  # fmt: skip
    area = "N/A"  # full-frame near-infrared maps are slow to write; the parity tests use them
    if instrument == "MIRI":
        area = os.fspath(write_area(tmp_path / "area.fits", instrument=instrument,
                                    detector=detector))  # fmt: skip
    out = PhotomStep.call(model, override_area=area, disable_crds_steppars=True, **refs)
    assert out.meta.bunit_data == "MJy/sr"
    assert out.meta.photometry.conversion_megajanskys == pytest.approx(
        photmjsr / throughput, rel=1e-6
    )
    valid = np.isfinite(out.data)
    assert valid.mean() > 0.99
    measured = _aperture_sums(out.data, sources, valid)
    expected = _aperture_sums(scene, sources, valid)
    np.testing.assert_allclose(measured, expected, rtol=5e-3)
    background = np.nanmedian(out.data[scene < 0.81])
    assert background == pytest.approx(0.8, rel=5e-3)


def test_time_laws_closed_forms():
    assert linear_throughput(59800.0 + 365.0, 59800.0, 0.02) == pytest.approx(0.98, rel=1e-12)
    assert exponential_throughput(59720.0, 59720.0, 0.2, 250.0, 0.8) == pytest.approx(1.0)
    assert exponential_throughput(59970.0, 59720.0, 0.2, 250.0, 0.8) == pytest.approx(
        0.2 / math.e + 0.8, rel=1e-12
    )
    assert powerlaw_throughput(59720.0 + 365.0, 59720.0, 0.97, 30.0, -0.3) == pytest.approx(
        0.97, rel=1e-12
    )
    coeffs = TimeCoefficients(linear=(59800.0, 0.02), exponential=(59720.0, 0.2, 250.0, 0.8))
    expect = linear_throughput(60000.0, 59800.0, 0.02) * exponential_throughput(
        60000.0, 59720.0, 0.2, 250.0, 0.8
    )
    assert relative_throughput(60000.0, coeffs) == pytest.approx(expect, rel=1e-15)
    assert relative_throughput(60000.0, TimeCoefficients()) == 1.0


@pytest.mark.jwst_oracle
def test_time_laws_match_official():
    pytest.importorskip("jwst")
    from jwst.photom import time_dependence as td

    t0 = np.array([59720.0])
    for t in (59700.0, 59720.0, 60100.3, 61000.0):
        assert linear_throughput(t, 59720.0, 0.013) == pytest.approx(
            td.linear_correction(t, t0, np.array([0.013]))[0], rel=1e-12
        )
        assert exponential_throughput(t, 59720.0, 0.15, 210.0, 0.85) == pytest.approx(
            td.exponential_correction(t, t0, np.array([0.15]), np.array([210.0]),
                                      np.array([0.85]))[0], rel=1e-12)  # fmt: skip
        assert powerlaw_throughput(t, 59720.0, 0.96, 40.0, -0.2) == pytest.approx(
            td.powerlaw_correction(t, t0, np.array([0.96]), np.array([40.0]),
                                   np.array([-0.2]))[0], rel=1e-12)  # fmt: skip
