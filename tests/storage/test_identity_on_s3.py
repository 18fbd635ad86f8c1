"""Invariant 8 on each real S3 server: objects carry their identity as write-once user metadata.

The database attacks of tests/test_object_identity.py (swapped PDFs, a document moved to another
institution, a re-parented version) against the service on MinIO and SeaweedFS, plus what root
on the storage server can do to the metadata: a copy "replacing" it makes a new version with a
new id, while the version the row names keeps the identity it was written with.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from minio.commonconfig import COMPLIANCE, REPLACE, CopySource
from minio.retention import Retention

from archive_service import create_app
from archive_service.access import LOCAL_OPERATOR
from archive_service.pipeline import Archive, RequestContext
from archive_service.reconcile import Severity
from archive_service.storage.s3 import IDENTITY_METADATA_PREFIX, create_bucket_with_object_lock
from tests.conftest import Tokens
from tests.identity_support import (
    SEVENTH,
    archive_documents,
    assert_refused,
    assert_verification_refused,
    audit,
    get,
    move_to_institution,
    reparent,
    swap_pdfs,
)
from tests.storage.servers import S3TestServer

CTX = RequestContext(actor=LOCAL_OPERATOR, client_address="test")


@pytest.fixture
def service(
    s3_server: S3TestServer, data_dir: Path, tokens_factory
) -> tuple[FlaskClient, Tokens, Archive, S3TestServer]:  # type: ignore[no-untyped-def]
    server = s3_server.with_bucket(f"identity-{uuid.uuid4().hex[:12]}")
    create_bucket_with_object_lock(server.location(as_root=True), default_retention_days=1)
    app: Flask = create_app(
        {"data_dir": data_dir, "render_in_process": True, "storage_url": server.url()}
    )
    archive: Archive = app.extensions["archive"]
    return app.test_client(), tokens_factory(archive), archive, server


def _stale(archive: Archive) -> list[tuple[str, int, str]]:
    report = archive.reconcile()
    assert report.severity is Severity.SERIOUS
    return sorted((r.document_id, r.version, r.part) for r in report.stale_rows)


def test_identity_is_user_metadata_of_the_locked_version(service) -> None:  # type: ignore
    client, tokens, archive, server = service
    documents = archive_documents(client, tokens)
    root = server.root_client()
    for version in archive.get_document(documents.seventh, CTX)["versions"]:
        found = root.stat_object(server.bucket, version["object_key"])
        metadata = {k.lower(): v for k, v in (found.metadata or {}).items()}
        assert metadata[f"{IDENTITY_METADATA_PREFIX}document"] == documents.seventh
        assert metadata[f"{IDENTITY_METADATA_PREFIX}institution"] == "26453182"
        assert metadata[f"{IDENTITY_METADATA_PREFIX}version"] == str(version["version"])
        assert metadata[f"{IDENTITY_METADATA_PREFIX}kind"] == "pdf"
        assert metadata["x-amz-object-lock-mode"] == COMPLIANCE
    assert archive.reconcile().severity is Severity.CLEAN


def test_root_cannot_rewrite_an_identity_in_place(service) -> None:  # type: ignore[no-untyped-def]
    """A metadata "change" is a copy: a new version. The row names the old one, which is kept."""
    client, tokens, archive, server = service
    documents = archive_documents(client, tokens)
    [version] = archive.get_document(documents.second, CTX)["versions"]
    key = version["object_key"]
    root = server.root_client()
    recorded = root.stat_object(server.bucket, key).version_id
    until = root.get_object_retention(server.bucket, key, version_id=recorded).retain_until_date
    forged = root.copy_object(
        server.bucket,
        key,
        CopySource(server.bucket, key, version_id=recorded),
        metadata={f"{IDENTITY_METADATA_PREFIX}document": documents.seventh},
        metadata_directive=REPLACE,
        retention=Retention(COMPLIANCE, until),
    )
    assert forged.version_id != recorded
    stored = archive.store.stat(key, recorded)
    assert dict(stored.identity)["document"] == documents.second
    base = f"/api/v1/documents/{documents.second}"
    assert get(client, tokens.inspector, f"{base}/pdf").status_code == 200


def test_swapped_pdfs_are_refused(service) -> None:  # type: ignore[no-untyped-def]
    client, tokens, archive, _server = service
    documents = archive_documents(client, tokens)
    swap_pdfs(archive, documents.seventh, 1, 2)
    base = f"/api/v1/documents/{documents.seventh}"
    for number in (1, 2):
        assert_refused(get(client, tokens.inspector, f"{base}/pdf?version={number}"))
        assert_verification_refused(
            client, tokens.inspector, f"{base}/verification?version={number}"
        )
    assert get(client, tokens.inspector, f"{base}/source?version=1").data == SEVENTH
    assert [e["outcome"] for e in audit(client, tokens, documents.seventh, "retrieve_pdf")] == [
        "integrity_failure"
    ] * 2
    assert _stale(archive) == [(documents.seventh, 1, "pdf"), (documents.seventh, 2, "pdf")]


def test_a_moved_document_is_refused_to_the_other_institution(service) -> None:  # type: ignore
    client, tokens, archive, _server = service
    documents = archive_documents(client, tokens)
    move_to_institution(archive, documents.seventh, "99999999")
    base = f"/api/v1/documents/{documents.seventh}"
    for what in ("pdf", "source"):
        assert_refused(get(client, tokens.inspector_other, f"{base}/{what}"))
    assert_verification_refused(client, tokens.inspector_other, f"{base}/verification")
    assert _stale(archive) == [
        (documents.seventh, n, part) for n in (1, 2) for part in ("pdf", "source")
    ]


def test_a_reparented_version_is_refused(service) -> None:  # type: ignore[no-untyped-def]
    client, tokens, archive, _server = service
    documents = archive_documents(client, tokens)
    number = reparent(archive, documents.seventh, 2, documents.second)
    base = f"/api/v1/documents/{documents.second}"
    assert_refused(get(client, tokens.inspector, f"{base}/pdf?version={number}"))
    assert_refused(get(client, tokens.inspector, f"{base}/source?version={number}"))
    assert get(client, tokens.inspector, f"{base}/pdf?version=1").status_code == 200
    assert _stale(archive) == [
        (documents.second, number, "pdf"),
        (documents.second, number, "source"),
    ]

