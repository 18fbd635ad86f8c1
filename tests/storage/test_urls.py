"""Storage URLs: which backend each one opens, and the errors for the ones that open nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from archive_service.errors import ArchiveError
from archive_service.storage import (
    FilesystemObjectStore,
    StorageConfigurationError,
    open_object_store,
)


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


@pytest.mark.parametrize("url", ["s3://bucket/prefix", "S3+HTTPS://key:secret@host/bucket"])
def test_s3_urls_say_the_backend_is_not_available_yet(url: str) -> None:
    with pytest.raises(StorageConfigurationError) as refused:
        open_object_store(url)

    assert "not available" in refused.value.message
    assert "later release" in refused.value.message
    assert "secret" not in refused.value.message
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
