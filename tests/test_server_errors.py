"""Requests the HTTP server refuses before Flask sees them are answered in the API's JSON error
shape, never with gunicorn's HTML page: the mapping itself, then raw bytes against a real
`archive-service serve` process."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from gunicorn.http import errors as http_errors

from archive_service.api.server_errors import server_refusal
from archive_service.audit.anchors import CHECKPOINT_PREFIX
from archive_service.storage import FilesystemObjectStore
from tests.conftest import cli_token, example_edrpou


def _body(refusal_bytes: bytes) -> dict:
    head, _, body = refusal_bytes.partition(b"\r\n\r\n")
    assert b"Content-Type: application/json" in head
    assert int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0]) == len(body)
    return json.loads(body)


@pytest.mark.parametrize(
    ("exc", "status", "code", "path"),
    [
        (http_errors.LimitRequestLine(5000, 4094), 414, "uri_too_long", "path"),
        (
            http_errors.LimitRequestHeaders("limit request headers fields size"),
            431,
            "request_header_fields_too_large",
            "headers",
        ),
        (http_errors.ObsoleteFolding("X-PURPOSE"), 400, "bad_request", "header:X-Purpose"),
        (http_errors.InvalidHeader("X-PURPOSE"), 400, "bad_request", "header:X-Purpose"),
        (http_errors.InvalidHeader("bare LF as line terminator"), 400, "bad_request", "headers"),
        (http_errors.InvalidHeaderName("X\x00Y"), 400, "bad_request", "headers"),
        (http_errors.InvalidRequestLine("GET /\r x"), 400, "bad_request", "request-line"),
        (http_errors.InvalidRequestMethod("G(T"), 400, "bad_request", "method"),
        (http_errors.InvalidHTTPVersion("HTTP/9.1"), 400, "bad_request", "request-line"),
        (http_errors.InvalidChunkSize(b"zz"), 400, "bad_request", "body"),
        (http_errors.InvalidProxyLine("PROXY x"), 400, "bad_request", "request"),
        (
            http_errors.UnsupportedTransferCoding("gzip"),
            501,
            "not_implemented",
            "header:Transfer-Encoding",
        ),
        (http_errors.InvalidResponseHeader("X-Bad"), 500, "internal_error", "request"),
        (RuntimeError("boom"), 500, "internal_error", "request"),
    ],
)
def test_each_server_refusal_is_json_with_a_path(
    exc: BaseException, status: int, code: str, path: str
) -> None:
    refusal = server_refusal(exc)
    answer = refusal.http_response()
    assert answer.startswith(f"HTTP/1.1 {status} ".encode())
    assert b"Connection: close" in answer
    error = _body(answer)["error"]
    assert error["code"] == code and error["message"]
    assert error["details"] == [{"path": path, "message": error["details"][0]["message"]}]


def test_a_refused_header_value_is_never_echoed() -> None:
    refusal = server_refusal(http_errors.InvalidHeader("Authorization: Bearer ja_x_secret\x00"))
    answer = refusal.http_response()
    assert b"secret" not in answer and b"\x00" not in answer
    assert _body(answer)["error"]["details"][0]["path"] == "header:Authorization"


# ----------------------------------------------------------------------------- a real server


def _raw(base: str, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send bytes exactly as given; the status, headers and body of the answer."""
    host, port = base.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)}
    return int(status_line.split()[1]), headers, body


#: (name, request bytes, status, detail path) — each refused by gunicorn itself.
SERVER_LEVEL = [
    (
        "oversized header",
        b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n",
        431,
        "headers",
    ),
    (
        "too many headers",
        b"GET /healthz HTTP/1.1\r\nHost: t\r\n"
        + b"".join(b"X-H%d: a\r\n" % i for i in range(120))
        + b"\r\n",
        431,
        "headers",
    ),
    ("bare LF in request line", b"GET /healthz HTTP/1.1\nHost: t\r\n\r\n", 400, "request-line"),
    ("bare CR in request line", b"GET /heal\rthz HTTP/1.1\r\nHost: t\r\n\r\n", 400, "request-line"),
    (
        "bare CR in a header",
        b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Purpose: a\rb\r\n\r\n",
        400,
        "header:X-Purpose",
    ),
    (
        "bare LF in a header",
        b"GET /healthz HTTP/1.1\r\nX-Purpose: a\nHost: t\r\n\r\n",
        400,
        "header:X-Purpose",
    ),
    (
        "obs-fold",
        b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Purpose: a\r\n folded\r\n\r\n",
        400,
        "header:X-Purpose",
    ),
    (
        "NUL in a header",
        b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Purpose: a\x00b\r\n\r\n",
        400,
        "header:X-Purpose",
    ),
    (
        "5,000-character id",
        b"GET /api/v1/documents/" + b"a" * 5000 + b"/pdf HTTP/1.1\r\nHost: t\r\n\r\n",
        414,
        "path",
    ),
]


@pytest.mark.live
def test_the_server_answers_what_it_cannot_read_in_json(
    live_server: tuple[str, dict[str, str]], data_dir: Path
) -> None:
    base, env = live_server
    for name, request, status, path in SERVER_LEVEL:
        got, headers, body = _raw(base, request)
        assert got == status, (name, body)
        assert headers["content-type"] == "application/json", name
        assert b"<html" not in body.lower(), name
        error = json.loads(body)["error"]
        assert error["code"] and error["message"], name
        assert [d["path"] for d in error["details"]] == [path], name

    # Refusals Flask makes (unknown URL, wrong method) and the service's own (a recorded
    # header with a line separator, sent as raw UTF-8 bytes the way curl sends it) are JSON too.
    inspector = cli_token(env, "--role", "inspector")
    auth = f"Authorization: Bearer {inspector}\r\n".encode()
    flask_level = [
        (b"GET /no/such/page HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 404, "path"),
        (
            b"DELETE /api/v1/documents HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
            405,
            "method",
        ),
        (
            b"GET /api/v1/documents?page=%C2%B2 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
            + auth
            + b"\r\n",
            422,
            "page",
        ),
        (
            b"GET /api/v1/documents HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
            + auth
            + "X-Purpose: перевірка\u2028підроблений рядок\r\n\r\n".encode(),
            422,
            "header:X-Purpose",
        ),
    ]
    for request, status, path in flask_level:
        got, headers, body = _raw(base, request)
        assert got == status, body
        assert headers["content-type"] == "application/json"
        assert [d["path"] for d in json.loads(body)["error"]["details"]] == [path]

    # The server goes on serving, and none of it stored anything.
    assert requests.get(f"{base}/healthz", timeout=30).status_code == 200
    archivist = cli_token(env, "--role", "archivist", "--institution", example_edrpou())
    listed = requests.get(
        f"{base}/api/v1/documents", timeout=30, headers={"Authorization": f"Bearer {archivist}"}
    )
    assert listed.status_code == 200 and listed.json()["total"] == 0
    store = FilesystemObjectStore(data_dir / "objects")
    assert [o.key for o in store.iter_objects() if not o.key.startswith(CHECKPOINT_PREFIX)] == []
    url = env.get("ARCHIVE_DATABASE_URL") or f"sqlite:///{data_dir / 'archive.sqlite3'}"
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM documents").scalar() == 0
        purposes = connection.exec_driver_sql("SELECT purpose FROM audit_events").scalars().all()
    engine.dispose()
    assert all(p is None or "\u2028" not in p for p in purposes)
