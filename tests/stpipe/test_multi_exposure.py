"""Steps and pipelines over many exposures: associations in, per-member provenance,
official names, references per member, nothing partial on failure, bounded memory."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from _rate_files import make_rate, rate_name
from webbcal.associations import load_association, write_association
from webbcal.associations.from_list import asn_from_list
from webbcal.crds_client import RmapEntry, crds_environment, write_local_context
from webbcal.datamodels import ModelLibrary
from webbcal.stpipe import Param, Pipeline, Step

FLAT_LEVEL = {"NRCA1": 2.0, "NRCA2": 4.0}


class DivideFlatStep(Step):
    """Test step: divide each exposure by its detector's flat (one per member)."""

    class_alias = "divide_flat"
    reference_file_types = ("flat",)
    cal_step_name = "flat_field"

    def process(self, model):
        from stdatamodels.jwst import datamodels as dm

        with dm.FlatModel(self.get_reference_file(model, "flat")) as flat:
            if "fail" in (model.meta.filename or ""):
                raise ValueError(f"{model.meta.filename}: refused by the test step")
            model.data = model.data / flat.data
        return model


class MeanCombineStep(Step):
    """Test step: mean of the science members (a running sum: one member at a time)."""

    class_alias = "mean_combine"
    library_mode = "library"
    cal_step_name = "resample"
    spec = (Param("scale", float, 1.0, "Factor applied to the mean"),)

    def process(self, library):
        from stdatamodels.jwst import datamodels as dm

        total, first = None, None
        with library:
            for index in library.indices("science"):
                model = library.borrow(index)
                total = model.data.astype(np.float64) + (0.0 if total is None else total)
                if first is None:
                    first = dm.ImageModel(model.data.shape)
                    first.update(model)
                library.shelve(model, index, modify=False)
        first.data = (self.scale * total / len(library.indices("science"))).astype(np.float32)
        return first


class ToyImage3Pipeline(Pipeline):
    """Test pipeline over a level-3 association: flat each member, then combine."""

    class_alias = "toy_image3"
    step_defs = {"divide_flat": DivideFlatStep, "mean_combine": MeanCombineStep}
    spec = (Param("in_memory", bool, True, "Keep members in memory"),)

    @property
    def output_suffix(self):
        return self.suffix or "i2d"

    def process(self, library):
        flattened = self.divide_flat.run(library)
        return self.mean_combine.run(flattened)


def _flat(path, level, shape=(32, 32)):
    from stdatamodels.jwst import datamodels as dm

    flat = dm.FlatModel(data=np.full(shape, level, np.float32), dq=np.zeros(shape, np.uint32))
    flat.meta.instrument.name = "NIRCAM"
    flat.meta.reftype = "FLAT"
    flat.save(str(path))
    return str(path)


@pytest.fixture
def program(tmp_path):
    """Two exposures x two detectors, a level-3 association, and a CRDS context with flats."""
    names = []
    for exp in (1, 2):
        for det in ("NRCA1", "NRCA2"):
            name = rate_name(exp, det, suffix="cal")
            make_rate(tmp_path / name, exposure=exp, detector=det, level=8.0, seed=exp)
            names.append(name)
    asn = write_association(
        asn_from_list(names, product_name="jw01234-c1000_t001_nircam_clear-f200w", acid="c1000"),
        tmp_path / "jw01234-c1000_image3_00001_asn.json",
    )
    entries = [
        RmapEntry("NIRCAM", "flat", ("META.INSTRUMENT.DETECTOR",), {
            (det,): [("2020-01-01 00:00:00", _flat(tmp_path / f"flat_{det.lower()}.fits", lev))]
            for det, lev in FLAT_LEVEL.items()
        })
    ]  # fmt: skip
    crds_path = tmp_path / "crds"
    write_local_context(crds_path, entries)
    return tmp_path, asn, names, crds_path


def test_pipeline_over_an_association(program, monkeypatch):
    folder, asn, names, crds_path = program
    before = {n: (folder / n).read_bytes() for n in names}
    import webbcal.crds_client as crds_client

    calls = []
    real = crds_client.best_references
    monkeypatch.setattr(
        crds_client, "best_references", lambda *a, **k: calls.append(a[1]) or real(*a, **k)
    )
    out = folder / "out"
    with crds_environment(crds_path):
        result = ToyImage3Pipeline.call(
            str(asn), output_dir=str(out), save_results=True, disable_crds_steppars=True,
            steps={"divide_flat": {"save_results": True, "suffix": "crf"}},
        )  # fmt: skip
    # References were looked up before any step ran, once per distinct selection
    # (the two detectors), not once per member.
    assert len(calls) == 2
    # The combined product: official level-3 name, mean of the flattened members.
    assert sorted(os.listdir(out)) == sorted(
        ["jw01234-c1000_t001_nircam_clear-f200w_i2d.fits"]
        + [n.replace("_cal.fits", "_c1000_crf.fits") for n in names]
    )
    expected = np.mean([8.0 / FLAT_LEVEL["NRCA1"], 8.0 / FLAT_LEVEL["NRCA2"]])
    assert np.median(result.data) == pytest.approx(expected, abs=0.1)
    assert result.meta.cal_step.resample == "COMPLETE"
    from stdatamodels.jwst import datamodels as dm

    # Each member records its own reference and status.
    for name in names:
        det = "nrca1" if "nrca1" in name else "nrca2"
        with dm.open(str(out / name.replace("_cal.fits", "_c1000_crf.fits"))) as crf:
            assert crf.meta.cal_step.flat_field == "COMPLETE"
            assert crf.meta.ref_file.flat.name == f"crds://flat_{det}.fits"
            assert crf.meta.calibration_software_version
            assert crf.meta.ref_file.crds.context_used.endswith(".pmap")
            assert np.median(crf.data) == pytest.approx(8.0 / FLAT_LEVEL[det.upper()], abs=0.1)
    # Inputs untouched.
    assert {n: (folder / n).read_bytes() for n in names} == before


@pytest.mark.parametrize("in_memory", [True, False])
def test_member_step_leaves_the_input_library_unchanged(program, in_memory):
    folder, asn, names, crds_path = program
    library = ModelLibrary(str(asn), on_disk=not in_memory)
    step = DivideFlatStep(override_flat=str(folder / "flat_nrca2.fits"))
    result = step.run(library)
    assert isinstance(result, ModelLibrary) and result.on_disk == (not in_memory)
    assert len(result) == 4 and result.asn is library.asn
    medians = result.map_function(lambda m, i: float(np.median(m.data)))
    assert medians == pytest.approx([2.0] * 4, abs=0.1)
    assert library.map_function(lambda m, i: float(np.median(m.data))) == pytest.approx(
        [8.0] * 4, abs=0.1
    )
    assert (
        result.map_function(lambda m, i: m.meta.ref_file.flat.name)
        == [str(folder / "flat_nrca2.fits")] * 4
    )


def test_a_failing_member_leaves_no_product(program):
    folder, asn, names, crds_path = program
    failing = folder / names[2].replace("_cal", "_fail_cal")
    os.rename(folder / names[2], failing)
    data = load_association(asn).to_dict()
    data["products"][0]["members"][2]["expname"] = failing.name
    write_association(data, asn)
    out = folder / "out"
    with crds_environment(crds_path), pytest.raises(ValueError, match="refused by the test"):
        ToyImage3Pipeline.call(
            str(asn), output_dir=str(out), save_results=True, disable_crds_steppars=True,
            steps={"divide_flat": {"save_results": True}},
        )  # fmt: skip
    assert not out.exists() or os.listdir(out) == []


def test_parameters_come_from_crds_pars_of_the_first_science_member(program, monkeypatch):
    folder, asn, names, crds_path = program
    from webbcal.stpipe.config import write_config_file

    pars = write_config_file(MeanCombineStep(scale=3.0), str(folder / "pars.asdf"))
    seen = []
    import webbcal.crds_client as crds_client

    def fake_pars(parameters, class_name):
        seen.append((parameters["meta.filename"], class_name))
        return pars if class_name == "MeanCombineStep" else None

    monkeypatch.setattr(crds_client, "pars_reference", fake_pars)
    library = ModelLibrary(str(asn), asn_exptypes="science")
    with crds_environment(crds_path):
        result = MeanCombineStep.call(library)
    assert seen == [(names[0], "MeanCombineStep")]
    assert np.median(result.data) == pytest.approx(3.0 * 8.0, abs=0.3)


def _peak_rss(folder, n, in_memory):
    script = os.path.join(os.path.dirname(__file__), "_multi_exposure_memory.py")
    out = subprocess.run(
        [sys.executable, script, str(folder), str(n), str(in_memory)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return int(out.stdout.split()[-1])


def test_pipeline_memory_on_disk_does_not_grow_with_members(tmp_path):
    shape = (512, 512)
    member_bytes = shape[0] * shape[1] * (4 * 4 + 4)
    for exp in range(1, 21):
        make_rate(tmp_path / rate_name(exp, suffix="cal"), exposure=exp, shape=shape, seed=exp)
    _flat(tmp_path / "flat.fits", 2.0, shape)
    grow_in_memory = _peak_rss(tmp_path, 20, True) - _peak_rss(tmp_path, 5, True)
    grow_on_disk = _peak_rss(tmp_path, 20, False) - _peak_rss(tmp_path, 5, False)
    # Measured (bytes above the process's memory before the run; members of 5.2 MB):
    # in memory 20 members peak 153 MB above 5 members (the inputs and the results of
    # every member are held); on disk 8.5 MB, which is asdf's schema cache growing by
    # about 0.3 MB per file opened (two files per member), not pixels.
    assert grow_in_memory > 20 * member_bytes
    assert grow_on_disk < 3 * member_bytes


def test_command_line_runs_a_step_on_an_association(program):
    from webbcal.cli import main
    from webbcal.stpipe.config import read_config_file

    folder, asn, names, crds_path = program
    out = folder / "cli_out"
    pars = folder / "saved_pars.asdf"
    flat = str(folder / "flat_nrca1.fits")
    args = ["run", "flat_field", str(asn), f"--output-dir={out}", f"--override_flat={flat}"]
    with crds_environment(crds_path):
        assert main([*args, "--disable-crds-steppars"]) == 0
        assert main([*args, "--disable-crds-steppars", f"--save-parameters={pars}"]) == 0
    assert sorted(os.listdir(out)) == sorted(
        n.replace("_cal.fits", "_c1000_flat_field.fits") for n in names
    )
    assert read_config_file(str(pars))["parameters"]["override_flat"] == flat
