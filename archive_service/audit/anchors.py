"""Timestamped chain heads in write-once storage, so the audit log cannot be quietly rewritten.

A hash chain only proves that events fit together; whoever can write the database can cut the
tail or rebuild everything after some point. A checkpoint — an *anchor* — of the head (its
position and hash, how many events it covers) is written as a retained object under
``audit/checkpoints/<seq>-<hash>.json`` beyond that person's reach, and ``audit verify`` checks
that the chain still passes through every one.

An anchor carries an RFC 3161 timestamp token over the head hash (the token's message imprint
*is* the head hash), from the deployment's TSA — the one the seal uses. The database holds no
key that could make one, so rebuilding the chain and writing a matching checkpoint is not enough
to forge an anchor: verification checks the token (imprint, signature, TSA chain to the trust
roots) and reports a checkpoint without a valid one as ``forged_anchor``. The token's time is
the anchor's time.

When anchors are written:

* by every process that appends events, at least every :attr:`AuditCheckpoints.anchor_seconds`
  while events arrive — a background :class:`~archive_service.audit.anchor_job.AnchorJob` in
  each server process, inline in the CLI — and when it stops;
* when a server starts (the head a crashed process left unanchored);
* every :attr:`AuditCheckpoints.every` events, by whichever writer appends that event;
* on demand (``archive-service audit checkpoint``).

Anchoring only reads the head, so it never touches the chain. Two processes anchoring the same
head is harmless: the key names the head, so the second finds it stored (or, if the first left
it half-written, stores its own copy under a suffixed key).

Verification reads every *version* under the prefix (:meth:`ObjectStore.iter_versions`), not the
plain listing: on S3 a DELETE without a version id hides an anchor behind a delete marker while
the locked version stays. Each marker is reported as ``hidden_anchor`` and the version beneath
is read and counted anyway, so hiding anchors gains nothing but a report.

Reconcile's quicker check (:func:`unanchored_events`) reads the anchors' *keys* only, from the
store's version listing: events older than the window with no anchor at or after them mean
anchors were removed, or never written (a process killed and not started again, no TSA).
Whether each anchor's timestamp is genuine is ``archive-service audit verify``'s job.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from archive_service.audit.chain import Checkpoint, chain_head, count_events
from archive_service.audit.verification import AnchoringWindow, ChainProblem
from archive_service.db import AuditEvent, utcnow
from archive_service.errors import ArchiveError, ServiceUnavailable
from archive_service.signing.digest_timestamps import check_digest_timestamp, timestamp_digest
from archive_service.storage import (
    ObjectExistsError,
    ObjectNotFoundError,
    ObjectStore,
    ObjectVersion,
)

if TYPE_CHECKING:
    from asn1crypto import x509
    from pyhanko.sign.timestamps import TimeStamper

log = logging.getLogger(__name__)

CHECKPOINT_PREFIX = "audit/checkpoints/"
#: Checkpoints written before anchors were timestamped; they carry no token and prove nothing.
CHECKPOINT_FORMAT = "journal-archive/audit-checkpoint/v1"
ANCHOR_FORMAT = "journal-archive/audit-anchor/v2"
#: Added to the anchoring interval before verification expects an event to be covered: the TSA
#: round trip, a tick that ran late, clocks a little apart.
ANCHOR_GRACE = dt.timedelta(seconds=60)
_KEY = re.compile(
    rf"{re.escape(CHECKPOINT_PREFIX)}(\d{{12}})-([0-9a-f]{{64}})(?:-[0-9a-f]{{8}})?\.json"
)


def checkpoint_key(seq: int, head_hash: str, suffix: str | None = None) -> str:
    """The anchor's key; ``suffix`` (8 hex digits) names a second copy of one head."""
    tail = f"-{suffix}" if suffix else ""
    return f"{CHECKPOINT_PREFIX}{seq:012d}-{head_hash}{tail}.json"


@dataclass(frozen=True)
class StoredAnchor:
    """A checkpoint as read back: the head it names and the token it carries, if any."""

    checkpoint: Checkpoint
    #: DER timestamp token over the head hash; None in a v1 checkpoint.
    token: bytes | None


def encode_checkpoint(checkpoint: Checkpoint, token: bytes | None = None) -> bytes:
    body: dict[str, Any] = {
        "format": ANCHOR_FORMAT if token is not None else CHECKPOINT_FORMAT,
        "seq": checkpoint.seq,
        "hash": checkpoint.hash,
        "events": checkpoint.events,
        "written_at": checkpoint.written_at.astimezone(dt.UTC).isoformat(),
    }
    if token is not None:
        body["timestamp_token"] = base64.b64encode(token).decode("ascii")
    return json.dumps(body, sort_keys=True).encode()


def decode_anchor(raw: bytes, key: str) -> StoredAnchor:
    """Parse a stored checkpoint; its content must agree with the head its key names.

    :raises ValueError: with a sentence saying what is wrong.
    """
    named = _KEY.fullmatch(key)
    if named is None:
        raise ValueError(f"{key} is not a checkpoint key")
    try:
        body = json.loads(raw)
        checkpoint = Checkpoint(
            seq=int(body["seq"]),
            hash=str(body["hash"]),
            events=int(body["events"]),
            written_at=dt.datetime.fromisoformat(body["written_at"]),
        )
        encoded = body.get("timestamp_token")
        token = base64.b64decode(encoded, validate=True) if encoded is not None else None
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise ValueError(f"{key} is not a readable checkpoint: {exc}") from None
    expected_format = ANCHOR_FORMAT if token is not None else CHECKPOINT_FORMAT
    if body.get("format") != expected_format or (checkpoint.seq, checkpoint.hash) != (
        int(named.group(1)),
        named.group(2),
    ):
        raise ValueError(f"{key} does not hold the head its name records")
    return StoredAnchor(checkpoint, token)


def decode_checkpoint(raw: bytes, key: str) -> Checkpoint:
    """The head a stored checkpoint names (its token, if any, unchecked)."""
    return decode_anchor(raw, key).checkpoint


def _years_after(moment: dt.datetime, years: int) -> dt.datetime:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February
        return moment.replace(year=moment.year + years, day=28)


def checkpoint_seq(key: str) -> int:
    """The seq an anchor's key names (0 for a key that names none)."""
    named = _KEY.fullmatch(key)
    return int(named.group(1)) if named else 0


@dataclass
class AuditCheckpoints:
    """Writes the chain head's anchors to the object store, and reads them back for verification."""

    store: ObjectStore
    #: Read-only sessions suffice: an anchor reads the chain head and writes to the store.
    sessions: sessionmaker[Session]
    #: Write a checkpoint when an appended event's ``seq`` is a multiple of this; 0 = never.
    every: int = 1000
    #: How long each checkpoint object is locked.
    retention_years: int = 10
    #: The deployment's TSA; None: anchors cannot be written (and verification says so).
    timestamper: TimeStamper | None = None
    #: The roots a token's TSA must chain to.
    trust_roots: Sequence[x509.Certificate] = ()
    #: The anchoring window: the head is anchored at least this often while events arrive.
    anchor_seconds: float = 60.0
    #: Anchor from :meth:`after_append` once the window has passed (processes without a
    #: background job: the CLI).
    anchor_inline: bool = False
    #: Wall clock for verification ("which events are older than the window?").
    clock: Callable[[], dt.datetime] = utcnow
    #: Monotonic clock for "is an inline anchor due?".
    monotonic: Callable[[], float] = time.monotonic

    #: Highest seq this process appended, and highest seq it anchored (or found anchored).
    _appended: int = field(default=0, init=False, repr=False)
    _anchored: int = field(default=0, init=False, repr=False)
    _last_anchor: float = field(default=0.0, init=False, repr=False)
    #: One anchor at a time per process (a job tick and an every-N anchor may coincide).
    _writing: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        self._last_anchor = self.monotonic()

    # -- writing ------------------------------------------------------------------------------

    def write(self) -> Checkpoint | None:
        """Anchor the current head (None while the log is empty); an anchored head is found,
        not anchored again.

        :raises ServiceUnavailable: no TSA configured, the TSA or the store did not answer.
        """
        with self._writing:
            with self.sessions() as session:
                head = chain_head(session)
            if head is None:
                return None
            written = self._put(head)
            self._anchored = max(self._anchored, written.seq)
            self._last_anchor = self.monotonic()
            return written

    @property
    def behind(self) -> bool:
        """Whether this process appended events that no anchor it knows of covers yet."""
        return self._appended > self._anchored

    def tick(self) -> Checkpoint | None:
        """One step of the anchoring job: anchor the head if this process appended since its
        last anchor; else nothing (an idle process writes no anchors)."""
        if not self.behind:
            return None
        return self.write()

    def tick_best_effort(self) -> None:
        """:meth:`tick`, logging a failure: the events are committed, the next tick retries."""
        try:
            written = self.tick()
        except Exception:
            log.exception("the audit chain head could not be anchored; retrying at the next tick")
            return
        if written is not None:
            log.debug("audit chain head #%d anchored", written.seq)

    def after_append(self, seq: int, head_hash: str) -> None:
        """Called after each committed event; cheap unless an anchor is due.

        A failure is logged, not raised: the event is already committed, and the next anchor
        covers it too.
        """
        self._appended = max(self._appended, seq)
        if self.every > 0 and seq % self.every == 0:
            try:
                with self.sessions() as session:
                    count = count_events(session, up_to=seq)
                with self._writing:
                    written = self._put(Checkpoint(seq, head_hash, count, utcnow()))
                    self._anchored = max(self._anchored, written.seq)
            except Exception:
                log.exception("audit checkpoint at event %d could not be written", seq)
        if self.anchor_inline and self.monotonic() - self._last_anchor >= self.anchor_seconds:
            self.tick_best_effort()

    def write_best_effort(self) -> None:
        """Anchor at start-up or shutdown: never let a failure here hide why the process stops."""
        try:
            written = self.write()
        except Exception:
            log.exception("the audit chain head could not be anchored")
            return
        if written is not None:
            log.info("audit chain head #%d anchored", written.seq)

    def _put(self, head: Checkpoint) -> Checkpoint:
        key = checkpoint_key(head.seq, head.hash)
        existing = self._existing(key)
        if existing is not None:
            return existing
        if self.timestamper is None:
            raise ServiceUnavailable(
                "No time-stamping service is configured, so the audit chain head cannot be "
                "anchored: set ARCHIVE_TSA_URL to the deployment's RFC 3161 TSA."
            )
        token = timestamp_digest(self.timestamper, bytes.fromhex(head.hash))
        data = encode_checkpoint(head, token)
        try:
            self._store(key, data, head)
        except ObjectExistsError:
            existing = self._existing(key)
            if existing is not None:
                return existing
            # Half-written by a process that crashed (or is writing it right now), or hidden
            # behind a delete marker: keep a copy of our own beside it.
            self._store(checkpoint_key(head.seq, head.hash, secrets.token_hex(4)), data, head)
        return head

    def _existing(self, key: str) -> Checkpoint | None:
        """The head stored under ``key`` if a complete, readable checkpoint is there."""
        try:
            if not self.store.exists(key):
                return None
            stored = self.store.stat(key)
            return decode_checkpoint(self.store.get(key, sha256=stored.sha256), key)
        except (ObjectNotFoundError, ValueError, ArchiveError):
            return None

    def _store(self, key: str, data: bytes, head: Checkpoint) -> None:
        self.store.put(
            key,
            data,
            sha256=hashlib.sha256(data).hexdigest(),
            content_type="application/json",
            retain_until=_years_after(head.written_at, self.retention_years),
            identity={"kind": "audit-anchor", "seq": str(head.seq), "head": head.hash},
        )

    # -- reading ------------------------------------------------------------------------------

    @property
    def window(self) -> AnchoringWindow:
        """What verification now expects: events older than the interval plus grace anchored."""
        return AnchoringWindow(
            now=self.clock(),
            allowance=dt.timedelta(seconds=self.anchor_seconds) + ANCHOR_GRACE,
        )

    def read_all(self) -> tuple[list[Checkpoint], list[ChainProblem]]:
        """Every anchor whose timestamp verifies (``written_at``: the token's time), and a
        problem for every delete marker, unreadable checkpoint and checkpoint without a valid
        timestamp over the head it names.

        Reads every version under the prefix, hidden ones included.
        """
        anchors: list[Checkpoint] = []
        problems: list[ChainProblem] = []
        for version in self.store.iter_versions(CHECKPOINT_PREFIX):
            if version.delete_marker:
                problems.append(_hidden(version))
                continue
            try:
                anchors.append(self._verified(version))
            except _Rejected as rejected:
                problems.append(rejected.problem)
        return anchors, problems

    def _verified(self, version: ObjectVersion) -> Checkpoint:
        key, seq = version.key, checkpoint_seq(version.key)
        try:
            stored = self.store.stat(key, version.version_id)
            raw = self.store.get(key, sha256=stored.sha256, version_id=version.version_id)
            anchor = decode_anchor(raw, key)
        except (ValueError, ArchiveError) as exc:
            message = exc.message if isinstance(exc, ArchiveError) else str(exc)
            raise _Rejected(ChainProblem(seq, "bad_checkpoint", message)) from None
        where = f"{key} (version {version.version_id})"
        if anchor.token is None:
            raise _Rejected(
                ChainProblem(
                    seq,
                    "forged_anchor",
                    f"{where} carries no timestamp token, so it proves nothing: it was written "
                    "before anchors were timestamped, or by someone other than the service",
                )
            )
        check = check_digest_timestamp(
            anchor.token, bytes.fromhex(anchor.checkpoint.hash), self.trust_roots
        )
        if not check.valid or check.time is None:
            raise _Rejected(
                ChainProblem(
                    seq,
                    "forged_anchor",
                    f"{where} is not anchored: {check.problem} — it was not written by the "
                    "service, or was damaged",
                )
            )
        cp = anchor.checkpoint
        return Checkpoint(cp.seq, cp.hash, cp.events, check.time)


class _Rejected(Exception):
    def __init__(self, problem: ChainProblem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def _hidden(version: ObjectVersion) -> ChainProblem:
    when = version.modified.isoformat(timespec="seconds") if version.modified else "unknown time"
    return ChainProblem(
        checkpoint_seq(version.key),
        "hidden_anchor",
        f"{version.key} is hidden behind a delete marker (marker {version.version_id}, "
        f"{when}): someone deleted it without naming a version; the locked anchor beneath is "
        "still read",
    )


@dataclass(frozen=True)
class UnanchoredEvents:
    """Audit events older than the anchoring window with no anchor at or after them."""

    first_seq: int
    last_seq: int
    #: When the first of them was recorded.
    oldest: dt.datetime
    #: The highest seq an anchor's key names (0: none).
    anchored_seq: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "oldest": self.oldest.isoformat(),
            "anchored_seq": self.anchored_seq,
        }


def unanchored_events(
    versions: Iterable[ObjectVersion], sessions: sessionmaker[Session], window: AnchoringWindow
) -> UnanchoredEvents | None:
    """The audit events older than the window that no anchor's key covers, if any.

    :param versions: the store's version listing (anchors hidden by a delete marker count).
    """
    anchored = max(
        (
            checkpoint_seq(v.key)
            for v in versions
            if not v.delete_marker and v.key.startswith(CHECKPOINT_PREFIX)
        ),
        default=0,
    )
    cutoff = (window.now - window.allowance).astimezone(dt.UTC)
    with sessions() as session:
        last = session.scalar(
            select(func.max(AuditEvent.seq)).where(
                AuditEvent.seq > anchored, AuditEvent.occurred_at < cutoff
            )
        )
        if last is None:
            return None
        first, oldest = session.execute(
            select(AuditEvent.seq, AuditEvent.occurred_at)
            .where(AuditEvent.seq > anchored)
            .order_by(AuditEvent.seq)
            .limit(1)
        ).one()
    if oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=dt.UTC)
    return UnanchoredEvents(first, last, oldest, anchored)
