"""A tiny CRDS server on 127.0.0.1 for tests: the JSON-RPC calls and file downloads that
the ``crds`` client makes when it selects and caches references online.

Serves the mappings and references of a local context written by
:func:`webbcal.crds_client.write_local_context` (the "server side" cache).

References
----------
The ``crds`` client (``crds/client/api.py``, ``crds/client/proxy.py``): JSON-RPC 1.0
POSTs to ``<server>/json/<method>/<id>/`` answered with ``{"result", "error", "id"}``;
``get_server_info`` gives the download URLs (``mapping_url``, ``reference_url``) and the
``download_metadata`` (size and sha1sum of each file, ``crds_encode``-d) that the client
checks each download against.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

__all__ = ["CrdsTestServer", "crds_test_server"]


class CrdsTestServer:
    """What the server serves and what it was asked (``calls``, ``downloads``)."""

    def __init__(self, root: Path, context: str) -> None:
        self.root = Path(root)
        self.context = context
        self.calls: list[str] = []
        self.downloads: list[str] = []
        self.url = ""
        self.files: dict[str, Path] = {}
        for path in (self.root / "mappings").rglob("*"):
            if path.is_file():
                self.files[path.name] = path
        for path in (self.root / "references").rglob("*"):
            if path.is_file():
                self.files[path.name] = path

    def server_info(self) -> dict:
        from crds.client.proxy import crds_encode

        metadata = {
            name: {"size": str(path.stat().st_size),
                   "sha1sum": hashlib.sha1(path.read_bytes()).hexdigest()}
            for name, path in self.files.items()
        }  # fmt: skip
        mappings = sorted(n for n in self.files if n.endswith((".pmap", ".imap", ".rmap")))
        return {
            "observatory": "jwst",
            "operational_context": self.context,
            "latest_context": self.context,
            "edit_context": self.context,
            "versions_context": self.context,
            "bad_files": "",
            "bad_files_list": [],
            "force_remote_mode": False,
            "last_synced": "2026-01-01 00:00:00",
            "mappings": mappings,
            "crds_version": {"str": "webbcal test server"},
            "mapping_url": {"jwst": self.url + "/files/"},
            "reference_url": {"jwst": self.url + "/files/"},
            "download_metadata": crds_encode(metadata),
        }

    def answer(self, method: str, params: list) -> object:
        self.calls.append(method)
        if method == "get_server_info":
            return self.server_info()
        if method in ("get_build_context", "get_default_context"):
            return self.context
        if method == "get_mapping_names":
            return sorted(n for n in self.files if n.endswith((".pmap", ".imap", ".rmap")))
        raise LookupError(f"method {method!r} is not served by the test server")


def _handler(server: CrdsTestServer) -> type:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            try:
                reply = {"result": server.answer(body["method"], body["params"]), "error": None}
            except LookupError as exc:
                reply = {"result": None, "error": {"message": str(exc)}}
            reply["id"] = body["id"]
            self._send(json.dumps(reply).encode(), "application/json")

        def do_GET(self) -> None:
            name = self.path.rsplit("/", 1)[-1]
            path = server.files.get(name)
            if not self.path.startswith("/files/") or path is None:
                self.send_error(404)
                return
            server.downloads.append(name)
            self._send(path.read_bytes(), "application/octet-stream")

        def _send(self, data: bytes, kind: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@contextlib.contextmanager
def crds_test_server(root: Path, context: str) -> Iterator[CrdsTestServer]:
    """Serve ``root`` (a local context's cache) on 127.0.0.1 in a thread, stopped on exit.

    ``server.url`` is ``http://localhost:<port>`` (the crds client warns about
    plain-http URLs other than localhost).
    """
    state = CrdsTestServer(root, context)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.timeout = 5
    state.url = f"http://localhost:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1},
                              daemon=True)  # fmt: skip
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
