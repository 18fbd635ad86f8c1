"""Keeping any archived signature alive: B-T/B-LT extended to B-LTA, B-LTA renewed, B-B refused.

Lifetimes of the test PKI: seal 3 years, first TSA 6, renewal TSA 14 (see test_long_term).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from archive_service.signing import SignedDocument, validate_pdf
from archive_service.signing.long_term import (
    NotRenewable,
    RenewedDocument,
    extend_or_renew,
    timestamp_expiry,
)
from archive_service.signing.test_pki import TestPki

NOW = dt.datetime.now(dt.UTC)
AFTER_TSA1 = NOW + dt.timedelta(days=12 * 366)


def _keep_alive(pki: TestPki, pdf: bytes) -> RenewedDocument:
    return extend_or_renew(
        pdf,
        pki.timestamper(renewal=True),
        trust_roots=[pki.root_cert],
        fetcher_backend=pki.fetcher_backend(),
    )


def _not_after(cert: object) -> dt.datetime:
    return cert["tbs_certificate"]["validity"]["not_after"].native  # type: ignore[index]


@pytest.mark.parametrize(
    ("level", "kind"), [("B-T", "signature"), ("B-LT", "signature"), ("B-LTA", "document")]
)
def test_expiry_is_the_newest_timestamps_tsa_certificate(
    signed_at_level: dict[str, SignedDocument], pki: TestPki, level: str, kind: str
) -> None:
    expiry = timestamp_expiry(signed_at_level[level].pdf)
    assert expiry.kind == kind
    assert expiry.expires_at == _not_after(pki.tsa_cert)
    assert expiry.authority is not None and "TEST TSA" in expiry.authority
    assert expiry.signer_expires_at == _not_after(pki.seal_cert)
    assert expiry.time is not None and expiry.time <= dt.datetime.now(dt.UTC)


def test_b_b_has_no_timestamp_to_expire(
    signed_at_level: dict[str, SignedDocument], pki: TestPki
) -> None:
    expiry = timestamp_expiry(signed_at_level["B-B"].pdf)
    assert (expiry.expires_at, expiry.kind, expiry.authority) == (None, None, None)
    assert expiry.signer_expires_at == _not_after(pki.seal_cert)


def test_renewal_moves_the_expiry_to_the_renewal_tsa(renewed_lta: bytes, pki: TestPki) -> None:
    expiry = timestamp_expiry(renewed_lta)
    assert expiry.kind == "document"
    assert expiry.expires_at == _not_after(pki.tsa2_cert)


@pytest.mark.parametrize("level", ["B-T", "B-LT", "B-LTA"])
def test_every_timestamped_level_is_kept_alive_past_the_first_tsa(
    signed_at_level: dict[str, SignedDocument], pki: TestPki, level: str
) -> None:
    original = signed_at_level[level].pdf
    renewed = _keep_alive(pki, original)
    assert renewed.level == "B-LTA"
    assert renewed.extended is (level != "B-LTA")
    assert renewed.timestamp_expires_at == _not_after(pki.tsa2_cert)
    assert renewed.pdf.startswith(original)  # an incremental update: the signature is untouched
    before = validate_pdf(original, [pki.root_cert], at=AFTER_TSA1)
    after = validate_pdf(renewed.pdf, [pki.root_cert], at=AFTER_TSA1)
    assert not before.all_valid
    assert after.all_valid, after.signatures[0].summary
    (signature,) = after.signatures
    assert signature.level == "B-LTA"
    assert "TSA 2 (renewal)" in (signature.archive_timestamps[-1].authority or "")


def test_b_b_is_not_renewable_and_says_why(
    signed_at_level: dict[str, SignedDocument], pki: TestPki
) -> None:
    with pytest.raises(NotRenewable, match=r"B-B.*signature timestamp") as caught:
        _keep_alive(pki, signed_at_level["B-B"].pdf)
    assert caught.value.code == "not_renewable"


def test_an_unsigned_pdf_is_not_renewable(unsigned_pdf: bytes, pki: TestPki) -> None:
    with pytest.raises(NotRenewable, match="no signature"):
        _keep_alive(pki, unsigned_pdf)


@pytest.fixture
def fresh_pki(tmp_path: Path) -> TestPki:
    return TestPki.load_or_create(tmp_path / "pki")


def test_a_b_t_with_a_revoked_seal_is_not_renewable(
    fresh_pki: TestPki, unsigned_pdf: bytes
) -> None:
    signed = fresh_pki.signer("B-T").sign(unsigned_pdf, reason="r")
    fresh_pki.revoke(fresh_pki.seal_cert)
    with pytest.raises(NotRenewable, match="revoked"):
        _keep_alive(fresh_pki, signed.pdf)
