"""The signing room: PAdES signatures on PDF bytes, their validation, and the local test PKI.

It knows nothing of journals. The pipeline gets a :class:`DocumentSigner` (chosen by
configuration) and calls :func:`validate_pdf` to verify stored documents.
"""

from archive_service.signing.errors import SigningError, UnreadablePdf
from archive_service.signing.local_pki import TEST_PKCS12_PASSPHRASE, TestPki
from archive_service.signing.local_tsa import LocalTimeStamper
from archive_service.signing.pades import DocumentSigner, PadesSigner, SignedDocument
from archive_service.signing.validation import SignatureReport, ValidationReport, validate_pdf

__all__ = [
    "TEST_PKCS12_PASSPHRASE",
    "DocumentSigner",
    "LocalTimeStamper",
    "PadesSigner",
    "SignatureReport",
    "SignedDocument",
    "SigningError",
    "TestPki",
    "UnreadablePdf",
    "ValidationReport",
    "validate_pdf",
]
