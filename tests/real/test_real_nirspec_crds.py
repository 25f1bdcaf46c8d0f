"""Real NIRSpec NRS1 SUB512 SUPERBIAS and DARK, selected by the real CRDS rules of jwst_0567.

The CRDS cache holds the unmodified mappings of context ``jwst_0567.pmap`` (Nov 2019) and
the two real reference files ``jwst_nirspec_superbias_0075.fits`` and
``jwst_nirspec_dark_0046.fits`` (ESA ground references from ISIM CV3, 32 x 512, the dark with
10 NRSRAPID groups). A simulated NRS1 SUB512 exposure whose metadata satisfy the real rules
is run through calwebb_detector1; the reference types we have no real file for (mask,
saturation, ipc, linearity, gain, readnoise) are webbcal's simulated references passed with
``override_<reftype>``. The real rules say refpix is N/A for NRSRAPID.

Rules quoted from the real mappings (``jwst_nirspec_superbias_0036.rmap``,
``jwst_nirspec_dark_0029.rmap``)::

    ('NRS1', 'NRS|NRSRAPID', 'SUB512', '1025', '957', '512', '32') : UseAfter({
        '2015-01-01 00:00:00' : 'jwst_nirspec_superbias_0075.fits',   # dark_0046
        '2016-01-15 00:00:00' : 'jwst_nirspec_superbias_0090.fits',   # dark_0069
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from _real_data import (
    DARK_0046,
    EUREKA_REFS,
    EXPECTED_COMPLETE,
    EXPECTED_SKIPPED,
    MAPPINGS_0567,
    SUPERBIAS_0075,
    need,
)
from astropy.io import fits
from stdatamodels.jwst import datamodels as dm

from webbcal import dqflags
from webbcal.crds_client import crds_environment, install_mappings
from webbcal.dark_current import DarkCurrentStep
from webbcal.datamodels import open_ramp_input, to_ramp_model
from webbcal.pipeline import Detector1Pipeline
from webbcal.simulate import make_detector, simulate_exposure, write_reference_files
from webbcal.superbias import SuperBiasStep

pytestmark = need(MAPPINGS_0567, SUPERBIAS_0075, DARK_0046)

CONTEXT = "jwst_0567.pmap"
#: The match tuple of both real rmaps for NRS1 SUB512, as written in the rmaps.
SUB512_MATCH = "('NRS1', 'NRS|NRSRAPID', 'SUB512', '1025', '957', '512', '32')"
RMAPS = {
    "superbias": ("jwst_nirspec_superbias_0036.rmap", "jwst_nirspec_superbias_0075.fits"),
    "dark": ("jwst_nirspec_dark_0029.rmap", "jwst_nirspec_dark_0046.fits"),
}
USEAFTER, NEXT_USEAFTER = "2015-01-01", "2016-01-15"
#: Between the UseAfter of superbias_0075/dark_0046 and of their successors.
DATE_OBS = "2015-06-01"
#: Reference types with no real file here: webbcal's simulated ones, by step alias.
OVERRIDES = {
    "dq_init": ("mask",),
    "saturation": ("saturation",),
    "ipc": ("ipc",),
    "linearity": ("linearity",),
    "jump": ("gain", "readnoise"),
    "ramp_fit": ("gain", "readnoise"),
    "gain_scale": ("gain",),
}


@dataclass
class NirspecCase:
    uncal: Path
    crds_path: Path
    refs: dict
    rate_path: Path
    ngroups: int


def _dark_readout() -> tuple[str, int, int, int]:
    h = fits.getheader(DARK_0046)
    return h["READPATT"], h["NGROUPS"], h["NFRAMES"], h["GROUPGAP"]


def _steps(refs: dict) -> dict:
    return {
        alias: {f"override_{reftype}": str(refs[reftype]) for reftype in reftypes}
        for alias, reftypes in OVERRIDES.items()
    }


@pytest.fixture(scope="module")
def nirspec_case(tmp_path_factory) -> NirspecCase:
    root = tmp_path_factory.mktemp("real_nirspec")
    context = install_mappings(root / "crds", MAPPINGS_0567, references=[SUPERBIAS_0075, DARK_0046])
    assert context == CONTEXT
    readpatt, ngroups, nframes, groupgap = _dark_readout()
    assert (nframes, groupgap) == (1, 0)
    det = make_detector(instrument="NIRSPEC", detector="NRS1", subarray="SUB512", seed=11)
    sim = simulate_exposure(
        det, readpatt=readpatt, ngroups=ngroups, seed=12, date_obs=DATE_OBS, cr_rate=1e-4
    )
    refs = write_reference_files(det, root / "refs", readpatt=readpatt, ngroups=ngroups)
    uncal = sim.save(root / "data")["uncal"]
    out = root / "out"
    with crds_environment(root / "crds"):
        Detector1Pipeline.call(
            str(uncal), steps=_steps(refs), save_results=True, output_dir=str(out)
        )
    rate_path = out / uncal.name.replace("_uncal.fits", "_rate.fits")
    return NirspecCase(uncal, root / "crds", refs, rate_path, ngroups)


def _ramp(case: NirspecCase):
    return to_ramp_model(open_ramp_input(str(case.uncal)))


def _real_sci(path: Path, science) -> np.ndarray:
    """The real reference SCI (NaN -> 0) cut by hand to the science subarray."""
    with fits.open(path) as hdul:
        h = hdul[0].header
        sci = np.asarray(hdul["SCI"].data, dtype=np.float32)
    sub = science.meta.subarray
    y0, x0 = sub.ystart - h["SUBSTRT2"], sub.xstart - h["SUBSTRT1"]
    assert y0 >= 0 and x0 >= 0
    cut = sci[..., y0 : y0 + sub.ysize, x0 : x0 + sub.xsize]
    assert cut.shape[-2:] == (sub.ysize, sub.xsize)
    return np.nan_to_num(cut, nan=0.0)


def _translated_dq(path: Path) -> np.ndarray:
    """Reference DQ translated to JWST pixel flags through its own DQ_DEF table."""
    with fits.open(path) as hdul:
        raw = np.asarray(hdul["DQ"].data).astype(np.uint32)
        dq_def = hdul["DQ_DEF"].data
        names = [n.strip().upper() for n in dq_def.field(2)]
        values = [int(v) for v in dq_def.field(1)]
    out = np.zeros(raw.shape, np.uint32)
    for value, name in zip(values, names):
        out[(raw & np.uint32(value)) != 0] |= np.uint32(dqflags.PIXEL[name])
    return out


# --------------------------------------------------------------------------- the rules
def test_real_rmaps_name_the_real_files_for_sub512():
    for reftype, (rmap, reference) in RMAPS.items():
        text = (MAPPINGS_0567 / rmap).read_text()
        start = text.index(SUB512_MATCH)
        rule = text[start : text.index("}),", start)]
        assert f"'{USEAFTER} 00:00:00' : '{reference}'" in rule, reftype
        assert f"'{NEXT_USEAFTER} 00:00:00'" in rule, reftype
        h = fits.getheader(EUREKA_REFS / reference)
        assert (h["DETECTOR"], h["SUBARRAY"], h["READPATT"]) == ("NRS1", "SUB512", "NRSRAPID")
        assert (h["SUBSTRT1"], h["SUBSTRT2"], h["SUBSIZE1"], h["SUBSIZE2"]) == (1025, 957, 512, 32)
        assert h["USEAFTER"].startswith(USEAFTER)


def test_simulated_exposure_matches_the_real_rules(nirspec_case):
    with dm.Level1bModel(str(nirspec_case.uncal)) as model:
        p = {k.upper(): v for k, v in model.get_crds_parameters().items()}
        shape = model.data.shape
    assert p["META.INSTRUMENT.NAME"] == "NIRSPEC"
    assert p["META.INSTRUMENT.DETECTOR"] == "NRS1"
    assert p["META.EXPOSURE.READPATT"] in ("NRS", "NRSRAPID")
    assert p["META.SUBARRAY.NAME"] == "SUB512"
    geometry = tuple(p[f"META.SUBARRAY.{k}"] for k in ("XSTART", "YSTART", "XSIZE", "YSIZE"))
    assert geometry == (1025, 957, 512, 32)
    assert USEAFTER <= p["META.OBSERVATION.DATE"] < NEXT_USEAFTER
    readpatt, ngroups, nframes, groupgap = _dark_readout()
    assert p["META.EXPOSURE.READPATT"] == readpatt
    assert (p["META.EXPOSURE.NGROUPS"], p["META.EXPOSURE.NFRAMES"]) == (ngroups, nframes)
    assert p["META.EXPOSURE.GROUPGAP"] == groupgap
    assert shape == (1, ngroups, 32, 512)


# --------------------------------------------------------------------------- the pipeline
def test_pipeline_records_real_references_and_context(nirspec_case):
    assert nirspec_case.rate_path.is_file()
    header = fits.getheader(nirspec_case.rate_path)
    assert header["CRDS_CTX"] == CONTEXT
    assert header["R_SUPERB"] == "crds://jwst_nirspec_superbias_0075.fits"
    assert header["R_DARK"] == "crds://jwst_nirspec_dark_0046.fits"
    assert header["R_MASK"] == str(nirspec_case.refs["mask"])
    assert header["R_GAIN"] == str(nirspec_case.refs["gain"])
    with dm.ImageModel(str(nirspec_case.rate_path)) as rate:
        rate.validate()
        steps = rate.meta.cal_step.instance
        assert rate.meta.ref_file.crds.context_used == CONTEXT
        good = (rate.dq & dqflags.DO_NOT_USE) == 0
        assert good.sum() > 0.5 * rate.dq.size
        assert np.isfinite(rate.data[good]).all()
        assert np.isfinite(rate.err[good]).all()
    for name in EXPECTED_COMPLETE:
        assert steps[name] == "COMPLETE", name
    for name in EXPECTED_SKIPPED:
        assert steps[name] == "SKIPPED", name


def test_superbias_step_subtracts_the_real_superbias_exactly(nirspec_case):
    ramp = _ramp(nirspec_case)
    before, dq_before = ramp.data.copy(), ramp.pixeldq.copy()
    with crds_environment(nirspec_case.crds_path):
        out = SuperBiasStep.call(ramp)
    bias = _real_sci(SUPERBIAS_0075, ramp)
    assert out.meta.ref_file.superbias.name == "crds://jwst_nirspec_superbias_0075.fits"
    assert out.meta.cal_step.superbias == "COMPLETE"
    np.testing.assert_array_equal(out.data, before - bias[None, None])
    np.testing.assert_allclose(before - out.data, np.broadcast_to(bias, before.shape), atol=4e-3)
    # The file's DQ holds 4194304 (UNRELIABLE_BIAS in JWST bits) but its DQ_DEF defines only
    # values 1 and 2, so the translated superbias DQ is empty (as in the official pipeline).
    np.testing.assert_array_equal(out.pixeldq, dq_before | _translated_dq(SUPERBIAS_0075))


def test_dark_step_subtracts_the_real_dark_exactly(nirspec_case):
    ramp = _ramp(nirspec_case)
    before, dq_before = ramp.data.copy(), ramp.pixeldq.copy()
    with crds_environment(nirspec_case.crds_path):
        out = DarkCurrentStep.call(ramp)
    # DarkNirspecModel layout: SCI (ngroups, ny, nx) with NFRAMES=1 planes, one 2-D DQ.
    dark = _real_sci(DARK_0046, ramp)
    assert dark.shape == (10, 32, 512)
    assert out.meta.ref_file.dark.name == "crds://jwst_nirspec_dark_0046.fits"
    assert out.meta.cal_step.dark_sub == "COMPLETE"
    np.testing.assert_array_equal(out.data, before - dark[None, : nirspec_case.ngroups])
    dark_dq = _translated_dq(DARK_0046)
    assert dark_dq.any()  # raw 2/4/8 -> WARM/HOT/UNRELIABLE_SLOPE through the DQ_DEF
    np.testing.assert_array_equal(out.pixeldq, dq_before | dark_dq)


@pytest.mark.parametrize(("readpatt", "ngroups"), [("NRSRAPID", 12), ("NRS", 3)])
def test_dark_step_handles_science_longer_than_the_real_dark(nirspec_case, readpatt, ngroups):
    det = make_detector(instrument="NIRSPEC", detector="NRS1", subarray="SUB512", seed=11)
    sim = simulate_exposure(det, readpatt=readpatt, ngroups=ngroups, seed=13, date_obs=DATE_OBS)
    ramp = to_ramp_model(sim.model)
    before = ramp.data.copy()
    with crds_environment(nirspec_case.crds_path):
        out = DarkCurrentStep.call(ramp)
    assert out.meta.ref_file.dark.name == "crds://jwst_nirspec_dark_0046.fits"
    assert out.meta.cal_step.dark_sub == "COMPLETE"
    if readpatt == "NRSRAPID":  # the groups the real dark covers are subtracted as they are
        dark = _real_sci(DARK_0046, ramp)
        np.testing.assert_array_equal(out.data[:, :10], before[:, :10] - dark[None])
    try:
        from jwst.dark_current import DarkCurrentStep as OfficialDark
    except ImportError:
        return
    with crds_environment(nirspec_case.crds_path):
        theirs = OfficialDark.call(to_ramp_model(sim.model))
    # The official pipeline extrapolates the dark the same way: identical to float32 rounding.
    np.testing.assert_allclose(out.data, theirs.data, rtol=1e-6, atol=1e-3)


# --------------------------------------------------------------------------- the oracle
@pytest.mark.jwst_oracle
@pytest.mark.parametrize(
    ("step_path", "reftype", "ours"),
    [
        ("jwst.superbias.SuperBiasStep", "superbias", SuperBiasStep),
        ("jwst.dark_current.DarkCurrentStep", "dark", DarkCurrentStep),
    ],
)
def test_official_steps_select_the_same_real_files(nirspec_case, step_path, reftype, ours):
    module_name, class_name = step_path.rsplit(".", 1)
    official = getattr(pytest.importorskip(module_name), class_name)
    ramp = _ramp(nirspec_case)
    with crds_environment(nirspec_case.crds_path):
        theirs = official.call(ramp.copy())
        mine = ours.call(ramp)
    assert getattr(theirs.meta.ref_file, reftype).name == "crds://" + RMAPS[reftype][1]
    assert getattr(mine.meta.ref_file, reftype).name == getattr(theirs.meta.ref_file, reftype).name
    assert theirs.meta.ref_file.crds.context_used == CONTEXT
    np.testing.assert_array_equal(mine.data, theirs.data)
    np.testing.assert_array_equal(mine.pixeldq, theirs.pixeldq)


def test_streaming_equals_step_by_step_with_real_references(nirspec_case, tmp_path, caplog):
    """The real dark (DQ_DEF-coded DQ, read by sections when streaming) gives identical rates."""
    import logging

    caplog.set_level(logging.INFO, logger="webbcal")
    paths = {}
    for streaming in (True, False):
        out = tmp_path / f"streaming_{streaming}"
        caplog.clear()
        with crds_environment(nirspec_case.crds_path):
            Detector1Pipeline.call(
                str(nirspec_case.uncal), steps=_steps(nirspec_case.refs), save_results=True,
                output_dir=str(out), streaming=streaming, progress=False,
            )  # fmt: skip
        assert any("Streaming" in r.getMessage() for r in caplog.records) == streaming
        paths[streaming] = out / nirspec_case.rate_path.name
    with fits.open(paths[True]) as a, fits.open(paths[False]) as b:
        for ext in ("SCI", "ERR", "DQ", "VAR_POISSON", "VAR_RNOISE"):
            assert np.array_equal(a[ext].data, b[ext].data, equal_nan=True), ext
        assert a[0].header["R_DARK"] == b[0].header["R_DARK"]
