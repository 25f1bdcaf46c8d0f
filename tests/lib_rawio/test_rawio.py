"""Lazy raw-ramp access (webbcal.lib.rawio) against an eager stdatamodels open.

Every comparison is exact: the streamed values must be bit-identical to the
eager ``open_ramp_input`` model (uint16, or float32 of it), and the lazily
opened model's metadata, tables and ZEROFRAME equal to the eager model's.
Damaged inputs are copies in the test's own directory.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from _shared_paths import REAL
from webbcal.datamodels import InputError, open_ramp_input, to_ramp_model
from webbcal.lib.rawio import (
    NotStreamableError,
    RawRamp,
    materialize,
    open_lazy_ramp_input,
    open_raw,
)
from webbcal.lib.subarray import SubarrayGeometry
from webbcal.simulate import make_detector, simulate_exposure

NINTS, NGROUPS, NY, NX = 3, 5, 24, 40
FGS_UNCAL = REAL / "jwst-wheel" / "fgs_acq1" / "jw01019001001_gs-acq1_2022117003102_uncal.fits"
CORON_UNCAL = (
    REAL / "jwst-wheel" / "header_only_uncal" / "jw01075001001_03105_00009_nrca2_uncal.fits"
)


def _simulate(root: Path, *, nints: int, ngroups: int, zeroframe: bool) -> Path:
    det = make_detector(subarray="GENERIC", geometry=SubarrayGeometry(1, 1, NX, NY), seed=11)
    sim = simulate_exposure(det, ngroups=ngroups, nints=nints, zeroframe=zeroframe, seed=12)
    return sim.save(root)["uncal"]


@pytest.fixture(scope="module")
def multi_int(tmp_path_factory) -> Path:
    """3 integrations x 5 groups of 24 x 40 pixels, with a ZEROFRAME extension."""
    return _simulate(tmp_path_factory.mktemp("rawio_multi"), nints=NINTS, ngroups=NGROUPS,
                     zeroframe=True)  # fmt: skip


@pytest.fixture(scope="module")
def single_int(tmp_path_factory) -> Path:
    """1 integration x 4 groups of 24 x 40 pixels, no ZEROFRAME."""
    return _simulate(tmp_path_factory.mktemp("rawio_single"), nints=1, ngroups=4,
                     zeroframe=False)  # fmt: skip


@pytest.fixture(scope="module")
def eager_multi(multi_int):
    return open_ramp_input(str(multi_int))


def _flat_meta(model) -> dict:
    """``to_flat_dict`` without the SCI array (the only thing a lazy open leaves out)."""
    return {k: v for k, v in model.to_flat_dict().items() if k != "data"}


def _assert_same_flat(lazy: dict, eager: dict) -> None:
    assert set(lazy) == set(eager)
    for key, value in eager.items():
        if isinstance(value, np.ndarray):
            assert type(lazy[key]) is type(value), key
            assert lazy[key].dtype == value.dtype, key
            assert np.array_equal(lazy[key], value), key
        else:
            assert lazy[key] == value, key


# -- RawRamp.read / read_all -------------------------------------------------------------------


def test_open_raw_layout(multi_int):
    raw = open_raw(multi_int)
    with fits.open(multi_int) as hdul:
        dat_loc = hdul["SCI"].fileinfo()["datLoc"]
    assert raw == RawRamp(str(multi_int), (NINTS, NGROUPS, NY, NX), dat_loc, np.dtype(">i2"),
                          32768.0, 1.0)  # fmt: skip
    assert raw.nbytes == NINTS * NGROUPS * NY * NX * 2


def test_read_all_equals_eager(multi_int, eager_multi):
    data = open_raw(multi_int).read_all()
    assert data.dtype == np.uint16 and eager_multi.data.dtype == np.uint16
    assert np.array_equal(data, eager_multi.data)


@pytest.mark.parametrize(
    ("integration", "rows", "groups"),
    [
        (0, slice(None), slice(None)),
        (2, slice(3, 17), slice(1, 4)),
        (-1, slice(0, 1), slice(None, None, 2)),
        (1, slice(20, None), slice(4, 5)),
        (1, slice(-5, None), slice(None, None, -1)),
        (0, slice(0, 100), slice(2, 2)),
        (2, slice(7, 7), slice(None)),
    ],
)
def test_read_block_equals_eager(multi_int, eager_multi, integration, rows, groups):
    raw = open_raw(multi_int)
    block = raw.read(integration, rows, groups)
    expected = eager_multi.data[integration][groups][:, rows, :].astype(np.float32)
    assert block.dtype == np.float32 and block.flags.c_contiguous
    assert block.shape == expected.shape
    assert np.array_equal(block, expected)


@pytest.mark.parametrize("dtype", [np.uint16, np.float64, np.int32])
def test_read_other_dtypes(multi_int, eager_multi, dtype):
    block = open_raw(multi_int).read(1, slice(2, 9), dtype=dtype)
    assert block.dtype == dtype
    assert np.array_equal(block, eager_multi.data[1, :, 2:9].astype(dtype))


def test_read_row_blocks_tile_the_integration(multi_int, eager_multi):
    raw = open_raw(multi_int)
    blocks = [raw.read(1, slice(r, r + 7)) for r in range(0, NY, 7)]
    assert np.array_equal(np.concatenate(blocks, axis=1), eager_multi.data[1].astype(np.float32))


def test_read_covers_the_full_uint16_range(tmp_path, multi_int):
    """Extreme values (0, 32767, 32768, 65535) survive the BZERO sign-bit flip."""
    path = tmp_path / "extremes_uncal.fits"
    with fits.open(multi_int) as hdul:
        data = hdul["SCI"].data.copy()
        data.flat[:6] = [0, 1, 32767, 32768, 32769, 65535]
        hdul["SCI"].data = data
        hdul.writeto(path)
    raw = open_raw(path)
    assert np.array_equal(raw.read_all(), data)
    assert list(raw.read(0, slice(0, 1), slice(0, 1)).ravel()[:6]) == [
        0.0, 1.0, 32767.0, 32768.0, 32769.0, 65535.0,
    ]  # fmt: skip


def test_read_bad_arguments(multi_int):
    raw = open_raw(multi_int)
    with pytest.raises(IndexError, match=r"integration=3 is out of range; expected 0 <= "):
        raw.read(NINTS)
    with pytest.raises(ValueError, match=r"has step 2; expected a contiguous row slice"):
        raw.read(0, slice(0, 10, 2))


def test_read_after_file_shrank(tmp_path, multi_int):
    path = tmp_path / shutil.copy(multi_int, tmp_path / "shrinks_uncal.fits")
    raw = open_raw(path)
    with open(path, "r+b") as fh:
        fh.truncate(raw.offset + raw.nbytes // 2)
    assert np.array_equal(raw.read(0), open_raw(multi_int).read(0))
    with pytest.raises(InputError, match=r"truncated FITS file: SCI data needs bytes up to"):
        raw.read(NINTS - 1)


# -- open_lazy_ramp_input / materialize --------------------------------------------------------


@pytest.mark.parametrize("case", ["multi_int", "single_int"])
def test_lazy_model_equals_eager(request, case):
    path = str(request.getfixturevalue(case))
    eager = open_ramp_input(path)
    lazy, raw = open_lazy_ramp_input(path)
    assert type(lazy) is type(eager)
    assert lazy.data.shape == (*raw.shape[:2], 0, 0) and lazy.data.dtype == np.uint16
    _assert_same_flat(_flat_meta(lazy), _flat_meta(eager))
    assert lazy.meta.filename == eager.meta.filename == Path(path).name
    assert lazy.meta.exposure.zero_frame == eager.meta.exposure.zero_frame
    assert materialize(lazy, raw) is lazy
    _assert_same_flat(lazy.to_flat_dict(), eager.to_flat_dict())


def test_zeroframe_and_tables_equal(multi_int, eager_multi):
    lazy, _ = open_lazy_ramp_input(multi_int)
    assert lazy.zeroframe.shape == (NINTS, NY, NX) and lazy.zeroframe.dtype == np.uint16
    assert np.array_equal(lazy.zeroframe, eager_multi.zeroframe)
    assert np.array_equal(lazy.group, eager_multi.group)
    assert np.array_equal(lazy.int_times, eager_multi.int_times)


def test_materialized_model_converts_like_eager(multi_int, eager_multi):
    lazy, raw = open_lazy_ramp_input(multi_int)
    ramp = to_ramp_model(materialize(lazy, raw))
    ref = to_ramp_model(open_ramp_input(str(multi_int)))
    assert np.array_equal(ramp.data, ref.data) and ramp.data.dtype == np.float32
    assert np.array_equal(ramp.zeroframe, ref.zeroframe)


def test_materialize_rejects_other_ramps(multi_int, single_int):
    lazy, _ = open_lazy_ramp_input(multi_int)
    with pytest.raises(ValueError, match=r"\(nints, ngroups\) = \(3, 5\) but raw ramps .* have"):
        materialize(lazy, open_raw(single_int))


# -- real files ---------------------------------------------------------------------------------


@pytest.mark.skipif(not FGS_UNCAL.exists(), reason=f"real data not available: {FGS_UNCAL}")
def test_real_fgs_ramp(tmp_path):
    """A real flight FGS uncal file: 6 integrations x 2 groups, 128 x 128."""
    eager = open_ramp_input(str(FGS_UNCAL))
    lazy, raw = open_lazy_ramp_input(FGS_UNCAL)
    assert raw.shape == (6, 2, 128, 128)
    assert np.array_equal(raw.read_all(), eager.data)
    assert np.array_equal(raw.read(4, slice(90, 110)), eager.data[4, :, 90:110].astype(np.float32))
    _assert_same_flat(_flat_meta(lazy), _flat_meta(eager))
    _assert_same_flat(materialize(lazy, raw).to_flat_dict(), eager.to_flat_dict())


@pytest.mark.skipif(not CORON_UNCAL.exists(), reason=f"real data not available: {CORON_UNCAL}")
def test_real_header_only_file_rejected_like_eager():
    """Real coronagraphy headers (NGROUPS=10) with SCI cut to 1x1x1x1: both opens refuse it."""
    with pytest.raises(InputError) as eager:
        open_ramp_input(str(CORON_UNCAL))
    with pytest.raises(InputError) as lazy:
        open_lazy_ramp_input(CORON_UNCAL)
    assert str(lazy.value) == str(eager.value)
    assert "NGROUPS=10 but the SCI array has 1 groups" in str(lazy.value)
    raw = open_raw(CORON_UNCAL)
    with fits.open(CORON_UNCAL) as hdul:
        assert np.array_equal(raw.read_all(), hdul["SCI"].data)
    assert raw.shape == (1, 1, 1, 1)


# -- bad inputs ---------------------------------------------------------------------------------


def _patch_cards(path: Path, hdu: str | int, cards: dict) -> None:
    """Rewrite header cards of one HDU in place, byte for byte (the layout is unchanged)."""
    with fits.open(path) as hdul:
        start, end = hdul[hdu].fileinfo()["hdrLoc"], hdul[hdu].fileinfo()["datLoc"]
    with open(path, "r+b") as fh:
        fh.seek(start)
        header = bytearray(fh.read(end - start))
        for key, value in cards.items():
            for i in range(0, len(header), 80):
                if header[i : i + 8].decode().strip() == key:
                    header[i : i + 80] = fits.Card(key, value).image.encode()
                    break
            else:
                raise KeyError(key)
        fh.seek(start)
        fh.write(header)


def _rewrite_sci(src: Path, dst: Path, **kwargs) -> Path:
    """Copy ``src`` with SCI's data replaced (``data``) or SCI made an other HDU (``hdu``)."""
    with fits.open(src) as hdul:
        sci = hdul["SCI"]
        if "hdu" in kwargs:
            new = kwargs["hdu"](sci.data, header=sci.header, name="SCI")
        else:
            new = fits.ImageHDU(kwargs["data"], header=sci.header, name="SCI")
            if kwargs["data"].dtype != np.uint16:
                for key in ("BZERO", "BSCALE"):
                    new.header.remove(key, ignore_missing=True)
        hdul[hdul.index_of("SCI")] = new
        for extra in kwargs.get("append", ()):
            hdul.append(extra)
        hdul.writeto(dst)
    return dst


def test_missing_and_not_fits(tmp_path):
    missing = tmp_path / "missing_uncal.fits"
    with pytest.raises(InputError, match=r"missing_uncal.fits: file not found"):
        open_raw(missing)
    with pytest.raises(InputError, match=r"missing_uncal.fits: file not found"):
        open_lazy_ramp_input(missing)
    text = tmp_path / "text_uncal.fits"
    text.write_text("hello")
    with pytest.raises(InputError, match=r"not a FITS file \(first card is b'hello'"):
        open_raw(text)
    with pytest.raises(InputError, match=r"expected a FITS product \(.fits\)"):
        open_lazy_ramp_input(tmp_path / "x.txt")


def test_no_sci_extension(tmp_path, multi_int):
    path = Path(shutil.copy(multi_int, tmp_path / "nosci_uncal.fits"))
    _patch_cards(path, "SCI", {"EXTNAME": "RAW"})
    for opener in (open_raw, open_lazy_ramp_input):
        with pytest.raises(InputError, match=r"nosci_uncal.fits: no SCI extension; expected the"):
            opener(path)


def test_sci_not_4d(tmp_path, multi_int):
    with fits.open(multi_int) as hdul:
        cube = hdul["SCI"].data[0].copy()
    path = _rewrite_sci(multi_int, tmp_path / "three_d_uncal.fits", data=cube)
    msg = r"three_d_uncal.fits: SCI extension has NAXIS=3 \(shape \(5, 24, 40\)\); expected 4-D"
    with pytest.raises(InputError, match=msg):
        open_raw(path)
    with pytest.raises(InputError, match=msg):
        open_lazy_ramp_input(path)


@pytest.mark.parametrize(
    ("dtype", "found"),
    [
        (np.float32, "BITPIX=-32, BZERO=0, BSCALE=1"),
        (np.int32, "BITPIX=32, BZERO=0, BSCALE=1"),
        (np.int16, "BITPIX=16, BZERO=0, BSCALE=1"),
    ],
)
def test_sci_not_unsigned_16(tmp_path, multi_int, dtype, found):
    with fits.open(multi_int) as hdul:
        data = (hdul["SCI"].data // 2).astype(dtype)
    path = _rewrite_sci(multi_int, tmp_path / "bitpix_uncal.fits", data=data)
    with pytest.raises(NotStreamableError, match=rf"SCI has {found}; raw ramps are streamed only"):
        open_raw(path)
    with pytest.raises(InputError):
        open_lazy_ramp_input(path)


def test_float_sci_rejected_like_eager(tmp_path, multi_int):
    with fits.open(multi_int) as hdul:
        data = hdul["SCI"].data.astype(np.float32)
    path = _rewrite_sci(multi_int, tmp_path / "float_uncal.fits", data=data)
    with pytest.raises(InputError) as eager:
        open_ramp_input(str(path))
    with pytest.raises(InputError) as lazy:
        open_lazy_ramp_input(path)
    assert type(lazy.value) is InputError
    assert str(lazy.value) == str(eager.value)
    assert "SCI has BITPIX=-32 (float32)" in str(lazy.value)


def test_truncated(tmp_path, multi_int):
    raw = open_raw(multi_int)
    path = Path(shutil.copy(multi_int, tmp_path / "cut_uncal.fits"))
    with open(path, "r+b") as fh:
        fh.truncate(raw.offset + raw.nbytes // 2 // 2880 * 2880)
    for opener in (open_raw, open_lazy_ramp_input):
        with pytest.raises(InputError, match=r"cut_uncal.fits: truncated FITS file: HDU 1 \(SCI\)"):
            opener(path)


def test_compressed_sci(tmp_path, multi_int):
    path = _rewrite_sci(multi_int, tmp_path / "rice_uncal.fits", hdu=fits.CompImageHDU)
    msg = r"rice_uncal.fits: SCI is a tile-compressed image HDU .* cannot be streamed"
    with pytest.raises(NotStreamableError, match=msg):
        open_raw(path)
    with pytest.raises(NotStreamableError, match=msg):
        open_lazy_ramp_input(path)


def test_groupdq_not_lazy(tmp_path, multi_int):
    gdq = fits.ImageHDU(np.zeros((NINTS, NGROUPS, NY, NX), np.uint8), name="GROUPDQ")
    with fits.open(multi_int) as hdul:
        data = hdul["SCI"].data
    path = _rewrite_sci(multi_int, tmp_path / "gdq_uncal.fits", data=data, append=[gdq])
    with pytest.raises(NotStreamableError, match=r"gdq_uncal.fits: has a GROUPDQ extension"):
        open_lazy_ramp_input(path)
    assert np.array_equal(open_raw(path).read_all(), data)


def test_ramp_model_not_lazy(tmp_path, single_int):
    path = tmp_path / "x_ramp.fits"
    to_ramp_model(open_ramp_input(str(single_int))).save(path)
    with pytest.raises(NotStreamableError, match=r"x_ramp.fits: DATAMODL='RampModel'; only Level"):
        open_lazy_ramp_input(path)


@pytest.mark.parametrize(
    ("cards", "expected"),
    [
        ({"NGROUPS": 7}, "NGROUPS=7 but the SCI array has 5 groups"),
        ({"NINTS": 2, "INTEND": 2}, "NINTS=2 but the SCI array has 3 integrations"),
        ({"SUBSIZE1": 41}, "SUBSIZE1=41 but the SCI array is 24 rows x 40 columns"),
        ({"TFRAME": -1.0}, "TFRAME=-1.0; expected the frame time in seconds"),
    ],
)
def test_header_errors_match_eager(tmp_path, multi_int, cards, expected):
    path = Path(shutil.copy(multi_int, tmp_path / "hdr_uncal.fits"))
    _patch_cards(path, 0, cards)
    with pytest.raises(InputError) as eager:
        open_ramp_input(str(path))
    with pytest.raises(InputError) as lazy:
        open_lazy_ramp_input(path)
    assert str(lazy.value) == str(eager.value)
    assert expected in str(lazy.value)
