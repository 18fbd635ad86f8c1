"""WSGI entry point for running gunicorn by hand: ``gunicorn 'archive_service.wsgi:app'``.

``archive-service serve`` runs the same app with the settings this project measured
(:mod:`archive_service.serving`); use this module only to pass gunicorn options of your own.
"""

from archive_service.serving import create_server_app

app = create_server_app()
