"""Sealing with a key the archive holds: the document comes back signed and confirmed.

The key may be in a file (:mod:`.pkcs12`), on a token (:mod:`.pkcs11`) or the test PKI's seal
(:mod:`.test_pki`); all of them end in a :class:`~archive_service.signing.pades.PadesSigner`,
which :class:`KeySealer` presents as a :class:`~archive_service.signing.sealing.Sealer`.
"""

from __future__ import annotations

from dataclasses import dataclass

from archive_service.errors import ServiceUnavailable
from archive_service.signing.pades import PadesSigner, SignedDocument
from archive_service.signing.sealing import PreparedSignature, Signatory, SignatureAnswer


@dataclass(frozen=True)
class KeySealer:
    """Seals at :attr:`level` with the key behind ``signer``; prepares nothing."""

    signer: PadesSigner

    @property
    def level(self) -> str:
        return self.signer.level

    @property
    def signatory(self) -> Signatory:
        return Signatory(self.signer.signer_kind, self.signer.certificate, self.signer.qualified)

    def seal(self, pdf: bytes, *, reason: str, location: str | None = None) -> SignedDocument:
        return self.signer.sign(pdf, reason=reason, location=location)

    def finish(self, prepared: PreparedSignature, answer: SignatureAnswer) -> SignedDocument:
        """Refused: a document prepared for an outside signer cannot be finished with our key."""
        raise ServiceUnavailable(
            "This institution is no longer configured for an external signer; upload the "
            "export again."
        )
