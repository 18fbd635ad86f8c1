#!/usr/bin/env python3
"""Render the standard and the large synthetic journal N times; print medians and peak RSS.

Usage: python scripts/bench_render.py [-n 7] [--in-process] [--jobs-per-worker 2] [--size large]
       [--profile PDF/A-3a]

Journals come from scripts/generate_journal.py through the real parser when that exists, else
from the renderer tests' factory. By default each size gets its own recycled worker pool, as in
production; the first render (worker start-up) is reported apart from the median. Memory is
reported per job by the process that rendered: its resident size when the job began (imports,
fonts, and anything earlier jobs left) and its peak.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from archive_service.journal.model import Journal  # noqa: E402
from archive_service.render import (  # noqa: E402
    PDF_PROFILE,
    PDF_PROFILES,
    DocumentInfo,
    SourceAttachment,
    TypstRenderer,
)
from archive_service.render.worker import peak_rss_bytes  # noqa: E402

SIZES = {"standard": (30, 14), "large": (35, 18)}


def load_journal(pupils: int, subjects: int) -> tuple[Journal, SourceAttachment, str]:
    """A full-year journal and its export bytes; says which generator made it."""
    try:
        sys.path.insert(0, str(REPO / "scripts"))
        from generate_journal import generate_export

        from archive_service.journal.parse import parse_export
    except ImportError:
        sys.path.insert(0, str(REPO / "tests" / "render"))
        from journal_factory import full_year_journal  # type: ignore[import-not-found]  # tests/render

        journal = full_year_journal(pupils=pupils, subjects=subjects)
        data = b'{"note": "synthetic journal built by tests/render/journal_factory.py"}'
        return journal, SourceAttachment("journal.json", "application/json", data), "factory"
    data = json.dumps(generate_export(pupils=pupils, subjects=subjects, seed=0),
                      ensure_ascii=False).encode()
    parsed = parse_export(data, "application/json")
    source = SourceAttachment(parsed.filename, parsed.media_type, data)
    return parsed.journal, source, "generate_journal.py"


def describe(journal: Journal) -> str:
    lessons = [lesson for subject in journal.subjects for lesson in subject.lessons]
    marks = sum(len(lesson.marks) for lesson in lessons)
    return (f"{len(journal.pupils)} pupils, {len(journal.subjects)} subjects, "
            f"{len(lessons)} lessons, {marks} marks")


def bench(size: str, runs: int, in_process: bool, jobs_per_worker: int, profile: str) -> None:
    journal, source, origin = load_journal(*SIZES[size])
    info = DocumentInfo(
        "00000000-0000-4000-8000-000000000000", 1, True, "Перевірка підпису.", profile
    )
    renderer = TypstRenderer(in_process=in_process, jobs_per_worker=jobs_per_worker)
    timings, peaks, starts, pids, pages = [], [], [], set(), 0
    try:
        for _ in range(runs + 1):
            started = time.perf_counter()
            document = renderer.render(journal, source, info)
            timings.append(time.perf_counter() - started)
            report = renderer.last_report
            assert report is not None
            peaks.append(report.peak_rss_bytes)
            starts.append(report.start_rss_bytes)
            pids.add(report.pid)
            pages = document.pdf.count(b"/Type /Page\n") or document.pdf.count(b"/Type/Page")
    finally:
        renderer.close()
    first, rest = timings[0], timings[1:]
    mode = "in-process" if in_process else f"worker, {jobs_per_worker} jobs/worker"
    print(f"{size}: {describe(journal)} (from {origin}); {profile}; {mode}")
    median = statistics.median(rest)
    print(f"  first render {first:.3f} s; median of {len(rest)} more {median:.3f} s "
          f"(min {min(rest):.3f}, max {max(rest):.3f})")
    print(f"  PDF {len(document.pdf) / 1e6:.2f} MB, ~{pages} pages; worker processes used: "
          f"{len(pids)}")
    mib = 2**20
    print(f"  RSS of the rendering process at job start: min {min(starts) / mib:.0f} MiB, "
          f"max {max(starts) / mib:.0f} MiB")
    print(f"  peak RSS of the rendering process: after 1 render {peaks[0] / mib:.0f} MiB, "
          f"median {statistics.median(peaks) / mib:.0f} MiB, max {max(peaks) / mib:.0f} MiB")
    if not in_process:
        print(f"  peak RSS of this (parent) process: {peak_rss_bytes() / 2**20:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--runs", type=int, default=7)
    parser.add_argument("--in-process", action="store_true")
    parser.add_argument("--jobs-per-worker", type=int,
                        default=TypstRenderer().jobs_per_worker)
    parser.add_argument("--size", choices=[*SIZES, "both"], default="both")
    parser.add_argument("--profile", choices=PDF_PROFILES, default=PDF_PROFILE)
    args = parser.parse_args()
    for size in SIZES if args.size == "both" else [args.size]:
        bench(size, args.runs, args.in_process, args.jobs_per_worker, args.profile)


if __name__ == "__main__":
    main()
