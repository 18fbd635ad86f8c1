from __future__ import annotations

import asyncio
import hashlib

from asn1crypto import cms

from archive_service.signing.test_pki import TEST_TSA_POLICY, TestPki


def _token(pki: TestPki, digest: bytes) -> cms.ContentInfo:
    return asyncio.run(pki.timestamper().async_timestamp(digest, "sha256"))


def test_token_binds_the_digest_and_names_the_test_policy(pki: TestPki) -> None:
    digest = hashlib.sha256(b"journal").digest()
    signed_data = _token(pki, digest)["content"]
    info = signed_data["encap_content_info"]["content"].parsed
    assert info["message_imprint"]["hashed_message"].native == digest
    assert info["policy"].dotted == TEST_TSA_POLICY
    assert info["nonce"].native is not None


def test_token_is_signed_by_the_tsa_with_ess_signing_certificate(pki: TestPki) -> None:
    signed_data = _token(pki, hashlib.sha256(b"x").digest())["content"]
    (signer_info,) = signed_data["signer_infos"]
    sid = signer_info["sid"].chosen
    assert sid["serial_number"].native == pki.tsa_cert.serial_number
    attribute_types = {attr["type"].native for attr in signer_info["signed_attrs"]}
    assert "signing_certificate_v2" in attribute_types
    assert signer_info["signature_algorithm"]["algorithm"].native.endswith("ecdsa")
    embedded = {cert.chosen.serial_number for cert in signed_data["certificates"]}
    assert pki.tsa_cert.serial_number in embedded
    assert pki.root_cert.serial_number not in embedded
