"""The JSON form of the export: strict reading, JSON Schema errors, JSON pointers.

Reading is stricter than ``json.loads``: the text must be UTF-8 (RFC 8259; a BOM is tolerated),
and duplicate keys, ``NaN`` and ``Infinity`` are refused, because two readers of the archived
source could otherwise disagree about what it says.
"""

from __future__ import annotations

import codecs
import itertools
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any, Literal

from jsonschema import ValidationError

from archive_service.errors import ErrorDetail, MalformedInput
from archive_service.journal.location import ROOT, Location, json_pointer, quote
from archive_service.journal.schemas import json_validator

_TYPE_NAMES = {
    "string": "text (a JSON string)",
    "integer": "a whole number",
    "number": "a number",
    "object": "an object",
    "array": "a list (a JSON array)",
    "boolean": "true or false",
    "null": "null",
}


class JsonFormat:
    """The JSON side of :class:`archive_service.journal.parse.ExportFormat`."""

    name: Literal["json"] = "json"
    media_type = "application/json"
    filename = "journal.json"

    def read(self, data: bytes) -> Any:
        """Parse the bytes; syntax problems raise :class:`MalformedInput`."""
        try:
            text = data.removeprefix(codecs.BOM_UTF8).decode("utf-8")
        except UnicodeDecodeError as exc:
            reason = f"the text is not UTF-8 (byte {exc.start}): send JSON in UTF-8"
            raise _malformed(reason) from exc
        try:
            document = json.loads(
                text, object_pairs_hook=_refuse_duplicate_keys, parse_constant=_refuse_constant
            )
        except json.JSONDecodeError as exc:
            looks_like_xml = text.lstrip()[:1] == "<"
            hint = " (it looks like XML: send it as application/xml)" if looks_like_xml else ""
            raise _malformed(f"{exc.msg} at line {exc.lineno}, column {exc.colno}{hint}") from exc
        except (ValueError, RecursionError) as exc:  # duplicate keys, NaN, huge numbers, nesting
            raise _malformed(str(exc) or type(exc).__name__) from exc
        _refuse_unstorable_text(document)
        return document

    def format_version(self, document: Any) -> object:
        source = document.get("source") if isinstance(document, dict) else None
        return source.get("format_version") if isinstance(source, dict) else None

    def schema_errors(self, document: Any, limit: int) -> list[ErrorDetail]:
        errors = json_validator().iter_errors(document)
        details = itertools.chain.from_iterable(_details(error) for error in errors)
        return list(itertools.islice(details, limit))

    def to_export(self, document: Any) -> dict[str, Any]:
        return document  # the JSON *is* the export shape

    def path(self, location: Location) -> str:
        return json_pointer(location)


def _malformed(reason: str) -> MalformedInput:
    message = f"The export is not valid JSON: {reason}."
    return MalformedInput(message, [ErrorDetail(json_pointer(ROOT), message)])


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"the key {quote(key)} appears twice in one object")
        result[key] = value
    return result


#: Characters XML 1.0 cannot carry and UTF-8 cannot encode (lone surrogates from ``\ud800``
#: escapes): refused so a JSON export says nothing its XML twin could not, and nothing that
#: breaks rendering or the database later.
_UNSTORABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _refuse_unstorable_text(document: Any) -> None:
    """Refuse the first string (key or value) holding an unstorable character."""
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), document)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                stack.append(((*path, key), key))
                stack.append(((*path, key), item))
        elif isinstance(value, list):
            stack.extend(((*path, index), item) for index, item in enumerate(value))
        elif isinstance(value, str) and (bad := _UNSTORABLE.search(value)):
            message = (
                f"The text contains the character U+{ord(bad.group()):04X}, which a journal "
                "cannot hold (control character or unpaired surrogate); remove it."
            )
            pointer = json_pointer(Location(path))
            raise MalformedInput(message, [ErrorDetail(pointer, message)])


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _details(error: ValidationError) -> Iterator[ErrorDetail]:
    where = Location(tuple(error.absolute_path))
    pointer = json_pointer(where)
    instance, schema, value = _parts(error)
    if error.validator == "required":
        for name in value:
            if isinstance(instance, dict) and name not in instance:
                yield ErrorDetail(
                    json_pointer(where / name), f"The required field {quote(name)} is missing."
                )
    elif error.validator == "additionalProperties":
        allowed = ", ".join(quote(name) for name in schema.get("properties", {}))
        for name in instance:
            if name not in schema.get("properties", {}):
                yield ErrorDetail(
                    json_pointer(where / name),
                    f"Unexpected field {quote(name)}: expected only {allowed}.",
                )
    else:
        yield ErrorDetail(pointer, _message(error))


def _parts(error: ValidationError) -> tuple[Any, Mapping[str, Any], Any]:
    """The failing JSON value, the (sub)schema it failed and the failed keyword's value.

    The stubs allow jsonschema's ``Unset`` for the values and a boolean schema, but only a
    hand-made error lacks the values, and our schemas are all objects.
    """
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    return error.instance, schema, error.validator_value


def _message(error: ValidationError) -> str:
    (instance, schema, value), keyword = _parts(error), error.validator
    if keyword in ("pattern", "minLength") and "description" in schema:
        return f"{quote(instance)} is not valid here: expected {schema['description']}."
    if keyword == "type":
        wanted = [value] if isinstance(value, str) else value
        expected = " or ".join(_TYPE_NAMES.get(t, t) for t in wanted)
        return f"{quote(instance)} has the wrong type: expected {expected}."
    if keyword == "enum":
        options = ", ".join(quote(v) for v in value)
        return f"{quote(instance)} is not allowed here: expected one of {options}."
    if keyword in ("minimum", "maximum"):
        low, high = schema.get("minimum"), schema.get("maximum")
        return f"{quote(instance)} is out of range: expected a whole number from {low} to {high}."
    if keyword == "maxLength":
        return (
            f"The text is {len(instance)} characters long: at most {value} are "
            f"accepted here ({quote(instance, 40)})."
        )
    if keyword == "minItems":
        return f"The list is empty: expected at least {value} item."
    return f"{error.message}."
