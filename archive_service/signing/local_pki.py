"""The embedded default's local test PKI: a root, an issuing CA, a seal and a TSA certificate.

It lets every feature (B-T signatures, validation, trust) work on a laptop without a qualified
provider. Every subject says ``TEST … NOT QUALIFIED`` so that nobody mistakes its signatures for
a КЕП. The PKI is generated once per directory and then only loaded: documents signed yesterday
must still chain to today's root (certomancer re-signs at every load, which is why it is not used).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import keys, x509
from cryptography import x509 as pyca_x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from archive_service.signing.key_signer import ParsedKeySigner
from archive_service.signing.local_tsa import LocalTimeStamper
from archive_service.signing.pades import PadesSigner

#: Passphrase of ``seal.p12``. It protects nothing (the PEM key lies next to it); it exists so
#: that the PKCS#12 path used by real deployments is exercised with an encrypted container.
TEST_PKCS12_PASSPHRASE = b"journal-archive-test"

ROOT_FILE = "root.pem"
ISSUING_CA_FILE = "issuing-ca.pem"
SEAL_FILE = "seal.pem"
SEAL_KEY_FILE = "seal.key.pem"
SEAL_PKCS12_FILE = "seal.p12"
TSA_FILE = "tsa.pem"
TSA_KEY_FILE = "tsa.key.pem"
_LOCK_FILE = ".pki.lock"

_ROOT_YEARS = 25
_ISSUING_CA_YEARS = 15
_SEAL_YEARS = 3
_TSA_YEARS = 10
#: Back-date certificates a little so that a clock a few minutes behind still accepts them.
_BACKDATE = dt.timedelta(hours=1)


@dataclass(frozen=True)
class _Issued:
    cert: pyca_x509.Certificate
    key: ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class TestPki:
    """A loaded test PKI.

    Certificates are :class:`asn1crypto.x509.Certificate` and keys
    :class:`asn1crypto.keys.PrivateKeyInfo`: the forms pyHanko and its validator take directly,
    so ``trust_roots=[pki.root_cert]`` works anywhere in this room.
    """

    __test__ = False  # a PKI, not a pytest test class

    root_cert: x509.Certificate
    issuing_ca_cert: x509.Certificate
    seal_cert: x509.Certificate
    seal_key: keys.PrivateKeyInfo
    tsa_cert: x509.Certificate
    tsa_key: keys.PrivateKeyInfo
    #: Where the PKI lives; ``seal.p12`` is read from here by :meth:`pkcs12_path`.
    directory: Path

    @classmethod
    def load_or_create(cls, directory: Path, *, organisation: str = "journal-archive") -> TestPki:
        """Load the PKI kept in ``directory``, generating it first if it is not there yet.

        Creation happens under an exclusive lock file, so concurrent processes (several API
        workers starting at once) end up with one PKI. ``root.pem`` is written last and marks a
        complete PKI; files left by an interrupted first run are simply regenerated, which is safe
        because nothing can have been signed without the root.
        """
        directory = Path(directory)
        if not (directory / ROOT_FILE).exists():
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            with _exclusive_lock(directory / _LOCK_FILE):
                if not (directory / ROOT_FILE).exists():
                    _generate(directory, organisation)
        return cls._load(directory)

    @classmethod
    def _load(cls, directory: Path) -> TestPki:
        return cls(
            root_cert=_read_cert(directory / ROOT_FILE),
            issuing_ca_cert=_read_cert(directory / ISSUING_CA_FILE),
            seal_cert=_read_cert(directory / SEAL_FILE),
            seal_key=_read_key(directory / SEAL_KEY_FILE),
            tsa_cert=_read_cert(directory / TSA_FILE),
            tsa_key=_read_key(directory / TSA_KEY_FILE),
            directory=directory,
        )

    @property
    def pkcs12_path(self) -> Path:
        """The seal as PKCS#12, encrypted with :data:`TEST_PKCS12_PASSPHRASE`."""
        return self.directory / SEAL_PKCS12_FILE

    def root_pem(self) -> bytes:
        """The root certificate to hand to anyone who wants to validate our test signatures."""
        return (self.directory / ROOT_FILE).read_bytes()

    def timestamper(self) -> LocalTimeStamper:
        """An in-process TSA signing with the test TSA key (no network, test use only)."""
        return LocalTimeStamper(self.tsa_cert, self.tsa_key, chain=[self.issuing_ca_cert])

    def signer(self, level: str = "B-T") -> PadesSigner:
        """A signer sealing with the test seal; B-T timestamps come from :meth:`timestamper`."""
        cms_signer = ParsedKeySigner(
            self.seal_cert,
            serialization.load_der_private_key(self.seal_key.dump(), password=None),
            chain=[self.issuing_ca_cert],
        )
        return PadesSigner(
            cms_signer,
            timestamper=self.timestamper() if level == "B-T" else None,
            trust_roots=[self.root_cert],
            level=level,
            signer_kind="test-pki",
            qualified=False,
        )


# ---------------------------------------------------------------------------- generation


def _generate(directory: Path, organisation: str) -> None:
    now = dt.datetime.now(dt.UTC) - _BACKDATE
    root = _issue_ca("journal-archive TEST root CA — NOT QUALIFIED", organisation, now,
                     _ROOT_YEARS, issuer=None, path_length=1)
    issuing = _issue_ca("journal-archive TEST issuing CA — NOT QUALIFIED", organisation, now,
                        _ISSUING_CA_YEARS, issuer=root, path_length=0)
    seal = _issue_leaf(
        "journal-archive TEST seal — NOT QUALIFIED", organisation, now, _SEAL_YEARS, issuing,
        key_usage=_key_usage(digital_signature=True, content_commitment=True),
        extended_key_usage=None,
    )
    tsa = _issue_leaf(
        "journal-archive TEST TSA — NOT QUALIFIED", organisation, now, _TSA_YEARS, issuing,
        key_usage=_key_usage(digital_signature=True),
        extended_key_usage=[ExtendedKeyUsageOID.TIME_STAMPING],
    )
    p12 = pkcs12.serialize_key_and_certificates(
        name=b"journal-archive test seal",
        key=seal.key,
        cert=seal.cert,
        cas=[issuing.cert],
        encryption_algorithm=serialization.BestAvailableEncryption(TEST_PKCS12_PASSPHRASE),
    )
    _write_atomically(directory / ISSUING_CA_FILE, _cert_pem(issuing.cert), 0o644)
    _write_atomically(directory / SEAL_FILE, _cert_pem(seal.cert), 0o644)
    _write_atomically(directory / SEAL_KEY_FILE, _key_pem(seal.key), 0o600)
    _write_atomically(directory / SEAL_PKCS12_FILE, p12, 0o600)
    _write_atomically(directory / TSA_FILE, _cert_pem(tsa.cert), 0o644)
    _write_atomically(directory / TSA_KEY_FILE, _key_pem(tsa.key), 0o600)
    # Last: its presence means the whole PKI is there.
    _write_atomically(directory / ROOT_FILE, _cert_pem(root.cert), 0o644)


def _name(common_name: str, organisation: str) -> pyca_x509.Name:
    return pyca_x509.Name(
        [
            pyca_x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            pyca_x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
        ]
    )


def _key_usage(
    *, digital_signature: bool = False, content_commitment: bool = False, cert_sign: bool = False
) -> pyca_x509.KeyUsage:
    return pyca_x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=content_commitment,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _builder(
    subject: pyca_x509.Name,
    key: ec.EllipticCurvePrivateKey,
    issuer: _Issued | None,
    not_before: dt.datetime,
    years: int,
) -> pyca_x509.CertificateBuilder:
    public_key = key.public_key()
    issuer_public_key = issuer.key.public_key() if issuer else public_key
    return (
        pyca_x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(public_key)
        .serial_number(pyca_x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(_add_years(not_before, years))
        .add_extension(pyca_x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            pyca_x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_public_key),
            critical=False,
        )
    )


def _add_years(moment: dt.datetime, years: int) -> dt.datetime:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February into a common year
        return moment.replace(year=moment.year + years, day=28)


def _issue_ca(
    common_name: str,
    organisation: str,
    not_before: dt.datetime,
    years: int,
    *,
    issuer: _Issued | None,
    path_length: int,
) -> _Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        _builder(_name(common_name, organisation), key, issuer, not_before, years)
        .add_extension(pyca_x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
    )
    signing_key = issuer.key if issuer else key
    return _Issued(builder.sign(signing_key, hashes.SHA256()), key)


def _issue_leaf(
    common_name: str,
    organisation: str,
    not_before: dt.datetime,
    years: int,
    issuer: _Issued,
    *,
    key_usage: pyca_x509.KeyUsage,
    extended_key_usage: list[pyca_x509.ObjectIdentifier] | None,
) -> _Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        _builder(_name(common_name, organisation), key, issuer, not_before, years)
        .add_extension(pyca_x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(key_usage, critical=True)
    )
    if extended_key_usage:
        # RFC 3161 §2.3: a TSA certificate carries exactly timeStamping, marked critical.
        builder = builder.add_extension(
            pyca_x509.ExtendedKeyUsage(extended_key_usage), critical=True
        )
    return _Issued(builder.sign(issuer.key, hashes.SHA256()), key)


# ---------------------------------------------------------------------------- files


def _cert_pem(cert: pyca_x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _read_cert(path: Path) -> x509.Certificate:
    cert = pyca_x509.load_pem_x509_certificate(path.read_bytes())
    return x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def _read_key(path: Path) -> keys.PrivateKeyInfo:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return keys.PrivateKeyInfo.load(der)


def _write_atomically(path: Path, data: bytes, mode: int) -> None:
    """Write via a temporary file and rename, so readers never see half a file.

    The temporary file is created with its final mode: a key is never world-readable, not even
    for an instant.
    """
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)  # umask may have narrowed it
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    os.replace(temporary, path)


@contextmanager
def _exclusive_lock(path: Path) -> Iterator[None]:
    with open(path, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
