"""asdf's extension manifests parsed with libyaml (webbcal.datamodels.asdf_yaml): the same
documents as PyYAML's pure-Python safe loader gives, and asdf set to use it."""

from __future__ import annotations

import asdf
import pytest
import yaml

from webbcal.datamodels.asdf_yaml import libyaml_safe_load, use_libyaml_for_manifests

pytestmark = pytest.mark.skipif(not yaml.__with_libyaml__, reason="PyYAML without libyaml")


def test_every_installed_manifest_parses_the_same():
    resources = asdf.get_config().resource_manager
    checked = 0
    for uri in resources:
        content = resources[uri]
        python = yaml.load(content, Loader=yaml.SafeLoader)
        if not (isinstance(python, dict) and "extension_uri" in python):
            continue  # a schema, not a manifest
        assert libyaml_safe_load(content) == python, uri
        checked += 1
    assert checked >= 20  # asdf, asdf-astropy, gwcs, stdatamodels' manifests at least


def test_asdf_manifest_module_uses_libyaml():
    from asdf.extension import _manifest

    assert use_libyaml_for_manifests()
    assert use_libyaml_for_manifests()  # idempotent
    assert _manifest.yaml.safe_load is libyaml_safe_load
    assert _manifest.yaml.YAMLError is yaml.YAMLError  # the rest of PyYAML unchanged
    extensions = asdf.get_config().extensions
    assert any("stsci.edu/jwst_pipeline" in e.extension_uri or "jwst" in e.extension_uri
               for e in extensions if e.extension_uri)  # fmt: skip
