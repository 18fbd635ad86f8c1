"""Invariant 8 on the embedded default: each object knows what it is, and reads check it.

An insider with the database file swaps two versions' PDFs, gives a document to another
institution, or moves a version under another document — keeping every row's hash consistent
with the object it now names. Downloads, verification and renewals refuse (integrity_failure,
audited, no bytes) and reconcile reports the rows as stale (exit 2). The same attacks on real
S3 servers: tests/storage/test_identity_on_s3.py.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient
from pyhanko.pdf_utils.reader import PdfFileReader

from archive_service.access import LOCAL_OPERATOR
from archive_service.object_identity import pdf_identity, source_identity
from archive_service.pipeline import Archive, RequestContext
from archive_service.reconcile import Severity
from tests.conftest import Tokens, upload
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
    swap_pdfs_across,
)

CTX = RequestContext(actor=LOCAL_OPERATOR, client_address="test")


def _stale(archive: Archive) -> list[tuple[str, int, str]]:
    report = archive.reconcile()
    return [(r.document_id, r.version, r.part) for r in report.stale_rows]


def _reconcile_exit(run_cli) -> tuple[int, dict]:  # type: ignore[no-untyped-def]
    result = run_cli("reconcile", "--json")
    return result.exit_code, json.loads(result.stdout)


def test_every_object_is_stored_with_its_identity(
    client: FlaskClient, tokens: Tokens, archive: Archive
) -> None:
    documents = archive_documents(client, tokens)
    rows = archive.get_document(documents.seventh, CTX)["versions"]
    for number, row in enumerate(rows, start=1):
        prefix = row["object_key"].rsplit("/", 1)[0]
        [pdf] = [o for o in archive.store.iter_objects(prefix + "/") if o.key.endswith(".pdf")]
        [source] = [o for o in archive.store.iter_objects(prefix + "/") if "/source-" in o.key]
        export = row["source"]["sha256"]
        assert dict(pdf.identity) == pdf_identity(documents.seventh, "26453182", number, export)
        assert dict(source.identity) == source_identity(
            documents.seventh, "26453182", number, export
        )
        assert dict(pdf.identity)["kind"] == "pdf" and dict(source.identity)["kind"] == "source"


def test_the_signed_pdf_names_its_document_inside_the_signed_bytes(
    client: FlaskClient, tokens: Tokens, archived: dict
) -> None:
    document_id = archived["document_id"]
    pdf = get(client, tokens.inspector, f"/api/v1/documents/{document_id}/pdf").data
    reader = PdfFileReader(io.BytesIO(pdf))
    xmp = reader.root["/Metadata"].data.decode("utf-8")
    assert f"документ {document_id}" in xmp and "версія 1" in xmp
    assert f"документ {document_id}" in str(reader.trailer["/Info"]["/Keywords"])
    # The XMP packet lies in the part of the file the seal's byte range covers.
    first_part_end = reader.embedded_signatures[0].byte_range[1]
    assert 0 <= pdf.find(f"документ {document_id}".encode()) < first_part_end


def test_swapped_pdfs_are_refused_and_reconcile_reports_them(
    client: FlaskClient, tokens: Tokens, archive: Archive, run_cli
) -> None:
    documents = archive_documents(client, tokens)
    swap_pdfs(archive, documents.seventh, 1, 2)
    base = f"/api/v1/documents/{documents.seventh}"

    for number in (1, 2):
        assert_refused(get(client, tokens.inspector, f"{base}/pdf?version={number}"))
        assert_verification_refused(
            client, tokens.inspector, f"{base}/verification?version={number}"
        )
    # The exports were not swapped: they are still served.
    assert get(client, tokens.inspector, f"{base}/source?version=1").data == SEVENTH

    refused = audit(client, tokens, documents.seventh, "retrieve_pdf")
    assert [e["outcome"] for e in refused] == ["integrity_failure"] * 2
    assert all(e["detail"]["object_key"].endswith(".pdf") for e in refused)
    verified = audit(client, tokens, documents.seventh, "verify")
    assert [e["outcome"] for e in verified] == ["integrity_failure"] * 2

    assert _stale(archive) == [(documents.seventh, 1, "pdf"), (documents.seventh, 2, "pdf")]
    exit_code, report = _reconcile_exit(run_cli)
    assert exit_code == 2
    assert all("version" in r["problem"] for r in report["stale_rows"])


def test_a_document_moved_to_another_institution_is_not_shown_to_its_inspector(
    client: FlaskClient, tokens: Tokens, archive: Archive, run_cli
) -> None:
    documents = archive_documents(client, tokens)
    move_to_institution(archive, documents.seventh, "99999999")  # inspector_other's scope
    base = f"/api/v1/documents/{documents.seventh}"

    for what in ("pdf", "source"):
        for number in (1, 2):
            response = get(client, tokens.inspector_other, f"{base}/{what}?version={number}")
            assert_refused(response)
            assert b"\xd0\x9b\xd1\x96\xd1\x86\xd0\xb5\xd0\xb9" not in response.data  # «Ліцей»
    assert_verification_refused(client, tokens.inspector_other, f"{base}/verification")
    # The message says what differs, not whose the object is.
    message = get(client, tokens.inspector_other, f"{base}/pdf").get_json()["error"]["message"]
    assert "institution" in message and "26453182" not in message

    assert sorted(_stale(archive)) == [
        (documents.seventh, n, part) for n in (1, 2) for part in ("pdf", "source")
    ]
    assert _reconcile_exit(run_cli)[0] == 2


def test_a_version_moved_under_another_document_is_refused(
    client: FlaskClient, tokens: Tokens, archive: Archive, run_cli
) -> None:
    documents = archive_documents(client, tokens)
    number = reparent(archive, documents.seventh, 2, documents.second)
    base = f"/api/v1/documents/{documents.second}"

    assert_refused(get(client, tokens.inspector, f"{base}/pdf"))  # the newest: the moved one
    assert_refused(get(client, tokens.inspector, f"{base}/source?version={number}"))
    assert_verification_refused(client, tokens.inspector, f"{base}/verification")
    # The other document's own version is untouched.
    assert get(client, tokens.inspector, f"{base}/pdf?version=1").status_code == 200

    assert _stale(archive) == [
        (documents.second, number, "pdf"),
        (documents.second, number, "source"),
    ]
    assert _reconcile_exit(run_cli)[0] == 2


def test_a_renewal_refuses_a_swapped_pdf_instead_of_storing_it_under_this_identity(
    client: FlaskClient, tokens: Tokens, archive: Archive
) -> None:
    documents = archive_documents(client, tokens)
    swap_pdfs(archive, documents.seventh, 1, 2)

    report = archive.renew_timestamps(dt.datetime.now(dt.UTC) + dt.timedelta(days=7 * 366), ctx=CTX)

    by_document = {item.document_id: item for item in report.items}
    assert by_document[documents.seventh].status == "failed"
    assert by_document[documents.seventh].error == "integrity_failure"
    assert by_document[documents.second].status == "renewed"
    assert len(archive.get_document(documents.seventh, CTX)["versions"]) == 2


def test_a_renewal_is_bound_to_its_own_number_and_shares_the_export(
    client: FlaskClient, tokens: Tokens, archive: Archive, archived: dict, run_cli
) -> None:
    document_id = archived["document_id"]
    assert archive.renew_timestamps(
        dt.datetime.now(dt.UTC) + dt.timedelta(days=7 * 366), ctx=CTX
    ).renewed == 1
    base = f"/api/v1/documents/{document_id}"
    renewal = archive.get_document(document_id, CTX)["versions"][1]
    assert renewal["renews"] == 1
    stored = archive.store.stat(renewal["object_key"])
    assert dict(stored.identity)["version"] == "2"
    assert get(client, tokens.inspector, f"{base}/pdf?version=2").status_code == 200
    assert get(client, tokens.inspector, f"{base}/source?version=2").data == SEVENTH
    assert archive.reconcile().stale_rows == ()
    assert _reconcile_exit(run_cli)[0] == 0


@contextlib.contextmanager
def stored_without_identity(archive: Archive, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Objects written inside are stored as before identities existed (no identity metadata).

    ``monkeypatch.context()``: ``undo()`` would also undo the per-test database
    (``isolated_database``).
    """
    real_put = archive.store.put

    def put_without_identity(key: str, data: bytes, **kwargs):  # type: ignore[no-untyped-def]
        kwargs.pop("identity", None)
        return real_put(key, data, **kwargs)

    with monkeypatch.context() as patched:
        patched.setattr(archive.store, "put", put_without_identity)
        yield


def test_objects_stored_before_identities_are_served_and_listed_as_unbound(
    client: FlaskClient, tokens: Tokens, archive: Archive, monkeypatch, run_cli
) -> None:
    with stored_without_identity(archive, monkeypatch):
        answer = upload(client, tokens.archivist)
    assert answer.status_code == 201
    document_id = answer.get_json()["document_id"]

    response = get(client, tokens.inspector, f"/api/v1/documents/{document_id}/pdf")
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    report = archive.reconcile()
    assert report.severity is Severity.CLEAN
    assert sorted(u.part for u in report.unbound) == ["pdf", "source"]
    exit_code, as_json = _reconcile_exit(run_cli)
    assert exit_code == 0 and len(as_json["unbound_legacy"]) == 2, json.dumps(as_json)
    assert "unbound (legacy)" in run_cli("reconcile").output


def test_legacy_pdfs_pointed_at_another_document_fail_verification_by_their_signed_metadata(
    client: FlaskClient, tokens: Tokens, archive: Archive, monkeypatch
) -> None:
    """Objects without identity are served on their hash alone (README: unbound, legacy), but
    the PDF itself names its document inside the signed bytes, and verification checks that."""
    with stored_without_identity(archive, monkeypatch):
        documents = archive_documents(client, tokens)
    swap_pdfs_across(archive, (documents.seventh, 1), (documents.second, 1))

    for document_id in (documents.seventh, documents.second):
        path = f"/api/v1/documents/{document_id}/verification?version=1"
        assert_verification_refused(client, tokens.inspector, path)
        report = get(client, tokens.inspector, path).get_json()
        assert "names another document" in json.dumps(report, ensure_ascii=False)
    # Still listed as unbound, not as stale: nothing in the store contradicts the rows.
    assert {(u.document_id, u.part) for u in archive.reconcile().unbound} >= {
        (documents.seventh, "pdf"),
        (documents.second, "pdf"),
    }
