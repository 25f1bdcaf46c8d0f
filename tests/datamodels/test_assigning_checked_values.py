"""assigning_checked_values: no per-assignment schema check inside, restored after."""

import numpy as np
import pytest
from stdatamodels.jwst import datamodels as dm

from webbcal.datamodels.io import assigning_checked_values


def test_checks_are_skipped_inside_and_restored_after():
    model = dm.ImageModel((4, 5))
    data = np.arange(20, dtype=np.float32).reshape(4, 5)
    with assigning_checked_values(model) as same:
        assert same is model
        model.data = data
        model.meta.exposure.type = 42  # wrong type: not checked inside the block
        assert model.meta.exposure.type == 42
    assert model.data is data
    # Checked again after the block: a wrong value is refused (the attribute stays unset).
    with pytest.warns(Warning):
        model.meta.exposure.readpatt = 43
    assert model.meta.exposure.readpatt is None


def test_the_previous_setting_is_kept():
    model = dm.ImageModel((2, 2), validate_on_assignment=False)
    with assigning_checked_values(model):
        pass
    model.meta.exposure.type = 7  # still unchecked, as the caller asked
    assert model.meta.exposure.type == 7
