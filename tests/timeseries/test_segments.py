"""A time series split into -seg001/-seg002/-seg003 files, processed per segment and whole.

Measured on this case (64 x 64 pixels, 6 integrations of 5 groups, 3 segments of 2):

* INT_TIMES rows, integration numbers (INTSTART/INTEND) and segment keywords are kept.
* SCI, DQ and VAR_RNOISE are bit-identical, except at pixels where the jump step
  flags differently (2 of 24576 pixel-integrations here, both in segment 3, DQ
  differing by JUMP_DET only). The two-point jump detection compares each difference
  with the median of the pixel's differences over *all* integrations of the input
  (stcal does the same), so a segment's median comes from its own integrations.
* VAR_POISSON (and so ERR) differs at nearly every pixel: ramp_fit's Poisson
  variance uses a median count rate averaged over all integrations of the input
  (stcal's OLS fit does the same). The ratio segment/whole is one number per pixel
  (the same for each integration of the pixel), of order the shot noise of a
  2-integration median.

Identity needs the cross-integration statistics computed from the whole exposure:
``webbcal.pipeline.segments.run_segments`` (``webbcal run calwebb_detector1 seg1 seg2
seg3``) processes the segments together and is tested to be identical in
``test_joint_segments.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
from _split import write_segments
from stdatamodels.jwst import datamodels as dm

from webbcal.dqflags import JUMP_DET
from webbcal.pipeline import Detector1Pipeline

NINTS = 6
SEGMENTS = ((1, 2), (3, 4), (5, 6))


@pytest.fixture(scope="module")
def split_exposure(tmp_path_factory, case_builder):
    """The whole exposure and its three segments, each processed by calwebb_detector1."""
    root = tmp_path_factory.mktemp("timeseries")
    case = case_builder(root / "case", subarray="SUB64P", ngroups=5, nints=NINTS,
                        cr_rate=2e-3, seed=23)  # fmt: skip
    out = root / "out"
    whole_name = case.uncal.name
    seg_paths = write_segments(case.uncal, root, SEGMENTS)
    with case.crds():
        for path in (case.uncal, *seg_paths):
            Detector1Pipeline.call(str(path), output_dir=str(out), save_results=True,
                                   progress=False)  # fmt: skip

    def rateints(name):
        return dm.open(str(out / name.replace("_uncal.fits", "_rateints.fits")))

    return rateints(whole_name), [rateints(p.name) for p in seg_paths]


def test_segments_keep_their_integration_numbers(split_exposure):
    whole, segs = split_exposure
    assert list(whole.int_times["integration_number"]) == list(range(1, NINTS + 1))
    for (start, end), seg in zip(SEGMENTS, segs, strict=True):
        assert seg.data.shape[0] == end - start + 1
        assert list(seg.int_times["integration_number"]) == list(range(start, end + 1))
        np.testing.assert_array_equal(
            seg.int_times["int_start_MJD_UTC"],
            whole.int_times["int_start_MJD_UTC"][start - 1 : end],
        )
        exp = seg.meta.exposure
        assert (exp.integration_start, exp.integration_end) == (start, end)
        assert exp.segment_total == len(SEGMENTS)


@pytest.mark.parametrize("array", ["data", "dq", "var_rnoise"])
def test_per_integration_results_identical_without_jumps(split_exposure, array):
    """Identical wherever neither run flagged a jump in the pixel's integrations."""
    whole, segs = split_exposure
    n_diff = 0
    for (start, end), seg in zip(SEGMENTS, segs, strict=True):
        ours, full = getattr(seg, array), getattr(whole, array)[start - 1 : end]
        jumped = ((seg.dq | whole.dq[start - 1 : end]) & JUMP_DET).any(axis=0)
        np.testing.assert_array_equal(ours[:, ~jumped], full[:, ~jumped], err_msg=array)
        n_diff += int(np.sum(~((ours == full) | (np.isnan(ours) & np.isnan(full)))))
        # Where the runs differ, the DQ differs by JUMP_DET only.
        assert not np.any((seg.dq ^ whole.dq[start - 1 : end]) & ~np.uint32(JUMP_DET))
    assert n_diff <= 5  # 2 measured; 24576 pixel-integrations in all


def test_poisson_variance_uses_the_segment_median_rate(split_exposure):
    """VAR_POISSON differs only by the rate averaged over the input's integrations."""
    whole, segs = split_exposure
    for (start, end), seg in zip(SEGMENTS, segs, strict=True):
        w = whole.var_poisson[start - 1 : end]
        ok = np.isfinite(w) & np.isfinite(seg.var_poisson) & (w > 0) & (seg.var_poisson > 0)
        ratio = seg.var_poisson[ok] / w[ok]
        # Same for every integration of a pixel (one median rate per pixel and input).
        both = ok.all(axis=0) & ~((seg.dq | whole.dq[start - 1 : end]) & JUMP_DET).any(axis=0)
        per_pixel = seg.var_poisson[:, both] / w[:, both]
        assert np.max(np.ptp(per_pixel, axis=0) / per_pixel[0]) < 1e-4
        # Of order the shot noise of a 2-integration median: small but not zero.
        assert 0.5 < np.median(ratio) < 2.0
        assert np.any(np.abs(ratio - 1) > 1e-3)
        good = seg.dq == 0  # ERR of saturated-from-the-start pixels is 0 (as is VAR_POISSON)
        err = np.sqrt(seg.var_poisson + seg.var_rnoise)
        np.testing.assert_allclose(seg.err[good], err[good], rtol=1e-5)
