"""What every ObjectStore backend must do; runs once per entry in conftest.BACKENDS."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import threading

import pytest

from archive_service.errors import Conflict, IntegrityFailure, InvalidInput, NotFound
from archive_service.storage import (
    ObjectExistsError,
    ObjectNotFoundError,
    ObjectStore,
    StoredObject,
)

PDF = "application/pdf"


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def put(
    store: ObjectStore, key: str, data: bytes, retain_until: dt.datetime, content_type: str = PDF
) -> StoredObject:
    return store.put(
        key, data, sha256=digest(data), content_type=content_type, retain_until=retain_until
    )


def test_store_implements_the_protocol(store: ObjectStore) -> None:
    assert isinstance(store, ObjectStore)
    assert store.description


def test_store_offers_no_way_to_change_or_remove_objects(store: ObjectStore) -> None:
    forbidden = ("delete", "remove", "overwrite", "replace", "unlink", "rename", "truncate")
    public = [name for name in dir(store) if not name.startswith("_")]
    assert [name for name in public if any(word in name for word in forbidden)] == []


def test_put_get_stat_round_trip(
    store: ObjectStore, namespace: str, retain_until: dt.datetime
) -> None:
    key = f"{namespace}/doc/v0001/journal.pdf"
    data = b"%PDF-1.7 archived journal"

    stored = put(store, key, data, retain_until)

    assert stored.key == key
    assert stored.sha256 == digest(data)
    assert stored.version_id
    assert store.get(key, sha256=digest(data)) == data
    assert store.get(key, sha256=digest(data), version_id=stored.version_id) == data
    assert store.stat(key) == stored
    assert store.stat(key, stored.version_id) == stored
    assert store.exists(key)


def test_metadata_round_trips(
    store: ObjectStore, namespace: str, retain_until: dt.datetime
) -> None:
    key = f"{namespace}/source.json"
    data = b'{"journal": 1}'

    stored = put(store, key, data, retain_until, content_type="application/json; charset=utf-8")
    seen = store.stat(key)

    assert seen.size == len(data) == stored.size
    assert seen.content_type == "application/json; charset=utf-8"
    assert seen.retain_until == retain_until
    assert seen.retain_until.utcoffset() == dt.timedelta(0)
    assert seen.stored_at.utcoffset() == dt.timedelta(0)
    assert seen.stored_at < seen.retain_until


def test_retention_is_rounded_up_never_shortened(
    store: ObjectStore, namespace: str, retain_until: dt.datetime
) -> None:
    asked = (retain_until + dt.timedelta(microseconds=1)).astimezone(
        dt.timezone(dt.timedelta(hours=3))
    )

    stored = put(store, f"{namespace}/rounded", b"x", asked)

    assert stored.retain_until == retain_until + dt.timedelta(seconds=1)
    assert store.stat(f"{namespace}/rounded").retain_until == stored.retain_until


@pytest.mark.parametrize(
    "retain_until",
    [dt.datetime(2000, 1, 1, tzinfo=dt.UTC), dt.datetime(2999, 1, 1)],
    ids=["in-the-past", "naive"],
)
def test_unusable_retention_is_refused(
    store: ObjectStore, namespace: str, retain_until: dt.datetime
) -> None:
    with pytest.raises(InvalidInput):
        put(store, f"{namespace}/x", b"x", retain_until)
    assert not store.exists(f"{namespace}/x")


def test_second_put_of_a_key_is_refused_and_changes_nothing(
    store: ObjectStore, namespace: str, retain_until: dt.datetime
) -> None:
    key = f"{namespace}/once"
    original = put(store, key, b"original", retain_until)

    with pytest.raises(ObjectExistsError) as refused:
        put(store, key, b"replacement", retain_until + dt.timedelta(days=1), "text/plain")
    with pytest.raises(ObjectExistsError):
        put(store, key, b"original", retain_until)  # even identical bytes: the key is taken

    assert isinstance(refused.value, Conflict)
    assert store.get(key, sha256=digest(b"original")) == b"original"
    assert store.stat(key) == original


def test_put_with_wrong_hash_stores_nothing(
    store: ObjectStore, namespace: str, retain_until: dt.datetime
) -> None:
    key = f"{namespace}/wrong-hash"

    with pytest.raises(IntegrityFailure):
        store.put(
            key, b"data", sha256=digest(b"other"), content_type=PDF, retain_until=retain_until
        )

    assert not store.exists(key)
    with pytest.raises(ObjectNotFoundError):
        store.stat(key)
    assert list(store.iter_objects(namespace)) == []
    assert list(store.iter_incomplete()) == []
    put(store, key, b"data", retain_until)  # the key was not burnt
    assert store.get(key, sha256=digest(b"data")) == b"data"


def test_get_refuses_bytes_that_do_not_match_the_recorded_hash(
    store: ObjectStore, namespace: str, retain_until: dt.datetime
) -> None:
    key = f"{namespace}/recorded"
    put(store, key, b"the real bytes", retain_until)

    with pytest.raises(IntegrityFailure):
        store.get(key, sha256=digest(b"what the database says"))


def test_missing_objects_are_not_found(store: ObjectStore, namespace: str) -> None:
    key = f"{namespace}/missing"

    with pytest.raises(ObjectNotFoundError) as missing:
        store.get(key, sha256=digest(b""))
    with pytest.raises(ObjectNotFoundError):
        store.stat(key)

    assert isinstance(missing.value, NotFound)
    assert not store.exists(key)


def test_unknown_version_is_not_found(
    store: ObjectStore, namespace: str, retain_until: dt.datetime
) -> None:
    key = f"{namespace}/versioned"
    put(store, key, b"v", retain_until)

    with pytest.raises(ObjectNotFoundError):
        store.get(key, sha256=digest(b"v"), version_id="no-such-version")
    with pytest.raises(ObjectNotFoundError):
        store.stat(key, "no-such-version")


BAD_KEYS = [
    "../x",
    "a/../../x",
    "a/..",
    "/etc/passwd",
    "журнал",
    "journals/7-Б",
    "a//b",
    "a/",
    "",
    ".",
    "a/./b",
    "a\\..\\b",
    "a b",
    "a\x00b",
    "a\nb",
    "x" * 513,
]


@pytest.mark.parametrize("bad_key", BAD_KEYS)
def test_invalid_keys_are_refused_everywhere(
    store: ObjectStore, bad_key: str, retain_until: dt.datetime
) -> None:
    with pytest.raises(InvalidInput):
        put(store, bad_key, b"x", retain_until)
    with pytest.raises(InvalidInput):
        store.get(bad_key, sha256=digest(b"x"))
    with pytest.raises(InvalidInput):
        store.stat(bad_key)
    with pytest.raises(InvalidInput):
        store.exists(bad_key)


@pytest.mark.parametrize("bad_prefix", ["../", "/abs", "журнал/", "a//", "a/../b"])
def test_invalid_prefixes_are_refused(store: ObjectStore, bad_prefix: str) -> None:
    with pytest.raises(InvalidInput):
        list(store.iter_objects(bad_prefix))


@pytest.mark.parametrize("bad_hash", ["", "abc", "g" * 64, digest(b"x") + "0"])
def test_malformed_hashes_are_refused(
    store: ObjectStore, namespace: str, retain_until: dt.datetime, bad_hash: str
) -> None:
    with pytest.raises(InvalidInput):
        store.put(
            f"{namespace}/h", b"x", sha256=bad_hash, content_type=PDF, retain_until=retain_until
        )
    assert not store.exists(f"{namespace}/h")


def test_iter_objects_lists_complete_objects_by_prefix_in_key_order(
    store: ObjectStore, namespace: str, retain_until: dt.datetime
) -> None:
    for name in ("docs/b", "docs/a", "docs-x/c", "other/d", "docs/sub/e"):
        put(store, f"{namespace}/{name}", name.encode(), retain_until)

    def keys(prefix: str) -> list[str]:
        return [item.key.removeprefix(f"{namespace}/") for item in store.iter_objects(prefix)]

    assert keys(f"{namespace}/docs/") == ["docs/a", "docs/b", "docs/sub/e"]
    assert keys(f"{namespace}/docs") == ["docs-x/c", "docs/a", "docs/b", "docs/sub/e"]
    assert keys(f"{namespace}/docs/sub/") == ["docs/sub/e"]
    assert keys(f"{namespace}/nothing/") == []
    assert len(keys(f"{namespace}/")) == 5
    listed = {item.key: item for item in store.iter_objects(namespace)}
    assert listed[f"{namespace}/other/d"] == store.stat(f"{namespace}/other/d")
    assert list(store.iter_incomplete()) == []


def test_iter_versions_lists_each_stored_version_and_no_marker(
    store: ObjectStore, namespace: str, retain_until: dt.datetime
) -> None:
    """Audit verification and reconcile read versions, not the plain listing: a store that
    writes nothing but objects shows one version per object and no delete marker."""
    stored = [put(store, f"{namespace}/v/{name}", name.encode(), retain_until) for name in "ba"]

    versions = list(store.iter_versions(f"{namespace}/v/"))

    assert [(v.key, v.version_id) for v in versions] == sorted(
        (s.key, s.version_id) for s in stored
    )
    assert all(v.latest and not v.delete_marker for v in versions)
    assert all(v.modified is not None and v.modified.tzinfo is not None for v in versions)
    assert list(store.iter_versions(f"{namespace}/nothing/")) == []
    with pytest.raises(InvalidInput):
        list(store.iter_versions("../x"))


def test_concurrent_puts_of_one_key_have_exactly_one_winner(
    store: ObjectStore, namespace: str, retain_until: dt.datetime
) -> None:
    key = f"{namespace}/contended"
    writers = 8
    start = threading.Barrier(writers)
    outcomes: dict[int, str] = {}

    def write(index: int) -> None:
        data = f"writer {index}".encode()
        start.wait()
        try:
            put(store, key, data, retain_until)
            outcomes[index] = "stored"
        except ObjectExistsError:
            outcomes[index] = "exists"

    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    winners = [index for index, outcome in outcomes.items() if outcome == "stored"]
    assert len(outcomes) == writers
    assert len(winners) == 1
    expected = f"writer {winners[0]}".encode()
    assert store.get(key, sha256=digest(expected)) == expected
    assert list(store.iter_incomplete()) == []


def test_concurrent_identical_puts_have_exactly_one_winner(
    store: ObjectStore, namespace: str, retain_until: dt.datetime
) -> None:
    key = f"{namespace}/same-bytes"
    writers = 8
    start = threading.Barrier(writers)
    outcomes: list[str] = []

    def write() -> None:
        start.wait()
        try:
            put(store, key, b"the same bytes", retain_until)
            outcomes.append("stored")
        except ObjectExistsError:
            outcomes.append("exists")

    threads = [threading.Thread(target=write) for _ in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["exists"] * (writers - 1) + ["stored"]
    assert store.get(key, sha256=digest(b"the same bytes")) == b"the same bytes"


@pytest.mark.parametrize("data", [bytes(range(256)) * 257, b""], ids=["all-bytes", "empty"])
def test_binary_data_round_trips(
    store: ObjectStore, namespace: str, retain_until: dt.datetime, data: bytes
) -> None:
    key = f"{namespace}/binary.bin"

    stored = put(store, key, data, retain_until, content_type="application/octet-stream")

    assert stored.size == len(data)
    assert store.get(key, sha256=digest(data)) == data


def test_hash_may_be_given_in_upper_case(
    store: ObjectStore, namespace: str, retain_until: dt.datetime
) -> None:
    key = f"{namespace}/upper"
    upper = digest(b"x").upper()

    stored = store.put(key, b"x", sha256=upper, content_type=PDF, retain_until=retain_until)

    assert stored.sha256 == digest(b"x")
    assert store.get(key, sha256=upper) == b"x"


def test_check_passes_on_a_usable_store(store: ObjectStore) -> None:
    store.check()


def test_a_new_object_has_no_legal_hold(
    store: ObjectStore, namespace: str, retain_until: dt.datetime
) -> None:
    stored = put(store, f"{namespace}/unheld", b"x", retain_until)

    assert stored.legal_hold is False
    assert store.stat(stored.key).legal_hold is False


def test_legal_hold_is_placed_reported_and_released(
    store: ObjectStore, namespace: str, retain_until: dt.datetime
) -> None:
    key = f"{namespace}/held/journal.pdf"
    stored = put(store, key, b"%PDF-1.7 held", retain_until)

    held = store.set_legal_hold(key, stored.version_id, on=True)

    assert held == dataclasses.replace(stored, legal_hold=True)
    assert store.stat(key).legal_hold is True
    assert store.stat(key, stored.version_id).legal_hold is True
    assert [item.legal_hold for item in store.iter_objects(f"{namespace}/held/")] == [True]
    assert store.set_legal_hold(key, stored.version_id, on=True).legal_hold is True  # idempotent

    released = store.set_legal_hold(key, stored.version_id, on=False)

    assert released == stored
    assert store.stat(key, stored.version_id).legal_hold is False
    assert store.get(key, sha256=stored.sha256, version_id=stored.version_id) == b"%PDF-1.7 held"


def test_a_legal_hold_change_keeps_the_moment_of_the_write(
    store: ObjectStore, namespace: str, retain_until: dt.datetime
) -> None:
    """SeaweedFS moves Last-Modified (whole seconds) when a hold changes; ``stored_at`` must
    stay when the object was written. The pause makes sure a second has turned over."""
    stored = put(store, f"{namespace}/held-later.pdf", b"%PDF-1.7 held later", retain_until)
    threading.Event().wait(1.1)

    held = store.set_legal_hold(stored.key, stored.version_id, on=True)

    assert held.stored_at == stored.stored_at
    assert store.stat(stored.key).stored_at == stored.stored_at


def test_legal_hold_on_a_missing_object_or_version_is_not_found(
    store: ObjectStore, namespace: str, retain_until: dt.datetime
) -> None:
    stored = put(store, f"{namespace}/there", b"x", retain_until)

    with pytest.raises(ObjectNotFoundError):
        store.set_legal_hold(stored.key, "no-such-version", on=True)
    with pytest.raises(ObjectNotFoundError):
        store.set_legal_hold(f"{namespace}/not-there", stored.version_id, on=True)
    with pytest.raises(InvalidInput):
        store.set_legal_hold("../escape", stored.version_id, on=True)

    assert store.stat(stored.key).legal_hold is False


def test_find_returns_the_version_with_that_content(
    store: ObjectStore, namespace: str, retain_until: dt.datetime
) -> None:
    key = f"{namespace}/found.pdf"
    stored = put(store, key, b"%PDF-1.7 found", retain_until)

    assert store.find(key, sha256=digest(b"%PDF-1.7 found")) == stored
    assert store.find(key, sha256=digest(b"%PDF-1.7 found").upper()) == stored
    assert store.find(key, sha256=digest(b"other bytes")) is None
    assert store.find(f"{namespace}/found", sha256=stored.sha256) is None  # a prefix is no key
    assert store.find(f"{namespace}/never-stored", sha256=stored.sha256) is None


def test_find_reports_a_legal_hold(
    store: ObjectStore, namespace: str, retain_until: dt.datetime
) -> None:
    stored = put(store, f"{namespace}/held-and-found", b"x", retain_until)
    store.set_legal_hold(stored.key, stored.version_id, on=True)

    found = store.find(stored.key, sha256=stored.sha256)

    assert found is not None and found.legal_hold is True


@pytest.mark.parametrize("bad_hash", ["", "g" * 64])
def test_find_refuses_malformed_arguments(
    store: ObjectStore, namespace: str, bad_hash: str
) -> None:
    with pytest.raises(InvalidInput):
        store.find(f"{namespace}/x", sha256=bad_hash)
    with pytest.raises(InvalidInput):
        store.find("../x", sha256=digest(b"x"))


IDENTITY = {
    "document": "0b7c6f1e-3a52-4d8e-9c1f-2f4f0c1d9e77",
    "institution": "26453182",
    "version": "2",
    "kind": "pdf",
}


def test_identity_is_recorded_with_the_object_and_reported_everywhere(
    store: ObjectStore, namespace: str, retain_until: dt.datetime
) -> None:
    key = f"{namespace}/doc/v0002/journal.pdf"
    data = b"%PDF-1.7 an object that knows what it is"

    stored = store.put(
        key, data, sha256=digest(data), content_type=PDF, retain_until=retain_until,
        identity=IDENTITY,
    )

    assert dict(stored.identity) == IDENTITY
    assert dict(store.stat(key).identity) == IDENTITY
    assert dict(store.stat(key, stored.version_id).identity) == IDENTITY
    found = store.find(key, sha256=digest(data))
    assert found is not None and dict(found.identity) == IDENTITY
    [listed] = store.iter_objects(f"{namespace}/")
    assert dict(listed.identity) == IDENTITY
    # A read naming the same identity (or part of it) gets the bytes.
    assert store.get(key, sha256=digest(data), identity=IDENTITY) == data
    assert store.get(key, sha256=digest(data), identity={"kind": "pdf"}) == data


@pytest.mark.parametrize(
    "other",
    [
        {"document": "5d1e2c3b-0000-4000-8000-000000000000"},
        {"institution": "99999999"},
        {"version": "1"},
        {"kind": "source"},
        {"unknown-entry": "x"},
    ],
    ids=["document", "institution", "version", "kind", "unrecorded entry"],
)
def test_get_refuses_an_object_recorded_as_something_else(
    store: ObjectStore, namespace: str, retain_until: dt.datetime, other: dict[str, str]
) -> None:
    key = f"{namespace}/doc/v0002/journal.pdf"
    data = b"%PDF-1.7 bound object"
    stored = store.put(
        key, data, sha256=digest(data), content_type=PDF, retain_until=retain_until,
        identity=IDENTITY,
    )
    expected = IDENTITY | other

    with pytest.raises(IntegrityFailure) as raised:
        store.get(key, sha256=digest(data), version_id=stored.version_id, identity=expected)

    assert raised.value.code == "integrity_failure"
    [name] = other
    assert name in raised.value.message
    # The message names what differs, never the values (it may reach a client).
    assert IDENTITY["document"] not in raised.value.message
    assert IDENTITY["institution"] not in raised.value.message


def test_an_object_stored_without_identity_is_read_by_its_hash_alone(
    store: ObjectStore, namespace: str, retain_until: dt.datetime
) -> None:
    key = f"{namespace}/legacy.pdf"
    data = b"%PDF-1.7 written before identities"
    stored = put(store, key, data, retain_until)

    assert dict(stored.identity) == {} and dict(store.stat(key).identity) == {}
    assert store.get(key, sha256=digest(data), identity=IDENTITY) == data


@pytest.mark.parametrize(
    "bad",
    [{"Document": "x"}, {"document": "дoc"}, {"document": ""}, {"document": " padded "},
     {f"k{i}": "v" for i in range(13)}],
    ids=["upper-case name", "non-ASCII value", "empty value", "padded value", "too many"],
)
def test_unusable_identities_are_refused_before_anything_is_written(
    store: ObjectStore, namespace: str, retain_until: dt.datetime, bad: dict[str, str]
) -> None:
    key = f"{namespace}/bad-identity.pdf"
    with pytest.raises(InvalidInput):
        store.put(
            key, b"%PDF", sha256=digest(b"%PDF"), content_type=PDF, retain_until=retain_until,
            identity=bad,
        )
    assert not store.exists(key)
