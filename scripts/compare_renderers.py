#!/usr/bin/env python3
"""Typst and ReportLab side by side on the same marks grids: time and peak memory.

Usage: python scripts/compare_renderers.py [--size standard|large] [-n 5] [--out DIR]
(ReportLab comes with the ``bench`` extra: ``pip install -e '.[bench]'``.)

What is compared, so the figures are fair: only the **marks grids** — per subject, pupils ×
lesson dates grouped by month, landscape A4, the three header rows (months, days, lesson kinds)
repeated on every page, weighted lessons' columns shaded, the legend below, a running header
and a "Сторінка N з M" footer, DejaVu Sans Condensed embedded and subset. That is 42 of the
standard journal's 76 pages and about four fifths of its table cells. Both renderers get the
same ready-made sheets from ``archive_service.render.layout.build_layout`` (ordering, month
spans and cell texts are not part of the timing). Left out on both sides: the title page, the
table of contents, the pupils list, lesson records, results, the summary sheet and attendance.

Typst runs the project's own template code, cut down to the grid sheets (the preamble and the
``grid-sheet`` function of ``journal.typ``), and writes PDF/A-3u as in production. ReportLab
writes a plain PDF: it has no PDF/A mode, so XMP metadata, the output intent and the embedded
export would still have to be added by hand (not measured here).

Each render runs in a fresh process, so a peak resident set size (``ru_maxrss``) belongs to one
render alone; the figures are medians over the runs. The machine may be shared: times are noisy,
memory figures much less so.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from archive_service.render.typst_compile import FONT_DIR, TEMPLATE_PATH  # noqa: E402

SIZES = {"standard": (30, 14), "large": (35, 18)}
RENDERERS = ("typst", "reportlab")
#: journal.typ's preamble ends at the title page; its grid-sheet code lies between the other two.
TEMPLATE_PREAMBLE_END = "// " + "-" * 64 + " title page"
TEMPLATE_GRID_START = "#let grid-sheet("
TEMPLATE_GRID_END = "#let lesson-record("
GRID_SHEETS_LOOP = """
#for subject in d.subjects {
  for (i, sheet) in subject.grid_sheets.enumerate() { grid-sheet(subject, sheet, i == 0) }
}
"""

MM = 72 / 25.4
PAGE_WIDTH, PAGE_HEIGHT = 297 * MM, 210 * MM
MARGIN_X, MARGIN_TOP, MARGIN_BOTTOM = 10 * MM, 14 * MM, 13 * MM
SHADE = 222 / 255
FONT, FONT_BOLD = "DejaVuSansCondensed", "DejaVuSansCondensed-Bold"
#: Typst sizes a one-line cell from cap height to baseline (DejaVu: 0.729 em); the same line
#: height in ReportLab keeps rows equally tall, so the same number of pupils fits a page.
CELL_FONT_SIZE, CELL_LEADING = 7, 0.729 * 7


def peak_rss_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def grid_layout(size: str) -> dict[str, Any]:
    """The real document layout with everything but the grid sheets taken out."""
    from generate_journal import generate_export

    from archive_service.journal.parse import parse_export
    from archive_service.render.document import DocumentInfo
    from archive_service.render.layout import AttachmentFacts, build_layout

    pupils, subjects = SIZES[size]
    data = json.dumps(
        generate_export(pupils=pupils, subjects=subjects, seed=0), ensure_ascii=False
    ).encode()
    journal = parse_export(data, "application/json").journal
    facts = AttachmentFacts(
        "journal.json", "application/json", hashlib.sha256(data).hexdigest(), embedded=False
    )
    info = DocumentInfo("00000000-0000-4000-8000-000000000000", 1, True, "—")
    layout = build_layout(journal, facts, info)
    return {
        "meta": layout["meta"],
        "running_header": layout["running_header"],
        "footer": layout["footer"],
        "attachment": None,
        "legend": layout["legend"],
        "verbal_legend": layout["verbal_legend"],
        "subjects": [
            {"name": s["name"], "grid_sheets": s["grid_sheets"]} for s in layout["subjects"]
        ],
    }


def grid_template() -> str:
    """journal.typ's preamble and grid-sheet function, then a loop over the grid sheets only."""
    source = TEMPLATE_PATH.read_text(encoding="utf-8")
    try:
        preamble = source[: source.index(TEMPLATE_PREAMBLE_END)]
        start = source.index(TEMPLATE_GRID_START)
        grid_sheet = source[start : source.index(TEMPLATE_GRID_END, start)]
    except ValueError as missing:
        raise SystemExit(f"journal.typ lacks an expected section marker: {missing}") from None
    return preamble + grid_sheet + GRID_SHEETS_LOOP


def render_typst(layout: dict[str, Any]) -> bytes:
    import typst

    from archive_service.render.typst_compile import bundled_fonts

    pdf, warnings = typst.compile_with_warnings(
        grid_template().encode(),
        font_paths=bundled_fonts(FONT_DIR),
        ignore_system_fonts=True,
        sys_inputs={"layout": json.dumps(layout, ensure_ascii=False, separators=(",", ":"))},
        pdf_standards=["a-3u"],
        timestamp=0,
        pdf_tags=False,
    )
    if warnings:
        raise SystemExit(f"Typst warned: {[w.message for w in warnings]}")
    return pdf


def render_reportlab(layout: dict[str, Any]) -> bytes:
    """The same sheets as Typst's grid-sheet: same widths, paddings, spans, shading, texts."""
    from io import BytesIO

    from reportlab.lib import colors
    from reportlab.lib.pagesizes import landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen.canvas import Canvas
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table

    pdfmetrics.registerFont(TTFont(FONT, str(FONT_DIR / "DejaVuSansCondensed.ttf")))
    pdfmetrics.registerFont(TTFont(FONT_BOLD, str(FONT_DIR / "DejaVuSansCondensed-Bold.ttf")))
    heading = ParagraphStyle("heading", fontName=FONT_BOLD, fontSize=12, leading=15, spaceAfter=4)
    body = ParagraphStyle("body", fontName=FONT, fontSize=9.5, leading=12, spaceAfter=2 * MM)
    legend = ParagraphStyle("legend", fontName=FONT, fontSize=6.5, leading=8)
    shade = colors.Color(SHADE, SHADE, SHADE)

    def sheet_table(sheet: dict[str, Any]) -> Table:
        n = len(sheet["days"])
        months: list[str] = []
        style: list[tuple[Any, ...]] = [
            ("FONT", (0, 0), (-1, -1), FONT, CELL_FONT_SIZE, CELL_LEADING),
            ("GRID", (0, 0), (-1, -1), 0.4, colors.black),
            ("ALIGN", (0, 0), (-1, -1), "CENTER"),
            ("ALIGN", (1, 3), (1, -1), "LEFT"),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ("LEFTPADDING", (0, 0), (-1, -1), 1.5),
            ("RIGHTPADDING", (0, 0), (-1, -1), 1.5),
            ("TOPPADDING", (0, 0), (-1, -1), 2.2),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 2.2),
            ("SPAN", (0, 0), (0, 2)),
            ("SPAN", (1, 0), (1, 2)),
        ]
        column = 2
        for label, span in sheet["months"]:
            months += [label] + [""] * (span - 1)
            style.append(("SPAN", (column, 0), (column + span - 1, 0)))
            column += span
        for index, weighted in enumerate(sheet["weighted"]):
            if weighted:  # the month row keeps no fill, as in the template
                style.append(("BACKGROUND", (2 + index, 1), (2 + index, -1), shade))
        width = n + 2
        cells = [c or "" for c in sheet["body"]]
        rows = [
            ["№", "Прізвище, ім’я учня", *months],
            ["", "", *sheet["days"]],
            ["", "", *(k or "" for k in sheet["kinds"])],
            *(cells[i : i + width] for i in range(0, len(cells), width)),
        ]
        return Table(rows, colWidths=[7 * MM, 46 * MM] + [7.4 * MM] * n, repeatRows=3, style=style)

    story: list[Any] = []
    for subject in layout["subjects"]:
        for sheet in subject["grid_sheets"]:
            story += [
                Paragraph(subject["name"], heading),
                Paragraph(sheet["caption"], body),
                sheet_table(sheet),
                Spacer(0, 1.5 * MM),
                Paragraph(layout["legend"], legend),
            ]
            if layout["verbal_legend"]:
                story.append(Paragraph(layout["verbal_legend"], legend))
            story.append(PageBreak())
    story.pop()

    class NumberedCanvas(Canvas):  # type: ignore[misc]  # reportlab has no types: Canvas is Any
        """Holds pages back until the end so the footer can say "з M"."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict[str, Any]] = []

        def showPage(self) -> None:
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            for number, state in enumerate(self._pages, start=1):
                self.__dict__.update(state)
                self.setFont(FONT, 7)
                self.drawString(MARGIN_X, PAGE_HEIGHT - 9 * MM, layout["running_header"])
                self.drawString(MARGIN_X, 7 * MM, layout["footer"])
                self.drawRightString(
                    PAGE_WIDTH - MARGIN_X, 7 * MM, f"Сторінка {number} з {len(self._pages)}"
                )
                super().showPage()
            super().save()

    buffer = BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=landscape((210 * MM, 297 * MM)),
        leftMargin=MARGIN_X,
        rightMargin=MARGIN_X,
        topMargin=MARGIN_TOP,
        bottomMargin=MARGIN_BOTTOM,
        title=layout["meta"]["title"],
        author=layout["meta"]["author"][0],
        invariant=True,
    )
    document.build(story, canvasmaker=NumberedCanvas)
    return buffer.getvalue()


RENDER: dict[str, Callable[[dict[str, Any]], bytes]] = {
    "typst": render_typst,
    "reportlab": render_reportlab,
}


def renderer_version(name: str) -> str:
    if name == "typst":
        import typst

        return f"typst {typst.__version__}"  # type: ignore[attr-defined]  # not in typst's stub
    import reportlab

    return f"reportlab {reportlab.Version}"


def run_one(renderer: str, size: str, out: Path | None) -> None:
    """Child process: one render, one JSON line on stdout."""
    layout = grid_layout(size)
    start_rss = peak_rss_bytes()
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    pdf = RENDER[renderer](layout)
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / f"grids-{size}-{renderer}.pdf").write_bytes(pdf)
    print(
        json.dumps(
            {
                "seconds": seconds,
                "peak_rss": peak_rss_bytes(),
                "start_rss": start_rss,
                "cpu_seconds": usage.ru_utime + usage.ru_stime - before.ru_utime - before.ru_stime,
                "bytes": len(pdf),
                "pages": len(re.findall(rb"/Type\s*/Page[^s]", pdf)),
                "version": renderer_version(renderer),
                "cells": sum(
                    len(sheet["body"])
                    for subject in layout["subjects"]
                    for sheet in subject["grid_sheets"]
                ),
            }
        )
    )


def text_check(out: Path, size: str) -> str:
    """Both PDFs must carry the same text: every character, as often, on as many pages.

    Characters rather than words, because text extraction joins neighbouring cells differently
    for the two files (their glyph positions differ by fractions of a point).
    """
    from collections import Counter

    from pypdf import PdfReader

    counts, pages = {}, {}
    for renderer in RENDERERS:
        reader = PdfReader(out / f"grids-{size}-{renderer}.pdf")
        text = "".join(page.extract_text() or "" for page in reader.pages)
        counts[renderer] = Counter(char for char in text if not char.isspace())
        pages[renderer] = len(reader.pages)
    typst_only = counts["typst"] - counts["reportlab"]
    reportlab_only = counts["reportlab"] - counts["typst"]
    if not typst_only and not reportlab_only and pages["typst"] == pages["reportlab"]:
        return f"identical ({sum(counts['typst'].values())} characters, {pages['typst']} pages)"
    return (
        f"DIFFERENT: pages {pages}; only Typst {dict(typst_only)}; "
        f"only ReportLab {dict(reportlab_only)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--runs", type=int, default=5)
    parser.add_argument("--size", choices=SIZES, default="standard")
    parser.add_argument("--out", type=Path, help="keep the PDFs here (and compare their text)")
    parser.add_argument("--child", choices=RENDERERS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_one(args.child, args.size, args.out)
        return
    print(f"{args.size} journal, marks grids only; {args.runs} fresh processes per renderer")
    for renderer in RENDERERS:
        results = []
        for run in range(args.runs):
            command = [sys.executable, __file__, "--child", renderer, "--size", args.size]
            if args.out is not None and run == 0:
                command += ["--out", str(args.out)]
            line = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            results.append(json.loads(line.strip().splitlines()[-1]))
        mib = 2**20
        first = results[0]
        seconds = statistics.median(r["seconds"] for r in results)
        cpu = statistics.median(r["cpu_seconds"] for r in results)
        peak = statistics.median(r["peak_rss"] for r in results)
        print(
            f"  {first['version']:17} {seconds:.3f} s median "
            f"(min {min(r['seconds'] for r in results):.3f}, CPU {cpu:.3f} s); "
            f"peak RSS {peak / mib:.0f} MiB (process before rendering: "
            f"{first['start_rss'] / mib:.0f} MiB); {first['pages']} pages, "
            f"{first['bytes'] / 1e6:.2f} MB, {first['cells']} body cells"
        )
    if args.out is not None:
        print(f"  text of the two PDFs: {text_check(args.out, args.size)}")


if __name__ == "__main__":
    main()
