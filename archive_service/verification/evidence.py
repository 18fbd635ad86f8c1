"""The raw objects behind each signature that the ETSI report names: certificate, value, range.

:class:`~archive_service.signing.SignatureReport` carries verdicts and names, not bytes; the
ETSI report must identify each signature by the digest of its value and reference the signer's
certificate and the signed bytes. Until the signing room reports those, they are read here,
read-only, from the same PDF.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from io import BytesIO
from typing import TypeVar

from pyhanko.pdf_utils.generic import DictionaryObject
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader

_UNREADABLE = (PdfError, ValueError, KeyError, TypeError, IndexError, AttributeError)

T = TypeVar("T")


@dataclass(frozen=True)
class SignatureEvidence:
    field_name: str
    #: DER of the signer's certificate as embedded in the CMS, if it could be read.
    signer_certificate: bytes | None
    #: The CMS ``SignerInfo.signature`` octets (the signature value).
    signature_value: bytes | None
    #: ``/ByteRange``: offset, length pairs of the signed bytes.
    byte_range: tuple[int, ...]
    #: SHA-256 of the bytes the ``/ByteRange`` covers (the signed revision minus /Contents).
    signed_bytes_sha256: bytes | None


def signature_evidence(pdf: bytes) -> dict[str, SignatureEvidence]:
    """Evidence per signature field name; empty for an unreadable or unsigned PDF."""
    try:
        embedded = PdfFileReader(BytesIO(pdf)).embedded_regular_signatures
    except _UNREADABLE:
        return {}
    found: dict[str, SignatureEvidence] = {}
    for signature in embedded:
        try:
            found[signature.field_name] = SignatureEvidence(
                field_name=signature.field_name,
                signer_certificate=_maybe(lambda s=signature: s.signer_cert.dump()),
                signature_value=_maybe(
                    lambda s=signature: bytes(s.signer_info["signature"].native)
                ),
                byte_range=(byte_range := _byte_range(signature.sig_object)),
                signed_bytes_sha256=_signed_bytes_digest(pdf, byte_range),
            )
        except _UNREADABLE:
            continue
    return found


def _maybe(read: Callable[[], T]) -> T | None:
    """A part that cannot be read is left out of the report, not a reason to fail it."""
    try:
        return read()
    except _UNREADABLE:
        return None


def _byte_range(sig_object: DictionaryObject) -> tuple[int, ...]:
    return tuple(int(value) for value in sig_object.get("/ByteRange", ()))


def _signed_bytes_digest(pdf: bytes, byte_range: tuple[int, ...]) -> bytes | None:
    if not byte_range or len(byte_range) % 2:
        return None
    digest = hashlib.sha256()
    for offset, length in zip(byte_range[::2], byte_range[1::2], strict=True):
        if offset < 0 or length < 0 or offset + length > len(pdf):
            return None
        digest.update(pdf[offset : offset + length])
    return digest.digest()
