"""Settings: one typed object built from defaults, the environment and test overrides.

Every setting has an environment variable ``ARCHIVE_<NAME>`` so that the same image runs the
embedded default on a laptop and a production deployment, configured only from outside.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from archive_service.errors import ArchiveError
from archive_service.signing.pades import LEVELS as SIGNATURE_LEVELS

#: The kinds of signer configuration can choose (README "Signing keys"). ``external``: an
#: outside party signs each document (README "External signing").
SIGNERS = ("test-pki", "pkcs12", "pkcs11", "external")
#: The one signer kind an institution may choose apart from the deployment's own signer: the
#: key signers hold one key per deployment, an external signer holds none.
EXTERNAL_SIGNER = "external"


class ConfigurationError(ArchiveError):
    """The service cannot start with this configuration; the message says which setting to fix."""

    code = "configuration_error"


def _default_retention() -> dict[str, int]:
    # Placeholder until the institution sets its own: class journals are kept for 5 years after
    # the school year in the typical nomenclature of school cases; see README "Retention".
    return {"class_journal": 5}


@dataclass(frozen=True)
class Settings:
    """Everything the service reads from its environment.

    Relative paths are resolved against ``data_dir`` so that ``./var`` holds the whole embedded
    installation (database, objects, test PKI).
    """

    #: Folder for the embedded default's state.
    data_dir: Path = Path("var")
    #: SQLAlchemy URL; default ``sqlite:///<data_dir>/archive.sqlite3``.
    database_url: str = ""
    #: ``file:///...`` or a path (embedded write-once store); default ``<data_dir>/objects``.
    storage_url: str = ""
    #: Folder of the locally generated test PKI (embedded default).
    pki_dir: str = ""
    #: Who seals: ``test-pki`` (the embedded default's local TEST PKI), ``pkcs12`` (a key file)
    #: or ``pkcs11`` (a key on an HSM or token). See README "Signing keys".
    signer: str = "test-pki"
    #: Institutions (EDRPOU) whose journals an outside party signs instead of ``signer``:
    #: ``26453182=external,…`` (``external`` is the only value allowed here).
    signer_by_institution: Mapping[str, str] = field(default_factory=dict)
    #: ``external``: PEM file with the outside party's signing certificate first, then its
    #: intermediate certificates. Documents are prepared for this certificate only.
    external_signer_certificate: str = ""
    #: ``external``: days a prepared document waits for its signature before it expires.
    signing_request_days: int = 7
    #: PAdES level to produce: ``B-B``, ``B-T``, ``B-LT`` or ``B-LTA`` (long-term archival).
    signature_level: str = "B-LTA"
    #: Per-institution exceptions, EDRPOU → level (``26453182=B-T,…``).
    signature_level_by_institution: Mapping[str, str] = field(default_factory=dict)
    #: ``pkcs12``: the key file, and a file holding its passphrase (never the passphrase itself).
    pkcs12_file: str = ""
    pkcs12_passphrase_file: str = ""
    #: ``pkcs11``: the module (.so), token label, key label, and a file holding the user PIN.
    pkcs11_module: str = ""
    pkcs11_token: str = ""
    pkcs11_key: str = ""
    pkcs11_pin_file: str = ""
    #: ``pkcs11``: whether the token is a qualified device (QSCD) and its certificate qualified —
    #: recorded with every version; nothing else can tell.
    pkcs11_qualified: bool = False
    #: ``pkcs11``: PEM of the key's certificate when it is not stored on the token, and a PEM
    #: bundle of the intermediate certificates up to (not including) the root.
    signer_certificate: str = ""
    signer_chain: str = ""
    #: RFC 3161 time-stamping service for B-T and above (``pkcs12``/``pkcs11``), and the one
    #: that renews archive timestamps (default: the same).
    tsa_url: str = ""
    renewal_tsa_url: str = ""
    #: Folder of trusted root certificates (PEM or DER, one per file) that validation accepts;
    #: the test PKI's root is added when ``signer=test-pki``.
    trust_anchors_dir: str = ""
    #: Years to retain each document kind after the end of its school year.
    retention_years: Mapping[str, int] = field(default_factory=_default_retention)
    #: PDF/A profile of rendered journals: ``PDF/A-3u`` (export embedded), ``PDF/A-3a`` (also
    #: tagged) or ``PDF/A-1b``.
    pdf_profile: str = "PDF/A-3u"
    #: Per-institution exceptions, EDRPOU → profile (``ARCHIVE_PDF_PROFILE_BY_INSTITUTION=
    #: 26453182=PDF/A-1b,…``), for institutions that follow the national PDF/A-1 rule.
    pdf_profile_by_institution: Mapping[str, str] = field(default_factory=dict)
    #: Largest accepted upload in bytes.
    max_upload_bytes: int = 32 * 1024 * 1024
    #: Require ``X-Purpose`` on every retrieval by an inspector.
    require_purpose: bool = False
    #: Render in a recycled worker process (protects long-running servers from Typst's memory
    #: growth); tests may render in-process.
    render_in_process: bool = False
    #: Cap on one rendering worker process's memory (data segment), in MiB; 0: no cap. A journal
    #: that needs more is refused (413 too_large_to_render) instead of exhausting the machine.
    render_memory_mb: int = 1024
    #: Page size for list endpoints.
    page_size: int = 50
    #: Write the audit chain head to the object store every this many events (0 = only on
    #: shutdown and on demand).
    audit_checkpoint_every: int = 1000
    #: Years each audit checkpoint object is retained (locked) in the object store.
    audit_checkpoint_retention_years: int = 10
    #: The audit anchoring window: while events arrive, every process that appends them anchors
    #: the chain head (a checkpoint with an RFC 3161 timestamp) at least this often, in seconds;
    #: ``audit verify`` expects every older event to be covered (README "Audit log").
    audit_anchor_seconds: int = 60

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'archive.sqlite3').resolve()}"

    @property
    def resolved_storage_url(self) -> str:
        return self.storage_url or str((self.data_dir / "objects").resolve())

    @property
    def resolved_pki_dir(self) -> Path:
        return Path(self.pki_dir) if self.pki_dir else (self.data_dir / "pki").resolve()

    def pdf_profile_for(self, edrpou: str) -> str:
        return self.pdf_profile_by_institution.get(edrpou, self.pdf_profile)

    def signer_kind_for(self, edrpou: str) -> str:
        """The signer kind for an institution's journals (``signer`` unless it is external)."""
        return self.signer_by_institution.get(edrpou, self.signer)

    @property
    def uses_external_signer(self) -> bool:
        return EXTERNAL_SIGNER in {self.signer, *self.signer_by_institution.values()}

    def signature_level_for(self, edrpou: str) -> str:
        return self.signature_level_by_institution.get(edrpou, self.signature_level)

    def retention_for(self, kind: str) -> int:
        try:
            return int(self.retention_years[kind])
        except KeyError:
            raise ConfigurationError(
                f"No retention period is configured for document kind {kind!r}; "
                f"set ARCHIVE_RETENTION_YEARS (e.g. '{kind}=5')."
            ) from None


#: Smallest cap on a rendering worker: Typst, the fonts and a small journal fit in ~90 MiB.
MIN_RENDER_MEMORY_MB = 128

_BOOL_TRUE = {"1", "true", "yes", "on"}
_BOOL_FALSE = {"0", "false", "no", "off", ""}


def _parse_bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in _BOOL_TRUE:
        return True
    if value in _BOOL_FALSE:
        return False
    raise ConfigurationError(f"ARCHIVE_{name.upper()} must be true or false, not {raw!r}.")


def _parse_mapping(name: str, raw: str, example: str) -> dict[str, str]:
    """``key=value,key=value`` as used by the mapping settings."""
    result: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in raw.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ConfigurationError(
                f"ARCHIVE_{name.upper()} entries look like {example!r}, not {item!r}."
            )
        result[key.strip()] = value.strip()
    return result


def _parse_retention(name: str, raw: str) -> dict[str, int]:
    years = _parse_mapping(name, raw, "class_journal=5")
    bad = [f"{k}={v}" for k, v in years.items() if not v.isdigit()]
    if bad:
        raise ConfigurationError(
            f"ARCHIVE_{name.upper()} needs whole years, as in 'class_journal=5', not {bad[0]!r}."
        )
    return {kind: int(value) for kind, value in years.items()}


def _coerce(name: str, current: object, raw: str) -> object:
    if isinstance(current, bool):
        return _parse_bool(name, raw)
    if isinstance(current, int):
        try:
            return int(raw)
        except ValueError:
            raise ConfigurationError(f"ARCHIVE_{name.upper()} must be a whole number.") from None
    if isinstance(current, Path):
        return Path(raw)
    if name == "retention_years":
        return _parse_retention(name, raw)
    if isinstance(current, Mapping):
        return _parse_mapping(name, raw, "26453182=PDF/A-1b")
    return raw


def load_settings(
    environ: Mapping[str, str] | None = None, overrides: Mapping[str, object] | None = None
) -> Settings:
    """Build settings from defaults, then ``ARCHIVE_*`` variables, then explicit overrides."""
    env = os.environ if environ is None else environ
    settings = Settings()
    # Field name → value, each of its field's type (_coerce parses to the default's type), which
    # only the name decides: no static type narrower than Any describes the mapping.
    values: dict[str, Any] = {}
    for f in fields(Settings):
        raw = env.get(f"ARCHIVE_{f.name.upper()}")
        if raw is not None:
            values[f.name] = _coerce(f.name, getattr(settings, f.name), raw)
    values.update(overrides or {})
    settings = replace(settings, **values)
    _check_choice("signature_level", settings.signature_level, SIGNATURE_LEVELS)
    for level in settings.signature_level_by_institution.values():
        _check_choice("signature_level_by_institution", level, SIGNATURE_LEVELS)
    _check_choice("signer", settings.signer, SIGNERS)
    for kind in settings.signer_by_institution.values():
        _check_choice("signer_by_institution", kind, (EXTERNAL_SIGNER,))
    if settings.render_memory_mb != 0 and settings.render_memory_mb < MIN_RENDER_MEMORY_MB:
        raise ConfigurationError(
            f"ARCHIVE_RENDER_MEMORY_MB must be 0 (no cap) or at least {MIN_RENDER_MEMORY_MB}: "
            "a rendering worker needs that much before it lays out anything."
        )
    if settings.signing_request_days < 1:
        raise ConfigurationError("ARCHIVE_SIGNING_REQUEST_DAYS must be at least 1.")
    if settings.audit_anchor_seconds < 1:
        raise ConfigurationError(
            "ARCHIVE_AUDIT_ANCHOR_SECONDS must be at least 1: the audit chain head is anchored "
            "that often while events arrive."
        )
    return settings


def _check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigurationError(
            f"ARCHIVE_{name.upper()} must be one of {', '.join(allowed)}, not {value!r}."
        )
