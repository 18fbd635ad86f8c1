"""Real HTTP on 127.0.0.1: pyHanko's ordinary fetchers and HTTP TSA client against the test PKI."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from pyhanko.sign.timestamps import HTTPTimeStamper
from pyhanko_certvalidator.fetchers.requests_fetchers import RequestsFetcherBackend

from archive_service.signing import PadesSigner, SigningError, validate_pdf
from archive_service.signing.key_signer import ParsedKeySigner
from archive_service.signing.test_pki import ISSUING_CA_CRL_PATH, TSA_PATH, TestPki, serve_pki


@pytest.fixture
def http_pki(tmp_path: Path) -> TestPki:
    """A PKI of its own: its port was free a moment ago, so no other test's server holds it."""
    return TestPki.load_or_create(tmp_path / "pki")


def _network_signer(pki: TestPki, level: str) -> PadesSigner:
    from cryptography.hazmat.primitives.serialization import load_der_private_key

    return PadesSigner(
        ParsedKeySigner(
            pki.seal_cert,
            load_der_private_key(pki.seal_key.dump(), password=None),
            chain=[pki.issuing_ca_cert],
        ),
        timestamper=HTTPTimeStamper(pki.base_url + TSA_PATH, timeout=5),
        trust_roots=[pki.root_cert],
        level=level,
        signer_kind="test-pki",
        qualified=False,
        fetcher_backend=RequestsFetcherBackend(per_request_timeout=5),
    )


def test_certificates_point_at_the_loopback_port(http_pki: TestPki) -> None:
    assert http_pki.base_url == f"http://127.0.0.1:{http_pki.port}"
    text = http_pki.seal_cert.crl_distribution_points[0]["distribution_point"].native[0]
    assert text == http_pki.base_url + ISSUING_CA_CRL_PATH
    assert http_pki.seal_cert.ocsp_urls == [http_pki.base_url + "/ocsp"]


def test_b_lta_over_http(http_pki: TestPki, unsigned_pdf: bytes) -> None:
    with serve_pki(http_pki) as base_url:
        crl = requests.get(base_url + ISSUING_CA_CRL_PATH, timeout=5)
        assert crl.status_code == 200 and crl.headers["Content-Type"] == "application/pkix-crl"
        signed = _network_signer(http_pki, "B-LTA").sign(unsigned_pdf, reason="r")
    assert signed.level == "B-LTA"
    # validation needs no server: everything is embedded
    assert validate_pdf(signed.pdf, [http_pki.root_cert]).signatures[0].level == "B-LTA"


def test_unreachable_responders_fail_the_signature(http_pki: TestPki, unsigned_pdf: bytes) -> None:
    """Nothing listens on the PKI's port: hard-fail, never a weaker level."""
    with pytest.raises(SigningError) as caught:
        _network_signer(http_pki, "B-LT").sign(unsigned_pdf, reason="r")
    assert caught.value.code == "signing_failed"


def test_in_process_fetchers_refuse_foreign_urls(
    http_pki: TestPki, foreign_pki: TestPki, unsigned_pdf: bytes
) -> None:
    """The embedded default answers only its own PKI's URLs; another PKI's are unreachable."""
    from cryptography.hazmat.primitives.serialization import load_der_private_key

    signer = PadesSigner(
        ParsedKeySigner(
            foreign_pki.seal_cert,
            load_der_private_key(foreign_pki.seal_key.dump(), password=None),
            chain=[foreign_pki.issuing_ca_cert],
        ),
        timestamper=foreign_pki.timestamper(),
        trust_roots=[foreign_pki.root_cert],
        level="B-LT",
        signer_kind="test-pki",
        qualified=False,
        fetcher_backend=http_pki.fetcher_backend(),
    )
    with pytest.raises(SigningError, match="could not be validated with revocation data"):
        signer.sign(unsigned_pdf, reason="r")
