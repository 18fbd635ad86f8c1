"""The test PKI's CRLs and OCSP answers are real, signed, and follow revocations at once."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp

from archive_service.signing.test_pki import ISSUING_CA_CRL_PATH, OCSP_PATH, ROOT_CRL_PATH, TestPki


def _pyca(cert: object) -> x509.Certificate:
    return x509.load_der_x509_certificate(cert.dump())  # type: ignore[attr-defined]


def _ocsp_request(pki: TestPki, cert: object, *, nonce: bytes | None = None) -> bytes:
    builder = ocsp.OCSPRequestBuilder().add_certificate(
        _pyca(cert), _pyca(pki.issuing_ca_cert), hashes.SHA1()
    )
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(serialization.Encoding.DER)


@pytest.fixture
def fresh_pki(tmp_path: Path) -> TestPki:
    return TestPki.load_or_create(tmp_path / "pki")


def test_crls_are_signed_by_their_issuer(pki: TestPki) -> None:
    responder = pki.responder()
    issuers = ((ROOT_CRL_PATH, pki.root_cert), (ISSUING_CA_CRL_PATH, pki.issuing_ca_cert))
    for path, issuer in issuers:
        answer = responder.handle("GET", path, None)
        assert (answer.status, answer.content_type) == (200, "application/pkix-crl")
        crl = x509.load_der_x509_crl(answer.body)
        assert crl.is_signature_valid(_pyca(issuer).public_key())
        assert crl.issuer == _pyca(issuer).subject
        assert crl.next_update_utc is not None and crl.next_update_utc > crl.last_update_utc


def test_ocsp_says_good_and_echoes_the_nonce(pki: TestPki) -> None:
    request = _ocsp_request(pki, pki.seal_cert, nonce=b"n" * 16)
    answer = pki.responder().handle("POST", OCSP_PATH, request)
    response = ocsp.load_der_ocsp_response(answer.body)
    assert response.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    assert response.certificate_status == ocsp.OCSPCertStatus.GOOD
    assert response.serial_number == pki.seal_cert.serial_number
    assert response.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == b"n" * 16
    issuer_key = _pyca(pki.issuing_ca_cert).public_key()
    assert isinstance(issuer_key, ec.EllipticCurvePublicKey)
    issuer_key.verify(response.signature, response.tbs_response_bytes, ec.ECDSA(hashes.SHA256()))


def test_revocation_shows_in_crl_and_ocsp(fresh_pki: TestPki) -> None:
    fresh_pki.revoke(fresh_pki.seal_cert, reason="key_compromise")
    responder = fresh_pki.responder()
    crl = x509.load_der_x509_crl(responder.handle("GET", ISSUING_CA_CRL_PATH, None).body)
    entry = crl.get_revoked_certificate_by_serial_number(fresh_pki.seal_cert.serial_number)
    assert entry is not None
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason == (
        x509.ReasonFlags.key_compromise
    )
    answer = responder.handle("POST", OCSP_PATH, _ocsp_request(fresh_pki, fresh_pki.seal_cert))
    response = ocsp.load_der_ocsp_response(answer.body)
    assert response.certificate_status == ocsp.OCSPCertStatus.REVOKED
    assert response.revocation_reason == x509.ReasonFlags.key_compromise
    # the TSA is untouched
    answer = responder.handle("POST", OCSP_PATH, _ocsp_request(fresh_pki, fresh_pki.tsa_cert))
    assert ocsp.load_der_ocsp_response(answer.body).certificate_status == ocsp.OCSPCertStatus.GOOD


def test_ocsp_for_a_foreign_issuer_is_unauthorized(pki: TestPki, foreign_pki: TestPki) -> None:
    request = _ocsp_request(foreign_pki, foreign_pki.seal_cert)
    response = ocsp.load_der_ocsp_response(pki.responder().handle("POST", OCSP_PATH, request).body)
    assert response.response_status == ocsp.OCSPResponseStatus.UNAUTHORIZED


def test_garbage_and_unknown_paths(pki: TestPki) -> None:
    responder = pki.responder()
    garbage = ocsp.load_der_ocsp_response(responder.handle("POST", OCSP_PATH, b"junk").body)
    assert garbage.response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    assert responder.handle("GET", "/etc/passwd", None).status == 404
    assert responder.handle_url("GET", "http://example.org" + ROOT_CRL_PATH, None).status == 404
    assert responder.handle_url("GET", pki.base_url + ROOT_CRL_PATH, None).status == 200


def test_unknown_reason_is_refused(fresh_pki: TestPki) -> None:
    with pytest.raises(ValueError, match="unknown revocation reason"):
        fresh_pki.revoke(fresh_pki.seal_cert, reason="bored")
