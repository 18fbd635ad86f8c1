"""The signing room: PAdES signatures on PDF bytes, their validation, and the local test PKI.

It knows nothing of journals. The pipeline gets a :class:`DocumentSigner` (chosen by
configuration) and calls :func:`validate_pdf` to verify stored documents.
"""

from archive_service.signing.errors import SigningError, UnreadablePdf
from archive_service.signing.local_pki import TEST_PKCS12_PASSPHRASE, LegacyPkiLayout, TestPki
from archive_service.signing.local_tsa import LocalTimeStamper
from archive_service.signing.long_term import add_archive_timestamp
from archive_service.signing.pades import LEVELS, DocumentSigner, PadesSigner, SignedDocument
from archive_service.signing.validation import (
    SignatureReport,
    TimestampReport,
    ValidationReport,
    validate_pdf,
)

__all__ = [
    "LEVELS",
    "TEST_PKCS12_PASSPHRASE",
    "DocumentSigner",
    "LegacyPkiLayout",
    "LocalTimeStamper",
    "PadesSigner",
    "SignatureReport",
    "SignedDocument",
    "SigningError",
    "TestPki",
    "TimestampReport",
    "UnreadablePdf",
    "ValidationReport",
    "add_archive_timestamp",
    "validate_pdf",
]
