"""Fixtures shared by the whole suite: an archive on a temporary embedded default."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from archive_service import create_app
from archive_service.access import Role, create_token
from archive_service.cli import main
from archive_service.db import create_db_engine
from archive_service.pipeline import Archive

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "schemas" / "examples"
#: The example journal export most tests upload.
JSON_EXAMPLE = (EXAMPLES / "journal-7b.json").read_bytes()
#: The command line as a newcomer runs it, from this interpreter's environment.
CLI = [sys.executable, "-m", "archive_service.cli"]


#: When set (CI's second run), every test gets its own fresh database on this server instead of
#: SQLite; the URL names a database the tests may connect to in order to create the others.
POSTGRES_URL = os.environ.get("ARCHIVE_DATABASE_URL", "")
on_postgres = pytest.mark.skipif(not POSTGRES_URL, reason="runs only with ARCHIVE_DATABASE_URL")
sqlite_only = pytest.mark.skipif(bool(POSTGRES_URL), reason="SQLite-specific behaviour")


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[sa.Engine | None]:
    if not POSTGRES_URL:
        yield None
        return
    engine = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


@pytest.fixture(autouse=True)
def isolated_database(
    postgres_admin: sa.Engine | None, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str | None]:
    """On PostgreSQL, point ``ARCHIVE_DATABASE_URL`` at a database made for this test alone.

    Everything that reads the environment (apps, CLI runs, server processes) then shares it
    within the test and never sees another test's rows. Without PostgreSQL this does nothing and
    each test's data folder holds its own SQLite file.
    """
    if postgres_admin is None:
        yield None
        return
    name = f"test_{uuid.uuid4().hex}"
    with postgres_admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
    url = sa.make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    monkeypatch.setenv("ARCHIVE_DATABASE_URL", url)
    try:
        yield url
    finally:
        with postgres_admin.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sa.Engine]:
    """An empty database of the test's own (for migration tests): PostgreSQL when the suite
    runs there, else a new SQLite file."""
    url = os.environ.get("ARCHIVE_DATABASE_URL") or f"sqlite:///{tmp_path / 'db.sqlite3'}"
    engine = create_db_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def shared_pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One test PKI per run: generating keys for every test would only cost time."""
    from archive_service.signing.test_pki import TestPki

    directory = tmp_path_factory.mktemp("pki")
    TestPki.load_or_create(directory)
    return directory


@pytest.fixture
def data_dir(tmp_path: Path, shared_pki_dir: Path) -> Path:
    directory = tmp_path / "var"
    directory.mkdir()
    shutil.copytree(shared_pki_dir, directory / "pki")
    return directory


@pytest.fixture
def app(data_dir: Path) -> Iterator[Flask]:
    app = create_app({"data_dir": data_dir, "render_in_process": True})
    app.testing = True
    yield app


@pytest.fixture
def archive(app: Flask) -> Archive:
    return app.extensions["archive"]


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@dataclass(frozen=True)
class Tokens:
    archivist: str
    job: str
    inspector: str
    inspector_other: str
    archivist_other: str
    admin: str

    @staticmethod
    def header(token: str, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}", **extra}


def example_edrpou() -> str:
    import json

    return json.loads((EXAMPLES / "journal-7b.json").read_text("utf-8"))["institution"]["edrpou"]


def upload(  # type: ignore[no-untyped-def]
    client: FlaskClient,
    token: str,
    body: bytes = JSON_EXAMPLE,
    media_type: str = "application/json",
):
    """``POST /api/v1/journals`` with ``body`` as ``token``; the response, unchecked."""
    return client.post(
        "/api/v1/journals", data=body, content_type=media_type, headers=Tokens.header(token)
    )


def make_tokens(archive: Archive) -> Tokens:
    """One token of every role (and out-of-scope ones) on the given archive."""
    edrpou = example_edrpou()
    other = "99999999" if edrpou != "99999999" else "88888888"
    with archive.sessions.begin() as session:
        made = {
            "archivist": create_token(
                session, name="Архіваріус", role=Role.ARCHIVIST, institution=edrpou
            ).secret,
            "job": create_token(
                session, name="export job", role=Role.JOB, institution=edrpou
            ).secret,
            "inspector": create_token(session, name="Інспектор", role=Role.INSPECTOR).secret,
            "inspector_other": create_token(
                session, name="other inspector", role=Role.INSPECTOR, institution=other
            ).secret,
            "archivist_other": create_token(
                session, name="other archivist", role=Role.ARCHIVIST, institution=other
            ).secret,
            "admin": create_token(session, name="admin", role=Role.ADMIN).secret,
        }
    return Tokens(**made)


@pytest.fixture
def tokens(archive: Archive) -> Tokens:
    return make_tokens(archive)


@pytest.fixture
def tokens_factory():  # type: ignore[no-untyped-def]
    """For tests that build their own app: ``tokens_factory(archive)``."""
    return make_tokens


@pytest.fixture
def archived(client: FlaskClient, tokens: Tokens) -> dict:
    """The example journal, uploaded by the archivist: the upload's JSON answer."""
    response = upload(client, tokens.archivist)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


@pytest.fixture
def run_cli(data_dir: Path):  # type: ignore[no-untyped-def]
    """``archive-service ARGS`` through click's runner, in-process, on the test's data folder."""
    runner = CliRunner()
    env = {"ARCHIVE_DATA_DIR": str(data_dir), "ARCHIVE_RENDER_IN_PROCESS": "true"}

    def invoke(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(main, list(args), env=env, catch_exceptions=False)

    return invoke


def cli_token(env: dict[str, str], *args: str) -> str:
    """``archive-service tokens create ARGS`` in its own process; the new token's secret."""
    out = subprocess.run(
        [*CLI, "tokens", "create", *args], env=env, check=True, capture_output=True, text=True
    )
    return out.stdout.strip()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_ready(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Poll ``/healthz`` until the server answers 200; fail with its log if it exits first."""
    for _ in range(600):  # readiness poll, bounded; not a timing assertion
        if process.poll() is not None:
            pytest.fail(f"server exited: {log.read_text(errors='replace')}")
        try:
            if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            time.sleep(0.1)
    pytest.fail("server did not become ready")


@contextlib.contextmanager
def serving(
    data_dir: Path,
    *,
    prefix: Sequence[str] = (),
    extra_env: Mapping[str, str] | None = None,
    options: Sequence[str] = (),
) -> Iterator[tuple[str, dict[str, str]]]:
    """A real `archive-service serve` process on a free loopback port (its output in a file).

    :param prefix: a command to run it under (``faketime -f +2d``, for instance).
    :param options: more options for ``serve`` (``--workers 1``, for instance).
    :yields: the base URL and the environment it runs with (for CLI calls beside it).
    """
    env = {**os.environ, "ARCHIVE_DATA_DIR": str(data_dir), **(extra_env or {})}
    port = _free_port()
    log_path = data_dir / f"server-{port}.log"
    log_file = log_path.open("wb")
    # Its own process group: a prefix such as faketime does not pass SIGTERM on to the server
    # it started, so the whole group is stopped (gunicorn's master shuts down cleanly on it).
    process = subprocess.Popen(
        [*prefix, *CLI, "serve", "--port", str(port), *options],
        env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(base, process, log_path)
        yield base, env
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        log_file.close()


@pytest.fixture
def live_server(data_dir: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """A real `archive-service serve` process on a free loopback port (its output in a file)."""
    with serving(data_dir) as server:
        yield server
