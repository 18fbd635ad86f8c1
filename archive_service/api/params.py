"""Reading query parameters, path ids and free-text headers: one place, one kind of refusal.

Everything here raises :class:`InvalidInput` (422) whose detail path is the parameter's name
(``version``, ``page``) or ``header:<Name>`` for a header, before any work is done or audited.
Numbers are ASCII digits only (``str.isdigit`` also accepts ``²`` and ``٣``, which ``int``
refuses or reads unexpectedly) and bounded, so nothing larger than the database's integers
ever reaches a query. Free text that the archive records — search filters, ``X-Purpose`` — is
refused when it holds control or invisible formatting characters
(:mod:`archive_service.journal.text`), since it would be stored and exported as it came.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import Sequence

from flask import request

from archive_service.errors import ErrorDetail, InvalidInput, NotFound
from archive_service.journal.text import escape_refused, refused_character_message

#: Largest version, page or audit sequence number: PostgreSQL's ``integer`` (the columns'
#: type; a larger number in a query is an error there, not an empty answer).
MAX_INT32 = 2**31 - 1
#: Longest free-text filter; the values filtered on (institution names, class names, action
#: names, token ids) are all far shorter.
MAX_FILTER_LENGTH = 200
#: Ids the service hands out (UUIDs, token ids) and the export's own ids fit in this.
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
_ASCII_DIGITS = re.compile(r"[0-9]{1,30}")


def int_param(
    name: str, default: int | None, *, minimum: int = 1, maximum: int = MAX_INT32
) -> int | None:
    """``?name=N``, a whole number from ``minimum`` to ``maximum``; ``default`` when absent."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    value = int(raw) if _ASCII_DIGITS.fullmatch(raw) else None
    if value is None or not minimum <= value <= maximum:
        shown = escape_refused(raw[:40])
        raise InvalidInput(
            f"Query parameter {name!r} must be a whole number from {minimum} to {maximum} "
            f"(digits 0–9), not {shown!r}.",
            [ErrorDetail(name, f"whole number from {minimum} to {maximum} expected")],
        )
    return value


def choice_param(name: str, choices: Sequence[str], default: str) -> str:
    """``?name=`` one of ``choices``."""
    value = request.args.get(name) or default
    if value not in choices:
        shown = escape_refused(value[:40])
        raise InvalidInput(
            f"Query parameter {name!r} must be one of {', '.join(choices)}, not {shown!r}.",
            [ErrorDetail(name, f"one of {', '.join(choices)}")],
        )
    return value


def time_param(name: str) -> dt.datetime | None:
    """``?name=`` an ISO 8601 time; without an offset it is taken as UTC."""
    raw = request.args.get(name)
    if not raw:
        return None
    value: dt.datetime | None = None
    if len(raw) <= 40:
        with contextlib.suppress(ValueError):
            value = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    if value is None:
        raise InvalidInput(
            f"Query parameter {name!r} must be an ISO 8601 time such as 2024-06-20T10:00:00Z.",
            [ErrorDetail(name, "ISO 8601 time expected")],
        )
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def text_param(name: str, *, max_length: int = MAX_FILTER_LENGTH) -> str | None:
    """``?name=`` free text that will be recorded: one line, visible characters, bounded."""
    raw = request.args.get(name)
    if not raw:
        return None
    return checked_text(raw, name, max_length=max_length, what=f"Query parameter {name!r}")


def text_header(name: str, *, max_length: int | None = None) -> str | None:
    """A free-text header that will be recorded, trimmed; None when absent or blank.

    curl and most clients send non-ASCII header values as raw UTF-8 bytes, which WSGI hands
    over decoded as Latin-1; that is undone when it is what happened.
    """
    value = request.headers.get(name, "").strip()
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
        value = value.encode("latin-1").decode("utf-8")
    if not value:
        return None
    return checked_text(value, f"header:{name}", max_length=max_length, what=f"Header {name}")


def checked_text(value: str, path: str, *, max_length: int | None, what: str) -> str:
    """``value`` if it is one line of visible text of at most ``max_length`` characters."""
    problem = refused_character_message(value)
    if problem is None and max_length is not None and len(value) > max_length:
        problem = f"The text is {len(value)} characters long; at most {max_length} are accepted."
    if problem is not None:
        raise InvalidInput(f"{what} is refused. {problem}", [ErrorDetail(path, problem)])
    return value


def path_id(name: str, value: str) -> str:
    """A document or request id from the URL: anything that cannot be an id is unknown (404),
    answered before it is looked up or recorded."""
    if _ID.fullmatch(value) is None:
        raise NotFound(
            f"No {name.removesuffix('_id').replace('_', ' ')} with that id exists: ids are at "
            "most 64 Latin letters, digits, '.', '_', ':' or '-'.",
            [ErrorDetail(name, "not an id")],
        )
    return value
