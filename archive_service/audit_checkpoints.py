"""Chain heads kept in write-once storage, so the audit log cannot be rewritten quietly.

A hash chain only proves that events fit together; whoever can write the database can cut the
tail or rebuild everything after some point. A checkpoint — the head's position and hash, when it
was taken and how many events it covers — written as a retained object under
``audit/checkpoints/<seq>-<hash>.json`` is beyond that person's reach, and ``audit verify``
checks that the chain still passes through every one.

Checkpoints are taken every :attr:`AuditCheckpoints.every` events (by whichever writer appends
that event), when the server stops, and on demand (``archive-service audit checkpoint``). Writing
the same head twice is harmless: the key names the head, so the second writer finds it stored.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from archive_service import audit
from archive_service.db import utcnow
from archive_service.errors import ArchiveError
from archive_service.storage import ObjectExistsError, ObjectNotFoundError, ObjectStore

log = logging.getLogger(__name__)

CHECKPOINT_PREFIX = "audit/checkpoints/"
CHECKPOINT_FORMAT = "journal-archive/audit-checkpoint/v1"
_KEY = re.compile(rf"{re.escape(CHECKPOINT_PREFIX)}(\d{{12}})-([0-9a-f]{{64}})\.json")


def checkpoint_key(seq: int, head_hash: str) -> str:
    return f"{CHECKPOINT_PREFIX}{seq:012d}-{head_hash}.json"


def encode_checkpoint(checkpoint: audit.Checkpoint) -> bytes:
    return json.dumps(
        {
            "format": CHECKPOINT_FORMAT,
            "seq": checkpoint.seq,
            "hash": checkpoint.hash,
            "events": checkpoint.events,
            "written_at": checkpoint.written_at.astimezone(dt.UTC).isoformat(),
        },
        sort_keys=True,
    ).encode()


def decode_checkpoint(raw: bytes, key: str) -> audit.Checkpoint:
    """Parse a stored checkpoint; its content must agree with the head its key names.

    :raises ValueError: with a sentence saying what is wrong.
    """
    named = _KEY.fullmatch(key)
    if named is None:
        raise ValueError(f"{key} is not a checkpoint key")
    try:
        body = json.loads(raw)
        checkpoint = audit.Checkpoint(
            seq=int(body["seq"]),
            hash=str(body["hash"]),
            events=int(body["events"]),
            written_at=dt.datetime.fromisoformat(body["written_at"]),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{key} is not a readable checkpoint: {exc}") from None
    if body.get("format") != CHECKPOINT_FORMAT or (checkpoint.seq, checkpoint.hash) != (
        int(named.group(1)),
        named.group(2),
    ):
        raise ValueError(f"{key} does not hold the head its name records")
    return checkpoint


def _years_after(moment: dt.datetime, years: int) -> dt.datetime:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February
        return moment.replace(year=moment.year + years, day=28)


@dataclass
class AuditCheckpoints:
    """Writes and reads the chain heads kept in the object store."""

    store: ObjectStore
    #: Read-only sessions suffice: a checkpoint reads the chain head and writes to the store.
    sessions: sessionmaker[Session]
    #: Write a checkpoint when an appended event's ``seq`` is a multiple of this; 0 = never.
    every: int = 1000
    #: How long each checkpoint object is locked.
    retention_years: int = 10

    def write(self) -> audit.Checkpoint | None:
        """Checkpoint the current head (None while the log is empty)."""
        with self.sessions() as session:
            head = audit.chain_head(session)
        return self._put(head) if head is not None else None

    def after_append(self, seq: int, head_hash: str) -> None:
        """Called after each committed event; cheap unless this event is due a checkpoint.

        A failure is logged, not raised: the event is already committed, and the next
        checkpoint (or the one on shutdown) covers it too.
        """
        if self.every <= 0 or seq % self.every:
            return
        try:
            with self.sessions() as session:
                count = audit.count_events(session, up_to=seq)
            self._put(audit.Checkpoint(seq, head_hash, count, utcnow()))
        except Exception:
            log.exception("audit checkpoint at event %d could not be written", seq)

    def write_best_effort(self) -> None:
        """Checkpoint at shutdown: never let a failure here hide why the process stops."""
        try:
            written = self.write()
        except Exception:
            log.exception("audit checkpoint at shutdown could not be written")
            return
        if written is not None:
            log.info("audit checkpoint at event %d written", written.seq)

    def read_all(self) -> tuple[list[audit.Checkpoint], list[audit.ChainProblem]]:
        """Every stored checkpoint, and a problem for each that cannot be read."""
        checkpoints, problems = [], []
        for stored in self.store.iter_objects(CHECKPOINT_PREFIX):
            try:
                raw = self.store.get(stored.key, sha256=stored.sha256)
                checkpoints.append(decode_checkpoint(raw, stored.key))
            except (ValueError, ArchiveError) as exc:
                named = _KEY.fullmatch(stored.key)
                problems.append(
                    audit.ChainProblem(
                        int(named.group(1)) if named else 0, "bad_checkpoint", str(exc)
                    )
                )
        return checkpoints, problems

    def _put(self, checkpoint: audit.Checkpoint) -> audit.Checkpoint:
        key = checkpoint_key(checkpoint.seq, checkpoint.hash)
        data = encode_checkpoint(checkpoint)
        retain_until = _years_after(checkpoint.written_at, self.retention_years)
        try:
            self.store.put(
                key,
                data,
                sha256=hashlib.sha256(data).hexdigest(),
                content_type="application/json",
                retain_until=retain_until,
            )
        except ObjectExistsError:
            try:
                existing = self.store.stat(key)
            except ObjectNotFoundError:
                # Another process is storing this same head right now (its data is in place,
                # its manifest not yet): that write covers the head.
                log.info("audit checkpoint %d is being written by another process", checkpoint.seq)
                return checkpoint
            return decode_checkpoint(self.store.get(key, sha256=existing.sha256), key)
        return checkpoint
