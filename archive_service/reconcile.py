"""Compare the object store with the database: what a crash or an outside hand left behind.

Invariant 2 orders every ingest as *objects first, then the row*, so a crash in between leaves
an **orphan** — an object no version row names. Orphans are harmless: they are locked, nobody can
reach them through the API, and a retry of the same upload adopts them (see
:meth:`archive_service.pipeline.Archive.ingest`). The opposite, a **stale row** — a version row
whose object is missing or whose stored hash or size differ from the record — must never happen;
it means the store lost or changed archived data and needs a person at once.

Each object also carries its **identity** (invariant 8, :mod:`archive_service.object_identity`):
the document, institution, version and kind it was written for. A recorded object whose identity
names anything else is a stale row too — the database was edited to point a version at another
object (keys swapped, a document moved to another institution, a version re-parented). Objects
written before identities existed are listed as *unbound (legacy)*: still served on their hash,
but nothing ties them to their row. An orphan whose identity names an export that is recorded
(another upload of the same bytes won a race, or a retry recorded it) is a harmless duplicate.

It also compares each recorded object's **legal hold** with its row: a hold lifted in the store
behind a version the API shows as held (S3 lets root do that even in COMPLIANCE mode) is serious,
a hold placed there that no row records is worth a look.

The job only reads: it lists, it never deletes (the objects are locked anyway) and it writes
nothing to the database. It compares the store's own record (hash, size) with the row, not the
bytes: re-hashing every object is the fixity check's job (``archive-service verify``).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from archive_service.audit.anchors import CHECKPOINT_PREFIX, UnanchoredEvents, unanchored_events
from archive_service.audit.verification import AnchoringWindow
from archive_service.db import Document, DocumentVersion, Institution
from archive_service.errors import IntegrityFailure
from archive_service.object_identity import describe as describe_identity
from archive_service.object_identity import (
    export_of,
    named_version,
    pdf_identity,
    source_identity,
    source_versions,
)
from archive_service.reconcile_tampering import HiddenObject, describe_tampering, hidden_objects
from archive_service.storage import IncompleteObject, ObjectNotFoundError, ObjectStore
from archive_service.storage.protocol import StoredObject

#: ``journals/<edrpou>/<year>/<class>/<document id>/v0001/<file>`` (see object_keys).
_VERSION_KEY = re.compile(
    r"journals/(?:[^/]+/){3}(?P<document>[0-9a-f-]{36})/v(?P<number>\d{4,})/(?P<name>[^/]+)"
)
#: How often (in objects) the progress callback hears from a long listing.
PROGRESS_EVERY = 500


class Severity(enum.IntEnum):
    """The command's exit code: the worst finding decides it."""

    CLEAN = 0
    #: Orphans awaiting a retry, or incomplete writes: harmless, worth a look.
    ATTENTION = 1
    #: A row without its object (or with other bytes): archived data is lost or changed.
    SERIOUS = 2


def version_of_key(key: str) -> tuple[str, int] | None:
    """(document id, version number) that a version object's key names, else None."""
    match = _VERSION_KEY.fullmatch(key)
    if match is None:
        return None
    return match.group("document"), int(match.group("number"))


@dataclass(frozen=True)
class Orphan:
    """An object in the store that no version row names."""

    key: str
    version_id: str
    sha256: str
    size: int
    #: (document id, version) the key names, if it is a version object.
    names_version: tuple[str, int] | None
    #: True when that version was recorded since with other objects (a retried upload signed
    #: its PDF anew), or when its export is recorded (``duplicate_of``): nothing to do, the
    #: object only waits for its retention date.
    superseded: bool
    #: (document id, version) of the recorded upload of the export the object's identity
    #: names, when the object is a duplicate of it (a concurrent upload of the same export won).
    duplicate_of: tuple[str, int] | None = None

    def as_dict(self) -> dict[str, Any]:
        document, number = self.names_version or (None, None)
        return {
            "key": self.key,
            "version_id": self.version_id,
            "sha256": self.sha256,
            "size": self.size,
            "document_id": document,
            "version": number,
            "superseded": self.superseded,
            "duplicate_of": (
                {"document_id": self.duplicate_of[0], "version": self.duplicate_of[1]}
                if self.duplicate_of
                else None
            ),
        }


@dataclass(frozen=True)
class UnboundObject:
    """A recorded object stored before identities existed: its hash is checked on every read,
    but nothing in the store ties it to its row (it cannot be added: the object is write-once)."""

    document_id: str
    version: int
    part: str
    key: str
    version_id: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class StaleRow:
    """A version row whose object is missing or differs from the record."""

    document_id: str
    version: int
    #: ``pdf`` or ``source``.
    part: str
    key: str
    version_id: str
    problem: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class HoldDrift:
    """A recorded object whose legal hold in the store differs from its version row's.

    Holds are changed through the service only (store first, then the row); a difference means
    someone changed the store directly — e.g. lifted a hold with the S3 server's root
    credentials, which S3 allows even in COMPLIANCE mode.
    """

    document_id: str
    version: int
    part: str
    key: str
    version_id: str
    #: The version row's legal hold (what the API shows).
    recorded: bool
    #: The object's legal hold in the store.
    stored: bool

    @property
    def serious(self) -> bool:
        """Recorded as held but not held: the object can be removed once retention ends."""
        return self.recorded and not self.stored

    def as_dict(self) -> dict[str, Any]:
        return {
            "document_id": self.document_id,
            "version": self.version,
            "part": self.part,
            "key": self.key,
            "version_id": self.version_id,
            "recorded_legal_hold": self.recorded,
            "store_legal_hold": self.stored,
        }


@dataclass(frozen=True)
class ReconcileReport:
    objects: int
    recorded_objects: int
    checkpoints: int
    orphans: tuple[Orphan, ...]
    stale_rows: tuple[StaleRow, ...]
    incomplete: tuple[IncompleteObject, ...]
    #: Recorded objects without identity (legacy): informational, not a finding.
    unbound: tuple[UnboundObject, ...] = ()
    hold_drift: tuple[HoldDrift, ...] = ()
    #: Delete markers over anything the archive wrote (reconcile_tampering).
    hidden: tuple[HiddenObject, ...] = ()
    #: Audit events older than the anchoring window that no anchor covers.
    unanchored: UnanchoredEvents | None = None

    @property
    def tampered(self) -> bool:
        """Someone worked on the store itself: objects hidden, or audit anchors missing."""
        return bool(self.hidden) or self.unanchored is not None

    @property
    def severity(self) -> Severity:
        if self.tampered:
            return Severity.SERIOUS
        if self.stale_rows or any(d.serious for d in self.hold_drift):
            return Severity.SERIOUS
        if self.incomplete or self.hold_drift or any(not o.superseded for o in self.orphans):
            return Severity.ATTENTION
        return Severity.CLEAN

    def as_dict(self) -> dict[str, Any]:
        return {
            "severity": self.severity.name.lower(),
            "exit_code": int(self.severity),
            "objects": self.objects,
            "recorded_objects": self.recorded_objects,
            "audit_checkpoints": self.checkpoints,
            "orphans": [o.as_dict() for o in self.orphans],
            "stale_rows": [r.as_dict() for r in self.stale_rows],
            "unbound_legacy": [u.as_dict() for u in self.unbound],
            "incomplete": [
                {"location": i.location, "reason": i.reason, "key": i.key} for i in self.incomplete
            ],
            "legal_hold_drift": [d.as_dict() for d in self.hold_drift],
            "hidden_objects": [h.as_dict() for h in self.hidden],
            "unanchored_audit_events": self.unanchored.as_dict() if self.unanchored else None,
        }


@dataclass(frozen=True)
class _Expected:
    """One object a version row names, with what the row recorded about it."""

    document_id: str
    version: int
    part: str
    key: str
    version_id: str
    sha256: str
    size: int
    #: What the object must have been stored as (invariant 8).
    identity: Mapping[str, str] = field(default_factory=dict, hash=False)


@dataclass
class _Scan:
    expected: dict[str, _Expected]
    recorded_versions: set[tuple[str, int]]
    #: (institution, export SHA-256) → (document id, version) of the upload that recorded it.
    recorded_exports: dict[tuple[str, str], tuple[str, int]] = field(default_factory=dict)
    unbound: list[UnboundObject] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    objects: int = 0
    checkpoints: int = 0
    orphans: list[Orphan] = field(default_factory=list)
    stale: list[StaleRow] = field(default_factory=list)


def _expected_rows(sessions: sessionmaker[Session]) -> list[_Expected]:
    """Every object a version row names, with what the row implies about it (hash, size,
    identity). Outer joins: a row whose document or institution is gone expects an identity
    no object carries, and is reported rather than silently left out."""
    with sessions() as session:
        rows = session.execute(
            select(
                DocumentVersion.id,
                DocumentVersion.renews_id,
                DocumentVersion.document_id,
                Institution.edrpou,
                DocumentVersion.number,
                DocumentVersion.object_key,
                DocumentVersion.object_version_id,
                DocumentVersion.sha256,
                DocumentVersion.size,
                DocumentVersion.source_object_key,
                DocumentVersion.source_object_version_id,
                DocumentVersion.source_sha256,
                DocumentVersion.source_size,
            )
            .outerjoin(Document, Document.id == DocumentVersion.document_id)
            .outerjoin(Institution, Institution.id == Document.institution_id)
        ).all()
    by_document: dict[str, list[tuple[int, int, int | None]]] = {}
    for row in rows:
        by_document.setdefault(row.document_id, []).append((row.id, row.number, row.renews_id))
    origins: dict[int, int] = {}
    for versions in by_document.values():
        origins.update(source_versions(versions))
    expected: list[_Expected] = []
    for row in rows:
        edrpou = row.edrpou or ""
        expected += [
            _Expected(
                row.document_id,
                row.number,
                "pdf",
                row.object_key,
                row.object_version_id,
                row.sha256,
                row.size,
                pdf_identity(row.document_id, edrpou, row.number, row.source_sha256),
            ),
            _Expected(
                row.document_id,
                row.number,
                "source",
                row.source_object_key,
                row.source_object_version_id,
                row.source_sha256,
                row.source_size,
                source_identity(row.document_id, edrpou, origins[row.id], row.source_sha256),
            ),
        ]
    return expected


def _recorded_exports(rows: Iterable[_Expected]) -> dict[tuple[str, str], tuple[str, int]]:
    """The exports the database records, by (institution, SHA-256), with the upload's version."""
    exports: dict[tuple[str, str], tuple[str, int]] = {}
    for row in rows:
        names = export_of(row.identity)
        if row.part == "source" and names is not None:
            exports.setdefault(names, (row.document_id, int(row.identity["version"])))
    return exports


def _difference(row: _Expected, stored: StoredObject) -> str | None:
    if stored.sha256 != row.sha256:
        return f"the store records SHA-256 {stored.sha256}, the database {row.sha256}"
    if stored.size != row.size:
        return f"the store records {stored.size} bytes, the database {row.size}"
    return None


def _check_recorded(store: ObjectStore, row: _Expected, listed: StoredObject | None) -> str | None:
    """The problem with a recorded object, or None when the store still holds it as recorded.

    The listing shows each key's current version; the row names its own version, which may sit
    behind a newer one or a delete marker, so anything else is looked up by version id.
    """
    stored = listed
    if stored is None or stored.version_id != row.version_id:
        try:
            stored = store.stat(row.key, row.version_id)
        except ObjectNotFoundError:
            return "the object is missing from the store"
        except IntegrityFailure as exc:
            return exc.message
    return _difference(row, stored) or _identity_difference(row, stored)


def _identity_difference(row: _Expected, stored: StoredObject) -> str | None:
    """What the object says it is, when that is not what its row implies (None for legacy
    objects without identity: they are listed as unbound instead)."""
    if not stored.identity or not row.identity:
        return None
    if all(stored.identity.get(name) == value for name, value in row.identity.items()):
        return None
    return (
        f"the object was stored as {describe_identity(stored.identity)}; the row implies "
        f"{describe_identity(row.identity)} — the database was changed to point at another "
        "object (downloads and verification refuse it)"
    )


def _check_row(
    scan: _Scan, store: ObjectStore, row: _Expected, listed: StoredObject | None
) -> None:
    """A stale row, an unbound (legacy) object, or nothing to say."""
    problem = _check_recorded(store, row, listed)
    if problem is not None:
        scan.stale.append(
            StaleRow(row.document_id, row.version, row.part, row.key, row.version_id, problem)
        )
        return
    stored = listed if listed is not None and listed.version_id == row.version_id else None
    if stored is None:
        try:
            stored = store.stat(row.key, row.version_id)
        except (ObjectNotFoundError, IntegrityFailure):
            return  # changed between the two looks; the next run reports it
    if not stored.identity:
        scan.unbound.append(
            UnboundObject(row.document_id, row.version, row.part, row.key, row.version_id)
        )


def _hold_drift(
    store: ObjectStore, sessions: sessionmaker[Session], listed: dict[str, StoredObject]
) -> list[HoldDrift]:
    """Recorded objects whose legal hold in the store is not the one their row records.

    Objects the store no longer holds as recorded are stale rows, reported as such; here they
    are passed over.
    """
    with sessions() as session:
        rows = session.execute(
            select(
                DocumentVersion.document_id,
                DocumentVersion.number,
                DocumentVersion.legal_hold,
                DocumentVersion.object_key,
                DocumentVersion.object_version_id,
                DocumentVersion.source_object_key,
                DocumentVersion.source_object_version_id,
            )
        ).all()
    drift: list[HoldDrift] = []
    for row in rows:
        parts = (
            ("pdf", row.object_key, row.object_version_id),
            ("source", row.source_object_key, row.source_object_version_id),
        )
        for part, key, version_id in parts:
            stored = listed.get(key)
            if stored is None or stored.version_id != version_id:
                try:
                    stored = store.stat(key, version_id)
                except (ObjectNotFoundError, IntegrityFailure):
                    continue
            if stored.legal_hold != bool(row.legal_hold):
                drift.append(
                    HoldDrift(
                        row.document_id,
                        row.number,
                        part,
                        key,
                        version_id,
                        bool(row.legal_hold),
                        stored.legal_hold,
                    )
                )
    return sorted(drift, key=lambda d: (d.document_id, d.version, d.part))


def _classify(scan: _Scan, stored: StoredObject) -> None:
    scan.objects += 1
    if stored.key.startswith(CHECKPOINT_PREFIX):
        scan.checkpoints += 1
        return
    row = scan.expected.get(stored.key)
    if row is None:
        names = named_version(stored.identity) or version_of_key(stored.key)
        duplicate_of = None
        if names not in scan.recorded_versions:
            export = export_of(stored.identity)
            duplicate_of = scan.recorded_exports.get(export) if export else None
        scan.orphans.append(
            Orphan(
                stored.key,
                stored.version_id,
                stored.sha256,
                stored.size,
                names,
                names in scan.recorded_versions or duplicate_of is not None,
                duplicate_of,
            )
        )


def reconcile(
    store: ObjectStore,
    sessions: sessionmaker[Session],
    progress: Callable[[int], None] | None = None,
    window: AnchoringWindow | None = None,
) -> ReconcileReport:
    """List orphans, stale rows, incomplete writes, delete markers and unanchored audit
    events; change nothing.

    :param sessions: read sessions (no write lock is needed or taken).
    :param progress: called with the number of objects listed so far, every
        :data:`PROGRESS_EVERY` objects.
    :param window: the audit anchoring window; without it anchoring is not checked.
    """
    rows = _expected_rows(sessions)
    expected = {row.key: row for row in rows}
    scan = _Scan(expected, {(e.document_id, e.version) for e in rows}, _recorded_exports(rows))
    listed: dict[str, StoredObject] = {}
    for stored in store.iter_objects():
        _classify(scan, stored)
        if stored.key in expected:
            listed[stored.key] = stored
        if progress is not None and scan.objects % PROGRESS_EVERY == 0:
            progress(scan.objects)
    for row in rows:
        _check_row(scan, store, row, listed.get(row.key))
    return ReconcileReport(
        objects=scan.objects,
        recorded_objects=len(expected),
        checkpoints=scan.checkpoints,
        orphans=tuple(scan.orphans),
        stale_rows=tuple(sorted(scan.stale, key=lambda r: (r.document_id, r.version, r.part))),
        incomplete=tuple(store.iter_incomplete()),
        unbound=tuple(scan.unbound),
        hold_drift=tuple(_hold_drift(store, sessions, listed)),
        **_tampering(store, sessions, window),
    )


def _tampering(
    store: ObjectStore, sessions: sessionmaker[Session], window: AnchoringWindow | None
) -> dict[str, Any]:
    """The report's ``hidden`` and ``unanchored`` fields (see :mod:`reconcile_tampering`)."""
    versions = list(store.iter_versions())
    return {
        "hidden": tuple(hidden_objects(versions)),
        "unanchored": unanchored_events(versions, sessions, window) if window else None,
    }


def describe(report: ReconcileReport) -> Iterable[str]:
    """The report for people, one line at a time."""
    yield (
        f"{report.objects} objects in the store ({report.checkpoints} audit checkpoints), "
        f"{report.recorded_objects} named by version rows"
    )
    waiting = [o for o in report.orphans if not o.superseded]
    superseded = [o for o in report.orphans if o.superseded and o.duplicate_of is None]
    duplicates = [o for o in report.orphans if o.duplicate_of is not None]
    if waiting:
        yield (
            f"{len(waiting)} orphan object(s) left by interrupted uploads — harmless (locked, "
            "unreachable through the API); a retry of the same upload re-uses the stored export "
            "and signs its PDF anew:"
        )
        yield from (f"  {o.key} ({o.size} bytes, sha256 {o.sha256})" for o in waiting)
    if superseded:
        yield (
            f"{len(superseded)} leftover object(s) of uploads that were retried and recorded "
            "since — nothing to do; they stay locked until their retention date:"
        )
        yield from (f"  {o.key}" for o in superseded)
    yield from _describe_identity_findings(report, duplicates)
    if report.incomplete:
        yield f"{len(report.incomplete)} incomplete write(s) — harmless, not archived documents:"
        yield from (f"  {i.location}: {i.reason}" for i in report.incomplete)
    if report.stale_rows:
        yield (
            f"SERIOUS: {len(report.stale_rows)} version row(s) point at objects the store does "
            "not hold as recorded — archived data is lost or changed. Do not retry uploads; "
            "alert the archive's administrator and restore from a replica:"
        )
        yield from (
            f"  document {r.document_id} version {r.version} {r.part}: {r.key} — {r.problem}"
            for r in report.stale_rows
        )
    yield from _describe_hold_drift(report.hold_drift)
    yield from describe_tampering(report.hidden, report.unanchored)
    if report.severity is Severity.CLEAN:
        yield "clean: every version row has its object, and no upload awaits a retry"


def _describe_hold_drift(drift: tuple[HoldDrift, ...]) -> Iterable[str]:
    lifted = [d for d in drift if d.serious]
    placed = [d for d in drift if not d.serious]
    if lifted:
        yield (
            f"SERIOUS: {len(lifted)} object(s) of versions recorded under legal hold are not held "
            "by the store — the hold was lifted outside the service (e.g. with the storage "
            "server's root credentials), and the object can be removed once its retention ends. "
            "Place the hold again with `archive-service legal-hold set DOCUMENT_ID --version N "
            "--reason ...` and find out who lifted it:"
        )
        yield from (
            f"  document {d.document_id} version {d.version} {d.part}: {d.key}" for d in lifted
        )
    if placed:
        yield (
            f"{len(placed)} object(s) held by the store although their version is recorded "
            "without a legal hold — placed outside the service; record it with `archive-service "
            "legal-hold set` or lift it with `legal-hold clear`:"
        )
        yield from (
            f"  document {d.document_id} version {d.version} {d.part}: {d.key}" for d in placed
        )


def _describe_identity_findings(
    report: ReconcileReport, duplicates: list[Orphan]
) -> Iterable[str]:
    """Duplicates of recorded exports and unbound (legacy) objects: both informational."""
    if duplicates:
        yield (
            f"{len(duplicates)} duplicate object(s) of exports recorded by another upload "
            "(concurrent uploads of the same export: one was recorded, the others answered with "
            "it) — nothing to do; they stay locked until their retention date:"
        )
        yield from (
            f"  {o.key} (duplicate of document {o.duplicate_of[0]} version {o.duplicate_of[1]})"
            for o in duplicates
            if o.duplicate_of
        )
    if report.unbound:
        yield (
            f"{len(report.unbound)} recorded object(s) are unbound (legacy): stored before "
            "objects carried their identity, so only their hash ties them to their row. They "
            "are still served (hash checked); a timestamp renewal stores its PDF bound."
        )
