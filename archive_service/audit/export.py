"""The audit log's public form: each event as JSON, and the log as JSON Lines or CSV, produced
line by line for the API and the CLI.

JSON Lines is the exact form: one event per line (:func:`event_as_dict`), as
``GET /api/v1/audit`` shows it, enough to recompute every hash. CSV is for reading in a
spreadsheet: one flat row per event, UTF-8, with ``detail`` as JSON text; a cell that a
spreadsheet would run as a formula (it starts with ``=``, ``+``, ``-``, ``@`` or a control
character) gets a leading ``'``, because purposes and names are typed by callers.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import Any

from archive_service.audit.chain import format_time
from archive_service.db import AuditEvent

#: Export format → media type of the response.
MEDIA_TYPES = {"jsonl": "application/jsonl", "csv": "text/csv; charset=utf-8"}

CSV_COLUMNS = (
    "seq",
    "occurred_at",
    "action",
    "outcome",
    "actor_token_id",
    "actor_name",
    "actor_role",
    "document_id",
    "version",
    "sha256",
    "client_address",
    "purpose",
    "detail",
    "prev_hash",
    "hash",
)

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def event_as_dict(event: AuditEvent) -> dict[str, Any]:
    """The public JSON form used by the API and exports."""
    return {
        "seq": event.seq,
        "occurred_at": format_time(event.occurred_at),
        "action": event.action,
        "outcome": event.outcome,
        "actor": {
            "token_id": event.actor_token_id,
            "name": event.actor_name,
            "role": event.actor_role,
        },
        "document_id": event.document_id,
        "version": event.version_number,
        "sha256": event.sha256,
        "client_address": event.client_address,
        "purpose": event.purpose,
        "detail": json.loads(event.detail or "{}"),
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }


def jsonl_lines(events: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    for event in events:
        yield json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    text = str(value)
    return f"'{text}" if text.startswith(_FORMULA_STARTS) else text


def _csv_row(values: Iterable[Any]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow([_cell(v) for v in values])
    return buffer.getvalue().encode()


def csv_lines(events: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    yield _csv_row(CSV_COLUMNS)
    for event in events:
        actor = event["actor"]
        flat = {
            **event,
            "actor_token_id": actor["token_id"],
            "actor_name": actor["name"],
            "actor_role": actor["role"],
        }
        yield _csv_row(flat[column] for column in CSV_COLUMNS)


def export_lines(events: Iterable[dict[str, Any]], export_format: str) -> Iterator[bytes]:
    """The encoded lines of an export; ``export_format`` is a key of :data:`MEDIA_TYPES`."""
    return csv_lines(events) if export_format == "csv" else jsonl_lines(events)
