"""Group commit of audit events: shared transactions, one linear chain, failures told to all.

On SQLite by default; on PostgreSQL when the suite runs with ``ARCHIVE_DATABASE_URL``.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.synchronize
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError

from archive_service import audit
from archive_service.access import LOCAL_OPERATOR
from archive_service.audit import chain
from archive_service.audit.group_commit import BatchFailed, GroupCommit
from archive_service.db import AuditEvent
from archive_service.errors import ServiceUnavailable
from archive_service.pipeline import Archive, RequestContext
from tests.spawned import archive_in, run_processes

CTX = RequestContext(actor=LOCAL_OPERATOR, client_address="127.0.0.1")


def _data(action: str, n: int) -> audit.EventData:
    return Archive._event(CTX, action, "ok", None, None, None, {"n": n})


def _commits(archive: Archive) -> list[int]:
    """A list that grows by one for every committed transaction of the archive's engine."""
    counted: list[int] = []
    engine = archive.sessions.kw["bind"]
    event.listen(engine, "commit", lambda _conn: counted.append(1))
    return counted


class _HeldLeader:
    """Holds the first append (the first leader) until released, so that others queue."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        real = chain.append_events

        def held(session, batch):  # type: ignore[no-untyped-def]
            if any(data.detail.get("n") == "first" for data in batch):
                self.entered.set()
                assert self.release.wait(timeout=60)
            return real(session, batch)

        monkeypatch.setattr(chain, "append_events", held)


def _wait_until_queued(group: GroupCommit, count: int) -> None:
    done = threading.Event()
    while not done.wait(0.005):
        with group._mutex:
            if len(group._queue) >= count:
                return


@pytest.fixture
def group(archive: Archive) -> GroupCommit:
    return GroupCommit(archive.sessions, threading.Lock())


def _in_threads(calls: list) -> Iterator[threading.Thread]:  # type: ignore[type-arg]
    threads = [threading.Thread(target=call) for call in calls]
    for thread in threads:
        thread.start()
    return iter(threads)


def test_waiting_events_share_one_transaction(
    archive: Archive, group: GroupCommit, monkeypatch: pytest.MonkeyPatch
) -> None:
    held = _HeldLeader(monkeypatch)
    commits = _commits(archive)
    results: dict[int, AuditEvent] = {}
    first = threading.Thread(
        target=lambda: results.setdefault(0, group.append(_data("t", "first")))
    )
    first.start()
    assert held.entered.wait(timeout=60)
    followers = list(
        _in_threads(
            [lambda n=n: results.setdefault(n, group.append(_data("t", n))) for n in range(1, 9)]
        )
    )
    _wait_until_queued(group, 8)
    held.release.set()
    for thread in [first, *followers]:
        thread.join(timeout=60)

    assert len(commits) == 2  # the held leader's own event, then all eight followers at once
    assert sorted(e.seq for e in results.values()) == list(range(1, 10))
    report = audit.verify_chain(archive.sessions())
    assert report.intact and report.events == 9


def test_many_threads_keep_one_linear_chain(archive: Archive, group: GroupCommit) -> None:
    threads, per_thread = 12, 25
    start = threading.Barrier(threads)
    returned: list[AuditEvent] = []

    def writer(t: int) -> None:
        start.wait(timeout=60)
        for i in range(per_thread):
            returned.append(group.append(_data(f"writer-{t}", i)))

    for thread in list(_in_threads([lambda t=t: writer(t) for t in range(threads)])):
        thread.join(timeout=120)

    with archive.sessions() as session:
        report = audit.verify_chain(session)
        stored = session.execute(
            select(AuditEvent.seq, AuditEvent.hash, AuditEvent.action, AuditEvent.detail).order_by(
                AuditEvent.seq
            )
        ).all()
    assert report.intact, report.problems
    assert report.events == report.head_seq == threads * per_thread
    # What each caller was given is what was committed at that position.
    assert sorted((e.seq, e.hash) for e in returned) == [(s, h) for s, h, _, _ in stored]
    for t in range(threads):  # and each caller's events are in the order it appended them
        mine = [detail for _, _, action, detail in stored if action == f"writer-{t}"]
        assert mine == [f'{{"n": {i}}}' for i in range(per_thread)]


def test_a_failed_batch_writes_nothing_and_tells_every_caller(
    archive: Archive, group: GroupCommit, monkeypatch: pytest.MonkeyPatch
) -> None:
    held = _HeldLeader(monkeypatch)
    held_append = chain.append_events

    def poisoned(session, batch):  # type: ignore[no-untyped-def]
        if any(data.action == "poison" for data in batch):
            raise RuntimeError("cannot write this one")
        return held_append(session, batch)

    monkeypatch.setattr(chain, "append_events", poisoned)
    outcomes: dict[str, str] = {}

    def call(action: str, n: object) -> None:
        try:
            group.append(_data(action, n))  # type: ignore[arg-type]
            outcomes[f"{action}-{n}"] = "written"
        except BatchFailed:
            outcomes[f"{action}-{n}"] = "failed"

    first = threading.Thread(target=call, args=("t", "first"))
    first.start()
    assert held.entered.wait(timeout=60)
    followers = list(
        _in_threads([lambda: call("t", 1), lambda: call("poison", 2), lambda: call("t", 3)])
    )
    _wait_until_queued(group, 3)
    held.release.set()
    for thread in [first, *followers]:
        thread.join(timeout=60)

    assert outcomes == {
        "t-first": "written",
        "t-1": "failed",
        "poison-2": "failed",
        "t-3": "failed",
    }
    with archive.sessions() as session:
        assert session.scalars(select(AuditEvent.action)).all() == ["t"]
    # The group is not stuck: the next caller leads a batch of its own.
    assert group.append(_data("t", 4)).seq == 2


def test_retrieval_events_that_failed_together_are_retried_alone(
    archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the download whose own event cannot be written is refused."""
    held = _HeldLeader(monkeypatch)
    held_append = chain.append_events

    def failing(session, batch):  # type: ignore[no-untyped-def]
        if any(data.detail.get("n") == "bad" for data in batch):
            raise OperationalError("INSERT INTO audit_events", {}, Exception("disk full"))
        return held_append(session, batch)

    monkeypatch.setattr(chain, "append_events", failing)
    outcomes: dict[object, str] = {}

    def download(n: object) -> None:
        try:
            archive._record_retrieval(_data("retrieve_pdf", n))  # type: ignore[arg-type]
            outcomes[n] = "sent"
        except ServiceUnavailable:
            outcomes[n] = "refused"

    first = threading.Thread(target=download, args=("first",))
    first.start()
    assert held.entered.wait(timeout=60)
    followers = list(_in_threads([lambda n=n: download(n) for n in ("good", "bad", "fine")]))
    _wait_until_queued(archive._audit_group, 3)
    held.release.set()
    for thread in [first, *followers]:
        thread.join(timeout=60)

    assert outcomes == {"first": "sent", "good": "sent", "bad": "refused", "fine": "sent"}
    with archive.sessions() as session:
        written = session.scalars(select(AuditEvent.detail)).all()
        assert audit.verify_chain(session).intact
    assert sorted(written) == sorted(f'{{"n": "{n}"}}' for n in ("first", "good", "fine"))


def test_retrieval_is_refused_when_its_event_cannot_be_written(
    archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(session, batch):  # type: ignore[no-untyped-def]
        raise OperationalError("INSERT INTO audit_events", {}, Exception("disk full"))

    monkeypatch.setattr(chain, "append_events", failing)
    with pytest.raises(ServiceUnavailable):
        archive._record_retrieval(_data("retrieve_pdf", 1))


PROCESSES, THREADS, DOWNLOADS = 3, 4, 15


def download_events(data_dir: Path, writer: int, start: multiprocessing.synchronize.Event) -> None:
    """Runs in a spawned process: several threads record downloads through the group commit."""
    archive = archive_in(data_dir)
    start.wait(timeout=60)

    def thread(t: int) -> None:
        for i in range(DOWNLOADS):
            archive._record_retrieval(_data(f"retrieve-{writer}-{t}", i))

    threads = [threading.Thread(target=thread, args=(t,)) for t in range(THREADS)]
    for each in threads:
        each.start()
    for each in threads:
        each.join(timeout=120)


def test_processes_of_threads_downloading_keep_one_linear_chain(data_dir: Path) -> None:
    archive = archive_in(data_dir)  # creates the schema before the writers start
    run_processes(download_events, data_dir, PROCESSES)

    with archive.sessions() as session:
        report = audit.verify_chain(session)
        stored = session.execute(
            select(AuditEvent.action, AuditEvent.detail).order_by(AuditEvent.seq)
        ).all()
    assert report.intact, report.problems
    assert report.events == report.head_seq == PROCESSES * THREADS * DOWNLOADS
    for writer in range(PROCESSES):
        for t in range(THREADS):
            mine = [detail for action, detail in stored if action == f"retrieve-{writer}-{t}"]
            assert mine == [f'{{"n": {i}}}' for i in range(DOWNLOADS)]
