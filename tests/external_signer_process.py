"""An outside signer, run as its own process: reads a signing request over HTTP, signs, answers.

It holds its own key (a PKCS#12 file) and shares nothing with the archive but HTTP on loopback,
as a director's signing tool or a remote signing service would::

    ARCHIVE_SIGNER_TOKEN=ja_… python tests/external_signer_process.py \\
        http://127.0.0.1:8080 signer.p12 PASSPHRASE --mode raw [--request ID]

``--mode raw`` signs ``data_to_be_signed.signed_attributes`` and posts the signature value;
``--mode cms`` builds a whole detached CMS over ``document_digest`` with pyHanko and posts that.
Without ``--request`` the oldest waiting request is taken from the list. The archive's answer
(status and JSON) is printed; the exit code is 0 only for ``201 Created``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import sys
from pathlib import Path

import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from pyhanko.sign.signers import SimpleSigner

TIMEOUT = 120


def _session(token: str) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    return session


def _signing_request(session: requests.Session, base: str, request_id: str | None) -> dict:
    if request_id is None:
        listed = session.get(f"{base}/api/v1/signing-requests", timeout=TIMEOUT)
        listed.raise_for_status()
        items = listed.json()["items"]
        if not items:
            sys.exit("no signing request is waiting")
        return items[0]
    found = session.get(f"{base}/api/v1/signing-requests/{request_id}", timeout=TIMEOUT)
    found.raise_for_status()
    return found.json()


def _raw_signature(key_file: Path, passphrase: bytes, data: bytes) -> bytes:
    key, _cert, _chain = pkcs12.load_key_and_certificates(key_file.read_bytes(), passphrase)
    assert isinstance(key, ec.EllipticCurvePrivateKey), "this signer holds an ECDSA key"
    return key.sign(data, ec.ECDSA(hashes.SHA256()))


def _whole_cms(key_file: Path, passphrase: bytes, document_digest: bytes) -> bytes:
    signer = SimpleSigner.load_pkcs12(str(key_file), passphrase=passphrase)
    assert signer is not None, "the PKCS#12 file could not be read"
    container = asyncio.run(signer.async_sign(document_digest, "sha256", use_pades=True))
    return container.dump()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base_url")
    parser.add_argument("key_file", type=Path)
    parser.add_argument("passphrase")
    parser.add_argument("--mode", choices=("raw", "cms"), default="raw")
    parser.add_argument("--request", dest="request_id")
    args = parser.parse_args()
    session = _session(os.environ["ARCHIVE_SIGNER_TOKEN"])
    passphrase = args.passphrase.encode()

    signing_request = _signing_request(session, args.base_url, args.request_id)
    if args.mode == "raw":
        to_sign = base64.b64decode(signing_request["data_to_be_signed"]["signed_attributes"])
        answer = {"signature": _raw_signature(args.key_file, passphrase, to_sign)}
    else:
        digest = base64.b64decode(signing_request["document_digest"]["value"])
        answer = {"cms": _whole_cms(args.key_file, passphrase, digest)}
    body = {name: base64.b64encode(value).decode("ascii") for name, value in answer.items()}
    posted = session.post(
        f"{args.base_url}{signing_request['links']['signature']}", json=body, timeout=TIMEOUT
    )
    print(json.dumps({"status": posted.status_code, "body": posted.json()}, ensure_ascii=False))
    return 0 if posted.status_code == 201 else 1


if __name__ == "__main__":
    sys.exit(main())
