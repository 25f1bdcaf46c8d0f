"""A step changes its input in place only when the run owns it (``Step.owns_input``)."""

import numpy as np
from stdatamodels.jwst import datamodels as dm

from webbcal.datamodels import ModelLibrary
from webbcal.tweakreg import TweakRegStep


def _library():
    model = dm.ImageModel(np.zeros((8, 8), dtype=np.float32))
    model.meta.filename = "jw01234001001_01101_00001_nrca1_cal.fits"
    model.meta.exposure.type = "NRC_IMAGE"
    model.meta.instrument.name = "NIRCAM"
    obs = model.meta.observation
    obs.program_number, obs.observation_number, obs.visit_number = "01234", "001", "001"
    obs.visit_group, obs.sequence_id, obs.activity_id, obs.exposure_number = "01", "1", "01", "1"
    return ModelLibrary([model])


def _status(library, index=0):
    with library:
        model = library.borrow(index)
        status = model.meta.cal_step.tweakreg
        library.shelve(model, index, modify=False)
    return status


def test_a_callers_library_is_left_alone_and_an_owned_one_is_updated_in_place():
    # One exposure: tweakreg records SKIPPED (nothing to align) on each member.
    step = TweakRegStep()
    given = _library()
    result = step.run(given)
    assert not step.owns_input()
    assert result is not given
    assert _status(given) is None
    assert _status(result) == "SKIPPED"

    owned = _library()
    result = step.run(owned, _owned=True)
    assert step.owns_input()
    assert result is owned
    assert _status(owned) == "SKIPPED"

    # Ownership is per run: the next run on a caller's library copies again.
    again = _library()
    assert step.run(again) is not again
    assert _status(again) is None
