"""A pyHanko CMS signer that keeps its private key parsed between signatures.

``SimpleSigner`` re-parses the DER key on every signature; for RSA that includes the key
consistency check, about a quarter of a second per document (see NOTES.md). Holding the
``cryptography`` key object once makes RSA as cheap to reuse as ECDSA.
"""

from __future__ import annotations

from asn1crypto import keys, x509
from cryptography.hazmat.primitives.asymmetric.ec import ECDSA, EllipticCurvePrivateKey
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
)
from pyhanko.sign.signers import SimpleSigner
from pyhanko_certvalidator.registry import SimpleCertificateStore
from pyhanko_certvalidator.util import get_pyca_cryptography_hash, process_pss_params


class ParsedKeySigner(SimpleSigner):
    """``SimpleSigner`` whose RSA and ECDSA signatures reuse one parsed key."""

    def __init__(
        self,
        signing_cert: x509.Certificate,
        private_key: PrivateKeyTypes,
        chain: list[x509.Certificate],
    ) -> None:
        der = private_key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
        super().__init__(
            signing_cert=signing_cert,
            signing_key=keys.PrivateKeyInfo.load(der),
            cert_registry=SimpleCertificateStore.from_certs(chain),
            # The verifier brings its own trust anchor; embedding ours would only add bytes.
            embed_roots=False,
        )
        self._private_key = private_key

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        key = self._private_key
        mechanism = self.get_signature_mechanism_for_digest(digest_algorithm)
        algorithm = mechanism["algorithm"].native
        hash_algorithm = get_pyca_cryptography_hash(digest_algorithm)
        if isinstance(key, EllipticCurvePrivateKey) and algorithm.endswith("ecdsa"):
            return key.sign(data, ECDSA(hash_algorithm))
        if isinstance(key, RSAPrivateKey) and algorithm == "rsassa_pss":
            padding, pss_hash = process_pss_params(mechanism["parameters"])
            return key.sign(data, padding, pss_hash)
        if isinstance(key, RSAPrivateKey) and algorithm.endswith("rsa"):
            return key.sign(data, PKCS1v15(), hash_algorithm)
        # Anything rarer goes through pyHanko's own (re-parsing) implementation.
        return super().sign_raw(data, digest_algorithm)
