"""Real CRDS rules (jwst_0567) with real NIRSpec reference files, offline."""

from pathlib import Path

import pytest

from _shared_paths import REAL as _REAL
from webbcal.crds_client import (
    CrdsUnavailableError,
    best_references,
    crds_environment,
    crds_version,
    get_context_name,
    install_mappings,
    pars_reference,
)

REAL = _REAL
MAPPINGS = REAL / "crds-mappings" / "jwst_0567"
REFS = REAL / "crds-refs" / "from-eureka"
SUPERBIAS = "jwst_nirspec_superbias_0075.fits"
DARK = "jwst_nirspec_dark_0046.fits"

pytestmark = pytest.mark.skipif(
    not (MAPPINGS.is_dir() and (REFS / SUPERBIAS).is_file() and (REFS / DARK).is_file()),
    reason="real CRDS mappings/references not available",
)

# NRS1 SUB512 (xstart 1025, ystart 957, 512 x 32), readpatt NRS, dated between the
# 2015-01-01 and 2016-01-15 UseAfter entries of jwst_nirspec_{superbias_0036,dark_0029}.rmap.
NRS1_SUB512 = {
    "META.INSTRUMENT.NAME": "NIRSPEC",
    "META.INSTRUMENT.DETECTOR": "NRS1",
    "META.EXPOSURE.TYPE": "NRS_FIXEDSLIT",
    "META.EXPOSURE.READPATT": "NRS",
    "META.SUBARRAY.NAME": "SUB512",
    "META.SUBARRAY.XSTART": 1025,
    "META.SUBARRAY.YSTART": 957,
    "META.SUBARRAY.XSIZE": 512,
    "META.SUBARRAY.YSIZE": 32,
    "META.OBSERVATION.DATE": "2015-06-01",
    "META.OBSERVATION.TIME": "12:00:00",
}


@pytest.fixture(scope="module")
def real_cache(tmp_path_factory):
    root = tmp_path_factory.mktemp("real_crds")
    context = install_mappings(root, MAPPINGS, references=[REFS / SUPERBIAS, REFS / DARK])
    assert context == "jwst_0567.pmap"
    return root


def test_real_rules_select_eureka_files(real_cache):
    refdir = real_cache / "references" / "jwst" / "nirspec"
    with crds_environment(real_cache):
        refs = best_references(NRS1_SUB512, ["superbias", "dark", "distortion"])
        assert get_context_name() == "jwst_0567.pmap"
    assert refs == {
        "superbias": str(refdir / SUPERBIAS),
        "dark": str(refdir / DARK),
        "distortion": None,  # N/A for NIRSpec in jwst_nirspec_0195.imap
    }
    assert Path(refs["dark"]).read_bytes() == (REFS / DARK).read_bytes()


def test_real_rules_agree_with_crds_getreferences(real_cache):
    import crds

    with crds_environment(real_cache):
        ours = best_references(NRS1_SUB512, ["superbias", "dark"])
        theirs = crds.getreferences(NRS1_SUB512, reftypes=["superbias", "dark"], observatory="jwst")
    assert ours == theirs


@pytest.mark.jwst_oracle
def test_real_rules_agree_with_stpipe_client(real_cache):
    stpipe_crds = pytest.importorskip("stpipe.crds_client")
    with crds_environment(real_cache):
        ours = best_references(NRS1_SUB512, ["superbias", "dark"])
        theirs = stpipe_crds.get_multiple_reference_paths(
            NRS1_SUB512, ["superbias", "dark"], "jwst"
        )
        context = stpipe_crds.get_context_used("jwst")
    assert ours == theirs
    assert context == "jwst_0567.pmap"


def test_later_date_needs_uncached_file(real_cache):
    later = dict(NRS1_SUB512, **{"META.OBSERVATION.DATE": "2016-02-01"})
    with (
        crds_environment(real_cache),
        pytest.raises(CrdsUnavailableError, match="jwst_nirspec_dark_0069.fits"),
    ):
        best_references(later, ["dark"])


def test_real_context_without_pars_gives_none(real_cache):
    with crds_environment(real_cache):
        assert pars_reference(NRS1_SUB512, "JumpStep") is None


def test_crds_version():
    import crds

    assert crds_version() == crds.__version__
