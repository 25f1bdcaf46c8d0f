"""Real NIRCam coronagraphy uncal headers, filled by the simulator, through calwebb_detector1.

The three headers (``jw01075001001_03105_00009_nrca{2,3,4}_uncal.fits``, program 1075,
NRC_CORON, MASKA210R/F210M, RAPID) declare a full-frame 2048 x 2048 read with 4 outputs,
NGROUPS=10, NINTS=1; their pixel data were cut to 1x1x1x1 by the source. The simulator
expands each to the declared shape (``simulate_from_header``), matching references are made
from the same simulated detector geometry, served by a local CRDS context and selected by the
pipeline through normal CRDS rules (DETECTOR, SUBARRAY).

Size: a full frame costs about 30 s on 2 cores (simulation, references, pipeline), so only
``nrca2`` is run at the full declared size. For ``nrca3`` and ``nrca4`` the header is cut down
consistently before simulation: SUBARRAY='GENERIC', SUBSTRT1=1, SUBSIZE1=2048 (unchanged, so
the 4-output read of the header stays possible), SUBSTRT2=1, SUBSIZE2=128 (the bottom
stripe, with its 4 reference rows and both reference-column borders). Every other keyword is
the real one (TFRAME/TGROUP too, i.e. the real full-frame frame time); the references are
written for the same cut geometry. The full-frame references use 3 LINEARITY coefficients
to keep the reference fit short.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from _real_data import CORON_FILES, CORON_HEADERS, EXPECTED_COMPLETE, EXPECTED_SKIPPED, need
from astropy.io import fits
from stdatamodels.jwst import datamodels as dm

from webbcal import dqflags
from webbcal.crds_client import RmapEntry, crds_environment, write_local_context
from webbcal.pipeline import Detector1Pipeline
from webbcal.simulate import Truth, simulate_from_header, write_reference_files

pytestmark = need(*(CORON_HEADERS / name for name in CORON_FILES))

FULL_SIZE = "jw01075001001_03105_00009_nrca2_uncal.fits"
STRIPE = {"name": "GENERIC", "xstart": 1, "xsize": 2048, "ystart": 1, "ysize": 128}
PARKEYS = ("META.INSTRUMENT.DETECTOR", "META.SUBARRAY.NAME")
#: Real header keywords that must reach the uncal and rate products unchanged.
CARRIED = ("PROGRAM", "OBSERVTN", "VISIT", "EXPOSURE", "EXP_TYPE", "DETECTOR", "FILTER",
           "PUPIL", "CORONMSK", "DATE-OBS", "TIME-OBS", "READPATT", "NGROUPS")  # fmt: skip
GEOMETRY = ("SUBARRAY", "SUBSTRT1", "SUBSTRT2", "SUBSIZE1", "SUBSIZE2")


@dataclass
class CoronRun:
    name: str
    declared: dict  # keywords of the header that was simulated (after any cut)
    uncal: Path
    truth: Path
    refs: dict
    context: str
    rate_path: Path


def _stripe_model(name: str) -> dm.Level1bModel:
    """The real header as a Level1bModel with its geometry cut to the test stripe."""
    model = dm.Level1bModel(str(CORON_HEADERS / name))
    for key, value in STRIPE.items():
        setattr(model.meta.subarray, key, value)
    return model


def _declared_keywords(name: str) -> dict:
    header = dict(fits.getheader(CORON_HEADERS / name))
    if name != FULL_SIZE:
        header.update(zip(GEOMETRY, (STRIPE["name"], STRIPE["xstart"], STRIPE["ystart"],
                                     STRIPE["xsize"], STRIPE["ysize"])))  # fmt: skip
    return header


@pytest.fixture(scope="module", params=CORON_FILES, ids=lambda n: n.split("_")[3])
def coron_run(request, tmp_path_factory) -> CoronRun:
    name = request.param
    root = tmp_path_factory.mktemp(name.split("_")[3])
    # The full-size header goes in as the real file itself, the others as cut-down models.
    source = CORON_HEADERS / name if name == FULL_SIZE else _stripe_model(name)
    sim = simulate_from_header(source, seed=21)
    det, exp = sim.detector, sim.model.meta.exposure
    refs = write_reference_files(
        det, root / "refs", readpatt=exp.readpatt, ngroups=exp.ngroups, tframe=exp.frame_time,
        linearity_ncoeffs=3 if name == FULL_SIZE else 6,
    )  # fmt: skip
    entries = [
        RmapEntry(det.instrument, reftype, PARKEYS,
                  {(det.detector, det.subarray): [("2020-01-01 00:00:00", str(path))]})
        for reftype, path in sorted(refs.items())
    ]  # fmt: skip
    context = write_local_context(root / "crds", entries)
    paths = sim.save(root / "data")
    del sim
    out = root / "out"
    with crds_environment(root / "crds"):
        Detector1Pipeline.call(str(paths["uncal"]), save_results=True, output_dir=str(out))
    rate_path = out / name.replace("_uncal.fits", "_rate.fits")
    return CoronRun(
        name, _declared_keywords(name), paths["uncal"], paths["truth"], refs, context, rate_path
    )


def test_real_headers_declare_full_frame_rapid_10_groups():
    for name in CORON_FILES:
        with fits.open(CORON_HEADERS / name) as hdul:
            h = hdul[0].header
            assert hdul["SCI"].data.shape == (1, 1, 1, 1), name
        assert tuple(h[k] for k in GEOMETRY) == ("FULL", 1, 1, 2048, 2048), name
        assert (h["NINTS"], h["NGROUPS"], h["NFRAMES"], h["GROUPGAP"]) == (1, 10, 1, 0), name
        assert (h["EXP_TYPE"], h["READPATT"], h["NOUTPUTS"]) == ("NRC_CORON", "RAPID", 4), name
        assert h["FILENAME"] == name


def test_uncal_has_the_declared_shape_and_real_metadata(coron_run):
    d = coron_run.declared
    with fits.open(coron_run.uncal) as hdul:
        h = hdul[0].header
        data = hdul["SCI"].data
        assert data.shape == (d["NINTS"], d["NGROUPS"], d["SUBSIZE2"], d["SUBSIZE1"])
        assert data.dtype == np.uint16
    for key in CARRIED + GEOMETRY + ("TFRAME", "TGROUP", "NOUTPUTS", "FASTAXIS", "SLOWAXIS"):
        assert h[key] == d[key], key
    with dm.Level1bModel(str(coron_run.uncal)) as model:
        model.validate()


def test_rate_product_validates_and_carries_real_metadata(coron_run):
    assert coron_run.rate_path.is_file()
    d = coron_run.declared
    with dm.ImageModel(str(coron_run.rate_path)) as rate:
        rate.validate()
        assert rate.data.shape == (d["SUBSIZE2"], d["SUBSIZE1"])
        assert rate.meta.observation.program_number == "01075"
        assert rate.meta.observation.observation_number == "001"
        assert rate.meta.exposure.type == "NRC_CORON"
        assert rate.meta.instrument.detector == d["DETECTOR"]
        assert rate.meta.ref_file.crds.context_used == coron_run.context
        steps = rate.meta.cal_step.instance
    h = fits.getheader(coron_run.rate_path)
    for key in CARRIED + GEOMETRY:
        assert h[key] == d[key], key
    assert h["CRDS_CTX"] == coron_run.context
    assert h["R_SUPERB"] == "crds://" + coron_run.refs["superbias"].name
    assert h["R_DARK"] == "crds://" + coron_run.refs["dark"].name
    assert h["R_MASK"] == "crds://" + coron_run.refs["mask"].name
    for step in EXPECTED_COMPLETE:
        assert steps[step] == "COMPLETE", step
    for step in EXPECTED_SKIPPED:
        assert steps[step] == "SKIPPED", step


def test_rate_is_finite_and_near_truth_on_good_pixels(coron_run):
    truth = Truth.load(coron_run.truth)
    with dm.ImageModel(str(coron_run.rate_path)) as rate:
        data, err, dq = rate.data.copy(), rate.err.copy(), rate.dq.copy()
    good = (dq & dqflags.DO_NOT_USE) == 0
    assert good.sum() > 0.9 * (~truth.bad).sum()
    assert np.isfinite(data[good]).all()
    assert np.isfinite(err[good]).all() and (err[good] > 0).all()
    clean = good & ~truth.bad & ~truth.saturated & ((dq & dqflags.JUMP_DET) == 0)
    pull = (data[clean] - truth.rate[clean]) / err[clean]
    assert abs(np.median(pull)) < 0.15
    q75, q25 = np.percentile(pull, [75, 25])
    assert 0.85 < (q75 - q25) / 1.349 < 1.2
