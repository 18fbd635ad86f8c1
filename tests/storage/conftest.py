"""The backends the storage contract runs against: adding a backend is one entry in BACKENDS.

Each entry opens a fresh store for one test and closes it afterwards. Backends that need a
server name the session fixture that provides it (``server=``); its value is passed to ``open``.
A server that cannot be started skips its backend's tests, or fails them when ``CI`` is set.

Objects locked in COMPLIANCE mode cannot be deleted after a test, so every contract test
writes under a fresh :func:`namespace` prefix and asks for a short :attr:`Backend.retention`.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest

from archive_service.storage import FilesystemObjectStore, ObjectStore, immutable
from archive_service.storage.s3 import S3ObjectStore, create_bucket_with_object_lock
from tests.storage import minio, seaweedfs
from tests.storage.servers import S3TestServer, ServerUnavailable


@dataclass(frozen=True)
class Backend:
    name: str
    #: Opens a fresh, usable store in the given scratch folder (and on the server, if any);
    #: closing cleans up what it can.
    open: Callable[..., AbstractContextManager[ObjectStore]]
    #: Returns why the backend cannot run here (skips its tests), or None.
    unavailable: Callable[[], str | None] = lambda: None
    #: How long contract objects are retained; keep it short on servers that enforce it.
    retention: dt.timedelta = dt.timedelta(days=1)
    #: Name of the session fixture whose value (a running server) ``open`` needs, if any.
    server: str | None = None


def missing_env(variable: str) -> Callable[[], str | None]:
    """Skip reason for a backend whose server address comes from ``variable``."""
    return lambda: None if os.environ.get(variable) else f"{variable} is not set"


@contextmanager
def open_filesystem_store(root: Path) -> Iterator[ObjectStore]:
    yield FilesystemObjectStore(root / "store", create_root=True)


@contextmanager
def open_immutable_filesystem_store(root: Path) -> Iterator[ObjectStore]:
    """The filesystem store with ``chattr +i``; flags are cleared afterwards so the scratch
    folder can be removed (only a test may ever do that)."""
    store = FilesystemObjectStore(root / "store", immutable_attr=True, create_root=True)
    try:
        yield store
    finally:
        clear_immutable_flags(root / "store")


def clear_immutable_flags(root: Path) -> None:
    for directory, _dirs, files in os.walk(root):
        for name in files:
            path = Path(directory) / name
            if immutable.is_immutable(path):
                immutable.set_immutable(path, False)


@contextmanager
def open_s3_store(_root: Path, server: S3TestServer) -> Iterator[ObjectStore]:
    """Objects stay locked on the server; the namespace keeps tests apart."""
    yield S3ObjectStore(server.location())


BACKENDS = [
    Backend("filesystem", open_filesystem_store),
    Backend("filesystem-immutable", open_immutable_filesystem_store),
    # The retention must outlast a test (the attacks try to delete before it ends).
    Backend("seaweedfs", open_s3_store, retention=dt.timedelta(hours=1), server="seaweedfs_server"),
    Backend("minio", open_s3_store, retention=dt.timedelta(hours=1), server="minio_server"),
]
#: The session fixtures of every S3 server, for tests that run against each (attacks, S3 set-up).
S3_SERVERS = ["seaweedfs_server", "minio_server"]


def _server_unavailable(reason: str) -> NoReturn:
    """CI must run every backend; elsewhere a missing server only skips its tests."""
    if os.environ.get("CI"):
        pytest.fail(f"the S3 test server could not be started: {reason}")
    pytest.skip(f"the S3 test server could not be started: {reason}")


def _serve(
    running: Callable[[Path], AbstractContextManager[S3TestServer]], workdir: Path
) -> Iterator[S3TestServer]:
    """One server for the whole session, on 127.0.0.1 only, with an Object Lock bucket."""
    with ExitStack() as stack:
        try:
            server = stack.enter_context(running(workdir))
        except (ServerUnavailable, OSError) as exc:
            _server_unavailable(str(exc))
        create_bucket_with_object_lock(server.location(as_root=True), default_retention_days=1)
        yield server


@pytest.fixture(scope="session")
def seaweedfs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3TestServer]:
    yield from _serve(seaweedfs.running, tmp_path_factory.mktemp("seaweedfs"))


@pytest.fixture(scope="session")
def minio_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3TestServer]:
    yield from _serve(minio.running, tmp_path_factory.mktemp("minio"))


@pytest.fixture(params=S3_SERVERS, ids=lambda name: name.removesuffix("_server"))
def s3_server(request: pytest.FixtureRequest) -> S3TestServer:
    """Each S3 server in turn: a test taking this runs once per server."""
    server: S3TestServer = request.getfixturevalue(request.param)
    return server


@pytest.fixture(params=BACKENDS, ids=lambda backend: backend.name)
def backend(request: pytest.FixtureRequest) -> Backend:
    chosen: Backend = request.param
    reason = chosen.unavailable()
    if reason:
        pytest.skip(f"{chosen.name} backend not configured: {reason}")
    return chosen


@pytest.fixture
def store(
    backend: Backend, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[ObjectStore]:
    servers: list[Any] = [request.getfixturevalue(backend.server)] if backend.server else []
    with backend.open(tmp_path, *servers) as opened:
        opened.check()
        yield opened


@pytest.fixture
def namespace() -> str:
    """A key prefix no other test or run uses: shared buckets keep locked objects forever."""
    return f"contract/{uuid.uuid4().hex}"


@pytest.fixture
def retain_until(backend: Backend) -> dt.datetime:
    """A whole-second UTC retention date in the near future (backends round up to seconds)."""
    moment = dt.datetime.now(dt.UTC) + backend.retention
    return moment.replace(microsecond=0)
