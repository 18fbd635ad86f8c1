#!/usr/bin/env python3
"""Median time to sign one rendered-like PDF/A, per PAdES level, with the local test PKI.

Each signature includes the signer's self-validation (the invariant "unsigned is never presented
as signed" costs time too, and belongs in the figure). B-LT/B-LTA fetch OCSP/CRL from the test
PKI's in-process responder (no network), like the embedded default. Key types: the test seal
(ECDSA P-256), an RSA-2048 key certified by the same test CA (parsed once, as a deployment's
PKCS#12 key is), and a SoftHSM2 token key (``pkcs11``; needs ``scripts/setup-softhsm.sh``).
Usage::

    .venv/bin/python scripts/bench_sign.py --runs 30 [--keys ecdsa rsa pkcs11] [--pdf rendered.pdf]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import typst
from asn1crypto import pem
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key
from pyhanko.sign.signers import Signer

from archive_service.signing import LEVELS, PadesSigner
from archive_service.signing.backends.pkcs11 import Pkcs11KeyConfig, open_pkcs11_signer
from archive_service.signing.key_signer import ParsedKeySigner
from archive_service.signing.test_pki import TestPki


def sample_pdf(pages: int, workdir: Path) -> bytes:
    """A PDF/A-3u with ``pages`` pages of journal-like grids (Cyrillic text, many cells)."""
    source = workdir / "bench.typ"
    source.write_text(
        '#set document(title: "Класний журнал 7-Б", author: "journal-archive")\n'
        '#set page(flipped: true)\n'
        f"#for p in range({pages}) {{\n"
        '  [= Предмет #(p + 1)]\n'
        "  table(columns: 16, ..range(16 * 30).map(i => [#calc.rem(i * 7, 12)]))\n"
        "  pagebreak(weak: true)\n"
        "}\n",
        encoding="utf-8",
    )
    return typst.compile(str(source), format="pdf", pdf_standards=["a-3u"])


KEYS = ("ecdsa", "rsa", "pkcs11")


def rsa_signer(pki: TestPki) -> Callable[[str], PadesSigner]:
    """An RSA-2048 seal certified by the test CA, its key parsed once."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = pki.issue_signing_certificate(key.public_key(), "RSA seal")
    cms = ParsedKeySigner(cert, key, chain=[pki.issuing_ca_cert])
    return lambda level: _pades(pki, cms, level, "pkcs12")


def pkcs11_signer(pki: TestPki, workdir: Path) -> Callable[[str], PadesSigner]:
    """The ECDSA key of a fresh SoftHSM2 token, certified by the test CA."""
    result = subprocess.run(
        ["bash", str(Path(__file__).with_name("setup-softhsm.sh")), str(workdir / "softhsm")],
        capture_output=True, text=True, check=True,
    )
    values = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    os.environ["SOFTHSM2_CONF"] = values["SOFTHSM2_CONF"]
    public = subprocess.run(
        ["pkcs11-tool", "--module", values["PKCS11_MODULE"], "--token-label",
         values["PKCS11_TOKEN_LABEL"], "--read-object", "--type", "pubkey",
         "--id", values["PKCS11_KEY_ID"]],
        capture_output=True, check=True,
    ).stdout
    token_key = load_der_public_key(public)
    assert isinstance(token_key, ec.EllipticCurvePublicKey)  # setup-softhsm.sh makes P-256
    cert = pki.issue_signing_certificate(token_key, "Token seal")
    (workdir / "token.pem").write_bytes(pem.armor("CERTIFICATE", cert.dump()))
    (workdir / "chain.pem").write_bytes(pem.armor("CERTIFICATE", pki.issuing_ca_cert.dump()))
    config = Pkcs11KeyConfig(
        module_path=values["PKCS11_MODULE"],
        token_label=values["PKCS11_TOKEN_LABEL"],
        key_label=values["PKCS11_KEY_LABEL"],
        pin_file=values["PKCS11_PIN_FILE"],
        certificate_file=str(workdir / "token.pem"),
        chain_file=str(workdir / "chain.pem"),
    )
    cms = open_pkcs11_signer(config)
    return lambda level: _pades(pki, cms, level, "pkcs11")


def _pades(pki: TestPki, cms: Signer, level: str, kind: str) -> PadesSigner:
    return PadesSigner(
        cms,
        timestamper=pki.timestamper() if level != "B-B" else None,
        trust_roots=[pki.root_cert],
        level=level,
        signer_kind=kind,
        qualified=False,
        fetcher_backend=pki.fetcher_backend(),
    )


def bench(
    make_signer: Callable[[str], PadesSigner], pdf: bytes, level: str, runs: int
) -> list[float]:
    signer = make_signer(level)
    signer.sign(pdf, reason="warm-up")  # imports, first-use caches
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        signed = signer.sign(pdf, reason="Архівування класного журналу", location="Київ")
        timings.append((time.perf_counter() - start) * 1000)
        assert signed.level == level
    return timings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="signatures per level")
    parser.add_argument("--pdf", type=Path, help="sign this PDF instead of a generated one")
    parser.add_argument("--pages", type=int, default=14, help="pages of the generated PDF")
    parser.add_argument("--pki-dir", type=Path, help="test PKI folder (default: temporary)")
    parser.add_argument("--levels", nargs="+", choices=LEVELS, default=list(LEVELS))
    parser.add_argument("--keys", nargs="+", choices=KEYS, default=["ecdsa", "rsa"])
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-sign-") as tmp:
        workdir = Path(tmp)
        pki = TestPki.load_or_create(args.pki_dir or workdir / "pki")
        pdf = args.pdf.read_bytes() if args.pdf else sample_pdf(args.pages, workdir)
        print(f"document: {len(pdf) / 1024:.0f} KiB, {args.runs} runs per level and key")
        makers: dict[str, Callable[[], Callable[[str], PadesSigner]]] = {
            "ecdsa": lambda: pki.signer,
            "rsa": lambda: rsa_signer(pki),
            "pkcs11": lambda: pkcs11_signer(pki, workdir),
        }
        for key in args.keys:
            make_signer = makers[key]()
            for level in args.levels:
                timings = bench(make_signer, pdf, level, args.runs)
                print(
                    f"{key:6} {level:5}: median {statistics.median(timings):6.1f} ms "
                    f"(min {min(timings):.1f}, max {max(timings):.1f})"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
