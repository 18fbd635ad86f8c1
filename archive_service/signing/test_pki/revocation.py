"""The test PKI's own CRL issuer, OCSP responder and TSA endpoint, as plain request handlers.

Real deployments get revocation data from their CA; the embedded default and the tests get it
from here, produced fresh for every request (real DER, signed with the CA keys kept in the PKI
folder) so that revoking a certificate takes effect at once. :class:`PkiResponder` knows nothing
of transport: the in-process fetchers and the loopback HTTP server both call
:meth:`PkiResponder.handle`.

The issuing CA signs its OCSP responses itself (no delegated responder certificate), so the
responder needs no revocation status of its own.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import keys, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from pyhanko.sign.timestamps import TimeStamper

from archive_service.signing._sync import run_sync

#: Paths under the PKI's base URL that :class:`PkiResponder` answers (and that the certificates
#: of :mod:`~.pki` name).
ROOT_CRL_PATH = "/crl/root.crl"
ISSUING_CA_CRL_PATH = "/crl/issuing-ca.crl"
OCSP_PATH = "/ocsp"
TSA_PATH = "/tsa"
TSA2_PATH = "/tsa2"

REVOKED_FILE = "revoked.json"
#: How long a CRL or OCSP answer says it stays current; short, as a real CA's would.
_CRL_VALIDITY = dt.timedelta(days=7)
_OCSP_VALIDITY = dt.timedelta(days=1)
#: Answers are dated slightly in the past so that a clock a little behind accepts them.
_SKEW = dt.timedelta(minutes=1)

_REASONS = {flag.name: flag for flag in x509.ReasonFlags}


@dataclass(frozen=True)
class Revoked:
    serial: int
    revoked_at: dt.datetime
    reason: x509.ReasonFlags


class RevocationRegistry:
    """Revoked serial numbers of one PKI folder, in ``revoked.json`` (read on every answer)."""

    def __init__(self, directory: Path) -> None:
        self._path = Path(directory) / REVOKED_FILE

    def entries(self) -> dict[int, Revoked]:
        try:
            raw = json.loads(self._path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        return {
            int(serial, 16): Revoked(
                int(serial, 16),
                dt.datetime.fromisoformat(entry["revoked_at"]),
                _REASONS[entry["reason"]],
            )
            for serial, entry in raw.items()
        }

    def revoke(self, serial: int, *, reason: str, at: dt.datetime | None) -> None:
        """Record a revocation; the caller holds the PKI's lock."""
        if reason not in _REASONS:
            raise ValueError(f"unknown revocation reason {reason!r}; one of {sorted(_REASONS)}")
        moment = (at or dt.datetime.now(dt.UTC) - _SKEW).astimezone(dt.UTC).replace(microsecond=0)
        try:
            raw = json.loads(self._path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raw = {}
        raw[format(serial, "x")] = {"revoked_at": moment.isoformat(), "reason": reason}
        temporary = self._path.with_name(f".{self._path.name}.{os.getpid()}.tmp")
        temporary.write_text(json.dumps(raw, indent=1), encoding="utf-8")
        os.replace(temporary, self._path)


@dataclass(frozen=True)
class Answer:
    """An HTTP-shaped answer: status code, content type and body."""

    status: int
    content_type: str
    body: bytes


#: A CA's certificate and private key, in the forms the PKI folder is loaded into.
CertificateAndKey = tuple[asn1_x509.Certificate, keys.PrivateKeyInfo]


class PkiResponder:
    """CRLs, OCSP responses and RFC 3161 timestamps for one test PKI.

    :param directory: the PKI folder (its ``revoked.json`` is read on every answer).
    :param base_url: the URLs' base named in the certificates.
    :param root: the root CA, which issues the CRL covering the issuing CA.
    :param issuing_ca: the issuing CA, which issues the leaves' CRL and signs OCSP answers.
    :param timestampers: the TSAs, by path under ``base_url``.
    """

    def __init__(
        self,
        directory: Path,
        base_url: str,
        *,
        root: CertificateAndKey,
        issuing_ca: CertificateAndKey,
        timestampers: dict[str, TimeStamper],
    ) -> None:
        self.base_url = base_url
        self._registry = RevocationRegistry(directory)
        self._root = _pyca_cert(root[0])
        self._issuing = _pyca_cert(issuing_ca[0])
        self._root_key = _pyca_key(root[1])
        self._issuing_key = _pyca_key(issuing_ca[1])
        self._timestampers = dict(timestampers)

    def handle_url(self, method: str, url: str, body: bytes | None) -> Answer:
        """Answer ``url`` if it lies under :attr:`base_url`, else 404."""
        if not url.startswith(self.base_url + "/"):
            return Answer(404, "text/plain", b"not this PKI's URL")
        return self.handle(method, url[len(self.base_url):], body)

    def handle(self, method: str, path: str, body: bytes | None) -> Answer:
        try:
            if method == "GET" and path == ROOT_CRL_PATH:
                return Answer(200, "application/pkix-crl", self.crl(issued_by_root=True))
            if method == "GET" and path == ISSUING_CA_CRL_PATH:
                return Answer(200, "application/pkix-crl", self.crl(issued_by_root=False))
            if method == "POST" and path == OCSP_PATH and body:
                return Answer(200, "application/ocsp-response", self.ocsp_response(body))
            if method == "POST" and path in self._timestampers and body:
                return Answer(200, "application/timestamp-reply", self.timestamp(path, body))
        except ValueError as exc:
            return Answer(400, "text/plain", str(exc).encode())
        return Answer(404, "text/plain", b"no such endpoint")

    def crl(self, *, issued_by_root: bool) -> bytes:
        """A fresh full CRL of the root (covering the issuing CA) or of the issuing CA."""
        issuer, key = (
            (self._root, self._root_key) if issued_by_root else (self._issuing, self._issuing_key)
        )
        now = dt.datetime.now(dt.UTC) - _SKEW
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(issuer.subject)
            .last_update(now)
            .next_update(now + _CRL_VALIDITY)
            .add_extension(x509.CRLNumber(int(now.timestamp())), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()),
                critical=False,
            )
        )
        for revoked in self._registry.entries().values():
            entry = (
                x509.RevokedCertificateBuilder()
                .serial_number(revoked.serial)
                .revocation_date(revoked.revoked_at)
                .add_extension(x509.CRLReason(revoked.reason), critical=False)
                .build()
            )
            builder = builder.add_revoked_certificate(entry)
        return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)

    def ocsp_response(self, request_der: bytes) -> bytes:
        """Answer an OCSP request about a certificate of the issuing CA (nonce echoed)."""
        try:
            request = ocsp.load_der_ocsp_request(request_der)
        except ValueError:
            return ocsp.OCSPResponseBuilder.build_unsuccessful(
                ocsp.OCSPResponseStatus.MALFORMED_REQUEST
            ).public_bytes(serialization.Encoding.DER)
        if not self._issued_by_issuing_ca(request):
            return ocsp.OCSPResponseBuilder.build_unsuccessful(
                ocsp.OCSPResponseStatus.UNAUTHORIZED
            ).public_bytes(serialization.Encoding.DER)
        now = dt.datetime.now(dt.UTC) - _SKEW
        revoked = self._registry.entries().get(request.serial_number)
        builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
            issuer_name_hash=request.issuer_name_hash,
            issuer_key_hash=request.issuer_key_hash,
            serial_number=request.serial_number,
            algorithm=request.hash_algorithm,
            cert_status=(
                ocsp.OCSPCertStatus.REVOKED if revoked else ocsp.OCSPCertStatus.GOOD
            ),
            this_update=now,
            next_update=now + _OCSP_VALIDITY,
            revocation_time=revoked.revoked_at if revoked else None,
            revocation_reason=revoked.reason if revoked else None,
        )
        builder = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, self._issuing)
        for extension in request.extensions:
            if isinstance(extension.value, x509.OCSPNonce):
                builder = builder.add_extension(extension.value, critical=False)
        response = builder.sign(self._issuing_key, hashes.SHA256())
        return response.public_bytes(serialization.Encoding.DER)

    def timestamp(self, path: str, request_der: bytes) -> bytes:
        request = tsp.TimeStampReq.load(request_der)
        response = run_sync(self._timestampers[path].async_request_tsa_response(request))
        return response.dump()

    def _issued_by_issuing_ca(self, request: ocsp.OCSPRequest) -> bool:
        digest = hashes.Hash(request.hash_algorithm)
        digest.update(self._issuing.subject.public_bytes())
        name_hash = digest.finalize()
        key_bits = x509.SubjectKeyIdentifier.from_public_key(self._issuing.public_key())
        # RFC 6960: issuerKeyHash is the hash of the subjectPublicKey BIT STRING value, which
        # is what the SHA-1 subject key identifier method hashes as well.
        if isinstance(request.hash_algorithm, hashes.SHA1):
            key_hash = key_bits.digest
        else:
            key_digest = hashes.Hash(request.hash_algorithm)
            key_digest.update(_public_key_bits(self._issuing))
            key_hash = key_digest.finalize()
        return request.issuer_name_hash == name_hash and request.issuer_key_hash == key_hash


def _public_key_bits(cert: x509.Certificate) -> bytes:
    public_key = cert.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    return public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def _pyca_cert(cert: asn1_x509.Certificate) -> x509.Certificate:
    return x509.load_der_x509_certificate(cert.dump())


def _pyca_key(key: keys.PrivateKeyInfo) -> ec.EllipticCurvePrivateKey:
    loaded = serialization.load_der_private_key(key.dump(), password=None)
    assert isinstance(loaded, ec.EllipticCurvePrivateKey)
    return loaded
