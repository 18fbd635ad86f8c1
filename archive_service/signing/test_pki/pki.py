"""The embedded default's local test PKI: root → issuing CA → seal, two TSAs, CRLs and OCSP.

It lets every feature (B-T … B-LTA signatures, revocation, validation, trust) work on a laptop
without a qualified provider. Every subject says ``TEST … NOT QUALIFIED`` so that nobody mistakes
its signatures for a КЕП. The PKI is generated once per directory and then only loaded: documents
signed yesterday must still chain to today's root (why certomancer is not used: see the
package docstring).

Revocation URLs. Certificates carry a CRL distribution point and an OCSP responder (AIA) under
``http://127.0.0.1:<port>/``, the port being chosen once, when the PKI is created (a port that
was free then), and stored in ``layout.json``. Nothing has to listen there: the embedded default
answers those URLs in-process (:class:`~.fetchers.LocalPkiFetcherBackend`
serves exactly this base URL from :class:`~.revocation.PkiResponder` and
refuses every other URL), so signing never opens a socket; a test that wants real HTTP starts
:func:`~.http_service.serve_pki` on the same port, and pyHanko's ordinary
fetchers reach the same responder over loopback. The port is fixed because the URLs are signed
into certificates, which must not change for the life of the PKI.

Old layout. A directory made before revocation support (no CA keys, no URLs, no ``layout.json``)
is refused with :class:`LegacyPkiLayout` rather than upgraded in place or beside it: a new root
would silently stop older archived documents from validating against ``root_cert`` (callers
trust a single test root), and adding CA keys to the old root cannot add URLs to certificates
already issued. The error says how to move on.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from asn1crypto import keys, x509
from cryptography import x509 as pyca_x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from archive_service.errors import ArchiveError
from archive_service.signing.key_signer import ParsedKeySigner
from archive_service.signing.pades import PadesSigner
from archive_service.signing.test_pki.fetchers import LocalPkiFetcherBackend
from archive_service.signing.test_pki.revocation import (
    ISSUING_CA_CRL_PATH,
    OCSP_PATH,
    ROOT_CRL_PATH,
    TSA2_PATH,
    TSA_PATH,
    PkiResponder,
    RevocationRegistry,
)
from archive_service.signing.test_pki.tsa import LocalTimeStamper

#: Passphrase of ``seal.p12``. It protects nothing (the PEM key lies next to it); it exists so
#: that the PKCS#12 path used by real deployments is exercised with an encrypted container.
TEST_PKCS12_PASSPHRASE = b"journal-archive-test"

ROOT_FILE = "root.pem"
ROOT_KEY_FILE = "root.key.pem"
ISSUING_CA_FILE = "issuing-ca.pem"
ISSUING_CA_KEY_FILE = "issuing-ca.key.pem"
SEAL_FILE = "seal.pem"
SEAL_KEY_FILE = "seal.key.pem"
SEAL_PKCS12_FILE = "seal.p12"
TSA_FILE = "tsa.pem"
TSA_KEY_FILE = "tsa.key.pem"
TSA2_FILE = "tsa2.pem"
TSA2_KEY_FILE = "tsa2.key.pem"
#: Marks the layout with CA keys and revocation URLs, and records the URLs' base.
LAYOUT_FILE = "layout.json"
LAYOUT_VERSION = 2
_LOCK_FILE = ".pki.lock"

# Lifetimes make future validation meaningful: the seal expires first, then the first TSA
# (renew archive timestamps before that), while the renewal TSA, the issuing CA and the root
# outlive both.
_ROOT_YEARS = 25
_ISSUING_CA_YEARS = 15
_SEAL_YEARS = 3
_TSA_YEARS = 6
_TSA2_YEARS = 14
#: Back-date certificates a little so that a clock a few minutes behind still accepts them.
_BACKDATE = dt.timedelta(hours=1)


class LegacyPkiLayout(ArchiveError):
    """The PKI directory predates revocation support and cannot make B-LT/B-LTA signatures."""

    status = 500
    code = "legacy_test_pki"


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
    root_key: keys.PrivateKeyInfo
    issuing_ca_key: keys.PrivateKeyInfo
    #: The renewal TSA: longer-lived than :attr:`tsa_cert`, for archive timestamps.
    tsa2_cert: x509.Certificate
    tsa2_key: keys.PrivateKeyInfo
    #: ``http://127.0.0.1:<port>``, fixed at creation; CRL/OCSP URLs in certificates start so.
    base_url: str

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
        layout = _read_layout(directory)
        return cls(
            root_cert=_read_cert(directory / ROOT_FILE),
            issuing_ca_cert=_read_cert(directory / ISSUING_CA_FILE),
            seal_cert=_read_cert(directory / SEAL_FILE),
            seal_key=_read_key(directory / SEAL_KEY_FILE),
            tsa_cert=_read_cert(directory / TSA_FILE),
            tsa_key=_read_key(directory / TSA_KEY_FILE),
            directory=directory,
            root_key=_read_key(directory / ROOT_KEY_FILE),
            issuing_ca_key=_read_key(directory / ISSUING_CA_KEY_FILE),
            tsa2_cert=_read_cert(directory / TSA2_FILE),
            tsa2_key=_read_key(directory / TSA2_KEY_FILE),
            base_url=str(layout["base_url"]),
        )

    @property
    def port(self) -> int:
        """The loopback port named in the certificates' URLs (see the module docstring)."""
        return int(self.base_url.rsplit(":", 1)[1])

    @property
    def pkcs12_path(self) -> Path:
        """The seal as PKCS#12, encrypted with :data:`TEST_PKCS12_PASSPHRASE`."""
        return self.directory / SEAL_PKCS12_FILE

    def root_pem(self) -> bytes:
        """The root certificate to hand to anyone who wants to validate our test signatures."""
        return (self.directory / ROOT_FILE).read_bytes()

    def timestamper(self, *, renewal: bool = False) -> LocalTimeStamper:
        """An in-process TSA signing with the test TSA key (no network, test use only).

        :param renewal: use the second, longer-lived TSA (for archive timestamp renewal).
        """
        if renewal:
            return LocalTimeStamper(self.tsa2_cert, self.tsa2_key, chain=[self.issuing_ca_cert])
        return LocalTimeStamper(self.tsa_cert, self.tsa_key, chain=[self.issuing_ca_cert])

    def responder(self) -> PkiResponder:
        """Answers this PKI's CRL, OCSP and TSA URLs (in-process or behind an HTTP server)."""
        return PkiResponder(
            self.directory,
            self.base_url,
            root=(self.root_cert, self.root_key),
            issuing_ca=(self.issuing_ca_cert, self.issuing_ca_key),
            timestampers={TSA_PATH: self.timestamper(), TSA2_PATH: self.timestamper(renewal=True)},
        )

    def fetcher_backend(self) -> LocalPkiFetcherBackend:
        """Revocation fetching for the embedded default: this PKI's URLs, answered in-process."""
        return LocalPkiFetcherBackend(self.responder())

    def revoke(
        self,
        cert: x509.Certificate,
        *,
        reason: str = "key_compromise",
        at: dt.datetime | None = None,
    ) -> None:
        """Publish ``cert`` as revoked in this PKI's CRLs and OCSP answers from now on."""
        with _exclusive_lock(self.directory / _LOCK_FILE):
            RevocationRegistry(self.directory).revoke(cert.serial_number, reason=reason, at=at)

    def issue_signing_certificate(
        self,
        public_key: CertificatePublicKeyTypes,
        common_name: str,
        *,
        years: int = _SEAL_YEARS,
        organisation: str = "journal-archive",
    ) -> x509.Certificate:
        """A signing certificate from the issuing CA for a key someone else holds.

        For tests and demonstrations of the external signer: the outside party keeps its private
        key and sends only the public key; the certificate (nonRepudiation, CRL and OCSP URLs of
        this PKI) then validates like the seal's. Its subject says ``NOT QUALIFIED`` too.
        """
        issuer = _Issued(
            _pyca_certificate(self.issuing_ca_cert),
            serialization.load_der_private_key(self.issuing_ca_key.dump(), password=None),  # type: ignore[arg-type]
        )
        leaf_revocation = _Revocation(
            self.base_url + ISSUING_CA_CRL_PATH, self.base_url + OCSP_PATH
        )
        not_before = dt.datetime.now(dt.UTC) - _BACKDATE
        builder = (
            _builder(
                _name(f"{common_name} (TEST) — NOT QUALIFIED", organisation),
                public_key,
                issuer,
                not_before,
                years,
            )
            .add_extension(pyca_x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                _key_usage(digital_signature=True, content_commitment=True), critical=True
            )
        )
        builder = _with_revocation(builder, leaf_revocation)
        cert = builder.sign(issuer.key, hashes.SHA256())
        return x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))

    def signer(self, level: str = "B-T") -> PadesSigner:
        """A signer sealing with the test seal; timestamps from :meth:`timestamper`.

        B-LT/B-LTA revocation data comes from :meth:`fetcher_backend` (in-process, hard-fail).
        """
        cms_signer = ParsedKeySigner(
            self.seal_cert,
            serialization.load_der_private_key(self.seal_key.dump(), password=None),
            chain=[self.issuing_ca_cert],
        )
        return PadesSigner(
            cms_signer,
            timestamper=self.timestamper() if level != "B-B" else None,
            trust_roots=[self.root_cert],
            level=level,
            signer_kind="test-pki",
            qualified=False,
            fetcher_backend=self.fetcher_backend(),
        )


# ---------------------------------------------------------------------------- generation


def _generate(directory: Path, organisation: str) -> None:
    base_url = f"http://127.0.0.1:{_free_loopback_port()}"
    now = dt.datetime.now(dt.UTC) - _BACKDATE
    root = _issue_ca("journal-archive TEST root CA — NOT QUALIFIED", organisation, now,
                     _ROOT_YEARS, issuer=None, path_length=1, revocation=None)
    # The root's CRL covers the issuing CA; OCSP is only run for end-entity certificates.
    issuing = _issue_ca("journal-archive TEST issuing CA — NOT QUALIFIED", organisation, now,
                        _ISSUING_CA_YEARS, issuer=root, path_length=0,
                        revocation=_Revocation(base_url + ROOT_CRL_PATH, None))
    leaf_revocation = _Revocation(base_url + ISSUING_CA_CRL_PATH, base_url + OCSP_PATH)
    seal = _issue_leaf(
        "journal-archive TEST seal — NOT QUALIFIED", organisation, now, _SEAL_YEARS, issuing,
        key_usage=_key_usage(digital_signature=True, content_commitment=True),
        extended_key_usage=None, revocation=leaf_revocation,
    )
    tsa = _issue_leaf(
        "journal-archive TEST TSA — NOT QUALIFIED", organisation, now, _TSA_YEARS, issuing,
        key_usage=_key_usage(digital_signature=True),
        extended_key_usage=[ExtendedKeyUsageOID.TIME_STAMPING], revocation=leaf_revocation,
    )
    tsa2 = _issue_leaf(
        "journal-archive TEST TSA 2 (renewal) — NOT QUALIFIED", organisation, now, _TSA2_YEARS,
        issuing, key_usage=_key_usage(digital_signature=True),
        extended_key_usage=[ExtendedKeyUsageOID.TIME_STAMPING], revocation=leaf_revocation,
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
    _write_atomically(directory / TSA2_FILE, _cert_pem(tsa2.cert), 0o644)
    _write_atomically(directory / TSA2_KEY_FILE, _key_pem(tsa2.key), 0o600)
    _write_atomically(directory / ISSUING_CA_KEY_FILE, _key_pem(issuing.key), 0o600)
    _write_atomically(directory / ROOT_KEY_FILE, _key_pem(root.key), 0o600)
    layout = {"layout": LAYOUT_VERSION, "base_url": base_url}
    _write_atomically(directory / LAYOUT_FILE, json.dumps(layout).encode(), 0o644)
    # Last: its presence means the whole PKI is there.
    _write_atomically(directory / ROOT_FILE, _cert_pem(root.cert), 0o644)


@dataclass(frozen=True)
class _Revocation:
    """Where a certificate's revocation status is published."""

    crl_url: str
    ocsp_url: str | None


def _free_loopback_port() -> int:
    """A port free on 127.0.0.1 right now; it is written into the certificates for good."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _with_revocation(
    builder: pyca_x509.CertificateBuilder, revocation: _Revocation | None
) -> pyca_x509.CertificateBuilder:
    if revocation is None:
        return builder
    builder = builder.add_extension(
        pyca_x509.CRLDistributionPoints(
            [
                pyca_x509.DistributionPoint(
                    full_name=[pyca_x509.UniformResourceIdentifier(revocation.crl_url)],
                    relative_name=None,
                    reasons=None,
                    crl_issuer=None,
                )
            ]
        ),
        critical=False,
    )
    if revocation.ocsp_url is not None:
        builder = builder.add_extension(
            pyca_x509.AuthorityInformationAccess(
                [
                    pyca_x509.AccessDescription(
                        AuthorityInformationAccessOID.OCSP,
                        pyca_x509.UniformResourceIdentifier(revocation.ocsp_url),
                    )
                ]
            ),
            critical=False,
        )
    return builder


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
    public_key: CertificatePublicKeyTypes,
    issuer: _Issued | None,
    not_before: dt.datetime,
    years: int,
) -> pyca_x509.CertificateBuilder:
    # Only the root signs itself, and its key is ECDSA P-256 like every key generated here.
    issuer_public_key = (
        issuer.key.public_key() if issuer else cast(ec.EllipticCurvePublicKey, public_key)
    )
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
    revocation: _Revocation | None,
) -> _Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        _builder(_name(common_name, organisation), key.public_key(), issuer, not_before, years)
        .add_extension(pyca_x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
    )
    builder = _with_revocation(builder, revocation)
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
    revocation: _Revocation,
) -> _Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        _builder(_name(common_name, organisation), key.public_key(), issuer, not_before, years)
        .add_extension(pyca_x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(key_usage, critical=True)
    )
    builder = _with_revocation(builder, revocation)
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


def _read_layout(directory: Path) -> dict[str, object]:
    try:
        layout = json.loads((directory / LAYOUT_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LegacyPkiLayout(
            f"The test PKI in {directory} was made by an older version: it has no CA keys and "
            "its certificates name no CRL or OCSP URLs, so it cannot make B-LT/B-LTA "
            "signatures. It is not upgraded automatically (a new root would silently stop "
            "documents sealed with it from validating). Keep its root.pem for verifying those "
            "documents, move the folder aside (or set ARCHIVE_PKI_DIR to a new, empty folder) "
            "and a new test PKI is created on the next start."
        ) from None
    if layout.get("layout") != LAYOUT_VERSION:
        raise LegacyPkiLayout(
            f"The test PKI in {directory} has layout {layout.get('layout')!r}; this version "
            f"reads layout {LAYOUT_VERSION}. Use a new, empty folder for the test PKI."
        )
    return dict(layout)


def _pyca_certificate(cert: x509.Certificate) -> pyca_x509.Certificate:
    return pyca_x509.load_der_x509_certificate(cert.dump())


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
