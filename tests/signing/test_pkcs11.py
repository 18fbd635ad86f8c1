"""PAdES with a key generated on a SoftHSM2 token (PKCS#11): signing, protection, clear errors."""

from __future__ import annotations

import asyncio
import os
import traceback
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from asn1crypto import pem
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from archive_service.config import load_settings
from archive_service.signers import build_sealing
from archive_service.signing import LEVELS, SignedDocument, validate_pdf
from archive_service.signing.test_pki import TSA_PATH, TestPki, serve_pki

if not os.environ.get("CI"):  # under CI a missing python-pkcs11 fails the import below
    pytest.importorskip("pkcs11", reason="python-pkcs11 (pyHanko's pkcs11 extra) not installed")

import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass

from archive_service.signing.backends.pkcs11 import (
    Pkcs11CertificateMismatch,
    Pkcs11KeyError,
    Pkcs11KeyNotFound,
    Pkcs11ModuleNotFound,
    Pkcs11PinRejected,
    Pkcs11TokenNotFound,
    TokenSigner,
    close_pkcs11_sessions,
    open_pkcs11_signer,
    pkcs11_pades_signer,
)
from tests.signing.softhsm import (
    IssueCertificate,
    IssuedCertificate,
    SoftHsmToken,
    issuer_from_test_pki,
    start_token,
)


@dataclass(frozen=True)
class TokenWithCertificate:
    token: SoftHsmToken
    issued: IssuedCertificate
    cert_file: Path
    chain_file: Path


@pytest.fixture(scope="module")
def issue_certificate(pki: TestPki) -> IssueCertificate:
    """The test PKI's issuing CA certifies the token key."""
    return issuer_from_test_pki(pki)


@pytest.fixture(scope="module")
def token(
    tmp_path_factory: pytest.TempPathFactory, issue_certificate: IssueCertificate
) -> Iterator[TokenWithCertificate]:
    directory = tmp_path_factory.mktemp("softhsm")
    softhsm = start_token(directory / "store")
    with pytest.MonkeyPatch.context() as env:
        # Read by the SoftHSM2 module when it is first loaded into this process.
        env.setenv("SOFTHSM2_CONF", str(softhsm.conf))
        issued = issue_certificate(softhsm.public_key())
        softhsm.store_certificate(issued.cert, directory)
        cert_file, chain_file = issued.write_pem(directory)
        yield TokenWithCertificate(softhsm, issued, cert_file, chain_file)
        close_pkcs11_sessions()


@pytest.fixture
def trust_roots(token: TokenWithCertificate, pki: TestPki) -> list[object]:
    """The token certificate's root, and the test PKI's root for its TSA."""
    return [token.issued.trust_root, pki.root_cert]


def _assert_valid_token_signature(
    signed: SignedDocument, token: TokenWithCertificate, trust_roots: list[object], level: str
) -> None:
    assert signed.level == level
    assert signed.signer_kind == "pkcs11"
    assert not signed.qualified
    assert signed.signer_serial == format(token.issued.cert.serial_number, "x")
    report = validate_pdf(signed.pdf, trust_roots)
    assert report.all_acceptable, report.signatures[0].summary
    (signature,) = report.signatures
    assert signature.valid and signature.intact and signature.trusted
    assert signature.level == level
    assert "SoftHSM2 token" in signature.signer_subject


@pytest.mark.parametrize(
    ("level", "certificate_from"), [("B-B", "token"), ("B-T", "token"), ("B-T", "pem")]
)
def test_signs_a_pdf_with_the_token_key(
    token: TokenWithCertificate,
    pki: TestPki,
    unsigned_pdf: bytes,
    trust_roots: list[object],
    level: str,
    certificate_from: str,
) -> None:
    # The certificate on the token, the issuing CA from the chain file (as deployed).
    config = token.token.config(chain_file=str(token.chain_file))
    if certificate_from == "pem":
        config = token.token.config(
            certificate_file=str(token.cert_file), chain_file=str(token.chain_file)
        )
    signer = pkcs11_pades_signer(
        config,
        timestamper=pki.timestamper() if level != "B-B" else None,
        trust_roots=[token.issued.trust_root, pki.root_cert],
        level=level,
    )
    signed = signer.sign(unsigned_pdf, reason="Архівування", location="Київ")
    _assert_valid_token_signature(signed, token, trust_roots, level)
    assert signed.pdf.startswith(unsigned_pdf)


def test_the_key_was_generated_on_the_token_and_cannot_leave_it(
    token: TokenWithCertificate,
) -> None:
    signer = open_pkcs11_signer(token.token.config())
    protection = signer.key_protection()
    assert protection.sensitive and protection.always_sensitive
    assert not protection.extractable and protection.never_extractable
    assert protection.generated_on_token
    key = signer.pkcs11_session.get_key(
        object_class=ObjectClass.PRIVATE_KEY, label=token.token.key_label
    )
    with pytest.raises(pkcs11.AttributeSensitive):
        key[Attribute.VALUE]
    # Nor can it be wrapped out under a key of our own choosing.
    wrapping_key = signer.pkcs11_session.generate_key(
        KeyType.AES, 256, store=False, template={Attribute.WRAP: True}
    )
    with pytest.raises(pkcs11.KeyUnextractable):
        wrapping_key.wrap_key(key, mechanism=Mechanism.AES_KEY_WRAP_PAD)


def test_a_key_that_could_leave_the_token_is_refused(
    token: TokenWithCertificate, issue_certificate: IssueCertificate, tmp_path: Path
) -> None:
    softhsm = token.token
    generated = softhsm.tool(
        "--keypairgen", "--key-type", "EC:prime256v1", "--label", "extractable-key",
        "--id", "b2", "--usage-sign", "--extractable",
    )
    assert generated.returncode == 0, generated.stderr.decode()
    cert_file, _ = issue_certificate(softhsm.public_key(bytes.fromhex("b2"))).write_pem(tmp_path)
    config = softhsm.config(
        key_label="extractable-key", key_id=bytes.fromhex("b2"), certificate_file=str(cert_file)
    )
    with pytest.raises(Pkcs11KeyError, match="can leave the token"):
        open_pkcs11_signer(config)
    allowed = open_pkcs11_signer(replace(config, allow_extractable_key=True))
    assert allowed.key_protection().extractable


def test_signing_from_several_threads_shares_one_session(
    token: TokenWithCertificate, unsigned_pdf: bytes, trust_roots: list[object]
) -> None:
    signer = pkcs11_pades_signer(
        token.token.config(chain_file=str(token.chain_file)),
        timestamper=None,
        trust_roots=trust_roots,
        level="B-B",
    )
    with ThreadPoolExecutor(max_workers=4) as pool:
        signed = list(
            pool.map(lambda n: signer.sign(unsigned_pdf, reason=f"copy {n}"), range(8))
        )
    assert len({document.pdf for document in signed}) == 8
    for document in signed:
        assert validate_pdf(document.pdf, trust_roots).all_acceptable
    first = open_pkcs11_signer(token.token.config())
    second = open_pkcs11_signer(token.token.config())
    assert first.pkcs11_session is second.pkcs11_session


def test_a_wrong_pin_is_refused_clearly_and_not_repeated(
    token: TokenWithCertificate, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    wrong_pin = "987654321"
    pin_file = tmp_path / "wrong.pin"
    pin_file.write_text(wrong_pin + "\n")
    close_pkcs11_sessions()  # the token itself must judge the PIN, not a cached session
    with pytest.raises(Pkcs11PinRejected, match="rejected the user PIN") as refused:
        open_pkcs11_signer(token.token.config(pin_file=str(pin_file)))
    assert wrong_pin not in refused.value.message
    assert wrong_pin not in caplog.text
    # With a session open on the right PIN, a different PIN is refused all the same.
    open_pkcs11_signer(token.token.config())
    with pytest.raises(Pkcs11PinRejected, match="different user PIN"):
        open_pkcs11_signer(token.token.config(pin_file=str(pin_file)))


def test_the_pin_can_come_from_an_environment_variable(
    token: TokenWithCertificate, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_TOKEN_PIN", token.token.pin_file.read_text().strip())
    signer = open_pkcs11_signer(token.token.config(pin_file=None, pin_env="TEST_TOKEN_PIN"))
    assert isinstance(signer, TokenSigner)
    monkeypatch.delenv("TEST_TOKEN_PIN")
    with pytest.raises(Pkcs11KeyError, match=r"TEST_TOKEN_PIN .* is not set"):
        open_pkcs11_signer(token.token.config(pin_file=None, pin_env="TEST_TOKEN_PIN"))


@pytest.mark.parametrize("other_key", ["ecdsa", "rsa"])
def test_a_certificate_for_another_key_is_refused_before_signing(
    token: TokenWithCertificate,
    issue_certificate: IssueCertificate,
    tmp_path: Path,
    other_key: str,
) -> None:
    private = (
        ec.generate_private_key(ec.SECP256R1())
        if other_key == "ecdsa"
        else rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    foreign = issue_certificate(private.public_key())
    cert_file, _ = foreign.write_pem(tmp_path)
    with pytest.raises(Pkcs11CertificateMismatch, match="does not belong to the token key"):
        open_pkcs11_signer(token.token.config(certificate_file=str(cert_file)))


def test_missing_module_token_and_key_are_named(
    token: TokenWithCertificate, tmp_path: Path
) -> None:
    with pytest.raises(Pkcs11ModuleNotFound, match="does not exist"):
        open_pkcs11_signer(token.token.config(module_path=str(tmp_path / "libnothing.so")))
    not_a_module = tmp_path / "libbroken.so"
    not_a_module.write_bytes(b"not an ELF file")
    with pytest.raises(Pkcs11ModuleNotFound, match="cannot be loaded"):
        open_pkcs11_signer(token.token.config(module_path=str(not_a_module)))
    with pytest.raises(Pkcs11TokenNotFound, match=r"'no-such-token'.*journal-archive-test"):
        open_pkcs11_signer(token.token.config(token_label="no-such-token"))
    with pytest.raises(Pkcs11KeyNotFound, match="'other-key'"):
        open_pkcs11_signer(
            token.token.config(
                key_label="other-key", key_id=None, certificate_file=str(token.cert_file)
            )
        )


def test_a_forked_child_opens_its_own_session(token: TokenWithCertificate) -> None:
    parent_signer = open_pkcs11_signer(token.token.config())
    pid = os.fork()
    if pid == 0:  # child: report through the exit status only
        status = 1
        try:
            try:
                asyncio.run(parent_signer.async_sign_raw(b"x", "sha256"))
            except Pkcs11KeyError:
                child_signer = open_pkcs11_signer(token.token.config())
                if child_signer.pkcs11_session is not parent_signer.pkcs11_session:
                    status = 0
        except BaseException:
            os.write(2, traceback.format_exc().encode())
        finally:
            os._exit(status)
    _, wait_status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(wait_status) == 0
    # The parent's session is untouched by the child's.
    assert open_pkcs11_signer(token.token.config()).pkcs11_session is parent_signer.pkcs11_session


@pytest.mark.parametrize("level", LEVELS)
def test_configured_token_signer_at_every_level_with_the_test_pki(
    token: TokenWithCertificate, tmp_path: Path, unsigned_pdf: bytes, level: str
) -> None:
    """``ARCHIVE_SIGNER=pkcs11`` as an operator sets it up: the token key, a certificate from
    the (test) CA in a PEM file, a TSA and OCSP/CRL reached over HTTP on 127.0.0.1."""
    pki = TestPki.load_or_create(tmp_path / "pki")  # its own port: no other server holds it
    cert = pki.issue_signing_certificate(token.token.public_key(), "Печатка на токені")
    (tmp_path / "seal.pem").write_bytes(pem.armor("CERTIFICATE", cert.dump()))
    (tmp_path / "chain.pem").write_bytes(pem.armor("CERTIFICATE", pki.issuing_ca_cert.dump()))
    (tmp_path / "anchors").mkdir()
    (tmp_path / "anchors" / "root.pem").write_bytes(pki.root_pem())
    settings = load_settings(
        {},
        {
            "data_dir": tmp_path / "var",
            "signer": "pkcs11",
            "pkcs11_module": token.token.module,
            "pkcs11_token": token.token.token_label,
            "pkcs11_key": token.token.key_label,
            "pkcs11_pin_file": str(token.token.pin_file),
            "signer_certificate": str(tmp_path / "seal.pem"),
            "signer_chain": str(tmp_path / "chain.pem"),
            "tsa_url": pki.base_url + TSA_PATH,
            "trust_anchors_dir": str(tmp_path / "anchors"),
            "signature_level": level,
        },
    )
    with serve_pki(pki):
        setup = build_sealing(settings)
        signed = setup.sealer_for("26453182").seal(unsigned_pdf, reason="Архівування")
    assert (signed.level, signed.signer_kind, signed.qualified) == (level, "pkcs11", False)
    assert "Печатка на токені" in signed.signer_subject
    report = validate_pdf(signed.pdf, setup.trust_roots)
    assert report.all_acceptable and report.signatures[0].level == level
    # B-B and B-T carry no revocation data: sound, but indeterminate (as DSS says)
    assert report.all_valid is (level in ("B-LT", "B-LTA"))
