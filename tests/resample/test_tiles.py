"""Tiled mosaics: every tile equals the all-in-memory drizzle combination, bit for bit,
in this process and on a dask cluster (also when a worker dies)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from _cal_files import cal_name, make_cal, write_asn
from distributed.diagnostics.plugin import WorkerPlugin

from webbcal.datamodels import ModelLibrary
from webbcal.resample import ResampleStep
from webbcal.resample import tiles as T
from webbcal.resample.coadd import Coadd

#: Dithers (arcsec): four overlapping exposures and one 6" away (tiles with a subset).
DITHERS = ((0.0, 0.0), (0.37, 0.21), (-0.29, 0.43), (0.52, -0.33), (6.0, 1.0))
PLANES = ("data", "wht", "con", "err")


@pytest.fixture(scope="module")
def mosaic_inputs(tmp_path_factory, nrca1, distortion):
    folder = tmp_path_factory.mktemp("tiles")
    paths = [
        make_cal(folder / cal_name(i + 1), nrca1, distortion, dra=dra, ddec=ddec,
                 exposure=i + 1, seed=i, background=1.0 + 0.1 * i)
        for i, (dra, ddec) in enumerate(DITHERS)
    ]  # fmt: skip
    return paths, write_asn(str(folder), paths)


@pytest.fixture(scope="module")
def default_in_memory(mosaic_inputs):
    """The in-memory combination with the default parameters (computed once)."""
    return _in_memory(*_setup(mosaic_inputs[1]))


@pytest.fixture(scope="module")
def default_product(mosaic_inputs):
    """The step's in-memory product with the default parameters (computed once)."""
    return ResampleStep.call(mosaic_inputs[1], disable_crds_steppars=True)


def _setup(asn, **step_args):
    """Grid, params and ratio as the step builds them for the association."""
    library = ModelLibrary(asn, on_disk=True)
    step = ResampleStep(**step_args)
    lib, indices = step._members(library)
    footprints, reference, _ = step._scan(lib, indices, library)
    grid = step._grid(footprints, reference)
    return step, library, indices, grid, step._coadd_params(), grid.pixel_scale_ratio


def _in_memory(step, library, indices, grid, params, ratio):
    coadd = step._coadd(grid, len(indices), ratio)  # the step's whole-grid combination
    assert isinstance(coadd, Coadd) and coadd.pad == T.tile_halo(params.kernel, ratio)
    with library:
        for index in indices:
            model = library.borrow(index)
            coadd.add(step._exposure(model))
            library.shelve(model, index, modify=False)
    return coadd.finalize()


def _assert_identical(a, b, *, exact=True):
    """Planes equal bit for bit (``exact``), or: context, DQ and the covered pixels (NaN
    pattern) identical everywhere, the outer frame included, and values within a few
    float32 ulps on at most 1e-4 of the pixels (drizzle rounds its intermediate sums in
    the window's coordinates)."""
    planes = {n: (getattr(a, n), getattr(b, n)) for n in PLANES}
    planes.update({n: (a.variances[n], b.variances[n]) for n in a.variances})
    assert a.variances.keys() == b.variances.keys()
    for name, (x, y) in planes.items():
        assert (x is None) == (y is None), name
        if x is None:
            continue
        assert x.dtype == y.dtype and x.shape == y.shape, name
        same = (x == y) | (np.isnan(x) & np.isnan(y)) if x.dtype.kind == "f" else x == y
        if exact or x.dtype.kind != "f":
            assert same.all(), f"{name}: {np.count_nonzero(~same)} pixel(s) differ"
            continue
        assert np.array_equal(np.isnan(x), np.isnan(y)), name
        ok = np.isfinite(x)
        np.testing.assert_array_max_ulp(x[ok], y[ok], maxulp=4)
        assert np.count_nonzero(~same) <= 1e-4 * x.size, name
    for name in ("pointings", "exposure_time", "duration", "measurement_time", "start_time",
                 "end_time"):  # fmt: skip
        assert getattr(a, name) == getattr(b, name), name


@pytest.mark.parametrize(
    ("step_args", "exact"),
    [
        ({}, True),
        ({"kernel": "turbo", "pixel_scale_ratio": 0.7, "weight_type": "exptime"}, False),
        ({"pixfrac": 0.6, "pixel_scale_ratio": 1.3, "propagate_dq": True}, True),
    ],
)
def test_tiles_equal_the_in_memory_combination(mosaic_inputs, default_in_memory, step_args,
                                               exact):  # fmt: skip
    """Small tiles (many with a subset of the members) give the same bits, the mosaic's
    outer frame included (for these 128 x 128 members; with a turbo kernel, within a few
    ulps)."""
    _, asn = mosaic_inputs
    step, library, indices, grid, params, ratio = _setup(asn, **step_args)
    if step_args:
        expected = _in_memory(step, library, indices, grid, params, ratio)
    else:
        expected = default_in_memory
    got = T.tiled_coadd(library, indices, grid, params, pixel_scale_ratio=ratio,
                        propagate_dq=step.propagate_dq, exposure=step._exposure,
                        memory_limit=2**30, tile_shape=(90, 120))  # fmt: skip
    _assert_identical(expected, got, exact=exact)
    if step.propagate_dq:
        np.testing.assert_array_equal(expected.dq, got.dq)
    # the far member reaches only some tiles; at least one member's bit is set where only
    # it and members after it contribute (global, not per-tile, context ids)
    assert np.any(got.con[0] == 1 << 4)
    assert np.isfinite(got.data).mean() > 0.5


def test_member_boxes_cover_every_contribution(mosaic_inputs, default_in_memory):
    """Each member's context bit lies inside its footprint box (no contribution missed)."""
    _, asn = mosaic_inputs
    step, library, indices, grid, params, ratio = _setup(asn)
    expected = default_in_memory
    with library:
        models = [library.borrow(i) for i in indices]
        wcs, shapes = [m.meta.wcs for m in models], [m.data.shape for m in models]
        for i, m in zip(indices, models, strict=True):
            library.shelve(m, i, modify=False)
    boxes = T.member_boxes(wcs, shapes, grid.wcs, margin=0)
    for k, (y0, y1, x0, x1) in enumerate(boxes):
        ys, xs = np.nonzero(expected.con[0] & (1 << k))
        assert ys.size > 1000
        # tight (within 2 pixels) and covering
        assert y0 <= ys.min() <= y0 + 2 and y1 - 2 <= ys.max() <= y1
        assert x0 <= xs.min() <= x0 + 2 and x1 - 2 <= xs.max() <= x1


def test_plan_tiles_cover_the_grid_once():
    tiles = T.plan_tiles((100, 70), (40, 40), halo=5)
    cover = np.zeros((100, 70), int)
    for t in tiles:
        cover[t.section] += 1
        assert t.wy0 == t.y0 - 5 and t.wx1 == t.x1 + 5  # windows reach beyond the grid
    assert (cover == 1).all() and len(tiles) == 3 * 2
    with pytest.raises(ValueError, match="tile_shape"):
        T.plan_tiles((10, 10), (0, 5), halo=1)


def test_global_context_moves_bits():
    local = np.zeros((1, 1, 2), np.int32)
    local[0, 0, 0] = 0b101  # window members 0 and 2
    local[0, 0, 1] = 0b010  # window member 1
    out = T._global_context(local, (3, 33, 40), planes=2)
    assert out[0, 0, 0] == 1 << 3 and out[1, 0, 0] == 1 << 8
    assert out[1, 0, 1] == 1 << 1 and out[0, 0, 1] == 0


def test_tile_wcs_is_the_shifted_grid(mosaic_inputs):
    _, asn = mosaic_inputs
    *_, grid, _, _ = _setup(asn)
    sub = T.tile_wcs(grid.wcs, 17, 29, (20, 30))
    assert sub.array_shape == (20, 30)
    np.testing.assert_allclose(sub(3.0, 4.0), grid.wcs(32.0, 21.0), rtol=0, atol=1e-12)


def test_step_in_memory_false_gives_the_same_product(mosaic_inputs, default_product,
                                                     monkeypatch):  # fmt: skip
    """The step's tiled path (in_memory=False, small tiles) equals its in-memory path."""
    _, asn = mosaic_inputs
    expected = default_product
    monkeypatch.setattr(T, "MIN_TILE", 128)
    monkeypatch.setattr(T, "MAX_TILE", 128)
    got = ResampleStep.call(asn, in_memory=False, disable_crds_steppars=True)
    for name in ("data", "wht", "con", "err", "var_rnoise", "var_poisson", "var_flat"):
        np.testing.assert_array_equal(getattr(expected, name), getattr(got, name), err_msg=name)
    assert got.meta.exposure.exposure_time == expected.meta.exposure.exposure_time
    assert got.meta.resample.pointings == expected.meta.resample.pointings == 5


def test_memory_limit_is_checked(mosaic_inputs):
    from webbcal.stpipe import ParameterError

    _, asn = mosaic_inputs
    with pytest.raises(ParameterError, match="memory_limit='lots'"):
        ResampleStep.call(asn, memory_limit="lots", disable_crds_steppars=True)


def test_file_reader_matches_the_model(mosaic_inputs):
    paths, asn = mosaic_inputs
    step, library, indices, *_ = _setup(asn)
    with library:
        model = library.borrow(0)
        exp = step._exposure(model)
        library.shelve(model, 0, modify=False)
    reader = T.FileReader([paths[0]], [T.exposure_spec(exp)])
    crop = (3, 101, 7, 90)
    for got, want in ((reader(0), exp), (reader(0, crop), _cropped(exp, crop))):
        _assert_same_exposure(want, got)


def _cropped(exp, crop):
    r0, r1, c0, c1 = crop
    return dataclasses.replace(
        exp, data=exp.data[r0:r1, c0:c1], dq=exp.dq[r0:r1, c0:c1], err=exp.err[r0:r1, c0:c1],
        variances={k: v[r0:r1, c0:c1] for k, v in exp.variances.items()},
    )  # fmt: skip


def _assert_same_exposure(exp, got):
    for f in dataclasses.fields(exp):
        a, b = getattr(exp, f.name), getattr(got, f.name)
        if isinstance(a, np.ndarray):
            np.testing.assert_array_equal(a, b, err_msg=f.name)
        elif isinstance(a, dict):
            assert a.keys() == b.keys()
            for k in a:
                np.testing.assert_array_equal(a[k], b[k], err_msg=k)
        elif f.name != "wcs":
            assert a == b, f.name


# ---------------------------------------------------------------- dask.distributed
class _KillOnce(WorkerPlugin):
    """Worker plugin: the first worker to start a tile task dies (os._exit) once."""

    def __init__(self, marker):
        self.marker = str(marker)

    def setup(self, worker):
        self.worker = worker

    def transition(self, key, start, finish, **kwargs):
        import os

        if finish == "executing" and "webbcal-tile" in str(key):
            try:
                fd = os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                return
            os.close(fd)
            os._exit(1)


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    import cloudpickle

    cloudpickle.register_pickle_by_value(__import__(__name__))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as lc:  # fmt: skip
        yield lc


def test_dask_tiles_equal_the_single_process_run(mosaic_inputs, default_in_memory, cluster,
                                                 tmp_path):  # fmt: skip
    """Two workers, a worker killed during its first tile: the same bits as here."""
    from distributed import Client

    _, asn = mosaic_inputs
    step, library, indices, grid, params, ratio = _setup(asn)
    expected = default_in_memory
    marker = tmp_path / "killed"
    with Client(cluster) as client:
        client.register_plugin(_KillOnce(marker), name="kill-once")
        got = T.tiled_coadd(library, indices, grid, params, pixel_scale_ratio=ratio,
                            propagate_dq=False, exposure=step._exposure, memory_limit=2**30,
                            client=client, tile_shape=(100, 140))  # fmt: skip
        client.unregister_worker_plugin("kill-once")
    assert marker.exists()  # a worker did die
    _assert_identical(expected, got)


def test_step_scheduler_gives_the_same_product(mosaic_inputs, default_product, cluster,
                                              monkeypatch):  # fmt: skip
    """``scheduler=<address>``: the step's tiles run on that cluster; same planes."""
    _, asn = mosaic_inputs
    monkeypatch.setattr(T, "MIN_TILE", 128)
    monkeypatch.setattr(T, "MAX_TILE", 128)
    got = ResampleStep.call(asn, scheduler=cluster.scheduler_address,
                            disable_crds_steppars=True)  # fmt: skip
    for name in ("data", "wht", "con", "err", "var_rnoise", "var_poisson", "var_flat"):
        np.testing.assert_array_equal(getattr(default_product, name), getattr(got, name),
                                      err_msg=name)  # fmt: skip


def test_tile_shape_follows_the_memory_limit(caplog):
    member = 2048 * 2048
    big = T.tile_shape_for((10000, 10000), memory_limit=8 * 2**30, member_pixels=member)
    small = T.tile_shape_for((10000, 10000), memory_limit=2**30, member_pixels=member)
    assert small[0] < big[0] and small[0] == small[1]
    need = T.BASELINE_BYTES + member * T.MEMBER_BYTES_PER_PIXEL
    assert need + small[0] * small[1] * T.WINDOW_BYTES_PER_PIXEL <= 2**30
    assert need + (small[0] + 1) ** 2 * T.WINDOW_BYTES_PER_PIXEL > 2**30
    tiny = T.tile_shape_for((10000, 10000), memory_limit=2**29, member_pixels=member)
    assert tiny == (T.MIN_TILE, T.MIN_TILE) and "below what the mosaic needs" in caplog.text
    assert T.tile_shape_for((100, 300), memory_limit=2**33, member_pixels=1) == (100, 300)


def test_member_file_is_none_once_a_member_lives_in_memory(mosaic_inputs):
    paths, asn = mosaic_inputs
    on_disk, in_memory = ModelLibrary(asn, on_disk=True), ModelLibrary(asn)
    for library in (on_disk, in_memory):
        assert library.member_file(1) == paths[1]
        with library:
            model = library.borrow(1)
            library.shelve(model, 1, modify=False)
    assert on_disk.member_file(1) == paths[1]
    assert in_memory.member_file(1) is None  # may have been modified in memory
