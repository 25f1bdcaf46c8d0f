"""The astropy reader of stage-1 references against stdatamodels on the same files.

Every array must be identical (dtype in native byte order, values, NaN) to what
``reference_array`` gives from the stdatamodels model, and every file the reader
does not certainly read the same way must fall back to the model path (same
result, same error, same warnings).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from astropy.io import fits
from stdatamodels.jwst import datamodels as dm

from webbcal.lib.reffiles import ReferenceFileError, load_reference, reference_array
from webbcal.lib.reffits import FAST_MODELS, FitsReference, _surely_valid, open_fits_reference
from webbcal.lib.subarray import SubarrayGeometry

REAL_SUPERBIAS = Path(
    "/work/shared/data/real/crds-refs/from-eureka/jwst_nirspec_superbias_0075.fits"
)

#: reftype -> (model class, arrays the stage-1 steps read)
CLASSES = {
    "mask": (dm.MaskModel, ("dq",)),
    "saturation": (dm.SaturationModel, ("data", "dq")),
    "superbias": (dm.SuperBiasModel, ("data", "dq")),
    "linearity": (dm.LinearityModel, ("coeffs", "dq")),
    "gain": (dm.GainModel, ("data",)),
    "readnoise": (dm.ReadnoiseModel, ("data",)),
    "ipc": (dm.IPCModel, ("data",)),
}


def _science(instrument="NIRCAM", detector="NRCA1"):
    """The metadata of a science exposure that ``load_reference`` checks."""
    return SimpleNamespace(
        meta=SimpleNamespace(instrument=SimpleNamespace(name=instrument, detector=detector))
    )


def _assert_identical(fast, slow, native=True):
    """Same values and type; arrays read directly come in native byte order (the
    model's in the file's), those of the model path exactly as the model's."""
    if native:
        assert fast.dtype == slow.dtype.newbyteorder("=")
        assert fast.dtype.isnative
    else:
        assert fast.dtype == slow.dtype  # byte order included
    assert fast.shape == slow.shape
    assert np.array_equal(fast, slow, equal_nan=True)


def _compare(path, cls, attributes, geometries, science=None):
    science = science or _science()
    fast = load_reference(str(path), cls, science, fast=True)
    assert isinstance(fast, FitsReference)
    slow = load_reference(str(path), cls, science)
    for attr in attributes:
        for geom in geometries:
            _assert_identical(reference_array(fast, attr, geom), reference_array(slow, attr, geom))
    return fast


def _copy(src, tmp_path, name=None):
    dest = tmp_path / (name or Path(src).name)
    shutil.copy(src, dest)
    return dest


def _delete(extname):
    def edit(hdul):
        del hdul[extname]

    return edit


def _edit(path, edit):
    with fits.open(path, mode="update") as hdul:
        edit(hdul)
    return path


@pytest.fixture(scope="module")
def geometries(nircam_case):
    """The case's SUB160P geometry and a region cut out of it."""
    with fits.open(nircam_case.refs["gain"]) as hdul:
        h = hdul[0].header
        x0, y0, nx, ny = h["SUBSTRT1"], h["SUBSTRT2"], h["SUBSIZE1"], h["SUBSIZE2"]
    return SubarrayGeometry(x0, y0, nx, ny), SubarrayGeometry(x0 + 7, y0 + 20, nx - 30, ny - 45)


@pytest.mark.parametrize("reftype", [r for r in CLASSES if r != "ipc"])
def test_simulated_references_identical(nircam_case, geometries, reftype):
    cls, attributes = CLASSES[reftype]
    fast = _compare(nircam_case.refs[reftype], cls, attributes, geometries)
    model = cls(str(nircam_case.refs[reftype]))
    assert fast.meta.filename == model.meta.filename
    assert fast.meta.instrument.detector == model.meta.instrument.detector
    for key in ("xstart", "ystart", "xsize", "ysize"):
        assert getattr(fast.meta.subarray, key) == getattr(model.meta.subarray, key)


def test_ipc_kernel_identical(nircam_case):
    path = str(nircam_case.refs["ipc"])
    model_data = np.asarray(dm.IPCModel(path).data)
    as_stored = open_fits_reference(path, dm.IPCModel)
    _assert_identical(np.asarray(as_stored.data), model_data, native=False)
    fast = open_fits_reference(path, dm.IPCModel, native=True)
    _assert_identical(np.asarray(fast.data), model_data)
    with pytest.raises(AttributeError):
        fast.meta.subarray  # noqa: B018 - not in the IPC schema, as for the model


def test_cut_reads_only_the_region(nircam_case, geometries):
    full, cut = geometries
    ref = open_fits_reference(str(nircam_case.refs["linearity"]), dm.LinearityModel)
    out = reference_array(ref, "coeffs", cut)
    assert out.shape[1:] == (cut.ysize, cut.xsize) and out.base is None


def test_dq_translated_through_dq_def(nircam_case, geometries, tmp_path):
    """Own bit planes (mixed-case columns, as in real files) map to standard flags."""
    rng = np.random.default_rng(5)
    path = _copy(nircam_case.refs["saturation"], tmp_path, "remapped_saturation.fits")

    def edit(hdul):
        shape = hdul["DQ"].data.shape
        dq = rng.integers(0, 2**32, size=shape, dtype=np.uint64).astype(np.uint32)
        dq[rng.random(shape) < 0.5] = 0  # most pixels of a real reference have no flag
        hdul["DQ"].data = dq
        table = np.array(
            [(0, 1, "HOT", "h"), (2, 4, "DEAD", "d"), (5, 48, "NO_SAT_CHECK", "n"),
             (31, 2**31, "REFERENCE_PIXEL", "r"), (7, 0, "DO_NOT_USE", "z")],
            dtype=[("Bit", "<i4"), ("Value", "<u4"), ("Name", "S40"), ("Description", "S80")],
        )  # fmt: skip
        hdul["DQ_DEF"] = fits.BinTableHDU(table, name="DQ_DEF")

    _edit(path, edit)
    _compare(path, dm.SaturationModel, ("data", "dq"), geometries)


@pytest.mark.skipif(not REAL_SUPERBIAS.exists(), reason="real data not available")
def test_real_superbias(tmp_path):
    """Real NIRSpec SUB512 superbias: its ASDF extension sends it to the model path; the
    same file without it is read directly, with the same arrays."""
    science = _science("NIRSPEC", "NRS1")
    geoms = (SubarrayGeometry(1025, 957, 512, 32), SubarrayGeometry(1100, 960, 300, 20))
    assert open_fits_reference(str(REAL_SUPERBIAS), dm.SuperBiasModel) is None
    original = load_reference(str(REAL_SUPERBIAS), dm.SuperBiasModel, science, fast=True)
    assert not isinstance(original, FitsReference)
    stripped = _copy(REAL_SUPERBIAS, tmp_path)
    _edit(stripped, _delete("ASDF"))
    fast = load_reference(str(stripped), dm.SuperBiasModel, science, fast=True)
    assert isinstance(fast, FitsReference)
    for attr in ("data", "dq"):
        for geom in geoms:
            _assert_identical(
                reference_array(fast, attr, geom), reference_array(original, attr, geom)
            )


def _set(key, value, ext=0):
    return lambda hdul: hdul[ext].header.__setitem__(key, value)


def _sci(fn):
    def edit(hdul):
        hdul["SCI"].data = fn(hdul["SCI"].data)

    return edit


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 20000])


def _unparsable_card(path):
    """Replace the AUTHOR card by one whose string value is not terminated."""
    data = bytearray(path.read_bytes())
    i = data.find(b"AUTHOR  =")
    data[i : i + 80] = b"MYKEY   = 'unterminated string".ljust(80)
    path.write_bytes(bytes(data))


FALLBACKS = {
    # kind: (reftype, edit of the HDU list, or a callable on the path)
    "detector-not-in-enum": ("gain", _set("DETECTOR", "FOO")),
    "substrt-float": ("gain", _set("SUBSTRT1", 1.5)),
    "fastaxis-string": ("gain", _set("FASTAXIS", "x")),
    "sci-float64": ("gain", _sci(lambda a: a.astype(np.float64))),
    "sci-3d": ("gain", _sci(lambda a: a[None])),
    "sci-missing": ("gain", _delete("SCI")),
    "dq-missing": ("saturation", _delete("DQ")),
    "dq-int32": ("saturation", lambda h: setattr(h["DQ"], "data", h["DQ"].data.astype("i4"))),
    "dq-def-unknown-flag": ("saturation", lambda h: h["DQ_DEF"].data.__setitem__(
        0, (21, 2097152, "NOT_A_FLAG", "x"))),
    "asdf-extension": ("gain", lambda h: h.append(fits.ImageHDU(np.zeros(3, "u1"), name="ASDF"))),
    "scaled-sci": ("gain", _set("BSCALE", 2.0, "SCI")),
    "truncated": ("linearity", _truncate),
    "unparsable-card": ("gain", _unparsable_card),
}  # fmt: skip


def _fallback_copy(nircam_case, kind, tmp_path):
    reftype, edit = FALLBACKS[kind]
    path = _copy(nircam_case.refs[reftype], tmp_path, f"bad_{reftype}.fits")
    if edit in (_truncate, _unparsable_card):
        edit(path)
    else:
        _edit(path, edit)
    return path, CLASSES[reftype]


def _outcome(path, cls, attributes, geom, fast):
    """(arrays or None, error message or None) of the load + read."""
    try:
        ref = load_reference(str(path), cls, _science(), fast=fast)
        return [reference_array(ref, a, geom) for a in attributes], None
    except Exception as exc:  # compared between the two paths
        return None, f"{type(exc).__name__}: {exc}"


@pytest.mark.parametrize("kind", list(FALLBACKS))
def test_unusual_files_take_the_model_path(nircam_case, geometries, kind, tmp_path):
    path, (cls, attributes) = _fallback_copy(nircam_case, kind, tmp_path)
    assert open_fits_reference(str(path), cls) is None
    fast, fast_error = _outcome(path, cls, attributes, geometries[1], fast=True)
    slow, slow_error = _outcome(path, cls, attributes, geometries[1], fast=False)
    assert fast_error == slow_error
    if slow is not None:
        for a, b in zip(fast, slow, strict=True):
            _assert_identical(a, b, native=False)


def test_validation_warning_still_emitted(nircam_case, tmp_path):
    """An invalid keyword warns through stdatamodels (an error under pytest's filter)."""
    path, (cls, _) = _fallback_copy(nircam_case, "detector-not-in-enum", tmp_path)
    with pytest.raises(ReferenceFileError, match=r"cannot be read as a GainModel .*DETECTOR|"
                       r"cannot be read as a GainModel .*detector"):  # fmt: skip
        load_reference(str(path), cls, _science(), fast=True)


def test_not_covering_error_identical(nircam_case, tmp_path):
    path = _copy(nircam_case.refs["gain"], tmp_path, "small_gain.fits")

    def edit(hdul):
        hdul["SCI"].data = hdul["SCI"].data[:80, :80].copy()
        hdul[0].header.update(SUBSIZE1=80, SUBSIZE2=80, SUBARRAY="GENERIC")

    _edit(path, edit)
    assert open_fits_reference(str(path), dm.GainModel) is not None
    geom = SubarrayGeometry(1, 1, 160, 160)
    fast = _outcome(path, dm.GainModel, ("data",), geom, fast=True)
    slow = _outcome(path, dm.GainModel, ("data",), geom, fast=False)
    assert fast[1] == slow[1] and "reference covers columns 1-80" in fast[1]


def test_other_detector_error_identical(nircam_case, tmp_path):
    path = _edit(_copy(nircam_case.refs["mask"], tmp_path, "b1_mask.fits"),
                 _set("DETECTOR", "NRCB1"))  # fmt: skip
    geom = SubarrayGeometry(1, 1, 160, 160)
    fast = _outcome(path, dm.MaskModel, ("dq",), geom, fast=True)
    slow = _outcome(path, dm.MaskModel, ("dq",), geom, fast=False)
    assert fast[1] == slow[1] and "DETECTOR='NRCB1'" in fast[1]


def test_every_fast_class_schema_is_readable():
    for name in FAST_MODELS:
        path_free = open_fits_reference("/nonexistent.fits", getattr(dm, name))
        assert path_free is None
    from webbcal.lib.reffits import _layout

    assert all(_layout(getattr(dm, name)) is not None for name in FAST_MODELS)


@pytest.mark.parametrize(
    ("value", "schema", "expected"),
    [
        (3, {"type": "integer"}, True),
        (True, {"type": "integer"}, False),
        (1.0, {"type": "integer"}, False),
        (1, {"type": "number"}, True),
        ("NRCA1", {"type": "string", "enum": ["NRCA1", "NRCB1"]}, True),
        ("FOO", {"type": "string", "enum": ["NRCA1"]}, False),
        (1, {"enum": [1.0]}, False),  # equal for jsonschema, but not certain here
        ("SUB160P", {"anyOf": [{"enum": ["FULL"]}, {"pattern": "^SUB"}]}, True),
        ("X", {"type": "string", "maxLength": 3}, False),  # rule not understood
    ],
)
def test_keyword_check_is_conservative(value, schema, expected):
    assert _surely_valid(value, schema) is expected


def test_streaming_run_reads_references_directly(nircam_case, tmp_path, monkeypatch):
    """The streaming executor reads the 7 stage-1 references (not the dark) directly."""
    from webbcal.lib import reffits
    from webbcal.pipeline import Detector1Pipeline

    read = []
    original = reffits.open_fits_reference

    def spy(path, model_class, **kwargs):
        ref = original(path, model_class, **kwargs)
        read.append((model_class.__name__, ref is not None))
        return ref

    monkeypatch.setattr(reffits, "open_fits_reference", spy)
    with nircam_case.crds():
        Detector1Pipeline.call(
            str(nircam_case.uncal), output_dir=str(tmp_path), progress=False,
            disable_crds_steppars=True, streaming=True,
        )  # fmt: skip
    assert {name for name, _ in read} == set(FAST_MODELS)  # the superbias is read twice
    assert all(direct for _, direct in read)
