"""The HTTP server's own refusals, in the API's JSON error shape.

gunicorn reads the request line and headers before Flask sees anything, and refuses what it
cannot parse — a request line or header beyond its limits (414, 431), a bare CR or LF, a folded
(obs-fold) header line, a NUL or other control character in a header (400) — with an HTML page
of its own. :func:`server_refusal` turns each of those exceptions into the same
``{"error": {"code", "message", "details": [{"path", "message"}]}}`` every other answer of the
service has; :class:`archive_service.serving.JsonErrorWorker` writes it.

Paths name the part of the request at fault: ``path`` (the URL), ``request-line``, ``method``,
``headers``, ``header:<Name>`` or ``body``. Nothing the client sent is echoed except a header's
name, and that only when it is a well-formed name.
"""

from __future__ import annotations

import json
import re
import ssl
from dataclasses import dataclass
from http import HTTPStatus

from gunicorn.http import errors as http_errors

#: A header name as RFC 9110 allows it (a token), short enough to repeat in an answer.
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}")


@dataclass(frozen=True)
class ServerRefusal:
    status: int
    code: str
    message: str
    path: str
    detail: str

    @property
    def reason(self) -> str:
        return HTTPStatus(self.status).phrase

    def body(self) -> bytes:
        return json.dumps(
            {
                "error": {
                    "code": self.code,
                    "message": self.message,
                    "details": [{"path": self.path, "message": self.detail}],
                }
            }
        ).encode("ascii")

    def http_response(self) -> bytes:
        """The whole answer; the connection is closed after it (the request could not be read,
        so nothing else on the connection can be trusted)."""
        body = self.body()
        head = (
            f"HTTP/1.1 {self.status} {self.reason}\r\n"
            "Connection: close\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n"
            "Cache-Control: no-store\r\n"
            "\r\n"
        )
        return head.encode("ascii") + body


def _header_path(candidate: object) -> str:
    """``header:<Name>`` when the offending header's name can be told, else ``headers``."""
    name = str(candidate).split(":", 1)[0].strip()
    return f"header:{name.title()}" if _HEADER_NAME.fullmatch(name) else "headers"


def server_refusal(exc: BaseException, *, limit_request_line: int = 0) -> ServerRefusal:
    """What to answer for an exception raised while gunicorn read a request.

    Errors in what the client sent are 4xx (gunicorn's own status for each); anything else —
    an invalid header the *application* tried to send included — is a 500 ``internal_error``.
    """
    e = http_errors
    if isinstance(exc, e.InvalidResponseHeader | e.InvalidResponseHeaderName):
        return _internal()
    if isinstance(exc, e.LimitRequestLine):
        limit = f" ({limit_request_line} bytes)" if limit_request_line else ""
        return ServerRefusal(
            414,
            "uri_too_long",
            f"The request line (method, path and query) is longer than this server reads{limit}. "
            "Document ids are 36 characters; long filters belong in fewer parameters.",
            "path",
            "too long",
        )
    if isinstance(exc, e.LimitRequestHeaders):
        return ServerRefusal(
            431,
            "request_header_fields_too_large",
            "The request's headers are too large or too many for this server: send fewer or "
            "shorter headers.",
            "headers",
            "too large or too many",
        )
    if isinstance(exc, e.ObsoleteFolding):
        return ServerRefusal(
            400,
            "bad_request",
            "A header is continued on a second line (obsolete line folding), which this "
            "server does not accept: send each header on one line.",
            _header_path(exc.hdr),
            "folded over several lines",
        )
    if isinstance(exc, e.InvalidHeaderName):
        return ServerRefusal(
            400,
            "bad_request",
            "A header name is not valid (only letters, digits and !#$%&'*+.^_`|~- are allowed).",
            "headers",
            "invalid header name",
        )
    if isinstance(exc, e.InvalidHeader):
        return ServerRefusal(
            400,
            "bad_request",
            "A header is not valid: it holds a control character (such as NUL, a bare CR or "
            "LF), or its value contradicts the message (Content-Length, Transfer-Encoding).",
            _header_path(exc.hdr),
            "invalid header",
        )
    if isinstance(exc, e.InvalidRequestMethod):
        return ServerRefusal(
            400, "bad_request", "The request method is not valid.", "method", "invalid method"
        )
    if isinstance(exc, e.InvalidRequestLine | e.InvalidHTTPVersion):
        return ServerRefusal(
            400,
            "bad_request",
            "The request line is not valid: it must be 'METHOD /path HTTP/1.1' ending in "
            "CR LF, without control characters (a bare CR or LF included).",
            "request-line",
            "invalid request line",
        )
    if isinstance(exc, e.UnsupportedTransferCoding):
        return ServerRefusal(
            501,
            "not_implemented",
            "The request's transfer coding is not supported: send the body as is or chunked.",
            "header:Transfer-Encoding",
            "unsupported transfer coding",
        )
    if isinstance(exc, e.ExpectationFailed):
        return ServerRefusal(
            417,
            "expectation_failed",
            "Only 'Expect: 100-continue' is supported.",
            "header:Expect",
            "unsupported expectation",
        )
    if isinstance(exc, e.ForbiddenProxyRequest):
        return ServerRefusal(
            403,
            "forbidden",
            "Proxy requests are not accepted from this address.",
            "request",
            "forbidden",
        )
    if isinstance(exc, e.InvalidChunkSize | e.ChunkMissingTerminator | e.InvalidChunkExtension):
        return ServerRefusal(
            400,
            "bad_request",
            "The chunked request body is malformed.",
            "body",
            "malformed chunked encoding",
        )
    if isinstance(exc, ssl.SSLError):
        return ServerRefusal(403, "forbidden", "The TLS handshake failed.", "request", "TLS")
    if isinstance(exc, e.ConfigurationProblem):
        return _internal()
    if isinstance(exc, e.ParseException):
        # Any other refusal of the request parser (proxy protocol lines, scheme headers,
        # HTTP/2 prefaces, or one a later gunicorn adds): the client's fault, gunicorn's status.
        status = getattr(exc, "code", 400)
        status = status if isinstance(status, int) and 400 <= status < 500 else 400
        return ServerRefusal(
            status,
            HTTPStatus(status).phrase.lower().replace(" ", "_"),
            "The request could not be read: it is not valid HTTP/1.1.",
            "request",
            type(exc).__name__,
        )
    return _internal()


def _internal() -> ServerRefusal:
    return ServerRefusal(
        500,
        "internal_error",
        "Unexpected server error; it has been logged. Nothing was archived.",
        "request",
        "server error",
    )
