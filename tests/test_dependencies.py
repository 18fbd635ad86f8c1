"""Every third-party package that archive_service imports is a declared runtime dependency.

The tests run with the ``test`` extra installed, so a runtime import satisfied only by a test
dependency (or only transitively, by some other package's requirements) would pass here and fail
on a fresh ``./scripts/serve.sh``. scripts/smoke-first-command.sh proves the install end to end;
this test also catches imports that happen to be pulled in transitively today.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from collections import defaultdict
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _runtime_dependencies() -> set[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return {
        _canonical(re.split(r"[\s\[<>=!~;@]", spec, maxsplit=1)[0])
        for spec in config["project"]["dependencies"]
    }


def _third_party_imports() -> dict[str, set[str]]:
    """Top-level module → the files importing it, for every absolute import outside stdlib."""
    found: dict[str, set[str]] = defaultdict(set)
    for path in (ROOT / "archive_service").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                if top != "archive_service" and top not in sys.stdlib_module_names:
                    found[top].add(str(path.relative_to(ROOT)))
    return found


def test_every_third_party_import_is_a_declared_runtime_dependency() -> None:
    declared = _runtime_dependencies()
    providers = metadata.packages_distributions()
    undeclared = {}
    for module, files in sorted(_third_party_imports().items()):
        distributions = {_canonical(d) for d in providers.get(module, [])}
        if not distributions & declared:
            undeclared[module] = (sorted(distributions) or ["(not installed)"], sorted(files)[:3])
    assert undeclared == {}, (
        "imported by archive_service but not in [project] dependencies of pyproject.toml "
        "(module: (distributions, files)): " + repr(undeclared)
    )
