"""Fixtures of the journal room: the published examples and the data generator."""

from __future__ import annotations

import copy
import json
from types import ModuleType
from typing import Any

import pytest

from .helpers import EXAMPLES, load_generator

_EXAMPLE_7B = json.loads((EXAMPLES / "journal-7b.json").read_text("utf-8"))


@pytest.fixture(scope="session")
def generator() -> ModuleType:
    return load_generator()


@pytest.fixture
def export_7b() -> dict[str, Any]:
    """A fresh, mutable copy of the 7-Б example."""
    return copy.deepcopy(_EXAMPLE_7B)
