"""The journal export format: types, parsing and validation. Knows nothing of other rooms."""

from archive_service.journal.parse import ParsedExport, parse_export

__all__ = ["ParsedExport", "parse_export"]
