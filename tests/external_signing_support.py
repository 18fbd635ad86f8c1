"""An outside signer's key and certificate for tests, and an archive configured for it."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import x509
from cryptography import x509 as pyca_x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from flask import Flask

from archive_service import create_app
from archive_service.signing.test_pki import TestPki
from tests.conftest import example_edrpou

#: Protects the signer's PKCS#12 file (ASCII: it travels on the signer process's command line).
SIGNER_PASSPHRASE = "external-signer-test"


@dataclass(frozen=True)
class SignerFiles:
    """What the outside party holds (``p12``) and what the archive is configured with (``pem``)."""

    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate
    p12: Path
    pem: Path

    def sign(self, data: bytes) -> str:
        """A raw ECDSA signature over ``data``, base64 as the API takes it."""
        return base64.b64encode(self.key.sign(data, ec.ECDSA(hashes.SHA256()))).decode()


def make_signer_files(directory: Path, pki_dir: Path, name: str = "Директор ліцею") -> SignerFiles:
    """A fresh key; the test PKI's issuing CA certifies it; PKCS#12 and PEM chain on disk."""
    pki = TestPki.load_or_create(pki_dir)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = pki.issue_signing_certificate(key.public_key(), name)
    leaf = pyca_x509.load_der_x509_certificate(cert.dump())
    issuing = pyca_x509.load_der_x509_certificate(pki.issuing_ca_cert.dump())
    directory.mkdir(parents=True, exist_ok=True)
    p12 = directory / "signer.p12"
    p12.write_bytes(
        pkcs12.serialize_key_and_certificates(
            name=b"external signer",
            key=key,
            cert=leaf,
            cas=[issuing],
            encryption_algorithm=serialization.BestAvailableEncryption(SIGNER_PASSPHRASE.encode()),
        )
    )
    pem = directory / "external-signer.pem"
    pem.write_bytes(
        leaf.public_bytes(serialization.Encoding.PEM)
        + issuing.public_bytes(serialization.Encoding.PEM)
    )
    return SignerFiles(key, cert, p12, pem)


def external_settings(signer: SignerFiles) -> dict[str, object]:
    """Settings overrides: the example journal's institution signs externally."""
    return {
        "signer_by_institution": {example_edrpou(): "external"},
        "external_signer_certificate": str(signer.pem),
    }


def external_app(data_dir: Path, signer: SignerFiles) -> Flask:
    app = create_app(
        {"data_dir": data_dir, "render_in_process": True, **external_settings(signer)}
    )
    app.testing = True
    return app
