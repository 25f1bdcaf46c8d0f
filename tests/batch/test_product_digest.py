"""Product digests of the batch manifest, and the release of published products."""

from __future__ import annotations

import hashlib
import os

import pytest

from _pagecache import drops_cached_pages, resident_pages
from webbcal.batch.manifest import product_digest


def test_digest_and_release(tmp_path):
    if not drops_cached_pages(tmp_path):
        pytest.skip("this file system keeps pages cached whatever the advice (e.g. tmpfs)")
    data = os.urandom(3 << 20) + b"tail"
    path = tmp_path / "x_rate.fits"
    path.write_bytes(data)
    truth = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    cached = resident_pages(path)
    assert cached == -(-len(data) // os.sysconf("SC_PAGE_SIZE"))  # just written: all cached
    assert product_digest(str(path)) == truth
    assert resident_pages(path) == cached  # a plain digest leaves the cache alone
    assert product_digest(str(path), release=True) == truth
    assert resident_pages(path) == 0
    assert path.read_bytes() == data  # the file itself is untouched


def test_release_without_the_calls_still_digests(tmp_path, monkeypatch):
    """Where the platform lacks fdatasync/posix_fadvise (macOS), the digest is the same."""
    data = b"\x01" * 10000
    path = tmp_path / "y_rate.fits"
    path.write_bytes(data)
    monkeypatch.delattr(os, "posix_fadvise", raising=False)
    truth = {"size": 10000, "sha256": hashlib.sha256(data).hexdigest()}
    assert product_digest(str(path), release=True) == truth
