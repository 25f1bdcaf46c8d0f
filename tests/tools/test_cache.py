"""``webbcal cache verify [--fix]`` on a local CRDS context with deliberately damaged files."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import asdf
import numpy as np
import pytest
from astropy.io import fits

from webbcal.cli import main
from webbcal.crds_client import RmapEntry, write_local_context, write_server_config
from webbcal.tools import cache as cache_mod
from webbcal.tools.cache import check_file, verify_cache

PARKEYS = ("META.INSTRUMENT.DETECTOR",)


def _fits_ref(path: Path, *, checksum: bool) -> Path:
    data = np.arange(64 * 64, dtype=np.float32).reshape(64, 64)
    hdu = fits.PrimaryHDU()
    hdu.header.update(PEDIGREE="GROUND", USEAFTER="2020-01-01T00:00:00", DESCRIP="test ref")
    fits.HDUList([hdu, fits.ImageHDU(data, name="SCI")]).writeto(path, checksum=checksum)
    return path


def _asdf_ref(path: Path) -> Path:
    tree = {"meta": {"pedigree": "GROUND", "useafter": "2020-01-01T00:00:00",
                     "description": "test"}, "data": np.linspace(0, 1, 4096)}  # fmt: skip
    af = asdf.AsdfFile(tree)
    af.write_to(path)
    return path


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    """A cache whose server_config records no checksums and no local context."""
    return _make_cache(tmp_path, monkeypatch, "unrecorded")


def _make_cache(tmp_path, monkeypatch, kind):
    request = type("Request", (), {"param": kind})
    src = tmp_path / "src"
    src.mkdir()
    refs = {
        "gain": _fits_ref(src / "jwst_nircam_gain_0001.fits", checksum=True),
        "readnoise": _fits_ref(src / "jwst_nircam_readnoise_0001.fits", checksum=False),
        "dark": _fits_ref(src / "jwst_nircam_dark_0001.fits", checksum=True),
        "linearity": _fits_ref(src / "jwst_nircam_linearity_0001.fits", checksum=True),
        "distortion": _asdf_ref(src / "jwst_nircam_distortion_0001.asdf"),
    }
    entries = [RmapEntry("NIRCAM", reftype, PARKEYS,
                         {("NRCA1",): [("2020-01-01 00:00:00", str(path))]})
               for reftype, path in refs.items()]  # fmt: skip
    root = tmp_path / "crds"
    context = write_local_context(root, entries)
    if request.param == "unrecorded":
        # A cache without recorded checksums (as a cache filled by hand): the files'
        # own checksums are all there is.
        (root / "config" / "jwst" / "server_config").unlink()
        write_server_config(root, context)
    monkeypatch.setenv("CRDS_PATH", str(root))
    monkeypatch.setenv("CRDS_SERVER_URL", "")
    return root


@pytest.fixture()
def local_cache(tmp_path, monkeypatch):
    """The cache of a local context as write_local_context leaves it (checksums recorded)."""
    return _make_cache(tmp_path, monkeypatch, "local")


def _ref(root: Path, reftype: str) -> Path:
    return next((root / "references" / "jwst" / "nircam").glob(f"*_{reftype}_*"))


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x5A
    path.write_bytes(bytes(data))


def test_clean_cache(cache, capsys):
    results = {Path(r.path).name: r for r in verify_cache()}
    statuses = {name.split("_")[2] if name.count("_") > 2 else name: r.status
                for name, r in results.items()}  # fmt: skip
    assert statuses["gain"] == "ok" and statuses["readnoise"] == "unverifiable"
    assert statuses["distortion"] == "ok"
    assert all(r.status == "ok" for n, r in results.items() if n.endswith("map"))
    assert main(["cache", "verify"]) == 0
    assert "12 cached files checked: 11 ok, 1 unverifiable" in capsys.readouterr().out


def test_corrupt_files_are_found(cache, capsys):
    _flip(_ref(cache, "dark"), -100)  # a bit in the SCI data
    linearity = _ref(cache, "linearity")
    linearity.write_bytes(linearity.read_bytes()[:-2880])  # truncated download
    distortion = _ref(cache, "distortion")
    _flip(distortion, distortion.read_bytes().find(b"\xd3BLK") + 100)
    rmap = next((cache / "mappings" / "jwst").glob("*gain*.rmap"))
    rmap.write_text(rmap.read_text().replace("2020-01-01", "2021-01-01"))
    results = {Path(r.path).name: r for r in verify_cache()}
    bad = {n for n, r in results.items() if r.status == "corrupt"}
    assert bad == {_ref(cache, "dark").name, linearity.name, distortion.name, rmap.name}
    assert "Datasum verification failed" in results[_ref(cache, "dark").name].detail
    assert "the file is corrupted" in results[linearity.name].detail
    assert "does not match given checksum" in results[distortion.name].detail
    assert main(["cache", "verify", "--json"]) == 1
    assert len([r for r in json.loads(capsys.readouterr().out) if r["status"] == "corrupt"]) == 4


def test_partial_block_is_truncation(cache):
    gain = _ref(cache, "gain")
    gain.write_bytes(gain.read_bytes()[:-100])
    result = check_file(gain)
    assert result.status == "corrupt" and "truncated" in result.detail


def test_fix_offline_says_it_cannot(cache, capsys):
    _flip(_ref(cache, "dark"), -100)
    assert main(["cache", "verify", "--fix"]) == 1
    out = capsys.readouterr().out
    assert "UNFIXED" in out and "cannot re-fetch: CRDS is offline" in out


def test_fix_online_refetches(cache, tmp_path, monkeypatch, capsys):
    dark = _ref(cache, "dark")
    good = tmp_path / "good.fits"
    shutil.copyfile(dark, good)
    _flip(dark, -100)
    calls = []

    def fake_dump_files(context, files):
        calls.append((context, files))
        shutil.copyfile(good, dark)

    import crds.client.api

    monkeypatch.setattr(cache_mod, "_online", lambda: True)
    monkeypatch.setattr(cache_mod, "_catalog", lambda names: {})
    monkeypatch.setattr(cache_mod, "_environment", lambda root: _Null())
    monkeypatch.setattr(crds.client.api, "dump_files", fake_dump_files)
    results = {Path(r.path).name: r for r in verify_cache(fix=True)}
    assert results[dark.name].status == "refetched"
    assert calls == [("jwst_9001.pmap", [dark.name])]
    assert check_file(dark).status == "ok"


def test_catalogue_checks_size_and_sha1(cache):
    gain = _ref(cache, "gain")
    sha1 = hashlib.sha1(gain.read_bytes()).hexdigest()
    assert check_file(gain, {"size": gain.stat().st_size, "sha1sum": sha1}).status == "ok"
    wrong = check_file(gain, {"size": gain.stat().st_size, "sha1sum": "0" * 40})
    assert wrong.status == "corrupt" and "!= CRDS" in wrong.detail
    short = check_file(gain, {"size": 10, "sha1sum": sha1})
    assert short.status == "corrupt" and "CRDS says 10" in short.detail


def test_missing_cache_and_usage(tmp_path, capsys):
    assert main(["cache", "verify", "--path", str(tmp_path / "nope")]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert main(["cache"]) == 2
    assert main(["cache", "clean"]) == 2


class _Null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_local_context_records_checksums(local_cache, capsys):
    assert main(["cache", "verify"]) == 0
    assert "12 cached files checked: 12 ok" in capsys.readouterr().out
    readnoise = _ref(local_cache, "readnoise")  # no CHECKSUM/DATASUM of its own
    expected = hashlib.sha1(readnoise.read_bytes()).hexdigest()
    _flip(readnoise, -100)
    actual = hashlib.sha1(readnoise.read_bytes()).hexdigest()
    assert main(["cache", "verify"]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"CORRUPT     {readnoise}: sha1 {actual} != recorded {expected}",
        "12 cached files checked: 1 corrupt, 11 ok",
    ]
    assert main(["cache", "verify", "--fix"]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"UNFIXED     {readnoise}: sha1 {actual} != recorded {expected}; cannot re-fetch: the "
        "cache holds a local context written by webbcal, which no CRDS server has; write the "
        "context again from the original reference files (rerun 'webbcal demo' for the "
        "demo's)",
        "12 cached files checked: 11 ok, 1 unfixed",
    ]
    check = {Path(r.path).name: r for r in verify_cache()}[readnoise.name]
    assert check.method == f"checksum recorded in {local_cache / 'config/jwst/server_config'}"


def test_second_local_context_keeps_the_first_ones_checksums(local_cache, tmp_path):
    gain = tmp_path / "jwst_nircam_gain_0002.fits"
    _fits_ref(gain, checksum=False)
    entry = RmapEntry("NIRCAM", "gain", PARKEYS, {("NRCA1",): [("2020-01-01 00:00:00", str(gain))]})
    write_local_context(local_cache, [entry], context_number=9002)
    results = {Path(r.path).name: r.status for r in verify_cache()}
    assert results[gain.name] == "ok" and results[_ref(local_cache, "readnoise").name] == "ok"
