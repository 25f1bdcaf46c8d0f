"""Fixtures of the tools tests."""

import pytest
from _tools_data import write_product  # noqa: F401


@pytest.fixture(scope="session")
def webbcal_products(nircam_case, tmp_path_factory):
    """rate, rateints and ramp products made by webbcal from the simulated NIRCam case."""
    from webbcal.pipeline import Detector1Pipeline

    out = tmp_path_factory.mktemp("tools_detector1")
    with nircam_case.crds():
        Detector1Pipeline.call(str(nircam_case.uncal), output_dir=str(out), save_results=True,
                               save_calibrated_ramp=True, progress=False)  # fmt: skip
    root = nircam_case.uncal.name.removesuffix("_uncal.fits")
    return {kind: out / f"{root}_{kind}.fits" for kind in ("rate", "rateints", "ramp")}
