"""The local test PKI: root → issuing CA → seal, two TSAs, CRLs and OCSP, all NOT QUALIFIED.

It lets the embedded default (and the tests) make and check B-T … B-LTA signatures on a laptop.
The room stands apart from the signing core: it uses the core (a
:class:`~archive_service.signing.pades.PadesSigner` for its seal) and the core never imports it.

* :mod:`.pki` — :class:`TestPki`: generated once per folder (``./var/pki``), then only loaded;
* :mod:`.revocation` — the CRL issuer, OCSP responder and TSA endpoints as request handlers;
* :mod:`.tsa` — an RFC 3161 TSA inside the process (ECDSA);
* :mod:`.fetchers` — pyHanko fetchers that reach only this PKI's URLs, in-process;
* :mod:`.http_service` — the same responder behind a loopback HTTP server, for tests.

Why not certomancer
-------------------
certomancer (the PKI test tool by pyHanko's author) was tried in its place and not taken: it
re-signs every certificate at every load (same TBS, other DER each time, so processes and runs
disagree about the bytes of the same root and seal), revokes only by rewriting its
configuration and loading again (re-signing once more), generates no keys, and serves other
URLs than the certificates of existing PKIs name. Keeping one copy of each certificate would
mean storing the issued DER and loading it ourselves — what :mod:`.pki` does. The measurements
are in README.md, "Why the test PKI is our own, not certomancer".
"""

from archive_service.signing.test_pki.http_service import serve_pki
from archive_service.signing.test_pki.pki import (
    TEST_PKCS12_PASSPHRASE,
    LegacyPkiLayout,
    TestPki,
)
from archive_service.signing.test_pki.revocation import (
    ISSUING_CA_CRL_PATH,
    OCSP_PATH,
    ROOT_CRL_PATH,
    TSA2_PATH,
    TSA_PATH,
)
from archive_service.signing.test_pki.tsa import TEST_TSA_POLICY, LocalTimeStamper

__all__ = [
    "ISSUING_CA_CRL_PATH",
    "OCSP_PATH",
    "ROOT_CRL_PATH",
    "TEST_PKCS12_PASSPHRASE",
    "TEST_TSA_POLICY",
    "TSA2_PATH",
    "TSA_PATH",
    "LegacyPkiLayout",
    "LocalTimeStamper",
    "TestPki",
    "serve_pki",
]
