"""The signers configuration chooses — test PKI, PKCS#12 file, PKCS#11 token or an outside
party (external) — and the level each institution's journals are sealed at.

The factory asks this module for a :class:`SigningSetup`; the pipeline then only ever calls
``signer_for(edrpou)``. Everything that can be wrong with a key (missing file, wrong passphrase,
no trust anchor, no TSA for a timestamped level) is found here, at start-up, and reported as a
:class:`ConfigurationError` naming the setting to fix — not on the first upload of the day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from asn1crypto import x509
from pyhanko.sign.timestamps import HTTPTimeStamper, TimeStamper
from pyhanko_certvalidator.fetchers import FetcherBackend

from archive_service.config import EXTERNAL_SIGNER, ConfigurationError, Settings
from archive_service.errors import ArchiveError
from archive_service.signing import PadesSigner, TestPki
from archive_service.signing.certificates import load_certificates
from archive_service.signing.external import ExternalPadesSigner
from archive_service.signing.pkcs11_key import Pkcs11KeyConfig, pkcs11_pades_signer

#: Seconds to wait for a TSA before the ingest fails (and may be retried).
TSA_TIMEOUT_SECONDS = 10


@dataclass
class SigningSetup:
    """Signers per level, the roots validation trusts, and what renews archive timestamps."""

    trust_roots: list[x509.Certificate]
    #: Whether documents are sealed by the local TEST PKI (the title page then says so).
    test_pki: bool
    #: The TSA that renews archive timestamps (``archive-service retimestamp``).
    renewal_timestamper: TimeStamper | None
    #: Where revocation data comes from; ``None`` means pyHanko's HTTP fetchers.
    fetcher_backend: FetcherBackend | None
    make_signer: Callable[[str], PadesSigner]
    level_for: Callable[[str], str]
    #: The TSA for signatures of a level (``None`` for B-B).
    timestamper_for: Callable[[str], TimeStamper | None]
    #: Signer kind per institution (EDRPOU → ``external`` or the deployment's own kind).
    kind_for: Callable[[str], str] = field(default=lambda _edrpou: "")
    #: Makes the outside party's signer for a level; ``None`` when no institution uses one.
    make_external: Callable[[str], ExternalPadesSigner] | None = None
    #: The TSA that timestamps the audit log's chain head (the seal's TSA; with a key of our
    #: own, ``ARCHIVE_TSA_URL`` or else the renewal TSA); None when none is configured.
    audit_timestamper: TimeStamper | None = None
    _signers: dict[str, PadesSigner] = field(default_factory=dict)
    _external: dict[str, ExternalPadesSigner] = field(default_factory=dict)

    def signer_for(self, edrpou: str) -> PadesSigner | ExternalPadesSigner:
        """The signer for an institution's journals, at the level configured for it.

        An :class:`ExternalPadesSigner` holds no key: the pipeline prepares documents with it
        and finishes them when the outside party answers.
        """
        level = self.level_for(edrpou)
        if self.kind_for(edrpou) == EXTERNAL_SIGNER:
            return self.external_signer(level)
        if level not in self._signers:
            self._signers[level] = self.make_signer(level)
        return self._signers[level]

    def external_signer(self, level: str) -> ExternalPadesSigner:
        if self.make_external is None:
            raise ConfigurationError("No institution is configured for the external signer.")
        if level not in self._external:
            self._external[level] = self.make_external(level)
        return self._external[level]


def build_signing(settings: Settings) -> SigningSetup:
    """Read keys and trust anchors the settings name; fail at start-up if any is unusable."""
    anchors = load_trust_anchors(settings.trust_anchors_dir)
    if settings.signer == "test-pki":
        setup = _test_pki_setup(settings, anchors)
    else:
        setup = _key_setup(settings, anchors)
    setup.kind_for = settings.signer_kind_for
    if settings.uses_external_signer:
        setup.make_external = _external_signers(settings, setup)
    # Open the key now: a wrong passphrase or PIN must stop the start, not the first upload.
    for level in {settings.signature_level, *settings.signature_level_by_institution.values()}:
        try:
            if settings.signer != EXTERNAL_SIGNER:
                setup._signers[level] = setup.make_signer(level)
            if setup.make_external is not None:
                setup.external_signer(level)
        except ArchiveError as exc:
            raise ConfigurationError(
                f"The {settings.signer} signer could not be opened: {exc.message}"
            ) from exc
    return setup


def _test_pki_setup(settings: Settings, anchors: list[x509.Certificate]) -> SigningSetup:
    pki = TestPki.load_or_create(settings.resolved_pki_dir)
    return SigningSetup(
        trust_roots=[pki.root_cert, *anchors],
        test_pki=True,
        renewal_timestamper=pki.timestamper(renewal=True),
        fetcher_backend=pki.fetcher_backend(),
        make_signer=pki.signer,
        level_for=settings.signature_level_for,
        timestamper_for=lambda level: pki.timestamper() if level != "B-B" else None,
        audit_timestamper=pki.timestamper(),
    )


def _external_signers(
    settings: Settings, setup: SigningSetup
) -> Callable[[str], ExternalPadesSigner]:
    """The outside party's certificate (first in the PEM file) and chain, read at start-up."""
    setting = "ARCHIVE_EXTERNAL_SIGNER_CERTIFICATE"
    if not settings.external_signer_certificate:
        raise ConfigurationError(
            f"The external signer needs {setting}: a PEM file with the outside party's signing "
            "certificate first, then its intermediate certificates."
        )
    certificates = _read_certificates(Path(settings.external_signer_certificate), setting)
    if not certificates:
        raise ConfigurationError(
            f"{setting}: {settings.external_signer_certificate} holds no certificate."
        )
    certificate, *chain = certificates

    def make(level: str) -> ExternalPadesSigner:
        return ExternalPadesSigner(
            certificate,
            chain,
            timestamper=setup.timestamper_for(level),
            trust_roots=setup.trust_roots,
            level=level,
            fetcher_backend=setup.fetcher_backend,
            valid_for=dt.timedelta(days=settings.signing_request_days),
        )

    return make


def _key_setup(settings: Settings, anchors: list[x509.Certificate]) -> SigningSetup:
    if not anchors:
        raise ConfigurationError(
            f"ARCHIVE_SIGNER={settings.signer} needs the roots that validation may trust: set "
            "ARCHIVE_TRUST_ANCHORS_DIR to a folder of root certificates (PEM or DER)."
        )
    levels = {settings.signature_level, *settings.signature_level_by_institution.values()}
    if levels != {"B-B"} and not settings.tsa_url:
        raise ConfigurationError(
            "Signature levels B-T and above need a time-stamping service: set ARCHIVE_TSA_URL "
            "to the RFC 3161 address of your qualified TSA."
        )

    def timestamper(level: str) -> TimeStamper | None:
        if level == "B-B":
            return None
        return HTTPTimeStamper(settings.tsa_url, timeout=TSA_TIMEOUT_SECONDS)

    if settings.signer == "pkcs12":
        make_signer = _pkcs12_signers(settings, anchors, timestamper)
    elif settings.signer == EXTERNAL_SIGNER:
        make_signer = _no_key_of_our_own
    else:
        make_signer = _pkcs11_signers(settings, anchors, timestamper)
    renewal_url = settings.renewal_tsa_url or settings.tsa_url
    audit_url = settings.tsa_url or settings.renewal_tsa_url
    return SigningSetup(
        trust_roots=anchors,
        test_pki=False,
        renewal_timestamper=(
            HTTPTimeStamper(renewal_url, timeout=TSA_TIMEOUT_SECONDS) if renewal_url else None
        ),
        fetcher_backend=None,
        make_signer=make_signer,
        level_for=settings.signature_level_for,
        timestamper_for=timestamper,
        audit_timestamper=(
            HTTPTimeStamper(audit_url, timeout=TSA_TIMEOUT_SECONDS) if audit_url else None
        ),
    )


def _no_key_of_our_own(level: str) -> PadesSigner:
    raise ConfigurationError(
        "ARCHIVE_SIGNER=external: every document is signed by the outside party; the archive "
        "holds no key of its own."
    )


def _pkcs12_signers(
    settings: Settings,
    anchors: list[x509.Certificate],
    timestamper: Callable[[str], TimeStamper | None],
) -> Callable[[str], PadesSigner]:
    if not settings.pkcs12_file:
        raise ConfigurationError("ARCHIVE_SIGNER=pkcs12 needs ARCHIVE_PKCS12_FILE (the key file).")
    passphrase = (
        read_secret(settings.pkcs12_passphrase_file, "ARCHIVE_PKCS12_PASSPHRASE_FILE")
        if settings.pkcs12_passphrase_file
        else None
    )

    def make(level: str) -> PadesSigner:
        return PadesSigner.from_pkcs12(
            settings.pkcs12_file,
            passphrase,
            timestamper=timestamper(level),
            trust_roots=anchors,
            level=level,
        )

    return make


def _pkcs11_signers(
    settings: Settings,
    anchors: list[x509.Certificate],
    timestamper: Callable[[str], TimeStamper | None],
) -> Callable[[str], PadesSigner]:
    missing = [
        name
        for name, value in (
            ("ARCHIVE_PKCS11_MODULE", settings.pkcs11_module),
            ("ARCHIVE_PKCS11_TOKEN", settings.pkcs11_token),
            ("ARCHIVE_PKCS11_KEY", settings.pkcs11_key),
            ("ARCHIVE_PKCS11_PIN_FILE", settings.pkcs11_pin_file),
        )
        if not value
    ]
    if missing:
        raise ConfigurationError(f"ARCHIVE_SIGNER=pkcs11 needs {', '.join(missing)}.")
    key = Pkcs11KeyConfig(
        module_path=settings.pkcs11_module,
        token_label=settings.pkcs11_token,
        key_label=settings.pkcs11_key,
        pin_file=settings.pkcs11_pin_file,
        certificate_file=settings.signer_certificate or None,
        chain_file=settings.signer_chain or None,
    )

    def make(level: str) -> PadesSigner:
        return pkcs11_pades_signer(
            key,
            timestamper=timestamper(level),
            trust_roots=anchors,
            level=level,
            qualified=settings.pkcs11_qualified,
        )

    return make


def read_secret(path: str, setting: str) -> bytes:
    """A passphrase or PIN from its file, without the trailing newline editors add."""
    try:
        return Path(path).read_bytes().rstrip(b"\r\n")
    except OSError as exc:
        raise ConfigurationError(f"{setting}: {path} cannot be read ({exc.strerror}).") from exc


def load_trust_anchors(folder: str) -> list[x509.Certificate]:
    """Every certificate in ``folder`` (PEM, possibly several per file, or DER)."""
    if not folder:
        return []
    directory = Path(folder)
    if not directory.is_dir():
        raise ConfigurationError(f"ARCHIVE_TRUST_ANCHORS_DIR: {folder} is not a folder.")
    anchors: list[x509.Certificate] = []
    for path in sorted(directory.iterdir()):
        if path.is_file() and not path.name.startswith("."):
            anchors.extend(_read_certificates(path, "ARCHIVE_TRUST_ANCHORS_DIR"))
    return anchors


def _read_certificates(path: Path, setting: str) -> list[x509.Certificate]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"{setting}: {path} cannot be read ({exc.strerror}).") from exc
    try:
        return load_certificates(data)
    except ValueError as exc:
        raise ConfigurationError(
            f"{setting}: {path} is not a certificate in PEM or DER ({exc})."
        ) from exc
