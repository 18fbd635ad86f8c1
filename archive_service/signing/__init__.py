"""The signing room: PAdES seals on PDF bytes, keeping them provable, and their validation.

It knows nothing of journals. The archive gets a :class:`~.sealing.Sealing` (chosen by
configuration in :mod:`archive_service.signers`) and calls :func:`validate_pdf` to verify
stored documents.

* the seam: :mod:`.sealing` (:class:`Sealer`, :class:`Sealing` and the two results,
  :class:`SignedDocument` or :class:`PreparedDocument`);
* the core, as pyHanko splits it: signing (:mod:`.pades`, :mod:`.key_signer`,
  :mod:`.pdf_writer`), timestamps and long-term data (:mod:`.long_term`,
  :mod:`.digest_timestamps`, :mod:`.evidence_time`), validation (:mod:`.validation`);
* :mod:`.backends` — where keys live: a file, a token, the test PKI, an outside party;
* :mod:`.test_pki` — the local test PKI, a room of its own that the core never imports.
"""

from archive_service.signing.errors import SigningError, UnreadablePdf
from archive_service.signing.long_term import add_archive_timestamp
from archive_service.signing.pades import LEVELS, PadesSigner, SignedDocument
from archive_service.signing.sealing import (
    PreparedDocument,
    Sealer,
    Sealing,
    SealResult,
    Signatory,
)
from archive_service.signing.validation import (
    SignatureReport,
    TimestampReport,
    ValidationReport,
    validate_pdf,
)

__all__ = [
    "LEVELS",
    "PadesSigner",
    "PreparedDocument",
    "SealResult",
    "Sealer",
    "Sealing",
    "Signatory",
    "SignatureReport",
    "SignedDocument",
    "SigningError",
    "TimestampReport",
    "UnreadablePdf",
    "ValidationReport",
    "add_archive_timestamp",
    "validate_pdf",
]
