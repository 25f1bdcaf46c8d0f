"""Fixtures of the picture_frame tests: a NIRSpec full-frame ramp and a local CRDS context
holding a synthetic PICTUREFRAME reference (and the gain and read noise the official draft
rate needs)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from _cases import N, frame_shape, make_ramp, write_reference
from stdatamodels.jwst import datamodels

from webbcal.crds_client import RmapEntry, crds_environment, write_local_context


@dataclass
class References:
    """Reference files and the CRDS cache that serves them (NIRSpec NRS1)."""

    paths: dict
    crds_path: Path

    def crds(self):
        return crds_environment(self.crds_path)


def _detector_reference(cls, value, reftype, path):
    ref = cls(data=np.full((N, N), value, np.float32))
    meta = ref.meta
    meta.reftype = reftype.upper()
    meta.instrument.name = "NIRSPEC"
    meta.instrument.detector = "NRS1"
    meta.subarray.name = "FULL"
    meta.subarray.xstart = meta.subarray.ystart = 1
    meta.subarray.xsize = meta.subarray.ysize = N
    meta.author, meta.description, meta.pedigree = "webbcal tests", "flat " + reftype, "DUMMY"
    meta.useafter = "2020-01-01T00:00:00"
    meta.telescope = "JWST"
    ref.save(str(path))
    return str(path)


@pytest.fixture(scope="session")
def pf_refs(tmp_path_factory) -> References:
    root = tmp_path_factory.mktemp("picture_frame_refs")
    paths = {
        "pictureframe": write_reference(root / "pictureframe.fits", frame_shape()),
        "gain": _detector_reference(datamodels.GainModel, 1.0, "gain", root / "gain.fits"),
        "readnoise": _detector_reference(
            datamodels.ReadnoiseModel, 5.6, "readnoise", root / "readnoise.fits"
        ),  # fmt: skip
    }
    entries = [
        RmapEntry("NIRSPEC", reftype, ("META.INSTRUMENT.DETECTOR",),
                  {("NRS1",): [("2020-01-01 00:00:00", path)]})
        for reftype, path in paths.items()
    ]  # fmt: skip
    crds_path = root / "crds"
    write_local_context(crds_path, entries)
    return References(paths, crds_path)


@pytest.fixture(scope="session")
def pf_ramp():
    """NRS1 full-frame ramp, 1 integration of 2 groups, with a known picture frame."""
    return make_ramp(ngroups=2, seed=0)


@pytest.fixture(scope="session")
def pf_ours(pf_ramp, pf_refs):
    """webbcal's result on ``pf_ramp`` (reference from the local CRDS context)."""
    from webbcal.picture_frame import PictureFrameStep

    with pf_refs.crds():
        return PictureFrameStep.call(pf_ramp.model, skip=False, mask_science_regions=False,
                                     disable_crds_steppars=True)  # fmt: skip
