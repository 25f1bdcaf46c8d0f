"""jwst 3.0.0 as an oracle for the NIRCam grism time-series tests (offline, references
given as overrides)."""

from __future__ import annotations

import tempfile
from pathlib import Path


def official_call(step_class, model, **kwargs):
    """Run an official jwst step or pipeline offline on ``model`` (a copy when a model)."""
    from _stage2_inputs import _parity_module

    offline_environment = _parity_module().offline_environment
    if hasattr(model, "copy"):
        model = model.copy()
    with tempfile.TemporaryDirectory(prefix="webbcal_oracle_") as root:
        with offline_environment(Path(root)):
            return step_class.call(model, **kwargs)
