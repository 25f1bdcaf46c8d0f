"""Local CRDS contexts written by webbcal, read back by the real crds client."""

import os
import time
from pathlib import Path

import pytest

from webbcal.crds_client import (
    CrdsUnavailableError,
    ReferenceLookupError,
    RmapEntry,
    best_references,
    crds_environment,
    get_context_name,
    mapping_checksum,
    pars_reference,
    write_local_context,
)

DET_SUB = ("META.INSTRUMENT.DETECTOR", "META.SUBARRAY.NAME")


@pytest.fixture
def gain_context(tmp_path, make_gain, make_pars):
    """A NIRCam context: gain by DETECTOR/SUBARRAY + UseAfter, N/A types, pars files."""
    src = tmp_path / "src"
    src.mkdir()
    files = {
        "a1_2014": make_gain(src / "gain_a1_2014.fits", "NRCA1", "FULL", 1.0),
        "a1_2023": make_gain(src / "gain_a1_2023.fits", "NRCA1", "FULL", 2.0),
        "a2_sub": make_gain(src / "gain_a2_sub640.fits", "NRCA2", "SUB640", 3.0),
        "jump": make_pars(src / "pars_jump.asdf", "jwst.jump.JumpStep", rejection_threshold=5.5),
        "ramp_img": make_pars(src / "pars_ramp_img.asdf", "jwst.ramp_fitting.RampFitStep"),
    }
    entries = [
        RmapEntry(
            "NIRCAM",
            "gain",
            DET_SUB,
            {
                ("NRCA1", "FULL|SUB640"): [
                    ("2014-01-01 00:00:00", files["a1_2014"]),
                    ("2023-01-01 00:00:00", files["a1_2023"]),
                ],
                ("NRCA2", "SUB640"): [("2014-01-01 00:00:00", files["a2_sub"])],
            },
        ),
        RmapEntry(
            "NIRCAM",
            "readnoise",
            ("META.INSTRUMENT.DETECTOR",),
            {"NRCA1": [("2014-01-01 00:00:00", "N/A")]},
        ),
        RmapEntry("NIRCAM", "pars-jumpstep", (), {(): [("2014-01-01 00:00:00", files["jump"])]}),
        RmapEntry(
            "NIRCAM",
            "pars-rampfitstep",
            ("META.EXPOSURE.TYPE",),
            {("NRC_IMAGE",): [("2014-01-01 00:00:00", files["ramp_img"])]},
        ),
        RmapEntry("NIRCAM", "pars-darkcurrentstep", (), {(): [("2014-01-01 00:00:00", "N/A")]}),
    ]
    root = tmp_path / "cache"
    context = write_local_context(root, entries, not_applicable={"nircam": ["dark"]})
    return root, context, files


def test_layout_and_checksums_verified_by_crds_loader(gain_context):
    from crds.core import rmap, utils
    from crds.core.exceptions import ChecksumError

    root, context, _files = gain_context
    assert context == "jwst_9001.pmap"
    mapdir = root / "mappings" / "jwst"
    names = sorted(p.name for p in mapdir.iterdir())
    assert names == [
        "jwst_9001.pmap",
        "jwst_nircam_9001.imap",
        "jwst_nircam_gain_9001.rmap",
        "jwst_nircam_pars-darkcurrentstep_9001.rmap",
        "jwst_nircam_pars-jumpstep_9001.rmap",
        "jwst_nircam_pars-rampfitstep_9001.rmap",
        "jwst_nircam_readnoise_9001.rmap",
    ]
    assert (root / "references/jwst/nircam/gain_a1_2023.fits").is_file()
    assert (root / "config/jwst/server_config").is_file()
    assert os.environ.get("CRDS_IGNORE_MAPPING_CHECKSUM", "false").lower() in ("false", "0")
    for path in mapdir.iterdir():
        text = path.read_text()
        stripped = "".join(x for x in text.splitlines(True) if "sha1sum" not in x)
        assert mapping_checksum(text) == utils.str_checksum(stripped)
        loaded = rmap.load_mapping(str(path))  # verifies sha1sum
        assert loaded.header["sha1sum"] == mapping_checksum(text)
    gain = (mapdir / "jwst_nircam_gain_9001.rmap").read_text()
    header_keys = rmap.load_mapping(str(mapdir / "jwst_nircam_gain_9001.rmap")).header.keys()
    for key in ("mapping", "name", "parkey", "classes", "derived_from", "filekind", "instrument"):
        assert key in header_keys
    tampered = root / "tampered"
    tampered.mkdir()
    bad = tampered / "jwst_nircam_gain_9001.rmap"
    bad.write_text(gain.replace("gain_a1_2014.fits", "gain_a1_2015.fits"))
    with pytest.raises(ChecksumError):
        rmap.load_mapping(str(bad))


@pytest.mark.parametrize(
    ("detector", "subarray", "date", "expected"),
    [
        ("NRCA1", "FULL", "2024-03-01", "gain_a1_2023.fits"),
        ("NRCA1", "SUB640", "2024-03-01", "gain_a1_2023.fits"),
        ("NRCA1", "FULL", "2022-12-31", "gain_a1_2014.fits"),
        ("NRCA1", "FULL", "2023-01-01", "gain_a1_2023.fits"),
        ("NRCA2", "SUB640", "2024-03-01", "gain_a2_sub640.fits"),
    ],
)
def test_selection_by_match_and_useafter(
    gain_context, nircam_parameters, detector, subarray, date, expected
):
    root, _context, _files = gain_context
    with crds_environment(root):
        refs = best_references(nircam_parameters(detector, subarray, date), ["gain"])
    assert refs == {"gain": str(root / "references/jwst/nircam" / expected)}


def test_not_applicable_is_none(gain_context, nircam_parameters):
    root, _context, _files = gain_context
    with crds_environment(root):
        refs = best_references(nircam_parameters(), ["readnoise", "dark", "gain"])
    assert refs["readnoise"] is None  # N/A inside the rmap
    assert refs["dark"] is None  # N/A in the imap
    assert list(refs) == ["readnoise", "dark", "gain"]
    assert refs["gain"].endswith("gain_a1_2023.fits")


def test_unknown_detector_names_value(gain_context, nircam_parameters):
    root, _context, _files = gain_context
    with crds_environment(root), pytest.raises(ReferenceLookupError, match="NRCB1") as info:
        best_references(nircam_parameters("NRCB1"), ["gain"], filename="jw_test_uncal.fits")
    err = info.value
    assert err.reftype == "gain"
    assert err.parameter == "META.INSTRUMENT.DETECTOR"
    assert err.value == "NRCB1"
    assert err.context == "jwst_9001.pmap"
    assert "jw_test_uncal.fits" in str(err)
    assert "jwst_9001.pmap" in str(err)
    assert "['NRCA1', 'NRCA2']" in str(err)


def test_date_before_first_useafter(gain_context, nircam_parameters):
    root, _context, _files = gain_context
    with crds_environment(root), pytest.raises(ReferenceLookupError, match="2010-01-01"):
        best_references(nircam_parameters(date="2010-01-01"), ["gain"])


def test_unknown_reftype_and_instrument(gain_context, nircam_parameters):
    root, _context, _files = gain_context
    with crds_environment(root):
        with pytest.raises(ReferenceLookupError, match="'flat' is not defined"):
            best_references(nircam_parameters(), ["flat"])
        params = dict(nircam_parameters(), **{"META.INSTRUMENT.NAME": "MIRI"})
        with pytest.raises(ReferenceLookupError, match="META.INSTRUMENT.NAME='MIRI'"):
            best_references(params, ["gain"])
        assert best_references(nircam_parameters(), []) == {}


def test_pars_reference(gain_context, nircam_parameters):
    root, _context, files = gain_context
    with crds_environment(root):
        jump = pars_reference(nircam_parameters(), "JumpStep")
        ramp = pars_reference(nircam_parameters(), "RampFitStep")
        ramp_other = pars_reference(nircam_parameters(exp_type="NRC_TSIMAGE"), "RampFitStep")
        dark = pars_reference(nircam_parameters(), "DarkCurrentStep")
        missing = pars_reference(nircam_parameters(), "SaturationStep")
    assert jump == str(root / "references/jwst/nircam/pars_jump.asdf")
    assert Path(jump).read_bytes() == Path(files["jump"]).read_bytes()
    assert ramp == str(root / "references/jwst/nircam/pars_ramp_img.asdf")
    assert ramp_other is None  # no EXP_TYPE match
    assert dark is None  # N/A
    assert missing is None  # reftype absent from the context


def test_context_name_and_env_var_mode(gain_context, nircam_parameters, monkeypatch):
    root, _context, _files = gain_context
    monkeypatch.setenv("CRDS_PATH", str(root))
    monkeypatch.setenv("CRDS_SERVER_URL", "")  # offline
    assert get_context_name() == "jwst_9001.pmap"
    assert best_references(nircam_parameters(), ["gain"])["gain"].endswith("gain_a1_2023.fits")
    # Our temporary variables are gone again.
    assert "CRDS_CONFIG_URI" not in os.environ or os.environ["CRDS_CONFIG_URI"] == "None"
    assert os.environ["CRDS_SERVER_URL"] == ""


def test_switch_between_caches_in_one_process(tmp_path, make_gain, nircam_parameters, monkeypatch):
    """Two caches with the same mapping names but different files."""
    roots = []
    for label, value in (("one", 1.0), ("two", 2.0)):
        src = make_gain(tmp_path / f"gain_{label}.fits", "NRCA1", "FULL", value)
        entry = RmapEntry(
            "NIRCAM", "gain", DET_SUB, {("NRCA1", "FULL"): [("2014-01-01 00:00:00", src)]}
        )
        roots.append(tmp_path / label)
        write_local_context(roots[-1], [entry])
    params = nircam_parameters()
    for _ in range(2):
        for root, label in zip(roots, ("one", "two")):
            with crds_environment(root):
                assert best_references(params, ["gain"])["gain"] == str(
                    root / f"references/jwst/nircam/gain_{label}.fits"
                )
            monkeypatch.setenv("CRDS_PATH", str(root))
            monkeypatch.setenv("CRDS_SERVER_URL", "")
            assert best_references(params, ["gain"])["gain"].startswith(str(root))


def test_rewriting_a_context_in_place_is_seen(tmp_path, make_gain, nircam_parameters):
    root = tmp_path / "cache"
    first = make_gain(tmp_path / "first.fits", "NRCA1", "FULL", 1.0)
    second = make_gain(tmp_path / "second.fits", "NRCA1", "FULL", 2.0)
    for src in (first, second):
        entry = RmapEntry(
            "NIRCAM", "gain", DET_SUB, {("NRCA1", "FULL"): [("2014-01-01 00:00:00", src)]}
        )
        write_local_context(root, [entry])
        with crds_environment(root):
            got = best_references(nircam_parameters(), ["gain"])["gain"]
        assert Path(got).name == Path(src).name


@pytest.mark.parametrize(
    "env",
    [
        {},  # nothing set: ~/crds_cache (empty) + public server, unreachable here
        {"CRDS_SERVER_URL": "https://127.0.0.1:9"},
        {"CRDS_SERVER_URL": ""},
    ],
)
def test_empty_cache_unavailable_fast(env, monkeypatch, nircam_parameters):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    start = time.monotonic()
    with pytest.raises(CrdsUnavailableError, match="CRDS_PATH") as info:
        best_references(nircam_parameters(), ["gain"])
    assert time.monotonic() - start < 10.0
    assert "server_config missing" in str(info.value)
    assert "CRDS_SERVER_URL" in str(info.value)
    with pytest.raises(CrdsUnavailableError):
        get_context_name()


def test_crds_environment_restores(tmp_path, gain_context):
    root, _context, _files = gain_context
    os.environ["CRDS_PATH"] = "/somewhere/else"
    with crds_environment(root, context="jwst_9001.pmap"):
        assert os.environ["CRDS_PATH"] == str(root)
        assert os.environ["CRDS_CONTEXT"] == "jwst_9001.pmap"
        assert get_context_name() == "jwst_9001.pmap"
    assert os.environ["CRDS_PATH"] == "/somewhere/else"
    assert "CRDS_CONTEXT" not in os.environ


def test_offline_missing_context_is_unavailable(gain_context, nircam_parameters):
    root, _context, _files = gain_context
    with crds_environment(root), pytest.raises(CrdsUnavailableError, match="jwst_9999.pmap"):
        best_references(nircam_parameters(), ["gain"], context="jwst_9999.pmap")


def test_write_local_context_validation(tmp_path, make_gain):
    src = make_gain(tmp_path / "g.fits", "NRCA1", "FULL", 1.0)
    root = tmp_path / "cache"

    def entry(key=("NRCA1", "FULL"), date="2014-01-01 00:00:00", ref=src, parkeys=DET_SUB):
        return RmapEntry("NIRCAM", "gain", parkeys, {key: [(date, ref)]})

    with pytest.raises(ValueError, match="useafter='2014-01-01T00:00:00'"):
        write_local_context(root, [entry(date="2014-01-01T00:00:00")])
    with pytest.raises(ValueError, match="has 1 values; expected 2"):
        write_local_context(root, [entry(key=("NRCA1",))])
    with pytest.raises(FileNotFoundError, match="nope.fits"):
        write_local_context(root, [entry(ref=str(tmp_path / "nope.fits"))])
    with pytest.raises(ValueError, match="instrument='HUBBLE'"):
        write_local_context(root, [RmapEntry("HUBBLE", "gain", (), {})])
    with pytest.raises(ValueError, match="two RmapEntry"):
        write_local_context(root, [entry(), entry()])
    with pytest.raises(ValueError, match="context_number=10000"):
        write_local_context(root, [entry()], context_number=10000)
    other = tmp_path / "other"
    other.mkdir()
    clash = make_gain(other / "g.fits", "NRCA1", "FULL", 2.0)
    with pytest.raises(ValueError, match="share the basename"):
        write_local_context(
            root,
            [
                entry(),
                RmapEntry(
                    "NIRCAM",
                    "readnoise",
                    DET_SUB,
                    {("NRCA1", "FULL"): [("2014-01-01 00:00:00", clash)]},
                ),
            ],
        )


def test_lookup_error_pickles():
    import pickle

    err = ReferenceLookupError(
        "gain",
        "NOT FOUND parameter='META.INSTRUMENT.DETECTOR' value='NRCB1' is not in ['NRCA1']",
        context="jwst_9001.pmap",
        filename="x.fits",
    )
    back = pickle.loads(pickle.dumps(err))
    assert str(back) == str(err)
    assert (back.parameter, back.value) == ("META.INSTRUMENT.DETECTOR", "NRCB1")


def test_cache_path_with_upper_case_letters(tmp_path, make_gain, nircam_parameters):
    """crds lower-cases CRDS_CONFIG_URI, so the client must never route a path through it."""
    gain = make_gain(tmp_path / "gain.fits", "NRCA1", "FULL", 1.5)
    entry = RmapEntry(
        "NIRCAM", "gain", DET_SUB, {("NRCA1", "FULL"): [("2014-01-01 00:00:00", gain)]}
    )
    root = tmp_path / "My_CRDS_Cache"
    write_local_context(root, [entry])
    with crds_environment(root):
        found = best_references(nircam_parameters(), ["gain"])
    assert found["gain"] == str(root / "references" / "jwst" / "nircam" / "gain.fits")
