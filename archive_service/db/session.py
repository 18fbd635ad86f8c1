"""Engines and session factories for SQLite (embedded) and PostgreSQL (production)."""

from __future__ import annotations

import fcntl
import os
import sqlite3
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

#: Connections kept open per process: more than a server process's request threads (16), so
#: none is opened and closed per request. The default pool keeps 5, and opening a connection (a
#: SQLite file with its WAL index and pragmas, or a PostgreSQL backend process) costs more than
#: the statements a download runs on it.
POOL_SIZE = 24
#: Beyond the pool, for bursts; two server processes stay under PostgreSQL's default 100.
POOL_OVERFLOW = 8

#: Execution option marking connections that only read.
_READ_ONLY = "archive_read_only"
#: Execution option marking connections that run single-statement lookups (see below).
_LOOKUP = "archive_lookup"


def _make_sqlite_serializable(engine: Engine) -> None:
    """Make every SQLite transaction take the write lock when it starts.

    pysqlite opens transactions lazily and upgrades read locks to write locks later, which is
    where concurrent writers deadlock ("database is locked"). ``BEGIN IMMEDIATE`` serialises
    writers up front; WAL keeps readers of committed data unblocked. Sessions from
    :func:`create_read_session_factory` only read, so they begin a plain (deferred) transaction
    and never queue behind writers for the lock.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: ConnectionPoolEntry) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        # FULL, not NORMAL: in WAL mode NORMAL commits survive a process crash but not a power
        # loss, and a download's audit event must outlive the bytes already sent. Group commit
        # (archive_service.audit.group_commit) shares one fsync among concurrent downloads instead.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        options = connection.get_execution_options()
        if options.get(_LOOKUP, False):
            return  # each statement is its own read transaction (autocommit)
        connection.exec_driver_sql("BEGIN" if options.get(_READ_ONLY, False) else "BEGIN IMMEDIATE")


def create_db_engine(url: str) -> Engine:
    """Create an engine; for SQLite files, create the parent folder first."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"timeout": 30}, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW
        )
        _make_sqlite_serializable(engine)
        return engine
    return create_engine(
        url, pool_pre_ping=True, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW
    )


def create_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def create_read_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions for reading only: on SQLite they take no write lock (see above)."""
    return sessionmaker(engine.execution_options(**{_READ_ONLY: True}), expire_on_commit=False)


def create_lookup_engine(engine: Engine) -> Engine:
    """Connections for the download path's lookups: one ``SELECT`` each, no ``Session``.

    A token check and a document lookup each read one row set; one statement sees one
    consistent snapshot by itself. So these connections begin no transaction at all and each
    statement is its own read transaction: two round trips fewer per lookup (``BEGIN``,
    ``ROLLBACK``) and no ORM session to build and tear down, which together cost more than the
    lookups. (On SQLite by our ``begin`` hook rather than SQLAlchemy's ``AUTOCOMMIT`` level,
    whose reset on return to the pool would undo the connection's own transaction handling.)
    """
    if engine.dialect.name == "sqlite":
        return engine.execution_options(**{_LOOKUP: True})
    # The driver's autocommit: no BEGIN and ROLLBACK round trips, set on the client side.
    return engine.execution_options(isolation_level="AUTOCOMMIT", **{_LOOKUP: True})


class _FileLock:
    """An exclusive ``flock`` on a file next to the SQLite database, held by one process.

    Opened once per process (a descriptor inherited across ``fork`` would be one lock shared by
    parent and child, excluding nobody). Threads share the descriptor, so the lock does not
    exclude them from each other: callers serialise their own threads first.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd: int | None = None
        self._pid = 0

    def __enter__(self) -> None:
        if self._fd is None or self._pid != os.getpid():
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            self._pid = os.getpid()
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def __exit__(self, *_exc: object) -> None:
        assert self._fd is not None
        fcntl.flock(self._fd, fcntl.LOCK_UN)


def writer_queue(engine: Engine | None) -> AbstractContextManager[None]:
    """Where writers of several processes wait their turn before they begin a transaction.

    SQLite makes a writer that finds the database locked sleep and retry (1, 2, 5, 10 … ms,
    the busy handler), so with several server processes each collision cost a download several
    milliseconds and a few cost hundreds. Waiting on a file lock in the kernel instead, a writer
    starts the moment the previous one is done. The database's own lock still decides; this only
    orders the queue. PostgreSQL queues waiting transactions itself: nothing to add there.
    """
    database = engine.url.database if engine and engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:":
        return nullcontext()
    return _FileLock(Path(f"{database}-writers.lock"))
