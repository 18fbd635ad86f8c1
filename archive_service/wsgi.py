"""WSGI entry point for gunicorn: ``gunicorn 'archive_service.wsgi:app'``."""

from archive_service import create_app
from archive_service.serving import freeze_startup_heap

app = create_app()
freeze_startup_heap()
