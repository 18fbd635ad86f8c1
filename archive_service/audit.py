"""Append-only, hash-chained audit events.

Each event's hash covers its canonical form, which includes the previous event's hash and its
own sequence number, so an edited, deleted, inserted or reordered event breaks the chain at a
point :func:`verify_chain` can name. Appends take a database-wide lock first so concurrent
writers (threads or processes) never fork the chain; the unique ``seq`` column is the backstop.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, text
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


def _format_time(value: dt.datetime) -> str:
    # SQLite returns naive datetimes; everything we store is UTC.
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat(timespec="microseconds")


def canonical_form(event: AuditEvent) -> bytes:
    """The bytes the event's hash is computed over (sorted-key JSON, UTC times)."""
    values: dict[str, Any] = {name: getattr(event, name) for name in _HASHED_FIELDS}
    values["occurred_at"] = _format_time(event.occurred_at)
    return json.dumps(values, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def event_hash(event: AuditEvent) -> str:
    return hashlib.sha256(canonical_form(event)).hexdigest()


def _lock_chain(session: Session) -> None:
    """Serialise appenders. SQLite transactions already begin with ``BEGIN IMMEDIATE``."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_AUDIT_LOCK})


def append_event(session: Session, data: EventData) -> AuditEvent:
    """Add an event at the head of the chain inside the caller's transaction.

    The caller commits; the event is durable (and a retrieval may proceed) only after that.
    """
    _lock_chain(session)
    head = session.execute(
        select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
    ).first()
    seq, prev_hash = (head[0] + 1, head[1]) if head else (1, GENESIS_HASH)
    event = AuditEvent(
        seq=seq,
        occurred_at=utcnow(),
        action=data.action,
        outcome=data.outcome,
        actor_token_id=data.actor_token_id,
        actor_name=data.actor_name,
        actor_role=data.actor_role,
        document_id=data.document_id,
        version_number=data.version_number,
        sha256=data.sha256,
        client_address=data.client_address,
        purpose=data.purpose,
        detail=json.dumps(data.detail, sort_keys=True, ensure_ascii=False),
        prev_hash=prev_hash,
    )
    event.hash = event_hash(event)
    session.add(event)
    session.flush()
    return event


@dataclass(frozen=True)
class ChainProblem:
    seq: int
    kind: str  # "edited" | "broken_link" | "gap" | "duplicate"
    message: str


@dataclass(frozen=True)
class ChainReport:
    events: int
    head_seq: int
    head_hash: str
    problems: tuple[ChainProblem, ...]

    @property
    def intact(self) -> bool:
        return not self.problems


def verify_events(events: Iterable[AuditEvent]) -> ChainReport:
    """Recompute the chain over events ordered by ``seq`` and name every break."""
    problems: list[ChainProblem] = []
    expected_seq, prev_hash, count = 1, GENESIS_HASH, 0
    last_hash = GENESIS_HASH
    for event in events:
        count += 1
        if event.seq != expected_seq:
            kind = "gap" if event.seq > expected_seq else "duplicate"
            problems.append(
                ChainProblem(event.seq, kind, f"expected event {expected_seq}, found {event.seq}")
            )
        if event_hash(event) != event.hash:
            problems.append(
                ChainProblem(event.seq, "edited", "stored hash does not match the event's content")
            )
        if event.prev_hash != prev_hash:
            problems.append(
                ChainProblem(
                    event.seq, "broken_link", "prev_hash does not match the preceding event"
                )
            )
        expected_seq, prev_hash, last_hash = event.seq + 1, event.hash, event.hash
    return ChainReport(count, expected_seq - 1, last_hash, tuple(problems))


def verify_chain(session: Session) -> ChainReport:
    events = session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).yield_per(1000)
    return verify_events(events)


def event_as_dict(event: AuditEvent) -> dict[str, Any]:
    """The public JSON form used by the API and exports."""
    return {
        "seq": event.seq,
        "occurred_at": _format_time(event.occurred_at),
        "action": event.action,
        "outcome": event.outcome,
        "actor": {
            "token_id": event.actor_token_id,
            "name": event.actor_name,
            "role": event.actor_role,
        },
        "document_id": event.document_id,
        "version": event.version_number,
        "sha256": event.sha256,
        "client_address": event.client_address,
        "purpose": event.purpose,
        "detail": json.loads(event.detail or "{}"),
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }
