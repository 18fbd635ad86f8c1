from __future__ import annotations

import datetime as dt

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from pyhanko.sign.signers import pdf_cms

from archive_service.signing import PadesSigner, validate_pdf
from archive_service.signing.key_signer import ParsedKeySigner


def _asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


RsaChain = tuple[x509.Certificate, x509.Certificate, rsa.RSAPrivateKey]


@pytest.fixture(scope="module")
def rsa_chain() -> RsaChain:
    now = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    leaf_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "RSA TEST root")])
    root = (
        x509.CertificateBuilder()
        .subject_name(root_name)
        .issuer_name(root_name)
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(root_key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "RSA TEST seal")]))
        .issuer_name(root_name)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(root_key, hashes.SHA256())
    )
    return root, leaf, leaf_key


def test_rsa_key_is_not_reparsed_per_signature(
    rsa_chain: RsaChain, unsigned_pdf: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, leaf, key = rsa_chain
    cms_signer = ParsedKeySigner(_asn1(leaf), key, chain=[])

    def reparse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the private key was parsed again")

    monkeypatch.setattr(pdf_cms.serialization, "load_der_private_key", reparse)
    signer = PadesSigner(
        cms_signer,
        timestamper=None,
        trust_roots=[root],
        level="B-B",
        signer_kind="pkcs12",
        qualified=False,
    )
    first = signer.sign(unsigned_pdf, reason="r")
    second = signer.sign(unsigned_pdf, reason="r")
    for signed in (first, second):
        assert validate_pdf(signed.pdf, [root]).all_valid
    assert first.signer_subject == "CN=RSA TEST seal"
