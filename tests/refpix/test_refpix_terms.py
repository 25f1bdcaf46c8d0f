"""The reference-pixel correction split into terms and their application to row blocks.

Everything here is exact (``np.array_equal``): the terms must depend on the
reference pixels only, and applying them to any block must reproduce
``correct_refpix`` bit for bit.
"""

import numpy as np
import pytest

from webbcal.dqflags import DO_NOT_USE, REFERENCE_PIXEL
from webbcal.lib.subarray import SubarrayGeometry
from webbcal.refpix.nir import (
    RefPixParameters,
    RefPixTerms,
    UnsupportedRefPixModeError,
    apply_refpix_terms,
    correct_refpix,
    reference_pixel_mask,
    refpix_terms,
)

AXES = [(1, 2), (-1, 2), (1, -2), (-1, -2), (2, 1), (-2, -1), (2, -1), (-2, 1)]
N = 256  # a small "full frame": the amplifier strips are N // 4 columns wide


def _geometry(case, fast):
    """(geometry, noutputs, edge_columns_as_reference) of a test case on an N x N detector."""
    if case == "full":
        return SubarrayGeometry(1, 1, N, N, N, N), 4, False
    if case == "4out":  # spans the fast direction, at the DMS top / right edge
        if abs(fast) == 1:
            return SubarrayGeometry(1, N - 39, N, 40, N, N), 4, False
        return SubarrayGeometry(N - 39, 1, 40, N, N, N), 4, False
    if case == "1out":  # a corner: 4 reference rows and columns
        return SubarrayGeometry(1, 1, 48, 40, N, N), 1, False
    return SubarrayGeometry(101, 101, 32, 24, N, N), 1, True  # "edgeless"


def _ramp(rng, geom, nints, ngroups):
    """Ramp with amplifier/row drifts, and reference pixels that are NaN, outliers or DO_NOT_USE."""
    ny, nx = geom.ysize, geom.xsize
    data = rng.normal(1000.0, 5.0, (nints, ngroups, ny, nx))
    data += rng.uniform(-50, 50, (nints, ngroups, 1, nx))  # column (amplifier) offsets
    data += 10.0 * np.sin(np.arange(ny) / 17.0)[:, None] * rng.uniform(0.5, 2, (ngroups, 1, 1))
    data = data.astype(np.float32)
    refmask = geom.reference_pixel_mask()
    pixeldq = np.where(refmask, REFERENCE_PIXEL, 0).astype(np.uint32)
    pixeldq[rng.random((ny, nx)) < 0.05] |= DO_NOT_USE
    data[..., rng.random((ny, nx)) < 0.01] = np.nan
    outliers = rng.random(data.shape) < 0.01
    data[outliers] += rng.uniform(100, 5000, outliers.sum()).astype(np.float32)
    return data, pixeldq


def _with_garbage(rng, planes, mask):
    """Copy of ``planes`` whose pixels outside ``mask`` hold garbage (NaN, inf, huge values)."""
    junk = rng.choice(np.array([np.nan, np.inf, -np.inf, 1e30, -7.0], np.float32), planes.shape)
    return np.where(mask, planes, junk)


def _assert_same_terms(a: RefPixTerms, b: RefPixTerms):
    assert (a.status, a.reason, a.first_axis, a.second_axis) == (
        b.status, b.reason, b.first_axis, b.second_axis,
    )  # fmt: skip
    assert np.array_equal(a.first, b.first)
    assert (a.second is None) == (b.second is None)
    if a.second is not None:
        assert np.array_equal(a.second, b.second)


def _stitched(cube, terms, planes, row_edges, cols=slice(None)):
    """Apply ``terms`` block by block of rows and stitch the blocks together."""
    blocks = [
        apply_refpix_terms(cube[:, r0:r1][..., cols], terms, planes, slice(r0, r1), cols)
        for r0, r1 in zip(row_edges[:-1], row_edges[1:], strict=True)
    ]
    return np.concatenate(blocks, axis=1)


def _check_case(rng, geom, axes, noutputs, edge, params, nints, ngroups):
    fast, slow = axes
    kwargs = dict(
        geometry=geom, fastaxis=fast, slowaxis=slow, noutputs=noutputs, params=params,
        edge_columns_as_reference=edge,
    )  # fmt: skip
    data, pixeldq = _ramp(rng, geom, nints, ngroups)
    zeroframe = data[:, 0] - np.float32(3.0)
    zeroframe[:, 5, :7] = 0.0  # zero-frame pixels that are exactly 0 stay 0
    zeroframe[:, -3:, -2] = 0.0
    expected = correct_refpix(data, pixeldq, zeroframe=zeroframe, **kwargs)
    assert expected.status == "COMPLETE"

    mask = reference_pixel_mask(pixeldq, **kwargs)
    assert mask.shape == pixeldq.shape and mask.dtype == bool and mask.any()
    allowed = geom.reference_pixel_mask()
    if edge:
        allowed[:, :4] = allowed[:, -4:] = True
    assert not (mask & ~allowed).any()
    assert not (mask & ((pixeldq & DO_NOT_USE) != 0)).any()

    planes = data.reshape(nints * ngroups, *data.shape[-2:])
    terms = refpix_terms(planes, pixeldq, **kwargs)
    assert terms.status == "COMPLETE" and terms.reason == ""
    assert terms.first.dtype == np.float64
    assert terms.first.shape == (nints * ngroups, planes.shape[terms.first_axis])
    with_side = params.use_side_ref_pixels and noutputs == 4
    assert (terms.second is not None) == with_side
    if with_side:
        assert terms.second.shape == (nints * ngroups, planes.shape[terms.second_axis])
        assert terms.second_axis == -1 - (terms.first_axis == -1)
    # (a) only the masked pixels are read.
    _assert_same_terms(refpix_terms(_with_garbage(rng, planes, mask), pixeldq, **kwargs), terms)

    # (b) whole planes, row blocks and column cuts reproduce correct_refpix exactly.
    ny = data.shape[-2]
    for i in range(nints):
        sel = slice(i * ngroups, (i + 1) * ngroups)
        whole = apply_refpix_terms(data[i], terms, sel, slice(None))
        assert whole.dtype == np.float32
        assert np.array_equal(whole, expected.data[i], equal_nan=True)
        stitched = _stitched(data[i], terms, sel, [0, 7, ny // 2 + 1, ny])
        assert np.array_equal(stitched, expected.data[i], equal_nan=True)
        cols = slice(3, None, 2)
        stitched = _stitched(data[i], terms, sel, [0, 5, ny], cols)
        assert np.array_equal(stitched, expected.data[i][..., cols], equal_nan=True)
    picked = np.array([nints * ngroups - 1, 0])  # planes in any order, as an index array
    got = apply_refpix_terms(planes[picked, 9:20], terms, picked, slice(9, 20))
    assert np.array_equal(got, expected.data.reshape(planes.shape)[picked, 9:20], equal_nan=True)

    # (c) the zero frame is corrected like a one-group ramp, its exact zeros restored.
    zterms = refpix_terms(_with_garbage(rng, zeroframe, mask), pixeldq, **kwargs)
    zout = apply_refpix_terms(zeroframe, zterms, slice(None), slice(None))
    zout[zeroframe == 0.0] = 0.0
    assert np.array_equal(zout, expected.zeroframe, equal_nan=True)


@pytest.mark.parametrize("case", ["full", "4out", "1out", "edgeless"])
@pytest.mark.parametrize(("fast", "slow"), AXES)
def test_terms_reproduce_correct_refpix(case, fast, slow):
    rng = np.random.default_rng([AXES.index((fast, slow)), len(case)])
    geom, noutputs, edge = _geometry(case, fast)
    for odd_even in (True, False):
        for side in (True, False):
            params = RefPixParameters(
                odd_even_columns=odd_even, use_side_ref_pixels=side, side_gain=0.8,
                side_smoothing_length=7,
            )  # fmt: skip
            _check_case(rng, geom, (fast, slow), noutputs, edge, params, nints=2, ngroups=3)


@pytest.mark.parametrize("case", ["4out", "1out"])
def test_terms_over_many_planes(case):
    # 2 x 10 planes: the terms are computed in batches that straddle the integrations.
    rng = np.random.default_rng(7)
    geom, noutputs, edge = _geometry(case, -2)
    params = RefPixParameters(side_gain=1.3)
    _check_case(rng, geom, (-2, 1), noutputs, edge, params, nints=2, ngroups=10)


def test_real_full_frame():
    rng = np.random.default_rng(2048)
    geom = SubarrayGeometry(1, 1, 2048, 2048)
    data = rng.standard_normal((1, 2, 2048, 2048), dtype=np.float32) + np.float32(1000.0)
    data[..., :4, :] += rng.uniform(-30, 30, (1, 2, 1, 2048)).astype(np.float32)
    pixeldq = np.zeros((2048, 2048), np.uint32)
    pixeldq[rng.random(pixeldq.shape) < 0.02] = DO_NOT_USE
    kwargs = dict(
        geometry=geom, fastaxis=-2, slowaxis=-1, noutputs=4,
        params=RefPixParameters(side_gain=0.9),
    )  # fmt: skip
    expected = correct_refpix(data, pixeldq, **kwargs).data[0]
    mask = reference_pixel_mask(pixeldq, **kwargs)
    assert mask.sum() == (~(pixeldq & DO_NOT_USE).astype(bool) & geom.reference_pixel_mask()).sum()
    terms = refpix_terms(_with_garbage(rng, data[0], mask), pixeldq, **kwargs)
    assert terms.first.shape == terms.second.shape == (2, 2048)
    got = _stitched(data[0], terms, slice(None), [0, 7, 300, 2048])
    assert np.array_equal(got, expected)


def test_skipped_terms_leave_data_unchanged():
    data = np.ones((2, 32, 64), np.float32)
    pixeldq = np.zeros((32, 64), np.uint32)
    inside = SubarrayGeometry(900, 900, 64, 32)
    terms = refpix_terms(data, pixeldq, geometry=inside, fastaxis=-1, slowaxis=2, noutputs=1)
    assert (terms.status, terms.reason) == ("SKIPPED", "no usable reference pixels")
    assert terms.first is None and terms.second is None
    out = apply_refpix_terms(data, terms, slice(None), slice(None))
    assert np.array_equal(out, data) and out is not data
    outside = SubarrayGeometry(2040, 1, 64, 32)
    kwargs = dict(geometry=outside, fastaxis=1, slowaxis=2, noutputs=1)
    terms = refpix_terms(data, pixeldq, **kwargs)
    assert terms.reason == "subarray does not fit in the full detector frame"
    assert not reference_pixel_mask(pixeldq, **kwargs).any()


def test_errors():
    full = SubarrayGeometry(1, 1, 2048, 2048)
    dq = np.zeros((2048, 2048), np.uint32)
    planes = np.zeros((1, 2048, 2048), np.float32)
    kwargs = dict(geometry=full, fastaxis=1, slowaxis=2, noutputs=4)
    sirs = RefPixParameters(refpix_algorithm="sirs")
    with pytest.raises(UnsupportedRefPixModeError, match="refpix_algorithm='sirs'"):
        refpix_terms(planes, dq, params=sirs, **kwargs)
    with pytest.raises(UnsupportedRefPixModeError, match="refpix_algorithm='sirs'"):
        reference_pixel_mask(dq, params=sirs, **kwargs)
    with pytest.raises(UnsupportedRefPixModeError, match="IRS2"):
        refpix_terms(np.zeros((1, 3200, 2048), np.float32), dq, **kwargs)
    with pytest.raises(ValueError, match=r"planes has shape \(1, 1, 2048, 2048\): expected 3-D"):
        refpix_terms(planes[None], dq, **kwargs)
    with pytest.raises(ValueError, match="noutputs=0"):
        refpix_terms(planes, dq, **{**kwargs, "noutputs": 0})
    with pytest.raises(ValueError, match=r"pixeldq has shape \(4, 2048\)"):
        refpix_terms(planes, dq[:4], **kwargs)
    terms = refpix_terms(planes, dq, **kwargs)
    with pytest.raises(ValueError, match=r"block has shape \(8, 2048\): expected 3-D"):
        apply_refpix_terms(planes[0, :8], terms, slice(None), slice(0, 8))
    with pytest.raises(ValueError, match=r"terms.second\[planes\] cut to the block's rows"):
        apply_refpix_terms(planes[:, :8], terms, slice(None), slice(0, 9))
