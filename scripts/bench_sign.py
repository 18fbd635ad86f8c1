#!/usr/bin/env python3
"""Median time to sign one rendered-like PDF/A, per PAdES level, with the local test PKI.

Each signature includes the signer's self-validation (the invariant "unsigned is never presented
as signed" costs time too, and belongs in the figure). B-LT/B-LTA fetch OCSP/CRL from the test
PKI's in-process responder (no network), like the embedded default. Usage::

    .venv/bin/python scripts/bench_sign.py --runs 30 [--pdf rendered.pdf] [--pages 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import typst

from archive_service.signing import LEVELS, TestPki


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


def bench(pki: TestPki, pdf: bytes, level: str, runs: int) -> list[float]:
    signer = pki.signer(level=level)
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
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-sign-") as tmp:
        workdir = Path(tmp)
        pki = TestPki.load_or_create(args.pki_dir or workdir / "pki")
        pdf = args.pdf.read_bytes() if args.pdf else sample_pdf(args.pages, workdir)
        print(f"document: {len(pdf) / 1024:.0f} KiB, {args.runs} runs per level")
        for level in args.levels:
            timings = bench(pki, pdf, level, args.runs)
            print(
                f"{level}: median {statistics.median(timings):.1f} ms "
                f"(min {min(timings):.1f}, max {max(timings):.1f})"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
