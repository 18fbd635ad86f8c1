"""Our verdict agrees with the EU reference validator (DSS 6.4), now and along the time line.

For each PAdES level, a renewed B-LTA, a seal revoked before signing, and three tampered
copies, both validators judge the same bytes at the same moments (offline, the test PKI's
root as the only trust anchor, DSS's default policy): ETSI indication, sub-indication and the
PAdES level must be the same.

Where the project is deliberately stricter than DSS's default policy (README, "Verifying
documents"), the test says so: bytes appended after the last signature make our *file* verdict
invalid although each signature still passes, and an incremental change to a page after
signing is our ``TOTAL_FAILED/SIG_CONSTRAINTS_FAILURE`` where DSS only warns.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from io import BytesIO
from pathlib import Path

import pytest
from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp as cocsp
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.signers.pdf_signer import PdfTimeStamper
from pyhanko.sign.validation.dss import DocumentSecurityStore

from archive_service.signing import SignedDocument, validate_pdf
from archive_service.signing.test_pki import TestPki

from .alterations import flip_signed_byte, page_changed, time_line
from .dss import DssValidator

NOW = dt.datetime.now(dt.UTC)


MOMENTS = [
    "+1min", "+20h", "+26h", "+2d", "+40d", "+1y", "seal-1min", "seal+1min", "+5y", "tsa1+1min",
    "+12y", "ca+1d",
]


def _ocsp_for(pki: TestPki, cert: object) -> asn1_ocsp.OCSPResponse:
    def pyca(c: object) -> cx509.Certificate:
        return cx509.load_der_x509_certificate(c.dump())  # type: ignore[attr-defined]

    request = (
        cocsp.OCSPRequestBuilder()
        .add_certificate(pyca(cert), pyca(pki.issuing_ca_cert), hashes.SHA1())
        .build()
        .public_bytes(serialization.Encoding.DER)
    )
    return asn1_ocsp.OCSPResponse.load(pki.responder().ocsp_response(request))


def _with_dss_and_document_timestamp(pdf: bytes, pki: TestPki) -> bytes:
    """``pdf`` + a DSS revision (what the responders say *now*) + a document timestamp,
    written with pyHanko directly: our own signer refuses a revoked seal."""
    signature = PdfFileReader(BytesIO(pdf)).embedded_signatures[0]
    stream = BytesIO(pdf)
    responder = pki.responder()
    DocumentSecurityStore.add_dss(
        stream,
        signature.pkcs7_content,
        certs=[pki.root_cert, pki.issuing_ca_cert, pki.seal_cert, pki.tsa_cert],
        ocsps=[_ocsp_for(pki, pki.seal_cert), _ocsp_for(pki, pki.tsa_cert)],
        crls=[
            asn1_crl.CertificateList.load(responder.crl(issued_by_root=by_root))
            for by_root in (False, True)
        ],
    )
    output = BytesIO()
    writer = IncrementalPdfFileWriter(BytesIO(stream.getvalue()))
    PdfTimeStamper(pki.timestamper(), field_name="ArchiveTimestamp1").timestamp_pdf(
        writer, "sha256", output=output
    )
    return output.getvalue()


@pytest.fixture(scope="module")
def revoked_pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return TestPki.load_or_create(tmp_path_factory.mktemp("revoked-pki"))


def _signed_by_a_revoked_seal(pki: TestPki, unsigned_pdf: bytes) -> bytes:
    """A B-T whose seal turns out to have been revoked 10 minutes *before* it signed.

    Our signer refuses a seal its OCSP responder reports revoked, so the revocation is
    recorded after the signature, back-dated — as a CA does when a key compromise is found.
    """
    signed = pki.signer("B-T").sign(unsigned_pdf, reason="r").pdf
    pki.revoke(pki.seal_cert, reason="key_compromise", at=NOW - dt.timedelta(minutes=10))
    return signed


Case = tuple[bytes, TestPki]


@pytest.fixture(scope="module")
def cases(
    pki: TestPki,
    revoked_pki: TestPki,
    signed_at_level: dict[str, SignedDocument],
    renewed_lta: bytes,
    unsigned_pdf: bytes,
) -> dict[str, Case]:
    lta = signed_at_level["B-LTA"].pdf
    revoked_bt = _signed_by_a_revoked_seal(revoked_pki, unsigned_pdf)
    return {
        **{level: (signed.pdf, pki) for level, signed in signed_at_level.items()},
        "B-LTA renewed": (renewed_lta, pki),
        "seal revoked before signing, then DSS + archive timestamp": (
            _with_dss_and_document_timestamp(revoked_bt, revoked_pki), revoked_pki
        ),
        "B-LTA, one signed byte flipped": (flip_signed_byte(lta), pki),
        "B-LTA, bytes appended": (lta + b"\n% appended after %%EOF\n" + b"\0junk" * 8, pki),
    }


AGREEING = [
    "B-B", "B-T", "B-LT", "B-LTA", "B-LTA renewed",
    "seal revoked before signing, then DSS + archive timestamp",
    "B-LTA, one signed byte flipped", "B-LTA, bytes appended",
]


@pytest.fixture(scope="module")
def root_file(tmp_path_factory: pytest.TempPathFactory) -> Callable[[TestPki], Path]:
    folder = tmp_path_factory.mktemp("dss-roots")

    def write(pki: TestPki) -> Path:
        path = folder / f"{pki.root_cert.sha256.hex()[:16]}.pem"
        path.write_bytes(pki.root_pem())
        return path

    return write


@pytest.mark.parametrize("moment", MOMENTS)
@pytest.mark.parametrize("name", AGREEING)
def test_same_indication_sub_indication_and_level_as_dss(
    dss: DssValidator,
    cases: dict[str, Case],
    root_file: Callable[[TestPki], Path],
    name: str,
    moment: str,
) -> None:
    pdf, issuer = cases[name]
    at = time_line(issuer, NOW)[moment]
    theirs = dss.validate(pdf, [root_file(issuer)], at=at).signature
    (ours,) = validate_pdf(pdf, [issuer.root_cert], at=at).signatures
    assert (ours.indication, ours.sub_indication, ours.level) == (
        theirs.indication, theirs.sub_indication, theirs.level
    ), ours.summary


def test_appended_bytes_make_our_file_verdict_invalid_where_dss_passes(
    dss: DssValidator, cases: dict[str, Case], root_file: Callable[[TestPki], Path]
) -> None:
    pdf, issuer = cases["B-LTA, bytes appended"]
    assert dss.validate(pdf, [root_file(issuer)]).signature.indication == "TOTAL_PASSED"
    report = validate_pdf(pdf, [issuer.root_cert])
    assert report.signatures[0].passed
    assert not report.all_valid  # stricter: the appended bytes are signed by no one


@pytest.mark.parametrize("level", ["B-T", "B-LTA"])
def test_a_page_changed_after_signing_fails_ours_and_dss_only_warns(
    dss: DssValidator,
    signed_at_level: dict[str, SignedDocument],
    pki: TestPki,
    root_file: Callable[[TestPki], Path],
    level: str,
) -> None:
    pdf = page_changed(signed_at_level[level].pdf)
    theirs = dss.validate(pdf, [root_file(pki)]).signature
    warnings = " ".join(str(message) for message in theirs.warnings)
    assert "modification" in warnings.lower() or "difference" in warnings.lower(), warnings
    (ours,) = validate_pdf(pdf, [pki.root_cert]).signatures
    assert (ours.indication, ours.sub_indication) == ("TOTAL_FAILED", "SIG_CONSTRAINTS_FAILURE")
    assert ours.level == theirs.level


@pytest.fixture(scope="module")
def signed_per_profile(
    pki: TestPki, tmp_path_factory: pytest.TempPathFactory
) -> dict[tuple[str, str], bytes]:
    """Each PDF/A profile the archive renders (1b for state archives, 3u, tagged 3a) sealed at
    each level: the profile changes what the signer writes into the file (PDF version, XMP)."""
    import typst

    from archive_service.signing import LEVELS

    from .conftest import SAMPLE_SOURCE

    source = tmp_path_factory.mktemp("profiles") / "sample.typ"
    source.write_bytes(SAMPLE_SOURCE)
    signed = {}
    for profile in ("a-1b", "a-3u", "a-3a"):
        pdf = typst.compile(str(source), format="pdf", pdf_standards=[profile])
        for level in LEVELS:
            signed[profile, level] = pki.signer(level).sign(pdf, reason="r").pdf
    return signed


@pytest.mark.parametrize("moment", ["+1min", "+5y", "+12y"])
@pytest.mark.parametrize("profile", ["a-1b", "a-3u", "a-3a"])
def test_every_pdfa_profile_and_level_agrees_with_dss(
    dss: DssValidator,
    signed_per_profile: dict[tuple[str, str], bytes],
    pki: TestPki,
    root_file: Callable[[TestPki], Path],
    profile: str,
    moment: str,
) -> None:
    at = time_line(pki, NOW)[moment]
    for (made_as, level), pdf in signed_per_profile.items():
        if made_as != profile:
            continue
        theirs = dss.validate(pdf, [root_file(pki)], at=at).signature
        (ours,) = validate_pdf(pdf, [pki.root_cert], at=at).signatures
        assert (ours.indication, ours.sub_indication, ours.level) == (
            theirs.indication, theirs.sub_indication, theirs.level
        ), (level, ours.summary)
