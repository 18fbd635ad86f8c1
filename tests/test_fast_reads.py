"""The download's one-statement document lookup and its version choice."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import select

from archive_service.db import DocumentVersion
from archive_service.errors import NotFound
from archive_service.fast_reads import locate_document, pick_version
from archive_service.object_identity import pdf_identity, source_identity, source_versions
from archive_service.pipeline import Archive
from tests.conftest import example_edrpou


def test_locates_a_document_with_the_coordinates_of_its_versions(
    archive: Archive, archived: dict
) -> None:
    with archive.reader() as session:
        located = locate_document(session, archived["document_id"])
        recorded = session.scalars(select(DocumentVersion)).one()
    assert located is not None
    assert (located.id, located.edrpou) == (archived["document_id"], example_edrpou())
    assert located.school_year == "2023/2024"  # as in the example export
    [version] = located.versions
    assert (version.number, version.sha256, version.object_key) == (
        1,
        recorded.sha256,
        recorded.object_key,
    )
    assert (version.source_sha256, version.source_object_version_id) == (
        recorded.source_sha256,
        recorded.source_object_version_id,
    )
    assert version.source_media_type == "application/json"
    assert version.pdf_identity == pdf_identity(
        archived["document_id"], example_edrpou(), 1, recorded.source_sha256
    )
    assert version.source_identity == source_identity(
        archived["document_id"], example_edrpou(), 1, recorded.source_sha256
    )


def test_an_export_object_names_the_upload_at_the_root_of_its_renewals() -> None:
    # (row id, number, renews row id): 1 uploaded, 2 renews 1, 3 renews 2, 4 uploaded anew,
    # 5 claims to renew a row of another document, 6 and 7 renew each other.
    rows = [(10, 1, None), (11, 2, 10), (12, 3, 11), (13, 4, None), (14, 5, 99)]
    assert source_versions(rows) == {10: 1, 11: 1, 12: 1, 13: 4, 14: 5}
    assert source_versions([(1, 6, 2), (2, 7, 1)]) in ({1: 7, 2: 6}, {1: 6, 2: 7})


def test_an_unknown_document_is_none(archive: Archive) -> None:
    with archive.reader() as session:
        assert locate_document(session, "00000000-0000-0000-0000-000000000000") is None


@dataclass(frozen=True)
class _Numbered:
    number: int


def test_picks_the_latest_or_the_asked_version() -> None:
    versions = [_Numbered(1), _Numbered(2), _Numbered(3)]
    assert pick_version("d", versions, None) == _Numbered(3)
    assert pick_version("d", versions, 2) == _Numbered(2)


def test_a_missing_version_names_the_ones_that_exist() -> None:
    with pytest.raises(NotFound, match="no version 4; it has versions 1–3") as raised:
        pick_version("d", [_Numbered(1), _Numbered(2), _Numbered(3)], 4)
    assert [d.path for d in raised.value.details] == ["version"]
    with pytest.raises(NotFound, match="has no versions"):
        pick_version("d", [], None)


def test_lookups_run_outside_any_transaction_and_see_each_commit(
    archive: Archive, archived: dict
) -> None:
    """On either database a lookup holds no transaction (no snapshot to go stale, no BEGIN and
    ROLLBACK round trips), and a pooled lookup connection sees what was committed since."""
    with archive.lookup() as lookup:
        assert locate_document(lookup, archived["document_id"]) is not None
        driver = lookup.connection.dbapi_connection
        if lookup.dialect.name == "sqlite":
            assert driver.in_transaction is False  # type: ignore[union-attr]
        else:
            assert driver.autocommit is True  # type: ignore[union-attr]
        assert locate_document(lookup, "no-such-document") is None
    with archive.sessions.begin() as session:
        session.execute(
            DocumentVersion.__table__.update().values(sha256="0" * 64)  # type: ignore[attr-defined]
        )
    with archive.lookup() as lookup:
        located = locate_document(lookup, archived["document_id"])
    assert located is not None and located.versions[0].sha256 == "0" * 64
