"""Database models and sessions. Knows nothing of other rooms."""

from archive_service.db.migrate import create_schema, upgrade
from archive_service.db.models import (
    ApiToken,
    AuditEvent,
    Base,
    Document,
    DocumentVersion,
    Institution,
    SigningRequest,
    utcnow,
)
from archive_service.db.session import (
    create_db_engine,
    create_lookup_engine,
    create_read_session_factory,
    create_session_factory,
)

__all__ = [
    "ApiToken",
    "AuditEvent",
    "Base",
    "Document",
    "DocumentVersion",
    "Institution",
    "SigningRequest",
    "create_db_engine",
    "create_lookup_engine",
    "create_read_session_factory",
    "create_schema",
    "create_session_factory",
    "upgrade",
    "utcnow",
]
