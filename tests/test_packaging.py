"""The wheel carries every package: the tests import from the source tree (``pythonpath``), so
a package missing from pyproject.toml's explicit list would only fail in the Docker image."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_python_package_is_listed_in_pyproject() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "archive_service").rglob("__init__.py")
    }
    assert found - listed == set()


def test_every_schema_folder_is_packaged_with_its_files() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    data = config["tool"]["setuptools"]["package-data"]
    for folder in [ROOT / "schemas", *(p for p in (ROOT / "schemas").rglob("*") if p.is_dir())]:
        package = ".".join(("archive_service", *folder.relative_to(ROOT).parts))
        suffixes = {p.suffix for p in folder.iterdir() if p.is_file() and p.suffix != ".py"}
        patterns = {pattern.removeprefix("*") for pattern in data.get(package, [])}
        assert suffixes <= patterns, f"{package}: {suffixes - patterns} not packaged"
