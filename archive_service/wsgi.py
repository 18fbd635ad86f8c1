"""WSGI entry point for running gunicorn by hand: ``gunicorn 'archive_service.wsgi:app'``.

``archive-service serve`` runs the same app with the settings this project measured
(:mod:`archive_service.serving`); use this module only to pass gunicorn options of your own,
and keep ``-k archive_service.serving.JsonErrorWorker`` among them: with gunicorn's own worker
classes the requests gunicorn refuses itself (414, 431, malformed headers) get HTML pages.
"""

from archive_service.serving import create_server_app

app = create_server_app()
