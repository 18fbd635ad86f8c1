"""Sealing with the local test PKI's seal (the embedded default; never qualified).

The PKI itself — CA, OCSP, CRL, TSAs, in-process fetchers, HTTP service — is its own room,
:mod:`archive_service.signing.test_pki`; this backend only seals with it.
"""

from __future__ import annotations

from archive_service.signing.backends.key import KeySealer
from archive_service.signing.test_pki import TestPki


def sealer_with_test_pki(pki: TestPki, level: str) -> KeySealer:
    """A sealer with the test seal, its TSA and its in-process revocation responders."""
    return KeySealer(pki.signer(level))
