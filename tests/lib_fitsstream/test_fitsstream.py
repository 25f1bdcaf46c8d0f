"""StreamedProduct: a product written block by block equals the one ``save`` writes."""

from __future__ import annotations

import gc
import logging
import os
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.time import Time
from stdatamodels.jwst import datamodels as dm

from webbcal.datamodels import save_model
from webbcal.lib import fitsstream
from webbcal.lib.fitsstream import StreamedProduct

NINTS, NY, NX = 7, 5, 6
SHAPE = (NINTS, NY, NX)
FLOAT_ARRAYS = ("data", "err", "var_poisson", "var_rnoise")

#: Primary-header keywords that legitimately differ between two saves of one model:
#: the time of writing, and the file name (save_model records its temporary name).
VOLATILE_KEYWORDS = ("DATE", "FILENAME")
#: Metadata attributes behind those keywords, and the hash of the headers that hold them.
VOLATILE_META = ("meta.date", "meta.filename", "_fits_hash")


@pytest.fixture(scope="module")
def exposure():
    """Metadata and INT_TIMES of a simulated 7-integration exposure."""
    from webbcal.simulate import make_detector, simulate_exposure

    det = make_detector(instrument="NIRCAM", detector="NRCA1", subarray="SUB64P", seed=1)
    return simulate_exposure(det, ngroups=2, nints=NINTS, seed=2).model


@pytest.fixture(scope="module")
def arrays():
    rng = np.random.default_rng(11)
    out = {k: rng.normal(size=SHAPE).astype(np.float32) for k in FLOAT_ARRAYS}
    out["data"][0, 0, 0] = np.nan
    out["dq"] = rng.integers(0, 2**32, size=SHAPE, dtype=np.uint32)
    out["dq"][1, 2, 3] = 2**32 - 1
    return out


def _cube(exposure, arrays, *, full: bool):
    model = dm.CubeModel()
    model.update(exposure)
    model.int_times = exposure.int_times
    for name, value in arrays.items():
        setattr(model, name, value if full else value[:1].copy())
    return model


def _pieces(arrays, rng):
    """(attribute, index, values): row blocks for some arrays, per-integration pieces for
    others, in shuffled order."""
    pieces = []
    for k, (name, full) in enumerate(arrays.items()):
        if k % 2 == 0:
            for r0, r1 in ((0, 2), (2, 3), (3, NY)):
                pieces.append((name, (slice(None), slice(r0, r1)), full[:, r0:r1]))
        else:
            for i in range(NINTS):
                pieces.append((name, (i, slice(0, 3)), full[i, :3]))
                pieces.append((name, (i, slice(3, None), slice(None)), full[i, 3:]))
    return [pieces[i] for i in rng.permutation(len(pieces))]


def _stream(exposure, arrays, path, seed=0):
    template = _cube(exposure, arrays, full=False)
    with StreamedProduct(template, path, {k: SHAPE for k in arrays}) as product:
        for name, index, values in _pieces(arrays, np.random.default_rng(seed)):
            product.write(name, index, values)
        return product.commit()


def _flat(model):
    return {k: v for k, v in model.to_flat_dict().items() if k not in VOLATILE_META}


def test_matches_save_model(exposure, arrays, tmp_path, caplog):
    ref = save_model(_cube(exposure, arrays, full=True), str(tmp_path / "ref_rateints.fits"))
    new = _stream(exposure, arrays, tmp_path / "new_rateints.fits")
    assert new == str(tmp_path / "new_rateints.fits")
    assert sorted(os.listdir(tmp_path)) == ["new_rateints.fits", "ref_rateints.fits"]
    with fits.open(ref) as a, fits.open(new) as b:
        assert [h.name for h in a] == [h.name for h in b]
        assert b[0].header["FILENAME"] == "new_rateints.fits"
        for ha, hb in zip(a, b, strict=True):
            if (
                ha.name == "ASDF"
            ):  # its length follows FILENAME and DATE; the tree is compared below
                continue
            skip = VOLATILE_KEYWORDS if ha.name == "PRIMARY" else ()
            cards_a = [c for c in ha.header.cards if c.keyword not in skip]
            cards_b = [c for c in hb.header.cards if c.keyword not in skip]
            assert [str(c) for c in cards_a] == [str(c) for c in cards_b], ha.name
            if ha.name in ("SCI", "ERR", "DQ", "VAR_POISSON", "VAR_RNOISE"):
                np.testing.assert_array_equal(ha.data, hb.data)
                assert ha.data.dtype == hb.data.dtype
        assert b["DQ"].data.dtype == np.uint32
        np.testing.assert_array_equal(a["INT_TIMES"].data, b["INT_TIMES"].data)
    caplog.set_level(logging.DEBUG, logger="stdatamodels.fits_support")
    with dm.open(ref) as ma:
        caplog.clear()
        with dm.open(new) as mb:
            assert "FITS hash matches" in caplog.text
            assert isinstance(mb, dm.CubeModel)
            flat_a, flat_b = _flat(ma), _flat(mb)
            assert flat_a.keys() == flat_b.keys()
            for key, value in flat_a.items():
                if isinstance(value, np.ndarray):
                    np.testing.assert_array_equal(value, flat_b[key], err_msg=key)
                else:
                    assert value == flat_b[key], key
            np.testing.assert_array_equal(mb.dq, arrays["dq"])
            assert mb.meta.filename == "new_rateints.fits"


def test_byte_identical_with_frozen_clock(exposure, arrays, tmp_path, monkeypatch):
    from stdatamodels.jwst.datamodels import model_base

    class FrozenTime(Time):
        @classmethod
        def now(cls):
            return Time("2024-01-02T03:04:05.678")

    monkeypatch.setattr(model_base, "Time", FrozenTime)
    (tmp_path / "a").mkdir()
    ref = tmp_path / "a" / "x_rateints.fits"
    _cube(exposure, arrays, full=True).save(str(ref))
    new = _stream(exposure, arrays, tmp_path / "x_rateints.fits", seed=5)
    assert ref.read_bytes() == Path(new).read_bytes()


def test_ramp_model_uint8_and_4d(tmp_path, monkeypatch):
    """A 4-D float32 cube and a uint8 (BITPIX=8) cube beside a small 2-D array."""
    rng = np.random.default_rng(3)
    shape = (2, 3, 4, 5)
    data = rng.normal(size=shape).astype(np.float32)
    groupdq = rng.integers(0, 256, size=shape, dtype=np.uint8)
    pixeldq = rng.integers(0, 2**32, size=shape[2:], dtype=np.uint32)
    full = dm.RampModel(data=data, groupdq=groupdq, pixeldq=pixeldq)
    full.meta.exposure.nints = 2
    template = dm.RampModel(data=data[:1, :1], groupdq=groupdq[:1, :1], pixeldq=pixeldq)
    template.update(full)
    path = tmp_path / "r_ramp.fits"
    with StreamedProduct(template, path, {"data": shape, "groupdq": shape}) as product:
        for i in range(2):
            for g in reversed(range(3)):
                product.write("data", (i, g), data[i, g])
        product.write("groupdq", (slice(None), slice(None), slice(0, 1)), groupdq[:, :, :1])
        product.write("groupdq", (slice(None), slice(None), slice(1, 4)), groupdq[:, :, 1:])
        product.commit()
    with dm.RampModel(str(path)) as model:
        np.testing.assert_array_equal(model.data, data)
        np.testing.assert_array_equal(model.groupdq, groupdq)
        np.testing.assert_array_equal(model.pixeldq, pixeldq)
        assert model.groupdq.dtype == np.uint8


def test_exception_leaves_nothing(exposure, arrays, tmp_path):
    template = _cube(exposure, arrays, full=False)
    with pytest.raises(ZeroDivisionError):
        with StreamedProduct(template, tmp_path / "x.fits", {"data": SHAPE}) as product:
            assert os.path.exists(product.temporary_path)
            product.write("data", (slice(None), slice(0, 1)), arrays["data"][:, :1])
            _ = 1 / 0
    assert os.listdir(tmp_path) == []


def test_exit_without_commit_and_abort_leave_nothing(exposure, arrays, tmp_path):
    template = _cube(exposure, arrays, full=False)
    with StreamedProduct(template, tmp_path / "x.fits", {"data": SHAPE}):
        pass
    assert os.listdir(tmp_path) == []
    product = StreamedProduct(template, tmp_path / "y.fits", {"data": SHAPE})
    product.abort()
    product.abort()
    assert os.listdir(tmp_path) == []
    with pytest.raises(RuntimeError, match="already committed or aborted"):
        product.write("data", 0, arrays["data"][0])
    dropped = StreamedProduct(template, tmp_path / "z.fits", {"data": SHAPE})
    assert len(os.listdir(tmp_path)) == 1
    del dropped
    gc.collect()
    assert os.listdir(tmp_path) == []


def test_incomplete_product_refused(exposure, arrays, tmp_path):
    template = _cube(exposure, arrays, full=False)
    shapes = {"data": SHAPE, "dq": SHAPE}
    with StreamedProduct(template, tmp_path / "x.fits", shapes) as product:
        product.write("data", (), arrays["data"])
        product.write("dq", (slice(None), slice(0, 3)), arrays["dq"][:, :3])
        product.write("dq", (slice(None), slice(1, 2)), arrays["dq"][:, 1:2])  # rewrite
        for i in range(NINTS - 1):
            product.write("dq", (i, slice(3, None)), arrays["dq"][i, 3:])
        product.write("dq", (NINTS - 1, 3), arrays["dq"][NINTS - 1, 3])
        assert product.missing() == {"data": 0, "dq": NX}
        with pytest.raises(RuntimeError, match=r"dq is incomplete: 6 of 210 .* index \(6, 4, 0\)"):
            product.commit()
        assert not os.path.exists(tmp_path / "x.fits")
        product.write("dq", (-1, -1), arrays["dq"][-1, -1])
        path = product.commit()
    with fits.open(path) as hdul:
        np.testing.assert_array_equal(hdul["DQ"].data, arrays["dq"])
    assert sorted(os.listdir(tmp_path)) == ["x.fits"]


def test_nothing_written_refused(exposure, arrays, tmp_path):
    template = _cube(exposure, arrays, full=False)
    with StreamedProduct(template, tmp_path / "x.fits", {"err": SHAPE}) as product:
        with pytest.raises(RuntimeError, match=r"err is incomplete: 210 of 210"):
            product.commit()
    assert os.listdir(tmp_path) == []


def test_coverage_merging(monkeypatch):
    """The interval union survives many small writes and compaction rounds."""
    monkeypatch.setattr(fitsstream, "_COMPACT_AFTER", 3)
    rng = np.random.default_rng(0)
    cov = fitsstream._Coverage(1000)
    seen = np.zeros(1000, dtype=bool)
    for _ in range(200):
        length = int(rng.integers(1, 6))
        starts = np.sort(rng.choice(1000 - length, size=int(rng.integers(1, 4)), replace=False))
        cov.add(starts.astype(np.int64), length)
        for s in starts:
            seen[s : s + length] = True
        missing = np.flatnonzero(~seen)
        assert cov.written() == seen.sum()
        assert cov.first_missing() == (missing[0] if missing.size else None)


@pytest.mark.parametrize("dtype", ["f4", "f8", "u1", "i1", "i2", "u2", "i4", "u4", "i8", "u8"])
def test_encoding_matches_astropy(dtype):
    """Stored bytes equal astropy's for every image dtype (incl. the BZERO offset types)."""
    import io

    info = np.iinfo(dtype) if dtype[0] in "iu" else np.finfo(dtype)
    values = np.array([[info.min, 0, 1], [info.max, -0.0 if dtype[0] == "f" else 2, 3]], dtype)
    hdu = fits.ImageHDU(values.copy())
    buffer = io.BytesIO()
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(buffer)
    raw = buffer.getvalue()
    with fits.open(io.BytesIO(raw)) as hdul:
        header = hdul[1].header
        start = hdul.fileinfo(1)["datLoc"]
    array = fitsstream._BigArray(
        attribute="x", hdu_index=1, shape=values.shape, dtype=values.dtype,
        disk_dtype=fitsstream._disk_dtype(header, "x"), sign_flip=0, header=header,
    )  # fmt: skip
    array.sign_flip = fitsstream._sign_flip(header, array)
    encoded = fitsstream._encode(values, array).tobytes()
    assert encoded == raw[start : start + values.nbytes]


def test_bad_arguments(exposure, arrays, tmp_path):
    template = _cube(exposure, arrays, full=False)
    with pytest.raises(ValueError, match=r"shapes=\{\}"):
        StreamedProduct(template, tmp_path / "x.fits", {})
    with pytest.raises(ValueError, match=r"shapes\['data'\]=\(7, 0, 6\)"):
        StreamedProduct(template, tmp_path / "x.fits", {"data": (7, 0, 6)})
    with pytest.raises(ValueError, match="attribute 'area' has no array in the template"):
        StreamedProduct(template, tmp_path / "x.fits", {"area": (5, 6)})
    with pytest.raises(ValueError, match="has 3 dimensions; expected 2"):
        StreamedProduct(template, tmp_path / "x.fits", {"data": (5, 6)})
    assert os.listdir(tmp_path) == []
    with StreamedProduct(template, tmp_path / "x.fits", {"data": SHAPE}) as product:
        with pytest.raises(KeyError, match="attribute='dq' is not a streamed array"):
            product.write("dq", 0, arrays["dq"][0])
        with pytest.raises(ValueError, match="axis 1 has step 2; expected 1"):
            product.write("data", (0, slice(None, None, 2)), arrays["data"][0, ::2])
        with pytest.raises(ValueError, match=r"values have shape \(5, 6\); expected \(2, 6\)"):
            product.write("data", (0, slice(0, 2)), arrays["data"][0])
        with pytest.raises(IndexError, match="index 7 out of range for axis 0 of size 7"):
            product.write("data", 7, arrays["data"][0])
        with pytest.raises(IndexError, match="4 indices for an array of shape"):
            product.write("data", (0, 0, 0, 0), 1.0)
        with pytest.raises(TypeError, match="same_kind"):
            product.write("data", 0, arrays["data"][0].astype(complex))
    assert os.listdir(tmp_path) == []


def _frozen_clock(monkeypatch):
    from stdatamodels.jwst.datamodels import model_base

    class FrozenTime(Time):
        @classmethod
        def now(cls):
            return Time("2024-01-02T03:04:05.678")

    monkeypatch.setattr(model_base, "Time", FrozenTime)


def _streamed_open(exposure, arrays, path):
    """A product with every element written, not committed."""
    product = StreamedProduct(_cube(exposure, arrays, full=False), path,
                              {k: SHAPE for k in arrays})  # fmt: skip
    for name, index, values in _pieces(arrays, np.random.default_rng(3)):
        product.write(name, index, values)
    return product


@pytest.mark.parametrize("title", ["short title", "long " * 600])
def test_relayout_gives_the_new_metadata(exposure, arrays, tmp_path, monkeypatch, title):
    """Metadata changed after the arrays were written: the product equals, byte for byte,
    the final model saved whole; in place when the arrays keep their offsets (short
    title), else (a primary header grown by blocks) copied into a new product."""
    _frozen_clock(monkeypatch)
    final = _cube(exposure, arrays, full=True)
    final.meta.program.title = title
    final.meta.target.catalog_name = "ANOTHER TARGET"
    (tmp_path / "ref").mkdir()
    ref = tmp_path / "ref" / "x_rateints.fits"
    final.save(str(ref))
    path = tmp_path / "x_rateints.fits"
    product = _streamed_open(exposure, arrays, path)
    template = _cube(exposure, arrays, full=False)
    template.meta.program.title = title
    template.meta.target.catalog_name = "ANOTHER TARGET"
    moved = not product.relayout(template)
    assert moved == (len(title) > 100)
    if moved:
        with StreamedProduct(template, path, {k: SHAPE for k in arrays}) as out:
            out.copy_arrays_from(product)
            out.commit()
        product.abort()
    else:
        product.commit()
    assert sorted(os.listdir(tmp_path)) == ["ref", "x_rateints.fits"]
    assert ref.read_bytes() == path.read_bytes()


def test_product_spill_elsewhere_and_abort(exposure, arrays, tmp_path, monkeypatch):
    """ProductSpill: chunks written into a provisional product; saved under another name
    the arrays are copied (same bytes as the model saved whole); closed unsaved, nothing
    is left behind."""
    from webbcal.lib.cubeio import ProductSpill

    _frozen_clock(monkeypatch)
    full = _cube(exposure, arrays, full=True)
    (tmp_path / "ref").mkdir()
    ref = tmp_path / "ref" / "b_rateints.fits"
    full.save(str(ref))
    chunk = _cube(exposure, {k: v[:3] for k, v in arrays.items()}, full=True)
    spill = ProductSpill(chunk, str(tmp_path / "a_rateints.fits"), SHAPE, list(arrays))
    np.testing.assert_array_equal(chunk.data, arrays["data"][:3])  # restored
    for a in range(0, NINTS, 3):
        for name, value in arrays.items():
            spill.write(name, a, value[a : a + 3])
    out = spill.write_product(_cube(exposure, arrays, full=False),
                              str(tmp_path / "b_rateints.fits"), 3)  # fmt: skip
    spill.close()
    assert sorted(os.listdir(tmp_path)) == ["b_rateints.fits", "ref"]
    assert Path(out).read_bytes() == ref.read_bytes()
    spill = ProductSpill(chunk, str(tmp_path / "c_rateints.fits"), SHAPE, list(arrays))
    spill.write("data", 0, arrays["data"][:3])
    spill.close()
    assert sorted(os.listdir(tmp_path)) == ["b_rateints.fits", "ref"]
