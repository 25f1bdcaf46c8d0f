"""Tests of the synthetic detector model."""

import numpy as np
import pytest

from webbcal import dqflags
from webbcal.lib.subarray import SubarrayGeometry
from webbcal.simulate import DETECTOR_AXES, make_detector


def test_deterministic_per_seed():
    g = SubarrayGeometry(100, 200, 32, 16)
    a = make_detector(geometry=g, seed=3)
    b = make_detector(geometry=g, seed=3)
    c = make_detector(geometry=g, seed=4)
    assert np.array_equal(a.superbias, b.superbias)
    assert np.array_equal(a.mask_dq, b.mask_dq)
    assert not np.array_equal(a.superbias, c.superbias)


def test_subarray_is_cutout_of_larger_array():
    big = make_detector(geometry=SubarrayGeometry(1, 1, 96, 80), seed=7, noutputs=1)
    small = make_detector(geometry=SubarrayGeometry(11, 21, 40, 30), seed=7)
    cut = (slice(20, 50), slice(10, 50))
    for name in ("superbias", "gain", "readnoise", "dark_rate", "full_well", "mask_dq"):
        assert np.array_equal(getattr(big, name)[cut], getattr(small, name)), name


@pytest.mark.parametrize("detector", ["NRCA1", "NRS1", "NIS", "GUIDER2"])
def test_default_axes(detector):
    inst = {"NRCA1": "NIRCAM", "NRS1": "NIRSPEC", "NIS": "NIRISS", "GUIDER2": "FGS"}[detector]
    det = make_detector(
        instrument=inst, detector=detector, geometry=SubarrayGeometry(1, 1, 8, 8), seed=0
    )
    assert (det.fastaxis, det.slowaxis) == DETECTOR_AXES[detector]


def test_realistic_values(det64):
    light = ~det64.refpix & (det64.mask_dq == 0)
    assert 9000 < np.median(det64.superbias) < 16000
    assert 1.8 < np.median(det64.gain[light]) < 2.2
    assert 10 < np.median(det64.readnoise) < 14
    assert np.median(det64.dark_rate[light]) < 0.02
    assert np.all(det64.dark_rate[det64.refpix] == 0)
    assert np.all(det64.saturation < 65535)
    ref = det64.mask_dq[det64.refpix]
    assert np.all(ref & dqflags.REFERENCE_PIXEL)
    assert det64.refpix.sum() == 64 * 4 + 60 * 4


def test_outputs_are_stripes_along_fast_axis():
    # A full-length read along the fast axis uses four 512-pixel outputs.
    nrc = make_detector(geometry=SubarrayGeometry(1, 1, 2048, 8), seed=0)
    assert nrc.noutputs == 4
    assert np.array_equal(np.unique(nrc.output_index[:, :512]), [3])  # FASTAXIS=-1
    assert np.all(nrc.output_index == nrc.output_index[0])  # column blocks
    nrs = make_detector(
        instrument="NIRSPEC", detector="NRS1", geometry=SubarrayGeometry(1, 1, 8, 2048), seed=0
    )
    assert nrs.noutputs == 4
    assert np.all(nrs.output_index == nrs.output_index[:, :1])  # row blocks
    assert np.array_equal(np.unique(nrs.output_index[:512]), [0])  # FASTAXIS=+2


def test_nirspec_sub512_geometry():
    det = make_detector(instrument="NIRSPEC", detector="NRS1", subarray="SUB512", seed=0)
    g = det.geometry
    assert (g.xstart, g.ystart, g.xsize, g.ysize) == (1025, 957, 512, 32)
    assert det.shape == (32, 512) and det.noutputs == 1
    assert not det.refpix.any()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"instrument": "MIRI"}, "instrument='MIRI'"),
        ({"detector": "NRS1"}, "detector='NRS1' is not a NIRCAM detector"),
        ({"fastaxis": 1, "slowaxis": 1}, "fastaxis=1, slowaxis=1"),
        ({"subarray": "NOPE"}, "subarray='NOPE'"),
        ({"geometry": SubarrayGeometry(1, 1, 8, 8), "noutputs": 4}, "noutputs=4"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_detector(**kwargs)
