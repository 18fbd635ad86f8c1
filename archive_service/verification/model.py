"""One verification of one file, and the ETSI indication each signature gets.

:func:`indication` is the single place where the signing room's verdict fields become an ETSI
TS 119 102-2 main indication and sub-indication; the JSON and XML forms both use it, so they
cannot disagree.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from archive_service.signing import SignatureReport, ValidationReport
from archive_service.signing.validation import TOTAL_FAILED as TOTAL_FAILED_NAME
from archive_service.signing.validation import TOTAL_PASSED as TOTAL_PASSED_NAME
from archive_service.verification.evidence import SignatureEvidence

TOTAL_PASSED = "urn:etsi:019102:mainindication:total-passed"
TOTAL_FAILED = "urn:etsi:019102:mainindication:total-failed"
INDETERMINATE = "urn:etsi:019102:mainindication:indeterminate"
SUBINDICATION = "urn:etsi:019102:subindication:"

Verdict = Literal["valid", "invalid", "indeterminate", "unsigned", "integrity_failure"]


@dataclass(frozen=True)
class ArchivedVersion:
    """The archived version whose PDF has exactly the verified bytes (SHA-256 equal)."""

    document_id: str
    version: int


@dataclass(frozen=True)
class Indication:
    main: str
    #: ETSI sub-indication name (``HASH_FAILURE`` …), ``None`` when the main one says it all.
    sub: str | None = None

    @property
    def main_name(self) -> str:
        return self.main.rsplit(":", 1)[-1]

    @property
    def sub_uri(self) -> str | None:
        return SUBINDICATION + self.sub if self.sub else None


@dataclass(frozen=True)
class Verification:
    """What one check of one file found: its bytes, its signatures, its place in the archive.

    For a stored version ``recorded_sha256`` is the database's hash; when the stored bytes do
    not match it (or are gone) ``integrity_problem`` says so and ``validation`` is ``None``:
    signatures on bytes that are not the archived ones prove nothing about the archive.
    """

    sha256: str
    size: int | None
    validated_at: dt.datetime
    validation: ValidationReport | None
    archived: ArchivedVersion | None
    evidence: Mapping[str, SignatureEvidence] = field(default_factory=dict)
    recorded_sha256: str | None = None
    recorded_signature_level: str | None = None
    integrity_problem: str | None = None

    @property
    def verdict(self) -> Verdict:
        if self.validation is None or self.integrity_problem is not None:
            return "integrity_failure"
        if not self.validation.signatures:
            return "unsigned"
        if self.validation.all_valid:
            return "valid"
        if self.validation.any_failed or not self.covers_whole_file:
            return "invalid"
        return "indeterminate"

    @property
    def valid(self) -> bool:
        return self.verdict == "valid"

    @property
    def covers_whole_file(self) -> bool:
        """Nothing was appended after the last signature except validation data (a B-LT DSS)
        or what a later archive timestamp signs over."""
        signatures = self.validation.signatures if self.validation else ()
        return bool(signatures) and signatures[-1].end_covered

    @property
    def summary(self) -> str:
        if self.validation is None or self.integrity_problem is not None:
            return f"Not verified: {self.integrity_problem}"
        signatures = self.validation.signatures
        if not signatures:
            return "Invalid: the file carries no signature."
        if self.valid:
            return (
                "Valid: every signature is intact, valid and trusted, and the last one covers "
                "the whole file."
            )
        if all(indication(s).main == TOTAL_PASSED for s in signatures):
            return "Invalid: bytes were added after the last signature; they are signed by no one."
        if self.verdict == "indeterminate":
            return (
                "Indeterminate: no signature is proven wrong, but at least one cannot be "
                "confirmed from the data the file carries (see each signature's summary)."
            )
        return "Invalid: at least one signature does not pass (see each signature's summary)."


def indication(signature: SignatureReport) -> Indication:
    """ETSI TS 119 102-2 status of one signature: the signing room's EN 319 102-1 verdict.

    Failures that prove the signature wrong are ``total-failed``; what cannot be decided from
    the data at hand (no revocation data valid at the best signature time, a certificate
    expired with no proof the signature existed before, no chain to a trust root) is
    ``indeterminate``, as ETSI EN 319 102-1 section 5.1.3 lays out.
    """
    main = {
        TOTAL_PASSED_NAME: TOTAL_PASSED,
        TOTAL_FAILED_NAME: TOTAL_FAILED,
    }.get(signature.indication, INDETERMINATE)
    return Indication(main, signature.sub_indication if main != TOTAL_PASSED else None)


#: The status of a file that has no signature at all (the ETSI report still needs one entry).
UNSIGNED = Indication(TOTAL_FAILED, "FORMAT_FAILURE")
