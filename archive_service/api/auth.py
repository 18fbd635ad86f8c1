"""Bearer-token authentication: turns ``Authorization`` into the request's actor and context."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import current_app, g, request

from archive_service.access import authenticate, presented_token_id
from archive_service.api.params import text_header
from archive_service.errors import Unauthorized
from archive_service.journal.text import escape_refused
from archive_service.pipeline import Archive, RequestContext

F = TypeVar("F", bound=Callable[..., Any])

#: Longest accepted ``X-Purpose``; longer statements belong in the inspection file.
MAX_PURPOSE_LENGTH = 500


def archive() -> Archive:
    return cast(Archive, current_app.extensions["archive"])


def _bearer_token() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(
            "Send a token as 'Authorization: Bearer <token>'; "
            "`archive-service tokens create` makes one."
        )
    return token.strip()


def _purpose() -> str | None:
    """The stated purpose, recorded with every event of the request: one line of visible text
    (control and invisible formatting characters are refused with 422), cut to the limit."""
    purpose = text_header("X-Purpose")
    return purpose[:MAX_PURPOSE_LENGTH] if purpose else None


def context() -> RequestContext:
    """The authenticated request context (only inside ``@authenticated`` views)."""
    return cast(RequestContext, g.archive_context)


def _record_refusal(token: str | None) -> None:
    """Audit a 401 with what the request asked for, and at most the token's public id."""
    archive().record_unauthenticated(
        request.remote_addr,
        presented_token_id(token) if token else None,
        {
            "method": request.method,
            "path": escape_refused(request.path[:200]),
            "reason": "invalid_token" if token else "no_token",
        },
    )


def authenticated(view: F) -> F:
    """Require a valid bearer token; role and scope checks happen in the pipeline."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        token: str | None = None
        try:
            token = _bearer_token()
            with archive().lookup() as connection:
                actor = authenticate(connection, token)
        except Unauthorized:
            _record_refusal(token)
            raise
        g.archive_context = RequestContext(
            actor=actor, client_address=request.remote_addr, purpose=_purpose()
        )
        return view(*args, **kwargs)

    return cast(F, wrapper)
