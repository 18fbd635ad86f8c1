"""Journals for the renderer's tests, built directly from the model with realistic Ukrainian data.

``tiny_journal`` is small enough to read every word of; ``full_year_journal`` is a whole school
year (about 30 lessons a week, ~9k marks) built deterministically from a seed.
"""

from __future__ import annotations

import datetime as dt
import random

from archive_service.journal.model import (
    ABSENT,
    VERBAL_LEVELS,
    ExportSource,
    Institution,
    Journal,
    Lesson,
    LessonKind,
    Mark,
    MarkKind,
    Period,
    PeriodResult,
    Pupil,
    SchoolClass,
    SchoolYear,
    Subject,
)

INSTITUTION = Institution(name="Ліцей № 17 «Ґрунт» Їжакевицької міської ради", edrpou="24681357")
EXPORTED_AT = dt.datetime(2024, 6, 28, 14, 30, 5, tzinfo=dt.timezone(dt.timedelta(hours=3)))
SOURCE = ExportSource(platform="Єдина школа", exported_at=EXPORTED_AT, format_version="1.0")

SURNAMES = (
    "Антонович", "Білоус", "Бондаренко", "Гаврилюк", "Ґалаґан", "Ґонта", "Ґудзь", "Дем’яненко",
    "Єрмоленко", "Захарченко", "Іваненко", "Їжакевич", "Климчук", "Коваленко", "Костюк",
    "Кравчук", "Лисенко", "Мельник", "Мороз", "Павлюк", "Поліщук", "П’ятничук", "Руденко",
    "Савчук", "Стефаник", "Ткаченко", "Федорчук", "Цибульська", "Чорновіл", "Шевченко",
    "Юрчишин", "Ющенко", "Яковенко", "Ярема", "Ігнатенко", "Євтушенко",
)
GIVEN_NAMES = (
    "Денис", "Євга", "Уляна", "Гліб", "Вікторія", "Богдан", "Поліна", "Євген", "Ірина",
    "Софія", "Мирослава", "Оксана", "Тарас", "Максим", "Ангеліна", "Олександр", "Арсеній",
    "Ївга", "Мар’яна", "Дмитро", "Святослав", "Соломія", "Ігор", "Ґеоргій",
)

#: (name, lessons per week); the first 14 make the standard 7th-grade plan (30 a week).
SUBJECT_PLAN = (
    ("Українська мова", 3), ("Українська література", 2), ("Зарубіжна література", 2),
    ("Англійська мова", 3), ("Алгебра", 3), ("Геометрія", 2), ("Фізика", 2), ("Хімія", 2),
    ("Біологія", 2), ("Географія", 2), ("Історія України", 2), ("Інформатика", 2),
    ("Основи здоров’я", 1), ("Фізична культура", 3),
    ("Всесвітня історія", 1), ("Мистецтво", 1), ("Трудове навчання", 1), ("Етика", 1),
)
TEACHERS = (
    "Ковальчук Галина Миколаївна", "Осадчук Ірина Петрівна", "Гнатюк Олег Євгенович",
    "Ґорбань Юлія Ігорівна", "Пилипенко Тетяна Олексіївна", "Сидорук Василь Іванович",
)
TOPIC_STEMS = (
    "Повторення вивченого у 6 класі. Текст, його ознаки",
    "Дієприкметник як особлива форма дієслова",
    "Пам’ятки рідного краю: їхнє значення",
    "Ґрунти України та їх охорона",
    "Апостроф після губних приголосних: м’ята, п’ять, б’ють",
    "Їжа та здоров’я: раціон школяра",
    "Європейські держави у XVII столітті",
    "Енергія. Закон збереження енергії",
)
VARIANTS = ("", ". Виконання вправ", ". Узагальнення та систематизація знань")


def _school_days(year: SchoolYear) -> list[dt.date]:
    """Weekdays from 1 September to 31 May without the usual holidays."""
    start = year.start_year
    holidays = [
        (dt.date(start, 10, 30), dt.date(start, 11, 5)),
        (dt.date(start, 12, 30), dt.date(start + 1, 1, 14)),
        (dt.date(start + 1, 3, 23), dt.date(start + 1, 3, 31)),
    ]
    day, last, days = year.first_day, dt.date(start + 1, 5, 31), []
    while day <= last:
        if day.weekday() < 5 and not any(a <= day <= b for a, b in holidays):
            days.append(day)
        day += dt.timedelta(days=1)
    return days


def make_pupils(count: int, rng: random.Random) -> tuple[Pupil, ...]:
    surnames = rng.sample(SURNAMES, count) if count <= len(SURNAMES) else list(SURNAMES)
    return tuple(
        Pupil(id=f"p{i:03d}", full_name=f"{surname} {rng.choice(GIVEN_NAMES)}")
        for i, surname in enumerate(surnames[:count])
    )


def _lesson_kind(number: int) -> LessonKind:
    if number % 12 == 0:
        return LessonKind.TEST
    if number % 8 == 0:
        return LessonKind.THEMATIC
    if number % 10 == 0:
        return LessonKind.PRACTICAL
    return LessonKind.REGULAR


def _topic(subject: str, number: int, kind: LessonKind) -> str:
    stem = TOPIC_STEMS[(number // 3) % len(TOPIC_STEMS)]
    if kind is LessonKind.TEST:
        return f"Контрольна робота № {number // 12} з теми «{stem}»"
    return f"{stem}{VARIANTS[number % len(VARIANTS)]} ({subject.lower()}, урок {number})"


def _mark(pupil: Pupil, rng: random.Random, verbal: bool, kind: LessonKind) -> Mark | None:
    roll = rng.random()
    if roll < 0.035:
        return Mark(pupil_id=pupil.id, value=ABSENT, kind=MarkKind.ABSENT)
    graded = 0.6 if kind is not LessonKind.REGULAR else 0.16
    if roll < 0.035 + graded:
        if verbal:
            return Mark(pupil.id, rng.choice(VERBAL_LEVELS), MarkKind.VERBAL)
        return Mark(pupil.id, str(rng.randint(3, 12)), MarkKind.POINTS)
    return None


def _results(pupils: tuple[Pupil, ...], rng: random.Random, verbal: bool) -> tuple:
    results = []
    for pupil in pupils:
        for period in Period:
            value = rng.choice(VERBAL_LEVELS) if verbal else str(rng.randint(4, 12))
            results.append(PeriodResult(pupil.id, period, value))
    return tuple(results)


def _subject(
    index: int, name: str, per_week: int, days: list[dt.date], pupils: tuple[Pupil, ...],
    rng: random.Random, verbal: bool,
) -> Subject:
    weekdays = {(index + k * 2) % 5 for k in range(per_week)}
    extra = per_week - len(weekdays)  # a second lesson on the same weekday goes on Fridays
    lesson_days = [d for d in days if d.weekday() in weekdays]
    lesson_days += [d for d in days if d.weekday() == 4][: extra * len(days) // 5]
    lessons = []
    for number, day in enumerate(sorted(lesson_days), start=1):
        kind = _lesson_kind(number)
        marks = tuple(m for p in pupils if (m := _mark(p, rng, verbal, kind)) is not None)
        homework = None if number % 7 == 0 else f"§{number // 3 + 1}, вправа {100 + number}"
        lessons.append(
            Lesson(
                id=f"s{index:02d}-l{number:03d}", date=day, topic=_topic(name, number, kind),
                homework=homework, kind=kind, marks=marks,
            )
        )
    return Subject(
        id=f"s{index:02d}", name=name, teacher=TEACHERS[index % len(TEACHERS)],
        lessons=tuple(lessons), results=_results(pupils, rng, verbal),
    )


def full_year_journal(
    pupils: int = 30, subjects: int = 14, seed: int = 0, grade: int = 7, class_name: str = "7-Б"
) -> Journal:
    rng = random.Random(seed)
    year = SchoolYear(2023)
    verbal = grade <= 4
    roster = make_pupils(pupils, rng)
    days = _school_days(year)
    return Journal(
        institution=INSTITUTION,
        school_year=year,
        school_class=SchoolClass(name=class_name, grade=grade, homeroom_teacher=TEACHERS[0]),
        pupils=roster,
        subjects=tuple(
            _subject(i, name, per_week, days, roster, rng, verbal)
            for i, (name, per_week) in enumerate(SUBJECT_PLAN[:subjects])
        ),
        source=SOURCE,
    )


def tiny_journal() -> Journal:
    """Four pupils, two subjects, a handful of lessons: every value is known to the tests."""
    pupils = (
        Pupil("p1", "Яковенко Соломія"),
        Pupil("p2", "Ґалаґан Гліб"),
        Pupil("p3", "Чорновіл Мар’яна"),
        Pupil("p4", "Іваненко Ївга"),
    )
    september = [dt.date(2023, 9, d) for d in (4, 6, 11, 13)]
    mova = Subject(
        id="ukr", name="Українська мова", teacher="Ковальчук Галина Миколаївна",
        lessons=(
            Lesson("u1", september[0], "Повторення вивченого. Текст, його ознаки",
                   "§1, вправа 5", LessonKind.REGULAR,
                   (Mark("p1", "10", MarkKind.POINTS), Mark("p2", ABSENT, MarkKind.ABSENT))),
            Lesson("u2", september[1], "Апостроф: м’ята, п’ять, б’ють", "§2, вправа 17",
                   LessonKind.THEMATIC,
                   (Mark("p1", "11", MarkKind.POINTS), Mark("p3", "7", MarkKind.POINTS),
                    Mark("p4", "12", MarkKind.POINTS))),
            Lesson("u3", september[2], "Контрольна робота № 1 з теми «Ґрунти і їжа»", None,
                   LessonKind.TEST,
                   (Mark("p2", "4", MarkKind.POINTS), Mark("p3", "9", MarkKind.POINTS))),
        ),
        results=(
            PeriodResult("p1", Period.SEMESTER_1, "10"),
            PeriodResult("p2", Period.SEMESTER_1, "н/а"),
            PeriodResult("p3", Period.ANNUAL, "8"),
        ),
    )
    sport = Subject(
        id="pe", name="Фізична культура", teacher="Ґорбань Юлія Ігорівна",
        lessons=(
            Lesson("f1", september[3], "Легка атлетика. Біг на 60 м", None, LessonKind.REGULAR,
                   (Mark("p4", "8", MarkKind.POINTS), Mark("p1", ABSENT, MarkKind.ABSENT))),
        ),
        results=(PeriodResult("p2", Period.ANNUAL, "звільн."),),
    )
    return Journal(
        institution=INSTITUTION,
        school_year=SchoolYear(2023),
        school_class=SchoolClass(name="7-Б", grade=7, homeroom_teacher="Шевченко Ірина Петрівна"),
        pupils=pupils,
        subjects=(mova, sport),
        source=SOURCE,
    )
