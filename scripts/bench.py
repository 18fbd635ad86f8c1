#!/usr/bin/env python3
"""Ingest N synthetic journals through the real pipeline and print per-stage medians.

Usage: python scripts/bench.py [-n 5] [--size standard|large|small] [--worker]

Runs on a throw-away embedded default (SQLite, filesystem store, test PKI) in a temp folder.
Each journal differs (seed) so every ingest renders, signs and stores anew.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from generate_journal import generate_export

from archive_service.access import LOCAL_OPERATOR
from archive_service.config import load_settings
from archive_service.factory import build_archive
from archive_service.pipeline import RequestContext

SIZES = {"small": (8, 3), "standard": (30, 14), "large": (35, 18)}
STAGES = ("parse", "render", "sign", "store", "record")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=5, help="journals to ingest")
    parser.add_argument("--size", choices=SIZES, default="standard")
    parser.add_argument(
        "--worker",
        action="store_true",
        help="render in the recycled worker process, as the server does",
    )
    args = parser.parse_args()
    pupils, subjects = SIZES[args.size]
    exports = [
        json.dumps(
            generate_export(pupils=pupils, subjects=subjects, seed=seed), ensure_ascii=False
        ).encode()
        for seed in range(args.n)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(
            overrides={"data_dir": Path(tmp), "render_in_process": not args.worker}
        )
        archive = build_archive(settings)
        timings: dict[str, list[float]] = defaultdict(list)
        archive.on_stage = lambda stage, seconds: timings[stage].append(seconds)
        ctx = RequestContext(actor=LOCAL_OPERATOR, client_address="bench")
        totals, worker_peaks = [], []
        for export in exports:
            started = time.perf_counter()
            archive.ingest(export, "application/json", ctx)
            totals.append(time.perf_counter() - started)
            report = getattr(archive.renderer, "last_report", None)
            if args.worker and report is not None:
                worker_peaks.append(report.peak_rss_bytes / 2**20)
        archive.renderer.close()  # type: ignore[attr-defined]
    print(
        f"{args.n} × {args.size} journal ({pupils} pupils, {subjects} subjects), "
        f"export {len(exports[0]) / 1024:.0f} KiB, render "
        f"{'in a worker process' if args.worker else 'in process'}"
    )
    for stage in STAGES:
        print(f"  {stage:<7} median {statistics.median(timings[stage]) * 1000:8.1f} ms")
    median_total = statistics.median(totals)
    print(f"  total   median {median_total * 1000:8.1f} ms  → {60 / median_total:.1f} journals/min")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # Workers are forked by the fork server, not by us: their peaks come from their reports.
    worker = f", rendering worker {max(worker_peaks):.0f} MiB" if worker_peaks else ""
    print(f"  peak RSS: this process {rss:.0f} MiB{worker}")


if __name__ == "__main__":
    main()
