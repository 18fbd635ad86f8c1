"""The data shaping: ordering, cell placement, sheet splitting, counts, words."""

from __future__ import annotations

import dataclasses

from archive_service.journal.model import VERBAL_LEVELS, Lesson, LessonKind, Mark, MarkKind
from archive_service.render.document import DocumentInfo
from archive_service.render.layout import (
    GRID_COLUMNS_PER_SHEET,
    TEST_NOTICE,
    AttachmentFacts,
    _balanced_chunks,
    build_layout,
    flat_table,
)

from .journal_factory import full_year_journal, tiny_journal

SHA256 = "2226361acb4bbf15ea4648b6ff3b57e6bdb4333a58927dd6ccb575dceb6bda69"
ATTACHMENT = AttachmentFacts("journal.json", "application/json", SHA256)
INFO = DocumentInfo("doc-1", 3, test_pki=False, verification_note="Крок 1.\n\nКрок 2.")


def test_flat_table_uses_none_for_empty_cells_and_indexes_bold_cells() -> None:
    table = flat_table([["1", "Ім’я", "", "7"], ["2", "Інше", "5", ""]], strong_columns=[3])
    assert table == {"cells": ["1", "Ім’я", None, "7", "2", "Інше", "5", None], "strong": [3]}


def test_balanced_chunks_fill_the_fewest_sheets_evenly() -> None:
    assert _balanced_chunks(0, 29) == []
    assert [len(c) for c in _balanced_chunks(29, 29)] == [29]
    assert [len(c) for c in _balanced_chunks(30, 29)] == [15, 15]
    chunks = _balanced_chunks(101, 29)
    assert [len(c) for c in chunks] == [26, 26, 26, 23]
    assert [i for c in chunks for i in c] == list(range(101))


def test_pupils_are_numbered_in_ukrainian_order() -> None:
    layout = build_layout(tiny_journal(), ATTACHMENT, INFO)
    assert layout["pupils"]["cells"] == [
        "1", "Ґалаґан Гліб", "2", "Іваненко Ївга", "3", "Чорновіл Мар’яна", "4", "Яковенко Соломія",
    ]


def test_grid_places_each_mark_in_its_pupil_row_and_lesson_column() -> None:
    layout = build_layout(tiny_journal(), ATTACHMENT, INFO)
    [sheet] = layout["subjects"][0]["grid_sheets"]
    assert sheet["days"] == ["04", "06", "11"]
    assert sheet["months"] == [["вересень", 3]]
    assert sheet["kinds"] == [None, "Т", "К"]
    assert sheet["weighted"] == [False, True, True]
    width = 2 + 3
    rows = [sheet["body"][i : i + width] for i in range(0, len(sheet["body"]), width)]
    assert rows == [
        ["1", "Ґалаґан Гліб", "н", None, "4"],
        ["2", "Іваненко Ївга", None, "12", None],
        ["3", "Чорновіл Мар’яна", None, "7", "9"],
        ["4", "Яковенко Соломія", "10", "11", None],
    ]


def test_a_month_with_one_grid_column_gets_its_short_name() -> None:
    layout = build_layout(tiny_journal(), ATTACHMENT, INFO)
    assert layout["subjects"][1]["grid_sheets"][0]["months"] == [["вер", 1]]


def test_lesson_record_is_chronological_with_tests_in_bold() -> None:
    journal = tiny_journal()
    subject = journal.subjects[0]
    shuffled = dataclasses.replace(subject, lessons=tuple(reversed(subject.lessons)))
    journal = dataclasses.replace(journal, subjects=(shuffled, *journal.subjects[1:]))
    record = build_layout(journal, ATTACHMENT, INFO)["subjects"][0]["lessons"]
    assert record["cells"][:4] == ["1", "04.09", "Повторення вивченого. Текст, його ознаки",
                                   "§1, вправа 5"]
    assert record["cells"][8:12] == ["3", "11.09", "Контрольна робота № 1 з теми «Ґрунти і їжа»",
                                     None]
    assert record["strong"] == [8, 9, 10]  # the test lesson; its empty homework stays plain


def test_summary_sheet_bolds_the_annual_column_and_splits_subjects() -> None:
    layout = build_layout(full_year_journal(pupils=5, subjects=14), ATTACHMENT, INFO)
    sheets = layout["summary_sheets"]
    assert [len(s["subjects"]) for s in sheets] == [7, 7]
    width = 2 + 3 * 7
    assert {i % width for i in sheets[0]["body"]["strong"]} == {4, 7, 10, 13, 16, 19, 22}


def test_wide_grids_are_split_into_sheets_that_keep_every_lesson() -> None:
    journal = full_year_journal(pupils=3, subjects=1)
    [subject] = build_layout(journal, ATTACHMENT, INFO)["subjects"]
    sheets = subject["grid_sheets"]
    assert len(sheets) > 1
    assert all(len(s["days"]) <= GRID_COLUMNS_PER_SHEET for s in sheets)
    assert sum(len(s["days"]) for s in sheets) == len(journal.subjects[0].lessons)
    assert sheets[-1]["caption"].endswith(f"аркуш {len(sheets)} з {len(sheets)}")
    for sheet in sheets:
        assert sum(span for _, span in sheet["months"]) == len(sheet["days"])


def test_attendance_counts_absences_per_semester() -> None:
    journal = tiny_journal()
    january = dataclasses.replace(journal.subjects[1].lessons[0],
                                  date=journal.subjects[1].lessons[0].date.replace(2024, 1, 16))
    sport = dataclasses.replace(journal.subjects[1], lessons=(january,))
    journal = dataclasses.replace(journal, subjects=(journal.subjects[0], sport))
    attendance = build_layout(journal, ATTACHMENT, INFO)["attendance"]
    cells = attendance["body"]["cells"]
    assert cells[:5] == ["1", "Ґалаґан Гліб", "1", "0", "1"]
    assert cells[15:20] == ["4", "Яковенко Соломія", "0", "1", "1"]
    assert attendance["total"] == [None, "Разом", "1", "1", "2"]


def test_verbal_levels_are_abbreviated_in_grids_with_a_legend() -> None:
    journal = tiny_journal()
    lesson = Lesson("v1", journal.subjects[0].lessons[0].date, "Тема", None, LessonKind.REGULAR,
                    (Mark("p1", VERBAL_LEVELS[0], MarkKind.VERBAL),))
    subject = dataclasses.replace(journal.subjects[0], lessons=(lesson,))
    young = dataclasses.replace(
        journal,
        school_class=dataclasses.replace(journal.school_class, name="3-А", grade=3),
        subjects=(subject,),
    )
    layout = build_layout(young, ATTACHMENT, INFO)
    assert "ЗУ" in layout["subjects"][0]["grid_sheets"][0]["body"]
    assert f"ЗУ — {VERBAL_LEVELS[0]}" in layout["verbal_legend"]
    assert build_layout(journal, ATTACHMENT, INFO)["verbal_legend"] is None


def test_title_page_and_metadata() -> None:
    layout = build_layout(tiny_journal(), ATTACHMENT, INFO)
    assert layout["meta"]["title"] == (
        "Класний журнал 7-Б, 2023/2024 — Ліцей № 17 «Ґрунт» Їжакевицької міської ради"
    )
    rows = dict(layout["title_page"]["rows"])
    assert rows["Код ЄДРПОУ"] == "24681357"
    assert rows["Період записів"] == "04.09.2023 – 13.09.2023"
    assert rows["Час експорту"] == "28.06.2024 14:30:05 (UTC+03:00)"
    assert rows["Ідентифікатор документа"] == "doc-1"
    assert rows["Версія документа"] == "3"
    assert layout["title_page"]["verification_note"] == ["Крок 1.", "Крок 2."]
    assert layout["title_page"]["test_notice"] is None
    test_info = dataclasses.replace(INFO, test_pki=True)
    assert build_layout(tiny_journal(), ATTACHMENT, test_info)["title_page"]["test_notice"] == (
        TEST_NOTICE
    )


def test_embedded_export_is_attached_and_not_hashed_on_the_title_page() -> None:
    layout = build_layout(tiny_journal(), ATTACHMENT, INFO)
    assert layout["attachment"]["path"] == "journal.json"
    assert layout["title_page"]["source_hash"] is None


def test_export_that_cannot_be_embedded_is_identified_by_its_hash() -> None:
    kept_aside = dataclasses.replace(ATTACHMENT, embedded=False)
    layout = build_layout(tiny_journal(), kept_aside, INFO)
    assert layout["attachment"] is None
    note = layout["title_page"]["source_hash"]
    assert note["sha256"] == SHA256
    assert "«journal.json», application/json" in note["text"]
    assert "зберігається в архіві" in note["text"]
    rows = dict(map(tuple, layout["title_page"]["rows"]))
    assert "вкладено" not in rows["Формат експорту"]
