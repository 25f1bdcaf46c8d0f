"""webbcal with a reachable CRDS server: a step downloads its context and reference into an
empty cache, which then works offline."""

from __future__ import annotations

import re
import time

import numpy as np
import pytest
from _crds_server import crds_test_server

from webbcal.crds_client import (
    RmapEntry,
    crds_environment,
    get_context_name,
    write_local_context,
)
from webbcal.crds_client.client import CRDS_SETUP_HELP, CrdsUnavailableError
from webbcal.dq_init import DQInitStep
from webbcal.simulate import make_detector, simulate_exposure, write_reference_files

PARKEYS = ("META.INSTRUMENT.DETECTOR", "META.SUBARRAY.NAME")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A SUB64P exposure and a server-side cache holding only its MASK rules and file."""
    root = tmp_path_factory.mktemp("served")
    det = make_detector(subarray="SUB64P", seed=5)
    refs = write_reference_files(det, root / "refs", ngroups=2)
    entry = RmapEntry(
        "NIRCAM",
        "mask",
        PARKEYS,
        {("NRCA1", det.subarray): [("2020-01-01 00:00:00", str(refs["mask"]))]},
    )
    context = write_local_context(root / "server", [entry], context_number=4321)
    uncal = simulate_exposure(det, ngroups=2, seed=6).save(root / "data")["uncal"]
    return root, context, uncal, refs["mask"]


def test_step_downloads_its_reference_from_the_server(served, tmp_path):
    from astropy.io import fits

    root, context, uncal, mask = served
    cache = tmp_path / "cache"
    t0 = time.monotonic()
    with crds_test_server(root / "server", context) as server:
        with crds_environment(cache, server.url):
            result = DQInitStep.call(str(uncal))
            assert get_context_name() == "jwst_4321.pmap"
    assert time.monotonic() - t0 < 10
    assert "get_server_info" in server.calls
    name = mask.name
    assert server.downloads.count(name) == 1
    assert "jwst_4321.pmap" in server.downloads
    cached = list(cache.rglob(name))
    assert len(cached) == 1 and cached[0].read_bytes() == mask.read_bytes()
    assert result.meta.ref_file.mask.name == f"crds://{name}"
    assert result.meta.ref_file.crds.context_used == "jwst_4321.pmap"
    with fits.open(mask) as hdul:
        expected = hdul["DQ"].data
    assert np.array_equal(result.pixeldq & expected, expected) and expected.any()
    # The server's configuration was cached: the same cache now works offline.
    with crds_environment(cache):
        again = DQInitStep.call(str(uncal))
    np.testing.assert_array_equal(again.pixeldq, result.pixeldq)


def test_unreachable_server_says_what_to_do(served, tmp_path):
    _, _, uncal, _ = served
    with crds_test_server(served[0] / "server", served[1]) as server:
        url = server.url
    cache = tmp_path / "cache"
    cfg = cache / "config" / "jwst" / "server_config"
    expected = (
        f"CRDS is unavailable: the CRDS server {url!r} could not be reached and the cache at "
        f"CRDS_PATH='{cache}' cannot be used (server_config missing: {cfg}). Either (1) with "
        "network access, let the CRDS server fill a cache: "
        "CRDS_SERVER_URL=https://jwst-crds.stsci.edu CRDS_PATH=<a writable folder, e.g. "
        "~/crds_cache>; or (2) offline, use a cache filled earlier (by 'crds sync' or by runs "
        "with the server): CRDS_SERVER_URL=https://jwst-serverless-mode.stsci.edu "
        "CRDS_PATH=<that cache>; or (3) for the simulated exposures of 'webbcal demo' only: "
        "CRDS_SERVER_URL=https://jwst-serverless-mode.stsci.edu CRDS_PATH=<demo "
        "folder>/crds_cache (its context jwst_9001.pmap selects simulated references only). "
        "Detail: "
    )
    # The server is stopped: nothing listens on its port any more.
    with (
        crds_environment(cache, url),
        pytest.raises(
            CrdsUnavailableError, match=re.escape(expected + "crds cache load failed") + "$"
        ),
    ):
        DQInitStep.call(str(uncal))


def test_offline_without_cache_says_what_to_do(served, tmp_path):
    _, _, uncal, _ = served
    cache = tmp_path / "cache"
    cfg = cache / "config" / "jwst" / "server_config"
    expected = (
        "CRDS is unavailable: CRDS is set to work offline (CRDS_SERVER_URL empty or serverless) "
        f"and the cache at CRDS_PATH='{cache}' cannot be used (server_config missing: {cfg}). "
        f"{CRDS_SETUP_HELP} Detail: [Errno 2] No such file or directory: '{cfg}'"
    )
    with (
        crds_environment(cache),
        pytest.raises(CrdsUnavailableError, match=re.escape(expected) + "$"),
    ):
        DQInitStep.call(str(uncal))


def test_offline_cache_without_the_reference_says_how_to_fetch_it(served, tmp_path):
    import shutil

    root, context, uncal, mask = served
    cache = tmp_path / "cache"
    shutil.copytree(root / "server" / "mappings", cache / "mappings")
    shutil.copytree(root / "server" / "config", cache / "config")
    expected = (
        f"CRDS context {context} selects {mask.name} for MASK, but it is not in the cache "
        f"(expected at {cache / 'references' / 'jwst' / 'nircam' / mask.name}) and CRDS is "
        f"offline (CRDS_SERVER_URL empty or serverless, CRDS_PATH='{cache}'). Fetch it by "
        "running once with CRDS_SERVER_URL=https://jwst-crds.stsci.edu (or 'crds sync --files "
        f"{mask.name}' while online)."
    )
    with (
        crds_environment(cache),
        pytest.raises(CrdsUnavailableError, match=re.escape(expected) + "$"),
    ):
        DQInitStep.call(str(uncal))
