"""Append-only, hash-chained audit events: what an event holds, how it is hashed and appended.

Each event's hash covers its canonical form, which includes the previous event's hash and its
own sequence number, so an edited, deleted, inserted or reordered event breaks the chain at a
point :func:`~archive_service.audit.verification.verify_chain` can name. Appends take a
database-wide lock first so concurrent writers (threads or processes) never fork the chain; the
unique ``seq`` column is the backstop.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Connection, Table, func, insert, select, text
from sqlalchemy.orm import Session

from archive_service.db import AuditEvent, utcnow

#: ``prev_hash`` of the first event.
GENESIS_HASH = "0" * 64

#: Columns covered by the hash, in a fixed order.
_HASHED_FIELDS = (
    "seq",
    "occurred_at",
    "action",
    "outcome",
    "actor_token_id",
    "actor_name",
    "actor_role",
    "document_id",
    "version_number",
    "sha256",
    "client_address",
    "purpose",
    "detail",
    "prev_hash",
)

# Arbitrary constant naming the PostgreSQL advisory lock that serialises appends.
_PG_AUDIT_LOCK = 0x4A41_5544


@dataclass(frozen=True)
class EventData:
    """What a caller knows about an event; the chain fields are added on append."""

    action: str
    outcome: str
    actor_token_id: str | None = None
    actor_name: str | None = None
    actor_role: str | None = None
    document_id: str | None = None
    version_number: int | None = None
    sha256: str | None = None
    client_address: str | None = None
    purpose: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Checkpoint:
    """The chain head at one moment, as kept in write-once storage."""

    seq: int
    hash: str
    #: Events in the log up to and including ``seq`` when the checkpoint was taken.
    events: int
    written_at: dt.datetime


def format_time(value: dt.datetime) -> str:
    """A stored time as the hash and the exports write it (UTC, microseconds)."""
    # SQLite returns naive datetimes; everything we store is UTC.
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat(timespec="microseconds")


def hashed_values(event: AuditEvent) -> dict[str, Any]:
    """The event's values its hash covers, times as :func:`format_time` writes them."""
    values: dict[str, Any] = {name: getattr(event, name) for name in _HASHED_FIELDS}
    values["occurred_at"] = format_time(event.occurred_at)
    return values


def _canonical(values: dict[str, Any]) -> bytes:
    return json.dumps(values, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def digest(values: dict[str, Any]) -> str:
    """The hash of an event whose hashed values are ``values``."""
    return hashlib.sha256(_canonical(values)).hexdigest()


def canonical_form(event: AuditEvent) -> bytes:
    """The bytes the event's hash is computed over (sorted-key JSON, UTC times)."""
    return _canonical(hashed_values(event))


def event_hash(event: AuditEvent) -> str:
    return hashlib.sha256(canonical_form(event)).hexdigest()


def _lock_chain(connection: Session | Connection) -> None:
    """Serialise appenders. SQLite transactions already begin with ``BEGIN IMMEDIATE``."""
    bind = connection.get_bind() if isinstance(connection, Session) else connection
    if bind.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_AUDIT_LOCK})


# A Table, not the ORM class: appends go through Core, so the ORM stays out.
_EVENTS = cast(Table, AuditEvent.__table__)
#: The head of the chain: the event with the highest ``seq``.
_HEAD = select(_EVENTS.c.seq, _EVENTS.c.hash).order_by(_EVENTS.c.seq.desc()).limit(1)
_INSERT = insert(_EVENTS)


def append_event(session: Session | Connection, data: EventData) -> AuditEvent:
    """Add an event at the head of the chain inside the caller's transaction.

    The caller commits; the event is durable (and a retrieval may proceed) only after that.
    The returned event is not attached to the session; it carries the values written, ``seq``
    and ``hash`` included.
    """
    return append_events(session, [data])[0]


def append_events(session: Session | Connection, batch: Sequence[EventData]) -> list[AuditEvent]:
    """Add events at the head of the chain, in order, inside the caller's transaction.

    Every download appends one under a lock that serialises all writers, so the time between
    taking that lock and committing is the whole server's bottleneck: the head is read once,
    the links are computed in Python, and the rows go in as one Core ``executemany`` rather
    than through the ORM's unit of work.
    """
    _lock_chain(session)
    head = session.execute(_HEAD).first()
    seq, prev_hash = (head[0], head[1]) if head else (0, GENESIS_HASH)
    rows: list[dict[str, Any]] = []
    for data in batch:
        seq += 1
        values = _row(seq, prev_hash, data)
        prev_hash = values["hash"]
        rows.append(values)
    session.execute(_INSERT, rows)
    return [AuditEvent(**values) for values in rows]


def _row(seq: int, prev_hash: str, data: EventData) -> dict[str, Any]:
    """The stored row of an event placed at ``seq`` after ``prev_hash``, its hash included."""
    values: dict[str, Any] = {
        "seq": seq,
        "occurred_at": utcnow(),
        "action": data.action,
        "outcome": data.outcome,
        "actor_token_id": data.actor_token_id,
        "actor_name": data.actor_name,
        "actor_role": data.actor_role,
        "document_id": data.document_id,
        "version_number": data.version_number,
        "sha256": data.sha256,
        "client_address": data.client_address,
        "purpose": data.purpose,
        "detail": json.dumps(data.detail, sort_keys=True, ensure_ascii=False),
        "prev_hash": prev_hash,
    }
    values["hash"] = digest({**values, "occurred_at": format_time(values["occurred_at"])})
    return values


def chain_head(session: Session) -> Checkpoint | None:
    """The current head of the chain, or None while the log is empty."""
    head = session.execute(_HEAD).first()
    if head is None:
        return None
    return Checkpoint(head[0], head[1], count_events(session, up_to=head[0]), utcnow())


def count_events(session: Session, *, up_to: int) -> int:
    return session.scalar(select(func.count()).where(AuditEvent.seq <= up_to)) or 0
