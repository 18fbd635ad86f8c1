from __future__ import annotations

import pytest

from archive_service.render.collation import ukrainian_sort_key


def ordered(*names: str) -> list[str]:
    return sorted(names, key=ukrainian_sort_key)


@pytest.mark.parametrize(
    ("earlier", "later"),
    [
        ("Гаврилюк", "Ґалаґан"),  # Ґ after Г
        ("Ґудзь", "Дем’яненко"),  # … and before Д
        ("Ежов", "Єрмоленко"),  # Є after Е
        ("Єрмоленко", "Жук"),
        ("Иваницький", "Іваненко"),  # І after И
        ("Іваненко", "Їжакевич"),  # Ї after І
        ("Їжакевич", "Йосипенко"),
        ("Ющенко", "Яковенко"),
        ("Бондар Ія", "Бондаренко Ів"),  # a word boundary sorts before letters
    ],
)
def test_ukrainian_letters_sort_in_alphabet_order(earlier: str, later: str) -> None:
    assert ordered(later, earlier) == [earlier, later]


def test_python_default_order_is_wrong_so_the_key_matters() -> None:
    names = ["Яковенко", "Іваненко", "Єрмоленко", "Ґонта"]
    assert sorted(names) == ["Єрмоленко", "Іваненко", "Яковенко", "Ґонта"]
    assert ordered(*names) == ["Ґонта", "Єрмоленко", "Іваненко", "Яковенко"]


def test_apostrophe_is_ignored_in_every_spelling() -> None:
    # «Мар’яненко» compares as «Маряненко», which follows «Марченко» because ч < я.
    assert ordered("Мар’яненко", "Марченко") == ["Марченко", "Мар’яненко"]
    for apostrophe in ("'", "’", "ʼ"):
        assert ukrainian_sort_key(f"П{apostrophe}ятничук")[0] == ukrainian_sort_key("Пятничук")[0]


def test_case_does_not_change_order_but_ties_are_broken_deterministically() -> None:
    assert ordered("ярема", "Антонович") == ["Антонович", "ярема"]
    assert ordered("Ґонта", "ґонта") == ordered("ґонта", "Ґонта")


def test_decomposed_letters_sort_like_composed_ones() -> None:
    decomposed = "Ри\u0306к"  # И + combining breve = Й
    assert ukrainian_sort_key(decomposed)[0] == ukrainian_sort_key("Рйк")[0]
