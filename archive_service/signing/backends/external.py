"""External signing: the archive prepares the PDF, an outside party signs, the archive finishes.

Qualified keys often stay with people (a director's token, a remote qualified signing service)
rather than on the archive's server. pyHanko's *interrupted signing* splits its signing into the
part that needs the key and the parts that do not, and this module keeps the two halves apart
in time: :meth:`ExternalPadesSigner.prepare` reserves the signature's place in the PDF and
computes what must be signed; the result
(:class:`~archive_service.signing.sealing.PreparedSignature`) is plain bytes and numbers that
the caller keeps wherever it likes (the pipeline: a database row) for days. As a
:class:`~archive_service.signing.sealing.Sealer` its :meth:`~ExternalPadesSigner.seal` returns
that as a :class:`~archive_service.signing.sealing.PreparedDocument`. When the outside
party answers, :meth:`ExternalPadesSigner.finish` checks the answer, embeds it, and extends the
signature to the configured level exactly as :class:`~archive_service.signing.pades.PadesSigner`
does (signature timestamp, DSS with hard-fail revocation data, document timestamp; PDF/A kept by
:func:`~archive_service.signing.pdf_writer.open_for_signing`), then validates its own output.

Two kinds of answer are accepted, because signing tools come in both shapes:

* a **raw signature value** over the DER signed attributes (what a token, an HSM or a remote
  signing API returns for "sign this hash"); ECDSA values may be DER or plain ``r‖s``;
* a **whole CMS SignedData**, detached, over the document's byte range (what complete signing
  applications produce from a document digest).

Either way, nothing reaches the PDF before it has been checked against the *prepared* state:
the signature must verify with the certificate the request was prepared for, and a CMS must sign
exactly the prepared byte range's digest. HTTP, the database and expiry are the caller's
business; this module only knows PDFs, CMS and certificates.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from io import BytesIO
from typing import cast

from asn1crypto import algos, cms, core, x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from pyhanko.sign.attributes import TSTProvider
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.general import SigningError as PyHankoSigningError
from pyhanko.sign.signers import ExternalSigner, PdfSignatureMetadata, PdfSigner
from pyhanko.sign.signers.pdf_byterange import PreparedByteRangeDigest
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
from pyhanko.sign.timestamps import TimeStamper
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.generic_cms import validate_sig_integrity
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.fetchers.api import FetcherBackend
from pyhanko_certvalidator.registry import SimpleCertificateStore
from pyhanko_certvalidator.sig_validate import (
    DefaultSignatureValidator,
    SignatureValidationContext,
)

from archive_service.errors import (
    ErrorDetail,
    InvalidInput,
    MalformedInput,
)
from archive_service.signing._sync import run_sync
from archive_service.signing.certificates import (
    CertificateLike,
    to_asn1_certificate,
    to_asn1_certificates,
)
from archive_service.signing.errors import SigningError
from archive_service.signing.long_term import (
    LONG_TERM_LEVELS,
    add_validation_data,
    revocation_context,
    validated_signer_paths,
    validated_tsa_paths,
)
from archive_service.signing.pades import FIELD_PREFIX, PadesSigner, SignedDocument
from archive_service.signing.pdf_writer import next_field_name, open_for_signing
from archive_service.signing.sealing import (
    CmsSignature,
    PreparedDocument,
    PreparedSignature,
    RawSignature,
    Signatory,
    SignatureAnswer,
)

#: The document digest and the digest of the signed attributes; the only one offered.
DIGEST_ALGORITHM = "sha256"
#: Recorded as the signer kind of every version signed this way.
SIGNER_KIND = "external"
#: Placeholder signature length while the container's size is estimated: room for RSA-4096.
_SIGNATURE_ROOM = 512
#: DER bytes reserved beyond the estimate, for a whole CMS made elsewhere (more certificates,
#: other attributes, its own timestamp). The PDF holds them as hex, so twice this in the file.
_CMS_SLACK = 8 * 1024


# ----------------------------------------------------------------------------- errors


class SignatureRejected(InvalidInput):
    """The outside party's answer cannot finish this document; nothing was changed."""

    code = "signature_rejected"


class SignatureInvalid(SignatureRejected):
    """The signature does not verify with the prepared certificate over the prepared data."""

    code = "signature_invalid"


class SignedContentMismatch(SignatureRejected):
    """The CMS signs something other than the prepared document's byte range."""

    code = "signed_content_mismatch"


class CertificateMismatch(SignatureRejected):
    """The answer names a certificate other than the one the request was prepared for."""

    code = "certificate_mismatch"


class MalformedSignature(MalformedInput):
    """The answer is not a signature value or a CMS at all."""

    code = "malformed_signature"


# ----------------------------------------------------------------------------- signer


class ExternalPadesSigner:
    """Prepares PDFs for an outside party's key and finishes them with its answer.

    :param certificate: the outside party's signing certificate.
    :param chain: its intermediate certificates (not the root).
    :param timestamper, trust_roots, level, fetcher_backend: as for
        :class:`~archive_service.signing.pades.PadesSigner`.
    :param valid_for: how long a prepared document may wait for its signature.
    """

    signer_kind = SIGNER_KIND

    def __init__(
        self,
        certificate: CertificateLike,
        chain: Sequence[CertificateLike] = (),
        *,
        timestamper: TimeStamper | None,
        trust_roots: Sequence[CertificateLike],
        level: str = "B-LTA",
        fetcher_backend: FetcherBackend | None = None,
        valid_for: dt.timedelta = dt.timedelta(days=7),
    ) -> None:
        #: How long a prepared document waits for its answer (the caller enforces it).
        self.valid_for = valid_for
        self.certificate = to_asn1_certificate(certificate)
        self.chain = tuple(to_asn1_certificate(c) for c in chain)
        self._timestamper = timestamper if level != "B-B" else None
        self._trust_roots = to_asn1_certificates(trust_roots)
        self._fetcher_backend = fetcher_backend
        # Checks level, timestamper and roots the same way the key-holding signer does.
        self._pades(self.certificate, self.chain, level)
        self.level = level

    # ----------------------------------------------------------- the sealer seam

    @property
    def signatory(self) -> Signatory:
        return Signatory(SIGNER_KIND, self.certificate, qualified=False, outside=True)

    def seal(self, pdf: bytes, *, reason: str, location: str | None = None) -> PreparedDocument:
        """:meth:`prepare`, as the :class:`~archive_service.signing.sealing.Sealer` result."""
        prepared = self.prepare(pdf, reason=reason, location=location)
        return PreparedDocument(prepared, valid_for=self.valid_for)

    # ------------------------------------------------------------------ prepare

    def prepare(
        self, pdf: bytes, *, reason: str, location: str | None = None
    ) -> PreparedSignature:
        """Reserve a signature for :attr:`certificate` in ``pdf``; see the module docstring.

        :raises UnreadablePdf: ``pdf`` is not a PDF.
        :raises SigningError: the certificate is not valid now, is revoked, or (from B-LT up)
            its revocation status cannot be fetched — refused now rather than after the outside
            party has signed.
        """
        return run_sync(self.async_prepare(pdf, reason=reason, location=location))

    async def async_prepare(
        self, pdf: bytes, *, reason: str, location: str | None = None
    ) -> PreparedSignature:
        pades = self._pades(self.certificate, self.chain, self.level)
        pades._require_current_certificate()
        external = self._external(self.certificate, self.chain, _SIGNATURE_ROOM)
        if self.level in LONG_TERM_LEVELS:
            await validated_signer_paths(external, self._revocation_context())
        writer = open_for_signing(pdf)
        field_name = next_field_name(writer.prev, FIELD_PREFIX)
        metadata = PdfSignatureMetadata(
            field_name=field_name,
            subfilter=SigSeedSubFilter.PADES,
            md_algorithm=DIGEST_ALGORITHM,
            reason=reason,
            location=location,
            use_pades_lta=False,
        )
        pdf_signer = PdfSigner(metadata, signer=external, timestamper=self._timestamper)
        attributes = PdfCMSSignedAttributes(signing_time=dt.datetime.now(dt.UTC))
        try:
            reserved = await self._room(external, attributes)
            digest, _tbs, output = await pdf_signer.async_digest_doc_for_signing(
                writer, bytes_reserved=reserved
            )
            signed_attributes = await external.signed_attrs(
                digest.document_digest,
                DIGEST_ALGORITHM,
                attr_settings=attributes,
                use_pades=True,
            )
        except PyHankoSigningError as exc:
            raise SigningError(f"The document could not be prepared for signing: {exc}") from exc
        mechanism = external.get_signature_mechanism_for_digest(DIGEST_ALGORITHM)
        return PreparedSignature(
            pdf=cast(BytesIO, output).getvalue(),
            reserved_start=digest.reserved_region_start,
            reserved_end=digest.reserved_region_end,
            document_digest=digest.document_digest,
            signed_attributes=signed_attributes.dump(),
            signature_algorithm=mechanism["algorithm"].native,
            certificate=self.certificate.dump(),
            chain=tuple(c.dump() for c in self.chain),
            level=self.level,
            field_name=field_name,
        )

    async def _room(self, external: ExternalSigner, attributes: PdfCMSSignedAttributes) -> int:
        """Hex characters to reserve: a dry-run container, half again, plus slack."""
        dummy = await external.async_sign(
            bytes(32),
            DIGEST_ALGORITHM,
            dry_run=True,
            use_pades=True,
            timestamper=self._timestamper,
            signed_attr_settings=attributes,
        )
        size = len(dummy.dump())
        return 2 * (size + size // 2 + _CMS_SLACK)

    # ------------------------------------------------------------------- finish

    def finish(self, prepared: PreparedSignature, answer: SignatureAnswer) -> SignedDocument:
        """Embed the outside party's answer and extend the signature to the prepared level.

        :raises MalformedSignature: the answer is not a signature value or CMS.
        :raises SignatureRejected: it does not verify, signs other bytes, or names another
            certificate (subclasses say which); nothing is changed and the request can be
            answered again.
        :raises SigningError: the certificate has expired or was revoked meanwhile, the TSA or
            a revocation responder did not answer, or the result could not be confirmed.
        """
        return run_sync(self.async_finish(prepared, answer))

    async def async_finish(
        self, prepared: PreparedSignature, answer: SignatureAnswer
    ) -> SignedDocument:
        if prepared.level != self.level:
            raise SigningError(
                f"The request was prepared for {prepared.level}, but the institution is now "
                f"configured for {self.level}; upload the export again."
            )
        cert = prepared.signer_certificate
        chain = tuple(x509.Certificate.load(der) for der in prepared.chain)
        pades = self._pades(cert, chain, prepared.level)
        if isinstance(answer, RawSignature):
            container = await self._container_from_raw(prepared, answer, cert, chain)
        else:
            container = await self._checked_container(prepared, answer, cert, chain)
        pades._require_current_certificate()
        long_term = prepared.level in LONG_TERM_LEVELS
        if long_term:
            context = self._revocation_context()
            paths = [await validated_signer_paths(pades._signer, context)]
            if self._timestamper is not None:
                paths.extend(await validated_tsa_paths(self._timestamper, context))
        output = BytesIO(prepared.pdf)
        region = PreparedByteRangeDigest(
            prepared.document_digest, prepared.reserved_start, prepared.reserved_end
        )
        try:
            region.fill_with_cms(output, container)
        except PyHankoSigningError as exc:
            raise SignatureRejected(
                f"The signature container is larger than the room reserved for it: {exc}",
                [ErrorDetail("/cms", "too large")],
            ) from exc
        signed = output.getvalue()
        if long_term:
            signed = await add_validation_data(
                signed,
                paths,
                context,
                archive_timestamper=self._timestamper if prepared.level == "B-LTA" else None,
            )
        return pades._confirm(signed, await pades._own_signature(signed, prepared.field_name))

    async def _container_from_raw(
        self,
        prepared: PreparedSignature,
        answer: RawSignature,
        cert: x509.Certificate,
        chain: Sequence[x509.Certificate],
    ) -> cms.ContentInfo:
        if answer.certificate is not None and answer.certificate != prepared.certificate:
            raise CertificateMismatch(
                "The signature was made for a different certificate than the one this request "
                f"was prepared for (serial {format(cert.serial_number, 'x')}).",
                [ErrorDetail("/certificate", "not the prepared certificate")],
            )
        value = _der_signature(answer.value, cert)
        mechanism = algos.SignedDigestAlgorithm({"algorithm": prepared.signature_algorithm})
        try:
            DefaultSignatureValidator().validate_signature(
                value,
                prepared.signed_attributes,
                cert.public_key,
                mechanism,
                context=SignatureValidationContext(
                    contextual_md_algorithm=DIGEST_ALGORITHM, prehashed=False
                ),
            )
        except (InvalidSignature, ValueError) as exc:
            raise SignatureInvalid(
                "The signature does not verify with the prepared certificate over the signed "
                f"attributes ({prepared.signature_algorithm}); sign exactly "
                "data_to_be_signed.signed_attributes with that certificate's key.",
                [ErrorDetail("/signature", "does not verify")],
            ) from exc
        external = ExternalSigner(
            cert,
            SimpleCertificateStore.from_certs(list(chain)),
            signature_value=value,
            signature_mechanism=mechanism,
            embed_roots=False,
        )
        try:
            return await external.async_sign_prescribed_attributes(
                DIGEST_ALGORITHM,
                cms.CMSAttributes.load(prepared.signed_attributes),
                timestamper=self._timestamper,
            )
        except Exception as exc:  # the TSA: whatever failed, nothing is signed
            raise SigningError(
                f"The signature timestamp failed ({type(exc).__name__}: {exc})."
            ) from exc

    async def _checked_container(
        self,
        prepared: PreparedSignature,
        answer: CmsSignature,
        cert: x509.Certificate,
        chain: Sequence[x509.Certificate],
    ) -> cms.ContentInfo:
        signed_data, signer_info = _parse_detached_cms(answer.der)
        _require_signer(signed_data, signer_info, cert)
        algorithm = signer_info["digest_algorithm"]["algorithm"].native
        if algorithm != DIGEST_ALGORITHM:
            raise SignedContentMismatch(
                f"The CMS uses digest {algorithm}; the document digest offered is "
                f"{DIGEST_ALGORITHM}.",
                [ErrorDetail("/cms/signer_infos/0/digest_algorithm", "sha256 expected")],
            )
        try:
            intact, valid = validate_sig_integrity(
                signer_info, cert, "data", prepared.document_digest
            )
        except (SignatureValidationError, ValueError, KeyError) as exc:
            raise SignatureInvalid(
                f"The CMS signature cannot be verified: {exc}",
                [ErrorDetail("/cms/signer_infos/0", "not verifiable")],
            ) from exc
        if not valid:
            raise SignatureInvalid(
                "The CMS signature does not verify with the prepared certificate.",
                [ErrorDetail("/cms/signer_infos/0/signature", "does not verify")],
            )
        if not intact:
            raise SignedContentMismatch(
                "The CMS signs other bytes than this request's document: its messageDigest is "
                "not document_digest.",
                [ErrorDetail("/cms/signer_infos/0/signed_attrs/message_digest", "mismatch")],
            )
        return await self._completed(signed_data, signer_info, chain)

    async def _completed(
        self,
        signed_data: cms.SignedData,
        signer_info: cms.SignerInfo,
        chain: Sequence[x509.Certificate],
    ) -> cms.ContentInfo:
        """The outside CMS plus what it may lack: intermediates and a signature timestamp.

        Both go into unsigned parts (the certificate set and the unsigned attributes), so the
        outside party's signature stays as it made it.
        """
        unsigned = list(signer_info["unsigned_attrs"]) if signer_info["unsigned_attrs"] else []
        has_timestamp = any(
            attr["type"].native == "signature_time_stamp_token" for attr in unsigned
        )
        if self._timestamper is not None and not has_timestamp:
            provider = TSTProvider(
                DIGEST_ALGORITHM, signer_info["signature"].native, self._timestamper
            )
            try:
                unsigned.append(await provider.get_attribute())
            except Exception as exc:
                raise SigningError(
                    f"The signature timestamp failed ({type(exc).__name__}: {exc})."
                ) from exc
        fields = _present_fields(signer_info)
        fields["unsigned_attrs"] = cms.CMSAttributes(unsigned) if unsigned else None
        certificates = list(signed_data["certificates"] or [])
        present = {choice.chosen.dump() for choice in certificates}
        certificates += [
            cms.CertificateChoices(name="certificate", value=c)
            for c in chain
            if c.dump() not in present
        ]
        content = _present_fields(signed_data)
        content["certificates"] = cms.CertificateSet(certificates)
        content["signer_infos"] = cms.SignerInfos([cms.SignerInfo(fields)])
        return cms.ContentInfo(
            {"content_type": "signed_data", "content": cms.SignedData(content)}
        )

    # ---------------------------------------------------------------- internals

    def _pades(
        self, cert: x509.Certificate, chain: Sequence[x509.Certificate], level: str
    ) -> PadesSigner:
        """A key-less PadesSigner: its certificate checks and self-validation are reused."""
        return PadesSigner(
            self._external(cert, chain, _SIGNATURE_ROOM),
            timestamper=self._timestamper,
            trust_roots=self._trust_roots,
            level=level,
            signer_kind=SIGNER_KIND,
            qualified=False,
            fetcher_backend=self._fetcher_backend,
        )

    @staticmethod
    def _external(
        cert: x509.Certificate, chain: Sequence[x509.Certificate], signature: bytes | int
    ) -> ExternalSigner:
        return ExternalSigner(
            cert,
            SimpleCertificateStore.from_certs(list(chain)),
            signature_value=signature,
            embed_roots=False,
        )

    def _revocation_context(self) -> ValidationContext:
        return revocation_context(self._trust_roots, self._fetcher_backend)


def _present_fields(value: cms.SignerInfo | cms.SignedData) -> dict[str, object]:
    """The fields a parsed structure has, ready to build a copy (absent ones left out)."""
    return {
        name: value[name]
        for name, *_ in value._fields
        if not isinstance(value[name], core.Void)
    }


def _der_signature(value: bytes, cert: x509.Certificate) -> bytes:
    """ECDSA values as CMS wants them (DER); ``r‖s`` (WebCrypto, PKCS#11) is converted."""
    if cert.public_key.algorithm != "ec" or _is_der_sequence(value):
        return value
    size = (cert.public_key.bit_size + 7) // 8
    if len(value) != 2 * size:
        return value  # verification will say it does not verify
    r = int.from_bytes(value[:size], "big")
    s = int.from_bytes(value[size:], "big")
    return encode_dss_signature(r, s)


def _is_der_sequence(value: bytes) -> bool:
    try:
        algos.DSASignature.load(value).native  # noqa: B018 - parse now
    except (ValueError, TypeError):
        return False
    return True


def _parse_detached_cms(der: bytes) -> tuple[cms.SignedData, cms.SignerInfo]:
    try:
        info = cms.ContentInfo.load(der)
        if info["content_type"].native != "signed_data":
            raise ValueError(f"content type {info['content_type'].native}")
        signed_data = info["content"]
        signer_infos = signed_data["signer_infos"]
        encapsulated = signed_data["encap_content_info"]["content"].native
        count = len(signer_infos)
    except (ValueError, TypeError, KeyError) as exc:
        raise MalformedSignature(
            f"The answer is not a DER CMS ContentInfo with SignedData: {exc}",
            [ErrorDetail("/cms", "CMS SignedData (DER, base64) expected")],
        ) from exc
    if encapsulated is not None:
        raise SignedContentMismatch(
            "The CMS encapsulates its content; a PDF signature is detached (no eContent).",
            [ErrorDetail("/cms/encap_content_info/content", "must be absent")],
        )
    if count != 1:
        raise MalformedSignature(
            f"The CMS has {count} signers; exactly one is expected.",
            [ErrorDetail("/cms/signer_infos", "exactly one signer")],
        )
    return signed_data, signer_infos[0]


def _require_signer(
    signed_data: cms.SignedData, signer_info: cms.SignerInfo, cert: x509.Certificate
) -> None:
    """The CMS must name the prepared certificate, and carry no other under its name."""
    sid = signer_info["sid"]
    if sid.name == "issuer_and_serial_number":
        names_it = (
            sid.chosen["issuer"] == cert.issuer
            and sid.chosen["serial_number"].native == cert.serial_number
        )
    else:
        names_it = sid.chosen.native == cert.key_identifier
    impostors = [
        choice.chosen
        for choice in signed_data["certificates"] or []
        if choice.name == "certificate"
        and choice.chosen.issuer_serial == cert.issuer_serial
        and choice.chosen.dump() != cert.dump()
    ]
    if not names_it or impostors:
        raise CertificateMismatch(
            "The CMS is signed for a different certificate than the one this request was "
            f"prepared for (serial {format(cert.serial_number, 'x')}).",
            [ErrorDetail("/cms/signer_infos/0/sid", "not the prepared certificate")],
        )
