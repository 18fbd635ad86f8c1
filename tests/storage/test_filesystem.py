"""What only the filesystem store can show: its files on disk, crashes, tampering, permissions."""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import json
import multiprocessing
import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from archive_service.errors import IntegrityFailure, ServiceUnavailable
from archive_service.storage import (
    FilesystemObjectStore,
    KeyCollisionError,
    ObjectExistsError,
    ObjectNotFoundError,
    StorageUnavailable,
    StoredObject,
    immutable,
)

RETAIN_UNTIL = dt.datetime(2100, 7, 15, tzinfo=dt.UTC)
KEY = "journals/12345678/2024-2025/7-B/doc/v0001/journal.pdf"
DATA = b"%PDF-1.7 journal bytes"


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def put(store: FilesystemObjectStore, key: str, data: bytes) -> StoredObject:
    return store.put(
        key, data, sha256=digest(data), content_type="application/pdf", retain_until=RETAIN_UNTIL
    )


def immutable_flag_permitted(directory: Path) -> bool:
    probe = directory / "flag-probe"
    probe.write_bytes(b"")
    try:
        immutable.set_immutable(probe)
    except OSError:
        return False
    finally:
        if immutable.is_immutable(probe):
            immutable.set_immutable(probe, False)
        probe.unlink()
    return True


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def fs_store(root: Path) -> FilesystemObjectStore:
    store = FilesystemObjectStore(root, create_root=True)
    store.check()
    return store


def make_writable(path: Path) -> None:
    """Stand in for someone with write access to the folder (root ignores 0444 anyway)."""
    path.chmod(0o644)


# -- layout and permissions ---------------------------------------------------------------------


def test_object_and_manifest_are_laid_out_under_the_key(
    fs_store: FilesystemObjectStore, root: Path
) -> None:
    stored = put(fs_store, KEY, DATA)

    assert (root / "objects" / KEY).read_bytes() == DATA
    manifest = json.loads((root / "manifests" / f"{KEY}.json").read_text("ascii"))
    assert manifest == {
        "format": 1,
        "key": KEY,
        "version_id": "1",
        "sha256": digest(DATA),
        "size": len(DATA),
        "content_type": "application/pdf",
        "retain_until": "2100-07-15T00:00:00+00:00",
        "stored_at": stored.stored_at.isoformat(),
    }
    assert stored.version_id == "1"


def test_stored_files_are_read_only(fs_store: FilesystemObjectStore, root: Path) -> None:
    put(fs_store, KEY, DATA)

    for path in (root / "objects" / KEY, root / "manifests" / f"{KEY}.json"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o444


def test_identity_is_written_once_into_the_read_only_manifest(
    fs_store: FilesystemObjectStore, root: Path
) -> None:
    identity = {"document": "d-1", "institution": "12345678", "version": "1", "kind": "pdf"}
    fs_store.put(
        KEY,
        DATA,
        sha256=digest(DATA),
        content_type="application/pdf",
        retain_until=RETAIN_UNTIL,
        identity=identity,
    )
    manifest_path = root / "manifests" / f"{KEY}.json"
    assert json.loads(manifest_path.read_text("ascii"))["identity"] == identity
    assert stat.S_IMODE(manifest_path.stat().st_mode) == 0o444
    # A second put cannot give the object another identity, not even with the same bytes.
    with pytest.raises(ObjectExistsError):
        fs_store.put(
            KEY,
            DATA,
            sha256=digest(DATA),
            content_type="application/pdf",
            retain_until=RETAIN_UNTIL,
            identity=identity | {"document": "d-2"},
        )
    assert dict(fs_store.stat(KEY).identity) == identity


def test_a_manifest_identity_edited_on_disk_is_what_reads_compare(
    fs_store: FilesystemObjectStore, root: Path
) -> None:
    """Not WORM: whoever may write the folder can edit a manifest. Reads then refuse the object
    for the row it belongs to, and reconcile reports that row (fail closed, not silently)."""
    identity = {"document": "d-1", "kind": "pdf"}
    fs_store.put(
        KEY,
        DATA,
        sha256=digest(DATA),
        content_type="application/pdf",
        retain_until=RETAIN_UNTIL,
        identity=identity,
    )
    manifest_path = root / "manifests" / f"{KEY}.json"
    make_writable(manifest_path)
    edited = json.loads(manifest_path.read_text("ascii")) | {"identity": {"document": "d-2"}}
    manifest_path.write_text(json.dumps(edited), "ascii")

    with pytest.raises(IntegrityFailure, match="document"):
        fs_store.get(KEY, sha256=digest(DATA), identity=identity)


def test_no_temporary_files_remain_after_puts(fs_store: FilesystemObjectStore, root: Path) -> None:
    put(fs_store, KEY, DATA)
    with pytest.raises(ObjectExistsError):
        put(fs_store, KEY, b"other")

    names = [name for _, _, files in os.walk(root) for name in files]
    assert sorted(names) == ["journal.pdf", "journal.pdf.json"]


# -- tampering behind the store's back ----------------------------------------------------------


def test_tampered_data_file_is_refused_on_get(fs_store: FilesystemObjectStore, root: Path) -> None:
    put(fs_store, KEY, DATA)
    data_file = root / "objects" / KEY
    make_writable(data_file)
    data_file.write_bytes(DATA.replace(b"journal", b"JOURNAL"))  # same size, other bytes

    with pytest.raises(IntegrityFailure):
        fs_store.get(KEY, sha256=digest(DATA))


def test_tampered_manifest_hash_is_refused_on_get(
    fs_store: FilesystemObjectStore, root: Path
) -> None:
    put(fs_store, KEY, DATA)
    manifest_file = root / "manifests" / f"{KEY}.json"
    make_writable(manifest_file)
    manifest = json.loads(manifest_file.read_text("ascii"))
    manifest["sha256"] = digest(b"forged")
    manifest_file.write_text(json.dumps(manifest), "ascii")

    with pytest.raises(IntegrityFailure):
        fs_store.get(KEY, sha256=digest(DATA))


@pytest.mark.parametrize(
    "content", ["not json", '{"format": 1}', '{"format": 1, "key": "elsewhere"}']
)
def test_unreadable_manifest_is_an_integrity_failure_and_reported(
    fs_store: FilesystemObjectStore, root: Path, content: str
) -> None:
    put(fs_store, KEY, DATA)
    manifest_file = root / "manifests" / f"{KEY}.json"
    make_writable(manifest_file)
    original = json.loads(manifest_file.read_text("ascii"))
    if "elsewhere" in content:
        content = json.dumps({**original, "key": "journals/elsewhere.pdf"})
    manifest_file.write_text(content, "ascii")

    with pytest.raises(IntegrityFailure):
        fs_store.stat(KEY)
    with pytest.raises(IntegrityFailure):
        fs_store.get(KEY, sha256=digest(DATA))
    assert list(fs_store.iter_objects()) == []
    assert [item.key for item in fs_store.iter_incomplete()] == [KEY]


def test_removed_data_file_is_an_integrity_failure_and_reported(
    fs_store: FilesystemObjectStore, root: Path
) -> None:
    put(fs_store, KEY, DATA)
    (root / "objects" / KEY).unlink()

    with pytest.raises(IntegrityFailure):
        fs_store.get(KEY, sha256=digest(DATA))
    assert list(fs_store.iter_objects()) == []
    assert [(item.key, item.reason) for item in fs_store.iter_incomplete()] == [
        (KEY, "manifest without data: object lost")
    ]


def test_data_file_replaced_by_a_symlink_is_refused(
    fs_store: FilesystemObjectStore, root: Path, tmp_path: Path
) -> None:
    put(fs_store, KEY, DATA)
    outside = tmp_path / "outside.pdf"
    outside.write_bytes(DATA)
    data_file = root / "objects" / KEY
    data_file.unlink()
    data_file.symlink_to(outside)

    with pytest.raises(IntegrityFailure):
        fs_store.get(KEY, sha256=digest(DATA))


# -- crashes mid-write --------------------------------------------------------------------------


@pytest.fixture
def crash_leftovers(root: Path) -> dict[str, Path]:
    """What a crash can leave: temp files and a data file whose manifest was never linked."""
    objects = root / "objects" / "journals" / "doc"
    manifests = root / "manifests" / "journals" / "doc"
    objects.mkdir(parents=True)
    manifests.mkdir(parents=True)
    leftovers = {
        "data_temp": objects / ".a.pdf#x1y2z3w4",
        "manifest_temp": manifests / ".b.pdf.json#x1y2z3w4",
        "data_only": objects / "c.pdf",
    }
    for path in leftovers.values():
        path.write_bytes(b"half-written" if "temp" in path.name else DATA)
    return leftovers


def test_leftovers_of_a_crash_are_not_objects(
    fs_store: FilesystemObjectStore, crash_leftovers: dict[str, Path]
) -> None:
    assert list(fs_store.iter_objects()) == []
    assert not fs_store.exists("journals/doc/c.pdf")
    with pytest.raises(ObjectNotFoundError):
        fs_store.stat("journals/doc/c.pdf")
    with pytest.raises(ObjectNotFoundError):
        fs_store.get("journals/doc/c.pdf", sha256=digest(DATA))

    reported = {item.location: item for item in fs_store.iter_incomplete()}
    assert set(reported) == {
        "objects/journals/doc/.a.pdf#x1y2z3w4",
        "objects/journals/doc/c.pdf",
        "manifests/journals/doc/.b.pdf.json#x1y2z3w4",
    }
    assert reported["objects/journals/doc/c.pdf"].key == "journals/doc/c.pdf"


def test_retrying_an_interrupted_put_with_the_same_bytes_completes_it(
    fs_store: FilesystemObjectStore, crash_leftovers: dict[str, Path]
) -> None:
    stored = put(fs_store, "journals/doc/c.pdf", DATA)

    assert fs_store.get("journals/doc/c.pdf", sha256=digest(DATA)) == DATA
    assert [item.key for item in fs_store.iter_objects()] == [stored.key]


def test_interrupted_put_is_never_replaced_by_other_bytes(
    fs_store: FilesystemObjectStore, crash_leftovers: dict[str, Path]
) -> None:
    with pytest.raises(ObjectExistsError):
        put(fs_store, "journals/doc/c.pdf", b"different bytes")

    assert crash_leftovers["data_only"].read_bytes() == DATA
    assert not fs_store.exists("journals/doc/c.pdf")


def test_failed_write_leaves_no_temporary_file(
    fs_store: FilesystemObjectStore, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def read_only_filesystem(*_args: Any, **_kwargs: Any) -> None:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(os, "link", read_only_filesystem)

    with pytest.raises(StorageUnavailable):
        put(fs_store, KEY, DATA)

    monkeypatch.undo()
    assert [name for _, _, files in os.walk(root) for name in files] == []
    assert list(fs_store.iter_incomplete()) == []


# -- keys a filesystem cannot hold together -----------------------------------------------------


@pytest.mark.parametrize(("first", "second"), [("a", "a/b"), ("a/b", "a"), ("m", "m.json/x")])
def test_key_and_key_inside_it_collide_without_leftovers(
    fs_store: FilesystemObjectStore, first: str, second: str
) -> None:
    put(fs_store, first, DATA)

    with pytest.raises(KeyCollisionError) as collision:
        put(fs_store, second, DATA)

    assert not isinstance(collision.value, ObjectExistsError)
    assert not fs_store.exists(second)
    assert list(fs_store.iter_incomplete()) == []
    assert fs_store.get(first, sha256=digest(DATA)) == DATA


# -- readiness ----------------------------------------------------------------------------------


def test_check_on_missing_root_is_unavailable(tmp_path: Path) -> None:
    store = FilesystemObjectStore(tmp_path / "not-mounted")

    with pytest.raises(StorageUnavailable) as unavailable:
        store.check()

    assert isinstance(unavailable.value, ServiceUnavailable)
    assert not (tmp_path / "not-mounted").exists()


def test_create_root_never_creates_parents(tmp_path: Path) -> None:
    store = FilesystemObjectStore(tmp_path / "missing-volume" / "objects", create_root=True)

    with pytest.raises(StorageUnavailable):
        store.check()
    assert not (tmp_path / "missing-volume").exists()


def test_check_on_a_file_instead_of_a_folder_is_unavailable(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"")
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "objects").write_bytes(b"")

    for root in (tmp_path / "file", tmp_path / "store"):
        with pytest.raises(StorageUnavailable):
            FilesystemObjectStore(root).check()


@pytest.fixture
def unwritable_root(tmp_path: Path) -> Iterator[Path]:
    """A folder this process cannot write to: mode 0555, or for root the immutable flag."""
    root = tmp_path / "read-only"
    root.mkdir()
    if os.geteuid() != 0:
        root.chmod(0o555)
        yield root
        root.chmod(0o755)
        return
    if not immutable_flag_permitted(tmp_path):
        pytest.skip("running as root without CAP_LINUX_IMMUTABLE: no way to deny a write")
    immutable.set_immutable(root)
    yield root
    immutable.set_immutable(root, False)


def test_check_on_an_unwritable_root_is_unavailable(unwritable_root: Path) -> None:
    with pytest.raises(StorageUnavailable):
        FilesystemObjectStore(unwritable_root).check()


# -- the optional immutable attribute -----------------------------------------------------------


def test_immutable_attribute_when_permitted_stops_even_root(tmp_path: Path) -> None:
    if not immutable_flag_permitted(tmp_path):
        pytest.skip("this process may not set the immutable attribute here")
    store = FilesystemObjectStore(tmp_path / "store", immutable_attr=True, create_root=True)
    store.check()
    data_file = tmp_path / "store" / "objects" / KEY
    try:
        put(store, KEY, DATA)

        assert "immutable attribute: active" in store.description
        assert immutable.is_immutable(data_file)
        assert immutable.is_immutable(tmp_path / "store" / "manifests" / f"{KEY}.json")
        with pytest.raises(PermissionError):
            data_file.unlink()
        with pytest.raises(PermissionError):
            data_file.chmod(0o644)
    finally:
        for path in (data_file, tmp_path / "store" / "manifests" / f"{KEY}.json"):
            if immutable.is_immutable(path):
                immutable.set_immutable(path, False)


def test_immutable_attribute_not_permitted_never_fails_a_put(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refused(*_args: Any, **_kwargs: Any) -> None:
        raise PermissionError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(immutable, "set_immutable", refused)
    store = FilesystemObjectStore(tmp_path / "store", immutable_attr=True, create_root=True)
    store.check()
    assert "not permitted" in store.description

    put(store, KEY, DATA)

    assert store.get(KEY, sha256=digest(DATA)) == DATA
    assert "not permitted" in store.description
    assert not immutable.is_immutable(tmp_path / "store" / "objects" / KEY)


def test_description_is_honest_about_what_is_off(fs_store: FilesystemObjectStore) -> None:
    assert str(fs_store.root) in fs_store.description
    assert "immutable attribute: off" in fs_store.description
    assert "not WORM" in fs_store.description


# -- two processes ------------------------------------------------------------------------------


def put_from_child(
    root: str, index: int, start: Any, results: Any
) -> None:  # runs in a child process
    store = FilesystemObjectStore(Path(root))
    data = f"process {index}".encode()
    start.wait()
    try:
        put(store, KEY, data)
        results.put((index, "stored"))
    except ObjectExistsError:
        results.put((index, "exists"))


def test_concurrent_puts_from_two_processes_have_exactly_one_winner(
    fs_store: FilesystemObjectStore, root: Path
) -> None:
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(2)
    results = context.Queue()
    children = [
        context.Process(target=put_from_child, args=(str(root), index, start, results))
        for index in range(2)
    ]
    for child in children:
        child.start()
    outcomes = dict(results.get(timeout=120) for _ in children)
    for child in children:
        child.join(timeout=120)

    assert [child.exitcode for child in children] == [0, 0]
    assert sorted(outcomes.values()) == ["exists", "stored"]
    winner = next(index for index, outcome in outcomes.items() if outcome == "stored")
    expected = f"process {winner}".encode()
    assert fs_store.get(KEY, sha256=digest(expected)) == expected


# -- legal holds --------------------------------------------------------------------------------


def hold_records(root: Path, key: str) -> list[dict[str, Any]]:
    folder = root / "holds" / key
    return [json.loads(path.read_text()) for path in sorted(folder.iterdir())]


def test_legal_hold_survives_a_restart_of_the_store(
    fs_store: FilesystemObjectStore, root: Path
) -> None:
    stored = put(fs_store, KEY, DATA)
    fs_store.set_legal_hold(KEY, stored.version_id, on=True)

    reopened = FilesystemObjectStore(root)

    assert reopened.stat(KEY).legal_hold is True
    assert reopened.find(KEY, sha256=digest(DATA)) == reopened.stat(KEY)


def test_every_hold_change_is_a_new_read_only_record(
    fs_store: FilesystemObjectStore, root: Path
) -> None:
    stored = put(fs_store, KEY, DATA)
    for on in (True, False, True):
        fs_store.set_legal_hold(KEY, stored.version_id, on=on)

    folder = root / "holds" / KEY
    assert sorted(path.name for path in folder.iterdir()) == [
        "00000001.json",
        "00000002.json",
        "00000003.json",
    ]
    assert [record["legal_hold"] for record in hold_records(root, KEY)] == [True, False, True]
    assert {record["key"] for record in hold_records(root, KEY)} == {KEY}
    assert all(stat.S_IMODE(path.stat().st_mode) == 0o444 for path in folder.iterdir())
    assert list(fs_store.iter_incomplete()) == []


def test_concurrent_hold_changes_never_overwrite_each_other(
    fs_store: FilesystemObjectStore, root: Path
) -> None:
    stored = put(fs_store, KEY, DATA)
    writers = 8
    start = threading.Barrier(writers)

    def hold() -> None:
        start.wait()
        fs_store.set_legal_hold(KEY, stored.version_id, on=True)

    threads = [threading.Thread(target=hold) for _ in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(hold_records(root, KEY)) == writers
    assert fs_store.stat(KEY).legal_hold is True


def test_a_hold_record_edited_behind_the_store_is_refused(
    fs_store: FilesystemObjectStore, root: Path
) -> None:
    stored = put(fs_store, KEY, DATA)
    fs_store.set_legal_hold(KEY, stored.version_id, on=True)
    record = root / "holds" / KEY / "00000001.json"
    make_writable(record)
    record.write_text(record.read_text().replace(KEY, "journals/other"))

    with pytest.raises(IntegrityFailure):
        fs_store.stat(KEY)


def test_leftover_of_an_interrupted_hold_change_is_reported_not_counted(
    fs_store: FilesystemObjectStore, root: Path
) -> None:
    stored = put(fs_store, KEY, DATA)
    folder = root / "holds" / KEY
    folder.mkdir(parents=True)
    (folder / ".00000001.json#crash").write_text('{"legal_hold": tr')

    assert fs_store.stat(KEY).legal_hold is False
    assert [item.reason for item in fs_store.iter_incomplete()] == [
        "temporary file of an interrupted write"
    ]
    assert fs_store.set_legal_hold(KEY, stored.version_id, on=True).legal_hold is True
    assert fs_store.stat(KEY).legal_hold is True


def test_find_ignores_a_manifest_whose_data_is_gone(
    fs_store: FilesystemObjectStore, root: Path
) -> None:
    put(fs_store, KEY, DATA)
    data_file = root / "objects" / KEY
    make_writable(data_file.parent)
    data_file.unlink()

    assert fs_store.find(KEY, sha256=digest(DATA)) is None
