#!/usr/bin/env python3
"""Realistic synthetic class journals (export format v1) for tests and the benchmark.

The data is invented but shaped like a real Ukrainian school's e-journal: Ukrainian names with
і, ї, є, ґ and apostrophes, the subjects of the grade with their weekly hours, a weekly timetable
from 1 September to the end of May around the autumn, winter and spring breaks, topics and
homework, marks for about a third of the class per lesson, absences («н»), tests and thematic
lessons, and semester/annual results derived from the marks. Grades 1–4 get verbal assessment.
The same seed always gives the same journal.

Usage::

    python scripts/generate_journal.py --size standard --format xml --seed 1 -o journal.xml
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archive_service.journal import xml_form
from archive_service.journal.model import (
    ABSENT,
    CREDITED,
    EXEMPT,
    NOT_ASSESSED,
    VERBAL_ASSESSMENT_GRADES,
    VERBAL_LEVELS,
)

#: size name → (pupils, subjects, full school year)
SIZES: dict[str, tuple[int, int, bool]] = {
    "standard": (30, 14, True),
    "large": (35, 18, True),
    "small": (8, 3, False),
}
START_YEAR = 2023
#: A journal excerpt (``full_year=False``) covers the first weeks of September and October.
EXCERPT_WEEKS = 7
#: A pupil who missed most lessons and has fewer marks than this is «н/а» (not assessed).
MIN_MARKS_FOR_RESULT = 3

# ----------------------------------------------------------------------------- people

MALE_NAMES = (
    "Олександр",
    "Андрій",
    "Богдан",
    "Віталій",
    "Дмитро",
    "Євген",
    "Ілля",
    "Ігор",
    "Кирило",
    "Максим",
    "Матвій",
    "Назар",
    "Олексій",
    "Остап",
    "Тарас",
    "Юрій",
    "Ярослав",
    "В’ячеслав",
    "Дем’ян",
    "Гліб",
    "Святослав",
    "Мар’ян",
    "Захар",
    "Єгор",
)
FEMALE_NAMES = (
    "Мар’яна",
    "Соф’я",
    "Дар’я",
    "Анастасія",
    "Вікторія",
    "Єва",
    "Єлизавета",
    "Іванна",
    "Ірина",
    "Катерина",
    "Злата",
    "Олена",
    "Оксана",
    "Поліна",
    "Христина",
    "Юлія",
    "Ярина",
    "Уляна",
    "Марія",
    "Наталія",
    "Валерія",
    "Ангеліна",
)
#: (father's name → patronymic for a son, for a daughter)
PATRONYMICS = (
    ("Олександрович", "Олександрівна"),
    ("Андрійович", "Андріївна"),
    ("Сергійович", "Сергіївна"),
    ("Володимирович", "Володимирівна"),
    ("Миколайович", "Миколаївна"),
    ("Іванович", "Іванівна"),
    ("Петрович", "Петрівна"),
    ("Юрійович", "Юріївна"),
    ("Віталійович", "Віталіївна"),
    ("Ігорович", "Ігорівна"),
    ("Олегович", "Олегівна"),
    ("Богданович", "Богданівна"),
    ("Ярославович", "Ярославівна"),
    ("Анатолійович", "Анатоліївна"),
    ("Григорович", "Григорівна"),
)
#: Surnames that are the same for men and women.
SURNAMES = (
    "Шевченко",
    "Бондаренко",
    "Ткаченко",
    "Коваленко",
    "Кравченко",
    "Олійник",
    "Мельник",
    "Ковальчук",
    "Гнатюк",
    "Савчук",
    "Поліщук",
    "Мороз",
    "Лисенко",
    "Іваненко",
    "Сергієнко",
    "Дем’яненко",
    "Лук’яненко",
    "Сем’янів",
    "М’ясоїд",
    "Ґалаґан",
    "Ґудзь",
    "Ґонта",
    "Їжакевич",
    "Єременко",
    "Романюк",
    "Бойко",
    "Марченко",
    "Руденко",
    "Гордієнко",
    "Кузьмич",
    "Оліфіренко",
    "Яковенко",
    "Стельмах",
    "Заїка",
    "Гребінь",
    "Кошель",
)
#: Adjectival surnames: (masculine, feminine).
GENDERED_SURNAMES = (
    ("Під’ячий", "Під’яча"),
    ("Яворський", "Яворська"),
    ("Білецький", "Білецька"),
    ("Рудий", "Руда"),
    ("Заїчківський", "Заїчківська"),
    ("Вишневський", "Вишневська"),
)

UKRAINIAN_ALPHABET = "абвгґдеєжзиіїйклмнопрстуфхцчшщьюя"
_COLLATION = {letter: index for index, letter in enumerate(UKRAINIAN_ALPHABET)}

INSTITUTIONS = (
    "Ліцей № 17 Житомирської міської ради",
    "Вінницький ліцей № 7",
    "Полтавський ліцей № 3 імені І. П. Котляревського",
    "Ліцей «Ґрунт» Чернігівської міської ради",
    "Опорний ліцей № 2 Ірпінської міської ради",
)
PLATFORM = "Нові знання"

# ----------------------------------------------------------------------------- curriculum


LESSONCTIVITY_CONTINUATIONS = (
    "Навчання техніки",
    "Вдосконалення техніки",
    "Розвиток швидкості",
    "Розвиток витривалості",
    "Навчальна гра",
)
CREATIVE_CONTINUATIONS = ("Творча робота", "Практикум", "Робота над проєктом")


LESSON_CONTINUATIONS = (
    "Закріплення",
    "Розв’язування вправ",
    "Робота з підручником",
    "Самостійна робота",
    "Практикум",
    "Урок-дослідження",
)
ACTIVITY_CONTINUATIONS = (
    "Навчання техніки",
    "Вдосконалення техніки",
    "Розвиток швидкості",
    "Розвиток витривалості",
    "Навчальна гра",
)
CREATIVE_CONTINUATIONS = ("Творча робота", "Практикум", "Робота над проєктом")


@dataclass(frozen=True)
class Course:
    """A subject as taught in one grade band."""

    id: str
    name: str
    hours: int  # per week
    #: Courses with the same group share a teacher (Алгебра and Геометрія, for instance).
    teacher_group: str
    topics: tuple[str, ...]
    homework: tuple[str, ...]
    #: Title of the practical lessons («Практична робота», «Лабораторна робота»), if any.
    practical: str | None = None
    #: No written tests (physical education, arts).
    has_tests: bool = True
    #: The year starts by revising the previous grade (not for subjects that start this year).
    review: bool = True
    #: How the lessons after a unit's first one are titled.
    continuations: tuple[str, ...] = LESSON_CONTINUATIONS


LANGUAGE_HOMEWORK = (
    "§ {p}, вправа {n}",
    "Вивчити правило § {p}, вправа {n} (письмово)",
    "Словникові слова с. {page}",
    "§ {p}, вправа {n}; повторити орфограми",
)
LITERATURE_HOMEWORK = (
    "Прочитати твір (с. {page}–{page2})",
    "Вивчити напам’ять уривок, с. {page}",
    "Відповісти на питання 1–5, с. {page}",
    "Скласти цитатний план, с. {page}",
)
MATH_HOMEWORK = (
    "§ {p}, № {n}, {n2}",
    "§ {p}, № {n}–{n2}",
    "Повторити § {p}, № {n}",
    "Домашня самостійна робота, № {n}",
)
SCIENCE_HOMEWORK = (
    "§ {p}, питання 1–4",
    "§ {p}, вправа {n}",
    "§ {p}, заповнити таблицю",
    "Підготувати повідомлення (§ {p})",
)
HUMANITIES_HOMEWORK = (
    "§ {p}, запитання с. {page}",
    "§ {p}, робота з картою",
    "§ {p}, складіть хронологічну таблицю",
    "§ {p}, есе «Що я дізнався»",
)
ENGLISH_HOMEWORK = (
    "Ex. {n}, p. {page}",
    "Learn the new words, p. {page}",
    "WB p. {page}, ex. {n}",
    "Write 8–10 sentences about your weekend",
)
PRACTICAL_HOMEWORK = ("Комплекс ранкової гімнастики", "Повторити вправи з уроку")

SECONDARY = (
    Course(
        "ukr-lang",
        "Українська мова",
        3,
        "ukr",
        (
            "Дієслово як частина мови",
            "Дієприкметник як особлива форма дієслова",
            "Дієприкметниковий зворот. Розділові знаки",
            "Активні й пасивні дієприкметники",
            "Дієприслівник. Дієприслівниковий зворот",
            "Прислівник як частина мови",
            "Правопис прислівників",
            "Прийменник. Сполучник",
            "Частка. Вигук",
            "Ступені порівняння прислівників",
            "Апостроф і м’який знак: повторення",
        ),
        LANGUAGE_HOMEWORK,
    ),
    Course(
        "ukr-lit",
        "Українська література",
        2,
        "ukr",
        (
            "Пісні Марусі Чурай",
            "Іван Франко «Захар Беркут»",
            "Михайло Коцюбинський «Дорогою ціною»",
            "Олександр Олесь «Чарівний світ поезії»",
            "Леся Українка «Давня казка»",
            "Григір Тютюнник «Климко»",
            "Всеволод Нестайко «Тореадори з Васюківки»",
            "Ліна Костенко. Поезії",
            "Тарас Шевченко «Мені тринадцятий минало…»",
        ),
        LITERATURE_HOMEWORK,
    ),
    Course(
        "world-lit",
        "Зарубіжна література",
        2,
        "world-lit",
        (
            "Балади. Вальтер Скотт «Кліфтонський замок»",
            "Фольклор народів світу",
            "Артур Конан Дойл «Шляхетний холостяк»",
            "Рей Бредбері «Усмішка»",
            "О. Генрі «Дари волхвів»",
            "Антуан де Сент-Екзюпері «Маленький принц»",
            "Джек Лондон «Жага до життя»",
            "Роберт Льюїс Стівенсон «Балада про вересовий трунок»",
        ),
        LITERATURE_HOMEWORK,
    ),
    Course(
        "english",
        "Англійська мова",
        3,
        "english",
        (
            "Back to school",
            "My daily routine",
            "Past Simple vs Past Continuous",
            "Travelling",
            "Food and health",
            "Present Perfect",
            "Ukraine and English-speaking countries",
            "Sport in our life",
            "Modal verbs",
            "Shopping",
        ),
        ENGLISH_HOMEWORK,
    ),
    Course(
        "algebra",
        "Алгебра",
        2,
        "math",
        (
            "Вирази зі змінними. Тотожні перетворення",
            "Степінь з натуральним показником",
            "Одночлени. Многочлени",
            "Множення многочленів",
            "Формули скороченого множення",
            "Розкладання многочленів на множники",
            "Функції. Лінійна функція",
            "Лінійні рівняння з однією змінною",
            "Системи лінійних рівнянь",
        ),
        MATH_HOMEWORK,
    ),
    Course(
        "geometry",
        "Геометрія",
        2,
        "math",
        (
            "Найпростіші геометричні фігури",
            "Суміжні та вертикальні кути",
            "Паралельні прямі. Ознаки паралельності",
            "Трикутник. Ознаки рівності трикутників",
            "Рівнобедрений трикутник",
            "Сума кутів трикутника",
            "Коло і круг. Геометричні побудови",
        ),
        MATH_HOMEWORK,
    ),
    Course(
        "hist-ukr",
        "Історія України",
        2,
        "history",
        (
            "Утворення Київської держави",
            "Київська держава за Володимира Великого",
            "Ярослав Мудрий. «Руська правда»",
            "Культура Русі-України",
            "Галицько-Волинська держава",
            "Роман Мстиславич і Данило Романович",
            "Українські землі у складі Великого князівства Литовського",
        ),
        HUMANITIES_HOMEWORK,
    ),
    Course(
        "hist-world",
        "Всесвітня історія",
        1,
        "history",
        (
            "Середньовіччя як історична доба",
            "Франкська держава",
            "Візантійська імперія",
            "Арабський халіфат",
            "Хрестові походи",
            "Середньовічне місто",
        ),
        HUMANITIES_HOMEWORK,
    ),
    Course(
        "geography",
        "Географія",
        2,
        "geography",
        (
            "Материки та океани. Карта світу",
            "Африка: географічне положення",
            "Південна Америка",
            "Австралія",
            "Антарктида",
            "Північна Америка",
            "Євразія",
            "Світовий океан",
        ),
        HUMANITIES_HOMEWORK,
        "Практична робота",
    ),
    Course(
        "biology",
        "Біологія",
        2,
        "biology",
        (
            "Тварини як частина природи",
            "Одноклітинні тварини",
            "Кишковопорожнинні",
            "Черви",
            "Молюски",
            "Членистоногі",
            "Риби",
            "Земноводні та плазуни",
        ),
        SCIENCE_HOMEWORK,
        "Лабораторна робота",
    ),
    Course(
        "physics",
        "Фізика",
        2,
        "physics",
        (
            "Фізика як природнича наука. Вимірювання",
            "Будова речовини. Дифузія",
            "Механічний рух. Швидкість",
            "Взаємодія тіл. Сила",
            "Тиск твердих тіл, рідин і газів",
            "Механічна робота та енергія",
            "Прості механізми. ККД",
        ),
        SCIENCE_HOMEWORK,
        "Лабораторна робота",
        review=False,
    ),
    Course(
        "chemistry",
        "Хімія",
        2,
        "chemistry",
        (
            "Правила безпеки в хімічному кабінеті",
            "Речовини та їхні властивості",
            "Атоми. Хімічні елементи",
            "Періодична система хімічних елементів",
            "Валентність. Хімічні формули",
            "Кисень",
            "Вода. Розчини",
        ),
        SCIENCE_HOMEWORK,
        "Практична робота",
        review=False,
    ),
    Course(
        "informatics",
        "Інформатика",
        1,
        "informatics",
        (
            "Безпека в інтернеті",
            "Опрацювання об’єктів мультимедіа",
            "Комп’ютерні презентації",
            "Алгоритми з розгалуженням",
            "Цикли в Scratch",
            "Електронні таблиці",
        ),
        SCIENCE_HOMEWORK,
        "Практична робота",
    ),
    Course(
        "pe",
        "Фізична культура",
        3,
        "pe",
        (
            "Легка атлетика",
            "Футбол",
            "Гімнастика",
            "Баскетбол",
            "Волейбол",
            "Гандбол",
        ),
        PRACTICAL_HOMEWORK,
        has_tests=False,
        review=False,
        continuations=ACTIVITY_CONTINUATIONS,
    ),
    Course(
        "arts",
        "Мистецтво",
        1,
        "arts",
        (
            "Мистецтво та життя",
            "Мистецтво і технічний прогрес",
            "Дизайн",
            "Фотомистецтво",
            "Кіномистецтво",
            "Музика в театрі",
        ),
        ("Підготувати ескіз", "Прослухати твір, с. {page}", "Творче завдання, с. {page}"),
        has_tests=False,
        review=False,
        continuations=CREATIVE_CONTINUATIONS,
    ),
    Course(
        "health",
        "Основи здоров’я",
        1,
        "biology",
        (
            "Здоров’я людини",
            "Безпека дорожнього руху",
            "Харчування і здоров’я",
            "Психологічна безпека",
            "Дії в надзвичайних ситуаціях",
        ),
        SCIENCE_HOMEWORK,
    ),
    Course(
        "technology",
        "Трудове навчання",
        2,
        "technology",
        (
            "Проєктування виробу",
            "Технологія виготовлення виробів з деревини",
            "Вишивка",
            "Технологія побутової діяльності",
        ),
        ("Підготувати матеріали до проєкту", "Завершити виріб"),
        "Практична робота",
        has_tests=False,
        review=False,
        continuations=CREATIVE_CONTINUATIONS,
    ),
    Course(
        "german",
        "Німецька мова",
        2,
        "german",
        (
            "Schule und Freunde",
            "Meine Familie",
            "Freizeit und Hobbys",
            "Reisen",
            "Essen und Trinken",
        ),
        ("Übung {n}, S. {page}", "Neue Wörter lernen, S. {page}"),
    ),
)

PRIMARY = (
    Course(
        "ukr-lang",
        "Українська мова",
        4,
        "homeroom",
        (
            "Звуки і букви",
            "Наголос. Склад",
            "Слово. Значення слова",
            "Речення",
            "Апостроф. Правопис слів з апострофом",
            "Велика буква в іменах",
            "Текст",
        ),
        ("Зошит, с. {page}, вправа {n}", "Прочитати с. {page}", "Списати текст, с. {page}"),
    ),
    Course(
        "reading",
        "Літературне читання",
        3,
        "homeroom",
        (
            "Казки народів світу",
            "Осінь у творах українських письменників",
            "Вірші Ліни Костенко для дітей",
            "Байки Леоніда Глібова",
            "Розповіді про тварин",
        ),
        ("Прочитати с. {page}–{page2}", "Вивчити вірш напам’ять, с. {page}"),
    ),
    Course(
        "math",
        "Математика",
        4,
        "homeroom",
        (
            "Додавання і віднімання в межах 100",
            "Числа 1–100. Нумерація",
            "Множення на 2",
            "Задачі на дві дії",
            "Вимірювання довжини. Сантиметр",
            "Час. Годинник",
        ),
        ("Зошит, с. {page}, № {n}", "№ {n}, {n2}"),
    ),
    Course(
        "explore-world",
        "Я досліджую світ",
        3,
        "homeroom",
        (
            "Моя школа",
            "Осінь у природі",
            "Моя родина",
            "Безпечна дорога до школи",
            "Тварини взимку",
            "Моя Україна",
        ),
        ("Зошит, с. {page}", "Намалювати малюнок «{topic}»"),
    ),
    Course(
        "english",
        "Англійська мова",
        2,
        "english",
        (
            "Hello! My name is…",
            "Colours and toys",
            "My family",
            "Numbers 1–20",
            "Animals",
        ),
        ("Learn the words, p. {page}", "WB p. {page}"),
    ),
    Course(
        "informatics",
        "Інформатика",
        1,
        "informatics",
        (
            "Комп’ютер і безпека",
            "Алгоритми навколо нас",
            "Малюємо на комп’ютері",
        ),
        ("Робочий зошит, с. {page}",),
    ),
    Course(
        "arts",
        "Мистецтво",
        2,
        "arts",
        (
            "Кольори осені",
            "Мелодія і ритм",
            "Народні іграшки",
            "Новорічні свята",
        ),
        ("Підготувати кольорові олівці", "Вивчити пісню"),
        has_tests=False,
        review=False,
        continuations=CREATIVE_CONTINUATIONS,
    ),
    Course(
        "design-tech",
        "Дизайн і технології",
        1,
        "homeroom",
        (
            "Аплікація з осіннього листя",
            "Вироби з паперу",
            "Ліплення з пластиліну",
        ),
        ("Принести природні матеріали",),
        has_tests=False,
        review=False,
        continuations=CREATIVE_CONTINUATIONS,
    ),
    Course(
        "pe",
        "Фізична культура",
        3,
        "pe",
        (
            "Ходьба і біг",
            "Рухливі ігри",
            "Стрибки",
            "Вправи з м’ячем",
        ),
        PRACTICAL_HOMEWORK,
        has_tests=False,
        review=False,
        continuations=ACTIVITY_CONTINUATIONS,
    ),
)

PUPIL_COMMENTS = (
    "усна відповідь",
    "самостійна робота",
    "робота біля дошки",
    "домашнє завдання",
    "словниковий диктант",
    "робота в групі",
)

# ----------------------------------------------------------------------------- calendar


def holidays(start_year: int) -> list[tuple[dt.date, dt.date]]:
    """Autumn (end of October), winter (late December–mid January), spring (late March)."""
    autumn = _monday_of(dt.date(start_year, 10, 30))
    spring = _monday_of(dt.date(start_year + 1, 3, 25))
    return [
        (autumn, autumn + dt.timedelta(days=6)),
        (dt.date(start_year, 12, 25), dt.date(start_year + 1, 1, 14)),
        (spring, spring + dt.timedelta(days=6)),
    ]


def semester_2_start(start_year: int) -> dt.date:
    return dt.date(start_year + 1, 1, 15)


def school_days(start_year: int, full_year: bool) -> Iterator[dt.date]:
    first = dt.date(start_year, 9, 1)
    last = (
        dt.date(start_year + 1, 5, 31)
        if full_year
        else first + dt.timedelta(weeks=EXCERPT_WEEKS, days=-1)
    )
    breaks = holidays(start_year)
    day = first
    while day <= last:
        if day.weekday() < 5 and not any(a <= day <= b for a, b in breaks):
            yield day
        day += dt.timedelta(days=1)


def _monday_of(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


# ----------------------------------------------------------------------------- the journal


@dataclass
class _Pupil:
    id: str
    full_name: str
    ability: float
    absence_rate: float


def generate_export(
    pupils: int = 30, subjects: int = 14, grade: int = 7, seed: int = 0, full_year: bool = True
) -> dict[str, Any]:
    """A JSON-able export in format v1 (see ``schemas/journal-export.schema.json``).

    :param full_year: the whole school year; False gives the first weeks of September–October.
    :raises ValueError: more subjects than the grade has, or an impossible grade or class size.
    """
    if not 1 <= grade <= 12:
        raise ValueError(f"grade must be 1–12, not {grade}")
    if pupils < 1:
        raise ValueError("a class needs at least one pupil")
    curriculum = PRIMARY if grade in VERBAL_ASSESSMENT_GRADES else SECONDARY
    if not 1 <= subjects <= len(curriculum):
        raise ValueError(f"grade {grade} has 1–{len(curriculum)} subjects here, not {subjects}")
    rng = random.Random(f"journal:{seed}:{pupils}:{subjects}:{grade}:{full_year}")
    class_pupils = _make_pupils(rng, pupils)
    courses = curriculum[:subjects]
    teachers = _make_teachers(rng, courses)
    days = list(school_days(START_YEAR, full_year))
    illness = _long_illness(rng, class_pupils, days)
    return {
        "source": {
            "platform": PLATFORM,
            "exported_at": f"{START_YEAR + 1}-06-20T10:00:00+03:00",
            "format_version": "1.0",
        },
        "institution": {
            "name": rng.choice(INSTITUTIONS),
            "edrpou": f"{rng.randrange(20_000_000, 44_999_999):08d}",
        },
        "school_year": f"{START_YEAR}/{START_YEAR + 1}",
        "class": {
            "name": f"{grade}-{rng.choice('АБВГ')}",
            "grade": grade,
            "homeroom_teacher": teachers[courses[0].teacher_group],
        },
        "pupils": [{"id": p.id, "full_name": p.full_name} for p in class_pupils],
        "subjects": [
            _SubjectWriter(rng, course, grade, class_pupils, illness).write(
                teachers[course.teacher_group], days, full_year
            )
            for course in courses
        ],
    }


def export_to_xml(export: dict[str, Any]) -> bytes:
    """The same export in XML, valid against ``schemas/journal-export.xsd``."""
    return xml_form.from_export(export)


def export_to_json(export: dict[str, Any], *, pretty: bool = False) -> bytes:
    text = json.dumps(export, ensure_ascii=False, indent=2 if pretty else None)
    return (text + "\n").encode("utf-8")


def ukrainian_sort_key(text: str) -> tuple[int, ...]:
    """Ukrainian alphabetical order (Python's default puts І, Ї, Є, Ґ after Я)."""
    letters = (ch for ch in text.lower() if ch not in "’'ʼ -")
    return tuple(_COLLATION.get(ch, 100 + ord(ch)) for ch in letters)


def _person(rng: random.Random, female: bool) -> str:
    first = rng.choice(FEMALE_NAMES if female else MALE_NAMES)
    patronymic = rng.choice(PATRONYMICS)[1 if female else 0]
    if rng.random() < 0.15:
        surname = rng.choice(GENDERED_SURNAMES)[1 if female else 0]
    else:
        surname = rng.choice(SURNAMES)
    return f"{surname} {first} {patronymic}"


def _make_pupils(rng: random.Random, count: int) -> list[_Pupil]:
    names: set[str] = set()
    while len(names) < count:
        names.add(_person(rng, female=rng.random() < 0.5))
    ordered = sorted(names, key=ukrainian_sort_key)
    return [
        _Pupil(
            id=f"p{index:02d}",
            full_name=name,
            ability=min(11.5, max(3.0, rng.gauss(7.6, 1.9))),
            absence_rate=0.09 if rng.random() < 0.15 else 0.025,
        )
        for index, name in enumerate(ordered, start=1)
    ]


def _make_teachers(rng: random.Random, courses: tuple[Course, ...]) -> dict[str, str]:
    teachers: dict[str, str] = {}
    for course in courses:
        while course.teacher_group not in teachers:
            name = _person(rng, female=rng.random() < 0.75)
            if name not in teachers.values():
                teachers[course.teacher_group] = name
    return teachers


def _long_illness(
    rng: random.Random, pupils: list[_Pupil], days: list[dt.date]
) -> tuple[str, dt.date, dt.date] | None:
    """One pupil of a bigger class is on sick leave for weeks: the source of «н/а» results."""
    if len(pupils) < 10 or len(days) < 20:
        return None
    start = days[len(days) // 12]
    return rng.choice(pupils).id, start, start + dt.timedelta(weeks=5)


@dataclass
class _Record:
    """One pupil's marks in one semester of one subject."""

    values: list[str] = field(default_factory=list)
    thematic: list[str] = field(default_factory=list)
    absences: int = 0

    def add(self, value: str, kind: str | None) -> None:
        if value == ABSENT:
            self.absences += 1
            return
        self.values.append(value)
        if kind == "thematic":
            self.thematic.append(value)


class _SubjectWriter:
    """Lessons, marks and results of one subject, following the class's weekly timetable."""

    def __init__(
        self,
        rng: random.Random,
        course: Course,
        grade: int,
        pupils: list[_Pupil],
        illness: tuple[str, dt.date, dt.date] | None,
    ) -> None:
        self.rng, self.course, self.grade, self.pupils, self.illness = (
            rng,
            course,
            grade,
            pupils,
            illness,
        )
        self.verbal = grade in VERBAL_ASSESSMENT_GRADES
        self.talent = {p.id: rng.gauss(0, 0.8) for p in pupils}
        self.credited: dict[str, str] = {}
        if course.id == "pe" and len(pupils) >= 8:
            exempt, credited = rng.sample(pupils, 2)
            self.credited = {exempt.id: EXEMPT, credited.id: CREDITED}

    def write(self, teacher: str, days: list[dt.date], full_year: bool) -> dict[str, Any]:
        weekdays = set(self.rng.sample(range(5), min(self.course.hours, 5)))
        slots = [day for day in days if day.weekday() in weekdays]
        lessons = [
            self._lesson(n, day, topic, kind)
            for n, (day, topic, kind) in enumerate(self._plan(slots), start=1)
        ]
        return {
            "id": self.course.id,
            "name": self.course.name,
            "teacher": teacher,
            "lessons": lessons,
            "results": self._results(lessons, full_year),
        }

    def _plan(self, slots: list[dt.date]) -> Iterator[tuple[dt.date, str, str]]:
        """Units: introduction, practice, a practical lesson, a test, then the thematic lesson."""
        practical_no = test_no = 0
        index = 0
        for topic, length in self._units():
            # A unit cut off by the end of the period has no test or thematic lesson.
            assessed = topic in self.course.topics and index + length <= len(slots)
            for step in range(length):
                if index == len(slots):
                    return
                day = slots[index]
                index += 1
                if assessed and step == length - 1:
                    yield day, f"Узагальнення та систематизація знань з теми «{topic}»", "thematic"
                elif assessed and step == length - 2 and self.course.has_tests:
                    test_no += 1
                    yield day, f"Контрольна робота № {test_no}. {topic}", "test"
                elif assessed and step == length // 2 and self.course.practical:
                    practical_no += 1
                    yield day, f"{self.course.practical} № {practical_no}. {topic}", "practical"
                elif step == 0:
                    yield day, topic, "regular"
                else:
                    yield day, f"{topic}. {self.rng.choice(self.course.continuations)}", "regular"

    def _units(self) -> Iterator[tuple[str, int]]:
        """(topic, lessons): a short revision first, then units of three to four weeks."""
        if self.course.review and self.grade > 1:
            yield f"Повторення вивченого в {self.grade - 1} класі", self.course.hours + 1
        length = max(5, min(12, self.course.hours * 4))
        yield from itertools.cycle((topic, length) for topic in self.course.topics)

    def _lesson(self, number: int, day: dt.date, topic: str, kind: str) -> dict[str, Any]:
        lesson: dict[str, Any] = {"id": f"l{number:03d}", "date": day.isoformat(), "topic": topic}
        lesson["homework"] = None if kind == "test" else self._homework(number, topic)
        if kind != "regular":
            lesson["kind"] = kind
        lesson["marks"] = list(self._marks(day, kind))
        return lesson

    def _homework(self, number: int, topic: str) -> str | None:
        if self.rng.random() < 0.1:
            return None
        paragraph = 1 + number // 3
        page = 8 + number * 2
        return self.rng.choice(self.course.homework).format(
            p=paragraph,
            n=number * 3 % 400 + 1,
            n2=number * 3 % 400 + 4,
            page=page,
            page2=page + 6,
            topic=topic,
        )

    def _marks(self, day: dt.date, kind: str) -> Iterator[dict[str, str]]:
        share = {"regular": 0.25, "practical": 0.6, "thematic": 0.5}.get(kind, 1.0)
        for pupil in self.pupils:
            if self._absent(pupil, day):
                yield {"pupil": pupil.id, "value": ABSENT}
            elif pupil.id not in self.credited and self.rng.random() < share:
                mark = {"pupil": pupil.id, "value": self._value(pupil)}
                if kind == "regular" and self.rng.random() < 0.03:
                    mark["comment"] = self.rng.choice(PUPIL_COMMENTS)
                yield mark

    def _absent(self, pupil: _Pupil, day: dt.date) -> bool:
        if (
            self.illness
            and self.illness[0] == pupil.id
            and self.illness[1] <= day <= self.illness[2]
        ):
            return True
        return self.rng.random() < pupil.absence_rate

    def _level(self, pupil: _Pupil) -> float:
        return pupil.ability + self.talent[pupil.id] + self.rng.gauss(0, 1.2)

    def _value(self, pupil: _Pupil) -> str:
        level = self._level(pupil)
        if self.verbal:
            return _verbal(level)
        return str(min(12, max(1, round(level))))

    def _results(self, lessons: list[dict[str, Any]], full_year: bool) -> list[dict[str, str]]:
        """Semester results from the marks (thematic ones first), annual from the semesters."""
        split = semester_2_start(START_YEAR).isoformat()
        records = {p.id: (_Record(), _Record()) for p in self.pupils}
        lesson_counts = [0, 0]
        for lesson in lessons:
            semester = 0 if lesson["date"] < split else 1
            lesson_counts[semester] += 1
            for mark in lesson["marks"]:
                records[mark["pupil"]][semester].add(mark["value"], lesson.get("kind"))
        rows = []
        for pupil in self.pupils:
            if pupil.id in self.credited:
                word = self.credited[pupil.id]
                rows.append(
                    {"pupil": pupil.id, "semester_1": word, "semester_2": word, "annual": word}
                )
                continue
            record_1, record_2 = records[pupil.id]
            first = self._semester(record_1, lesson_counts[0])
            # An excerpt holds only the first weeks; the rest of the year shows as its outcome.
            second = self._semester(record_2, lesson_counts[1]) if full_year else self._value(pupil)
            rows.append(
                {
                    "pupil": pupil.id,
                    "semester_1": first,
                    "semester_2": second,
                    "annual": self._annual(first, second),
                }
            )
        return rows

    def _semester(self, record: _Record, lessons: int) -> str:
        """«н/а» when a pupil missed too much to be assessed, else the mean (or the usual level)."""
        missed_most = record.absences * 2 >= lessons
        if not record.values or (missed_most and len(record.values) < MIN_MARKS_FOR_RESULT):
            return NOT_ASSESSED
        basis = record.thematic or record.values
        if self.verbal:
            return max(set(basis), key=basis.count)
        return str(_round_half_up(sum(map(int, basis)) / len(basis)))

    def _annual(self, first: str, second: str) -> str:
        numeric = [int(v) for v in (first, second) if v.isdigit()]
        if self.verbal:
            return second if second in VERBAL_LEVELS else first
        if not numeric:
            return NOT_ASSESSED
        return str(_round_half_up(sum(numeric) / len(numeric)))


_CONTINUATIONS = (
    "Закріплення",
    "Розв’язування вправ",
    "Робота з підручником",
    "Самостійна робота",
    "Повторення",
    "Практикум",
    "Урок-дослідження",
)


def _verbal(level: float) -> str:
    thresholds = (9.5, 7.5, 5.0)
    for threshold, verbal in zip(thresholds, VERBAL_LEVELS, strict=False):
        if level >= threshold:
            return verbal
    return VERBAL_LEVELS[-1]


def _round_half_up(value: float) -> int:
    return int(value + 0.5)


# ----------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="standard")
    parser.add_argument("--pupils", type=int, help="overrides the size's class size")
    parser.add_argument("--subjects", type=int, help="overrides the size's number of subjects")
    parser.add_argument("--grade", type=int, default=7)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--format", choices=("json", "xml"), default="json")
    parser.add_argument("--pretty", action="store_true", help="indented JSON")
    parser.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")
    args = parser.parse_args(argv)
    pupils, subjects, full_year = SIZES[args.size]
    try:
        export = generate_export(
            pupils=args.pupils or pupils,
            subjects=args.subjects or subjects,
            grade=args.grade,
            seed=args.seed,
            full_year=full_year,
        )
    except ValueError as exc:
        parser.error(str(exc))
    data = (
        export_to_xml(export)
        if args.format == "xml"
        else export_to_json(export, pretty=args.pretty)
    )
    if args.output is None:
        sys.stdout.buffer.write(data)
    else:
        args.output.write_bytes(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
