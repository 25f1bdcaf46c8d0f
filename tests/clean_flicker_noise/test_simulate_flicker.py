"""The simulator's optional correlated 1/f read noise."""

import numpy as np
import pytest

from webbcal.lib.subarray import SubarrayGeometry
from webbcal.simulate import make_detector, simulate_exposure
from webbcal.simulate.flicker import flicker_frame


def test_off_by_default_and_white_noise_unchanged():
    geom = SubarrayGeometry(1, 1, 64, 64)
    plain = simulate_exposure(make_detector(geometry=geom, seed=1), ngroups=3, seed=2)
    zero = simulate_exposure(make_detector(geometry=geom, seed=1, flicker_noise_dn=0.0),
                             ngroups=3, seed=2)  # fmt: skip
    np.testing.assert_array_equal(plain.model.data, zero.model.data)
    assert make_detector(geometry=geom).flicker_noise_dn == 0.0


@pytest.mark.parametrize(("detector", "stripe_axis"), [("NRCA1", 1), ("NRS1", 0)])
def test_stripes_along_fast_axis(detector, stripe_axis):
    instrument = "NIRCAM" if detector.startswith("NRC") else "NIRSPEC"
    geom = SubarrayGeometry(1, 1, 256, 256)
    det = make_detector(instrument=instrument, detector=detector, geometry=geom,
                        flicker_noise_dn=4.0)  # fmt: skip
    frames = np.array([
        flicker_frame(np.random.default_rng(s), geom, fastaxis=det.fastaxis,
                      slowaxis=det.slowaxis, noutputs=det.noutputs,
                      output_index=det.output_index, rms_dn=4.0, common_fraction=0.5)
        for s in range(20)
    ])  # fmt: skip
    # The expected RMS over the clock ticks of a frame is 4 DN.
    assert np.sqrt(np.mean(frames**2)) == pytest.approx(4.0, rel=0.25)
    along = np.var(frames.mean(axis=1 + stripe_axis))
    across = np.var(frames.mean(axis=2 - stripe_axis))
    assert along > 20 * across


def test_bad_arguments():
    with pytest.raises(ValueError, match="flicker_noise_dn=-1"):
        make_detector(subarray="SUB64P", flicker_noise_dn=-1)
    with pytest.raises(ValueError, match="flicker_common_fraction=1.5"):
        make_detector(subarray="SUB64P", flicker_common_fraction=1.5)
