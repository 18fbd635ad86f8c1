"""SeaweedFS's Object Lock lives in its S3 gateway only: its filer, volume and master ports must
be reachable by nobody but SeaweedFS itself.

The finding: an unauthenticated ``DELETE`` on the filer's HTTP port removed a PDF locked in
COMPLIANCE mode. ``scripts/start-seaweedfs.sh`` therefore binds every ``weed`` listener to
127.0.0.1 and publishes the S3 port alone on the address clients use. Tests run on loopback
anyway, so the configuration is proven by publishing S3 on a *second* loopback address
(127.0.0.2) and showing that nothing else answers there — while the filer, from where it *is*
reachable, still deletes a locked version (which is why the rule exists).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import socket
import subprocess
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from archive_service.storage import ObjectNotFoundError, StoredObject
from archive_service.storage.s3 import S3ObjectStore, create_bucket_with_object_lock
from archive_service.storage.urls import parse_s3_url
from tests.storage import seaweedfs
from tests.storage.servers import S3TestServer, ServerUnavailable

#: Where S3 clients reach the gateway in this test: loopback, but not 127.0.0.1.
PUBLIC_HOST = "127.0.0.2"
DATA = b"%PDF-1.7 a locked journal"
_LISTEN = "0A"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[S3TestServer, Path]]:
    """SeaweedFS started by the project's script with S3 published on 127.0.0.2 only."""
    try:
        with socket.socket() as probe:
            probe.bind((PUBLIC_HOST, 0))
    except OSError as exc:
        _unavailable(f"cannot bind {PUBLIC_HOST} here: {exc}")
    workdir = tmp_path_factory.mktemp("seaweedfs-published") / "server"
    with ExitStack() as stack:
        try:
            server = stack.enter_context(seaweedfs.running(workdir, PUBLIC_HOST))
        except (ServerUnavailable, OSError) as exc:
            _unavailable(f"SeaweedFS could not be started: {exc}")
        create_bucket_with_object_lock(server.location(as_root=True), default_retention_days=1)
        yield server, workdir


def _listening(pid: int) -> set[tuple[str, int]]:
    """(address, port) of every TCP socket the process listens on, IPv4 and IPv6."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == _LISTEN and inode in inodes:
                address, port = local.split(":")
                found.add((_address(address), int(port, 16)))
    return found


def _address(hex_address: str) -> str:
    raw = bytes.fromhex(hex_address)
    if len(raw) == 4:
        return socket.inet_ntop(socket.AF_INET, raw[::-1])
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
    return socket.inet_ntop(socket.AF_INET6, words)


def _answers(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=3).close()
    except ConnectionRefusedError:
        return False
    return True


def _locked_object(server: S3TestServer) -> tuple[S3ObjectStore, StoredObject]:
    store = S3ObjectStore(server.location())
    stored = store.put(
        f"exposure/{uuid.uuid4().hex}/journal.pdf",
        DATA,
        sha256=hashlib.sha256(DATA).hexdigest(),
        content_type="application/pdf",
        retain_until=dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(hours=1),
    )
    return store, stored


def _filer_delete(host: str, port: str, bucket: str, key: str) -> int:
    """The finding's request: no credentials, straight to the filer, recursive."""
    folder = key.rsplit("/", 1)[0]
    request = urllib.request.Request(
        f"http://{host}:{port}/buckets/{bucket}/{folder}?recursive=true", method="DELETE"
    )
    with urllib.request.urlopen(request, timeout=5) as answer:
        return int(answer.status)


def test_only_the_s3_port_listens_beyond_loopback(
    published: tuple[S3TestServer, Path],
) -> None:
    server, workdir = published
    ports = seaweedfs.ports(workdir)
    assert server.endpoint == ports["s3_public"] and server.endpoint.startswith(f"{PUBLIC_HOST}:")
    weed = _listening(int((workdir / "weed.pid").read_text()))
    forwarder = _listening(int((workdir / "forward.pid").read_text()))

    assert weed, "found no listening sockets of the weed process"
    assert {address for address, _port in weed} == {"127.0.0.1"}, weed
    assert forwarder == {(PUBLIC_HOST, int(ports["s3_public"].rsplit(":", 1)[1]))}
    internal = {name: int(port) for name, port in ports.items() if name != "s3_public"}
    assert {port for _address, port in weed} <= set(internal.values())
    for name in ("master", "master_grpc", "volume", "volume_grpc", "filer", "filer_grpc"):
        assert ("127.0.0.1", internal[name]) in weed, f"{name} is not listening on loopback"
    # Every weed port, S3's own gRPC port included (it can replace the S3 identities), is
    # refused on the address S3 clients use.
    answering = {name for name, port in internal.items() if _answers(PUBLIC_HOST, port)}
    assert answering == set()


def test_the_filer_cannot_delete_a_locked_object_from_the_s3_address(
    published: tuple[S3TestServer, Path],
) -> None:
    server, workdir = published
    store, stored = _locked_object(server)

    with pytest.raises(urllib.error.URLError) as refused:
        _filer_delete(PUBLIC_HOST, seaweedfs.ports(workdir)["filer"], server.bucket, stored.key)

    assert isinstance(refused.value.reason, ConnectionRefusedError)
    assert store.get(stored.key, sha256=stored.sha256, version_id=stored.version_id) == DATA


def test_the_filer_where_reachable_deletes_a_locked_object(
    published: tuple[S3TestServer, Path],
) -> None:
    """Why the rule exists: the filer ignores Object Lock. If SeaweedFS ever refuses this
    request, the README's operational rule is still right, but this test should be revisited."""
    server, workdir = published
    store, stored = _locked_object(server)

    assert _filer_delete("127.0.0.1", seaweedfs.ports(workdir)["filer"], server.bucket, stored.key)

    with pytest.raises(ObjectNotFoundError):
        store.get(stored.key, sha256=stored.sha256, version_id=stored.version_id)


def test_start_on_loopback_prints_a_working_url_and_stop_removes_everything(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "server"
    started = _script("start-seaweedfs.sh", str(folder))
    try:
        assert started.returncode == 0, started.stderr
        url = parse_s3_url(started.stdout.strip())
        pid = int((folder / "weed.pid").read_text())
        assert url.endpoint.startswith("127.0.0.1:") and url.bucket == "journal-archive"
        assert not (folder / "forward.pid").exists()  # nothing to publish beyond loopback
        assert {address for address, _port in _listening(pid)} == {"127.0.0.1"}
        assert (folder / "s3.json").stat().st_mode & 0o077 == 0  # secrets: owner only
        url.client().list_buckets()
    finally:
        stopped = _script("stop-seaweedfs.sh", str(folder))
    assert stopped.returncode == 0, stopped.stderr
    assert not folder.exists()
    assert not Path(f"/proc/{pid}").exists()


def _script(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "SEAWEEDFS_BINARY": str(seaweedfs.weed_binary())}
    return subprocess.run(
        ["bash", str(seaweedfs.SCRIPTS / name), *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
