"""schemas/openapi.yaml against the Flask app: a route added or removed on one side fails here."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

yaml = pytest.importorskip("yaml")

SPEC_PATH = Path(__file__).resolve().parents[1] / "schemas" / "openapi.yaml"

#: Operation keys of an OpenAPI path item (everything else there is not a method).
HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})
#: Methods Flask adds to every route by itself; the spec mentions them once, in its description.
IMPLICIT_METHODS = frozenset({"head", "options"})
#: ``<name>`` or ``<converter:name>`` in a Flask rule.
_FLASK_VARIABLE = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
_TEMPLATE_VARIABLE = re.compile(r"\{([^{}]+)\}")

Routes = dict[str, frozenset[str]]


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return yaml.safe_load(SPEC_PATH.read_text("utf-8"))


def spec_routes(spec: dict[str, Any]) -> Routes:
    return {
        path: frozenset(key for key in item if key in HTTP_METHODS) - IMPLICIT_METHODS
        for path, item in spec["paths"].items()
    }


def app_routes(app: Flask) -> Routes:
    """Every route the app serves, in OpenAPI path-template form, without implicit methods."""
    routes: dict[str, frozenset[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":  # Flask's default static folder; the service has none
            continue
        path = _FLASK_VARIABLE.sub(r"{\1}", rule.rule)
        methods = frozenset(m.lower() for m in rule.methods or ()) - IMPLICIT_METHODS
        routes[path] = routes.get(path, frozenset()) | methods
    return routes


def resolve(spec: dict[str, Any], node: Any) -> Any:
    """Follow a local ``$ref`` (the spec uses no remote ones)."""
    while isinstance(node, dict) and "$ref" in node:
        target: Any = spec
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def local_refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [ref for value in node.values() for ref in local_refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in local_refs(value)]
    return []


def test_spec_is_openapi_3_1(spec: dict[str, Any]) -> None:
    assert str(spec["openapi"]).startswith("3.1.")
    assert spec["info"]["title"] and spec["info"]["version"]
    assert spec["components"]["securitySchemes"]["bearerToken"]["scheme"] == "bearer"


def test_every_app_route_is_in_the_spec(app: Flask, spec: dict[str, Any]) -> None:
    served, documented = app_routes(app), spec_routes(spec)
    assert served, "the app registered no routes"
    missing = {path: methods for path, methods in served.items() if documented.get(path) != methods}
    assert not missing, f"routes served but not documented (or with other methods): {missing}"


def test_every_spec_route_is_served(app: Flask, spec: dict[str, Any]) -> None:
    served, documented = app_routes(app), spec_routes(spec)
    extra = {path: methods for path, methods in documented.items() if served.get(path) != methods}
    assert not extra, f"routes documented but not served (or with other methods): {extra}"


def test_path_variables_are_declared(spec: dict[str, Any]) -> None:
    for path, item in spec["paths"].items():
        variables = set(_TEMPLATE_VARIABLE.findall(path))
        for method in HTTP_METHODS & item.keys():
            parameters = [
                resolve(spec, parameter)
                for parameter in [*item.get("parameters", []), *item[method].get("parameters", [])]
            ]
            declared = {p["name"] for p in parameters if p["in"] == "path"}
            assert declared == variables, f"{method.upper()} {path}: path parameters {declared}"


def test_every_reference_resolves(spec: dict[str, Any]) -> None:
    for ref in local_refs(spec):
        assert ref.startswith("#/"), f"non-local $ref {ref}"
        assert resolve(spec, {"$ref": ref}) is not None, ref
