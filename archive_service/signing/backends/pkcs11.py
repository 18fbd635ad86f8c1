"""Signing with a key that lives on a PKCS#11 token or HSM, through pyHanko's ``PKCS11Signer``.

The private key never enters this process: the token signs, the service only sends it digests.
What this module adds to pyHanko is the part a service needs around it:

- **One logged-in session per token per process.** PKCS#11 keeps the login state per
  application, not per session: a second ``C_Login`` fails (``UserAlreadyLoggedIn``) and a
  second session silently shares the first one's login. So sessions are opened once, kept in a
  process-wide registry, and shared by every signer on that token. After ``fork()`` the child
  re-initialises the module and opens its own session (the parent's handles are not its own).
- **Serialised token access.** A PKCS#11 session must not be used by two threads at once;
  every call that touches it (object look-up, signing) holds the session's lock.
- **Errors a person can act on**, each a :class:`Pkcs11KeyError` (a :class:`SigningError`):
  module not found, token not found, PIN rejected, key not found, certificate that does not
  belong to the key. The PIN is read from a file or an environment variable at the moment the
  session is opened and is never logged or put into a message.
- **Proof before use.** Opening a signer makes one test signature on the token and verifies it
  with the configured certificate's public key, so a certificate for another key is refused
  before any document is signed with it. A key that could leave the token (extractable or not
  sensitive) is refused too, unless the configuration explicitly allows it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pkcs11
from asn1crypto import x509
from cryptography.exceptions import InvalidSignature
from pkcs11 import Attribute, ObjectClass
from pkcs11.types import SignMixin
from pyhanko.sign.pkcs11 import PKCS11Signer, select_pkcs11_signing_params
from pyhanko.sign.timestamps import TimeStamper
from pyhanko_certvalidator.fetchers.api import FetcherBackend
from pyhanko_certvalidator.sig_validate import DefaultSignatureValidator

from archive_service.signing._sync import run_sync
from archive_service.signing.backends.key import KeySealer
from archive_service.signing.certificates import CertificateLike, load_certificates, subject_text
from archive_service.signing.errors import SigningError
from archive_service.signing.pades import PadesSigner

if TYPE_CHECKING:
    from pkcs11._pkcs11 import lib as _Library

#: ``signer_kind`` recorded for documents sealed with a token key.
SIGNER_KIND = "pkcs11"
#: Digest used for the proof-of-possession signature made when a signer is opened.
_PROOF_DIGEST = "sha256"


class Pkcs11KeyError(SigningError):
    """The token key cannot be used; the message says what to fix."""

    code = "pkcs11_key_unusable"


class Pkcs11ModuleNotFound(Pkcs11KeyError):
    code = "pkcs11_module_not_found"


class Pkcs11TokenNotFound(Pkcs11KeyError):
    code = "pkcs11_token_not_found"


class Pkcs11PinRejected(Pkcs11KeyError):
    code = "pkcs11_pin_rejected"


class Pkcs11KeyNotFound(Pkcs11KeyError):
    code = "pkcs11_key_not_found"


class Pkcs11CertificateMismatch(Pkcs11KeyError):
    code = "pkcs11_certificate_mismatch"


@dataclass(frozen=True)
class Pkcs11KeyConfig:
    """Where the key is and how to log in; holds no secret itself.

    :param module_path: the vendor's PKCS#11 module (``.so``).
    :param token_label: label of the token that holds the key.
    :param key_label: ``CKA_LABEL`` of the private key (give this, :attr:`key_id`, or both).
    :param key_id: ``CKA_ID`` of the private key.
    :param pin_file: file holding the user PIN (a trailing newline is ignored).
    :param pin_env: name of the environment variable holding the user PIN (if no file).
    :param certificate_file: PEM of the key's certificate; if ``None`` it is read from the token
        (the certificate object with the key's ID, else with the key's label).
    :param chain_file: PEM bundle of intermediate certificates to embed (root not needed).
    :param allow_extractable_key: accept a key the token would let out. Never for production.
    """

    module_path: str
    token_label: str
    key_label: str | None = None
    key_id: bytes | None = None
    pin_file: str | None = None
    pin_env: str | None = None
    certificate_file: str | None = None
    chain_file: str | None = None
    allow_extractable_key: bool = False

    def read_pin(self) -> str:
        """The user PIN from :attr:`pin_file` or :attr:`pin_env`; never logged."""
        if self.pin_file:
            try:
                return Path(self.pin_file).read_text(encoding="utf-8").rstrip("\r\n")
            except OSError as exc:
                raise Pkcs11KeyError(
                    f"The PKCS#11 PIN file {self.pin_file} cannot be read ({exc.strerror})."
                ) from exc
        if self.pin_env:
            pin = os.environ.get(self.pin_env)
            if pin is None:
                raise Pkcs11KeyError(
                    f"The environment variable {self.pin_env} that should hold the PKCS#11 "
                    "user PIN is not set."
                )
            return pin
        raise Pkcs11KeyError("No PKCS#11 user PIN configured: give a PIN file or variable.")

    def key_description(self) -> str:
        parts = []
        if self.key_label is not None:
            parts.append(f"label {self.key_label!r}")
        if self.key_id is not None:
            parts.append(f"ID {self.key_id.hex()}")
        return " and ".join(parts)


@dataclass(frozen=True)
class KeyProtection:
    """How the token says it protects the private key (from its PKCS#11 attributes)."""

    sensitive: bool
    extractable: bool
    always_sensitive: bool
    never_extractable: bool
    #: ``CKA_LOCAL``: generated on the token, not imported.
    generated_on_token: bool

    @property
    def key_stays_on_token(self) -> bool:
        return self.sensitive and not self.extractable


class TokenSigner(PKCS11Signer):
    """pyHanko's ``PKCS11Signer`` on a shared session, with its signing serialised.

    Build it with :func:`open_pkcs11_signer`, which checks key and certificate first.
    """

    def __init__(
        self,
        token: _OpenToken,
        *,
        signing_cert: x509.Certificate,
        chain: Sequence[x509.Certificate],
        key_label: str | None,
        key_id: bytes | None,
    ) -> None:
        super().__init__(
            token.session,
            signing_cert=signing_cert,
            ca_chain=list(chain),
            key_label=key_label,
            key_id=key_id,
            # The verifier brings its own trust anchor; embedding ours would only add bytes.
            embed_roots=False,
            other_certs_to_pull=(),
            # Tokens such as SoftHSM2 have no hash-and-sign ECDSA mechanism: hash here.
            use_raw_mechanism=signing_cert.public_key.algorithm == "ec",
        )
        self._token = token
        with token.lock:
            # Every session access happens here or under the lock: pyHanko's lazy look-up
            # (triggered by its properties) is done now, and the key handle is kept.
            run_sync(self.ensure_objects_loaded())
            (key,) = token.session.get_objects(self.signing_key_fetch_params())
            self._key = cast(SignMixin, key)  # a private key object signs

    async def async_sign_raw(
        self, data: bytes, digest_algorithm: str, dry_run: bool = False
    ) -> bytes:
        if dry_run:
            return await super().async_sign_raw(data, digest_algorithm, dry_run=True)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, self._sign_serialised, data, digest_algorithm)

    def _sign_serialised(self, data: bytes, digest_algorithm: str) -> bytes:
        """What pyHanko's ``async_sign_raw`` does, with the token call inside the session lock.

        The lock is taken and released in this one worker thread around one complete token
        call; holding it across an ``await`` could leak it if the caller were cancelled.
        """
        digest_algorithm = digest_algorithm.lower()
        spec = select_pkcs11_signing_params(
            self.get_signature_mechanism_for_digest(digest_algorithm),
            digest_algorithm,
            use_raw_mechanism=self.use_raw_mechanism,
            sign_kwargs=self.sign_kwargs(data),
        )
        if spec.pre_sign_transform is not None:
            data = spec.pre_sign_transform(data)
        with self._token.lock:
            self._token.require_same_process()
            signature = self._key.sign(data, **spec.sign_kwargs)
        if spec.post_sign_transform is not None:
            signature = spec.post_sign_transform(signature)
        return signature

    def key_protection(self) -> KeyProtection:
        """The token's own statement of how the private key is protected."""
        with self._token.lock:
            return KeyProtection(
                sensitive=bool(self._key[Attribute.SENSITIVE]),
                extractable=bool(self._key[Attribute.EXTRACTABLE]),
                always_sensitive=bool(self._key[Attribute.ALWAYS_SENSITIVE]),
                never_extractable=bool(self._key[Attribute.NEVER_EXTRACTABLE]),
                generated_on_token=bool(self._key[Attribute.LOCAL]),
            )


def open_pkcs11_signer(config: Pkcs11KeyConfig) -> TokenSigner:
    """A pyHanko signer for the token key ``config`` names, checked and ready to sign.

    :raises Pkcs11ModuleNotFound: the module cannot be loaded.
    :raises Pkcs11TokenNotFound: no token with that label.
    :raises Pkcs11PinRejected: wrong or locked PIN.
    :raises Pkcs11KeyNotFound: no (or more than one) private key with that label/ID.
    :raises Pkcs11CertificateMismatch: the certificate is not for this key.
    :raises Pkcs11KeyError: anything else that stops the key from being used.
    """
    if config.key_label is None and config.key_id is None:
        raise Pkcs11KeyError("Name the PKCS#11 key by its label or ID.")
    token = _registry.open(config)
    signing_cert = _signing_certificate(config, token)
    chain = _read_pem_certificates(config.chain_file) if config.chain_file else []
    try:
        signer = TokenSigner(
            token,
            signing_cert=signing_cert,
            chain=chain,
            key_label=config.key_label,
            key_id=config.key_id,
        )
    except pkcs11.PKCS11Error as exc:
        raise Pkcs11KeyNotFound(
            f"No single signing key with {config.key_description()} on token "
            f"{config.token_label!r}: {exc}"
        ) from exc
    if not config.allow_extractable_key and not signer.key_protection().key_stays_on_token:
        raise Pkcs11KeyError(
            f"The key with {config.key_description()} can leave the token (it is extractable "
            "or not sensitive); generate a sensitive, non-extractable key on the token."
        )
    _prove_possession(signer, config)
    return signer


def pkcs11_pades_signer(
    config: Pkcs11KeyConfig,
    *,
    timestamper: TimeStamper | None,
    trust_roots: Sequence[CertificateLike],
    level: str = "B-T",
    qualified: bool = False,
    fetcher_backend: FetcherBackend | None = None,
) -> PadesSigner:
    """A :class:`PadesSigner` sealing with the token key (``signer_kind="pkcs11"``).

    :param qualified: whether the token is a QSCD and the certificate a qualified one; the
        configuration has to say so, nothing here can tell.
    """
    return PadesSigner(
        open_pkcs11_signer(config),
        timestamper=timestamper,
        trust_roots=trust_roots,
        level=level,
        signer_kind=SIGNER_KIND,
        qualified=qualified,
        fetcher_backend=fetcher_backend,
    )


def pkcs11_sealer(
    config: Pkcs11KeyConfig,
    *,
    timestamper: TimeStamper | None,
    trust_roots: Sequence[CertificateLike],
    level: str,
    qualified: bool,
) -> KeySealer:
    """:func:`pkcs11_pades_signer` as a :class:`~archive_service.signing.sealing.Sealer`."""
    return KeySealer(
        pkcs11_pades_signer(
            config,
            timestamper=timestamper,
            trust_roots=trust_roots,
            level=level,
            qualified=qualified,
        )
    )


def close_pkcs11_sessions() -> None:
    """Log out and close every session this process holds (shutdown, tests).

    Signers opened before keep references to their closed session and fail; open new ones.
    """
    _registry.close_all()


# ---------------------------------------------------------------------------- sessions


@dataclass
class _OpenToken:
    session: pkcs11.Session
    lock: threading.Lock
    #: Salted digest of the PIN the session was logged in with (the PIN itself is not kept).
    pin_digest: bytes
    pid: int

    def require_same_process(self) -> None:
        if self.pid != os.getpid():
            raise Pkcs11KeyError(
                "This PKCS#11 signer was opened before the process forked; open a new one."
            )


class _SessionRegistry:
    """The process's PKCS#11 modules and its one logged-in session per token."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._libraries: dict[str, _Library] = {}
        self._tokens: dict[tuple[str, str], _OpenToken] = {}
        self._pid = os.getpid()
        self._salt = os.urandom(16)

    def open(self, config: Pkcs11KeyConfig) -> _OpenToken:
        module = os.path.realpath(config.module_path)
        pin = config.read_pin()
        digest = hmac.new(self._salt, pin.encode("utf-8"), hashlib.sha256).digest()
        with self._lock:
            self._after_fork()
            token = self._tokens.get((module, config.token_label))
            if token is not None:
                if not hmac.compare_digest(token.pin_digest, digest):
                    raise Pkcs11PinRejected(
                        f"Token {config.token_label!r} is already open in this process with a "
                        "different user PIN; check the configured PIN."
                    )
                return token
            session = self._login(self._library(module, config.module_path), config, pin)
            token = _OpenToken(session, threading.Lock(), digest, os.getpid())
            self._tokens[(module, config.token_label)] = token
            return token

    def close_all(self) -> None:
        with self._lock:
            self._after_fork()
            for token in self._tokens.values():
                # A session already gone with its token leaves nothing to close.
                with token.lock, contextlib.suppress(pkcs11.PKCS11Error):
                    token.session.close()
            self._tokens.clear()

    def _after_fork(self) -> None:
        """In a forked child, forget the parent's sessions and re-initialise the modules."""
        if self._pid == os.getpid():
            return
        self._tokens.clear()
        for library in self._libraries.values():
            library.reinitialize()
        self._pid = os.getpid()

    def _library(self, module: str, configured_path: str) -> _Library:
        library = self._libraries.get(module)
        if library is None:
            if not Path(module).is_file():
                raise Pkcs11ModuleNotFound(
                    f"The PKCS#11 module {configured_path} does not exist; install the token "
                    "vendor's module or fix the configured path."
                )
            try:
                library = pkcs11.lib(module)
            except pkcs11.PKCS11Error as exc:
                raise Pkcs11ModuleNotFound(
                    f"The PKCS#11 module {configured_path} cannot be loaded: {exc}"
                ) from exc
            self._libraries[module] = library
        return library

    @staticmethod
    def _login(library: _Library, config: Pkcs11KeyConfig, pin: str) -> pkcs11.Session:
        try:
            token = library.get_token(token_label=config.token_label)
        except pkcs11.NoSuchToken as exc:
            labels = sorted(
                slot.get_token().label for slot in library.get_slots(token_present=True)
            )
            raise Pkcs11TokenNotFound(
                f"No token labelled {config.token_label!r} in {config.module_path} "
                f"(tokens present: {', '.join(map(repr, labels)) or 'none'})."
            ) from exc
        except pkcs11.MultipleTokensReturned as exc:
            raise Pkcs11TokenNotFound(
                f"More than one token is labelled {config.token_label!r}; relabel one."
            ) from exc
        try:
            return token.open(user_pin=pin)
        except (pkcs11.PinIncorrect, pkcs11.PinInvalid, pkcs11.PinLenRange) as exc:
            raise Pkcs11PinRejected(
                f"Token {config.token_label!r} rejected the user PIN; check the configured PIN "
                "(repeated failures may lock the token)."
            ) from exc
        except (pkcs11.PinLocked, pkcs11.PinExpired) as exc:
            raise Pkcs11PinRejected(
                f"The user PIN of token {config.token_label!r} is locked or expired "
                f"({type(exc).__name__}); the token's security officer must reset it."
            ) from exc
        except pkcs11.PKCS11Error as exc:
            raise Pkcs11KeyError(
                f"Token {config.token_label!r} could not be opened ({type(exc).__name__})."
            ) from exc


_registry = _SessionRegistry()


# ---------------------------------------------------------------------------- certificates


def _signing_certificate(config: Pkcs11KeyConfig, token: _OpenToken) -> x509.Certificate:
    if config.certificate_file:
        certificates = _read_pem_certificates(config.certificate_file)
        if len(certificates) != 1:
            raise Pkcs11KeyError(
                f"{config.certificate_file} must hold exactly the signing certificate "
                f"(found {len(certificates)}); put the chain into the chain file."
            )
        return certificates[0]
    return _certificate_on_token(config, token)


def _certificate_on_token(config: Pkcs11KeyConfig, token: _OpenToken) -> x509.Certificate:
    # The key's ID is what ties a certificate to its key on a token; the label is a fallback.
    searches: list[dict[Attribute, Any]] = (
        [{Attribute.ID: config.key_id}] if config.key_id is not None else []
    )
    if config.key_label is not None:
        searches.append({Attribute.LABEL: config.key_label})
    with token.lock:
        for criteria in searches:
            found = list(
                token.session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE, **criteria})
            )
            if len(found) == 1:
                return x509.Certificate.load(found[0][Attribute.VALUE])
    raise Pkcs11KeyError(
        f"Token {config.token_label!r} holds no single certificate for the key with "
        f"{config.key_description()}; store it on the token or configure a certificate file."
    )


def _read_pem_certificates(path: str) -> list[x509.Certificate]:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise Pkcs11KeyError(
            f"The certificate file {path} cannot be read ({exc.strerror})."
        ) from exc
    if not data.strip():
        return []  # an empty chain: the certificate was issued by the root itself
    try:
        return load_certificates(data)
    except ValueError as exc:
        raise Pkcs11KeyError(f"{path} is not a certificate in PEM or DER ({exc}).") from exc


def _prove_possession(signer: TokenSigner, config: Pkcs11KeyConfig) -> None:
    """Sign a fresh challenge on the token and verify it with the certificate's public key."""
    challenge = os.urandom(32)
    mechanism = signer.get_signature_mechanism_for_digest(_PROOF_DIGEST)
    cert = signer.signing_cert
    problem = f"The certificate {subject_text(cert)} does not belong to the token key with "
    try:
        signature = run_sync(signer.async_sign_raw(challenge, _PROOF_DIGEST))
        DefaultSignatureValidator().validate_signature(
            signature, challenge, cert.public_key, mechanism
        )
    except InvalidSignature as exc:
        raise Pkcs11CertificateMismatch(
            problem + f"{config.key_description()}: a test signature does not verify with it."
        ) from exc
    except (pkcs11.PKCS11Error, ValueError, TypeError) as exc:
        raise Pkcs11CertificateMismatch(
            problem + f"{config.key_description()}: the token cannot sign with the "
            f"certificate's algorithm ({type(exc).__name__})."
        ) from exc
