"""Sealing with a key file (PKCS#12): key, certificate and chain read once, at start-up.

Never qualified: a key in a file is not held in a QSCD, whatever its certificate says.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from pyhanko.sign.timestamps import TimeStamper

from archive_service.signing.backends.key import KeySealer
from archive_service.signing.certificates import CertificateLike
from archive_service.signing.pades import PadesSigner


def pkcs12_sealer(
    path: str | os.PathLike[str],
    passphrase: bytes | None,
    *,
    timestamper: TimeStamper | None,
    trust_roots: Sequence[CertificateLike],
    level: str,
) -> KeySealer:
    """A sealer for the key in ``path`` (``signer_kind="pkcs12"``).

    :raises SigningError: the file is missing, unreadable or the passphrase is wrong.
    """
    return KeySealer(
        PadesSigner.from_pkcs12(
            path, passphrase, timestamper=timestamper, trust_roots=trust_roots, level=level
        )
    )
