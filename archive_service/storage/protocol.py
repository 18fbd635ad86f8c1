"""What the rest of the service may ask of an object store, whatever backend stands behind it.

Modelled on Warehouse's ``IFileStorage`` (one interface, local and S3 implementations), but
narrowed to what an archive needs and nothing that could undo it:

* **write-once**: :meth:`ObjectStore.put` never replaces a key, and there is no delete, rename or
  overwrite method at all — a correction is a new object under a new key (invariant 1);
* **no object without its hash**: ``put`` is given the SHA-256 the caller is about to record and
  refuses bytes that do not match; ``get`` is given the recorded SHA-256 again and refuses to
  return bytes that no longer match it (invariant 2);
* **each object knows what it is**: ``put`` may be given an *identity* — a few name/value
  pairs the caller chooses (the archive names document, institution, version and kind) — that
  is recorded with the object as write-once as its bytes (S3 user metadata under Object Lock,
  the filesystem store's manifest); ``get`` given the identity the caller expects refuses an
  object that carries another one, so a database row pointed at the wrong object fails
  closed. Objects stored without an identity are returned as before (hash checked);
* **versions and retention are first-class** so an S3 backend with Object Lock fits unchanged:
  ``put`` reports the version id the server assigned, ``get``/``stat`` can name one, and every
  object carries the retention date it was locked until. Legal holds live on
  :class:`StoredObject` and :meth:`ObjectStore.set_legal_hold`, never on ``put``'s happy path:
  a hold is a decision about one version (litigation, an inspection), not a property of a kind
  of document.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class StoredObject:
    """One complete object as the store holds it."""

    key: str
    #: Filesystem: always ``"1"`` (write-once keys have one version); S3: the server's version id.
    version_id: str
    #: Hex, lower case.
    sha256: str
    size: int
    content_type: str
    #: UTC, aware, whole seconds (rounded *up*, so retention is never shortened).
    retain_until: dt.datetime
    #: UTC, aware.
    stored_at: dt.datetime
    #: Whether a legal hold is on: the version cannot be removed even after ``retain_until``.
    legal_hold: bool = False
    #: What the object is, as given to ``put`` and recorded write-once with it; empty for an
    #: object stored without one (written before identities existed).
    identity: Mapping[str, str] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class IncompleteObject:
    """Something in the store that is not a complete object, for the reconcile job to report.

    A filesystem store leaves these after a crash mid-write; an S3 store's equivalent is an
    unfinished multipart upload.
    """

    #: Backend-specific: a path relative to the store root, or an upload id.
    location: str
    reason: str
    #: The key it would have been, when that is known.
    key: str | None = None


@dataclass(frozen=True)
class ObjectVersion:
    """One entry of a key's version history: a version, or a delete marker over the versions.

    S3 keeps every version of a key. A DELETE that names no version id — allowed even in
    COMPLIANCE mode, and by anyone with delete permission — removes nothing: it stacks a *delete
    marker* on the key, and the versions beneath it vanish from plain GETs and listings while
    staying locked and readable by version id. This service never deletes, so a marker over a
    key it wrote is someone hiding an object. The filesystem store has no markers (see
    :meth:`ObjectStore.iter_versions`).
    """

    key: str
    #: The version's (or marker's) id; filesystem: always ``"1"``.
    version_id: str
    #: True for a delete marker: it hides the versions of ``key`` beneath it, it holds no bytes.
    delete_marker: bool
    #: Whether this is the entry a plain GET or listing sees (the key's newest entry).
    latest: bool
    #: When the server recorded the version or the marker (UTC, aware), if it says.
    modified: dt.datetime | None = None


@runtime_checkable
class ObjectStore(Protocol):
    """A write-once object store with retention; see the module docstring for the promises."""

    def put(
        self,
        key: str,
        data: bytes,
        *,
        sha256: str,
        content_type: str,
        retain_until: dt.datetime,
        identity: Mapping[str, str] | None = None,
    ) -> StoredObject:
        """Store ``data`` under a key that must not exist yet, locked until ``retain_until``.

        ``identity`` (lower-case names, printable ASCII values) is recorded with the object and
        can never be changed afterwards, like the bytes themselves.

        :raises IntegrityFailure: ``data`` does not hash to ``sha256``; nothing was written.
        :raises ObjectExistsError: the key is taken; nothing changed.
        :raises InvalidObjectArgument: bad key, hash, content type, or a naive/past retention date.
        :raises StorageUnavailable: the store cannot be written now; retrying may succeed.
        """
        ...

    def get(
        self,
        key: str,
        *,
        sha256: str,
        version_id: str | None = None,
        identity: Mapping[str, str] | None = None,
    ) -> bytes:
        """The object's bytes, only after re-hashing them and matching the *caller's* ``sha256``.

        With ``identity``, every entry must be recorded with the object with that value; an
        object stored without any identity is accepted (its hash still decides).

        :raises IntegrityFailure: the bytes (or the store's own record) no longer match.
        :raises IdentityMismatch: the object was stored as something else (an IntegrityFailure).
        :raises ObjectNotFoundError: no complete object under that key (and version).
        """
        ...

    def stat(self, key: str, version_id: str | None = None) -> StoredObject:
        """What the store recorded about the object, without reading its bytes.

        :raises ObjectNotFoundError: no complete object under that key (and version).
        """
        ...

    def set_legal_hold(self, key: str, version_id: str, *, on: bool) -> StoredObject:
        """Place or release a legal hold on one version; a held version cannot be removed even
        after its retention date. Releasing only ends the hold: retention still applies.

        :returns: the object as now stored (its ``legal_hold`` equals ``on``).
        :raises ObjectNotFoundError: no complete object under that key and version.
        :raises StorageUnavailable: the store cannot record the hold now; retrying may succeed.
        """
        ...

    def find(self, key: str, *, sha256: str) -> StoredObject | None:
        """The complete version of ``key`` whose content hash is ``sha256``, if there is one.

        Unlike :meth:`stat` it looks past the current version (on S3 that may be a delete
        marker or a later version) — what re-using the object of an interrupted attempt needs.
        Only versions whose hash the store itself recorded are considered; one whose stored
        hash is unknown is never returned.

        :raises InvalidObjectArgument: bad key or hash.
        """
        ...

    def exists(self, key: str) -> bool:
        """Whether the key is taken, i.e. whether :meth:`put` would raise ``ObjectExistsError``."""
        ...

    def iter_objects(self, prefix: str = "") -> Iterator[StoredObject]:
        """Every complete object whose key starts with ``prefix`` (a plain string prefix, as in
        S3), in key order; the reconcile job compares these with the database to find orphans."""
        ...

    def iter_versions(self, prefix: str = "") -> Iterator[ObjectVersion]:
        """Every version *and delete marker* of every key that starts with ``prefix``, grouped
        by key in key order, newest first within a key (S3's ListObjectVersions).

        :meth:`iter_objects` shows only what a plain listing shows, so an object hidden behind a
        delete marker is simply absent there; audit verification and reconcile read this
        instead, to report markers and to reach the hidden versions by version id.

        The filesystem store has no delete operation and no markers: it yields one version
        (``"1"``, latest) per complete object. Files removed behind its back leave no entry at
        all — only a half-removed object shows, in :meth:`iter_incomplete` — so there a removal
        is found only by what expects the object (a database row, the audit anchoring window).
        """
        ...

    def iter_incomplete(self) -> Iterator[IncompleteObject]:
        """Leftovers of interrupted writes and damaged records, for the reconcile job."""
        ...

    def check(self) -> list[str]:
        """Readiness: return if the store can be read and written.

        :returns: warnings about settings that do not make the store unusable (e.g. an S3
            bucket's default retention changed behind the service's back), one sentence each;
            empty when everything is as set up.
        :raises StorageUnavailable: with a sentence saying what is wrong.
        """
        ...

    @property
    def description(self) -> str:
        """One line for logs and ``archive-service`` output, including which protections are
        really in force (so nobody believes in a lock that is not there)."""
        ...
