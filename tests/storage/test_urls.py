"""Storage URLs: which backend each one opens, and the errors for the ones that open nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from archive_service.errors import ArchiveError
from archive_service.storage import (
    FilesystemObjectStore,
    S3ObjectStore,
    StorageConfigurationError,
    open_object_store,
)
from archive_service.storage.urls import parse_s3_url


def test_plain_path_opens_a_filesystem_store_that_creates_its_folder(tmp_path: Path) -> None:
    store = open_object_store(str(tmp_path / "objects"))

    assert isinstance(store, FilesystemObjectStore)
    store.check()
    assert (tmp_path / "objects" / "objects").is_dir()
    assert (tmp_path / "objects" / "manifests").is_dir()


def test_file_url_opens_a_filesystem_store(tmp_path: Path) -> None:
    store = open_object_store(f"file://{tmp_path}/with%20space")

    assert isinstance(store, FilesystemObjectStore)
    assert store.root == tmp_path / "with space"
    assert store.immutable_attr is False


def test_file_url_can_ask_for_the_immutable_attribute(tmp_path: Path) -> None:
    store = open_object_store(f"file://{tmp_path}?immutable_attr=true")

    assert isinstance(store, FilesystemObjectStore)
    assert store.immutable_attr is True


@pytest.mark.parametrize(
    ("url", "secure", "region"),
    [
        ("s3://AK:SK@objects.example:9000/archive?secure=false", False, None),
        ("S3+HTTPS://AK:SK@objects.example/archive?region=eu-central-1", True, "eu-central-1"),
        ("s3+http://AK:SK@127.0.0.1:8333/archive", False, None),
        ("s3://AK:SK@objects.example:9000/archive", True, None),
    ],
)
def test_s3_urls_open_the_s3_store(url: str, secure: bool, region: str | None) -> None:
    store = open_object_store(url)

    assert isinstance(store, S3ObjectStore)
    assert store.location.bucket == "archive"
    assert (store.location.access_key, store.location.secret_key) == ("AK", "SK")
    assert store.location.secure is secure
    assert store.location.region == region
    assert "SK" not in repr(store.location) and "SK" not in store.description


def test_s3_credentials_may_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARCHIVE_S3_ACCESS_KEY", "env-access")
    monkeypatch.setenv("ARCHIVE_S3_SECRET_KEY", "env-secret")

    location = parse_s3_url("s3+http://127.0.0.1:9000/archive")

    assert (location.access_key, location.secret_key) == ("env-access", "env-secret")
    assert location.endpoint == "127.0.0.1:9000"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("s3://user:topsecret@host:9000", "exactly one bucket"),
        ("s3://user:topsecret@host:9000/a/b", "exactly one bucket"),
        ("s3://user:topsecret@host:9000/b?prefix=x", "Unknown option(s) prefix"),
        ("s3://user:topsecret@host:9000/b?secure=perhaps", "secure must be true or false"),
        ("s3+http://user:topsecret@host:9000/b?secure=true", "contradicts"),
        ("s3://user:topsecret@host:port/b", "unreadable host or port"),
        ("s3://host:9000/b", "ARCHIVE_S3_ACCESS_KEY"),
    ],
)
def test_unusable_s3_urls_are_refused_without_echoing_credentials(
    url: str, says: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ARCHIVE_S3_ACCESS_KEY", raising=False)
    monkeypatch.delenv("ARCHIVE_S3_SECRET_KEY", raising=False)
    with pytest.raises(StorageConfigurationError) as refused:
        open_object_store(url)

    assert says in refused.value.message
    assert "topsecret" not in refused.value.message
    assert isinstance(refused.value, ArchiveError)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("", "empty"),
        ("ftp://host/x", "Unknown storage URL scheme 'ftp'"),
        ("file://server/share", "cannot name a host"),
        ("file:///tmp/x?retention=forever", "Unknown option(s) retention"),
        ("file:///tmp/x?immutable_attr=maybe", "true or false"),
    ],
)
def test_unusable_urls_get_a_clear_error(url: str, says: str) -> None:
    with pytest.raises(StorageConfigurationError) as refused:
        open_object_store(url)

    assert says in refused.value.message
