"""The archive's injected backends and settings: the one state every use case part shares.

Configuration chooses the backends elsewhere (:mod:`archive_service.factory`); the parts of
:class:`~archive_service.pipeline.archive.Archive` only use them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from archive_service.audit.anchors import AuditCheckpoints
from archive_service.db import create_lookup_engine
from archive_service.render import JournalRenderer
from archive_service.signing.sealing import Sealing
from archive_service.storage import ObjectStore


@dataclass
class ArchiveCore:
    """The backends and settings every use case shares, with their stage timing.

    :class:`~archive_service.pipeline.archive.Archive` adds the use cases; its fields are these.
    """

    #: Sessions that write (on SQLite they take the write lock when they begin).
    sessions: sessionmaker[Session]
    store: ObjectStore
    renderer: JournalRenderer
    #: The sealer per institution (EDRPOU), trust roots, renewal TSA and revocation fetching.
    sealing: Sealing
    #: Retention in years after the school year, per document kind.
    retention_years: Callable[[str], int]
    #: PDF/A profile for an institution's documents (EDRPOU → profile name).
    pdf_profile_for: Callable[[str], str] = field(default=lambda _edrpou: "PDF/A-3u")
    max_upload_bytes: int = 32 * 1024 * 1024
    require_purpose: bool = False
    page_size: int = 50
    #: Invoked between the object writes and the database commit (fault-injection in tests).
    before_record: Callable[[], None] = field(default=lambda: None)
    #: Receives (stage, seconds) for parse/render/sign/store/record (the benchmark listens).
    on_stage: Callable[[str, float], None] | None = None
    #: Sessions that only read (no write lock on SQLite); defaults to ``sessions``.
    read_sessions: sessionmaker[Session] | None = None

    _audit_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def reader(self) -> sessionmaker[Session]:
        return self.read_sessions or self.sessions

    def lookup(self) -> Connection:
        """A connection for one-statement lookups on the download path; use it in ``with``."""
        return self._lookup_engine.connect()

    @cached_property
    def _lookup_engine(self) -> Engine:
        return create_lookup_engine(self.sessions.kw["bind"])

    #: Chain heads in write-once storage; None only where no store should receive them.
    checkpoints: AuditCheckpoints | None = None

    @contextmanager
    def _stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        yield
        if self.on_stage is not None:
            self.on_stage(name, time.perf_counter() - started)
