from __future__ import annotations

import json
import stat
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID

from archive_service.signing.test_pki import (
    ISSUING_CA_CRL_PATH,
    OCSP_PATH,
    ROOT_CRL_PATH,
    TEST_PKCS12_PASSPHRASE,
    LegacyPkiLayout,
    TestPki,
)
from archive_service.signing.test_pki.pki import (
    ISSUING_CA_FILE,
    ISSUING_CA_KEY_FILE,
    LAYOUT_FILE,
    ROOT_FILE,
    ROOT_KEY_FILE,
    SEAL_FILE,
    SEAL_KEY_FILE,
    SEAL_PKCS12_FILE,
    TSA2_FILE,
    TSA2_KEY_FILE,
    TSA_FILE,
    TSA_KEY_FILE,
)


def _load(directory: Path, name: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate((directory / name).read_bytes())


def _verify_issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> None:
    cert.verify_directly_issued_by(issuer)
    assert (
        cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
        == issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    )


def test_chain_is_root_issuing_ca_then_seal_and_tsa(pki_dir: Path) -> None:
    root, issuing = _load(pki_dir, ROOT_FILE), _load(pki_dir, ISSUING_CA_FILE)
    _verify_issued_by(root, root)
    _verify_issued_by(issuing, root)
    _verify_issued_by(_load(pki_dir, SEAL_FILE), issuing)
    _verify_issued_by(_load(pki_dir, TSA_FILE), issuing)


def test_all_keys_are_ecdsa_p256(pki_dir: Path) -> None:
    for name in (ROOT_FILE, ISSUING_CA_FILE, SEAL_FILE, TSA_FILE):
        key = _load(pki_dir, name).public_key()
        assert isinstance(key, ec.EllipticCurvePublicKey)
        assert key.curve.name == "secp256r1"


@pytest.mark.parametrize(
    ("name", "path_length", "years"), [(ROOT_FILE, 1, 25), (ISSUING_CA_FILE, 0, 15)]
)
def test_cas_are_marked_as_cas(pki_dir: Path, name: str, path_length: int, years: int) -> None:
    cert = _load(pki_dir, name)
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca
    assert constraints.value.path_length == path_length
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and usage.crl_sign and not usage.digital_signature
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert years * 365 <= lifetime.days <= years * 366


def test_seal_may_sign_but_is_no_ca(pki_dir: Path) -> None:
    seal = _load(pki_dir, SEAL_FILE)
    assert not seal.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    usage = seal.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical
    assert usage.value.digital_signature and usage.value.content_commitment
    assert not usage.value.key_cert_sign
    assert 3 * 365 <= (seal.not_valid_after_utc - seal.not_valid_before_utc).days <= 3 * 366


def test_tsa_has_critical_time_stamping_eku_only(pki_dir: Path) -> None:
    eku = _load(pki_dir, TSA_FILE).extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical
    assert list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]


def test_every_subject_says_test_and_not_qualified(pki: TestPki, pki_dir: Path) -> None:
    for name in (ROOT_FILE, ISSUING_CA_FILE, SEAL_FILE, TSA_FILE):
        subject = _load(pki_dir, name).subject.rfc4514_string()
        assert "TEST" in subject and "NOT QUALIFIED" in subject, subject
    assert "NOT QUALIFIED" in pki.seal_cert.subject.human_friendly


def test_organisation_is_named_in_subjects(foreign_pki: TestPki) -> None:
    assert foreign_pki.seal_cert.subject.native["organization_name"] == "elsewhere"


def test_private_keys_are_readable_by_owner_only(pki_dir: Path) -> None:
    for name in (SEAL_KEY_FILE, TSA_KEY_FILE, SEAL_PKCS12_FILE):
        assert stat.S_IMODE((pki_dir / name).stat().st_mode) == 0o600, name


def test_reload_gives_the_same_certificates_and_keys(pki: TestPki, pki_dir: Path) -> None:
    again = TestPki.load_or_create(pki_dir)
    assert again.root_cert.dump() == pki.root_cert.dump()
    assert again.seal_cert.dump() == pki.seal_cert.dump()
    assert again.seal_key.dump() == pki.seal_key.dump()
    assert again.tsa_cert.dump() == pki.tsa_cert.dump()
    assert again.root_pem() == (pki_dir / ROOT_FILE).read_bytes()
    assert again.root_pem().startswith(b"-----BEGIN CERTIFICATE-----")


def test_pkcs12_holds_seal_and_issuing_ca(pki: TestPki) -> None:
    key, cert, extra = pkcs12.load_key_and_certificates(
        pki.pkcs12_path.read_bytes(), TEST_PKCS12_PASSPHRASE
    )
    assert key is not None and cert is not None
    assert cert.serial_number == pki.seal_cert.serial_number
    assert [c.serial_number for c in extra] == [pki.issuing_ca_cert.serial_number]
    with pytest.raises(ValueError):
        pkcs12.load_key_and_certificates(pki.pkcs12_path.read_bytes(), b"wrong")


def test_concurrent_first_use_creates_one_pki(tmp_path: Path) -> None:
    directory = tmp_path / "fresh" / "pki"
    results: list[TestPki] = []
    barrier = threading.Barrier(4)

    def create() -> None:
        barrier.wait()
        results.append(TestPki.load_or_create(directory))

    threads = [threading.Thread(target=create) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4
    assert len({result.root_cert.dump() for result in results}) == 1
    assert len({result.seal_cert.dump() for result in results}) == 1
    assert not list(directory.glob("*.tmp"))


def test_interrupted_creation_is_completed_on_next_use(tmp_path: Path) -> None:
    directory = tmp_path / "pki"
    directory.mkdir()
    # A crash before root.pem was written leaves other files behind; they are regenerated.
    (directory / SEAL_FILE).write_bytes(b"half-written")
    pki = TestPki.load_or_create(directory)
    assert (directory / ROOT_FILE).exists()
    assert _load(directory, SEAL_FILE).serial_number == pki.seal_cert.serial_number


# ---------------------------------------------------------------------------- revocation layout


def test_ca_keys_and_second_tsa_are_kept_owner_only(pki_dir: Path) -> None:
    for name in (ROOT_KEY_FILE, ISSUING_CA_KEY_FILE, TSA2_KEY_FILE):
        assert stat.S_IMODE((pki_dir / name).stat().st_mode) == 0o600, name


def test_lifetimes_make_future_validation_meaningful(pki_dir: Path) -> None:
    def years(name: str) -> float:
        cert = _load(pki_dir, name)
        return (cert.not_valid_after_utc - cert.not_valid_before_utc).days / 365.25

    assert years(SEAL_FILE) < years(TSA_FILE) < years(TSA2_FILE) < years(ISSUING_CA_FILE)
    assert years(ISSUING_CA_FILE) < years(ROOT_FILE)


@pytest.mark.parametrize("name", [SEAL_FILE, TSA_FILE, TSA2_FILE])
def test_issued_certificates_name_crl_and_ocsp(pki: TestPki, pki_dir: Path, name: str) -> None:
    cert = _load(pki_dir, name)
    _verify_issued_by(cert, _load(pki_dir, ISSUING_CA_FILE))
    points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert [p.full_name[0].value for p in points] == [pki.base_url + ISSUING_CA_CRL_PATH]
    access = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    assert [(a.access_method, a.access_location.value) for a in access] == [
        (AuthorityInformationAccessOID.OCSP, pki.base_url + OCSP_PATH)
    ]


def test_issuing_ca_names_the_root_crl(pki: TestPki, pki_dir: Path) -> None:
    points = _load(pki_dir, ISSUING_CA_FILE).extensions.get_extension_for_class(
        x509.CRLDistributionPoints
    )
    assert [p.full_name[0].value for p in points.value] == [pki.base_url + ROOT_CRL_PATH]


def test_second_tsa_has_critical_time_stamping_eku_only(pki_dir: Path) -> None:
    eku = _load(pki_dir, TSA2_FILE).extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical and list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]


def test_base_url_is_loopback_and_stable(pki: TestPki, pki_dir: Path) -> None:
    layout = json.loads((pki_dir / LAYOUT_FILE).read_text())
    assert layout["base_url"] == pki.base_url == f"http://127.0.0.1:{pki.port}"
    assert TestPki.load_or_create(pki_dir).base_url == pki.base_url
    assert TestPki.load_or_create(pki_dir).tsa2_cert.dump() == pki.tsa2_cert.dump()


def test_old_layout_is_refused_with_instructions(tmp_path: Path) -> None:
    directory = tmp_path / "old"
    TestPki.load_or_create(directory)
    # what the previous version left: no CA keys, no layout.json
    for name in (LAYOUT_FILE, ROOT_KEY_FILE, ISSUING_CA_KEY_FILE, TSA2_FILE, TSA2_KEY_FILE):
        (directory / name).unlink()
    with pytest.raises(LegacyPkiLayout, match="move the folder aside") as caught:
        TestPki.load_or_create(directory)
    assert str(directory) in caught.value.message
    assert not (directory / LAYOUT_FILE).exists()  # nothing was silently regenerated
