"""At which moment each piece of a signed PDF's evidence is judged, and whether it holds then.

This is the time line of ETSI EN 319 102-1 (past signature validation), reduced to what PAdES
baseline documents carry:

* A timestamp token proves that the bytes it covers existed at its time (a *proof of
  existence*, POE) as long as the token itself can be trusted: its TSA's chain was valid and
  not revoked **at the token's own time** (judged with the revocation data the document
  carries, whenever it was issued), and that chain has not expired by the moment a *later*
  POE covers the token — or, for the newest one, by the validation time.
* The newest trustworthy archive (document) timestamp therefore proves the whole revision it
  covers — the signature, its signature timestamp, the DSS — existed at its time; older ones
  move the proof further back, as long as each was renewed before its TSA expired.
* The signature timestamp gives the signature its *best signature time*; the signer's chain
  is judged at that moment, with revocation freshness judged then, not "now".

So a verdict depends on the validation time only through "has the newest timestamp's chain
expired yet?": it is monotonic — once valid, valid until the newest TSA certificate expires.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from asn1crypto import cms, crl, ocsp, x509
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.sign.validation.generic_cms import extract_tst_data_iter
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.fetchers.api import FetcherBackend
from pyhanko_certvalidator.path import ValidationPath
from pyhanko_certvalidator.policy_decl import CertRevTrustPolicy, RevocationCheckingPolicy


@dataclass(frozen=True)
class EvidenceSources:
    """Trust roots and the validation data a document carries (plus fetching, if allowed).

    Every check gets a fresh :class:`ValidationContext` for its own moment: contexts cache
    what they concluded, and a conclusion at one moment says nothing about another.
    """

    roots: tuple[x509.Certificate, ...]
    certificates: tuple[x509.Certificate, ...] = ()
    crls: tuple[crl.CertificateList, ...] = ()
    ocsps: tuple[ocsp.OCSPResponse, ...] = ()
    allow_fetching: bool = False
    fetcher_backend: FetcherBackend | None = None

    @classmethod
    def from_dss(
        cls,
        roots: Sequence[x509.Certificate],
        dss: DocumentSecurityStore | None,
        *,
        allow_fetching: bool = False,
        fetcher_backend: FetcherBackend | None = None,
    ) -> EvidenceSources:
        certificates: list[x509.Certificate] = []
        crls: list[crl.CertificateList] = []
        ocsps: list[ocsp.OCSPResponse] = []
        if dss is not None:
            certificates = list(dss.load_certs())
            loaded = dss.as_validation_context({"trust_roots": list(roots)})
            crls = list(loaded.crls)
            ocsps = list(loaded.ocsps)
        return cls(
            tuple(roots), tuple(certificates), tuple(crls), tuple(ocsps),
            allow_fetching, fetcher_backend,
        )

    @property
    def has_revocation_data(self) -> bool:
        return bool(self.crls or self.ocsps)

    def has_revocation_data_for(self, cert: x509.Certificate) -> bool:
        """Whether an OCSP response about ``cert`` or a CRL by its issuer is at hand.

        Only presence: whether the data is valid, and for when, is the validator's question.
        """
        if any(True for _ in self._ocsp_answers(cert)):
            return True
        return any(crl_["tbs_cert_list"]["issuer"] == cert.issuer for crl_ in self.crls)

    def revocation_time(self, cert: x509.Certificate) -> dt.datetime | None:
        """The earliest revocation of ``cert`` that any OCSP response or CRL at hand reports.

        Used to name a failure, never to pass a signature: the validator checks the data's
        signatures; this only reads what the data claims.
        """
        found = []
        for answer in self._ocsp_answers(cert):
            status = answer["cert_status"]
            if status.name == "revoked":
                found.append(utc(status.chosen["revocation_time"].native))
        for crl_ in self.crls:
            tbs = crl_["tbs_cert_list"]
            if tbs["issuer"] != cert.issuer:
                continue
            for entry in tbs["revoked_certificates"]:
                if entry["user_certificate"].native == cert.serial_number:
                    found.append(utc(entry["revocation_date"].native))
        return min(found) if found else None

    def _ocsp_answers(self, cert: x509.Certificate) -> Iterator[ocsp.SingleResponse]:
        for response in self.ocsps:
            try:
                basic = response["response_bytes"]["response"].parsed
                answers = basic["tbs_response_data"]["responses"]
            except (KeyError, TypeError, ValueError):
                continue
            for answer in answers:
                if answer["cert_id"]["serial_number"].native == cert.serial_number:
                    yield answer

    def chain_by_name(
        self, cert: x509.Certificate, others: Sequence[x509.Certificate] = ()
    ) -> list[x509.Certificate] | None:
        """``cert``'s issuers up to a trust root, matched by name only, or ``None``.

        Dates and signatures are the validator's business; this only tells "no chain to a
        trust root at all" apart from "a chain that does not hold at that moment".
        """
        pool = [*self.roots, *self.certificates, *others]
        chain = [cert]
        while len(chain) <= 8:
            current = chain[-1]
            if any(current.dump() == root.dump() for root in self.roots):
                return chain
            if current.self_signed != "no":  # a root we were not given
                return None
            issuer = next((c for c in pool if c.subject == current.issuer), None)
            if issuer is None or any(issuer.dump() == seen.dump() for seen in chain):
                return None
            chain.append(issuer)
        return None

    def context(self, moment: dt.datetime, *, revocation: bool) -> ValidationContext:
        """A context judging chains at ``moment``.

        :param revocation: require revocation data for every certificate that names a source
            for it (hard-fail), accepting data issued after ``moment`` (it still says whether
            the certificate was revoked then). Without it, only the chain is judged: no
            revocation data is given at all, since pyHanko rejects stale data even in
            soft-fail mode.
        """
        policy = CertRevTrustPolicy(
            RevocationCheckingPolicy.from_legacy("hard-fail" if revocation else "soft-fail"),
            retroactive_revinfo=True,
        )
        kwargs: dict[str, Any] = {
            "trust_roots": list(self.roots),
            "other_certs": list(self.certificates),
            "crls": list(self.crls) if revocation else [],
            "ocsps": list(self.ocsps) if revocation else [],
            "moment": moment,
            "revinfo_policy": policy,
            "allow_fetching": self.allow_fetching and revocation,
        }
        if revocation and self.allow_fetching and self.fetcher_backend is not None:
            kwargs["fetcher_backend"] = self.fetcher_backend
        return ValidationContext(**kwargs)


@dataclass(frozen=True)
class TokenCheck:
    """One timestamp token judged at its own time."""

    time: dt.datetime | None
    #: The imprint matches and the token's signature verifies.
    intact: bool
    #: The TSA's chain was valid and not revoked at :attr:`time`.
    trusted_then: bool
    #: The earliest ``notAfter`` on the TSA's validated chain.
    chain_expires: dt.datetime | None

    def holds_at(self, moment: dt.datetime) -> bool:
        """Whether the token is still evidence when a later POE (or the validator) looks."""
        return (
            self.intact
            and self.trusted_then
            and self.chain_expires is not None
            and moment <= self.chain_expires
        )


def rolling_proofs(checks: Sequence[TokenCheck], validation_time: dt.datetime) -> list[dt.datetime]:
    """For archive timestamps oldest first: the POE each one's covered revision has.

    ``result[i]`` is the earliest moment that timestamps ``i`` and newer prove for what
    timestamp ``i`` covers (``validation_time`` when none of them holds). A timestamp that
    does not hold is skipped, not fatal: the ones before it are then judged against the
    next-newer proof.
    """
    proofs = [validation_time] * len(checks)
    proof = validation_time
    for index in range(len(checks) - 1, -1, -1):
        check = checks[index]
        if check.time is not None and check.holds_at(proof):
            proof = check.time
        proofs[index] = proof
    return proofs


def proof_before(
    check: TokenCheck, proofs: Sequence[dt.datetime], index: int, validation_time: dt.datetime
) -> dt.datetime:
    """The moment timestamp ``index`` must still hold at: the next-newer proof."""
    return proofs[index + 1] if index + 1 < len(proofs) else validation_time


def path_expiry(path: ValidationPath | None) -> dt.datetime | None:
    """The earliest ``notAfter`` of the certificates on ``path`` (its trust anchor included)."""
    if path is None:
        return None
    ends = [not_after(cert) for cert in path.iter_certs(include_root=True)]
    return min(ends) if ends else None


def not_after(cert: x509.Certificate) -> dt.datetime:
    return utc(cert["tbs_certificate"]["validity"]["not_after"].native)


def not_before(cert: x509.Certificate) -> dt.datetime:
    return utc(cert["tbs_certificate"]["validity"]["not_before"].native)


def signature_timestamp_token(signature: EmbeddedPdfSignature) -> cms.SignedData | None:
    """The signature timestamp token's ``SignedData``, if the signature has one."""
    tokens = list(extract_tst_data_iter(signature.signer_info, signed=False))
    return tokens[-1] if tokens else None


def token_time(signed_data: cms.SignedData) -> dt.datetime | None:
    """The time a timestamp token certifies (``genTime``), in UTC."""
    tst_info = signed_data["encap_content_info"]["content"].parsed
    moment = tst_info["gen_time"].native
    return utc(moment) if moment is not None else None


def utc(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)
