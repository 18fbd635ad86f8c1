#!/usr/bin/env python3
"""Ingest N synthetic journals through the real pipeline and print per-stage medians.

Usage: python scripts/bench.py [-n 5] [--size standard|large|small] [--worker] [--storage URL]
       python scripts/bench.py downloads [--clients 32 …]   (scripts/bench_download.py: download
                                                          latency p50/p99 with the audit log on)

Runs on a throw-away embedded default (SQLite, filesystem store, test PKI) in a temp folder.
Each journal differs (seed) so every ingest renders, signs and stores anew. ``--storage`` (may be
repeated) names object stores — ``s3+http://key:secret@127.0.0.1:9000/bucket`` for an S3 server
(the bucket is created with Object Lock if it is missing), or a folder — and prints the median
PUT and GET (with its re-hash) of the signed PDFs on each; the ingest itself then runs on the
first one. Objects written there stay locked for a day.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import resource
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from generate_journal import generate_export

from archive_service.access import LOCAL_OPERATOR
from archive_service.config import load_settings
from archive_service.factory import build_archive
from archive_service.pipeline import RequestContext
from archive_service.storage import ObjectStore, initialize_storage, open_object_store

SIZES = {"small": (8, 3), "standard": (30, 14), "large": (35, 18)}
STAGES = ("parse", "render", "sign", "store", "record")


def main() -> None:
    if sys.argv[1:2] == ["downloads"]:
        import bench_download

        sys.argv = [f"{sys.argv[0]} downloads", *sys.argv[2:]]
        bench_download.main()
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=5, help="journals to ingest")
    parser.add_argument("--size", choices=SIZES, default="standard")
    parser.add_argument(
        "--worker",
        action="store_true",
        help="render in the recycled worker process, as the server does",
    )
    parser.add_argument(
        "--storage",
        action="append",
        default=[],
        metavar="URL",
        help="an object store to measure PUT/GET on (repeatable); the first also serves the ingest",
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
        overrides: dict[str, object] = {"data_dir": Path(tmp), "render_in_process": not args.worker}
        for url in args.storage:
            initialize_storage(url, default_retention_days=1)
        if args.storage:
            overrides["storage_url"] = args.storage[0]
        settings = load_settings(overrides=overrides)
        archive = build_archive(settings)
        timings: dict[str, list[float]] = defaultdict(list)
        archive.on_stage = lambda stage, seconds: timings[stage].append(seconds)
        ctx = RequestContext(actor=LOCAL_OPERATOR, client_address="bench")
        totals, worker_peaks, versions = [], [], []
        for export in exports:
            started = time.perf_counter()
            result = archive.ingest(export, "application/json", ctx)
            versions.append(result.version)
            totals.append(time.perf_counter() - started)
            report = getattr(archive.renderer, "last_report", None)
            if args.worker and report is not None:
                worker_peaks.append(report.peak_rss_bytes / 2**20)
        archive.renderer.close()  # type: ignore[attr-defined]
        pdfs = [
            archive.store.get(version["object_key"], sha256=version["sha256"])
            for version in versions
        ] if args.storage else []
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
    for url in args.storage:
        put, get = store_medians(open_object_store(url), pdfs)
        print(f"  store {describe_url(url)}: PUT median {put:.1f} ms, GET median {get:.1f} ms "
              f"({len(pdfs)} PDFs of ~{statistics.median(map(len, pdfs)) / 1024:.0f} KiB)")


def store_medians(store: ObjectStore, pdfs: list[bytes], rounds: int = 5) -> tuple[float, float]:
    """Median milliseconds of a write-once PUT and of a checked GET, on fresh keys."""
    retain_until = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    prefix = f"bench/{uuid.uuid4().hex}"
    puts, gets = [], []
    for round_number in range(rounds):
        for index, pdf in enumerate(pdfs):
            key, digest = f"{prefix}/{round_number}-{index}.pdf", hashlib.sha256(pdf).hexdigest()
            started = time.perf_counter()
            stored = store.put(
                key, pdf, sha256=digest, content_type="application/pdf", retain_until=retain_until
            )
            puts.append(time.perf_counter() - started)
            started = time.perf_counter()
            store.get(key, sha256=digest, version_id=stored.version_id)
            gets.append(time.perf_counter() - started)
    return statistics.median(puts) * 1000, statistics.median(gets) * 1000


def describe_url(url: str) -> str:
    """The URL without its credentials, for printing."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.rsplit('@', 1)[-1]}" if rest else url


if __name__ == "__main__":
    main()
