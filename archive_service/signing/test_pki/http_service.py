"""The test PKI's responder behind a real HTTP server on 127.0.0.1, for tests that need HTTP.

The server binds the port written into the PKI's certificates (``TestPki.port``), so pyHanko's
ordinary network fetchers and ``HTTPTimeStamper`` reach it exactly as they would reach a CA. It
runs on a daemon thread and serves until the context manager exits.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from archive_service.signing.test_pki.pki import TestPki
from archive_service.signing.test_pki.revocation import Answer, PkiResponder

#: Bodies of OCSP and timestamp requests are a few hundred bytes; refuse anything large.
_MAX_BODY = 64 * 1024


class _Handler(BaseHTTPRequestHandler):
    responder: PkiResponder

    def do_GET(self) -> None:
        self._reply(self.responder.handle("GET", self.path, None))

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > _MAX_BODY:
            self._reply(Answer(413, "text/plain", b"request too large"))
            return
        self._reply(self.responder.handle("POST", self.path, self.rfile.read(length)))

    def _reply(self, answer: Answer) -> None:
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        self.wfile.write(answer.body)

    def log_message(self, format: str, *args: object) -> None:
        return None  # tests stay quiet


@contextmanager
def serve_pki(pki: TestPki) -> Iterator[str]:
    """Serve ``pki``'s CRLs, OCSP and TSAs on its loopback port; yields the base URL.

    :raises OSError: the port is taken (another process, or a server already running).
    """
    handler = type("PkiHandler", (_Handler,), {"responder": pki.responder()})
    server = ThreadingHTTPServer(("127.0.0.1", pki.port), handler)
    thread = threading.Thread(target=server.serve_forever, name="test-pki-http", daemon=True)
    thread.start()
    try:
        yield pki.base_url
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
