"""Conversions between the certificate forms callers hold and the ones pyHanko needs.

pyHanko and its certificate validator speak :mod:`asn1crypto`; the test PKI is made with
:mod:`cryptography`; configuration hands over PEM files. Accepting all three at the room's edge
keeps callers from learning pyHanko's types.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeAlias

from asn1crypto import pem, x509
from cryptography import x509 as pyca_x509
from cryptography.hazmat.primitives.serialization import Encoding

#: Anything accepted where a certificate is expected: asn1crypto or cryptography objects,
#: or DER / PEM bytes of a single certificate.
CertificateLike: TypeAlias = x509.Certificate | pyca_x509.Certificate | bytes


def to_asn1_certificate(cert: CertificateLike) -> x509.Certificate:
    """Return ``cert`` as the asn1crypto certificate pyHanko expects."""
    if isinstance(cert, x509.Certificate):
        return cert
    if isinstance(cert, pyca_x509.Certificate):
        return x509.Certificate.load(cert.public_bytes(Encoding.DER))
    if isinstance(cert, bytes | bytearray):
        data = bytes(cert)
        if pem.detect(data):
            _, _, data = pem.unarmor(data)
        return x509.Certificate.load(data)
    raise TypeError(f"not a certificate: {type(cert).__name__}")


def to_asn1_certificates(certs: Iterable[CertificateLike]) -> list[x509.Certificate]:
    return [to_asn1_certificate(cert) for cert in certs]


def load_certificates(data: bytes) -> list[x509.Certificate]:
    """Every certificate in a file's bytes: a PEM bundle (other PEM blocks skipped) or one DER.

    The certificates are parsed at once, so a damaged file fails where it is read (start-up),
    not at the first signature.

    :raises ValueError: the bytes are not certificates in PEM or DER.
    """
    if pem.detect(data):
        ders = [der for kind, _, der in pem.unarmor(data, multiple=True) if kind == "CERTIFICATE"]
    else:
        ders = [data]
    certificates = [x509.Certificate.load(der) for der in ders]
    for certificate in certificates:
        certificate.native  # noqa: B018 - asn1crypto parses lazily; force it now
    return certificates


def subject_text(cert: x509.Certificate) -> str:
    """The subject as RFC 4514 text, the form people and other tools recognise."""
    return _as_pyca(cert).subject.rfc4514_string()


def issuer_text(cert: x509.Certificate) -> str:
    return _as_pyca(cert).issuer.rfc4514_string()


def serial_hex(cert: x509.Certificate) -> str:
    return format(cert.serial_number, "x")


def _as_pyca(cert: x509.Certificate) -> pyca_x509.Certificate:
    return pyca_x509.load_der_x509_certificate(cert.dump())
