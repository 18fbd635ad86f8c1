"""External signer end to end: 202 + signing request, an outside answer, a B-LTA version.

The round trip is proved with a separate signer process over HTTP on loopback
(``tests/external_signer_process.py``); refusals and the race are checked in-process.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import io
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask
from flask.testing import FlaskClient
from pypdf import PdfReader
from sqlalchemy import select, update

from archive_service.access import authenticate
from archive_service.db import AuditEvent, DocumentVersion, SigningRequest
from archive_service.errors import ArchiveError
from archive_service.pipeline import Archive, RequestContext
from archive_service.signing import validate_pdf
from archive_service.signing.errors import SigningRequestBusy, SigningRequestFinished
from archive_service.signing.key_signer import ParsedKeySigner
from archive_service.signing.sealing import RawSignature
from archive_service.signing.test_pki import TestPki
from tests.conftest import EXAMPLES, REPO, Tokens, cli_token, example_edrpou, upload
from tests.external_signing_support import (
    SIGNER_PASSPHRASE,
    SignerFiles,
    external_app,
    external_settings,
    make_signer_files,
)

EXPORT = (EXAMPLES / "journal-7b.json").read_bytes()
SIGNER_PROCESS = REPO / "tests" / "external_signer_process.py"


@pytest.fixture
def signer(data_dir: Path) -> SignerFiles:
    return make_signer_files(data_dir.parent / "signer", data_dir / "pki")


@pytest.fixture
def app(data_dir: Path, signer: SignerFiles) -> Flask:  # overrides conftest's app
    return external_app(data_dir, signer)


def _upload(client: FlaskClient, token: str) -> dict:
    response = upload(client, token)
    assert response.status_code == 202, response.get_json()
    return response.get_json()


def _post(client: FlaskClient, token: str, request_id: str, body: dict):  # type: ignore[no-untyped-def]
    return client.post(
        f"/api/v1/signing-requests/{request_id}/signature", json=body, headers=Tokens.header(token)
    )


def _signed_attributes(prepared: dict) -> bytes:
    return base64.b64decode(prepared["data_to_be_signed"]["signed_attributes"])


def _archived_versions(archive: Archive) -> list[DocumentVersion]:
    with archive.reader() as session:
        return list(session.scalars(select(DocumentVersion)))


def _stored_keys(archive: Archive) -> list[str]:
    return [o.key for o in archive.store.iter_objects(f"{example_edrpou()}/")]


def _events(archive: Archive, action: str) -> list[AuditEvent]:
    with archive.reader() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


# ------------------------------------------------------------------ prepare


def test_upload_is_prepared_and_nothing_is_archived(
    client: FlaskClient, archive: Archive, tokens: Tokens, signer: SignerFiles
) -> None:
    prepared = _upload(client, tokens.archivist)
    assert prepared["status"] == "pending"
    assert prepared["created"] is True
    assert prepared["certificate"]["serial"] == format(signer.cert.serial_number, "x")
    assert prepared["signature_level"] == "B-LTA"
    to_be_signed = prepared["data_to_be_signed"]
    assert to_be_signed["signature_algorithm"] == "sha256_ecdsa"
    assert base64.b64decode(to_be_signed["digest"]) == hashlib.sha256(
        _signed_attributes(prepared)
    ).digest()
    assert len(base64.b64decode(prepared["document_digest"]["value"])) == 32
    assert prepared["links"]["signature"].endswith(f"{prepared['request_id']}/signature")
    expires = dt.datetime.fromisoformat(prepared["expires_at"])
    created = dt.datetime.fromisoformat(prepared["created_at"])
    assert expires - created == dt.timedelta(days=7)

    assert _archived_versions(archive) == []
    assert _stored_keys(archive) == []  # waits in the database, not in the write-once store
    (event,) = _events(archive, "signing.prepare")
    assert event.outcome == "prepared"
    assert json.loads(event.detail)["request_id"] == prepared["request_id"]

    again = _upload(client, tokens.job)  # the same export while it waits: the same request
    assert again["request_id"] == prepared["request_id"]
    assert again["created"] is False


def test_other_institutions_are_still_sealed_by_the_archive(archive: Archive) -> None:
    other = archive.sealing.sealer_for("00000000")
    assert other.signatory.kind == "test-pki"
    assert archive.sealing.sealer_for(example_edrpou()).signatory.kind == "external"


# -------------------------------------------------------------------- finish


def test_raw_signature_archives_the_version(
    client: FlaskClient, archive: Archive, tokens: Tokens, signer: SignerFiles
) -> None:
    prepared = _upload(client, tokens.archivist)
    answer = {"signature": signer.sign(_signed_attributes(prepared))}
    finished = _post(client, tokens.job, prepared["request_id"], answer)
    assert finished.status_code == 201, finished.get_json()
    body = finished.get_json()
    assert body["signature_level"] == "B-LTA"
    assert body["signing_request"] == prepared["request_id"]
    (version,) = body["document"]["versions"]
    assert version["signer"]["kind"] == "external"
    assert version["signer"]["serial"] == format(signer.cert.serial_number, "x")
    assert version["signer"]["subject"] == prepared["certificate"]["subject"]
    assert body["document_id"] == prepared["document_id"]
    with archive.reader() as session:
        request = session.get_one(SigningRequest, prepared["request_id"])
        assert (request.state, request.prepared_pdf, request.source) == ("finished", b"", b"")
    (event,) = _events(archive, "signing.finish")
    assert (event.outcome, event.document_id, event.version_number) == (
        "accepted",
        body["document_id"],
        1,
    )


@pytest.mark.parametrize(
    ("make_body", "status", "code", "path"),
    [
        (lambda s, p, other: {"signature": s.sign(b"other data")}, 422, "signature_invalid",
         "/signature"),
        (lambda s, p, other: {"signature": "!!not base64!!"}, 400, "malformed_input",
         "/signature"),
        (lambda s, p, other: {}, 400, "malformed_input", "/signature"),
        (lambda s, p, other: {"cms": _cms(s, hashlib.sha256(b"x").digest())}, 422,
         "signed_content_mismatch", "/cms/signer_infos/0/signed_attrs/message_digest"),
        (lambda s, p, other: {"cms": _cms(other, _document_digest(p))}, 422,
         "certificate_mismatch", "/cms/signer_infos/0/sid"),
        (lambda s, p, other: {"signature": s.sign(_signed_attributes(p)),
                              "certificate": base64.b64encode(other.cert.dump()).decode()},
         422, "certificate_mismatch", "/certificate"),
    ],
    ids=["bad-signature", "not-base64", "no-answer", "cms-other-bytes", "cms-other-cert",
         "other-cert"],
)
def test_bad_answers_are_refused_audited_and_leave_nothing(
    client: FlaskClient,
    archive: Archive,
    tokens: Tokens,
    signer: SignerFiles,
    data_dir: Path,
    make_body,  # type: ignore[no-untyped-def]
    status: int,
    code: str,
    path: str,
) -> None:
    other = make_signer_files(data_dir.parent / "other", data_dir / "pki", "Хтось інший")
    prepared = _upload(client, tokens.archivist)
    refused = _post(client, tokens.archivist, prepared["request_id"], make_body(signer, prepared,
                                                                                other))
    assert refused.status_code == status
    error = refused.get_json()["error"]
    assert error["code"] == code
    assert error["details"][0]["path"] == path
    assert _archived_versions(archive) == []
    assert _stored_keys(archive) == []
    if status == 422:  # parsed, so it reached the pipeline and its audit log
        (event,) = _events(archive, "signing.finish")
        assert event.outcome == "refused"
        assert json.loads(event.detail)["error"] == code
    # A refused answer changes nothing: the right one still finishes the request.
    good = {"signature": signer.sign(_signed_attributes(prepared))}
    assert _post(client, tokens.archivist, prepared["request_id"], good).status_code == 201


def test_expired_request_is_refused(
    client: FlaskClient, archive: Archive, tokens: Tokens, signer: SignerFiles
) -> None:
    prepared = _upload(client, tokens.archivist)
    with archive.sessions.begin() as session:
        session.execute(
            update(SigningRequest).values(
                expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
            )
        )
    shown = client.get(
        f"/api/v1/signing-requests/{prepared['request_id']}",
        headers=Tokens.header(tokens.archivist),
    )
    assert shown.get_json()["status"] == "expired"
    answer = {"signature": signer.sign(_signed_attributes(prepared))}
    refused = _post(client, tokens.archivist, prepared["request_id"], answer)
    assert refused.status_code == 410
    assert refused.get_json()["error"]["code"] == "signing_request_expired"
    assert _archived_versions(archive) == [] and _stored_keys(archive) == []
    assert [e.outcome for e in _events(archive, "signing.finish")] == ["refused"]
    # The export can be uploaded again: a new request, not the expired one.
    assert _upload(client, tokens.archivist)["request_id"] != prepared["request_id"]


def test_second_answer_to_a_finished_request_is_refused(
    client: FlaskClient, archive: Archive, tokens: Tokens, signer: SignerFiles
) -> None:
    prepared = _upload(client, tokens.archivist)
    answer = {"signature": signer.sign(_signed_attributes(prepared))}
    assert _post(client, tokens.archivist, prepared["request_id"], answer).status_code == 201
    again = _post(client, tokens.admin, prepared["request_id"], answer)
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] == "signing_request_finished"
    assert len(_archived_versions(archive)) == 1
    assert [e.outcome for e in _events(archive, "signing.finish")] == ["accepted", "refused"]


def test_two_simultaneous_answers_archive_one_version(
    client: FlaskClient, archive: Archive, tokens: Tokens, signer: SignerFiles
) -> None:
    prepared = _upload(client, tokens.archivist)
    answer = RawSignature(base64.b64decode(signer.sign(_signed_attributes(prepared))))
    with archive.reader() as session:
        actor = authenticate(session, tokens.archivist)
    start = threading.Barrier(2)
    outcomes: list[object] = []

    def finish() -> None:
        start.wait()
        try:
            ctx = RequestContext(actor)
            outcomes.append(archive.finish_signing_request(prepared["request_id"], answer, ctx))
        except ArchiveError as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=finish) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    losers = [o for o in outcomes if isinstance(o, ArchiveError)]
    assert len(outcomes) == 2 and len(losers) == 1
    assert isinstance(losers[0], SigningRequestBusy | SigningRequestFinished)
    assert len(_archived_versions(archive)) == 1


def test_an_answer_in_progress_blocks_a_second_one(
    client: FlaskClient, archive: Archive, tokens: Tokens, signer: SignerFiles
) -> None:
    prepared = _upload(client, tokens.archivist)
    with archive.reader() as session:
        request = session.get_one(SigningRequest, prepared["request_id"])
    archive._claim(request)
    answer = {"signature": signer.sign(_signed_attributes(prepared))}
    busy = _post(client, tokens.archivist, prepared["request_id"], answer)
    assert busy.status_code == 409
    assert busy.get_json()["error"]["code"] == "signing_request_busy"


def test_pending_requests_are_listed_in_scope(
    client: FlaskClient, tokens: Tokens
) -> None:
    prepared = _upload(client, tokens.archivist)
    mine = client.get("/api/v1/signing-requests", headers=Tokens.header(tokens.job)).get_json()
    assert [r["request_id"] for r in mine["items"]] == [prepared["request_id"]]
    others = client.get(
        "/api/v1/signing-requests", headers=Tokens.header(tokens.archivist_other)
    ).get_json()
    assert others["items"] == []


# ------------------------------------------------------- a separate signer process


def _cms(signer: SignerFiles, document_digest: bytes) -> str:
    key_signer = ParsedKeySigner(signer.cert, signer.key, [])
    container = asyncio.run(key_signer.async_sign(document_digest, "sha256", use_pades=True))
    return base64.b64encode(container.dump()).decode()


def _document_digest(prepared: dict) -> bytes:
    return base64.b64decode(prepared["document_digest"]["value"])


@pytest.fixture
def external_server(
    signer: SignerFiles, monkeypatch: pytest.MonkeyPatch, data_dir: Path
) -> None:
    """Configure the environment ``live_server`` starts from (request it after this one)."""
    certificate = external_settings(signer)["external_signer_certificate"]
    monkeypatch.setenv("ARCHIVE_SIGNER_BY_INSTITUTION", f"{example_edrpou()}=external")
    monkeypatch.setenv("ARCHIVE_EXTERNAL_SIGNER_CERTIFICATE", str(certificate))


@pytest.mark.live
@pytest.mark.parametrize("mode", ["raw", "cms"])
def test_a_separate_signer_process_finishes_the_document(
    external_server: None,
    live_server: tuple[str, dict[str, str]],
    signer: SignerFiles,
    data_dir: Path,
    mode: str,
) -> None:
    base, env = live_server
    archivist = cli_token(env, "--role", "archivist", "--institution", example_edrpou())
    job = cli_token(env, "--role", "job", "--institution", example_edrpou(), "--name", "signer")
    admin = cli_token(env, "--role", "admin")
    uploaded = requests.post(
        f"{base}/api/v1/journals",
        data=EXPORT,
        timeout=120,
        headers={"Authorization": f"Bearer {archivist}", "Content-Type": "application/json"},
    )
    assert uploaded.status_code == 202, uploaded.text
    request_id = uploaded.json()["request_id"]
    assert uploaded.headers["Location"].endswith(f"/api/v1/signing-requests/{request_id}")

    # The raw signer is told which request; the CMS signer finds it in the list.
    chosen = ["--request", request_id] if mode == "raw" else []
    process = subprocess.run(
        [sys.executable, str(SIGNER_PROCESS), base, str(signer.p12), SIGNER_PASSPHRASE,
         "--mode", mode, *chosen],
        env={**env, "ARCHIVE_SIGNER_TOKEN": job},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert process.returncode == 0, process.stdout + process.stderr
    answer = json.loads(process.stdout)
    assert answer["status"] == 201
    document_id = answer["body"]["document_id"]

    admin_headers = {"Authorization": f"Bearer {admin}"}
    document = requests.get(f"{base}/api/v1/documents/{document_id}", headers=admin_headers,
                            timeout=60).json()
    (version,) = document["versions"]
    assert version["signature_level"] == "B-LTA"
    assert version["signer"]["kind"] == "external"
    assert version["signer"]["serial"] == format(signer.cert.serial_number, "x")
    assert "Директор ліцею" in version["signer"]["subject"]
    assert "TEST issuing CA" in version["signer"]["issuer"]

    pdf = requests.get(f"{base}/api/v1/documents/{document_id}/pdf", headers=admin_headers,
                       timeout=60).content
    pki = TestPki.load_or_create(data_dir / "pki")
    report = validate_pdf(pdf, [pki.root_cert])
    assert report.all_valid
    assert [s.level for s in report.signatures] == ["B-LTA"]
    title_page = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert format(signer.cert.serial_number, "x") in title_page.replace("\n", "")

    audit = requests.get(f"{base}/api/v1/audit", headers=admin_headers, timeout=60).json()
    events = {(e["action"], e["outcome"]) for e in audit["items"]}
    assert {("signing.prepare", "prepared"), ("signing.finish", "accepted")} <= events


def test_the_signer_key_is_its_own(signer: SignerFiles) -> None:
    """The process signs with a key the archive never saw: only the certificate is configured."""
    assert b"PRIVATE" not in signer.pem.read_bytes()
    assert isinstance(signer.key, ec.EllipticCurvePrivateKey)


# ------------------------------------------------------------------ configuration


def test_only_external_may_be_chosen_per_institution() -> None:
    from archive_service.config import ConfigurationError, load_settings

    with pytest.raises(ConfigurationError, match="ARCHIVE_SIGNER_BY_INSTITUTION"):
        load_settings({"ARCHIVE_SIGNER_BY_INSTITUTION": "12345678=pkcs12"})
    settings = load_settings({"ARCHIVE_SIGNER_BY_INSTITUTION": "12345678=external"})
    assert settings.signer_kind_for("12345678") == "external"
    assert settings.signer_kind_for("87654321") == "test-pki"


def test_external_signer_needs_its_certificate(data_dir: Path) -> None:
    from archive_service.config import ConfigurationError, load_settings
    from archive_service.signers import build_sealing

    settings = load_settings(
        {}, {"data_dir": data_dir, "signer_by_institution": {"12345678": "external"}}
    )
    with pytest.raises(ConfigurationError, match="ARCHIVE_EXTERNAL_SIGNER_CERTIFICATE"):
        build_sealing(settings)
    anchors = data_dir / "anchors"
    anchors.mkdir()
    (anchors / "root.pem").write_bytes((data_dir / "pki" / "root.pem").read_bytes())
    missing = load_settings({}, {"data_dir": data_dir, "signer": "external",
                                 "external_signer_certificate": str(data_dir / "none.pem"),
                                 "trust_anchors_dir": str(anchors),
                                 "tsa_url": "http://127.0.0.1:9/tsa"})
    with pytest.raises(ConfigurationError, match="cannot be read"):
        build_sealing(missing)


def test_every_institution_may_sign_externally(data_dir: Path, signer: SignerFiles) -> None:
    from archive_service.config import load_settings
    from archive_service.signers import build_sealing
    from archive_service.signing.backends.external import ExternalPadesSigner

    anchors = data_dir / "anchors"
    anchors.mkdir()
    (anchors / "root.pem").write_bytes((data_dir / "pki" / "root.pem").read_bytes())
    settings = load_settings({}, {"data_dir": data_dir, "signer": "external",
                                  "external_signer_certificate": str(signer.pem),
                                  "trust_anchors_dir": str(anchors),
                                  "tsa_url": "http://127.0.0.1:9/tsa",
                                  "signing_request_days": 3})
    setup = build_sealing(settings)
    chosen = setup.sealer_for("12345678")
    assert isinstance(chosen, ExternalPadesSigner)
    assert chosen.certificate.dump() == signer.cert.dump()
    assert chosen.valid_for == dt.timedelta(days=3)


def test_externally_signed_journal_stays_pdf_a(
    client: FlaskClient, tokens: Tokens, signer: SignerFiles, tmp_path: Path
) -> None:
    """The finished B-LTA journal (signature, DSS, document timestamp) passes veraPDF."""
    from tests.pdfa.verapdf import VeraPdfMissing, find_launcher, validate

    try:
        launcher = find_launcher()
    except VeraPdfMissing as exc:
        pytest.skip(str(exc))
    prepared = _upload(client, tokens.archivist)
    answer = {"cms": _cms(signer, _document_digest(prepared))}
    finished = _post(client, tokens.archivist, prepared["request_id"], answer)
    assert finished.status_code == 201, finished.get_json()
    pdf = client.get(
        f"/api/v1/documents/{finished.get_json()['document_id']}/pdf",
        headers=Tokens.header(tokens.archivist),
    ).data
    path = tmp_path / "external-b-lta.pdf"
    path.write_bytes(pdf)
    (report,) = validate([path], "3u", launcher=launcher).values()
    assert report.failed_rules == (), "\n".join(map(str, report.failed_rules))
    assert report.compliant
