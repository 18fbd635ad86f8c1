"""A SoftHSM2 token for the PKCS#11 tests, and a certificate for the key generated on it.

The token comes from ``scripts/setup-softhsm.sh`` (the same script CI uses), which installs
SoftHSM2 when it is missing. Outside CI a machine that cannot install it skips the token tests
with the reason; under ``CI=true`` that is a failure.

Issuing the certificate is one replaceable piece, :data:`IssueCertificate`: today a throw-away CA
made here with ``cryptography``; once the test PKI can issue for a given public key, a function
around it can take its place without touching the tests.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from asn1crypto.x509 import Certificate as Asn1Certificate
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    CertificatePublicKeyTypes,
)

from archive_service.signing.backends.pkcs11 import Pkcs11KeyConfig
from archive_service.signing.test_pki import TestPki

SETUP_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "setup-softhsm.sh"


@dataclass(frozen=True)
class SoftHsmToken:
    """What ``setup-softhsm.sh`` printed: where the token is and how to reach its key."""

    conf: Path
    module: str
    token_label: str
    key_label: str
    key_id: bytes
    pin_file: Path

    def config(self, **changes: object) -> Pkcs11KeyConfig:
        """The service's configuration for the token key (certificate read from the token)."""
        config = Pkcs11KeyConfig(
            module_path=self.module,
            token_label=self.token_label,
            key_label=self.key_label,
            key_id=self.key_id,
            pin_file=str(self.pin_file),
        )
        return replace(config, **changes)

    def tool(self, *args: str, login: bool = True) -> subprocess.CompletedProcess[bytes]:
        """``pkcs11-tool`` on this token, in its own process (and so its own PKCS#11 login)."""
        command = ["pkcs11-tool", "--module", self.module, "--token-label", self.token_label]
        if login:
            command += ["--login", "--pin", self.pin_file.read_text().strip()]
        return subprocess.run(
            [*command, *args],
            capture_output=True,
            env={**os.environ, "SOFTHSM2_CONF": str(self.conf)},
            check=False,
        )

    def public_key(self, key_id: bytes | None = None) -> CertificatePublicKeyTypes:
        """The public half of the token key (or of the key ``key_id``), as the token exports it."""
        result = self.tool(
            "--read-object", "--type", "pubkey", "--id", (key_id or self.key_id).hex(),
            login=False,
        )
        if result.returncode != 0:
            raise AssertionError(f"cannot read the public key: {result.stderr.decode()}")
        key = serialization.load_der_public_key(result.stdout)
        assert isinstance(key, CertificatePublicKeyTypes)
        return key

    def store_certificate(self, cert: x509.Certificate, directory: Path) -> None:
        """Put ``cert`` on the token beside its key (same ID and label), replacing any earlier."""
        self.tool("--delete-object", "--type", "cert", "--id", self.key_id.hex())
        der = directory / "token-cert.der"
        der.write_bytes(cert.public_bytes(serialization.Encoding.DER))
        result = self.tool(
            "--write-object", str(der), "--type", "cert",
            "--id", self.key_id.hex(), "--label", self.key_label,
        )
        if result.returncode != 0:
            raise AssertionError(f"cannot store the certificate: {result.stderr.decode()}")


def start_token(directory: Path) -> SoftHsmToken:
    """Run the set-up script on ``directory``; skip (outside CI) or fail (CI) if it cannot."""
    try:
        result = subprocess.run(
            ["bash", str(SETUP_SCRIPT), str(directory)],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        _unavailable(f"setup-softhsm.sh did not run: {exc}")
    if result.returncode != 0:
        _unavailable(f"setup-softhsm.sh failed: {result.stderr.strip()[-800:]}")
    values = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    return SoftHsmToken(
        conf=Path(values["SOFTHSM2_CONF"]),
        module=values["PKCS11_MODULE"],
        token_label=values["PKCS11_TOKEN_LABEL"],
        key_label=values["PKCS11_KEY_LABEL"],
        key_id=bytes.fromhex(values["PKCS11_KEY_ID"]),
        pin_file=Path(values["PKCS11_PIN_FILE"]),
    )


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"SoftHSM2 token unavailable under CI: {reason}")
    pytest.skip(f"SoftHSM2 token unavailable: {reason}")


# ---------------------------------------------------------------------------- certificates


@dataclass(frozen=True)
class IssuedCertificate:
    """A signing certificate, the certificates between it and its root, and that root."""

    cert: x509.Certificate
    chain: list[x509.Certificate]
    trust_root: x509.Certificate

    def write_pem(self, directory: Path) -> tuple[Path, Path]:
        """``(certificate file, chain file)`` as the service's configuration names them."""
        cert_file = directory / "signer.pem"
        chain_file = directory / "chain.pem"
        cert_file.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        chain_file.write_bytes(
            b"".join(c.public_bytes(serialization.Encoding.PEM) for c in self.chain)
        )
        return cert_file, chain_file


#: Makes a seal certificate for a public key.
IssueCertificate = Callable[[CertificatePublicKeyTypes], IssuedCertificate]


def issuer_from_test_pki(pki: TestPki) -> IssueCertificate:
    """Seal certificates from the test PKI's issuing CA (with its CRL and OCSP URLs)."""

    def issue(public_key: CertificatePublicKeyTypes) -> IssuedCertificate:
        cert = pki.issue_signing_certificate(public_key, "Archive seal on a SoftHSM2 token")
        return IssuedCertificate(
            cert=_pyca(cert), chain=[_pyca(pki.issuing_ca_cert)], trust_root=_pyca(pki.root_cert)
        )

    return issue


def _pyca(cert: Asn1Certificate) -> x509.Certificate:
    return x509.load_der_x509_certificate(cert.dump())


def software_key() -> CertificateIssuerPrivateKeyTypes:
    """A key that is *not* the token's, for certificates that must be refused."""
    return ec.generate_private_key(ec.SECP256R1())
