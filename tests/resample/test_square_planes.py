"""The one-pass square-kernel drizzle of several planes against known overlaps and drizzle."""

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest
from drizzle.resample import Drizzle

from webbcal.resample._square_planes import drizzle_square_planes
from webbcal.resample.coadd import Coadd, CoaddParams, Exposure
from webbcal.resample.tiles import tile_halo


def _distorted_map(ny, nx, *, theta=0.4, scale=1.0 / 1.3, dist=3e-5, offset=(0.0, 0.0)):
    """Output (x, y) of input pixel centres: rotation, scale and a mild quadratic term."""
    y, x = np.mgrid[0:ny, 0:nx].astype(float)
    u, v = x - nx / 2, y - ny / 2
    c, s = np.cos(theta), np.sin(theta)
    xo = scale * (c * u - s * v) + dist * u * u + offset[0]
    yo = scale * (s * u + c * v) + dist * u * v + offset[1]
    return np.dstack([xo, yo])


def _drizzle_each(planes, weight, pixmap, out_shape, pixfrac, box=None):
    """The per-plane result of the drizzle library (square kernel, cps, unit scales)."""
    ny, nx = weight.shape
    xmin, xmax, ymin, ymax = box or (0, nx - 1, 0, ny - 1)
    outs = []
    for plane in planes:
        driz = Drizzle(kernel="square", fillval=np.nan, out_shape=out_shape, disable_ctx=True)
        driz.add_image(plane, exptime=1.0, pixmap=pixmap, iscale=1.0, pixel_scale_ratio=1.0,
                       weight_map=weight, wht_scale=1.0, pixfrac=pixfrac, in_units="cps",
                       xmin=xmin, xmax=xmax, ymin=ymin, ymax=ymax)  # fmt: skip
        outs.append(driz.out_img)
    return np.array(outs), driz.out_wht


def test_pure_shift_gives_the_known_overlap_fractions():
    """A shift by (0.3, 0.2) with pixfrac 1: output pixel (J, I) takes 0.7 x 0.8 of input
    (J, I), 0.3 x 0.8 of (J, I-1), 0.7 x 0.2 of (J-1, I) and 0.3 x 0.2 of (J-1, I-1)."""
    rng = np.random.default_rng(0)
    ny, nx = 9, 11
    y, x = np.mgrid[0:ny, 0:nx].astype(float)
    pixmap = np.dstack([x + 0.3, y + 0.2])
    planes = rng.uniform(1.0, 4.0, (2, ny, nx)).astype(np.float32)
    weight = rng.uniform(0.5, 2.0, (ny, nx)).astype(np.float32)
    out, counts = drizzle_square_planes(planes, weight, pixmap, pixfrac=1.0, out_shape=(ny, nx))
    parts = {(0, 0): 0.56, (0, 1): 0.24, (1, 0): 0.14, (1, 1): 0.06}  # (dj, di) -> area
    wsum = sum(a * weight[1 - dj : ny - dj, 1 - di : nx - di] for (dj, di), a in parts.items())
    for k in range(2):
        mean = sum(a * (weight * planes[k])[1 - dj : ny - dj, 1 - di : nx - di]
                   for (dj, di), a in parts.items()) / wsum  # fmt: skip
        np.testing.assert_allclose(out[k, 1:, 1:], mean, rtol=1e-6)
    np.testing.assert_allclose(counts[1:, 1:], wsum, rtol=1e-6)
    # row and column 0 only receive the input pixel (0, 0)'s 0.56 and the edge strips
    np.testing.assert_allclose(counts[0, 0], 0.56 * weight[0, 0], rtol=1e-6)
    np.testing.assert_allclose(out[:, 0, 0], planes[:, 0, 0], rtol=1e-6)
    # unit weights: the summed weight is the covered area, 1 inside
    _, ones = drizzle_square_planes(planes, np.ones_like(weight), pixmap, pixfrac=1.0,
                                    out_shape=(ny, nx))  # fmt: skip
    np.testing.assert_allclose(ones[1:, 1:], 1.0, rtol=1e-6)


def test_pixfrac_half_on_a_pure_shift():
    """pixfrac 0.5, shift (0.5, 0): a 0.5 x 0.5 drop centred on x = i + 0.5 lies half in
    output column i and half in i + 1, entirely in row j. The weight is divided by the
    drop's area (1/4), so each half carries half the pixel's weight: output (j, i) is the
    mean of inputs (j, i) and (j, i - 1) with summed weight 1."""
    ny, nx = 6, 7
    y, x = np.mgrid[0:ny, 0:nx].astype(float)
    pixmap = np.dstack([x + 0.5, y])
    planes = np.arange(ny * nx, dtype=np.float32).reshape(1, ny, nx)
    out, counts = drizzle_square_planes(planes, np.ones((ny, nx), np.float32), pixmap,
                                        pixfrac=0.5, out_shape=(ny, nx))  # fmt: skip
    np.testing.assert_allclose(counts[:, 1:], 1.0, rtol=1e-6)
    np.testing.assert_allclose(counts[:, 0], 0.5, rtol=1e-6)
    np.testing.assert_allclose(out[0, :, 1:], 0.5 * (planes[0, :, 1:] + planes[0, :, :-1]),
                               rtol=1e-6)  # fmt: skip


@pytest.mark.parametrize("pixfrac", [1.0, 0.6])
def test_agrees_with_drizzle_plane_by_plane(pixfrac):
    """Rotation, scale 1/1.3, mild distortion, a NaN hole in the map, zero weights, three
    planes: the same covered pixels and values as drizzle's one call per plane (to 1e-6;
    in fact almost all bits), where drizzle's array contains the whole footprint."""
    rng = np.random.default_rng(7)
    ny, nx = 120, 150
    pixmap = _distorted_map(ny, nx)
    pixmap[40:46, 60:69] = np.nan
    pixmap -= np.nanmin(pixmap, axis=(0, 1)) - 5.0
    out_shape = tuple(int(n) + 6 for n in np.nanmax(pixmap, axis=(0, 1))[::-1])
    planes = rng.uniform(0.5, 3.0, (3, ny, nx)).astype(np.float32)
    weight = rng.uniform(0.2, 2.0, (ny, nx)).astype(np.float32)
    weight[rng.random((ny, nx)) < 0.1] = 0.0
    weight[:, 20] = 0.0
    box = (2, nx - 4, 1, ny - 3)
    ref, ref_wht = _drizzle_each(planes, weight, pixmap, out_shape, pixfrac, box)
    out, counts = drizzle_square_planes(planes, weight, pixmap, pixfrac=pixfrac,
                                        out_shape=out_shape, bounds=box)  # fmt: skip
    assert np.array_equal(np.isnan(out), np.isnan(ref))
    assert 0.4 < np.isfinite(ref[0]).mean() < 0.9
    np.testing.assert_allclose(out, ref, rtol=1e-6)
    np.testing.assert_allclose(counts, ref_wht, rtol=1e-6)
    assert np.count_nonzero(out != ref) - np.count_nonzero(np.isnan(ref)) <= 1e-3 * ref.size


def test_equal_to_drizzle_inside_the_margin_of_a_cut_output():
    """An output array that cuts through the footprint: drizzle drops the input pixels that
    straddle its edge, this kernel does not; more than ``tile_halo`` output pixels inside
    the edges the two are the same."""
    rng = np.random.default_rng(11)
    ny, nx = 100, 100
    scale = 1.0 / 0.8
    pixmap = _distorted_map(ny, nx, theta=-0.25, scale=scale, offset=(60.0, 55.0))
    out_shape = (110, 105)  # the footprint reaches beyond every edge
    planes = rng.uniform(0.5, 3.0, (2, ny, nx)).astype(np.float32)
    weight = rng.uniform(0.2, 2.0, (ny, nx)).astype(np.float32)
    ref, _ = _drizzle_each(planes, weight, pixmap, out_shape, 1.0)
    out, _ = drizzle_square_planes(planes, weight, pixmap, pixfrac=1.0, out_shape=out_shape)
    m = tile_halo("square", 0.8)
    inner = (slice(None), slice(m, -m), slice(m, -m))
    assert np.array_equal(np.isnan(out[inner]), np.isnan(ref[inner]))
    np.testing.assert_allclose(out[inner], ref[inner], rtol=1e-6)
    # at the edges they do differ (drizzle leaves out the straddling pixels)
    assert np.count_nonzero(np.isnan(ref) & ~np.isnan(out)) > 0


def test_running_mean_over_calls_and_fill_value():
    """Two exposures into one accumulator equal one drizzle with two add_image calls,
    with a numeric fill value where nothing was added."""
    rng = np.random.default_rng(3)
    ny, nx = 40, 50
    out_shape = (70, 90)  # the whole footprints
    driz = Drizzle(kernel="square", fillval="-7", out_shape=out_shape, disable_ctx=True)
    out = np.full((1, *out_shape), -7.0, np.float32)
    counts = np.zeros(out_shape, np.float32)
    for offset in ((12.2, 9.7), (16.9, 7.4)):
        pixmap = _distorted_map(ny, nx, theta=0.1, scale=1.1, offset=offset)
        pixmap += (nx / 2, ny / 2)
        plane = rng.uniform(1.0, 2.0, (1, ny, nx)).astype(np.float32)
        weight = rng.uniform(0.5, 1.5, (ny, nx)).astype(np.float32)
        driz.add_image(plane[0], exptime=1.0, pixmap=pixmap, weight_map=weight, pixfrac=0.8,
                       in_units="cps")  # fmt: skip
        drizzle_square_planes(plane, weight, pixmap, pixfrac=0.8, out=out, counts=counts,
                              fill=-7.0)  # fmt: skip
    np.testing.assert_allclose(out[0], driz.out_img, rtol=1e-6)
    np.testing.assert_allclose(counts, driz.out_wht, rtol=1e-6)
    assert (out[0] == -7.0).any() and (counts > 0).mean() > 0.4


def _coadd_inputs(rng, *, shape=(70, 80), n=2):
    """Exposures with synthetic maps (Coadd's pixel_map_function) and an output 'WCS'."""
    exposures, maps = [], {}
    for k in range(n):
        ny, nx = shape
        wcs = SimpleNamespace(name=f"in{k}")
        maps[id(wcs)] = _distorted_map(ny, nx, theta=0.2 + 0.1 * k, scale=1.0 / 1.25,
                                       offset=(45.0 + 3.3 * k, 40.0 - 2.1 * k))  # fmt: skip
        dq = np.zeros(shape, np.uint32)
        dq[rng.random(shape) < 0.03] = 1  # DO_NOT_USE
        variances = {name: rng.uniform(0.5, 2.0, shape).astype(np.float32)
                     for name in ("var_rnoise", "var_poisson", "var_flat")}  # fmt: skip
        exposures.append(Exposure(data=rng.normal(1.0, 0.1, shape).astype(np.float32), dq=dq,
                                  wcs=wcs, variances=variances,
                                  err=rng.uniform(1.0, 2.0, shape).astype(np.float32),
                                  exposure_time=100.0 + k, group_id=str(k),
                                  name=f"exposure {k}"))  # fmt: skip
    out_wcs = SimpleNamespace(array_shape=(90, 95))
    return exposures, (lambda wcs_from, _to, _shape: maps[id(wcs_from)]), out_wcs


@pytest.mark.parametrize(
    "params",
    [
        CoaddParams(pixfrac=0.7),
        CoaddParams(weight_type="exptime"),
        CoaddParams(drizzle_err=True, enable_var=False, fillval="0"),
    ],  # fmt: skip
)
def test_coadd_one_pass_equals_the_per_plane_drizzle(params):
    """Coadd with a margin: variances, ERR and their sums as with one drizzle per plane."""
    rng = np.random.default_rng(5)
    exposures, pixmap_function, out_wcs = _coadd_inputs(rng)
    results = []
    pad = tile_halo("square", 1.25)
    for one_pass in (True, False):
        coadd = Coadd(out_wcs, params, n_inputs=2, pixel_scale_ratio=1.25,
                      pixel_map_function=pixmap_function, pad=pad)  # fmt: skip
        assert coadd._one_pass
        coadd._one_pass = one_pass
        if not one_pass and params.drizzle_err:  # as built without a margin
            coadd._driz_err = Drizzle(kernel="square", fillval=params.fillval,
                                      out_shape=coadd._shape, disable_ctx=True)  # fmt: skip
        for exposure in exposures:
            coadd.add(dataclasses.replace(exposure))
        results.append(coadd.finalize())
    got, ref = results
    planes = {name: (got.variances[name], ref.variances[name]) for name in ref.variances}
    planes["err"] = (got.err, ref.err)
    assert params.drizzle_err or len(planes) == 4
    for name, (a, b) in planes.items():
        assert np.array_equal(np.isnan(a), np.isnan(b)), name
        np.testing.assert_allclose(a, b, rtol=1e-6, err_msg=name)
        assert np.isfinite(b).mean() > 0.3, name
    np.testing.assert_array_equal(got.data, ref.data)


def test_coadd_finalize_cuts_the_margin_in_place_once():
    """The planes of finalize are the padded planes' interior (moved within their own
    memory, C-contiguous); finalize cannot be repeated nor an exposure added after it."""
    rng = np.random.default_rng(9)
    exposures, pixmap_function, out_wcs = _coadd_inputs(rng)
    pad = tile_halo("square", 1.25)
    coadd = Coadd(out_wcs, CoaddParams(), n_inputs=2, pixel_scale_ratio=1.25,
                  pixel_map_function=pixmap_function, pad=pad)  # fmt: skip
    for exposure in exposures:
        coadd.add(dataclasses.replace(exposure))
    inner = (Ellipsis, slice(pad, -pad), slice(pad, -pad))
    expected = {"data": coadd._img[inner].copy(), "wht": coadd._wht[inner].copy(),
                "con": coadd._ctx[inner].copy()}  # fmt: skip
    result = coadd.finalize()
    for name, ref in expected.items():
        got = getattr(result, name)
        assert got.shape[-2:] == out_wcs.array_shape and got.flags.c_contiguous, name
        np.testing.assert_array_equal(got, ref, err_msg=name)
    assert np.isfinite(result.data).mean() > 0.3 and (result.con > 0).any()
    for plane in (*result.variances.values(), result.err):
        assert plane.shape == out_wcs.array_shape and plane.flags.c_contiguous
    with pytest.raises(RuntimeError, match="already called"):
        coadd.finalize()
    with pytest.raises(RuntimeError, match="after finalize"):
        coadd.add(dataclasses.replace(exposures[0]))


def test_coadd_without_margin_or_square_kernel_keeps_drizzle():
    out_wcs = SimpleNamespace(array_shape=(20, 20))
    assert not Coadd(out_wcs, CoaddParams(), n_inputs=1, pixel_scale_ratio=1.0)._one_pass
    assert Coadd(out_wcs, CoaddParams(), n_inputs=1, pixel_scale_ratio=1.0, cut_margin=4)._one_pass
    assert not Coadd(out_wcs, CoaddParams(kernel="turbo"), n_inputs=1, pixel_scale_ratio=1.0,
                     pad=8)._one_pass  # fmt: skip
    assert not Coadd(out_wcs, CoaddParams(pixfrac=0.001), n_inputs=1, pixel_scale_ratio=1.0,
                     pad=8)._one_pass  # fmt: skip
    with pytest.raises(ValueError, match="cut_margin=-1"):
        Coadd(out_wcs, CoaddParams(), n_inputs=1, pixel_scale_ratio=1.0, cut_margin=-1)


def test_bad_arguments():
    planes = np.ones((2, 5, 6), np.float32)
    weight = np.ones((5, 6), np.float32)
    pixmap = np.zeros((5, 6, 2))
    with pytest.raises(ValueError, match=r"planes: shape \(5, 6\); expected \(K, ny, nx\)"):
        drizzle_square_planes(planes[0], weight, pixmap, pixfrac=1.0, out_shape=(5, 6))
    with pytest.raises(ValueError, match=r"weight_map \(5, 5\) and pixmap"):
        drizzle_square_planes(planes, weight[:, :5], pixmap, pixfrac=1.0, out_shape=(5, 6))
    with pytest.raises(ValueError, match="pixfrac=0.0005"):
        drizzle_square_planes(planes, weight, pixmap, pixfrac=0.0005, out_shape=(5, 6))
    with pytest.raises(ValueError, match="out_shape: needed"):
        drizzle_square_planes(planes, weight, pixmap, pixfrac=1.0)
    with pytest.raises(ValueError, match="give both running arrays or neither"):
        drizzle_square_planes(planes, weight, pixmap, pixfrac=1.0, out=np.zeros((2, 5, 6)))


class _RowsOf:
    """A fitted pixel map (``rows``) made of a whole synthetic map."""

    def __init__(self, pixmap):
        self.pixmap, self.shape, self.max_error, self.n_exact = pixmap, pixmap.shape[:2], 0.0, 0

    def rows(self, a, b):
        return self.pixmap[a:b].copy()


@pytest.mark.parametrize("params", [CoaddParams(), CoaddParams(drizzle_err=True, pixfrac=0.8)])
def test_coadd_in_strips_of_rows_equals_the_whole_exposure(monkeypatch, params):
    """With its own maps Coadd drizzles each exposure in strips of rows (their map,
    weights and inputs only): SCI, WHT, context, DQ, ERR and variances are bit for bit
    those of the whole exposure at once, with a sky level and two exposures."""
    import webbcal.resample.coadd as coadd_module

    rng = np.random.default_rng(21)
    exposures, pixmap_function, _ = _coadd_inputs(rng, shape=(150, 80))
    exposures[1] = dataclasses.replace(exposures[1], sky_level=0.25)
    out_wcs = SimpleNamespace(array_shape=(170, 150))
    pad = tile_halo("square", 1.25)
    results, strips = [], []
    for strip_bytes in (2**30, 16 * 80 * 40):  # one strip; strips of 40 rows
        monkeypatch.setattr(coadd_module, "STRIP_MAP_BYTES", strip_bytes)
        coadd = Coadd(out_wcs, params, n_inputs=2, pixel_scale_ratio=1.25, pad=pad,
                      propagate_dq=True)  # fmt: skip
        monkeypatch.setattr(coadd, "_fit_map",
                            lambda w, _to, s: _RowsOf(pixmap_function(w, _to, s)))  # fmt: skip
        strips.append(coadd._strips(0, 149, 80))
        for exposure in exposures:
            coadd.add(dataclasses.replace(exposure))
        results.append(coadd.finalize())
    assert len(strips[0]) == 1 and strips[1] == [(0, 39), (40, 79), (80, 149)]
    whole, parts = results
    for name in ("data", "wht", "con", "dq", "err"):
        a, b = getattr(parts, name), getattr(whole, name)
        assert a is not None and np.array_equal(a, b, equal_nan=True), name
    assert set(parts.variances) == set(whole.variances) and len(whole.variances) == 3
    for name, plane in whole.variances.items():
        assert np.array_equal(parts.variances[name], plane, equal_nan=True), name
    assert np.isfinite(whole.data).mean() > 0.2 and (whole.con == 3).any()


def test_second_set_in_the_same_pass_equals_its_own_pass():
    """``also``: a second set of planes (own running means and weights, e.g. ERR over
    the exposures beside one exposure's variances) gets the bits of a pass of its own,
    and the first set is unchanged by it."""
    rng = np.random.default_rng(8)
    ny, nx = 45, 52
    out_shape = (75, 95)
    box = (2, nx - 3, 1, ny - 2)
    pixmap = _distorted_map(ny, nx, theta=0.3, scale=1.05, offset=(40.0, 35.0))
    weight = rng.uniform(0.0, 1.5, (ny, nx)).astype(np.float32)
    weight[rng.random((ny, nx)) < 0.1] = 0.0
    variances = [rng.uniform(-0.1, 2.0, (ny, nx)).astype(np.float32) for _ in range(3)]
    err = rng.uniform(1.0, 2.0, (1, ny, nx)).astype(np.float32)
    # a running ERR mean that already holds an earlier exposure
    err_out = np.full((1, *out_shape), -3.0, np.float32)
    err_counts = np.zeros(out_shape, np.float32)
    earlier = _distorted_map(ny, nx, theta=0.25, scale=1.05, offset=(42.0, 33.0))
    drizzle_square_planes(err * 1.5, weight, earlier, pixfrac=0.9, out=err_out,
                          counts=err_counts, fill=None)  # fmt: skip
    assert (err_counts > 0).any() and (err_counts == 0).any()
    alone_err, alone_counts = err_out.copy(), err_counts.copy()
    drizzle_square_planes(err, weight, pixmap, pixfrac=0.9, bounds=box, out=alone_err,
                          counts=alone_counts, fill=-3.0)  # fmt: skip
    alone_var, alone_var_counts = drizzle_square_planes(
        variances, weight, pixmap, pixfrac=0.9, bounds=box, out_shape=out_shape, roots=True
    )
    var, var_counts = drizzle_square_planes(
        variances, weight, pixmap, pixfrac=0.9, bounds=box, out_shape=out_shape, roots=True,
        also=(err, err_out, err_counts, -3.0),
    )  # fmt: skip
    np.testing.assert_array_equal(var, alone_var)
    np.testing.assert_array_equal(var_counts, alone_var_counts)
    np.testing.assert_array_equal(err_out, alone_err)
    np.testing.assert_array_equal(err_counts, alone_counts)
    # the fill values were given (NaN for the variances, -3 for ERR)
    assert np.isnan(var).any() and (err_out == -3.0).any()
    with pytest.raises(ValueError, match=r"also: planes \(1, 45, 51\)"):
        drizzle_square_planes(variances, weight, pixmap, pixfrac=0.9, out_shape=out_shape,
                              also=(err[:, :, 1:], err_out, err_counts, None))  # fmt: skip
    with pytest.raises(ValueError, match=r"also: out \(1, 75, 94\) float32"):
        drizzle_square_planes(variances, weight, pixmap, pixfrac=0.9, out_shape=out_shape,
                              also=(err, err_out[:, :, 1:].copy(), err_counts, None))  # fmt: skip
