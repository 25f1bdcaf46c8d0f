"""``webbcal quicklook``: rendered PNGs are valid, of the requested size and not blank."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from _tools_data import FGS, MIRI, MSA, need, write_product

from webbcal import dqflags
from webbcal.cli import main
from webbcal.tools.quicklook import DEFAULT_SIZE, render_image, render_pixel

pytest.importorskip("matplotlib")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _read_png(path) -> np.ndarray:
    """Check the PNG structure (signature, chunk CRCs, IHDR, IEND) and decode its pixels."""
    from PIL import Image

    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    pos, kinds = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(kind + body) == crc, kind
        kinds.append(kind)
        pos += 12 + length
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND" and b"IDAT" in kinds
    width, height = struct.unpack(">II", data[16:24])
    with Image.open(path) as image:
        pixels = np.asarray(image.convert("RGBA"))
    assert pixels.shape[:2] == (height, width)
    return pixels


def _check(path, size=DEFAULT_SIZE):
    pixels = _read_png(path)
    assert pixels.shape[:2] == (size[1], size[0])
    assert len(np.unique(pixels.reshape(-1, pixels.shape[2]), axis=0)) > 50  # not blank
    return pixels


def test_rate_image_with_dq_overlay(webbcal_products, tmp_path):
    out = tmp_path / "rate.png"
    assert main(["quicklook", str(webbcal_products["rate"]), "-o", str(out), "--dq"]) == 0
    _check(out)
    out2 = tmp_path / "rateints.png"
    render_image(str(webbcal_products["rateints"]), str(out2), stretch="asinh",
                 size=(640, 480))  # fmt: skip
    _check(out2, (640, 480))


def test_dq_overlay_paints_flagged_pixels(tmp_path):
    rng = np.random.default_rng(5)
    sci = rng.normal(1.0, 0.1, (64, 64)).astype(np.float32)
    dq = np.zeros((64, 64), np.uint32)
    dq[20:44, 20:44] = dqflags.DO_NOT_USE
    path = write_product(tmp_path / "jw01234001001_01101_00001_nrca1_cal.fits",
                         {"INSTRUME": "NIRCAM", "EXP_TYPE": "NRC_IMAGE", "DETECTOR": "NRCA1"},
                         sci=sci, sci_header={"BUNIT": "MJy/sr"}, dq=dq)  # fmt: skip
    plain = _check(render_image(str(path), str(tmp_path / "a.png")) and tmp_path / "a.png")
    flagged = _check(render_image(str(path), str(tmp_path / "b.png"), dq_overlay=True)
                     and tmp_path / "b.png")  # fmt: skip
    red = (flagged[..., 0].astype(int) - flagged[..., 2]) > 80
    assert red.sum() > 1000 and ((plain[..., 0].astype(int) - plain[..., 2]) > 80).sum() < 50


def test_ramp_pixel_with_jumps(webbcal_products, tmp_path):
    from astropy.io import fits

    gdq = fits.getdata(webbcal_products["ramp"], "GROUPDQ")
    _, _, y, x = (int(v[0]) for v in np.nonzero(gdq & dqflags.JUMP_DET))
    out = tmp_path / "pixel.png"
    assert main(["quicklook", str(webbcal_products["ramp"]), "--pixel", str(x), str(y),
                 "-o", str(out)]) == 0  # fmt: skip
    _check(out)


@need(*MSA, MIRI, FGS)
def test_real_products(tmp_path):
    _check(render_image(str(MSA[0]), str(tmp_path / "msa.png"), dq_overlay=True)
           and tmp_path / "msa.png")  # fmt: skip
    _check(render_image(str(MIRI), str(tmp_path / "miri.png"), integration=9)
           and tmp_path / "miri.png")  # fmt: skip
    _check(render_pixel(str(FGS), str(tmp_path / "fgs.png"), 65, 97) and tmp_path / "fgs.png")


@need(MIRI, FGS)
@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        ([str(MIRI), "--pixel", "1", "1"], 1, "--pixel needs a ramp"),
        ([str(FGS), "--pixel", "500", "1"], 2, "outside the 128 x 128 array"),
        ([str(MIRI), "--integration", "10"], 2, "integration=10 is out of range"),
        ([str(MIRI), "--stretch", "log"], 2, "invalid choice: 'log'"),
        (["/no/such.fits"], 1, "file not found"),
    ],
)
def test_bad_requests(args, status, message, tmp_path, capsys):
    assert main(["quicklook", *args, "-o", str(tmp_path / "x.png")]) == status
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
