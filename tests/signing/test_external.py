"""External signing without HTTP: prepare, sign elsewhere (raw value or whole CMS), finish."""

from __future__ import annotations

import asyncio
import hashlib

import pytest
from asn1crypto import cms, x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from archive_service.signing import LEVELS, validate_pdf
from archive_service.signing.backends.external import (
    CertificateMismatch,
    ExternalPadesSigner,
    MalformedSignature,
    SignatureInvalid,
    SignedContentMismatch,
)
from archive_service.signing.key_signer import ParsedKeySigner
from archive_service.signing.sealing import CmsSignature, PreparedSignature, RawSignature
from archive_service.signing.test_pki import TestPki


class Party:
    """An outside signer: its own key, a certificate the test PKI issued for it."""

    def __init__(self, pki: TestPki, key: PrivateKeyTypes, name: str) -> None:
        self.key = key
        self.cert = pki.issue_signing_certificate(key.public_key(), name)
        self.chain = [pki.issuing_ca_cert]

    def raw(self, data: bytes) -> bytes:
        if isinstance(self.key, ec.EllipticCurvePrivateKey):
            return self.key.sign(data, ec.ECDSA(hashes.SHA256()))
        assert isinstance(self.key, rsa.RSAPrivateKey)
        return self.key.sign(data, PKCS1v15(), hashes.SHA256())

    def cms(self, document_digest: bytes) -> bytes:
        signer = ParsedKeySigner(self.cert, self.key, self.chain)
        container = asyncio.run(signer.async_sign(document_digest, "sha256", use_pades=True))
        return container.dump()


@pytest.fixture(scope="module")
def party(pki: TestPki) -> Party:
    return Party(pki, ec.generate_private_key(ec.SECP256R1()), "Директор Ліцею")


@pytest.fixture(scope="module")
def other_party(pki: TestPki) -> Party:
    return Party(pki, ec.generate_private_key(ec.SECP256R1()), "Хтось інший")


def _signer(pki: TestPki, party: Party, level: str = "B-LTA") -> ExternalPadesSigner:
    return ExternalPadesSigner(
        party.cert,
        party.chain,
        timestamper=pki.timestamper(),
        trust_roots=[pki.root_cert],
        level=level,
        fetcher_backend=pki.fetcher_backend(),
    )


@pytest.fixture(scope="module")
def prepared(pki: TestPki, party: Party, unsigned_pdf: bytes) -> PreparedSignature:
    return _signer(pki, party).prepare(unsigned_pdf, reason="Архівування", location="Київ")


def test_prepared_state_names_what_to_sign(prepared: PreparedSignature, party: Party) -> None:
    attributes = cms.CMSAttributes.load(prepared.signed_attributes)
    types = {attribute["type"].native for attribute in attributes}
    assert {"content_type", "message_digest", "signing_certificate_v2"} <= types
    assert "signing_time" not in types  # PAdES: the time is the dictionary's /M
    digest = next(a for a in attributes if a["type"].native == "message_digest")
    assert digest["values"][0].native == prepared.document_digest
    start, end = prepared.reserved_start, prepared.reserved_end
    covered = prepared.pdf[:start] + prepared.pdf[end:]
    assert hashlib.sha256(covered).digest() == prepared.document_digest
    assert set(prepared.pdf[start + 1 : end - 1]) == {ord("0")}
    assert prepared.signature_algorithm == "sha256_ecdsa"
    assert prepared.certificate == party.cert.dump()


def test_raw_signature_finishes_at_b_lta(
    pki: TestPki, party: Party, prepared: PreparedSignature, unsigned_pdf: bytes
) -> None:
    signed = _signer(pki, party).finish(
        prepared, RawSignature(party.raw(prepared.signed_attributes))
    )
    assert signed.level == "B-LTA"
    assert signed.signer_kind == "external"
    assert signed.signer_serial == format(party.cert.serial_number, "x")
    assert "Директор Ліцею" in signed.signer_subject
    assert signed.pdf.startswith(unsigned_pdf)
    report = validate_pdf(signed.pdf, [pki.root_cert])
    assert report.all_acceptable
    assert [s.level for s in report.signatures] == ["B-LTA"]


def test_ecdsa_value_as_r_and_s_is_accepted(
    pki: TestPki, party: Party, prepared: PreparedSignature
) -> None:
    r, s = decode_dss_signature(party.raw(prepared.signed_attributes))
    plain = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    signed = _signer(pki, party, "B-LTA").finish(prepared, RawSignature(plain))
    assert signed.level == "B-LTA"


def test_whole_cms_finishes_with_added_timestamp(
    pki: TestPki, party: Party, prepared: PreparedSignature
) -> None:
    signed = _signer(pki, party).finish(prepared, CmsSignature(party.cms(prepared.document_digest)))
    assert signed.level == "B-LTA"
    assert validate_pdf(signed.pdf, [pki.root_cert]).all_acceptable


def test_rsa_party_at_b_t(pki: TestPki, unsigned_pdf: bytes) -> None:
    party = Party(pki, rsa.generate_private_key(65537, 2048), "RSA signer")
    signer = _signer(pki, party, "B-T")
    prepared = signer.prepare(unsigned_pdf, reason="Архівування")
    assert prepared.signature_algorithm == "sha256_rsa"
    signed = signer.finish(prepared, RawSignature(party.raw(prepared.signed_attributes)))
    assert signed.level == "B-T"


@pytest.mark.parametrize(
    ("make_answer", "error", "path"),
    [
        (lambda p, o, prep: RawSignature(b"\x00" * 70), SignatureInvalid, "/signature"),
        (
            lambda p, o, prep: RawSignature(p.raw(prep.signed_attributes + b"x")),
            SignatureInvalid,
            "/signature",
        ),
        (
            lambda p, o, prep: RawSignature(o.raw(prep.signed_attributes)),
            SignatureInvalid,
            "/signature",
        ),
        (
            lambda p, o, prep: RawSignature(p.raw(prep.signed_attributes), o.cert.dump()),
            CertificateMismatch,
            "/certificate",
        ),
        (
            lambda p, o, prep: CmsSignature(p.cms(hashlib.sha256(b"other bytes").digest())),
            SignedContentMismatch,
            "/cms/signer_infos/0/signed_attrs/message_digest",
        ),
        (
            lambda p, o, prep: CmsSignature(o.cms(prep.document_digest)),
            CertificateMismatch,
            "/cms/signer_infos/0/sid",
        ),
        (lambda p, o, prep: CmsSignature(b"not a cms"), MalformedSignature, "/cms"),
    ],
    ids=["garbage", "other-data", "other-key", "other-cert", "cms-other-bytes", "cms-other-cert",
         "not-cms"],
)
def test_bad_answers_are_refused_with_a_path(
    pki: TestPki,
    party: Party,
    other_party: Party,
    prepared: PreparedSignature,
    make_answer,  # type: ignore[no-untyped-def]
    error: type[Exception],
    path: str,
) -> None:
    with pytest.raises(error) as refused:
        _signer(pki, party).finish(prepared, make_answer(party, other_party, prepared))
    assert refused.value.details[0].path == path  # type: ignore[attr-defined]


def test_a_revoked_certificate_is_refused_at_prepare(
    pki: TestPki, unsigned_pdf: bytes
) -> None:
    from archive_service.signing import SigningError

    party = Party(pki, ec.generate_private_key(ec.SECP256R1()), "Revoked")
    pki.revoke(party.cert)
    with pytest.raises(SigningError, match="revoked"):
        _signer(pki, party).prepare(unsigned_pdf, reason="Архівування")


def test_certificate_is_kept_as_asn1(party: Party) -> None:
    assert isinstance(party.cert, x509.Certificate)


@pytest.mark.parametrize("level", LEVELS)
def test_every_level_from_a_raw_answer(
    pki: TestPki, party: Party, unsigned_pdf: bytes, level: str
) -> None:
    """The level matrix for the external signer: each one confirmed by validation."""
    signer = _signer(pki, party, level)
    prepared = signer.prepare(unsigned_pdf, reason="Архівування")
    signed = signer.finish(prepared, RawSignature(party.raw(prepared.signed_attributes)))
    assert signed.level == level
    report = validate_pdf(signed.pdf, [pki.root_cert])
    assert report.all_acceptable and [s.level for s in report.signatures] == [level]
    # B-B and B-T carry no revocation data: sound, but indeterminate (as DSS says)
    assert report.all_valid is (level in ("B-LT", "B-LTA"))
