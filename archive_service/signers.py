"""The signers configuration chooses — test PKI, PKCS#12 file, PKCS#11 token or an outside
party (external) — and the level each institution's journals are sealed at.

The one place where configuration picks sealing backends (``archive_service.signing.backends``):
the factory asks :func:`build_sealing` for a :class:`~archive_service.signing.sealing.Sealing`,
and the archive then only ever calls ``sealing.sealer_for(edrpou)``. Everything that can be wrong
with a key (missing file, wrong passphrase, no trust anchor, no TSA for a timestamped level) is
found here, at start-up, and reported as a :class:`ConfigurationError` naming the setting to fix
— not on the first upload of the day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import x509
from pyhanko.sign.timestamps import HTTPTimeStamper, TimeStamper
from pyhanko_certvalidator.fetchers import FetcherBackend

from archive_service.config import EXTERNAL_SIGNER, ConfigurationError, Settings
from archive_service.errors import ArchiveError
from archive_service.signing.backends.external import ExternalPadesSigner
from archive_service.signing.backends.pkcs11 import Pkcs11KeyConfig, pkcs11_sealer
from archive_service.signing.backends.pkcs12 import pkcs12_sealer
from archive_service.signing.backends.test_pki import sealer_with_test_pki
from archive_service.signing.certificates import load_certificates
from archive_service.signing.sealing import Sealer, Sealing
from archive_service.signing.test_pki import TestPki

#: Seconds to wait for a TSA before the ingest fails (and may be retried).
TSA_TIMEOUT_SECONDS = 10

#: Makes a backend's sealer for a PAdES level.
SealerFactory = Callable[[str], Sealer]


@dataclass(frozen=True)
class _Services:
    """What every backend seals with: trust, TSAs and revocation fetching."""

    trust_roots: list[x509.Certificate]
    #: The TSA for signatures of a level (``None`` for B-B).
    timestamper_for: Callable[[str], TimeStamper | None]
    renewal_timestamper: TimeStamper | None
    audit_timestamper: TimeStamper | None
    #: Where revocation data comes from; ``None`` means pyHanko's HTTP fetchers.
    fetcher_backend: FetcherBackend | None
    #: Set when the local TEST PKI provides all of the above.
    test_pki: TestPki | None = None


def build_sealing(settings: Settings) -> Sealing:
    """Read keys and trust anchors the settings name; fail at start-up if any is unusable."""
    services = _services(settings, load_trust_anchors(settings.trust_anchors_dir))
    kinds = [settings.signer]
    if settings.uses_external_signer and settings.signer != EXTERNAL_SIGNER:
        kinds.append(EXTERNAL_SIGNER)
    factories = {kind: _BACKENDS[kind](settings, services) for kind in kinds}
    sealers: dict[tuple[str, str], Sealer] = {}

    def sealer(kind: str, level: str) -> Sealer:
        # Opened now: a wrong passphrase or PIN must stop the start, not the first upload.
        if (kind, level) not in sealers:
            try:
                sealers[kind, level] = factories[kind](level)
            except ArchiveError as exc:
                raise ConfigurationError(
                    f"The {settings.signer} signer could not be opened: {exc.message}"
                ) from exc
        return sealers[kind, level]

    default = sealer(settings.signer, settings.signature_level)
    exceptions = {*settings.signer_by_institution, *settings.signature_level_by_institution}
    return Sealing(
        default=default,
        by_institution={
            edrpou: sealer(settings.signer_kind_for(edrpou), settings.signature_level_for(edrpou))
            for edrpou in sorted(exceptions)
        },
        trust_roots=services.trust_roots,
        renewal_timestamper=services.renewal_timestamper,
        audit_timestamper=services.audit_timestamper,
        fetcher_backend=services.fetcher_backend,
        test_pki=services.test_pki is not None,
    )


# ------------------------------------------------------------------ trust and TSAs


def _services(settings: Settings, anchors: list[x509.Certificate]) -> _Services:
    if settings.signer == "test-pki":
        pki = TestPki.load_or_create(settings.resolved_pki_dir)
        return _Services(
            trust_roots=[pki.root_cert, *anchors],
            timestamper_for=lambda level: pki.timestamper() if level != "B-B" else None,
            renewal_timestamper=pki.timestamper(renewal=True),
            audit_timestamper=pki.timestamper(),
            fetcher_backend=pki.fetcher_backend(),
            test_pki=pki,
        )
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
    renewal_url = settings.renewal_tsa_url or settings.tsa_url
    audit_url = settings.tsa_url or settings.renewal_tsa_url
    return _Services(
        trust_roots=anchors,
        timestamper_for=lambda level: _http_timestamper(settings.tsa_url if level != "B-B" else ""),
        renewal_timestamper=_http_timestamper(renewal_url),
        audit_timestamper=_http_timestamper(audit_url),
        fetcher_backend=None,
    )


def _http_timestamper(url: str) -> TimeStamper | None:
    return HTTPTimeStamper(url, timeout=TSA_TIMEOUT_SECONDS) if url else None


# ------------------------------------------------------------------------ backends


def _test_pki_sealers(settings: Settings, services: _Services) -> SealerFactory:
    pki = services.test_pki
    assert pki is not None  # _services loads it for ARCHIVE_SIGNER=test-pki
    return lambda level: sealer_with_test_pki(pki, level)


def _pkcs12_sealers(settings: Settings, services: _Services) -> SealerFactory:
    if not settings.pkcs12_file:
        raise ConfigurationError("ARCHIVE_SIGNER=pkcs12 needs ARCHIVE_PKCS12_FILE (the key file).")
    passphrase = (
        read_secret(settings.pkcs12_passphrase_file, "ARCHIVE_PKCS12_PASSPHRASE_FILE")
        if settings.pkcs12_passphrase_file
        else None
    )
    return lambda level: pkcs12_sealer(
        settings.pkcs12_file,
        passphrase,
        timestamper=services.timestamper_for(level),
        trust_roots=services.trust_roots,
        level=level,
    )


def _pkcs11_sealers(settings: Settings, services: _Services) -> SealerFactory:
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
    return lambda level: pkcs11_sealer(
        key,
        timestamper=services.timestamper_for(level),
        trust_roots=services.trust_roots,
        level=level,
        qualified=settings.pkcs11_qualified,
    )


def _external_sealers(settings: Settings, services: _Services) -> SealerFactory:
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
    return lambda level: ExternalPadesSigner(
        certificate,
        chain,
        timestamper=services.timestamper_for(level),
        trust_roots=services.trust_roots,
        level=level,
        fetcher_backend=services.fetcher_backend,
        valid_for=dt.timedelta(days=settings.signing_request_days),
    )


#: ``ARCHIVE_SIGNER`` (and ``external`` per institution) → what makes that backend's sealers.
_BACKENDS: dict[str, Callable[[Settings, _Services], SealerFactory]] = {
    "test-pki": _test_pki_sealers,
    "pkcs12": _pkcs12_sealers,
    "pkcs11": _pkcs11_sealers,
    EXTERNAL_SIGNER: _external_sealers,
}


# ------------------------------------------------------------------------- files


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
