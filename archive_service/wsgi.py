"""WSGI entry point for gunicorn: ``gunicorn 'archive_service.wsgi:app'``."""

from archive_service import create_app

app = create_app()
