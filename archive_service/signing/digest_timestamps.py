"""RFC 3161 timestamps over a bare SHA-256 digest, and their verification.

A PAdES signature carries its timestamps inside the PDF; some evidence has no document around it
(the audit log's chain head, for instance) and only needs a TSA to say "this digest existed at
this time". The token is requested with the digest itself as the message imprint, so anyone can
check it with the digest and the TSA's trust roots alone — no database, no key of ours.

What a verified token proves: the TSA, whose certificate chains to one of the given roots and was
valid at the token's time, signed ``genTime`` over exactly this digest. Revocation of the TSA's
certificate is not checked (the token carries no revocation data); a deployment that must rule
it out validates the TSA certificate's status separately.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from asn1crypto import cms, tsp, x509
from pyhanko.sign.timestamps import TimeStamper
from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
from pyhanko.sign.validation.status import TimestampSignatureStatus

from archive_service.signing._sync import run_sync
from archive_service.signing.certificates import subject_text
from archive_service.signing.errors import SigningError
from archive_service.signing.evidence_time import EvidenceSources, utc
from archive_service.signing.validation import _quiet

#: The only imprint algorithm requested and accepted.
DIGEST_ALGORITHM = "sha256"


@dataclass(frozen=True)
class DigestTimestampCheck:
    """What one token says about one digest, and whether it can be believed."""

    #: ``genTime`` as the token states it (UTC), even when the token is not believed.
    time: dt.datetime | None
    #: The TSA's certificate subject, when the token names one.
    authority: str | None
    #: None when the token is valid for the digest; else one sentence saying why not.
    problem: str | None

    @property
    def valid(self) -> bool:
        return self.problem is None


def timestamp_digest(timestamper: TimeStamper, digest: bytes) -> bytes:
    """A DER timestamp token (CMS ``ContentInfo``) whose imprint is ``digest`` (SHA-256).

    :raises SigningError: the TSA did not answer or refused (retrying later may succeed).
    """
    _require_sha256(digest)
    try:
        token: cms.ContentInfo = run_sync(timestamper.async_timestamp(digest, DIGEST_ALGORITHM))
    except Exception as exc:  # IOError, TimestampRequestError, aiohttp/requests errors …
        raise SigningError(f"The time-stamping service did not answer: {exc}") from exc
    return bytes(token.dump())


def check_digest_timestamp(
    token: bytes, digest: bytes, trust_roots: Sequence[x509.Certificate]
) -> DigestTimestampCheck:
    """Whether ``token`` is a TSA's timestamp over exactly ``digest``, chaining to a root.

    Never raises for a bad token: every failure (not DER, not a timestamp, another imprint,
    broken signature, unknown TSA, certificate not valid at the token's time) is a ``problem``.
    """
    _require_sha256(digest)
    try:
        signed_data, info = _parse(token)
    except (ValueError, TypeError, KeyError) as exc:
        return DigestTimestampCheck(None, None, f"not a readable timestamp token ({exc})")
    time = utc(info["gen_time"].native)
    imprint = info["message_imprint"]
    algorithm = imprint["hash_algorithm"]["algorithm"].native
    if algorithm != DIGEST_ALGORITHM or imprint["hashed_message"].native != digest:
        return DigestTimestampCheck(time, None, "the token timestamps another digest")
    sources = EvidenceSources(tuple(trust_roots))
    try:
        # pyHanko logs every failed path with a traceback; the verdict is in the result.
        with _quiet("pyhanko", "pyhanko_certvalidator"):
            status = TimestampSignatureStatus(
                **run_sync(
                    validate_tst_signed_data(
                        signed_data,
                        sources.context(time, revocation=False),
                        lambda _algorithm: digest,
                    )
                )
            )
    except Exception as exc:  # pyHanko's validation errors are many and unrelated
        return DigestTimestampCheck(time, None, f"the token cannot be validated ({exc})")
    authority = subject_text(status.signing_cert) if status.signing_cert is not None else None
    if not (status.intact and status.valid):
        return DigestTimestampCheck(time, authority, "the token's signature does not verify")
    if not status.trusted:
        return DigestTimestampCheck(
            time,
            authority,
            "the TSA's certificate does not chain to a trusted root at the token's time",
        )
    return DigestTimestampCheck(time, authority, None)


def _parse(token: bytes) -> tuple[cms.SignedData, tsp.TSTInfo]:
    info = cms.ContentInfo.load(token)
    if info["content_type"].native != "signed_data":
        raise ValueError("not CMS SignedData")
    signed_data: cms.SignedData = info["content"]
    content = signed_data["encap_content_info"]
    if content["content_type"].native != "tst_info":
        raise ValueError("the SignedData does not hold a TSTInfo")
    tst_info = content["content"].parsed
    if not isinstance(tst_info, tsp.TSTInfo):
        raise ValueError("the SignedData does not hold a TSTInfo")
    tst_info.native  # noqa: B018 - asn1crypto parses lazily; fail here, not later
    return signed_data, tst_info


def _require_sha256(digest: bytes) -> None:
    if not isinstance(digest, bytes) or len(digest) != 32:
        raise ValueError("a SHA-256 digest is 32 bytes")
