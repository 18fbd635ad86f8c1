from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from asn1crypto import tsp
from pyhanko.sign.timestamps import TimeStamper

from archive_service.errors import InvalidInput, ServiceUnavailable
from archive_service.signing import (
    PadesSigner,
    SignedDocument,
    SigningError,
    UnreadablePdf,
    validate_pdf,
)
from archive_service.signing.key_signer import ParsedKeySigner
from archive_service.signing.test_pki import TEST_PKCS12_PASSPHRASE, TestPki


class UnreachableTsa(TimeStamper):
    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        raise OSError("connection refused by 127.0.0.1:9")


def _seal_signer(pki: TestPki) -> ParsedKeySigner:
    from cryptography.hazmat.primitives.serialization import load_der_private_key

    key = load_der_private_key(pki.seal_key.dump(), password=None)
    return ParsedKeySigner(pki.seal_cert, key, chain=[pki.issuing_ca_cert])


def test_b_t_signature_is_confirmed_with_timestamp(
    signed_bt: SignedDocument, pki: TestPki, unsigned_pdf: bytes
) -> None:
    assert signed_bt.level == "B-T"
    assert signed_bt.pdf.startswith(unsigned_pdf)  # an incremental update, nothing rewritten
    assert signed_bt.signed_at.tzinfo is not None
    assert signed_bt.signed_at.utcoffset() == dt.timedelta(0)
    assert signed_bt.signer_kind == "test-pki"
    assert signed_bt.qualified is False
    assert "NOT QUALIFIED" in signed_bt.signer_subject
    assert signed_bt.signer_serial == format(pki.seal_cert.serial_number, "x")
    assert "issuing CA" in signed_bt.signer_issuer

    report = validate_pdf(signed_bt.pdf, [pki.root_cert])
    assert report.all_acceptable
    (signature,) = report.signatures
    assert signature.level == "B-T"
    assert signature.timestamp_time == signed_bt.signed_at
    assert signature.timestamp_authority is not None and "TSA" in signature.timestamp_authority


def test_b_b_signature_has_no_timestamp(pki: TestPki, unsigned_pdf: bytes) -> None:
    signer = pki.signer(level="B-B")
    assert signer.level == "B-B"
    signed = signer.sign(unsigned_pdf, reason="Архівування")
    assert signed.level == "B-B"
    report = validate_pdf(signed.pdf, [pki.root_cert])
    assert report.all_acceptable
    assert report.signatures[0].level == "B-B"
    assert report.signatures[0].timestamp_time is None
    assert report.signatures[0].signing_time == signed.signed_at


def test_from_pkcs12_signs_b_t(pki: TestPki, unsigned_pdf: bytes) -> None:
    signer = PadesSigner.from_pkcs12(
        pki.pkcs12_path,
        TEST_PKCS12_PASSPHRASE,
        timestamper=pki.timestamper(),
        trust_roots=[pki.root_pem()],  # PEM bytes are accepted as well
    )
    signed = signer.sign(unsigned_pdf, reason="Архівування", location="Київ")
    assert (signed.level, signed.signer_kind, signed.qualified) == ("B-T", "pkcs12", False)
    assert validate_pdf(signed.pdf, [pki.root_cert]).all_acceptable


@pytest.mark.parametrize("passphrase", [b"wrong", None])
def test_from_pkcs12_with_bad_passphrase_is_a_signing_error(
    pki: TestPki, passphrase: bytes | None
) -> None:
    with pytest.raises(SigningError) as caught:
        PadesSigner.from_pkcs12(
            pki.pkcs12_path, passphrase, timestamper=None, trust_roots=[pki.root_cert], level="B-B"
        )
    assert caught.value.code == "signing_failed"
    assert isinstance(caught.value, ServiceUnavailable)


def test_unavailable_tsa_fails_instead_of_signing_weaker(pki: TestPki, unsigned_pdf: bytes) -> None:
    signer = PadesSigner(
        _seal_signer(pki),
        timestamper=UnreachableTsa(),
        trust_roots=[pki.root_cert],
        signer_kind="test-pki",
        qualified=False,
    )
    with pytest.raises(SigningError, match="connection refused"):
        signer.sign(unsigned_pdf, reason="r")


def test_untrusted_timestamp_is_not_accepted_as_b_t(
    pki: TestPki, foreign_pki: TestPki, unsigned_pdf: bytes
) -> None:
    signer = PadesSigner(
        _seal_signer(pki),
        timestamper=foreign_pki.timestamper(),
        trust_roots=[pki.root_cert],
        signer_kind="test-pki",
        qualified=False,
    )
    with pytest.raises(SigningError, match="B-T signature could not be confirmed"):
        signer.sign(unsigned_pdf, reason="r")


def test_signature_not_trusted_by_configured_roots_is_refused(
    pki: TestPki, foreign_pki: TestPki, unsigned_pdf: bytes
) -> None:
    signer = PadesSigner(
        _seal_signer(pki),
        timestamper=None,
        trust_roots=[foreign_pki.root_cert],
        level="B-B",
        signer_kind="test-pki",
        qualified=False,
    )
    with pytest.raises(SigningError, match="trusted root"):
        signer.sign(unsigned_pdf, reason="r")


def test_second_signature_goes_into_a_new_field(
    signed_bt: SignedDocument, pki: TestPki
) -> None:
    twice = pki.signer().sign(signed_bt.pdf, reason="Повторне засвідчення")
    report = validate_pdf(twice.pdf, [pki.root_cert])
    assert [s.field_name for s in report.signatures] == ["ArchiveSeal1", "ArchiveSeal2"]
    assert report.signatures[0].coverage == "entire_revision"
    assert report.signatures[0].modifications_ok
    assert report.all_acceptable


def test_garbage_is_refused_as_input_error(pki: TestPki) -> None:
    with pytest.raises(UnreadablePdf) as caught:
        pki.signer().sign(b"this is no PDF", reason="r")
    assert isinstance(caught.value, InvalidInput)


def test_sign_works_inside_a_running_event_loop(pki: TestPki, unsigned_pdf: bytes) -> None:
    async def sign_from_coroutine() -> SignedDocument:
        return pki.signer(level="B-B").sign(unsigned_pdf, reason="r")

    assert asyncio.run(sign_from_coroutine()).level == "B-B"


def test_async_sign_gives_the_same_guarantees(pki: TestPki, unsigned_pdf: bytes) -> None:
    signed = asyncio.run(pki.signer().async_sign(unsigned_pdf, reason="r"))
    assert signed.level == "B-T"


@pytest.mark.parametrize(
    ("level", "with_timestamper", "message"),
    [("B-XL", True, "unsupported"), ("B-T", False, "needs a timestamper"),
     ("B-LTA", False, "needs a timestamper")],
)
def test_impossible_configurations_are_rejected_early(
    pki: TestPki, level: str, with_timestamper: bool, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        PadesSigner(
            _seal_signer(pki),
            timestamper=pki.timestamper() if with_timestamper else None,
            trust_roots=[pki.root_cert],
            level=level,
            signer_kind="test-pki",
            qualified=False,
        )


def test_expired_certificate_is_named_as_the_reason(unsigned_pdf: bytes) -> None:
    from asn1crypto import x509 as asn1_x509
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "expired TEST seal")])
    expired = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
        .not_valid_after(dt.datetime(2021, 1, 1, tzinfo=dt.UTC))
        .sign(key, hashes.SHA256())
    )
    signer = PadesSigner(
        ParsedKeySigner(asn1_x509.Certificate.load(expired.public_bytes(Encoding.DER)), key, []),
        timestamper=None,
        trust_roots=[expired],
        level="B-B",
        signer_kind="pkcs12",
        qualified=False,
    )
    with pytest.raises(SigningError, match=r"valid only from 2020-01-01.* renew it"):
        signer.sign(unsigned_pdf, reason="r")
