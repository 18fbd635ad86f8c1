"""Paths and small helpers shared by the journal room's tests."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "schemas" / "examples"
INVALID = EXAMPLES / "invalid"


def load_generator() -> ModuleType:
    """``scripts/`` is not a package: load the generator from its file, as the benchmark does."""
    if "generate_journal" in sys.modules:
        return sys.modules["generate_journal"]
    path = REPO / "scripts" / "generate_journal.py"
    spec = importlib.util.spec_from_file_location("generate_journal", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being created
    spec.loader.exec_module(module)
    return module


def to_json(export: dict[str, Any]) -> bytes:
    return json.dumps(export, ensure_ascii=False).encode("utf-8")
