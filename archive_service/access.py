"""Who is asking and what they may do: roles, scopes and bearer tokens.

Tokens look like ``ja_<id>_<secret>``. Only the SHA-256 of the secret is stored, so a copy of
the database does not let anyone act as a token holder; the id is public and names the actor
in audit events.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session

from archive_service.db import ApiToken, utcnow
from archive_service.errors import InvalidInput, NotFound, Unauthorized

TOKEN_PREFIX = "ja"
#: Bytes of randomness in a token id (shown as twice as many hex digits).
_TOKEN_ID_BYTES = 8
_TOKEN_ID = re.compile(rf"[0-9a-f]{{{2 * _TOKEN_ID_BYTES}}}")


class Role(enum.StrEnum):
    ARCHIVIST = "archivist"  # uploads and reads for its own institution
    JOB = "job"  # automated uploads and checks; never reads content
    INSPECTOR = "inspector"  # searches, reads, verifies; scoped or all institutions
    ADMIN = "admin"  # everything


#: Roles allowed to upload journals.
UPLOADERS = frozenset({Role.ARCHIVIST, Role.JOB, Role.ADMIN})
#: Roles allowed to read documents (metadata and content).
READERS = frozenset({Role.ARCHIVIST, Role.INSPECTOR, Role.ADMIN})


@dataclass(frozen=True)
class Actor:
    """The authenticated caller, as the pipeline sees it."""

    token_id: str | None
    name: str
    role: Role
    #: The only institution this actor may touch; None means all.
    institution: str | None

    def in_scope(self, edrpou: str) -> bool:
        return self.institution is None or self.institution == edrpou


#: The actor for commands run on the server itself (CLI), which has full access anyway.
LOCAL_OPERATOR = Actor(
    token_id=None, name="local operator (CLI)", role=Role.ADMIN, institution=None
)


@dataclass(frozen=True)
class IssuedToken:
    """A new token; ``secret`` is shown once and never stored."""

    record: ApiToken
    secret: str


def _hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(
    session: Session,
    *,
    name: str,
    role: Role,
    institution: str | None = None,
    expires_at: dt.datetime | None = None,
) -> IssuedToken:
    """Create a token; the caller commits and shows ``secret`` exactly once."""
    if role in {Role.ARCHIVIST, Role.JOB} and institution is None:
        raise InvalidInput(
            f"A {role.value} token must be limited to one institution: pass --institution "
            "with its 8-digit EDRPOU code."
        )
    if institution is not None and not (len(institution) == 8 and institution.isdigit()):
        raise InvalidInput(f"Institution must be an 8-digit EDRPOU code, not {institution!r}.")
    token_id = secrets.token_hex(_TOKEN_ID_BYTES)
    secret = secrets.token_urlsafe(32)
    record = ApiToken(
        id=token_id,
        name=name,
        role=role.value,
        institution_edrpou=institution,
        secret_sha256=_hash_secret(secret),
        expires_at=expires_at,
    )
    session.add(record)
    session.flush()
    return IssuedToken(record, f"{TOKEN_PREFIX}_{token_id}_{secret}")


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def presented_token_id(presented: str) -> str | None:
    """The public id of a presented token, if it has a token's shape; never any other part.

    Refused requests are recorded with this id, so it must not be able to carry a secret: only
    an id exactly as :func:`create_token` makes them is returned.
    """
    prefix, _, rest = presented.partition("_")
    token_id, separator, _secret = rest.partition("_")
    if prefix == TOKEN_PREFIX and separator and _TOKEN_ID.fullmatch(token_id):
        return token_id
    return None


_TOKENS = ApiToken.__table__.c
#: What authentication needs of a token row; table columns, so the ORM stays out of the way.
_TOKEN_BY_ID = select(
    _TOKENS.id,
    _TOKENS.name,
    _TOKENS.role,
    _TOKENS.institution_edrpou,
    _TOKENS.secret_sha256,
    _TOKENS.expires_at,
    _TOKENS.revoked_at,
).where(_TOKENS.id == bindparam("token_id"))


def authenticate(session: Session | Connection, presented: str) -> Actor:
    """Turn a presented bearer token into an actor, or raise Unauthorized.

    Every failure gives the same message, so a caller cannot probe which token ids exist.
    """
    failure = Unauthorized("The bearer token is invalid, expired or revoked.")
    prefix, _, rest = presented.partition("_")
    token_id, _, secret = rest.partition("_")
    if prefix != TOKEN_PREFIX or not token_id or not secret:
        raise failure
    # Looked up on every request, never cached, so a revocation takes effect at once; plain
    # Core rows keep that lookup a fraction of the ORM's cost.
    record = session.execute(_TOKEN_BY_ID, {"token_id": token_id}).first()
    expected = record.secret_sha256 if record else _hash_secret("")
    matches = hmac.compare_digest(expected, _hash_secret(secret))
    if record is None or not matches or record.revoked_at is not None:
        raise failure
    if record.expires_at is not None and _aware(record.expires_at) <= utcnow():
        raise failure
    return Actor(record.id, record.name, Role(record.role), record.institution_edrpou)


def token_state(record: ApiToken, now: dt.datetime | None = None) -> str:
    """``revoked``, ``expired`` or ``active``: whether the token still authenticates now."""
    if record.revoked_at is not None:
        return "revoked"
    if record.expires_at is not None and _aware(record.expires_at) <= (now or utcnow()):
        return "expired"
    return "active"


def list_tokens(session: Session) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).order_by(ApiToken.created_at)))


def revoke_token(session: Session, token_id: str) -> ApiToken:
    record = session.get(ApiToken, token_id)
    if record is None:
        raise NotFound(f"No token with id {token_id!r}; `archive-service tokens list` shows ids.")
    if record.revoked_at is None:
        record.revoked_at = utcnow()
    return record
