"""The audit log's anchors on each real S3 server, attacked with the server's root credentials.

A DELETE without a version id is allowed even under a COMPLIANCE lock: it hides a version behind
a delete marker. Verification and reconcile read the version listing, so every hidden anchor is
named, still counted, and reported; an anchor root writes itself has no valid TSA token.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import json
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from minio import Minio
from minio.commonconfig import COMPLIANCE
from minio.retention import Retention

from archive_service import create_app
from archive_service.audit.anchors import CHECKPOINT_PREFIX, checkpoint_key, encode_checkpoint
from archive_service.cli import main
from archive_service.pipeline import Archive
from archive_service.reconcile import Severity
from archive_service.storage.s3 import (
    CONTENT_TYPE_METADATA,
    SHA256_METADATA,
    create_bucket_with_object_lock,
)
from tests.audit_support import chain_head, fill, kinds, rewrite_and_rehash
from tests.conftest import Tokens, upload
from tests.storage.servers import S3TestServer


@pytest.fixture
def service(s3_server: S3TestServer, data_dir: Path) -> tuple[Archive, S3TestServer, dict]:
    """The service on a bucket of its own, and the environment its CLI runs with."""
    server = s3_server.with_bucket(f"audit-{uuid.uuid4().hex[:12]}")
    create_bucket_with_object_lock(server.location(as_root=True), default_retention_days=1)
    settings = {"data_dir": data_dir, "render_in_process": True, "storage_url": server.url()}
    app: Flask = create_app(settings)
    env = {"ARCHIVE_DATA_DIR": str(data_dir), "ARCHIVE_STORAGE_URL": server.url()}
    return app.extensions["archive"], server, env


def _hide(root: Minio, server: S3TestServer, prefix: str) -> list[str]:
    """Root's DELETE without a version id on every key under ``prefix``."""
    keys = sorted(o.object_name for o in root.list_objects(server.bucket, prefix, recursive=True))
    for key in keys:
        root.remove_object(server.bucket, key)
    return keys


def test_hidden_anchors_are_named_still_counted_and_reported(service) -> None:  # type: ignore[no-untyped-def]
    archive, server, env = service
    assert archive.checkpoints is not None
    fill(archive, 5)
    archive.checkpoints.tick()
    fill(archive, 2)
    archive.checkpoints.tick()
    assert archive.verify_audit_chain().intact
    assert archive.reconcile().severity is Severity.CLEAN

    hidden = _hide(server.root_client(), server, CHECKPOINT_PREFIX)
    rewrite_and_rehash(archive, 3)

    assert len(hidden) == 2
    assert list(archive.store.iter_objects(CHECKPOINT_PREFIX)) == []  # the plain view is fooled
    report = archive.verify_audit_chain()
    assert kinds(report) == [(5, "rewritten_before_checkpoint"), (5, "hidden_anchor"),
                              (7, "hidden_anchor")]
    assert report.checkpoints == 2  # the hidden anchors are read by version id all the same
    for key in hidden:
        assert any(key in p.message for p in report.problems if p.kind == "hidden_anchor")

    verified = CliRunner().invoke(main, ["audit", "verify"], env=env)
    assert verified.exit_code == 1, verified.output
    assert "checkpoints: 2" in verified.output
    for key in hidden:
        assert f"hidden_anchor — {key} is hidden behind a delete marker" in verified.output

    reconciled = CliRunner().invoke(main, ["reconcile", "--json"], env=env)
    assert reconciled.exit_code == int(Severity.SERIOUS), reconciled.output
    found = json.loads(reconciled.stdout)["hidden_objects"]
    assert sorted(h["key"] for h in found) == hidden
    assert {h["what"] for h in found} == {"audit anchor"}
    assert all(len(h["hidden_versions"]) == 1 for h in found)


def test_hidden_anchors_alone_fail_verification(service) -> None:  # type: ignore[no-untyped-def]
    """Hiding without rewriting changes nothing the chain shows, but is itself reported."""
    archive, server, _env = service
    assert archive.checkpoints is not None
    fill(archive, 3)
    archive.checkpoints.tick()
    (key,) = _hide(server.root_client(), server, CHECKPOINT_PREFIX)

    report = archive.verify_audit_chain()
    assert kinds(report) == [(3, "hidden_anchor")] and key in report.problems[0].message


@pytest.mark.parametrize("forgery", ["no token", "token over another hash"])
def test_an_anchor_written_by_root_is_forged(service, forgery: str) -> None:  # type: ignore[no-untyped-def]
    """Root adds a version over the genuine anchor's key, copying the service's metadata and
    lock: it is listed beside the genuine one and rejected; the genuine one still counts."""
    archive, server, env = service
    assert archive.checkpoints is not None
    fill(archive, 2)
    genuine = archive.checkpoints.tick()
    assert genuine is not None
    key = checkpoint_key(genuine.seq, genuine.hash)
    stored = archive.store.stat(key)
    raw = json.loads(archive.store.get(key, sha256=stored.sha256))
    other = hashlib.sha256(b"another head").digest()
    token = (
        None
        if forgery == "no token"
        else _token_over(archive, other)
    )
    forged = encode_checkpoint(_checkpoint(raw), token)
    root = server.root_client()
    root.put_object(
        server.bucket,
        key,
        io.BytesIO(forged),
        len(forged),
        content_type="application/json",
        metadata={
            SHA256_METADATA: hashlib.sha256(forged).hexdigest(),
            CONTENT_TYPE_METADATA: "application/json",
            "x-amz-sdk-checksum-algorithm": "SHA256",
            "x-amz-checksum-sha256": base64.b64encode(hashlib.sha256(forged).digest()).decode(),
        },
        retention=Retention(COMPLIANCE, stored.retain_until),
    )

    report = archive.verify_audit_chain()
    assert kinds(report) == [(2, "forged_anchor")]
    assert key in report.problems[0].message and report.checkpoints == 1
    verified = CliRunner().invoke(main, ["audit", "verify"], env=env)
    assert verified.exit_code == 1 and f"event 2: forged_anchor — {key}" in verified.output


def _token_over(archive: Archive, digest: bytes) -> bytes:
    from archive_service.signing.digest_timestamps import timestamp_digest

    assert archive.checkpoints is not None and archive.checkpoints.timestamper is not None
    return timestamp_digest(archive.checkpoints.timestamper, digest)


def _checkpoint(raw: dict):  # type: ignore[no-untyped-def]
    from archive_service.audit.chain import Checkpoint

    return Checkpoint(
        raw["seq"], raw["hash"], raw["events"], dt.datetime.fromisoformat(raw["written_at"])
    )


def test_hidden_journal_objects_are_reported_by_reconcile(
    service, tokens_factory
) -> None:  # type: ignore[no-untyped-def]
    archive, server, env = service
    app_client = create_app({"ARCHIVE": archive}).test_client()
    response = upload(app_client, tokens_factory(archive).archivist)
    assert response.status_code == 201, response.get_json()
    assert archive.reconcile().severity is Severity.CLEAN

    hidden = _hide(server.root_client(), server, "journals/")

    assert len(hidden) == 2  # the signed PDF and the export
    report = archive.reconcile()
    assert report.severity is Severity.SERIOUS
    assert sorted(h.key for h in report.hidden) == hidden
    assert {h.what for h in report.hidden} == {"journal object"}
    text = CliRunner().invoke(main, ["reconcile"], env=env)
    assert text.exit_code == 2 and "SERIOUS: 2 delete marker(s)" in text.output
    # The recorded versions are still served: the service reads them by version id.
    document = response.get_json()["document_id"]
    tokens = tokens_factory(archive)
    pdf = app_client.get(
        f"/api/v1/documents/{document}/pdf", headers=Tokens.header(tokens.inspector)
    )
    assert pdf.status_code == 200
    assert chain_head(archive).seq >= 2
